"""``scaffold protect`` against a stateful fake GitHub on loopback.

Every request body the fake receives is validated against GitHub's OpenAPI
description (see tests/github_fake.py); the ``fake`` fixture fails a test that sent
an invalid one. Sleeps and clocks are injected: nothing here really waits except
the CLI's 1 s pacing between writes.
"""

from __future__ import annotations

import json
import logging
import lzma
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner, Result

from scaffold.adapters.github import GitHubClient
from scaffold.cli import app
from scaffold.cli.protect import WRITE_INTERVAL_VAR, write_interval_from
from scaffold.errors import (
    ConfigError,
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    ForgePermissionError,
    ForgeRateLimitError,
    ForgeServerError,
    ForgeValidationError,
)
from scaffold.services.protect import ProtectMode, RepoRef, protect
from scaffold.services.protect.bodies import ruleset_body
from scaffold.services.protect.settings_file import SettingsFile, parse_settings
from tests.github_fake import FakeGitHub, GitHubSpec, load_spec, require_spec
from tests.helpers import render

CANARY = "ghp_CANARY0123456789abcdefghijklmnopqrstuvwxyz"
OWNER, NAME = "acme", "payments-api"
REPO = RepoRef(owner=OWNER, name=NAME)
BASE = f"/repos/{OWNER}/{NAME}"


@pytest.fixture(scope="session")
def github_spec() -> GitHubSpec:
    return require_spec()


