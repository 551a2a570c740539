"""Credentials in a template URL (the usual CI clone form
``https://x-access-token:TOKEN@host/...``) are stripped before anything prints or
records the URL: they never reach the output, ``_src_path``, a commit or
``.git/config``. The template is reached through git's ``url.<base>.insteadOf``
in the test-only global git config, as a remote would be."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from scaffold.cli import app
from tests.helpers import TOOL_PATH, VENV_BIN, git

CANARY = "ghs_canaryTOKEN1234567890"
URL = "https://github.com/acme/scaffold-templates.git"


def _grep_tree(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` (``.git`` included) whose bytes hold ``needle``."""
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_template_url_credentials_never_printed_or_recorded(
    template_repo: Path, tmp_path: Path
) -> None:
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    with gitconfig.open("a", encoding="utf-8") as fh:
        fh.write(f'[url "{template_repo.as_uri()}"]\n\tinsteadOf = {URL}\n')
    dest = tmp_path / "demo"
    secret_url = URL.replace("https://", f"https://x-access-token:{CANARY}@") + "?a=b"
    # a real process: copier's git (plumbum) must see this test's git config
    proc = subprocess.run(
        [
            str(VENV_BIN / "scaffold"),
            "new",
            "app",
            str(dest),
            "--template",
            secret_url,
            "--defaults",
            "--set",
            "name=demo",
            "--set",
            "owner=acme",
        ],
        env={**os.environ, "PATH": TOOL_PATH},
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert CANARY not in output
    assert URL in output
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    assert answers["_src_path"] == URL
    assert _grep_tree(dest, CANARY) == []
    assert CANARY not in git(dest, "log", "-p", "--all")
    assert CANARY not in (dest / ".git" / "config").read_text("utf-8")


def test_unreachable_template_points_to_credential_helpers(tmp_path: Path) -> None:
    secret_url = f"https://x-access-token:{CANARY}@127.0.0.1:9/acme/private.git"
    result = CliRunner().invoke(
        app,
        ["new", "app", str(tmp_path / "x"), "--template", secret_url, "--defaults"],
    )
    assert result.exit_code != 0
    assert CANARY not in result.output
    assert "credential helper" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "x").exists()
