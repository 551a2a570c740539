"""Helpers of the day-one tests: a template *release* (the whole project, so the
generated CI can install scaffold from it) and a runner for generated workflow jobs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import PROJECT_ROOT, VENV_BIN, commit_all, git


def make_release_repo(dest: Path, tag: str) -> Path:
    """This project as its users' template source: every file git would commit
    (tests left out), committed and tagged ``tag``."""
    listed = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "ls-files", "-co", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        src = PROJECT_ROOT / rel
        if rel.startswith("tests/") or not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, f"release {tag}")
    git(dest, "tag", tag)
    return dest


def offline_pip_env(tmp: Path) -> dict[str, str]:
    """Environment that lets ``pip install git+<url>`` work without a network: no
    index, no build isolation, and the test venv's packages (hatchling, scaffold's
    dependencies) importable via PYTHONPATH. PYTHONPATH does not process ``.pth``
    files, so this checkout's editable scaffold stays invisible: only the copy pip
    installs from the release can be imported. ``python3`` is the interpreter the
    test venv was made from (those packages' binary wheels fit only it), first on
    PATH like the runner image's own python3."""
    bin_dir = tmp / "runner-python"
    bin_dir.mkdir(exist_ok=True)
    python3 = bin_dir / "python3"
    if not python3.exists():
        python3.symlink_to(getattr(sys, "_base_executable", sys.executable))
    return {
        "PATH": os.pathsep.join(
            [str(bin_dir), os.environ.get("PATH", ""), str(VENV_BIN)]
        ),
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted spelling of "no isolation"
    }


@dataclass
class JobRun:
    """What running a workflow job's steps left behind."""

    outputs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    path: list[str] = field(default_factory=list)  # GITHUB_PATH additions
    env: dict[str, str] = field(default_factory=dict)  # GITHUB_ENV additions


def load_job(workflow: Path, job: str) -> dict[str, Any]:
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    result: dict[str, Any] = doc["jobs"][job]
    return result


def run_job(
    workflow: Path,
    job: str,
    *,
    cwd: Path,
    runner_temp: Path,
    env: dict[str, str] | None = None,
    skip: tuple[str, ...] = (),
    timeout: float = 600,
) -> JobRun:
    """Run the ``run:`` steps of ``job`` like a GitHub runner does: ``bash -e -o
    pipefail``, job then step ``env``, ``$GITHUB_PATH``/``$GITHUB_ENV`` files honoured
    between steps. ``uses:`` steps must be actions/checkout (``cwd`` is the checkout).
    Steps whose name starts with one of ``skip`` are left out. Stops at the first
    failing step."""
    spec = load_job(workflow, job)
    github_path = runner_temp / "github_path"
    github_env = runner_temp / "github_env"
    for file in (github_path, github_env):
        file.write_text("", encoding="utf-8")
    base = {
        **os.environ,
        # tools the runner image has (kubectl, git) after the machine's own
        "PATH": os.pathsep.join([os.environ.get("PATH", ""), str(VENV_BIN)]),
        **(env or {}),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_PATH": str(github_path),
        "GITHUB_ENV": str(github_env),
        "GITHUB_STEP_SUMMARY": str(runner_temp / "summary"),
        **{k: str(v) for k, v in (spec.get("env") or {}).items()},
    }
    run = JobRun()
    for step in spec["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/checkout@"), step
            continue
        if str(step.get("name", "")).startswith(skip):
            continue
        run.path = github_path.read_text(encoding="utf-8").splitlines()
        run.env = dict(
            line.split("=", 1)
            for line in github_env.read_text(encoding="utf-8").splitlines()
        )
        step_env = {
            **base,
            **run.env,
            **{k: str(v) for k, v in (step.get("env") or {}).items()},
        }
        step_env["PATH"] = os.pathsep.join([*reversed(run.path), base["PATH"]])
        proc = subprocess.run(
            [
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
                step["run"],
            ],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run.outputs.append(proc)
        if proc.returncode != 0:
            break
    return run
