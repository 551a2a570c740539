"""``scaffold update`` brings repos generated from the previous
template release (the templates as they were before the day-one fixes, taken from this
repository's history) to the fixed templates, without conflicts, to exactly what a
fresh generation at the new release gives."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app as cli
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from tests.helpers import (
    FLUX_FLEET_ANSWERS,
    PROJECT_ROOT,
    TEMPLATE_TAG,
    commit_all,
    copy_template_tree,
    git,
    render,
    tree,
)

PREVIOUS_TAG = "v0.1.0"
APP = {"repo_kind": "app", "name": "web", "owner": "acme"}
FLEET_APP = {"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.0.1"}


def _previous_release_rev() -> str:
    """The last commit of this repository at the previous version: the parent of
    the commit that set ``__version__`` to the current one."""
    changes = git(
        PROJECT_ROOT, "log", "--format=%H", "-G", "^__version__ = ", "--",
        "scaffold/__init__.py",
    ).split()  # fmt: skip
    assert changes, "no history of scaffold/__init__.py (a shallow clone?)"
    bump = changes[0]
    shown = git(PROJECT_ROOT, "show", f"{bump}:scaffold/__init__.py")
    assert f'__version__ = "{__version__}"' in shown
    before = git(PROJECT_ROOT, "show", f"{bump}^:scaffold/__init__.py")
    assert f'__version__ = "{PREVIOUS_TAG[1:]}"' in before
    return f"{bump}^"


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Template repo: the previous release at v0.1.0, this tree at v<version>."""
    repo = tmp_path_factory.mktemp("releases") / "scaffold"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", "--format=tar",
         _previous_release_rev(), "copier.yml", "templates"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, PREVIOUS_TAG)
    git(repo, "tag", PREVIOUS_TAG)
    for path in (repo / "templates").iterdir():  # the current tree replaces it
        subprocess.run(["rm", "-rf", str(path)], check=True)
    copy_template_tree(repo)
    commit_all(repo, TEMPLATE_TAG)
    git(repo, "tag", TEMPLATE_TAG)
    return repo


def _generate(releases: Path, dest: Path, data: dict[str, Any], ref: str) -> Path:
    render(releases, dest, data, ref=ref, git_init=True)
    if data["repo_kind"] == "infra":
        g = Git()
        add_app(
            fleet_path=dest,
            answers=dict(FLEET_APP),
            source=TemplateSource(url=str(releases), ref=ref),
            templates=CopierTemplates(git=g),
            git=g,
        )
    return dest


@pytest.mark.slow
@pytest.mark.parametrize(
    "data",
    [APP, FLUX_FLEET_ANSWERS, {**FLUX_FLEET_ANSWERS, "gitops_engine": "argocd"}],
    ids=["app", "flux-fleet", "argocd-fleet"],
)
def test_update_from_the_previous_release_gives_the_fixed_templates(
    releases: Path, tmp_path: Path, data: dict[str, Any]
) -> None:
    old = _generate(releases, tmp_path / "old" / "repo", data, PREVIOUS_TAG)
    before = tree(old)
    result = CliRunner().invoke(cli, ["update", str(old), "--to", TEMPLATE_TAG])
    assert result.exit_code == 0, result.output
    assert git(old, "status", "--porcelain") == ""
    fresh = _generate(releases, tmp_path / "new" / "repo", data, TEMPLATE_TAG)
    after, expected = tree(old), tree(fresh)
    assert after == expected
    assert after != before
    # the day-one fixes arrived (one witness per repo kind)
    if data["repo_kind"] == "app":
        assert "gitops-scaffold==" in before[".github/workflows/ci.yaml"]
        ci = after[".github/workflows/ci.yaml"]
        assert "gitops-scaffold==" not in ci and "- name: Install scaffold" in ci
    else:
        assert "scripts/bootstrap.sh" not in before and "scripts/bootstrap.sh" in after
        assert "renovate.json" in after
        deployment = after["apps/web/base/deployment.yaml"]
        assert "path: /readyz" in deployment
