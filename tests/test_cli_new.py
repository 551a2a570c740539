"""``scaffold new`` through Typer's runner: every error path, and what success makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app
from scaffold.services.answers import safety_rule
from scaffold.services.new import default_ref
from tests.helpers import TEMPLATE_TAG, git, leftovers, render, tree

BASE = ["--set", "name=demo", "--set", "owner=acme"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def new(template: Path, dest: Path, *args: str) -> tuple[int, str]:
    return run("new", "app", str(dest), "--template", str(template), *args)


def assert_nothing_written(dest: Path) -> None:
    assert not dest.exists() or not any(dest.iterdir()), f"{dest} was written"
    assert leftovers(dest.parent) == [], "temporary directories left behind"


# --- bad input: one line naming the key and the rule, exit 2, nothing written ---


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "name=Bad_Name", "--set", "owner=acme"], "name: must be a DNS-1123"),
        (
            ["--set", f"name={'a' * 41}", "--set", "owner=acme"],
            "name: must be at most 40",
        ),
        (
            ["--set", "name=../evil", "--set", "owner=acme"],
            "name: must not contain '..'",
        ),
        (["--set", "name=a/b", "--set", "owner=acme"], "name: must be a DNS-1123"),
        ([*BASE, "--set", "colour=red"], "colour: unknown key"),
        ([*BASE, "--set", "language=cobol"], "language: must be one of: python"),
        ([*BASE, "--set", "container_port=http"], "container_port: must be an integer"),
        (
            [*BASE, "--set", "container_port=80"],
            "container_port: must be an integer bet",
        ),
        (
            [*BASE, "--set", "description=../../etc/passwd"],
            "description: must not contain '..'",
        ),
        ([*BASE, "--set", "description=a: b"], "description: must not contain ': '"),
        ([*BASE, "--set", "description=x # y"], "description: must not contain '#'"),
        (
            [*BASE, "--set", 'description=say "hi"'],
            "description: must not contain quotes",
        ),
        (
            [*BASE, "--set", "description=two\nlines"],
            "description: must be a single line",
        ),
        (
            [*BASE, "--set", "description={{ 7*7 }}"],
            "description: must not contain template",
        ),
        (
            [*BASE, "--set", "image_registry=/abs/path"],
            "image_registry: must not be an absolute",
        ),
        ([*BASE, "--set", "infra_repo=acme/.."], "infra_repo: must not contain '..'"),
        (
            [*BASE, "--set", "default_branch=a..b"],
            "default_branch: must not contain '..'",
        ),
        ([*BASE, "--set", "codeowners=acme"], "codeowners: must be a GitHub handle"),
        (
            [*BASE, "--set", "repo_kind=infra"],
            "repo_kind: 'infra' conflicts with the KIND",
        ),
        (
            [*BASE, "--set", "python_package=x"],
            "python_package: computed by the",
        ),
        ([*BASE, "--set", "owner"], "--set 'owner': expected KEY=VALUE"),
        (
            [*BASE, "--author", "nobody"],
            "--author 'nobody': expected 'Name <email@host>'",
        ),
    ],
)
def test_bad_answer_exits_2_and_writes_nothing(
    template_repo: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    dest = tmp_path / "out"
    code, out = new(template_repo, dest, *args)
    assert code == 2, out
    assert out.startswith("error: ") and message in out, out
    assert len(out.strip().splitlines()) == 1
    assert_nothing_written(dest)


def test_missing_answers_lists_every_key(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    code, out = new(template_repo, dest)
    assert code == 2
    assert "missing answers (no terminal to ask): name, owner;" in out
    assert_nothing_written(dest)


def test_missing_kind_is_listed_too(template_repo: Path, tmp_path: Path) -> None:
    code, out = run("new", "--template", str(template_repo))
    assert code == 2
    assert "missing answers (no terminal to ask): repo_kind, name, owner;" in out


def test_option_for_the_other_kind_is_rejected(
    template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "fleet"
    code, out = run(
        "new", "infra", str(dest), "--template", str(template_repo),
        *BASE, "--set", "container_port=8080",
    )  # fmt: skip
    assert code == 2
    assert "container_port: does not apply to this kind of repository" in out
    assert_nothing_written(dest)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: [unclosed", "invalid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("name: demo\nowner: acme\ncolour: red\n", "colour: unknown key"),
        ("name: demo\nowner: acme\ncontainer_port: [1]\n", "container_port: must be a"),
    ],
)
def test_bad_answers_file(
    template_repo: Path, tmp_path: Path, content: str, message: str
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(content, encoding="utf-8")
    dest = tmp_path / "out"
    code, out = new(template_repo, dest, "--answers", str(answers))
    assert code == 2, out
    assert message in out
    assert_nothing_written(dest)


def test_unreadable_answers_file(template_repo: Path, tmp_path: Path) -> None:
    code, out = new(template_repo, tmp_path / "out", "--answers", str(tmp_path / "no"))
    assert code == 2
    assert "cannot read" in out


def test_non_empty_destination_needs_force(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n", encoding="utf-8")
    code, out = new(template_repo, dest, *BASE, "--defaults")
    assert code == 2
    assert f"destination {dest} is not empty (use --force" in out
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert leftovers(tmp_path) == []

    code, out = new(template_repo, dest, *BASE, "--defaults", "--force")
    assert code == 0, out
    assert not (dest / "keep.txt").exists()
    assert (dest / ".copier-answers.yml").is_file()


def test_destination_that_is_a_file(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "file"
    dest.write_text("x", encoding="utf-8")
    code, out = new(template_repo, dest, *BASE)
    assert code == 2
    assert "exists and is not a directory" in out


def test_unknown_template_source(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    code, out = run(
        "new", "app", str(dest), "--template", str(tmp_path / "nope"), *BASE
    )
    assert code == 2
    assert "existing directory" in out
    assert_nothing_written(dest)


def test_unknown_ref_writes_nothing(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    code, out = new(template_repo, dest, *BASE, "--ref", "v9.9.9")
    assert code == 2
    assert out.startswith("error: --ref v9.9.9: no such version")
    assert_nothing_written(dest)


def test_no_git_identity_fails_before_writing(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text('[protocol "file"]\n\tallow = always\n', encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("EMAIL", "")
    dest = tmp_path / "out"
    code, out = new(template_repo, dest, *BASE)
    assert code == 2
    assert "git: no author identity for the first commit; pass --author" in out
    assert_nothing_written(dest)

    # --author is enough: it is author and committer of the first commit
    code, out = new(template_repo, dest, *BASE, "--author", "Ada L <ada@example.com>")
    assert code == 0, out
    assert git(dest, "log", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Ada L <ada@example.com>|Ada L <ada@example.com>"
    )

    # --no-git needs no identity
    code, out = new(template_repo, tmp_path / "plain", *BASE, "--no-git")
    assert code == 0, out


# --- success ---------------------------------------------------------------------


def test_new_app_defaults(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    code, out = new(template_repo, dest, *BASE, "--defaults")
    assert code == 0, out
    assert f"Created app repo {dest}" in out
    assert "Next steps:" in out
    assert f"cd {dest}" in out
    assert "scaffold check ." in out
    assert "scaffold protect . --repo acme/demo" in out
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    # default ref: the tag v<__version__> of the source; the source itself recorded
    assert answers["_commit"] == f"v{__version__}"
    assert answers["_src_path"] == str(template_repo)
    assert answers["image_registry"] == "ghcr.io/acme"  # default from owner
    assert answers["repo_kind"] == "app"
    assert git(dest, "branch", "--show-current").strip() == "main"
    assert git(dest, "log", "--format=%an|%s").strip() == (
        "Test User|chore: scaffold app repo demo"
    )
    assert git(dest, "status", "--porcelain") == ""
    assert leftovers(tmp_path) == []


def test_answers_file_set_override_and_branch(
    template_repo: Path, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(
        "name: from-file\nowner: acme\ndefault_branch: trunk\n_commit: ignored\n",
        encoding="utf-8",
    )
    dest = tmp_path / "svc"
    code, out = new(template_repo, dest, "--answers", str(answers), "--set", "name=svc")
    assert code == 0, out
    recorded = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    assert recorded["name"] == "svc"
    assert recorded["default_branch"] == "trunk"
    assert git(dest, "branch", "--show-current").strip() == "trunk"


def test_default_destination_is_name(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run("new", "app", "--template", str(template_repo), *BASE, "--no-git")
    assert code == 0, out
    assert (tmp_path / "demo" / ".copier-answers.yml").is_file()


def test_template_from_environment(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAFFOLD_TEMPLATE", str(template_repo))
    dest = tmp_path / "demo"
    code, out = run("new", "app", str(dest), *BASE, "--no-git")
    assert code == 0, out
    assert not (dest / ".git").exists()


def test_same_tree_as_plain_copier(template_repo: Path, tmp_path: Path) -> None:
    """No lock-in: copier by hand with the same answers and ref gives the same bytes."""
    ours = tmp_path / "ours"
    code, out = new(template_repo, ours, *BASE, "--no-git", "--ref", f"v{__version__}")
    assert code == 0, out
    theirs = tmp_path / "theirs"
    render(
        template_repo,
        theirs,
        data={"repo_kind": "app", "name": "demo", "owner": "acme"},
        ref=f"v{__version__}",
    )
    assert tree(ours) == tree(theirs)
    for rel in tree(ours):
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes(), rel


def test_infra_kind_is_accepted(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "fleet"
    spec = yaml.safe_load((template_repo / "copier.yml").read_text("utf-8"))
    extra = []  # infra questions without a default, when copier.yml has them
    if "sops_age_recipients" in spec:
        extra = ["--set", "sops_age_recipients=age1" + "q" * 58]
    code, out = run(
        "new", "infra", str(dest), "--template", str(template_repo), *BASE, *extra,
        "--no-git",
    )  # fmt: skip
    assert code == 0, out
    recorded = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    assert recorded["repo_kind"] == "infra"
    assert "container_port" not in recorded  # when-gated to app


def test_default_ref_policy() -> None:
    assert default_ref(["v0.1.0", "v0.2.0"], version="0.1.0", is_checkout=True) == (
        "v0.1.0"
    )
    assert default_ref(["v0.0.9"], version="0.1.0", is_checkout=True) == "HEAD"
    assert default_ref(["v0.0.9"], version="0.1.0", is_checkout=False) is None


def test_help_lists_commands() -> None:
    code, out = run("--help")
    assert code == 0
    assert "new" in out and "update" in out


def test_copier_warnings_become_notes(template_repo: Path, tmp_path: Path) -> None:
    """A dirty template at HEAD: copier's DirtyLocalWarning is one note, no noise."""
    tpl = tmp_path / "tpl"
    shutil.copytree(template_repo, tpl)
    readme = tpl / "templates" / "app" / "README.md.jinja"
    readme.write_text(readme.read_text("utf-8") + "uncommitted line\n", "utf-8")
    dest = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["new", "app", str(dest), "--template", str(tpl), "--ref", "HEAD", *BASE],
    )
    assert result.exit_code == 0, result.output
    dirty, local = result.stderr.splitlines()
    assert dirty == "note: Dirty template changes included automatically."
    assert local.startswith(f"note: template source {tpl} is a local path")
    assert "uncommitted line" in (dest / "README.md").read_text("utf-8")
    assert "Warning" not in result.output


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("ok value", None),
        ("a/b-c_d.e", None),
        ("../x", "must not contain '..' (path traversal)"),
        ("/etc", "must not be an absolute path"),
        ("~root", "must not be an absolute path"),
        ("a\\b", "must not contain '\\'"),
        ("tab\there", "must be a single line without control characters"),
        ("key: value", "must not contain ': '"),
        ("trailing:", "must not end with ':'"),
        ("${{ github.token }}", "must not contain template syntax"),
        ("$(id)", "must not contain '$'"),
        ("${HOME}", "must not contain '$'"),
        ("`id`", "must not contain quotes"),
    ],
)
def test_safety_rule(value: str, rule: str | None) -> None:
    assert safety_rule(value) == rule


