"""Hostile or unlucky input never gives a traceback, and ``--force`` never
replaces what it must not; ``protect`` never shows the token.

Every bad input here is a one-line error with its exit code; nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from scaffold.adapters.git import Git
from scaffold.cli import app
from scaffold.errors import UsageError
from scaffold.services.new import check_destination
from tests.helpers import TEMPLATE_TAG, TOOL_PATH, VENV_BIN, commit_all, git, render

CANARY = "ghp_CANARYsecurity0123456789abcdefghijkl"
NEW = ["--defaults", "--no-git", "--set", "name=demo", "--set", "owner=acme"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result.exit_code, result.output


def one_line_error(code: int, out: str, expected: int = 2) -> str:
    assert code == expected, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    return lines[0]


# --- --force ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["root", "home", "parent-of-cwd", "cwd"])
def test_force_refuses_root_home_and_parents_of_cwd(
    which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "work" / "deep").mkdir(parents=True)
    (home / ".bashrc").write_text("keep me\n", "utf-8")
    (home / "work" / "deep" / "notes.txt").write_text("mine\n", "utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "work" / "deep")
    dest = {
        "root": Path("/"),
        "home": home,
        "parent-of-cwd": home / "work",
        "cwd": Path(),
    }[which]
    with pytest.raises(UsageError, match="--force will not replace"):
        check_destination(dest, force=True)
    assert (home / ".bashrc").read_text("utf-8") == "keep me\n"


def test_force_on_home_through_the_cli(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("keep me\n", "utf-8")
    monkeypatch.setenv("HOME", str(home))
    code, out = run(
        "new",
        "app",
        str(home),
        "--force",
        "--template",
        str(template_repo),
        "--ref",
        TEMPLATE_TAG,
        *NEW,
    )
    assert "--force will not replace" in one_line_error(code, out)
    assert (home / ".bashrc").read_text("utf-8") == "keep me\n"


def test_force_refuses_a_dirty_work_tree_unless_confirmed(
    template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    git(dest, "init", "-q", "-b", "main")
    (dest / "committed.txt").write_text("x\n", "utf-8")
    commit_all(dest, "init")
    (dest / "work-in-progress.txt").write_text("not committed\n", "utf-8")
    code, out = run(
        "new",
        "app",
        str(dest),
        "--force",
        "--template",
        str(template_repo),
        "--ref",
        TEMPLATE_TAG,
        *NEW,
    )
    assert "uncommitted changes" in one_line_error(code, out)
    assert (dest / "work-in-progress.txt").exists()

    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(UsageError, match="uncommitted changes"):
        check_destination(dest, force=True, git=Git(), confirm=no)
    assert len(asked) == 1 and "Replace it anyway?" in asked[0]
    assert check_destination(dest, force=True, git=Git(), confirm=lambda q: True)
    git(dest, "add", "-A")
    commit_all(dest, "wip")  # a clean work tree needs no confirmation
    assert check_destination(dest, force=True, git=Git(), confirm=None) == dest


# --- no tracebacks ----------------------------------------------------------------


def test_invalid_utf8_answers_file(tmp_path: Path, template_repo: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_bytes(b"name: \xff\xfe\n")
    code, out = run(
        "new",
        "app",
        str(tmp_path / "out"),
        "--answers",
        str(answers),
        "--template",
        str(template_repo),
        "--ref",
        TEMPLATE_TAG,
        "--defaults",
    )
    assert "not UTF-8" in one_line_error(code, out)
    assert not (tmp_path / "out").exists()


def test_256_char_destination(tmp_path: Path, template_repo: Path) -> None:
    dest = tmp_path / ("a" * 256)
    code, out = run(
        "new",
        "app",
        str(dest),
        "--template",
        str(template_repo),
        "--ref",
        TEMPLATE_TAG,
        *NEW,
    )
    assert "longer than 255 bytes" in one_line_error(code, out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"_src_path: [unclosed\n_commit: v1\n", "invalid YAML at line"),
        (b"_src_path: \xff\n", "not UTF-8"),
        (b"- a list\n", "must be a YAML mapping"),
        (b"_src_path: {a: 1}\n_commit: v1.0.0\n", "_src_path"),
        (b"_src_path: /nonexistent/tpl\n_commit: [1]\n", "_src_path"),
    ],
)
def test_broken_answers_file_in_update(
    tmp_path: Path, content: bytes, rule: str
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".copier-answers.yml").write_bytes(content)
    commit_all(repo, "broken")
    code, out = run("update", str(repo))
    assert rule in one_line_error(code, out)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--list").split() == ["*", "main"]


def test_undecodable_file_name_prints_as_escapes(tmp_path: Path) -> None:
    """A path argument with bytes that are not UTF-8: the error still prints."""
    target = os.fsencode(tmp_path) + b"/caf\xe9"
    proc = subprocess.run(
        [os.fsencode(VENV_BIN / "scaffold"), b"update", target],
        capture_output=True,
        env={**os.environ, "PATH": TOOL_PATH},
        check=False,
    )
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "caf\\udce9" in err


# --- protect: the token never shows -------------------------------------------------


@pytest.fixture(scope="module")
def app_repo_text(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    dst = tmp_path_factory.mktemp("app")
    render(template_repo, dst, {"repo_kind": "app", "name": "demo", "owner": "acme"})
    return (dst / ".github" / "settings.yml").read_text("utf-8")


@pytest.fixture
def checkout(app_repo_text: str, tmp_path: Path) -> Path:
    repo = tmp_path / "demo"
    (repo / ".github").mkdir(parents=True)
    (repo / ".github" / "settings.yml").write_text(app_repo_text, "utf-8")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "init")
    return repo


def _serve(httpserver: HTTPServer, handler: Callable[[Request], Any]) -> None:
    def respond(request: Request) -> Response:
        status, body = handler(request)
        return Response(json.dumps(body), status=status, mimetype="application/json")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(respond)


def _protect(checkout: Path, httpserver: HTTPServer, *extra: str) -> tuple[int, str]:
    return run(
        "protect",
        str(checkout),
        "--repo",
        "acme/demo",
        "--api-url",
        httpserver.url_for("/").rstrip("/"),
        *extra,
        env={"GITHUB_TOKEN": CANARY},
    )


def _assert_no_canary(out: str, checkout: Path) -> None:
    assert CANARY not in out
    for path in checkout.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in (checkout / ".git" / "config").read_text("utf-8")


def test_protect_never_prints_a_token_the_server_echoes_in_an_error(
    checkout: Path, httpserver: HTTPServer
) -> None:
    _serve(
        httpserver,
        lambda r: (401, {"message": f"Bad credentials: {r.headers['Authorization']}"}),
    )
    code, out = _protect(checkout, httpserver)
    line = one_line_error(code, out, expected=1)
    assert "Bearer ***" in line
    _assert_no_canary(out, checkout)


def test_protect_never_prints_a_token_the_server_echoes_in_data(
    checkout: Path, httpserver: HTTPServer
) -> None:
    def handler(request: Request) -> tuple[int, Any]:
        echoed = request.headers["Authorization"]
        if request.path.endswith("/rulesets"):
            return 200, []
        if request.path == "/repos/acme/demo":
            return 200, {
                "name": "demo",
                "full_name": "acme/demo",
                "default_branch": "main",
                "description": echoed,
                "homepage": echoed,
                "has_wiki": echoed,
                "allow_merge_commit": echoed,
            }
        return 404, {"message": f"Not Found {echoed}"}

    _serve(httpserver, handler)
    code, out = _protect(checkout, httpserver, "--dry-run")
    assert code in (0, 1), out
    assert "Traceback" not in out
    _assert_no_canary(out, checkout)


@pytest.mark.parametrize(
    "api_url",
    [
        f"https://x-access-token:{CANARY}@api.github.com",
        f"https://{CANARY}@ghe.example.com/api/v3",
        f"ftp://u:{CANARY}@ghe.example.com",
        f"http://u:{CANARY}@ghe.example.com",
    ],
)
def test_protect_refuses_userinfo_in_api_url(checkout: Path, api_url: str) -> None:
    code, out = run(
        "protect",
        str(checkout),
        "--repo",
        "acme/demo",
        "--api-url",
        api_url,
        env={"GITHUB_TOKEN": "ghp_other"},
    )
    assert "credentials" in one_line_error(code, out)
    assert CANARY not in out


@pytest.mark.parametrize(
    "shape",
    [
        {"rulesets": [1, "x"]},
        {"rulesets": [{"name": "main", "source_type": "Repository"}]},
        {"repo": {"default_branch": "main", "has_issues": {"a": [1]}, "name": 3}},
        {"repo": []},
        {"rulesets": {"not": "a list"}},
    ],
)
def test_wrong_shaped_json_from_the_api(
    checkout: Path, httpserver: HTTPServer, shape: dict[str, Any]
) -> None:
    def handler(request: Request) -> tuple[int, Any]:
        if request.path.endswith("/rulesets"):
            return 200, shape.get("rulesets", [])
        if request.path == "/repos/acme/demo":
            return 200, shape.get("repo", {"default_branch": "main", "name": "demo"})
        return 200, {"id": "not-a-number", "rules": "nope"}

    _serve(httpserver, handler)
    code, out = _protect(checkout, httpserver, "--dry-run")
    if code != 0:
        one_line_error(code, out, expected=1)


def test_answers_yaml_is_still_a_mapping() -> None:
    """Sanity: the broken-answers corpus above really is broken YAML/UTF-8."""
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("_src_path: [unclosed\n")
