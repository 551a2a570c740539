"""Each planned write's request line is the request its ``apply`` sends.

Every ``Action`` type is applied through the real GitHub client to the fake
GitHub (tests/github_fake.py, bodies checked against GitHub's API description);
the one request it records must be the one the report shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from scaffold.adapters.github import GitHubClient
from scaffold.services.protect.actions import (
    Action,
    CreateRuleset,
    DeleteBranchProtection,
    PutBranchProtection,
    RepoRef,
    SetRequiredSignatures,
    UpdateRepository,
    UpdateRuleset,
)
from tests.github_fake import FakeGitHub, load_spec

TOKEN = "ghp_ACTIONS0123456789abcdefghijklmnopqrstu"
REPO = RepoRef(owner="acme", name="web")
RULESET = {
    "name": "default-branch-protection",
    "target": "branch",
    "enforcement": "active",
    "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
    "rules": [{"type": "deletion"}],
}
PROTECTION = {
    "required_status_checks": {"strict": True, "checks": [{"context": "lint"}]},
    "enforce_admins": True,
    "required_pull_request_reviews": None,
    "restrictions": None,
}


@pytest.fixture
def fake(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(httpserver, token=TOKEN, spec=load_spec()).install()
    fake.add_repo(REPO.owner, REPO.name)
    yield fake
    assert fake.violations == []


def _sent(fake: FakeGitHub, action: Action) -> str:
    before = len(fake.writes)
    with GitHubClient(
        token=SecretStr(TOKEN), api_url=fake.url, sleep=lambda _: None
    ) as client:
        action.apply(client)
    (request,) = fake.writes[before:]
    return f"{request.method} {request.path}"


def test_each_action_sends_the_request_it_shows(fake: FakeGitHub) -> None:
    created = CreateRuleset(repo=REPO, changes=(), name="p", ruleset=RULESET)
    assert _sent(fake, created) == created.request
    (ruleset_id,) = fake.repos["acme/web"].rulesets
    actions: list[Action] = [
        UpdateRepository(repo=REPO, changes=(), fields={"allow_merge_commit": False}),
        UpdateRuleset(
            repo=REPO,
            changes=(),
            name="p",
            ruleset_id=ruleset_id,
            fields={"enforcement": "evaluate"},
        ),
        PutBranchProtection(
            repo=REPO, changes=(), branch="main", protection=PROTECTION, exists=False
        ),
        SetRequiredSignatures(repo=REPO, changes=(), branch="main", enabled=True),
        SetRequiredSignatures(repo=REPO, changes=(), branch="main", enabled=False),
        DeleteBranchProtection(repo=REPO, changes=(), branch="main"),
    ]
    for action in actions:
        assert _sent(fake, action) == action.request, type(action).__name__
    assert [a.verb for a in (created, *actions)] == [
        "create",
        "update",
        "update",
        "create",
        "create",
        "delete",
        "delete",
    ]
