"""``scaffold update`` on a fleet: the fleet's own Copier instance and every app's
(``apps/<name>/.copier-answers.yml``), on one branch, one commit each.

A tiny template with tags (one end-to-end test on this project's templates,
marked slow), real copier, real git. The fleet is generated once per session and
copied per test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app
from scaffold.errors import UsageError
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from scaffold.services.update import list_instances
from tests.helpers import (
    FLUX_FLEET_ANSWERS,
    bash,
    branches,
    commit_all,
    git,
    make_template_repo,
    make_tiny_template,
    printed_after,
    release,
    render,
    tree,
)

DEPLOYMENT = "templates/fleet-app/apps/{{ name }}/base/deployment.yaml.jinja"
NOTES_V10 = "templates/fleet-app/apps/{{ name }}/NOTES.md.jinja"
NOTES_V11 = "templates/fleet-app/apps/{{ name }}/APP_NOTES.md.jinja"
YAMLLINT = "templates/infra/.yamllint.yaml"
LABEL = "    app.kubernetes.io/part-of: fleet-v1-1\n"
YAMLLINT_ADDITION = "# template v1.1.0\n"
APPS = (
    {"name": "api", "app_image": "ghcr.io/acme/api", "app_tag": "1.0.0"},
    {"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.0.0"},
)
UPDATE_BRANCH = "scaffold/update-v1.1.0"


# The tiny template's fleet: the files the tests below look at, nothing else.
TINY_FLEET = {
    YAMLLINT: "extends: default\n",
    DEPLOYMENT: """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ name }}
          labels:
            app.kubernetes.io/name: {{ name }}
        """,
    "templates/fleet-app/apps/{{ name }}/overlays/dev/kustomization.yaml.jinja": """\
        images:
          - name: {{ app_image }}
            newTag: "{{ app_tag }}"
        """,
}


@pytest.fixture(scope="session")
def fleet_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """v1.0.0: the tiny template (or with the parameter ``"real"`` this project's
    templates) plus an app notes file; v1.1.0: a label in the fleet-app Deployment,
    a line in an infra file, the notes file renamed."""
    repo = tmp_path_factory.mktemp("fleet-versioned") / "tpl"
    if getattr(request, "param", "tiny") == "real":
        make_template_repo(repo, "v0.0.1")
    else:
        make_tiny_template(repo, TINY_FLEET, "v0.0.1")
    release(repo, "v1.0.0", {NOTES_V10: "Notes for {{ name }}\n"})
    deployment = (repo / DEPLOYMENT).read_text(encoding="utf-8")
    labelled = deployment.replace("  labels:\n", "  labels:\n" + LABEL, 1)
    assert labelled != deployment, "fleet-app Deployment has no metadata labels"
    yamllint = (repo / YAMLLINT).read_text(encoding="utf-8")
    release(
        repo,
        "v1.1.0",
        {
            DEPLOYMENT: labelled,
            YAMLLINT: yamllint + YAMLLINT_ADDITION,
            NOTES_V10: None,
            NOTES_V11: "Notes for {{ name }}\n",
        },
    )
    return repo


@pytest.fixture(scope="session")
def pristine_fleet(
    fleet_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A Flux fleet at v1.0.0 with the apps api and web, committed."""

    dest = tmp_path_factory.mktemp("fleet-pristine") / "fleet"
    render(
        fleet_template,
        dest,
        data=FLUX_FLEET_ANSWERS,
        ref="v1.0.0",
        git_init=True,
    )
    g = Git()
    for answers in APPS:
        add_app(
            fleet_path=dest,
            answers=dict(answers),
            source=TemplateSource(url=str(fleet_template), ref="v1.0.0"),
            templates=CopierTemplates(git=g),
            git=g,
        )
    return dest


