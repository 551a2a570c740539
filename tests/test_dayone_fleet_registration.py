"""``scaffold new app --infra FLEET`` registers the app at a tag
its release workflow really builds, and points the release workflow's promotion at
that very fleet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.cli import app as cli
from scaffold.layout import DEFAULT_ENVIRONMENTS as ENVIRONMENTS
from tests.dayone_helpers import load_job
from tests.helpers import TEMPLATE_TAG, git, render

FLEET = {
    "repo_kind": "infra",
    "name": "platform-fleet",  # not the app template's default <owner>/fleet-infra
    "owner": "acme-ops",
    "gitops_engine": "flux",
    "secrets": "none",
}


@pytest.fixture
def fleet(template_repo: Path, tmp_path: Path) -> Path:
    return render(template_repo, tmp_path / "platform-fleet", FLEET, git_init=True)


def _new_app(template_repo: Path, dest: Path, fleet: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["new", "app", str(dest), "--infra", str(fleet), "--set", "name=web",
         "--set", "owner=acme", "--template", str(template_repo), "--ref", TEMPLATE_TAG,
         *extra],
    )  # fmt: skip


def _state(repo: Path) -> tuple[str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


def test_every_env_deploys_the_image_the_first_push_builds(
    template_repo: Path, fleet: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "web"
    result = _new_app(template_repo, dest, fleet)
    assert result.exit_code == 0, result.output
    first = git(dest, "rev-list", "--max-parents=0", "HEAD").strip()
    tags = {
        env: yaml.safe_load(
            (fleet / f"apps/web/overlays/{env}/kustomization.yaml").read_text()
        )["images"][0]["newTag"]
        for env in ENVIRONMENTS
    }
    assert tags == dict.fromkeys(ENVIRONMENTS, f"sha-{first}")
    # the release workflow's tag for that commit: metadata-action `type=sha,format=long`
    # gives sha-<full sha>; its own guard step accepts exactly that and outputs it
    image = load_job(dest / ".github/workflows/release.yaml", "image")
    meta = next(s for s in image["steps"] if s.get("id") == "meta")
    assert meta["with"]["tags"] == "type=sha,format=long"
    record = next(s for s in image["steps"] if s.get("id") == "tag")
    out = tmp_path / "github_output"
    proc = subprocess.run(
        ["bash", "-e", "-c", record["run"]],
        env={**os.environ, "GITHUB_SHA": first, "TAG": f"sha-{first}",
             "DIGEST": "sha256:0", "IMAGE": "ghcr.io/acme/web",
             "GITHUB_OUTPUT": str(out),
             "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text() == f"tag={tags['dev']}\n"


@pytest.mark.slow
def test_promotion_targets_the_fleet_given_with_infra(
    template_repo: Path, fleet: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "web"
    assert _new_app(template_repo, dest, fleet).exit_code == 0
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["infra_repo"] == "acme-ops/platform-fleet"
    promote = load_job(dest / ".github/workflows/release.yaml", "promote")
    assert promote["env"]["INFRA_REPO"] == "acme-ops/platform-fleet"
    token = next(s for s in promote["steps"] if s.get("id") == "app-token")
    assert (token["with"]["owner"], token["with"]["repositories"]) == (
        "acme-ops",
        "platform-fleet",
    )


@pytest.mark.slow
def test_the_same_infra_repo_given_explicitly_is_accepted(
    template_repo: Path, fleet: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "web"
    result = _new_app(
        template_repo, dest, fleet, "--set", "infra_repo=Acme-Ops/platform-fleet"
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            ["--set", "infra_repo=acme/fleet-infra"],
            "infra_repo: must be acme-ops/platform-fleet, the fleet given with --infra",
        ),
        (["--no-git"], "--infra: the fleet deploys the image of the app repo's first"),
    ],
    ids=["other-infra-repo", "no-git"],
)
def test_conflicting_options_exit_2_and_write_nothing(
    template_repo: Path, fleet: Path, tmp_path: Path, extra: list[str], needle: str
) -> None:
    before = _state(fleet)
    dest = tmp_path / "web"
    result = _new_app(template_repo, dest, fleet, *extra)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and needle in result.output
    assert result.output.count("\n") == 1
    assert not dest.exists()
    assert _state(fleet) == before