@pytest.fixture(scope="module")
def settings_text(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The app template's .github/settings.yml, rendered once with real copier."""

    dst = tmp_path_factory.mktemp("app")
    render(
        template_repo,
        dst,
        data={"repo_kind": "app", "name": NAME, "owner": OWNER},
    )
    return (dst / ".github" / "settings.yml").read_text(encoding="utf-8")


def edited(text: str, edit: Callable[[dict[str, Any]], None] | None = None) -> str:
    data = yaml.safe_load(text)
    if edit is not None:
        edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def settings_of(
    text: str, edit: Callable[[dict[str, Any]], None] | None = None
) -> SettingsFile:
    return parse_settings(yaml.safe_load(edited(text, edit)))


def pr_params(data: dict[str, Any]) -> dict[str, Any]:
    rule = next(r for r in data["rulesets"][0]["rules"] if r["type"] == "pull_request")
    return rule["parameters"]


@pytest.fixture
def fake(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(httpserver, token=CANARY, spec=load_spec()).install()
    fake.add_repo(OWNER, NAME)
    yield fake
    assert fake.violations == [], "requests broke GitHub's API description"


class Sleeps(list[float]):
    """Injected sleep: records instead of waiting (and advances a fake clock)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client(fake: FakeGitHub, sleeps: Sleeps | None = None, **kw: Any) -> GitHubClient:
    kw.setdefault("write_interval", 0.0)
    return GitHubClient(
        token=SecretStr(kw.pop("token", CANARY)),
        api_url=fake.url,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kw,
    )


def writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.writes]


# --- rulesets mode ------------------------------------------------------------------


def test_first_apply_creates_and_rerun_writes_nothing(
    fake: FakeGitHub, settings_text: str
) -> None:
    settings = settings_of(settings_text)
    with client(fake) as gh:
        report = protect(settings=settings, repo=REPO, forge=gh)
    assert writes(fake) == [("PATCH", BASE), ("POST", f"{BASE}/rulesets")]
    # only the repository fields that differ from GitHub's defaults
    assert fake.writes[0].body == {
        "description": "payments-api service",
        "allow_merge_commit": False,
        "squash_merge_commit_title": "PR_TITLE",
        "squash_merge_commit_message": "PR_BODY",
        "delete_branch_on_merge": True,
        "allow_update_branch": True,
    }
    assert fake.writes[1].body == ruleset_body(settings.rulesets[0])
    (stored,) = fake.repos[f"{OWNER}/{NAME}"].rulesets.values()
    assert stored["name"] == "default-branch-protection"
    assert report.writes == 2 and not report.dry_run
    assert [(a.verb, a.target) for a in report.actions] == [
        ("update", "repository"),
        ("create", "ruleset 'default-branch-protection'"),
    ]
    assert all(r.authorization == f"Bearer {CANARY}" for r in fake.requests)

    with client(fake) as gh:
        again = protect(settings=settings, repo=REPO, forge=gh)
    assert again.in_sync and again.writes == 0
    assert len(fake.writes) == 2  # no write at all on the second run


def test_changed_file_updates_exactly_the_changed_fields(
    fake: FakeGitHub, settings_text: str
) -> None:
    with client(fake) as gh:
        protect(settings=settings_of(settings_text), repo=REPO, forge=gh)
    before = len(fake.writes)

    def edit(data: dict[str, Any]) -> None:
        pr_params(data)["required_approving_review_count"] = 2
        data["repository"]["delete_branch_on_merge"] = False

    changed = settings_of(settings_text, edit)
    with client(fake) as gh:
        report = protect(settings=changed, repo=REPO, forge=gh)
    new = fake.writes[before:]
    (ruleset_id,) = fake.repos[f"{OWNER}/{NAME}"].rulesets
    assert [(w.method, w.path) for w in new] == [
        ("PATCH", BASE),
        ("PUT", f"{BASE}/rulesets/{ruleset_id}"),
    ]
    assert new[0].body == {"delete_branch_on_merge": False}
    assert set(new[1].body) == {"rules"}  # PUT replaces the rules array
    assert [
        (a.target, [(c.path, c.live, c.desired) for c in a.changes])
        for a in report.actions
    ] == [
        ("repository", [("delete_branch_on_merge", True, False)]),
        (
            "ruleset 'default-branch-protection'",
            [("rules.pull_request.required_approving_review_count", 1, 2)],
        ),
    ]
    with client(fake) as gh:
        assert protect(settings=changed, repo=REPO, forge=gh).in_sync


def test_drift_on_github_is_detected_and_restored(
    fake: FakeGitHub, settings_text: str
) -> None:
    settings = settings_of(settings_text)
    with client(fake) as gh:
        protect(settings=settings, repo=REPO, forge=gh)
    (live,) = fake.repos[f"{OWNER}/{NAME}"].rulesets.values()
    # someone clicks in the UI: disables it, drops a rule, adds another
    live["enforcement"] = "disabled"
    live["rules"] = [r for r in live["rules"] if r["type"] != "required_linear_history"]
    live["rules"].append({"type": "creation"})
    before = len(fake.writes)
    with client(fake) as gh:
        dry = protect(settings=settings, repo=REPO, forge=gh, dry_run=True)
    assert len(fake.writes) == before and dry.writes == 0
    (action,) = dry.actions
    assert [(c.path, c.live, c.desired) for c in action.changes] == [
        ("enforcement", "disabled", "active"),
        ("rules.creation", "present", "<absent>"),
        ("rules.required_linear_history", "<absent>", "present"),
    ]
    with client(fake) as gh:
        protect(settings=settings, repo=REPO, forge=gh)
    assert set(fake.writes[-1].body) == {"enforcement", "rules"}
    with client(fake) as gh:
        assert protect(settings=settings, repo=REPO, forge=gh).in_sync


def test_rulesets_are_found_across_pages(fake: FakeGitHub, settings_text: str) -> None:
    repo = fake.repos[f"{OWNER}/{NAME}"]
    for i in range(3):
        repo.rulesets[i + 1] = {
            "id": i + 1,
            "name": f"other-{i}",
            "target": "tag",
            "enforcement": "active",
            "bypass_actors": [],
            "conditions": {"ref_name": {"include": ["~ALL"], "exclude": []}},
            "rules": [{"type": "deletion"}],
        }
    settings = settings_of(settings_text)
    with client(fake) as gh:
        protect(settings=settings, repo=REPO, forge=gh)
    fake.max_per_page = 1  # ours is now on page 4
    with client(fake) as gh:
        assert protect(settings=settings, repo=REPO, forge=gh).in_sync
    pages = [
        r.query
        for r in fake.requests
        if r.method == "GET" and r.path == f"{BASE}/rulesets"
    ][1:]
    assert len(pages) == 4 and "page=4" in pages[-1]
    assert len(repo.rulesets) == 4  # no duplicate created


def test_pagination_never_follows_a_link_to_another_host(fake: FakeGitHub) -> None:
    fake.fail(
        "GET",
        r"/rulesets$",
        200,
        body=[],
        headers={
            "Link": '<https://evil.example/repos/a/b/rulesets?page=2>; rel="next"'
        },
    )
    with client(fake) as gh, pytest.raises(Exception, match="another host"):
        gh.list_rulesets(OWNER, NAME)


# --- classic mode -------------------------------------------------------------------


def test_classic_mode_sends_checks_never_contexts(
    fake: FakeGitHub, settings_text: str, github_spec: GitHubSpec
) -> None:
    def signed(data: dict[str, Any]) -> None:
        data["branches"][0]["protection"]["required_signatures"] = True

    settings = settings_of(settings_text, signed)
    with client(fake) as gh:
        report = protect(
            settings=settings, repo=REPO, forge=gh, mode=ProtectMode.CLASSIC
        )
    assert writes(fake) == [
        ("PATCH", BASE),
        ("PUT", f"{BASE}/branches/main/protection"),
        ("POST", f"{BASE}/branches/main/protection/required_signatures"),
    ]
    put = fake.writes[1].body
    assert put["required_status_checks"] == {
        "strict": True,
        "checks": [
            {"context": "lint"},
            {"context": "test"},
            {"context": "build"},
            {"context": "scaffold-check"},
        ],
    }
    assert "required_signatures" not in put
    github_spec.validate(
        "put", "/repos/{owner}/{repo}/branches/{branch}/protection", put
    )
    assert [a.verb for a in report.actions] == ["update", "create", "create"]
    assert fake.repos[f"{OWNER}/{NAME}"].signatures == {"main": True}

    with client(fake) as gh:
        again = protect(
            settings=settings, repo=REPO, forge=gh, mode=ProtectMode.CLASSIC
        )
    assert again.in_sync and len(fake.writes) == 3

    def unsigned_two(data: dict[str, Any]) -> None:
        protection = data["branches"][0]["protection"]
        protection["required_signatures"] = False
        protection["required_pull_request_reviews"][
            "required_approving_review_count"
        ] = 2

    with client(fake) as gh:
        report = protect(
            settings=settings_of(settings_text, unsigned_two),
            repo=REPO,
            forge=gh,
            mode=ProtectMode.CLASSIC,
        )
    assert writes(fake)[3:] == [
        ("PUT", f"{BASE}/branches/main/protection"),
        ("DELETE", f"{BASE}/branches/main/protection/required_signatures"),
    ]
    assert [(c.path, c.live, c.desired) for a in report.actions for c in a.changes] == [
        ("required_pull_request_reviews.required_approving_review_count", 1, 2),
        ("required_signatures", True, False),
    ]


def test_classic_contexts_in_the_file_are_sent_as_checks(
    fake: FakeGitHub, settings_text: str
) -> None:
    def contexts(data: dict[str, Any]) -> None:
        rsc = data["branches"][0]["protection"]["required_status_checks"]
        rsc["contexts"] = [c["context"] for c in rsc.pop("checks")]

    with client(fake) as gh:
        protect(
            settings=settings_of(settings_text, contexts),
            repo=REPO,
            forge=gh,
            mode=ProtectMode.CLASSIC,
        )
    rsc = fake.writes[1].body["required_status_checks"]
    assert "contexts" not in rsc
    assert [c["context"] for c in rsc["checks"]] == [
        "lint",
        "test",
        "build",
        "scaffold-check",
    ]


def test_published_description_and_the_contexts_checks_rule(
    github_spec: GitHubSpec,
) -> None:
    """The description marks `contexts` required; GitHub wants exactly one of the
    two. The fake's documented patch enforces the real rule."""
    from tests.helpers import GITHUB_API_DESCRIPTION

    raw = json.loads(lzma.decompress(GITHUB_API_DESCRIPTION.read_bytes()))
    put = raw["paths"]["/repos/{owner}/{repo}/branches/{branch}/protection"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert "contexts" in schema["properties"]["required_status_checks"]["required"]
    template = "/repos/{owner}/{repo}/branches/{branch}/protection"
    body = {
        "required_status_checks": {"strict": True, "checks": [{"context": "lint"}]},
        "enforce_admins": True,
        "required_pull_request_reviews": None,
        "restrictions": None,
    }
    assert github_spec.body_errors("put", template, body) == []
    both = json.loads(json.dumps(body))
    both["required_status_checks"]["contexts"] = ["lint"]
    assert github_spec.body_errors("put", template, both)
    neither = json.loads(json.dumps(body))
    del neither["required_status_checks"]["checks"]
    assert github_spec.body_errors("put", template, neither)


def test_classic_unknown_branch_is_a_clear_404(
    fake: FakeGitHub, settings_text: str
) -> None:
    def develop(data: dict[str, Any]) -> None:
        data["branches"][0]["name"] = "develop"

    with client(fake) as gh, pytest.raises(ForgeNotFoundError) as info:
        protect(
            settings=settings_of(settings_text, develop),
            repo=REPO,
            forge=gh,
            mode=ProtectMode.CLASSIC,
        )
    assert "branch 'develop' not found in acme/payments-api" in str(info.value)


# --- retries and rate limits ----------------------------------------------------------


def test_secondary_rate_limit_waits_retry_after_and_retries(
    fake: FakeGitHub, settings_text: str
) -> None:
    fake.fail(
        "POST",
        r"/rulesets$",
        403,
        headers={"Retry-After": "7"},
        message="You have exceeded a secondary rate limit. Please wait a few minutes",
    )
    sleeps = Sleeps()
    with client(fake, sleeps) as gh:
        report = protect(settings=settings_of(settings_text), repo=REPO, forge=gh)
    assert sleeps == [7.0]
    assert [w.method for w in fake.writes] == ["PATCH", "POST", "POST"]
    assert len(fake.repos[f"{OWNER}/{NAME}"].rulesets) == 1
    assert report.writes == 2


def test_primary_rate_limit_waits_until_reset(fake: FakeGitHub) -> None:
    clock = FakeClock()
    fake.fail(
        "GET",
        r"^/repos/acme/payments-api$",
        403,
        headers={
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(clock.now) + 30),
        },
        message="API rate limit exceeded for user ID 1.",
    )
    sleeps = Sleeps(clock)
    with client(fake, sleeps, clock=clock) as gh:
        assert gh.get_repo(OWNER, NAME)["name"] == NAME
    assert sleeps == [31.0]


def test_rate_limit_longer_than_the_cap_fails_without_waiting(fake: FakeGitHub) -> None:
    fake.fail("GET", r"^/repos/", 429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with (
        client(fake, sleeps, max_wait=120) as gh,
        pytest.raises(ForgeRateLimitError) as info,
    ):
        gh.get_repo(OWNER, NAME)
    assert sleeps == []
    assert "3600s" in str(info.value) and "120s" in str(info.value)


def test_5xx_is_retried_with_backoff_then_fails_cleanly(fake: FakeGitHub) -> None:
    fake.fail(
        "GET", r"^/repos/acme/payments-api$", 502, times=10, message="Bad Gateway"
    )
    sleeps = Sleeps()
    with client(fake, sleeps) as gh, pytest.raises(ForgeServerError) as info:
        gh.get_repo(OWNER, NAME)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(fake.requests) == 4
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "GET /repos/acme/payments-api: GitHub answered 502 after 4 attempt(s): "
        "Bad Gateway"
    )


def test_5xx_once_then_success(fake: FakeGitHub) -> None:
    fake.fail("GET", r"^/repos/acme/payments-api$", 503)
    sleeps = Sleeps()
    with client(fake, sleeps) as gh:
        assert gh.get_repo(OWNER, NAME)["full_name"] == f"{OWNER}/{NAME}"
    assert sleeps == [1.0]


def test_create_is_not_retried_on_5xx(fake: FakeGitHub, settings_text: str) -> None:
    """A POST that failed with 5xx may have been applied: never blindly repeat it."""
    fake.fail("POST", r"/rulesets$", 500)
    settings = settings_of(settings_text)
    with client(fake) as gh, pytest.raises(ForgeServerError, match="after 1 attempt"):
        protect(settings=settings, repo=REPO, forge=gh)
    with client(fake) as gh:
        protect(settings=settings, repo=REPO, forge=gh)
    assert len(fake.repos[f"{OWNER}/{NAME}"].rulesets) == 1


def test_writes_are_paced(fake: FakeGitHub, settings_text: str) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    with client(fake, sleeps, clock=clock, write_interval=1.0) as gh:
        protect(settings=settings_of(settings_text), repo=REPO, forge=gh)
    assert sleeps == [1.0]  # two writes, one second apart


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 1.0), ("", 1.0), ("0", 0.0), (" 2.5 ", 2.5)]
)
def test_write_interval_comes_from_the_environment(
    value: str | None, seconds: float
) -> None:
    env = {} if value is None else {WRITE_INTERVAL_VAR: value}
    assert write_interval_from(env) == seconds