@pytest.fixture
def fleet(pristine_fleet: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "fleet"
    shutil.copytree(pristine_fleet, dest, symlinks=True)
    return dest


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def version(repo: Path, answers_file: str = ".copier-answers.yml") -> object:
    data = yaml.safe_load((repo / answers_file).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data["_commit"]


def versions(repo: Path) -> dict[str, object]:
    return {
        ".": version(repo),
        "api": version(repo, "apps/api/.copier-answers.yml"),
        "web": version(repo, "apps/web/.copier-answers.yml"),
    }


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def subjects(repo: Path, count: int) -> list[str]:
    return git(repo, "log", f"-{count}", "--format=%s").splitlines()


def files_of(repo: Path, rev: str) -> set[str]:
    return set(
        git(repo, "show", "--no-renames", "--name-only", "--format=", rev).split()
    )


def state(repo: Path) -> tuple[str, list[str], dict[str, str]]:
    return head(repo), branches(repo), tree(repo)


def edit_dev_tag(repo: Path, app_name: str, tag: str) -> None:
    """What a release pipeline does: bump the image tag of the dev overlay."""
    path = repo / f"apps/{app_name}/overlays/dev/kustomization.yaml"
    text = path.read_text(encoding="utf-8")
    assert 'newTag: "1.0.0"' in text
    path.write_text(text.replace('newTag: "1.0.0"', f'newTag: "{tag}"'), "utf-8")


@pytest.mark.parametrize(
    "fleet_template",
    ["tiny", pytest.param("real", marks=pytest.mark.slow)],
    indirect=True,
)
def test_updates_the_fleet_and_every_app(fleet: Path) -> None:
    edit_dev_tag(fleet, "web", "1.0.7")
    commit_all(fleet, "release web 1.0.7 to dev")
    start = head(fleet)

    code, out = run("update", str(fleet))  # latest tag: v1.1.0

    assert code == 0, out
    assert versions(fleet) == {".": "v1.1.0", "api": "v1.1.0", "web": "v1.1.0"}
    for name in ("api", "web"):
        deployment = (fleet / f"apps/{name}/base/deployment.yaml").read_text("utf-8")
        assert LABEL in deployment  # template change applied to each app
        assert (fleet / f"apps/{name}/APP_NOTES.md").is_file()  # unedited rename
        assert not (fleet / f"apps/{name}/NOTES.md").exists()
    assert (fleet / ".yamllint.yaml").read_text("utf-8").endswith(YAMLLINT_ADDITION)
    dev = (fleet / "apps/web/overlays/dev/kustomization.yaml").read_text("utf-8")
    assert 'newTag: "1.0.7"' in dev  # local edit kept
    # one commit per instance on one branch, each touching only its instance
    assert git(fleet, "branch", "--show-current").strip() == UPDATE_BRANCH
    assert subjects(fleet, 3) == [
        "chore(template): apps/web v1.0.0 → v1.1.0",
        "chore(template): apps/api v1.0.0 → v1.1.0",
        "chore(template): v1.0.0 → v1.1.0",
    ]
    assert git(fleet, "rev-parse", "HEAD~3").strip() == start
    assert files_of(fleet, "HEAD~2") == {".copier-answers.yml", ".yamllint.yaml"}
    for rev, name in (("HEAD~1", "api"), ("HEAD", "web")):
        assert files_of(fleet, rev) == {
            f"apps/{name}/.copier-answers.yml",
            f"apps/{name}/base/deployment.yaml",
            f"apps/{name}/NOTES.md",
            f"apps/{name}/APP_NOTES.md",
        }
    assert git(fleet, "status", "--porcelain") == ""
    assert "apps/web: v1.0.0 → v1.1.0" in out
    assert f"updated on branch {UPDATE_BRANCH} (3 commit(s))" in out

    # a rerun is a no-op: same HEAD, same branches, clean tree
    before = (head(fleet), branches(fleet))
    code, out = run("update", str(fleet))
    assert code == 0, out
    assert "already up to date at v1.1.0 (3 template instances)" in out
    assert (head(fleet), branches(fleet)) == before
    assert git(fleet, "status", "--porcelain") == ""


@pytest.mark.slow
def test_app_and_no_apps_restrict_and_a_rerun_on_the_branch_goes_on(
    fleet: Path,
) -> None:
    code, out = run("update", str(fleet), "--to", "v1.1.0", "--app", "web")

    assert code == 0, out
    assert versions(fleet) == {".": "v1.0.0", "api": "v1.0.0", "web": "v1.1.0"}
    assert subjects(fleet, 1) == ["chore(template): apps/web v1.0.0 → v1.1.0"]
    assert git(fleet, "branch", "--show-current").strip() == UPDATE_BRANCH

    # on the update branch a second run carries on instead of refusing it
    code, out = run("update", str(fleet), "--to", "v1.1.0", "--no-apps")
    assert code == 0, out
    assert versions(fleet) == {".": "v1.1.0", "api": "v1.0.0", "web": "v1.1.0"}
    assert subjects(fleet, 1) == ["chore(template): v1.0.0 → v1.1.0"]

    code, out = run("update", str(fleet), "--to", "v1.1.0")
    assert code == 0, out
    assert versions(fleet) == {".": "v1.1.0", "api": "v1.1.0", "web": "v1.1.0"}
    assert subjects(fleet, 3) == [
        "chore(template): apps/api v1.0.0 → v1.1.0",
        "chore(template): v1.0.0 → v1.1.0",
        "chore(template): apps/web v1.0.0 → v1.1.0",
    ]
    assert ".: unchanged, already at v1.1.0" in out
    assert "apps/web: unchanged, already at v1.1.0" in out
    assert branches(fleet) == ["main", UPDATE_BRANCH]
    assert git(fleet, "status", "--porcelain") == ""


def test_unknown_app_is_a_usage_error(fleet: Path) -> None:
    before = state(fleet)

    code, out = run("update", str(fleet), "--app", "web", "--app", "nope")

    assert code == 2, out
    assert out.startswith("error: --app: no app 'nope' in the fleet (apps: api, web)")
    assert state(fleet) == before


def test_app_and_no_apps_together_is_a_usage_error(fleet: Path) -> None:
    code, out = run("update", str(fleet), "--app", "web", "--no-apps")
    assert code == 2, out
    assert "--app: cannot be combined with --no-apps" in out


def test_app_on_a_repo_that_is_no_fleet(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a fleet"):
        list_instances(tmp_path, {"repo_kind": "app"}, apps=["web"], include_apps=True)


@pytest.mark.slow
def test_conflict_in_one_app_stops_there(fleet: Path) -> None:
    path = fleet / "apps/api/base/deployment.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("  labels:\n", "  labels:\n    team: payments\n", 1), "utf-8"
    )
    start = commit_all(fleet, "label api locally")

    code, out = run("update", str(fleet), "--to", "v1.1.0")

    assert code == 3, out
    assert "CONFLICT apps/api/base/deployment.yaml: " in out
    assert "web: not run (an earlier instance has conflicts)" in out
    assert (
        f"error: the update of apps/api left 1 conflict(s) on branch {UPDATE_BRANCH}"
        in out
    )
    # the fleet itself is committed, the app with conflicts is not, web not run
    assert subjects(fleet, 1) == ["chore(template): v1.0.0 → v1.1.0"]
    assert git(fleet, "rev-parse", "HEAD~1").strip() == start
    assert version(fleet, "apps/web/.copier-answers.yml") == "v1.0.0"
    conflicted = path.read_text(encoding="utf-8")
    assert "<<<<<<< before updating" in conflicted
    assert "team: payments" in conflicted
    assert git(fleet, "branch", "--show-current").strip() == UPDATE_BRANCH

    # resolve (keep both labels), commit, run again: the rest is updated
    resolved = text.replace("  labels:\n", "  labels:\n    team: payments\n" + LABEL, 1)
    path.write_text(resolved, "utf-8")
    then = printed_after(out, "then:")
    assert "commit -m 'chore(template): apps/api v1.0.0 → v1.1.0'" in then
    assert "# then run the same scaffold update again (on this branch)" in then
    bash(then, fleet.parent)  # as printed
    assert subjects(fleet, 1) == ["chore(template): apps/api v1.0.0 → v1.1.0"]
    code, out = run("update", str(fleet), "--to", "v1.1.0")
    assert code == 0, out
    log = bash(printed_after(out, "Review and merge it:"), fleet.parent)
    assert "chore(template): apps/web v1.0.0 → v1.1.0" in log
    assert versions(fleet) == {".": "v1.1.0", "api": "v1.1.0", "web": "v1.1.0"}
    assert subjects(fleet, 1) == ["chore(template): apps/web v1.0.0 → v1.1.0"]


def test_renamed_file_with_local_edit_in_an_app_is_never_lost(fleet: Path) -> None:
    notes = fleet / "apps/web/NOTES.md"
    notes.write_text("Notes for web\nrunbook: ask the payments team\n", "utf-8")
    start = commit_all(fleet, "local notes")

    code, out = run("update", str(fleet), "--to", "v1.1.0", "--app", "web")

    assert code == 3, out
    assert "CONFLICT apps/web/NOTES.md: removed or renamed by the template" in out
    assert "apps/web/APP_NOTES.md" in out  # the rename candidate is named
    assert notes.read_text("utf-8") == "Notes for web\nrunbook: ask the payments team\n"
    assert (fleet / "apps/web/APP_NOTES.md").is_file()
    assert head(fleet) == start


@pytest.mark.slow
def test_dry_run_shows_the_combined_diff_and_changes_nothing(fleet: Path) -> None:
    before = state(fleet)

    code, out = run("update", str(fleet), "--to", "v1.1.0", "--dry-run")

    assert code == 0, out
    assert "dry run; nothing was changed" in out
    for name in ("api", "web"):
        assert f"diff --git a/apps/{name}/base/deployment.yaml" in out
        assert f"apps/{name}: v1.0.0 → v1.1.0" in out
    assert "+" + LABEL.rstrip("\n") in out
    assert "diff --git a/.yamllint.yaml" in out
    assert "+" + YAMLLINT_ADDITION.rstrip("\n") in out
    assert out.count("+_commit: v1.1.0") == 3
    assert state(fleet) == before
    assert git(fleet, "status", "--porcelain") == ""


@pytest.mark.slow
def test_dry_run_reports_an_app_conflict(fleet: Path) -> None:
    (fleet / "apps/web/NOTES.md").write_text("mine\n", "utf-8")
    commit_all(fleet, "local notes")
    before = state(fleet)

    code, out = run("update", str(fleet), "--to", "v1.1.0", "--dry-run")

    assert code == 3, out
    assert "CONFLICT apps/web/NOTES.md" in out
    assert "error: the update of apps/web would leave 1 conflict(s) (dry run)" in out
    assert state(fleet) == before


def test_a_failing_app_rolls_the_whole_update_back(fleet: Path) -> None:
    answers_file = fleet / "apps/web/.copier-answers.yml"
    text = answers_file.read_text(encoding="utf-8")
    answers_file.write_text(
        text.replace(f"_src_path: {version_src(fleet)}", "_src_path: /nonexistent"),
        "utf-8",
    )
    commit_all(fleet, "break web's template source")
    before = state(fleet)

    code, out = run("update", str(fleet), "--to", "v1.1.0")

    assert code in (1, 2), out
    assert out.startswith("error: ")
    # the fleet and api were updated and committed first; all of it is undone
    assert state(fleet) == before
    assert git(fleet, "branch", "--show-current").strip() == "main"


def version_src(repo: Path) -> str:
    data = yaml.safe_load((repo / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(data["_src_path"])
