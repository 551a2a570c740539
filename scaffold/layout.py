"""Repo-layout constants, in one place (like argocd-autopilot's ``store.Default``).

Templates hard-code the same names; tests compare them against these constants.
"""

from typing import Final

ANSWERS_FILE: Final = ".copier-answers.yml"
TEMPLATE_CONFIG: Final = "copier.yml"
DEFAULT_BRANCH: Final = "main"
UPDATE_BRANCH_PREFIX: Final = "scaffold/update-"
# The `environments` answer's default (root copier.yml), in promotion order: also the
# environments of a fleet whose answers predate that answer.
DEFAULT_ENVIRONMENTS: Final = ("dev", "staging", "prod")
# Template of one app inside a fleet (rendered INTO the fleet, not a repo of its own).
FLEET_APP_KIND: Final = "fleet-app"
FLEET_APPS_DIR: Final = "apps"
# Where an app's per-env overlay lives in a fleet; release pipelines set the image
# tag of the dev overlay there (`kustomize edit set image` / images[0].newTag).
FLEET_APP_OVERLAY: Final = "apps/{name}/overlays/{env}"
# The immutable image tag an app repo's release workflow pushes for a commit
# (docker/metadata-action `type=sha,format=long`). `scaffold new app --infra`
# registers the app in the fleet at the tag of the app repo's first commit, the image
# the first push to the default branch builds.
IMAGE_TAG: Final = "sha-{commit}"
# Flux fleets: one Kustomization per app and env.
FLUX_APP_KUSTOMIZATION: Final = "clusters/{env}/apps/{name}.yaml"
GITOPS_ENGINES: Final = ("flux", "argocd")
SECRETS_MODES: Final = ("sops", "sealed-secrets", "none")
# Flux Kustomization names the fleet itself uses; an app may not take them.
RESERVED_APP_NAMES: Final = frozenset(
    {"flux-system", "infra-controllers", "infra-configs", "secrets", "apps", "root"}
    | {"platform", "argo-cd", "kyverno", "kube-prometheus-stack", "sealed-secrets"}
)
TEMPLATE_ENV_VAR: Final = "SCAFFOLD_TEMPLATE"
CONFIG_ENV_VAR: Final = "SCAFFOLD_CONFIG"
CHECK_CONFIG_FILE: Final = ".scaffold.yaml"

# Status checks the generated PR workflows report (job `name:`s). The generated
# .github/settings.yml requires exactly these; a test proves the two agree.
REQUIRED_CHECKS: Final = {
    "app": ("lint", "test", "build", "scaffold-check"),
    "infra": ("lint", "scaffold-check"),
}

# Access: shared files listing every app's team, rewritten between these
# markers by services.access (the fleet templates render the markers; a test checks).
CODEOWNERS_FILE: Final = ".github/CODEOWNERS"
ARGOCD_PROJECT: Final = "projects/{env}.yaml"
APP_OWNERS_MARKERS: Final = ("# >>> scaffold: app owners", "# <<< scaffold: app owners")
APP_ROLES_MARKERS: Final = (
    "# >>> scaffold: app team roles",
    "# <<< scaffold: app team roles",
)
# Argo CD SSO: argocd-cm's oidc.config reads `$<Secret>:<key>`; with SOPS the Secret
# lives encrypted at ARGOCD_OIDC_SECRET_FILE (written by `scaffold fleet oidc-secret`
# from the environment variable, never from an argument or a file).
ARGOCD_OIDC_SECRET: Final = "argocd-oidc"
ARGOCD_OIDC_SECRET_KEY: Final = "clientSecret"
ARGOCD_OIDC_SECRET_FILE: Final = "bootstrap/argo-cd/argocd-oidc.sops.yaml"
OIDC_SECRET_ENV_VAR: Final = "ARGOCD_OIDC_CLIENT_SECRET"