@pytest.mark.parametrize("value", ["-1", "61", "soon", "nan"])
def test_a_bad_write_interval_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{WRITE_INTERVAL_VAR}: must be a number"):
        write_interval_from({WRITE_INTERVAL_VAR: value})


# --- error mapping --------------------------------------------------------------------


def test_error_mapping(fake: FakeGitHub, settings_text: str) -> None:
    settings = settings_of(settings_text)
    with client(fake, token="ghp_wrong") as gh, pytest.raises(ForgeAuthError) as auth:
        gh.get_repo(OWNER, NAME)
    assert "401 Bad credentials" in str(auth.value)
    assert "GITHUB_TOKEN or GH_TOKEN" in str(auth.value)

    with client(fake) as gh, pytest.raises(ForgeNotFoundError) as missing:
        protect(settings=settings, repo=RepoRef(owner=OWNER, name="nope"), forge=gh)
    assert str(missing.value) == (
        "GET /repos/acme/nope: 404 repository acme/nope not found "
        "(or the token cannot see it)"
    )

    fake.admin = False
    with client(fake) as gh, pytest.raises(ForgePermissionError) as denied:
        protect(settings=settings, repo=REPO, forge=gh)
    assert str(denied.value).startswith(
        "PATCH /repos/acme/payments-api: 403 forbidden; the token needs the "
        "'Administration: write' permission"
    )
    fake.admin = True

    def develop(data: dict[str, Any]) -> None:
        data["repository"]["default_branch"] = "develop"

    with client(fake) as gh, pytest.raises(ForgeValidationError) as invalid:
        protect(settings=settings_of(settings_text, develop), repo=REPO, forge=gh)
    assert str(invalid.value) == (
        "PATCH /repos/acme/payments-api: GitHub rejected the request (422): "
        "Validation Failed: The branch develop was not found. Please push that ref "
        "first or create it via the Git Data API."
    )
    for error in (auth, missing, denied, invalid):
        assert "\n" not in str(error.value)


