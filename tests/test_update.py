"""``scaffold update`` on one repo: real copier, real git, a tiny template with
tags (a few end-to-end tests on this project's templates, marked slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.cli import app
from scaffold.services.update import branch_for, find_conflicts, latest_tag
from tests.helpers import (
    branches,
    commit_all,
    git,
    make_template_repo,
    make_tiny_template,
    release,
    tree,
)

APP = "templates/app"
NOTES = "line one\nline two\nline three\nline four\nline five\n"
NOTES_V11 = NOTES.replace("line two\n", "line two (template v1.1.0)\n")
README_ADDITION = "\nTemplate v1.1.0 adds this line.\n"


def _versions(repo: Path) -> Path:
    """Test files at v1.0.0; a changed README, a changed line, a new file and a
    rename at v1.1.0; an answers-only release v1.2.0 (``repo`` is at v0.0.1)."""
    release(
        repo,
        "v1.0.0",
        {f"{APP}/UPDATE_NOTES.md": NOTES, f"{APP}/old-name.txt": "original\n"},
    )
    readme = (repo / APP / "README.md.jinja").read_text(encoding="utf-8")
    release(
        repo,
        "v1.1.0",
        {
            f"{APP}/README.md.jinja": readme + README_ADDITION,
            f"{APP}/UPDATE_NOTES.md": NOTES_V11,
            f"{APP}/NEW_IN_1_1.md": "new in v1.1.0\n",
            f"{APP}/old-name.txt": None,
            f"{APP}/new-name.txt": "original\n",
        },
    )
    release(repo, "v1.2.0", {"CHANGELOG.md": "1.2.0: no template change\n"})
    return repo


@pytest.fixture(scope="session")
def versioned_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny template (tests.helpers.TINY_COPIER_YML), or with the parameter
    ``"real"`` this project's templates, at v0.0.1 plus :func:`_versions`."""
    repo = tmp_path_factory.mktemp("versioned") / "tpl"
    if getattr(request, "param", "tiny") == "real":
        make_template_repo(repo, "v0.0.1")
    else:
        make_tiny_template(repo, {f"{APP}/README.md.jinja": "# {{ name }}\n"}, "v0.0.1")
    return _versions(repo)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def project(versioned_template: Path, tmp_path: Path) -> Path:
    """An app repo generated at v1.0.0 with scaffold new."""
    dest = tmp_path / "demo"
    code, out = run(
        "new",
        "app",
        str(dest),
        "--template",
        str(versioned_template),
        "--ref",
        "v1.0.0",
        "--defaults",
        "--set",
        "name=demo",
        "--set",
        "owner=acme",
    )
    assert code == 0, out
    return dest