def test_template_from_config_file(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"template: {template_repo}\nref: v{__version__}\n", "utf-8")
    monkeypatch.setenv("SCAFFOLD_CONFIG", str(config))
    dest = tmp_path / "demo"
    code, out = run("new", "app", str(dest), *BASE, "--no-git")
    assert code == 0, out
    recorded = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    assert recorded["_src_path"] == str(template_repo)
    assert recorded["_commit"] == f"v{__version__}"


def test_installed_package_is_not_a_template_source(
    template_repo: Path, tmp_path: Path
) -> None:
    inside = tmp_path / "lib" / "site-packages" / "tpl"
    shutil.copytree(template_repo, inside)
    dest = tmp_path / "out"
    code, out = run("new", "app", str(dest), "--template", str(inside), *BASE)
    assert code == 2
    assert "is inside an installed package" in out
    assert_nothing_written(dest)


def test_unknown_kind_choice(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run(
        "new", "--template", str(template_repo), *BASE, "--set", "repo_kind=library"
    )
    assert code == 2
    assert "error: repo_kind: must be one of: app, infra" in out
    assert list(tmp_path.iterdir()) == []


def test_no_terminal_never_hangs(template_repo: Path, tmp_path: Path) -> None:
    """A real process with stdin from /dev/null: exit 2 at once, nothing written."""
    dest = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "scaffold", "new", "app", str(dest)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "SCAFFOLD_TEMPLATE": str(template_repo)},
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: missing answers (no terminal to ask): name, owner; "
        "pass them with --set KEY=VALUE or --answers FILE\n"
    )
    assert_nothing_written(dest)