# --- the command line -----------------------------------------------------------------


def checkout(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "repo"
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "settings.yml").write_text(text, encoding="utf-8")
    return root


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    full_env: dict[str, str | None] = {
        "GITHUB_TOKEN": CANARY,
        "GH_TOKEN": None,
        "GITHUB_API_URL": None,
    }
    full_env.update(env or {})
    return CliRunner().invoke(app, ["protect", *args], env=full_env)


def test_cli_dry_run_shows_the_diff_and_writes_nothing(
    fake: FakeGitHub, settings_text: str, tmp_path: Path
) -> None:
    root = checkout(tmp_path, settings_text)
    args = [str(root), "--repo", f"{OWNER}/{NAME}", "--api-url", fake.url, "--dry-run"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "acme/payments-api: would change 2 target(s) (mode rulesets)" in out
    assert "  update repository: PATCH /repos/acme/payments-api" in out
    assert "    allow_merge_commit: true -> false" in out
    assert "  create ruleset 'default-branch-protection': POST" in out
    assert (
        "    rules.pull_request.required_approving_review_count: <absent> -> 1" in out
    )
    assert (
        "    rules.required_status_checks.required_status_checks: <absent> -> " in out
    )
    assert out.rstrip().endswith("dry run: nothing was written")
    assert fake.writes == []

    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True and data["writes"] == 0 and not data["in_sync"]
    assert [a["verb"] for a in data["actions"]] == ["update", "create"]
    assert {"path": "allow_merge_commit", "live": True, "desired": False} in data[
        "actions"
    ][0]["changes"]
    assert fake.writes == []


def test_cli_apply_then_nothing_to_change(
    fake: FakeGitHub, settings_text: str, tmp_path: Path
) -> None:
    root = checkout(tmp_path, settings_text)
    args = [str(root), "--repo", f"{OWNER}/{NAME}"]
    env: dict[str, str | None] = {"GITHUB_API_URL": fake.url}
    first = cli(*args, env=env)
    assert first.exit_code == 0, first.output
    assert "acme/payments-api: changed 2 target(s)" in first.stdout
    assert len(fake.writes) == 2
    second = cli(*args, "--json", env=env)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["in_sync"] is True
    assert len(fake.writes) == 2
    third = cli(*args, env=env)
    assert "matches" in third.stdout and "nothing to change" in third.stdout


def test_cli_github_enterprise_server_api_prefix(
    httpserver: HTTPServer, settings_text: str, tmp_path: Path
) -> None:
    ghes = FakeGitHub(httpserver, token=CANARY, spec=load_spec(), prefix="/api/v3")
    ghes.install().add_repo(OWNER, NAME)
    root = checkout(tmp_path, settings_text)
    result = cli(
        str(root),
        "--repo",
        f"{OWNER}/{NAME}",
        "--api-url",
        ghes.url,
        "--mode",
        "classic",
    )
    assert result.exit_code == 0, result.output
    assert {r.path for r in ghes.requests} >= {
        f"/api/v3{BASE}",
        f"/api/v3{BASE}/branches/main/protection",
    }
    assert ghes.violations == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-token", "no GitHub token: set GITHUB_TOKEN or GH_TOKEN"),
        ("bad-file", "rulesets[0].rules[3].parameters.required_approving_review_count"),
        ("no-file", "settings.yml: not found"),
        ("bad-repo", "--repo 'acme': expected OWNER/NAME"),
        ("http", "must be https"),
        ("no-rulesets", "has no 'rulesets'; add them or use --mode classic"),
        ("bad-interval", "SCAFFOLD_WRITE_INTERVAL: must be a number of seconds, 0-60"),
    ],
)
def test_cli_usage_errors_exit_2_and_call_nothing(
    fake: FakeGitHub, settings_text: str, tmp_path: Path, case: str, expected: str
) -> None:
    text = settings_text
    repo = f"{OWNER}/{NAME}"
    env: dict[str, str | None] = {}
    url = fake.url
    if case == "no-token":
        env["GITHUB_TOKEN"] = None
    elif case == "bad-file":
        text = edited(
            settings_text,
            lambda d: pr_params(d).__setitem__("required_approving_review_count", 11),
        )
    elif case == "bad-repo":
        repo = "acme"
    elif case == "http":
        url = "http://ghe.example.com/api/v3"
    elif case == "no-rulesets":
        text = edited(settings_text, lambda d: d.pop("rulesets"))
    elif case == "bad-interval":
        env[WRITE_INTERVAL_VAR] = "soon"
    root = tmp_path / "empty" if case == "no-file" else checkout(tmp_path, text)
    result = cli(str(root), "--repo", repo, "--api-url", url, env=env)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and expected in line
    if case != "no-rulesets":
        assert fake.requests == []
    assert fake.writes == []


