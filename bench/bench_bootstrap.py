"""Benchmark: ``scaffold bootstrap`` (a fleet + N apps) vs the same by hand.

Both sides run in the same process tree against the git-backed fake GitHub of the
test suite (``tests/github_fake.py``: real bare repositories behind
``https://github.com/...`` clone URLs, every request checked against GitHub's REST
description), each with its own org so they never share state:

* bootstrap: ``scaffold bootstrap org.yaml --jobs J`` (one process), then the same
  command again with the manifest unchanged (the rerun);
* by hand, sequentially, with the existing commands: the repo is created (directly
  in the fake: no command does it), then ``scaffold new infra`` for the fleet; per
  app ``scaffold new app --infra FLEET``, ``git push``, ``scaffold protect``; then
  ``git push`` and ``scaffold protect`` for the fleet. The manual side does less
  (no Actions variables or secrets), so the ratio is a lower bound.

Write pacing (``SCAFFOLD_WRITE_INTERVAL``) is 0 on both sides: on loopback a pause
between writes would only measure ``sleep``; against github.com each write costs
at least 1 s on both sides.

    .venv/bin/python bench/bench_bootstrap.py [--apps 20] [--jobs 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from pytest_httpserver import HTTPServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.github_fake import CANARY_TOKEN, FakeGitHub, load_spec  # noqa: E402
from tests.helpers import TEMPLATE_TAG, VENV_BIN, make_template_repo  # noqa: E402

SCAFFOLD = str(VENV_BIN / "scaffold")
FLEET = "fleet-infra"


def environment(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Bench\n\temail = bench@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n',
        encoding="utf-8",
    )
    return {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "COPIER_CACHE_DIR": str(home / "copier-cache"),
        "GITHUB_TOKEN": CANARY_TOKEN,
        "SCAFFOLD_WRITE_INTERVAL": "0",
        "PROMOTION_APP_PRIVATE_KEY": "bench-private-key",
        "PATH": os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]),
    }


def fake_org(tmp: Path) -> FakeGitHub:
    server = HTTPServer()
    server.start()
    fake = FakeGitHub(server, token=CANARY_TOKEN, spec=load_spec()).install()
    fake.serve_git(tmp / "github")  # one root: orgs are subdirectories
    return fake


def sh(*args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {proc.stderr[-2000:]}")


def manifest(template: Path, org: str, apps: list[str]) -> dict[str, object]:
    return {
        "org": org,
        "template": str(template),
        "ref": TEMPLATE_TAG,
        "fleet": {
            "name": FLEET,
            "answers": {"gitops_engine": "flux", "secrets": "none"},
        },
        "apps": [{"name": a} for a in apps],
        "actions": {
            "variables": {"PROMOTION_APP_CLIENT_ID": "Iv23libench"},
            "secrets": {
                "PROMOTION_APP_PRIVATE_KEY": {"env": "PROMOTION_APP_PRIVATE_KEY"}
            },
        },
    }


def by_hand(fake: FakeGitHub, template: Path, work: Path, apps: list[str]) -> None:
    org = "manual"
    common = ["--template", str(template), "--ref", TEMPLATE_TAG, "--defaults"]
    fleet = work / FLEET
    fake.add_repo(org, FLEET, git=True)
    sh(SCAFFOLD, "new", "infra", str(fleet), "--set", f"name={FLEET}",
       "--set", f"owner={org}", "--set", "gitops_engine=flux",
       "--set", "secrets=none", *common)  # fmt: skip
    for app in apps:
        repo = fake.add_repo(org, app, git=True)
        dest = work / app
        sh(SCAFFOLD, "new", "app", str(dest), "--infra", str(fleet),
           "--set", f"name={app}", "--set", f"owner={org}", *common)  # fmt: skip
        sh("git", "-C", str(dest), "push", "-q", repo.clone_url, "main")
        sh(SCAFFOLD, "protect", str(dest), "--api-url", fake.url)
    sh("git", "-C", str(fleet), "push", "-q", fake.repos[f"{org}/{FLEET}"].clone_url,
       "main")  # fmt: skip
    sh(SCAFFOLD, "protect", str(fleet), "--api-url", fake.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    apps = [f"app-{i:02d}" for i in range(args.apps)]
    with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as raw:
        tmp = Path(raw)
        os.environ.update(environment(tmp))
        template = make_template_repo(tmp / "tpl" / "scaffold", TEMPLATE_TAG)

        auto = fake_org(tmp)
        path = tmp / "org.yaml"
        path.write_text(yaml.safe_dump(manifest(template, "acme", apps)), "utf-8")
        command = [SCAFFOLD, "bootstrap", str(path), "--api-url", auto.url]
        command += ["--jobs", str(args.jobs)]
        start = time.perf_counter()
        sh(*command, cwd=tmp)
        first = time.perf_counter() - start
        print(f"bootstrap: {first:.1f} s", file=sys.stderr)
        first_writes = auto.write_count()
        start = time.perf_counter()
        sh(*command, cwd=tmp)
        rerun = time.perf_counter() - start
        rerun_writes = auto.write_count() - first_writes

        manual = fake_org(tmp)
        work = tmp / "by-hand"
        work.mkdir()
        start = time.perf_counter()
        by_hand(manual, template, work, apps)
        hand = time.perf_counter() - start

    print(f"fleet + {args.apps} apps, bootstrap --jobs {args.jobs}")
    print("| run | time | writes | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| by hand (new + push + protect per repo) | {hand:.1f} s | - | 1.00x |")
    print(
        f"| scaffold bootstrap | {first:.1f} s | {first_writes} | "
        f"{hand / first:.2f}x faster |"
    )
    print(
        f"| rerun, manifest unchanged | {rerun:.1f} s | {rerun_writes} | "
        f"{100 * rerun / first:.1f} % of the first run |"
    )


if __name__ == "__main__":
    main()
