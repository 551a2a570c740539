"""``scaffold rollout`` / ``scaffold status`` from the command line, against the
git-backed fake GitHub org: JSON report, usage errors (exit 2, zero writes), the
token canary, a run killed mid-way then rerun, and the status dashboard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from scaffold.cli import app
from tests.github_fake import CANARY_TOKEN, FakeGitHub
from tests.rollout_support import (
    ORG,
    TEMPLATE_URL,
    TINY_V1,
    TINY_V2,
    TemplateRepo,
    generate,
)


@pytest.fixture
def tiny(fake_org: FakeGitHub, tmp_path: Path) -> TemplateRepo:
    template = TemplateRepo(fake_org, tmp_path / "template")
    template.release("v0.1.0", TINY_V1, "First release.")
    return template


def cli(fake: FakeGitHub, *args: str, token: str | None = CANARY_TOKEN) -> Result:
    env = {"GITHUB_TOKEN": token, "GH_TOKEN": None, "GITHUB_API_URL": fake.url}
    return CliRunner().invoke(app, list(args), env=env)


def rollout_args(workdir: Path, *extra: str) -> list[str]:
    return [
        "rollout",
        "--org",
        ORG,
        "--template",
        TEMPLATE_URL,
        "--workdir",
        str(workdir),
        "--jobs",
        "2",
        *extra,
    ]


def test_json_report_and_exit_codes(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    result = cli(fake_org, *rollout_args(tmp_path / "wd", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["to"] == "v0.2.0" and report["exit_code"] == 0
    [a] = [r for r in report["repos"] if r["repo"] == f"{ORG}/a"]
    assert {k: a[k] for k in ("from", "to", "outcome", "pr_url", "error")} == {
        "from": "v0.1.0",
        "to": "v0.2.0",
        "outcome": "updated",
        "pr_url": "https://github.com/acme/a/pull/1",
        "error": None,
    }
    assert "deploy/config.yaml" in a["files"]
    table = cli(fake_org, *rollout_args(tmp_path / "wd"))
    assert table.exit_code == 0
    assert "pr-open" in table.stdout and "acme/a" in table.stdout


@pytest.mark.parametrize(
    ("extra", "token", "message"),
    [
        (["--shard", "3/2"], CANARY_TOKEN, "--shard '3/2': need 1 <= I <= N"),
        (["--repo", "other/a"], CANARY_TOKEN, "--repo 'other/a': not in the organ"),
        (["--repo", "acme/nope"], CANARY_TOKEN, "--repo acme/nope: not found"),
        (["--to", "v9.9.9"], CANARY_TOKEN, "--to v9.9.9: no such tag"),
        (["--jobs", "0"], CANARY_TOKEN, "--jobs"),
        (["--on-conflict", "merge"], CANARY_TOKEN, "--on-conflict"),
        ([], None, "no GitHub token"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    fake_org: FakeGitHub,
    tiny: TemplateRepo,
    tmp_path: Path,
    extra: list[str],
    token: str | None,
    message: str,
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    before = fake_org.write_count()
    result = cli(fake_org, *rollout_args(tmp_path / "wd", *extra), token=token)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert fake_org.write_count() == before


@pytest.mark.slow
def test_the_token_never_reaches_output_disk_or_git_config(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    generate(fake_org, tiny, tmp_path / "b", "b")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    fake_org.reject_pushes(fake_org.repos[f"{ORG}/b"], "frozen")
    fake_org.fail("GET", r"/orgs/acme/repos", 502, times=1)
    outputs = []
    for extra, code in (([], 3), (["--json"], 3), (["--dry-run"], 0)):
        result = cli(fake_org, *rollout_args(tmp_path / "wd", *extra))
        outputs.append(result.output)
        assert result.exit_code == code, result.output
    status = cli(fake_org, "status", "--org", ORG, "--template", TEMPLATE_URL)
    outputs.append(status.output)
    import base64

    basic = base64.b64encode(f"x-access-token:{CANARY_TOKEN}".encode()).decode()
    for text in outputs:
        assert CANARY_TOKEN not in text and basic not in text
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    roots = [tmp_path, fake_org.git_root, gitconfig.parent]
    leaked = [
        p
        for root in roots
        if root is not None
        for p in Path(root).rglob("*")
        if p.is_file()
        and (
            CANARY_TOKEN.encode() in p.read_bytes() or basic.encode() in p.read_bytes()
        )
    ]
    assert leaked == []
    # the API saw the token; git got it as a header (not checkable over file://)
    assert {r.authorization for r in fake_org.requests} == {f"Bearer {CANARY_TOKEN}"}


@pytest.mark.slow
def test_a_run_killed_mid_way_converges_on_rerun(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    names = [f"r{i}" for i in range(6)]
    repos = [generate(fake_org, tiny, tmp_path / n, n) for n in names]
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    env = {
        **os.environ,
        "GITHUB_TOKEN": CANARY_TOKEN,
        "GITHUB_API_URL": fake_org.url,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scaffold",
            *rollout_args(tmp_path / "wd", "--json"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p[3].startswith("refs/heads/scaffold/") for p in fake_org.pushes()):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, like a lost runner
    proc.wait()
    done_before = sum(len(r.pulls) for r in repos)
    assert done_before < len(names), "the run finished before it could be killed"

    result = cli(fake_org, *rollout_args(tmp_path / "wd", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    got = {r["repo"]: r["outcome"] for r in report["repos"]}
    assert {got[f"{ORG}/{n}"] for n in names} <= {"updated", "pr-open"}
    for repo in repos:
        assert [p["head"] for p in repo.pulls.values()] == ["scaffold/update-v0.2.0"]
    before = fake_org.write_count()
    again = cli(fake_org, *rollout_args(tmp_path / "wd", "--json"))
    assert again.exit_code == 0
    assert fake_org.write_count() == before


def test_status_shows_versions_lag_and_update_pull_requests_from_the_api(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    generate(fake_org, tiny, tmp_path / "b", "b")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    tiny.release("v0.3.0", {"tpl/NEW.md": "new\n"}, "A new file.")
    generate(fake_org, tiny, tmp_path / "c", "c", ref="v0.3.0")
    assert (
        cli(fake_org, *rollout_args(tmp_path / "wd", "--repo", "acme/a")).exit_code == 0
    )
    requests = len(fake_org.requests)
    pushes = len(fake_org.pushes())
    result = cli(fake_org, "status", "--org", ORG, "--template", TEMPLATE_URL, "--json")
    assert result.exit_code == 0, result.output
    rows = {r["repo"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {f"{ORG}/a", f"{ORG}/b", f"{ORG}/c"}
    assert (rows["acme/a"]["version"], rows["acme/a"]["behind"]) == ("v0.1.0", 2)
    assert rows["acme/a"]["pr_url"] == "https://github.com/acme/a/pull/1"
    assert rows["acme/a"]["pr_branch"] == "scaffold/update-v0.3.0"
    assert (rows["acme/b"]["behind"], rows["acme/b"]["pr_url"]) == (2, None)
    assert (rows["acme/c"]["version"], rows["acme/c"]["behind"]) == ("v0.3.0", 0)
    assert {r["latest"] for r in rows.values()} == {"v0.3.0"}
    assert all(r.method == "GET" for r in fake_org.requests[requests:])
    assert len(fake_org.pushes()) == pushes
    table = cli(fake_org, "status", "--org", ORG, "--template", TEMPLATE_URL)
    assert "3 instance(s); 1 at the latest release v0.3.0" in table.stdout


@pytest.mark.slow
def test_a_terminal_gets_a_live_progress_bar_then_the_table(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    import pexpect

    generate(fake_org, tiny, tmp_path / "a", "a")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    env = {
        **os.environ,
        "GITHUB_TOKEN": CANARY_TOKEN,
        "GITHUB_API_URL": fake_org.url,
        "TERM": "xterm",
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", *rollout_args(tmp_path / "wd")],
        env=env,
        encoding="utf-8",
        timeout=300,
        dimensions=(40, 160),
    )
    child.expect(r"rollout .*\d+/\d+")  # the bar: done/total
    child.expect(r"acme/a .*updated .*https://github.com/acme/a/pull/1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