def test_cli_api_failures_exit_1_with_one_line(
    fake: FakeGitHub, settings_text: str, tmp_path: Path
) -> None:
    root = checkout(tmp_path, settings_text)
    base = [str(root), "--api-url", fake.url]
    cases = [
        (
            ["--repo", f"{OWNER}/{NAME}"],
            {"GITHUB_TOKEN": "ghp_nope"},
            "401 Bad credentials",
        ),
        (["--repo", f"{OWNER}/nope"], {}, "repository acme/nope not found"),
    ]
    for args, env, expected in cases:
        result = cli(*base, *args, env=env)
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.splitlines()
        assert expected in line
    fake.admin = False
    result = cli(*base, "--repo", f"{OWNER}/{NAME}")
    assert result.exit_code == 1
    assert "'Administration: write' permission" in result.stderr
    assert fake.writes[-1].method == "PATCH"
    assert fake.repos[f"{OWNER}/{NAME}"].rulesets == {}


# --- the token never leaks ------------------------------------------------------------


def test_canary_token_never_appears_in_output_errors_or_logs(
    fake: FakeGitHub,
    settings_text: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    root = checkout(tmp_path, settings_text)
    args = [str(root), "--repo", f"{OWNER}/{NAME}", "--api-url", fake.url]
    seen: list[str] = []

    def run(*extra: str, env: dict[str, str | None] | None = None) -> None:
        result = cli(*args, *extra, env=env)
        seen.extend([result.stdout, result.stderr, repr(result.exception)])
        if result.exc_info is not None:
            seen.append("".join(traceback.format_exception(*result.exc_info)))

    run("--dry-run", "--json")
    run()
    fake.fail("GET", r"^/repos/", 429, headers={"Retry-After": "9999"})
    run()
    fake.admin = False
    run("--mode", "classic")
    fake.admin = True
    fake.fail("GET", r"/rulesets$", 422, message="Validation Failed")
    run()
    run(env={"GITHUB_TOKEN": CANARY + " trailing words"})
    run(env={"GITHUB_TOKEN": None, "GH_TOKEN": CANARY})  # GH_TOKEN works too
    # the token was really used...
    assert sum(r.authorization == f"Bearer {CANARY}" for r in fake.requests) > 5
    # ...and never shown
    for text in seen:
        assert CANARY not in text
    assert "CANARY" not in caplog.text
    for record in caplog.records:
        assert CANARY not in record.getMessage()

    # exceptions, their chains and the client object itself
    gh = client(fake)
    assert CANARY not in repr(vars(gh)) and CANARY not in repr(gh._http.auth)
    fake.fail("GET", r"^/repos/", 500, times=10)
    try:
        protect(settings=settings_of(settings_text), repo=REPO, forge=gh)
    except ForgeServerError as exc:
        assert CANARY not in "".join(traceback.format_exception(exc))
    else:  # pragma: no cover
        pytest.fail("expected ForgeServerError")
    finally:
        gh.close()


def test_cli_repo_defaults_to_the_answers_file(
    fake: FakeGitHub, settings_text: str, tmp_path: Path
) -> None:
    root = checkout(tmp_path, settings_text)
    result = cli(str(root), "--api-url", fake.url, "--dry-run")
    assert result.exit_code == 2
    assert "--repo: required (no owner and name in" in result.stderr
    (root / ".copier-answers.yml").write_text(
        f"_commit: v0.1.0\nowner: {OWNER}\nname: {NAME}\n", encoding="utf-8"
    )
    result = cli(str(root), "--api-url", fake.url, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{OWNER}/{NAME}: would change")


def test_classic_default_branch_alias_and_null_settings_are_stable(
    fake: FakeGitHub, settings_text: str
) -> None:
    """safe-settings' `name: default` means the repository's default branch;
    `enforce_admins: null` means off and must not cause a write on every run."""
    fake.repos[f"{OWNER}/{NAME}"].default_branch = "trunk"
    fake.repos[f"{OWNER}/{NAME}"].branches.add("trunk")

    def alias(data: dict[str, Any]) -> None:
        data.pop("repository")
        data["branches"][0]["name"] = "default"
        data["branches"][0]["protection"]["enforce_admins"] = None
        data["branches"][0]["protection"]["required_pull_request_reviews"] = None

    settings = settings_of(settings_text, alias)
    with client(fake) as gh:
        protect(settings=settings, repo=REPO, forge=gh, mode=ProtectMode.CLASSIC)
    assert writes(fake) == [("PUT", f"{BASE}/branches/trunk/protection")]
    assert fake.writes[0].body["enforce_admins"] is None
    with client(fake) as gh:
        again = protect(
            settings=settings, repo=REPO, forge=gh, mode=ProtectMode.CLASSIC
        )
    assert again.in_sync and len(fake.writes) == 1


def test_moved_repo_plan_gate_and_garbage_answers_are_one_line_errors(
    fake: FakeGitHub, settings_text: str
) -> None:
    fake.fail(
        "GET",
        r"^/repos/acme/payments-api$",
        301,
        headers={"Location": f"{fake.url}/repositories/1012"},
        message="Moved Permanently",
    )
    with client(fake) as gh, pytest.raises(ForgeError) as moved:
        gh.get_repo(OWNER, NAME)
    assert str(moved.value) == (
        "GET /repos/acme/payments-api: 301 moved to /repositories/1012; the "
        "repository was renamed or transferred, use its new OWNER/NAME"
    )

    upgrade = (
        "Upgrade to GitHub Pro or make this repository public to enable this feature."
    )
    fake.fail("PUT", r"/protection$", 403, message=upgrade)
    with client(fake) as gh, pytest.raises(ForgePermissionError) as gated:
        protect(
            settings=settings_of(settings_text),
            repo=REPO,
            forge=gh,
            mode=ProtectMode.CLASSIC,
        )
    assert str(gated.value) == (
        f"PUT /repos/acme/payments-api/branches/main/protection: 403 {upgrade}"
    )

    fake.fail("GET", r"/rulesets/\d+$", 200, body="<html>proxy error</html>")
    with client(fake) as gh, pytest.raises(ForgeError, match="expected a JSON object"):
        gh.get_ruleset(OWNER, NAME, 41)
    for error in (moved, gated):
        assert "\n" not in str(error.value)
