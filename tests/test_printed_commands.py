"""Commands scaffold prints for the user to run work exactly as printed.

Each test takes the printed lines from the command's output (not from the code
that makes them) and runs them with bash: real git, real scaffold, GitHub faked
at the network boundary (tests/github_fake.py), ``git@github.com:`` remotes
reached through ``url.<bare repo>.insteadOf``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.layout import ANSWERS_FILE
from tests.github_fake import FakeGitHub, load_spec
from tests.helpers import (
    bash,
    branches,
    commit_all,
    git,
    make_tiny_template,
    printed_after,
    release,
)

TOKEN = "ghp_PRINTED0123456789abcdefghijklmnopqrstuv"
NOTES = "line one\nline two\nline three\n"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def github_remote(tmp_path: Path, owner: str, name: str) -> Path:
    """A bare repo that ``git@github.com:OWNER/NAME.git`` resolves to."""
    remote = tmp_path / "github" / owner / f"{name}.git"
    remote.mkdir(parents=True)
    git(remote, "init", "-q", "--bare")
    git(
        tmp_path,
        "config",
        "--global",
        f"url.{remote}.insteadOf",
        f"git@github.com:{owner}/{name}.git",
    )
    return remote


@pytest.mark.slow  # runs scaffold check and scaffold protect as subprocesses
@pytest.mark.parametrize("no_git", [[], ["--no-git"]], ids=["git", "no-git"])
def test_next_steps_of_new_run_as_printed(
    template_repo: Path, tmp_path: Path, httpserver: HTTPServer, no_git: list[str]
) -> None:
    fake = FakeGitHub(httpserver, token=TOKEN, spec=load_spec()).install()
    fake.add_repo("acme", "demo")
    remote = github_remote(tmp_path, "acme", "demo")
    dest = tmp_path / "work dir" / "demo"  # a space: the printed paths are quoted
    code, out = run(
        "new",
        "app",
        str(dest),
        "--template",
        str(template_repo),
        "--defaults",
        "--set",
        "name=demo",
        "--set",
        "owner=acme",
        *no_git,
    )
    assert code == 0, out

    done = bash(
        printed_after(out, "Next steps:"),
        tmp_path,
        GITHUB_TOKEN=TOKEN,
        GITHUB_API_URL=fake.url,
    )

    # pushed: the remote's main is the repo's HEAD
    assert git(remote, "rev-parse", "main") == git(dest, "rev-parse", "HEAD")
    assert "\nOK: 0 errors" in done  # scaffold check .
    # protected: the ruleset of .github/settings.yml exists on (fake) GitHub
    repo = fake.repos["acme/demo"]
    assert [r["name"] for r in repo.rulesets.values()] == ["default-branch-protection"]
    assert fake.violations == []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny template: NOTES.md at v1.0.0; v1.1.0 changes its second line."""
    repo = make_tiny_template(
        tmp_path_factory.mktemp("tiny") / "tpl",
        {"templates/app/NOTES.md": NOTES},
        "v1.0.0",
    )
    release(
        repo,
        "v1.1.0",
        {"templates/app/NOTES.md": NOTES.replace("two", "two (v1.1.0)")},
    )
    return repo


@pytest.fixture
def project(tiny: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "demo"
    code, out = run(
        "new",
        "app",
        str(dest),
        "--template",
        str(tiny),
        "--ref",
        "v1.0.0",
        "--set",
        "name=demo",
        "--set",
        "owner=acme",
    )
    assert code == 0, out
    return dest


def conflicting_update(project: Path) -> tuple[str, str]:
    """Edit the line v1.1.0 changes, update: (output, commit before the update)."""
    (project / "NOTES.md").write_text(NOTES.replace("two", "two (local)"), "utf-8")
    start = commit_all(project, "local edit")
    code, out = run("update", str(project), "--to", "v1.1.0")
    assert code == 3, out
    return out, start


def test_update_review_command_runs_as_printed(project: Path, tmp_path: Path) -> None:
    code, out = run("update", str(project), "--to", "v1.1.0")
    assert code == 0, out
    diff = bash(printed_after(out, "Review and merge it:"), tmp_path)
    assert "+line two (v1.1.0)" in diff
    assert "+_commit: v1.1.0" in diff


def test_update_conflict_commit_commands_run_as_printed(
    project: Path, tmp_path: Path
) -> None:
    out, start = conflicting_update(project)
    # the user resolves the file ...
    (project / "NOTES.md").write_text(NOTES.replace("two", "two (both)"), "utf-8")

    bash(printed_after(out, "then:"), tmp_path)

    assert git(project, "rev-parse", "HEAD~1").strip() == start
    assert git(project, "log", "-1", "--format=%s").strip() == (
        "chore(template): v1.0.0 → v1.1.0"
    )
    assert git(project, "status", "--porcelain") == ""
    assert "_commit: v1.1.0" in (project / ANSWERS_FILE).read_text("utf-8")


def test_update_conflict_abandon_commands_run_as_printed(
    project: Path, tmp_path: Path
) -> None:
    out, start = conflicting_update(project)

    bash(printed_after(out, "To abandon the update instead:"), tmp_path)

    assert git(project, "branch", "--show-current").strip() == "main"
    assert branches(project) == ["main"]
    assert git(project, "rev-parse", "HEAD").strip() == start
    assert git(project, "status", "--porcelain", "--ignored") == ""
