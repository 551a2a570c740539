"""``scaffold rollout`` against the git-backed fake GitHub org (real git, real copier).

Repos are real bare repositories reached from their https://github.com clone URLs;
every API request is validated against GitHub's description (``fake_org``).
Most scenarios use the tiny inline template of tests/rollout_support.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from scaffold.adapters.git import Git
from scaffold.adapters.github import GitHubClient
from scaffold.services.discovery import Shard
from scaffold.services.rollout import (
    Outcome,
    RolloutOptions,
    RolloutReport,
    rollout,
)
from tests.github_fake import CANARY_TOKEN, FakeGitHub
from tests.helpers import commit_all, git
from tests.rollout_support import (
    ORG,
    TEMPLATE_URL,
    TINY_V1,
    TINY_V2,
    TemplateRepo,
    file_at,
    generate,
)


def client(fake: FakeGitHub, **kw: Any) -> GitHubClient:
    kw.setdefault("write_interval", 0.0)
    kw.setdefault("sleep", lambda _s: None)
    return GitHubClient(token=SecretStr(CANARY_TOKEN), api_url=fake.url, **kw)


def run(
    fake: FakeGitHub, workdir: Path, *, gh: GitHubClient | None = None, **kw: Any
) -> RolloutReport:
    kw.setdefault("jobs", 2)
    options = RolloutOptions(org=ORG, template=TEMPLATE_URL, workdir=workdir, **kw)
    with gh or client(fake) as forge:
        return rollout(options, forge=forge, git=Git(), token=CANARY_TOKEN)


def outcomes(report: RolloutReport) -> dict[str, str]:
    return {r.repo.split("/")[1]: r.outcome.value for r in report.repos}


@pytest.fixture
def tiny(fake_org: FakeGitHub, tmp_path: Path) -> TemplateRepo:
    template = TemplateRepo(fake_org, tmp_path / "template")
    template.release("v0.1.0", TINY_V1, "First release.")
    return template


def test_one_repo_gets_one_pull_request_and_a_rerun_writes_nothing(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    repo = generate(fake_org, tiny, tmp_path / "web", "web")
    tiny.release("v0.2.0", TINY_V2, "Two replicas; a vulnerability scan in CI.")
    report = run(fake_org, tmp_path / "wd")
    assert outcomes(report) == {"scaffold": "skipped", "web": "updated"}
    assert report.exit_code == 0
    web = report.repos[1]
    assert (web.from_version, web.to_version) == ("v0.1.0", "v0.2.0")
    assert web.files == [
        ".copier-answers.yml",
        "SECURITY.md",
        "ci.yaml",
        "deploy/config.yaml",
    ]
    [pr] = repo.pulls.values()
    assert pr["title"] == "chore(template): v0.1.0 → v0.2.0"
    assert pr["head"] == "scaffold/update-v0.2.0" and pr["base"] == "main"
    assert "Two replicas; a vulnerability scan in CI." in pr["body"]
    assert "- `deploy/config.yaml`" in pr["body"]
    assert web.pr_url == "https://github.com/acme/web/pull/1"
    branch = "scaffold/update-v0.2.0"
    assert "replicas: 2" in file_at(repo, branch, "deploy/config.yaml")
    answers = file_at(repo, branch, ".copier-answers.yml")
    assert f"_src_path: {TEMPLATE_URL}" in answers
    assert "_commit: v0.2.0" in answers
    assert "replicas: 1" in file_at(repo, "main", "deploy/config.yaml")
    before = fake_org.write_count()
    again = run(fake_org, tmp_path / "wd")
    assert outcomes(again) == {"scaffold": "skipped", "web": "pr-open"}
    assert fake_org.write_count() == before
    assert len(repo.pulls) == 1


@pytest.mark.slow
def test_org_of_thirty_repos_then_a_rerun_writes_nothing(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    """Apps behind (some with local edits), one conflicting, one up to date, one
    from another template, one archived, one fork, one never generated."""
    fake_org.max_per_page = 7  # the org listing spans pages
    behind = [f"app{i:02d}" for i in range(24)]
    for index, name in enumerate(behind):
        edits = {"README.md": f"# {name}\n\nOurs.\n"} if index % 3 == 0 else None
        generate(fake_org, tiny, tmp_path / name, name, edits=edits)
    edited = "name: clash\nreplicas: 5\nport: 8080\n"
    generate(
        fake_org,
        tiny,
        tmp_path / "clash",
        "clash",
        edits={"deploy/config.yaml": edited},
    )
    other = "https://github.com/someone-else/template.git"
    generate(fake_org, tiny, tmp_path / "foreign", "foreign", src=other)
    generate(fake_org, tiny, tmp_path / "old", "old", archived=True)
    generate(fake_org, tiny, tmp_path / "forked", "forked", fork=True)
    fake_org.add_repo(ORG, "handmade", git=True)
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    generate(fake_org, tiny, tmp_path / "fresh", "fresh", ref="v0.2.0")

    report = run(fake_org, tmp_path / "wd")

    got = outcomes(report)
    assert {n: got[n] for n in behind} == dict.fromkeys(behind, "updated")
    assert {n: got[n] for n in ("clash", "fresh")} == {
        "clash": "conflict",
        "fresh": "up-to-date",
    }
    skipped = {r.repo: r.error for r in report.repos if r.outcome is Outcome.SKIPPED}
    assert set(skipped) == {
        f"{ORG}/{n}" for n in ("foreign", "old", "forked", "handmade", "scaffold")
    }
    assert "another template" in str(skipped[f"{ORG}/foreign"])
    assert report.exit_code == 3
    clash = next(r for r in report.repos if r.repo == f"{ORG}/clash")
    assert [c.split(":")[0] for c in clash.conflicts] == ["deploy/config.yaml"]
    repos = fake_org.repos
    assert repos[f"{ORG}/clash"].pulls == {}
    assert repos[f"{ORG}/clash"].ref("scaffold/update-v0.2.0") is None
    for name in ("fresh", "foreign", "old", "forked", "handmade"):
        assert repos[f"{ORG}/{name}"].pulls == {}
    for name in behind:
        assert len(repos[f"{ORG}/{name}"].pulls) == 1
    # local edits survive the update (copier's three-way merge)
    assert file_at(repos[f"{ORG}/app00"], "scaffold/update-v0.2.0", "README.md") == (
        "# app00\n\nOurs.\n"
    )
    # nothing ever reached a default branch: its one push is the test's seed
    to_main = [p[0] for p in fake_org.pushes() if p[3] == "refs/heads/main"]
    assert all(to_main.count(f"{ORG}/{n}") == 1 for n in [*behind, "clash"])

    before = fake_org.write_count()
    again = run(fake_org, tmp_path / "wd")
    assert fake_org.write_count() == before
    got = outcomes(again)
    assert {n: got[n] for n in behind} == dict.fromkeys(behind, "pr-open")
    assert got["clash"] == "conflict"
    assert all(len(repos[f"{ORG}/{n}"].pulls) == 1 for n in behind)


@pytest.mark.slow
def test_dry_run_reports_diff_statistics_and_writes_nothing(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    generate(
        fake_org,
        tiny,
        tmp_path / "b",
        "b",
        edits={"deploy/config.yaml": "name: b\nreplicas: 5\nport: 8080\n"},
    )
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    before = fake_org.write_count()
    report = run(fake_org, tmp_path / "wd", dry_run=True)
    assert fake_org.write_count() == before
    assert [r.method for r in fake_org.requests if r.method != "GET"] == []
    assert outcomes(report) == {
        "a": "would-update",
        "b": "conflict",
        "scaffold": "skipped",
    }
    a = report.repos[0]
    assert a.files == [
        ".copier-answers.yml",
        "SECURITY.md",
        "ci.yaml",
        "deploy/config.yaml",
    ]
    assert (a.insertions, a.deletions) == (4, 2)  # +SECURITY +scan, 2 changed
    assert report.dry_run and report.exit_code == 3


@pytest.mark.slow
def test_conflicts_as_a_draft_pull_request_with_the_markers(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    repo = generate(
        fake_org,
        tiny,
        tmp_path / "b",
        "b",
        edits={"deploy/config.yaml": "name: b\nreplicas: 5\nport: 8080\n"},
    )
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    report = run(fake_org, tmp_path / "wd", on_conflict="draft", repos=[f"{ORG}/b"])
    assert outcomes(report) == {"b": "conflict"}
    assert report.exit_code == 3
    [pr] = repo.pulls.values()
    assert pr["draft"] is True
    assert "### Conflicts (1)" in pr["body"]
    assert "- deploy/config.yaml: conflict" in pr["body"]
    pushed = file_at(repo, "scaffold/update-v0.2.0", "deploy/config.yaml")
    assert "<<<<<<< before updating" in pushed
    subject = repo.git("log", "-1", "--format=%s", "scaffold/update-v0.2.0").strip()
    assert subject == "chore(template): v0.1.0 → v0.2.0 (conflicts)"
    assert report.repos[0].pr_url == "https://github.com/acme/b/pull/1"


@pytest.mark.slow
def test_an_older_update_pull_request_is_superseded(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    repo = generate(fake_org, tiny, tmp_path / "a", "a")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    run(fake_org, tmp_path / "wd")
    tiny.release("v0.3.0", {"tpl/NEW.md": "new\n"}, "A new file.")
    report = run(fake_org, tmp_path / "wd")
    assert outcomes(report)["a"] == "updated"
    old, new = repo.pulls[1], repo.pulls[2]
    assert (old["state"], new["state"]) == ("closed", "open")
    assert new["head"] == "scaffold/update-v0.3.0"
    assert repo.comments[1] == [
        "Superseded by https://github.com/acme/a/pull/2 (template v0.3.0); "
        "closed by scaffold rollout."
    ]
    # both releases' notes, newest first
    body = new["body"]
    assert (
        body.index("#### v0.3.0")
        < body.index("A new file.")
        < body.index("#### v0.2.0")
    )


@pytest.mark.slow
def test_a_refused_push_fails_that_repo_only_and_a_rerun_converges(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    a = generate(fake_org, tiny, tmp_path / "a", "a")
    b = generate(fake_org, tiny, tmp_path / "b", "b")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    fake_org.reject_pushes(b, "pushes are frozen")
    report = run(fake_org, tmp_path / "wd")
    assert outcomes(report) == {"a": "updated", "b": "failed", "scaffold": "skipped"}
    assert "pushes are frozen" in str(report.repos[1].error)
    assert report.exit_code == 3
    assert b.pulls == {} and len(a.pulls) == 1
    fake_org.reject_pushes(b, None)
    again = run(fake_org, tmp_path / "wd")
    assert outcomes(again) == {"a": "pr-open", "b": "updated", "scaffold": "skipped"}
    assert again.exit_code == 0


@pytest.mark.slow
def test_api_errors_and_rate_limits_are_waited_out_or_isolated(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    generate(fake_org, tiny, tmp_path / "a", "a")
    b = generate(fake_org, tiny, tmp_path / "b", "b")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    fake_org.fail("GET", r"/contents/", 502, times=1)
    fake_org.fail(
        "GET",
        r"/pulls$",
        403,
        headers={"Retry-After": "7"},
        message="You have exceeded a secondary rate limit",
    )
    fake_org.fail("POST", r"/a/pulls$", 429, headers={"Retry-After": "3"})
    fake_org.fail("POST", r"/b/pulls$", 500, times=1)  # a create is never retried
    sleeps: list[float] = []
    gh = client(fake_org, sleep=sleeps.append, backoff=0.5)
    report = run(fake_org, tmp_path / "wd", gh=gh)
    assert outcomes(report) == {"a": "updated", "b": "failed", "scaffold": "skipped"}
    assert "500" in str(report.repos[1].error)
    assert 7.0 in sleeps and 3.0 in sleeps and 0.5 in sleeps
    # the branch was pushed before the failure: the rerun opens the PR, no push
    pushes = len(fake_org.pushes())
    again = run(fake_org, tmp_path / "wd")
    assert outcomes(again) == {"a": "pr-open", "b": "updated", "scaffold": "skipped"}
    assert len(fake_org.pushes()) == pushes
    assert len(b.pulls) == 1


def test_shards_are_stable_disjoint_and_complete() -> None:
    names = [f"acme/repo-{i}" for i in range(500)]
    for count in (1, 2, 3, 7):
        shards = [Shard(index=i, count=count) for i in range(1, count + 1)]
        owners = [[s.index for s in shards if s.holds(n)] for n in names]
        assert all(len(o) == 1 for o in owners)
        assert {s.index for s in shards} == {o[0] for o in owners}
    assert Shard.parse("2/4") == Shard(index=2, count=4)
    assert Shard(index=3, count=7).holds("ACME/Repo-1") == Shard(
        index=3, count=7
    ).holds("acme/repo-1")


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x", "1/2/3", ""])
def test_shard_must_be_i_of_n(text: str) -> None:
    from scaffold.errors import UsageError

    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


@pytest.mark.slow
def test_a_shard_run_touches_only_its_share(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    names = ["a", "b", "c", "d"]
    for name in names:
        generate(fake_org, tiny, tmp_path / name, name)
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    shard = Shard(index=1, count=2)
    mine = {n for n in names if shard.holds(f"{ORG}/{n}")}
    report = run(fake_org, tmp_path / "wd", shard=shard)
    assert {r.repo.split("/")[1] for r in report.repos} - {"scaffold"} == mine
    touched = {w.path.split("/")[3] for w in fake_org.writes}
    assert touched == mine
    contents = {
        r.path.split("/")[3] for r in fake_org.requests if "/contents/" in r.path
    }
    assert contents <= mine | {"scaffold"}


@pytest.mark.slow
def test_a_moved_default_branch_refreshes_the_open_pull_request(
    fake_org: FakeGitHub, tiny: TemplateRepo, tmp_path: Path
) -> None:
    repo = generate(fake_org, tiny, tmp_path / "a", "a")
    tiny.release("v0.2.0", TINY_V2, "Two replicas.")
    run(fake_org, tmp_path / "wd", repos=[f"{ORG}/a"])
    old_head = repo.ref("scaffold/update-v0.2.0")
    # someone merges an unrelated change into main
    work = tmp_path / "a"
    (work / "NOTES.md").write_text("team notes\n", encoding="utf-8")
    commit_all(work, "notes")
    git(work, "push", "-q", repo.clone_url, "main")
    main = repo.ref("main")
    api_writes, pushes = len(fake_org.writes), len(fake_org.pushes())

    report = run(fake_org, tmp_path / "wd", repos=[f"{ORG}/a"])

    assert outcomes(report) == {"a": "pr-updated"}
    assert [
        (w.method, w.path.rsplit("/", 2)[-2:]) for w in fake_org.writes[api_writes:]
    ] == [("PATCH", ["pulls", "1"])]
    assert len(fake_org.pushes()) == pushes + 1
    new_head = repo.ref("scaffold/update-v0.2.0")
    assert new_head != old_head
    assert repo.git("rev-parse", f"{new_head}~1").strip() == main
    [pr] = repo.pulls.values()
    assert f"base={main}" in pr["body"] and pr["state"] == "open"
    before = fake_org.write_count()
    assert outcomes(run(fake_org, tmp_path / "wd", repos=[f"{ORG}/a"])) == {
        "a": "pr-open"
    }
    assert fake_org.write_count() == before
