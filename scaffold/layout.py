"""Repo-layout constants, in one place (like argocd-autopilot's ``store.Default``).

Templates hard-code the same names; tests compare them against these constants.
"""

from typing import Final

ANSWERS_FILE: Final = ".copier-answers.yml"
TEMPLATE_CONFIG: Final = "copier.yml"
TEMPLATES_DIR: Final = "templates"
DEFAULT_BRANCH: Final = "main"
UPDATE_BRANCH_PREFIX: Final = "scaffold/update-"
ENVIRONMENTS: Final = ("dev", "staging", "prod")
REPO_KINDS: Final = ("app", "infra")
TEMPLATE_ENV_VAR: Final = "SCAFFOLD_TEMPLATE"
CONFIG_ENV_VAR: Final = "SCAFFOLD_CONFIG"
CHECK_CONFIG_FILE: Final = ".scaffold.yaml"
