"""``adapters.process.run``: the one way an external program runs (git, sops,
actionlint, kustomize). Real programs (``sh``, ``git``), nothing mocked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scaffold.adapters.actionlint import Actionlint
from scaffold.adapters.git import Git
from scaffold.adapters.kustomize import Kustomize
from scaffold.adapters.process import run
from scaffold.errors import CommandError, GitError, ToolMissingError


def test_failure_names_the_command_and_its_last_stderr_line() -> None:
    with pytest.raises(CommandError) as info:
        run(["sh", "-c", "echo one >&2; echo two >&2; exit 3"], timeout=30)
    assert (
        str(info.value) == "sh -c 'echo one >&2; echo two >&2; exit 3' failed (3): two"
    )
    assert info.value.returncode == 3


def test_timeout_is_an_error_not_silence() -> None:
    with pytest.raises(CommandError, match=r"^sh -c 'sleep 5' timed out"):
        run(["sh", "-c", "sleep 5"], timeout=0.2)


def test_accepted_exit_codes_and_stdin() -> None:
    proc = run(["sh", "-c", "cat; exit 1"], timeout=30, input="hello", ok=(0, 1))
    assert (proc.returncode, proc.stdout) == (1, "hello")


def test_any_exit_code_when_the_caller_reads_it() -> None:
    proc = run(["sh", "-c", "exit 7"], timeout=30, ok=None)
    assert proc.returncode == 7


def test_output_that_is_not_utf8_is_replaced_not_raised() -> None:
    proc = run(["sh", "-c", r"printf 'caf\351\n'; printf '\377' >&2"], timeout=30)
    assert (proc.stdout, proc.stderr) == ("caf\ufffd\n", "\ufffd")


def test_missing_program_is_a_usage_error() -> None:
    with pytest.raises(ToolMissingError, match="no-such-program-here: not found"):
        run(["no-such-program-here"], timeout=30)


def test_a_program_that_cannot_run_is_a_usage_error(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\n", "utf-8")  # not executable
    with pytest.raises(ToolMissingError, match=r"tool: cannot run \(Permission"):
        run([str(script)], timeout=30)


def test_kustomize_returns_a_failed_build_and_reports_a_hang(tmp_path: Path) -> None:
    tool = tmp_path / "kustomize"
    tool.write_text(
        '#!/bin/sh\ncase "$2" in */slow) sleep 5 ;; esac\necho bad >&2\nexit 1\n'
    )
    tool.chmod(0o755)
    failed = Kustomize([str(tool), "build"], timeout=0.3).run(tmp_path / "fast")
    assert (failed.returncode, failed.stderr) == (1, "bad\n")
    hung = Kustomize([str(tool), "build"], timeout=0.3).run(tmp_path / "slow")
    assert hung.returncode == 124 and "timed out after 0.3 s" in hung.stderr
    with pytest.raises(ToolMissingError, match="kubectl"):
        Kustomize([str(tmp_path / "none"), "build"]).run(tmp_path)


def test_credentials_in_a_command_line_are_masked() -> None:
    with pytest.raises(CommandError) as info:
        run(["sh", "-c", "exit 2", "https://user:s3cret@example.com/x"], timeout=30)
    assert "s3cret" not in str(info.value)


def test_git_errors_carry_the_command(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"^git -C .* rev-parse HEAD failed \(128\)"):
        Git().head(tmp_path)


def test_a_crashing_actionlint_is_not_no_findings(tmp_path: Path) -> None:
    crash = tmp_path / "actionlint"
    crash.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n", "utf-8")
    crash.chmod(0o755)
    with pytest.raises(CommandError, match="failed \\(3\\)"):
        Actionlint(str(crash)).lint(tmp_path, ["x.yml"])
    garbage = tmp_path / "garbage"
    garbage.write_text(f"#!{sys.executable}\nprint('not json')\n", "utf-8")
    garbage.chmod(0o755)
    with pytest.raises(CommandError, match="not a JSON list"):
        Actionlint(str(garbage)).lint(tmp_path, ["x.yml"])
