"""CODEOWNERS after `scaffold new app --infra` and `scaffold fleet add-app`,
through the CLI with real copier and git; bad team answers write nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.cli import app
from tests.helpers import FLUX_FLEET_ANSWERS, TEMPLATE_TAG, git, render

runner = CliRunner()


@pytest.fixture(scope="module")
def pristine_fleet(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    dest = tmp_path_factory.mktemp("access-cli") / "fleet-infra"
    render(template_repo, dest, data=FLUX_FLEET_ANSWERS, git_init=True)
    return dest


@pytest.fixture
def fleet(pristine_fleet: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "fleet-infra"
    shutil.copytree(pristine_fleet, dest, symlinks=True)
    return dest


def _invoke(template_repo: Path, *args: str) -> Any:
    tpl = ["--template", str(template_repo), "--ref", TEMPLATE_TAG]
    return runner.invoke(app, [*args, *tpl], catch_exceptions=False)


def _block(fleet: Path) -> list[str]:
    lines = (fleet / ".github/CODEOWNERS").read_text().splitlines()
    start = lines.index("# >>> scaffold: app owners")
    end = lines.index("# <<< scaffold: app owners")
    return [" ".join(line.split()) for line in lines[start + 1 : end]]


def test_new_app_with_infra_gives_the_app_to_its_repo_team(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    result = _invoke(
        template_repo, "new", "app", str(tmp_path / "payments-api"),
        "--infra", str(fleet), "--set", "name=payments-api", "--set", "owner=acme",
        "--set", "codeowners=@acme/payments",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _block(fleet) == [
        "/apps/payments-api/ @acme/payments",
        "/apps/payments-api/overlays/prod/ @acme/payments @acme/platform",
    ]
    answers = yaml.safe_load(
        (fleet / "apps/payments-api/.copier-answers.yml").read_text()
    )
    assert (answers["team"], answers["team_group"]) == (
        "@acme/payments",
        "acme:payments",
    )
    assert git(fleet, "status", "--porcelain") == ""
    assert ".github/CODEOWNERS" in git(fleet, "show", "--name-only", "HEAD")


@pytest.mark.slow
def test_fleet_add_app_with_a_team_and_without(
    fleet: Path, template_repo: Path
) -> None:
    args = ["fleet", "add-app", str(fleet)]
    assert _invoke(template_repo, *args, "--set", "name=web").exit_code == 0
    result = _invoke(
        template_repo, *args, "--set", "name=search", "--set", "team=@acme/search",
        "--set", "team_group=search-team",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # name order; the fleet's own team owns an app registered without one
    assert _block(fleet) == [
        "/apps/search/ @acme/search",
        "/apps/search/overlays/prod/ @acme/search @acme/platform",
        "/apps/web/ @acme/platform",
        "/apps/web/overlays/prod/ @acme/platform",
    ]
    rb = yaml.safe_load((fleet / "apps/search/overlays/dev/team-rbac.yaml").read_text())
    assert rb["subjects"][0]["name"] == "search-team"


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        ("team=acme/payments", "team: must be a GitHub handle"),
        ("team_group=a, b", "team_group: must be a group name"),
    ],
)
def test_bad_team_answers_are_one_line_errors_and_write_nothing(
    fleet: Path, template_repo: Path, answer: str, needle: str
) -> None:
    before = git(fleet, "rev-parse", "HEAD"), git(fleet, "status", "--porcelain")
    result = _invoke(
        template_repo, "fleet", "add-app", str(fleet), "--set", "name=web",
        "--set", answer,
    )  # fmt: skip
    assert result.exit_code == 2
    assert needle in result.output and result.output.count("\n") == 1
    assert (git(fleet, "rev-parse", "HEAD"), git(fleet, "status", "--porcelain")) == (
        before
    )
    assert not (fleet / "apps/web").exists()
