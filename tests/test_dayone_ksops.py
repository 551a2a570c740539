"""On Argo CD + SOPS, the README's KSOPS generator recipe no longer breaks
the two required checks. CI holds no decryption key: `scaffold check` reports the
generator as skipped (info) and validates the rest; the lint job builds the overlay
without it."""

from __future__ import annotations

import re
from pathlib import Path

import pyrage
import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.sops import Sops
from scaffold.adapters.templates import CopierTemplates
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from tests.check_support import run_check
from tests.dayone_helpers import run_job
from tests.helpers import TEMPLATE_TAG, commit_all, fleet_answers, render
from tests.infra_helpers import SOPS


@pytest.fixture
def fleet(template_repo: Path, tmp_path: Path) -> Path:
    """An Argo CD + SOPS fleet with app web whose dev overlay follows the README."""
    identity = pyrage.x25519.Identity.generate()
    data = fleet_answers("argocd", "sops", recipient=str(identity.to_public()))
    dest = render(template_repo, tmp_path / "fleet", data, git_init=True)
    g = Git()
    add_app(
        fleet_path=dest,
        answers={"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.0.1"},
        source=TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG),
        templates=CopierTemplates(git=g),
        git=g,
    )
    readme = (dest / "README.md").read_text()
    (block,) = re.findall(
        r"```yaml\n# apps/<app>/overlays/<env>/secret-generator\.yaml\n(.*?)```",
        readme,
        re.S,
    )
    overlay = dest / "apps/web/overlays/dev"
    (overlay / "secret-generator.yaml").write_text(block)
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "my-secret", "namespace": "web-dev"},
              "stringData": {"password": "s3cret"}}  # fmt: skip
    assert SOPS
    encrypted = Sops(binary=SOPS).encrypt_yaml(
        yaml.safe_dump(secret),
        root=dest,
        filename="apps/web/overlays/dev/my-secret.sops.yaml",
    )
    (overlay / "my-secret.sops.yaml").write_text(encrypted)
    kfile = overlay / "kustomization.yaml"
    kfile.write_text(kfile.read_text() + "generators:\n  - secret-generator.yaml\n")
    commit_all(dest, "web: a secret through KSOPS, as the README shows")
    return dest


@pytest.mark.slow
def test_scaffold_check_skips_the_generator_and_validates_the_rest(
    fleet: Path,
) -> None:
    report = run_check(  # custom resources: the CRD schemas scaffold ships
        fleet,
        strict=True,
        skip=("kustomize-remote",),
    )
    errors = [f for f in report.findings if f.severity.value != "info"]
    assert errors == [], errors
    (skipped,) = [f for f in report.findings if f.rule == "kustomize-generator-skipped"]
    assert skipped.file == "apps/web/overlays/dev/kustomization.yaml"
    assert skipped.root == "apps/web/overlays/dev"
    assert "secret-generator.yaml" in skipped.message
    root = next(r for r in report.roots if r.path == "apps/web/overlays/dev")
    assert root.status.value == "built" and root.objects > 0
    assert report.not_validated == 0
    assert "my-secret" not in str(report)  # never decrypted, never shown
    assert git_clean(fleet)


def git_clean(repo: Path) -> bool:
    from tests.helpers import git

    return git(repo, "status", "--porcelain") == ""


@pytest.mark.slow
def test_lint_job_builds_the_overlay_without_its_ksops_generator(
    fleet: Path, tmp_path: Path
) -> None:
    runner = tmp_path / "runner"
    runner.mkdir()
    job = run_job(
        fleet / ".github/workflows/validate.yaml",
        "lint",
        cwd=fleet,
        runner_temp=runner,
        skip=(
            "yamllint",
        ),  # pipx fetches yamllint; the fleet's YAML is linted elsewhere
    )
    plaintext, build = job.outputs
    assert plaintext.returncode == 0, plaintext.stdout + plaintext.stderr
    errors = re.findall(r"::error file=([^:]+)::(.*)", build.stdout)
    # offline, only the pinned Argo CD install (fetched by URL) cannot be built
    assert errors == [
        ("./bootstrap/argo-cd/kustomization.yaml", "kustomize build failed")
    ], build.stdout
    assert (
        "::notice file=./apps/web/overlays/dev/kustomization.yaml::KSOPS generator "
        "secret-generator.yaml skipped" in build.stdout
    )
    assert git_clean(fleet)
