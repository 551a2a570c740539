"""Benchmarks of ``scaffold new`` (not tests): run with ``python bench/bench_new.py``.

1. ``scaffold new app --defaults`` vs a bare ``copier copy`` of the same template,
   ref and answers, in the same run, alternating, N repetitions each; medians and
   the ratio (goal <= 1.15x). Both run as fresh processes (interpreter start-up
   included) and without git (``--no-git``); ``scaffold new`` with git init + first
   commit is reported for information.
2. ``scaffold --help`` start-up vs ``python -c "import typer"`` (goal <= 1.5x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ANSWERS = {"name": "bench", "owner": "acme"}


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)


def template_repo(where: Path, tag: str) -> Path:
    """This checkout's copier.yml + templates/ in a clean git repo tagged ``tag``."""
    repo = where / "tpl"
    repo.mkdir()
    shutil.copy2(ROOT / "copier.yml", repo / "copier.yml")
    shutil.copytree(ROOT / "templates", repo / "templates")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "templates", cwd=repo)
    sh("git", "tag", tag, cwd=repo)
    return repo


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(name: str, ours: list[float], base: list[float], goal: float) -> None:
    a, b = statistics.median(ours), statistics.median(base)
    verdict = "ok" if a / b <= goal else "ABOVE GOAL"
    print(f"{name}: {a * 1000:.0f} ms vs {b * 1000:.0f} ms (medians of {len(ours)})")
    print(f"  ratio {a / b:.2f}x (goal <= {goal}x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=9, help="repetitions (default 9)")
    args = parser.parse_args()
    from scaffold import __version__

    tag = f"v{__version__}"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-") as tmp:
        work = Path(tmp)
        tpl = template_repo(work, tag)
        sets = [x for k, v in ANSWERS.items() for x in ("--set", f"{k}={v}")]
        datas = [x for k, v in ANSWERS.items() for x in ("--data", f"{k}={v}")]
        counter = iter(range(10**6))

        def scaffold_new(*extra: str) -> Callable[[], None]:
            def run() -> None:
                dest = work / f"s{next(counter)}"
                cmd = [PY, "-m", "scaffold", "new", "app", str(dest), "--defaults"]
                sh(*cmd, "--template", str(tpl), "--ref", tag, *sets, *extra, env=env)

            return run

        def copier_copy() -> None:
            dest = work / f"c{next(counter)}"
            cmd = [PY, "-m", "copier", "copy", "--quiet", "--defaults"]
            cmd += ["--vcs-ref", tag, "--data", "repo_kind=app", *datas]
            sh(*cmd, str(tpl), str(dest), env=env)

        new_no_git, new_git, copy = (
            scaffold_new("--no-git"),
            scaffold_new(),
            copier_copy,
        )
        for fn in (new_no_git, new_git, copy):  # warm caches
            fn()
        ours, ours_git, base = [], [], []
        for _ in range(args.n):
            ours.append(timed(new_no_git))
            base.append(timed(copy))
            ours_git.append(timed(new_git))
        report("scaffold new app --defaults --no-git vs copier copy", ours, base, 1.15)
        print(
            f"  (with git init + first commit: {statistics.median(ours_git) * 1000:.0f}"
            f" ms, {statistics.median(ours_git) / statistics.median(base):.2f}x)"
        )

        def help_() -> None:
            sh(PY, "-m", "scaffold", "--help", env=env)

        def import_typer() -> None:
            sh(PY, "-c", "import typer", env=env)

        help_()
        import_typer()
        start, typer_only = [], []
        for _ in range(args.n * 2):
            start.append(timed(help_))
            typer_only.append(timed(import_typer))
        report('scaffold --help vs python -c "import typer"', start, typer_only, 1.5)


if __name__ == "__main__":
    main()
