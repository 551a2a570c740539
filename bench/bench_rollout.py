"""Benchmark (not a test): ``scaffold rollout --jobs 4`` vs the loop a user would
write, same run, same org.

For each N: N app repos that all need the update (template v0.1.0 → v0.2.0), each a
real bare repository reached from its ``https://github.com/acme/<name>.git`` clone
URL through ``url.<root>/.insteadOf`` (an isolated global git config), plus the fake
GitHub API of tests/github_fake.py on loopback (request bodies not schema-checked
here, to keep the fake's own cost out of the measurement).

* **loop**: for each repo, one after the other: ``git clone``, ``copier update
  --defaults --vcs-ref v0.2.0`` (copier's CLI, a fresh process, as a shell loop
  would run it), ``git switch -c``, ``git commit -a``, ``git push``. No PRs.
* **rollout**: ``scaffold rollout --org acme --jobs 4 --json`` as a subprocess: API
  discovery, the same update as ``scaffold update`` (renamed-file guard included),
  push, one pull request per repo (paced 1 s apart, as GitHub asks).

Peak memory is the sum of the RSS of the rollout process and its workers, sampled
every 0.1 s from /proc. Writes bench/results/bench_rollout.json (git-ignored).

    .venv/bin/python bench/bench_rollout.py -n 100 -n 200 [--template tiny|real]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def _isolate(home: Path) -> dict[str, str]:
    """A private global git config (identity, insteadOf added later); no system one."""
    home.mkdir(parents=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Bench\n\temail = bench@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n',
        encoding="utf-8",
    )
    env = {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "XDG_CACHE_HOME": str(home / "cache"),
        "COPIER_CACHE_DIR": str(home / "copier-cache"),
    }
    os.environ.update(env)  # before anything imports copier (plumbum copies it)
    return env


class TreeMemory(threading.Thread):
    """Peak of the summed RSS of a process and its descendants (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0  # summed RSS (shared pages counted in every process)
        self.peak_pss = 0  # summed PSS (shared pages split between processes)
        self.done = threading.Event()

    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:  # the process just ended
            return found
        for task in tasks:
            try:
                text = (task / "children").read_text()
            except OSError:
                continue
            found += [int(c) for c in text.split()]
        return found

    @staticmethod
    def _field(path: str, name: str) -> int:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.done.is_set():
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo += self._children(pid)
            rss = sum(self._field(f"/proc/{p}/status", "VmRSS:") for p in pids)
            pss = sum(self._field(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.1)


def build_org(n: int, work: Path, kind: str) -> tuple[Any, Any, list[str]]:
    """The fake API + template + N generated app repos at v0.1.0; v0.2.0 released."""
    from pytest_httpserver import HTTPServer

    from tests.github_fake import CANARY_TOKEN, FakeGitHub
    from tests.helpers import copy_template_tree
    from tests.rollout_support import TINY_V1, TINY_V2, TemplateRepo, generate

    server = HTTPServer()
    server.start()
    fake = FakeGitHub(server, token=CANARY_TOKEN, spec=None).install()
    fake.serve_git(work / "github")
    template = TemplateRepo(fake, work / "template")
    if kind == "tiny":
        template.release("v0.1.0", TINY_V1, "First release.")
        data: dict[str, str] = {}
    else:
        real = work / "real-template"
        copy_template_tree(real)
        template.copy_tree(real)
        template.release("v0.1.0", {}, "First release.")
        data = {"repo_kind": "app", "owner": "acme"}
    names = [f"app-{i:03d}" for i in range(n)]
    for name in names:
        generate(fake, template, work / "seed" / name, name, data=data)
    if kind == "tiny":
        template.release("v0.2.0", TINY_V2, "Two replicas; a scan in CI.")
    else:
        readme = template.work / "templates/app/README.md.jinja"
        text = readme.read_text(encoding="utf-8") if readme.exists() else ""
        template.release(
            "v0.2.0",
            {
                "templates/app/README.md.jinja": text + "\nUpdated by v0.2.0.\n",
                "templates/app/SECURITY.md": "Report issues privately.\n",
            },
            "Security policy.",
        )
    shutil.rmtree(work / "seed")
    return server, fake, names


def naive_loop(names: list[str], work: Path, env: dict[str, str]) -> float:
    from tests.rollout_support import ORG

    clones = work / "loop"
    clones.mkdir()
    start = time.perf_counter()
    for name in names:
        dest = clones / name
        url = f"https://github.com/{ORG}/{name}.git"

        def run(*cmd: str, cwd: Path = dest) -> None:
            subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)

        run("git", "clone", "-q", url, str(dest), cwd=clones)
        run(str(BIN / "copier"), "update", "--defaults", "--vcs-ref", "v0.2.0")
        run("git", "switch", "-q", "-c", "loop/update-v0.2.0")
        run("git", "add", "-A")
        run("git", "commit", "-q", "-m", "chore(template): v0.1.0 → v0.2.0")
        run("git", "push", "-q", "origin", "loop/update-v0.2.0")
    return time.perf_counter() - start


def rollout(
    work: Path, env: dict[str, str], api: str, jobs: int
) -> tuple[float, TreeMemory, dict[str, Any]]:
    from tests.github_fake import CANARY_TOKEN
    from tests.rollout_support import ORG, TEMPLATE_URL

    cmd = [
        str(BIN / "scaffold"),
        "rollout",
        "--org",
        ORG,
        "--template",
        TEMPLATE_URL,
        "--jobs",
        str(jobs),
        "--workdir",
        str(work / "rollout"),
        "--json",
    ]
    full_env = {**env, "GITHUB_TOKEN": CANARY_TOKEN, "GITHUB_API_URL": api}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = TreeMemory(proc.pid)
    memory.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    memory.done.set()
    memory.join()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"scaffold rollout failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, memory, json.loads(out)


def measure(n: int, jobs: int, kind: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-rollout-") as tmp:
        work = Path(tmp)
        env = {**os.environ, **_isolate(work / "home")}
        t0 = time.perf_counter()
        server, fake, names = build_org(n, work, kind)
        setup = time.perf_counter() - t0
        try:
            loop_s = naive_loop(names, work, env)
            rollout_s, memory, report = rollout(work, env, fake.url, jobs)
        finally:
            server.stop()
        outcomes = [
            r["outcome"] for r in report["repos"] if r["repo"] != "acme/scaffold"
        ]
        failures = len([o for o in outcomes if o != "updated"])
        prs = sum(len(r.pulls) for r in fake.repos.values())
    result = {
        "n": n,
        "jobs": jobs,
        "template": kind,
        "setup_s": round(setup, 1),
        "loop_s": round(loop_s, 1),
        "rollout_s": round(rollout_s, 1),
        "speedup": round(loop_s / rollout_s, 2),
        "peak_rss_mb": round(memory.peak / 2**20),
        "peak_pss_mb": round(memory.peak_pss / 2**20),
        "failures": failures,
        "pull_requests": prs,
        "load_avg": os.getloadavg()[0],
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="repos (repeatable)")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--template", choices=["tiny", "real"], default="real")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    results = [measure(n, args.jobs, args.template) for n in args.n or [100, 200]]
    if len(results) >= 2:
        a, b = results[0], results[1]
        print(
            f"time({b['n']})/time({a['n']}) = "
            f"{b['rollout_s'] / a['rollout_s']:.2f} (goal <= 2.1 for 200/100)"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_rollout.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
