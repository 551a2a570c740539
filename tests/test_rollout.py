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
from scaffold.services.rollout import (
    RolloutOptions,
    RolloutReport,
    rollout,
)
from tests.github_fake import CANARY_TOKEN, FakeGitHub
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
