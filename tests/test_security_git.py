"""Untrusted template sources and refs never reach git as options.

The template source (``--template``, ``$SCAFFOLD_TEMPLATE``, the config file, a
repo's own ``_src_path``) and the refs (``--ref``, ``--to``, ``_commit``) are
validated in one place (``scaffold.config``); every git call puts
``--end-of-options``/``--`` before them. Each payload here runs a command or writes
a file when git reads it as an option; the current working directory is a repo
with an ``origin`` remote, where ``git ls-remote --upload-pack=...`` would fire.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.config import redact_url, template_url
from scaffold.errors import UsageError
from tests.helpers import commit_all, git

NEW = ("new", "app", "--defaults", "--set", "name=demo", "--set", "owner=acme")


@dataclass
class Sandbox:
    root: Path
    template: Path  # a tiny template repo (copier.yml only), tagged v1.0.0
    project: Path  # a generated-looking repo with an answers file and an origin
    marker: Path  # what the payloads create

    def files(self) -> set[Path]:
        return {p for p in self.root.rglob("*") if ".git" not in p.parts}


def _answers(src: str, commit: str = "v1.0.0") -> str:
    return yaml.safe_dump(
        {"_commit": commit, "_src_path": src, "repo_kind": "app", "name": "demo"}
    )


def _make_sandbox(root: Path) -> Sandbox:
    template = root / "tpl"
    template.mkdir(parents=True)
    (template / "copier.yml").write_text(
        "name:\n  type: str\n  default: demo\n", encoding="utf-8"
    )
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "tpl")
    git(template, "tag", "v1.0.0")
    git(root, "init", "-q", "--bare", "origin.git")
    project = root / "project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    git(project, "remote", "add", "origin", str(root / "origin.git"))
    (project / ".copier-answers.yml").write_text(
        _answers(str(template)), encoding="utf-8"
    )
    commit_all(project, "init")
    return Sandbox(root, template, project, root / "pwned")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield _make_sandbox(tmp_path_factory.mktemp("sec"))


@pytest.fixture
def in_project(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.chdir(sandbox.project)
    return sandbox


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def assert_refused(code: int, out: str, field: str, box: Sandbox) -> None:
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert field in lines[0], out
    assert "Traceback" not in out
    assert not list(box.root.rglob("pwned*")), "the payload ran"
    assert not (box.project / "pwned").exists()
    assert git(box.project, "status", "--porcelain") == ""
    assert git(box.project, "branch", "--list").split() == ["*", "main"]


# --- the reproduced attacks (each fails on the code before the fix) -------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["update", "dry-run"])
def test_src_path_option_injection_in_answers_file(
    in_project: Sandbox, dry_run: bool
) -> None:
    box = in_project
    payload = "--upload-pack=touch pwned;://x"
    (box.project / ".copier-answers.yml").write_text(
        _answers(payload), encoding="utf-8"
    )
    commit_all(box.project, "hostile answers")
    try:
        code, out = run("update", str(box.project), *(["--dry-run"] if dry_run else []))
        assert_refused(code, out, ".copier-answers.yml: _src_path", box)
        assert "must not start with '-'" in out
    finally:
        git(box.project, "reset", "-q", "--hard", "HEAD~1")


def test_ref_option_injection_writes_no_file(in_project: Sandbox) -> None:
    box = in_project
    target = box.root / "pwned-by-show"
    dest = box.root / "out"
    code, out = run(
        *NEW[:2],
        str(dest),
        *NEW[2:],
        "--template",
        str(box.template),
        f"--ref=--output={target}",
    )
    assert_refused(code, out, "--ref", box)
    assert not dest.exists()


@pytest.mark.parametrize("where", ["--template", "SCAFFOLD_TEMPLATE", "config"])
def test_template_option_injection_from_every_source(
    in_project: Sandbox, where: str, tmp_path: Path
) -> None:
    box = in_project
    payload = "--upload-pack=touch pwned;://x"
    args = [*NEW[:2], str(tmp_path / "out"), *NEW[2:]]
    env: dict[str, str] = {}
    if where == "--template":
        args += ["--template", payload]
    elif where == "SCAFFOLD_TEMPLATE":
        env["SCAFFOLD_TEMPLATE"] = payload
    else:
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"template": payload}), encoding="utf-8")
        env["SCAFFOLD_CONFIG"] = str(config)
    code, out = run(*args, env=env)
    assert_refused(code, out, where, box)
    assert not (tmp_path / "out").exists()


def test_to_option_injection(in_project: Sandbox) -> None:
    code, out = run("update", str(in_project.project), "--to=--output=pwned")
    assert_refused(code, out, "--to", in_project)


def test_commit_option_injection(in_project: Sandbox) -> None:
    box = in_project
    (box.project / ".copier-answers.yml").write_text(
        _answers(str(box.template), commit="--output=pwned"), encoding="utf-8"
    )
    commit_all(box.project, "hostile commit")
    try:
        code, out = run("update", str(box.project), "--dry-run")
        assert_refused(code, out, "_commit", box)
    finally:
        git(box.project, "reset", "-q", "--hard", "HEAD~1")


# --- what is accepted, and how credentials are handled ---------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://github.com/acme/tpl.git", "https://github.com/acme/tpl.git"),
        (
            "https://x-access-token:ghs_SECRET@github.com/acme/tpl.git?x=1#f",
            "https://github.com/acme/tpl.git",
        ),
        (
            "https://ghp_SECRET@ghe.example.com:8443/a/b",
            "https://ghe.example.com:8443/a/b",
        ),
        ("ssh://git@github.com/acme/tpl.git", "ssh://git@github.com/acme/tpl.git"),
        ("ssh://git:pw@github.com/acme/tpl.git", "ssh://github.com/acme/tpl.git"),
        ("git@github.com:acme/tpl.git", "git@github.com:acme/tpl.git"),
        ("file:///srv/templates/scaffold", "file:///srv/templates/scaffold"),
    ],
)
def test_accepted_sources_are_stripped_of_credentials(raw: str, expected: str) -> None:
    assert template_url(raw, field="--template") == expected
    assert "SECRET" not in redact_url(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "http://github.com/acme/tpl.git",
        "git://github.com/acme/tpl.git",
        "ext::sh -c touch% pwned",
        "ssh://-oProxyCommand=touch%20pwned/x",
        "git@-oProxyCommand=x:acme/tpl",
        "git@github.com:-u",
        "file://remote-host/x",
        "https://github.com/acme/tpl.git\n--upload-pack=x",
        "-",
        "",
        "/does/not/exist",
    ],
)
def test_refused_sources(raw: str) -> None:
    with pytest.raises(UsageError, match=r"^--template"):
        template_url(raw, field="--template")


def test_credentials_in_answers_file_source_are_refused() -> None:
    with pytest.raises(UsageError, match="credential helper") as info:
        template_url(
            "https://x-access-token:ghs_SECRET@github.com/acme/tpl.git",
            field="_src_path",
            allow_credentials=False,
        )
    assert "SECRET" not in str(info.value)


# --- fuzz: hostile values through every entry point ------------------------------

_OPTIONS = [
    "--upload-pack={cmd}",
    "--upload-pack={cmd};://x",
    "--receive-pack={cmd}",
    "--exec={cmd}",
    "--output={mark}",
    "--output={mark}:copier.yml",
    "-c core.sshCommand={cmd}",
    "--config=core.fsmonitor={cmd}",
    "-o{mark}",
    "--template={mark}",
    "ext::sh -c {cmd}",
    "ssh://-oProxyCommand={cmd}/x",
    "git@-oProxyCommand={cmd}:x",
]
_NOISE = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " \t\r\n\x1b",
    max_size=12,
)
FIELDS = ["--template", "SCAFFOLD_TEMPLATE", "config", "--ref", "--to", "_src_path"]


def _payloads(mark: Path) -> st.SearchStrategy[str]:
    cmd = f"touch {mark}"
    option = st.builds(
        lambda t, a, b: (
            a + t.format(cmd=cmd, mark=mark) + b
            if a.startswith("-") or a == ""
            else t.format(cmd=cmd, mark=mark) + b
        ),
        st.sampled_from(_OPTIONS),
        st.sampled_from(["", "-", "--"]),
        _NOISE,
    )
    dashed = _NOISE.map(lambda s: "-" + s)
    return st.one_of(option, dashed)


@pytest.fixture(scope="module")
def fuzz_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The fuzz test's sandbox; the cwd is its project (a repo with an origin)."""
    box = _make_sandbox(tmp_path_factory.mktemp("fuzz"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(box.project)
        yield box


@settings(max_examples=max(12, settings().max_examples // 10))
@given(data=st.data())
def test_fuzz_hostile_sources_and_refs(fuzz_box: Sandbox, data: st.DataObject) -> None:
    box = fuzz_box
    field = data.draw(st.sampled_from(FIELDS), label="field")
    payload = data.draw(_payloads(box.marker), label="payload")
    env: dict[str, str] = {}
    dest = box.root / "fuzz-out"
    if field in ("--to", "_src_path"):
        args = ["update", str(box.project), "--dry-run"]
        if field == "--to":
            args.append(f"--to={payload}")
        else:
            (box.project / ".copier-answers.yml").write_text(
                _answers(payload), encoding="utf-8"
            )
    else:
        args = [*NEW[:2], str(dest), *NEW[2:]]
        if field == "--template":
            args.append(f"--template={payload}")
        elif field == "--ref":
            args += ["--template", str(box.template), f"--ref={payload}"]
        elif field == "SCAFFOLD_TEMPLATE":
            env["SCAFFOLD_TEMPLATE"] = payload
        else:
            config = box.root / "config.yaml"
            config.write_text(yaml.safe_dump({"template": payload}), encoding="utf-8")
            env["SCAFFOLD_CONFIG"] = str(config)
    try:
        code, out = run(*args, env=env)
    finally:
        git(box.project, "checkout", "-q", "--", ".copier-answers.yml")
    label = "SCAFFOLD_CONFIG" if field == "config" else field
    assert code == 2, (field, payload, out)
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    assert label in out or field in out or "config" in out, out
    assert not box.marker.exists(), f"payload ran: {payload!r}"
    assert not list(box.root.glob(f"{box.marker.name}*"))
    assert not dest.exists()