def test_force_never_replaces_the_template_or_cwd(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tpl = tmp_path / "box" / "tpl"
    shutil.copytree(template_repo, tpl)
    code, out = run(
        "new", "app", str(tmp_path / "box"), "--template", str(tpl), *BASE, "--force"
    )
    assert code == 2
    assert "--force will not replace it" in out
    assert (tpl / "copier.yml").is_file()

    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "mine.txt").write_text("x", "utf-8")
    monkeypatch.chdir(work / "sub")
    code, out = new(template_repo, work, *BASE, "--force")
    assert code == 2
    assert f"destination {work} contains {work / 'sub'}" in out
    assert (work / "mine.txt").is_file()


def test_run_new_checks_the_fleet_before_writing(
    template_repo: Path, tmp_path: Path
) -> None:
    """NewOptions -> run_new: a bad --infra fails once answers are known, nothing
    written (the use case is a service; the CLI only parses and asks)."""
    from scaffold.adapters.git import Git
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.errors import NotAFleetError
    from scaffold.models import RepoKind, TemplateSource
    from scaffold.services.new import NewOptions, run_new

    dest = tmp_path / "out"
    not_a_fleet = tmp_path / "nothing-here"
    options = NewOptions(
        kind=RepoKind.APP,
        dest=dest,
        answers={"name": "demo", "owner": "acme"},
        source=TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG),
        infra=not_a_fleet,
    )
    git = Git()
    with pytest.raises(NotAFleetError, match="no such directory"):
        run_new(options, templates=CopierTemplates(git=git), git=git)
    assert_nothing_written(dest)
    assert not not_a_fleet.exists()


HEAVY = {"copier", "httpx", "pydantic", "questionary", "jinja2", "yaml", "githubkit"}
HEAVY |= {"kubernetes_validate", "jsonschema", "rich"}


def test_help_imports_no_heavy_library() -> None:
    """Start-up stays fast: heavy libraries are imported inside the commands."""
    code = (
        "import sys\nfrom scaffold.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), "
        "file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert set(proc.stderr.split()) & HEAVY == set()
