"""The git-backed fake GitHub org and the git/GitHub adapters' remote operations.

Real git clones and pushes reach bare repositories on disk from their
``https://github.com/...`` clone URLs (``url.<root>/.insteadOf``); the API answers
come from those repositories. Every request is validated against GitHub's
description (the ``fake_org`` fixture fails the test on a violation).
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from scaffold.adapters.git import Git, auth_header, config_env
from scaffold.adapters.github import GitHubClient
from scaffold.errors import ForgeValidationError, GitError
from tests.github_fake import CANARY_TOKEN, FakeGitHub, FakeRepo
from tests.helpers import commit_all, git


def client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(
        token=SecretStr(CANARY_TOKEN),
        api_url=fake.url,
        sleep=lambda _s: None,
        write_interval=0.0,
    )


def seeded(
    fake: FakeGitHub, tmp_path: Path, name: str, files: dict[str, str]
) -> FakeRepo:
    """A git-backed repo whose default branch holds ``files``."""
    repo = fake.add_repo("acme", name, git=True)
    work = tmp_path / f"seed-{name}"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text, encoding="utf-8")
    commit_all(work, "init")
    git(work, "push", "-q", repo.clone_url, "main")
    return repo


def test_clone_url_reaches_the_bare_repo_and_contents_reads_it(
    fake_org: FakeGitHub, tmp_path: Path
) -> None:
    repo = seeded(
        fake_org,
        tmp_path,
        "web",
        {".copier-answers.yml": "_commit: v0.1.0\n", "apps/a/x.txt": "é\n"},
    )
    gh = client(fake_org)
    assert gh.get_file("acme", "web", ".copier-answers.yml") == "_commit: v0.1.0\n"
    assert gh.get_file("acme", "web", "apps/a/x.txt", ref="main") == "é\n"
    assert gh.get_file("acme", "web", "missing.yml") is None
    listing = gh.get_contents("acme", "web", "apps")
    assert isinstance(listing, list)
    assert [(e["name"], e["type"]) for e in listing] == [("a", "dir")]
    branch = gh.get_branch("acme", "web", "main")
    assert branch["commit"]["sha"] == repo.ref("main")
    clone = tmp_path / "clone"
    Git().clone_remote(repo.clone_url, clone, branch="main", depth=1)
    assert (clone / "apps/a/x.txt").read_text(encoding="utf-8") == "é\n"


def test_org_listing_is_paginated_with_archived_and_fork_flags(
    fake_org: FakeGitHub,
) -> None:
    fake_org.max_per_page = 2
    for index in range(5):
        fake_org.add_repo("acme", f"r{index}", archived=index == 1, fork=index == 2)
    repos = client(fake_org).list_org_repos("acme")
    assert [r["name"] for r in repos] == ["r0", "r1", "r2", "r3", "r4"]
    assert [r["name"] for r in repos if r["archived"]] == ["r1"]
    assert [r["name"] for r in repos if r["fork"]] == ["r2"]
    assert repos[0]["clone_url"] == "https://github.com/acme/r0.git"
    pages = [r for r in fake_org.requests if r.path.endswith("/orgs/acme/repos")]
    assert len(pages) == 3


def test_pull_requests_need_a_pushed_head_and_are_never_duplicated(
    fake_org: FakeGitHub, tmp_path: Path
) -> None:
    repo = seeded(fake_org, tmp_path, "api", {"README.md": "hi\n"})
    gh = client(fake_org)
    with pytest.raises(ForgeValidationError, match="422"):
        gh.create_pull(
            "acme", "api", title="t", head="scaffold/update-v2", base="main", body="b"
        )
    work = tmp_path / "work"
    g = Git()
    g.clone_remote(repo.clone_url, work, branch="main")
    (work / "README.md").write_text("hello\n", encoding="utf-8")
    sha = commit_all(work, "change")
    g.push(work, "origin", local="HEAD", branch="scaffold/update-v2", expect=None)
    assert fake_org.pushes(repo)[-1][2:] == (sha, "refs/heads/scaffold/update-v2")
    pr = gh.create_pull(
        "acme", "api", title="t", head="scaffold/update-v2", base="main", body="b"
    )
    assert pr["head"]["sha"] == sha
    with pytest.raises(ForgeValidationError, match="A pull request already exists"):
        gh.create_pull(
            "acme", "api", title="t", head="scaffold/update-v2", base="main", body="b"
        )
    found = gh.list_pulls("acme", "api", head="scaffold/update-v2")
    assert [p["number"] for p in found] == [pr["number"]]
    assert gh.list_pulls("acme", "api", head="other") == []
    gh.comment("acme", "api", pr["number"], "superseded")
    closed = gh.update_pull("acme", "api", pr["number"], {"state": "closed"})
    assert closed["state"] == "closed"
    assert gh.list_pulls("acme", "api") == []
    assert repo.comments[pr["number"]] == ["superseded"]
    assert [(w.method, w.path.split("/acme/api")[1]) for w in fake_org.writes] == [
        ("POST", "/pulls"),
        ("POST", "/pulls"),
        ("POST", "/pulls"),
        ("POST", "/issues/1/comments"),
        ("PATCH", "/pulls/1"),
    ]


def test_push_uses_a_lease_and_protected_or_rejecting_remotes_refuse(
    fake_org: FakeGitHub, tmp_path: Path
) -> None:
    repo = seeded(fake_org, tmp_path, "svc", {"a.txt": "1\n"})
    g = Git()
    work = tmp_path / "work"
    g.clone_remote(repo.clone_url, work, branch="main")
    (work / "a.txt").write_text("2\n", encoding="utf-8")
    first = commit_all(work, "two")
    g.push(work, "origin", local="HEAD", branch="topic", expect=None)
    with pytest.raises(GitError):  # the lease: topic must not exist yet
        g.push(work, "origin", local="HEAD~1", branch="topic", expect=None)
    g.push(work, "origin", local="HEAD~1", branch="topic", expect=first)
    assert repo.ref("topic") == git(work, "rev-parse", "HEAD~1").strip()
    fake_org.protect_branch(repo, "main")
    with pytest.raises(GitError) as refused:
        g.push(work, "origin", local="HEAD", branch="main", expect=repo.ref("main"))
    assert "Protected branch update failed" in refused.value.stderr
    fake_org.reject_pushes(repo, "push declined by policy")
    with pytest.raises(GitError) as declined:
        g.push(work, "origin", local="HEAD", branch="other", expect=None)
    assert "push declined by policy" in declined.value.stderr
    assert repo.ref("other") is None
    count = fake_org.write_count()
    assert g.ls_remote(repo.clone_url, "refs/heads/topic") == {
        "refs/heads/topic": repo.ref("topic")
    }
    assert fake_org.write_count() == count


def test_token_reaches_git_through_the_environment_only(
    fake_org: FakeGitHub, tmp_path: Path
) -> None:
    repo = seeded(fake_org, tmp_path, "tok", {"a.txt": "1\n"})
    key, value = auth_header(repo.clone_url, CANARY_TOKEN)
    assert key == "http.https://github.com/.extraHeader"
    decoded = base64.b64decode(value.split()[-1]).decode()
    assert decoded == f"x-access-token:{CANARY_TOKEN}"
    g = Git().with_token(repo.clone_url, CANARY_TOKEN)
    work = tmp_path / "work"
    g.clone_remote(repo.clone_url, work, branch="main")
    # the header is there for every git process git starts ...
    seen = g.run(work, "config", "--get", "http.https://github.com/.extraheader")
    assert seen.strip() == value
    # ... but nowhere on disk, nor in the remote URL
    on_disk = [
        p
        for root in (work, repo.bare, tmp_path)
        for p in Path(root).rglob("*")
        if p.is_file() and CANARY_TOKEN.encode() in p.read_bytes()
    ]
    assert on_disk == []
    assert git(work, "config", "remote.origin.url").strip() == repo.clone_url
    assert value.split()[-1] not in (work / ".git/config").read_text(encoding="utf-8")


def test_config_env_appends_to_entries_already_in_the_environment() -> None:
    base = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "a.b",
        "GIT_CONFIG_VALUE_0": "1",
    }
    env = config_env(base, [("c.d", "2")])
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("c.d", "2")
    out = subprocess.run(
        ["git", "config", "--get", "c.d"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "2"
