"""``scaffold update`` against kills and concurrent runs.

A tiny inline template (many files, so copier's write phase takes a while) keeps
this fast; real git, real copier, the real ``scaffold`` executable for the kills.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.cli import app
from scaffold.services.update_guard import (
    MARKER_FILE,
    SCRATCH_PREFIX,
    clean_stale_scratch,
    guard,
)
from tests.helpers import TOOL_PATH, VENV_BIN, commit_all, git, release

FILES = 24
BRANCH = "scaffold/update-v1.1.0"
LOCAL_EDIT = "line 3 edited locally\n"


def _body(i: int, version: str) -> str:
    lines = [f"file {i} line {n}\n" for n in range(8)]
    lines[6] = f"file {i} template {version}\n"
    return "".join(lines)


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("tiny") / "tpl"
    (repo / "template").mkdir(parents=True)
    (repo / "copier.yml").write_text(
        "_subdirectory: template\nname:\n  type: str\n  default: demo\n",
        encoding="utf-8",
    )
    (repo / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml -}}\n", encoding="utf-8"
    )
    for i in range(FILES):
        (repo / "template" / f"f{i:03}.txt").write_text(_body(i, "1.0"), "utf-8")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "v1.0.0")
    git(repo, "tag", "v1.0.0")
    release(
        repo,
        "v1.1.0",
        {f"template/f{i:03}.txt": _body(i, "1.1") for i in range(FILES)},
    )
    return repo


@pytest.fixture
def project(tiny_template: Path, tmp_path: Path) -> Path:
    """Generated at v1.0.0 with a committed local edit on main."""
    import copier

    dest = tmp_path / "demo"
    copier.run_copy(
        str(tiny_template), dest, vcs_ref="v1.0.0", defaults=True, quiet=True
    )
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "init")
    edited = (dest / "f000.txt").read_text("utf-8").splitlines(keepends=True)
    edited[3] = LOCAL_EDIT
    (dest / "f000.txt").write_text("".join(edited), "utf-8")
    commit_all(dest, "local edit")
    return dest


def scaffold(*args: str, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": TOOL_PATH, "TMPDIR": str(tmpdir)}
    return subprocess.run(
        [str(VENV_BIN / "scaffold"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def assert_converged(project: Path, main_sha: str) -> None:
    """main untouched, the update branch holds the local edit and the update."""
    assert git(project, "rev-parse", "main").strip() == main_sha
    assert git(project, "status", "--porcelain") == ""
    on_branch = git(project, "show", f"{BRANCH}:f000.txt")
    assert LOCAL_EDIT in on_branch
    assert "template 1.1" in on_branch
    assert "template 1.1" in git(project, "show", f"{BRANCH}:f{FILES - 1:03}.txt")
    assert LOCAL_EDIT in git(project, "show", "main:f000.txt")


def rerun_until_converged(project: Path, tmpdir: Path) -> list[str]:
    outputs = []
    for _ in range(3):
        proc = scaffold("update", str(project), "--to", "v1.1.0", tmpdir=tmpdir)
        out = proc.stdout + proc.stderr
        outputs.append(out)
        assert "Traceback" not in out
        assert "commit or stash" not in out, out
        if proc.returncode == 0:
            return outputs
        assert proc.returncode == 2, out
        assert "was interrupted" in out and "do not commit" in out, out
        command = out.split("run: ", 1)[1].split(" -- then", 1)[0]
        subprocess.run(command, shell=True, check=True)
    raise AssertionError("\n".join(outputs))


@pytest.mark.parametrize("delay", [None, 0.0, 0.3])
@pytest.mark.slow
def test_kill_at_random_points_loses_nothing_and_converges(
    project: Path, tmp_path: Path, delay: float | None
) -> None:
    """SIGKILL ``scaffold update`` early (``None``: before it touched anything) or
    ``delay`` s after its in-progress marker appeared; the rerun(s) converge."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    main_sha = git(project, "rev-parse", "HEAD").strip()
    marker = project / ".git" / MARKER_FILE
    env = {**os.environ, "PATH": TOOL_PATH, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [str(VENV_BIN / "scaffold"), "update", str(project), "--to", "v1.1.0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    if delay is None:
        time.sleep(0.3)
    else:
        while not marker.exists() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    rerun_until_converged(project, tmpdir)

    assert_converged(project, main_sha)
    assert not marker.exists()
    leftovers = [p.name for p in tmpdir.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    assert leftovers == [], "temp dirs of the killed run were not cleaned"


def test_interrupted_run_prints_the_restore_command_not_commit(
    project: Path, tmp_path: Path
) -> None:
    """A marker plus a half-written tree: exit 2, one line, the exact command."""
    main_sha = git(project, "rev-parse", "HEAD").strip()
    git(project, "switch", "-q", "-c", BRANCH)
    (project / "f001.txt").write_text("half written", "utf-8")
    (project / "new-file.txt").write_text("from the killed run", "utf-8")
    (project / ".git" / MARKER_FILE).write_text(
        json.dumps(
            {
                "pid": 999999,
                "branch": BRANCH,
                "original": "main",
                "start": main_sha,
                "resume": False,
            }
        ),
        "utf-8",
    )
    result = CliRunner().invoke(app, ["update", str(project), "--to", "v1.1.0"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "commit or stash" not in result.output
    command = result.output.split("run: ", 1)[1].split(" -- then", 1)[0]
    subprocess.run(command, shell=True, check=True)
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "rev-parse", "HEAD").strip() == main_sha
    result = CliRunner().invoke(app, ["update", str(project), "--to", "v1.1.0"])
    assert result.exit_code == 0, result.output
    assert_converged(project, main_sha)


def test_concurrent_update_is_refused_with_the_holders_pid(project: Path) -> None:
    before = git(project, "rev-parse", "HEAD").strip()
    with guard(project, git=Git()):
        result = CliRunner().invoke(app, ["update", str(project), "--to", "v1.1.0"])
    assert result.exit_code == 2, result.output
    assert f"another scaffold update is running (pid {os.getpid()})" in result.output
    assert git(project, "rev-parse", "HEAD").strip() == before
    assert git(project, "branch", "--list").split() == ["*", "main"]


@pytest.mark.slow
def test_concurrent_processes_one_wins_the_other_changes_nothing(
    project: Path, tmp_path: Path
) -> None:
    main_sha = git(project, "rev-parse", "HEAD").strip()
    env = {**os.environ, "PATH": TOOL_PATH, "TMPDIR": str(tmp_path)}
    cmd = [str(VENV_BIN / "scaffold"), "update", str(project), "--to", "v1.1.0"]
    procs = [
        subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(), p.stdout.read() if p.stdout else "") for p in procs]
    codes = sorted(code for code, _ in results)
    outputs = "\n".join(out for _, out in results)
    # both may succeed one after the other (the second sees the branch); never
    # a half-applied commit reported as success
    assert codes in ([0, 2], [0, 0]), outputs
    if codes == [0, 2]:
        assert (
            "another scaffold update is running" in outputs
            or "already exists" in outputs
        ), outputs
    assert_converged(project, main_sha)
    assert len(git(project, "log", "--format=%s", f"main..{BRANCH}").split("\n")) == 2


def test_stale_lock_and_scratch_of_a_dead_process_are_taken_over(
    project: Path, tmp_path: Path
) -> None:
    (project / ".git" / "scaffold-update.lock").write_text("999999", "ascii")
    stale = tmp_path / f"{SCRATCH_PREFIX}999999-abc"
    (stale / "copier").mkdir(parents=True)
    mine = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-abc"
    mine.mkdir()
    assert clean_stale_scratch(tmp_path) == [stale]
    assert mine.exists() and not stale.exists()
    result = CliRunner().invoke(app, ["update", str(project), "--to", "v1.1.0"])
    assert result.exit_code == 0, result.output