def answers(repo: Path) -> dict[str, object]:
    data = yaml.safe_load((repo / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize(
    "versioned_template",
    ["tiny", pytest.param("real", marks=pytest.mark.slow)],
    indirect=True,
)
def test_update_applies_template_change_and_keeps_local_edit(project: Path) -> None:
    notes = project / "UPDATE_NOTES.md"
    notes.write_text(NOTES.replace("line four", "line four (local)"), encoding="utf-8")
    commit_all(project, "local edit")

    code, out = run("update", str(project), "--to", "v1.1.0")

    assert code == 0, out
    assert "v1.0.0 → v1.1.0" in out
    text = notes.read_text(encoding="utf-8")
    assert "line two (template v1.1.0)" in text  # template change applied
    assert "line four (local)" in text  # local edit kept
    assert README_ADDITION.strip() in (project / "README.md").read_text("utf-8")
    assert (project / "NEW_IN_1_1.md").read_text("utf-8") == "new in v1.1.0\n"
    assert not (project / "old-name.txt").exists()  # unedited rename: just moved
    assert (project / "new-name.txt").is_file()
    assert answers(project)["_commit"] == "v1.1.0"
    assert git(project, "log", "-1", "--format=%s").strip() == (
        "chore(template): v1.0.0 → v1.1.0"
    )
    assert git(project, "branch", "--show-current").strip() == "scaffold/update-v1.1.0"
    assert git(project, "status", "--porcelain") == ""

    # a rerun is a no-op: same HEAD, no new branch, clean tree
    before_head, before_branches = head(project), branches(project)
    code, out = run("update", str(project), "--to", "v1.1.0")
    assert code == 0, out
    assert "already up to date" in out
    assert head(project) == before_head
    assert branches(project) == before_branches
    assert git(project, "status", "--porcelain") == ""


def test_conflicting_edit_is_reported_not_committed(project: Path) -> None:
    notes = project / "UPDATE_NOTES.md"
    notes.write_text(NOTES.replace("line two", "line two (local)"), encoding="utf-8")
    start = commit_all(project, "conflicting local edit")

    code, out = run("update", str(project), "--to", "v1.1.0")

    assert code == 3, out
    assert "CONFLICT UPDATE_NOTES.md" in out
    assert (
        "error: the update left 1 conflict(s) on branch scaffold/update-v1.1.0" in out
    )
    assert head(project) == start  # nothing committed
    assert git(project, "branch", "--show-current").strip() == "scaffold/update-v1.1.0"
    text = notes.read_text(encoding="utf-8")
    assert "<<<<<<< before updating" in text
    assert "line two (local)" in text


def test_renamed_file_with_local_edit_is_never_lost(project: Path) -> None:
    (project / "old-name.txt").write_text("original\nmy local line\n", "utf-8")
    start = commit_all(project, "edit a file the template will rename")

    code, out = run("update", str(project), "--to", "v1.1.0")

    assert code == 3, out
    assert "CONFLICT old-name.txt: removed or renamed by the template" in out
    assert "new-name.txt" in out  # the rename candidate is named
    assert (project / "old-name.txt").read_text("utf-8") == "original\nmy local line\n"
    assert (project / "new-name.txt").read_text("utf-8") == "original\n"
    assert head(project) == start


def test_dirty_tree_is_refused(project: Path) -> None:
    (project / "scratch.txt").write_text("untracked\n", "utf-8")
    before = (head(project), branches(project))

    code, out = run("update", str(project), "--to", "v1.1.0")

    assert code == 2
    assert "uncommitted or untracked changes" in out
    assert (head(project), branches(project)) == before


def test_dry_run_shows_diff_and_changes_nothing(project: Path) -> None:
    before = (head(project), branches(project), tree(project))

    code, out = run("update", str(project), "--to", "v1.1.0", "--dry-run")

    assert code == 0, out
    assert "dry run of v1.0.0 → v1.1.0" in out
    assert "+line two (template v1.1.0)" in out
    assert "+_commit: v1.1.0" in out
    assert "NEW_IN_1_1.md" in out
    assert (head(project), branches(project), tree(project)) == before
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.slow
def test_answers_only_release_is_committed(project: Path) -> None:
    assert run("update", str(project), "--to", "v1.1.0")[0] == 0
    code, out = run("update", str(project))  # latest: v1.2.0, only _commit changes

    assert code == 0, out
    assert answers(project)["_commit"] == "v1.2.0"
    assert git(project, "log", "-1", "--format=%s").strip() == (
        "chore(template): v1.1.0 → v1.2.0"
    )
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == [
        ".copier-answers.yml"
    ]


def test_not_a_generated_repo(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    code, out = run("update", str(tmp_path))
    assert code == 2
    assert "no .copier-answers.yml" in out


def test_latest_tag_and_branch_names() -> None:
    assert latest_tag(["v1.0.0", "v1.10.0", "v1.2.0", "v2.0.0rc1", "junk"]) == "v1.10.0"
    assert latest_tag(["junk"]) is None
    assert branch_for("v1.1.0") == "scaffold/update-v1.1.0"
    assert branch_for("feature/x y") == "scaffold/update-feature-x-y"


def test_failed_update_restores_the_repo(project: Path) -> None:
    before = (head(project), branches(project), tree(project))
    code, out = run("update", str(project), "--to", "v0.0.1")  # a downgrade

    assert code == 2, out
    assert out.startswith("error: template: ")
    assert "downgrad" in out.lower()
    assert (head(project), branches(project), tree(project)) == before
    assert git(project, "branch", "--show-current").strip() == "main"


@pytest.mark.slow
def test_dry_run_reports_conflicts_without_touching_the_repo(project: Path) -> None:
    (project / "old-name.txt").write_text("original\nmine\n", "utf-8")
    commit_all(project, "edit a file the template will rename")
    before = (head(project), branches(project), tree(project))

    code, out = run("update", str(project), "--to", "v1.1.0", "--dry-run")

    assert code == 3, out
    assert "CONFLICT old-name.txt" in out
    assert "error: the update would leave 1 conflict(s) (dry run)" in out
    assert (head(project), branches(project), tree(project)) == before


def test_find_conflicts_sees_markers_unmerged_and_ignored_rej(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.rej\n", "utf-8")
    (repo / "a.txt").write_text("a\n", "utf-8")
    commit_all(repo, "init")
    (repo / "a.txt").write_text(
        "<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n",
        "utf-8",
    )
    (repo / "sub").mkdir()
    (repo / "sub" / "b.txt.rej").write_text("@@ -1 +1 @@\n", "utf-8")

    found = find_conflicts(repo, Git())

    assert [c.path for c in found] == ["a.txt", "sub/b.txt.rej"]
    assert found[0].reason.startswith("conflict markers")
    assert found[1].reason.startswith("rejected hunks")


def test_refuses_existing_update_branch(project: Path) -> None:
    git(project, "branch", "scaffold/update-v1.1.0")
    code, out = run("update", str(project), "--to", "v1.1.0")
    assert code == 2
    assert "branch scaffold/update-v1.1.0 already exists" in out


def test_unknown_target_version(project: Path) -> None:
    before = (head(project), branches(project), tree(project))
    code, out = run("update", str(project), "--to", "v9.9.9")
    assert code == 2
    assert out == "error: template: Unknown revision: 'v9.9.9'\n"
    assert (head(project), branches(project), tree(project)) == before


@pytest.mark.parametrize(
    "versioned_template",
    ["tiny", pytest.param("real", marks=pytest.mark.slow)],
    indirect=True,
)
def test_plain_copier_update_works_too(project: Path) -> None:
    """No lock-in: what scaffold new recorded is enough for copier itself."""
    import copier

    copier.run_update(
        project, defaults=True, overwrite=True, vcs_ref="v1.1.0", quiet=True
    )
    assert answers(project)["_commit"] == "v1.1.0"
    assert (project / "NEW_IN_1_1.md").is_file()
