"""The settings-file model and the comparison, without any network."""

from __future__ import annotations

from typing import Any

import pytest

from scaffold.cli.protect import api_url_from, token_from_env
from scaffold.errors import ConfigError, MissingTokenError
from scaffold.services.protect.classic_diff import compare_protection
from scaffold.services.protect.ruleset_diff import compare_ruleset
from scaffold.services.protect.settings_file import SettingsError, parse_settings


def _ruleset(**params: Any) -> dict[str, Any]:
    pr = {
        "required_approving_review_count": 1,
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_review_thread_resolution": True,
        **params,
    }
    return {
        "name": "protect",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"]}},
        "rules": [
            {"type": "deletion"},
            {"type": "pull_request", "parameters": pr},
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": True,
                    "required_status_checks": [
                        {"context": "lint"},
                        {"context": "build", "integration_id": 15368},
                    ],
                },
            },
        ],
    }


def _classic(**overrides: Any) -> dict[str, Any]:
    return {
        "required_status_checks": {"strict": True, "checks": [{"context": "lint"}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {"required_approving_review_count": 1},
        "restrictions": None,
        **overrides,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "(top level): must be a mapping"),
        ({"repo": {}}, "repo: unknown key"),
        (
            {"repository": {"allow_squash_merge": "yes"}},
            "repository.allow_squash_merge: Input should be a valid boolean",
        ),
        (
            {"rulesets": [_ruleset(required_approving_review_count=11)]},
            "rulesets[0].rules[1].parameters.required_approving_review_count: "
            "Input should be less than or equal to 10",
        ),
        (
            {"rulesets": [_ruleset(dismiss_stale_reviews=True)]},
            "rulesets[0].rules[1].parameters.dismiss_stale_reviews: unknown key",
        ),
        (
            {"rulesets": [_ruleset(), _ruleset()]},
            "(top level): ruleset names must be unique",
        ),
        (
            {
                "branches": [
                    {
                        "name": "main",
                        "protection": _classic(
                            required_status_checks={
                                "strict": True,
                                "checks": [{"context": "a"}],
                                "contexts": ["a"],
                            }
                        ),
                    }
                ]
            },
            "branches[0].protection.required_status_checks: give exactly one of "
            "'checks' or 'contexts'",
        ),
        (
            {"branches": [{"name": "main", "protection": {"enforce_admins": True}}]},
            "branches[0].protection.required_status_checks: Field required "
            "(and 2 more)",
        ),
        (
            {
                "repository": {
                    "allow_squash_merge": False,
                    "allow_rebase_merge": False,
                },
                "branches": [
                    {
                        "name": "main",
                        "protection": _classic(required_linear_history=True),
                    }
                ],
            },
            "required linear history needs allow_squash_merge or allow_rebase_merge",
        ),
    ],
)
def test_bad_settings_give_one_line_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_other_sections_are_accepted_and_reported_ignored() -> None:
    settings = parse_settings({"labels": [{"name": "bug"}], "teams": []})
    assert settings.ignored_sections() == ["teams", "labels"]
    assert parse_settings(None).ignored_sections() == []


def test_live_ruleset_extras_and_defaults_are_not_drift() -> None:
    settings = parse_settings({"rulesets": [_ruleset()]})
    live = _ruleset()
    live.update(id=7, source_type="Repository", _links={}, created_at="x")
    live["conditions"]["ref_name"]["exclude"] = []
    pr = live["rules"][1]["parameters"]
    pr["allowed_merge_methods"] = ["merge", "squash", "rebase"]  # not in the file
    del pr["require_code_owner_review"]  # false left out by GitHub
    checks = live["rules"][2]["parameters"]
    checks["do_not_enforce_on_create"] = False
    checks["required_status_checks"] = [  # other order, extra ids
        {"context": "build", "integration_id": 15368},
        {"context": "lint", "integration_id": 99},
    ]
    live["rules"].reverse()
    assert compare_ruleset(settings.rulesets[0], live) == []
    checks["required_status_checks"][0]["integration_id"] = 1
    (change,) = compare_ruleset(settings.rulesets[0], live)
    assert change.path == "rules.required_status_checks.required_status_checks"
    assert change.live == ["build@1", "lint"]
    assert change.desired == ["build@15368", "lint"]


def test_classic_comparison_reads_githubs_response_shape() -> None:
    settings = parse_settings(
        {"branches": [{"name": "main", "protection": _classic(allow_deletions=False)}]}
    )
    protection = settings.branches[0].protection
    assert protection is not None
    live = {
        "required_status_checks": {
            "strict": True,
            "contexts": ["lint"],
            "checks": [{"context": "lint", "app_id": 15368}],
        },
        "enforce_admins": {"enabled": True},
        "required_pull_request_reviews": {
            "required_approving_review_count": 1,
            "dismiss_stale_reviews": False,
        },
        "allow_deletions": {"enabled": False},
        "required_signatures": {"enabled": True},  # not stated in the file
    }
    assert compare_protection(protection, live) == []
    live["enforce_admins"] = {"enabled": False}
    live["restrictions"] = {"users": [{"login": "bot"}], "teams": [], "apps": []}
    changes = compare_protection(protection, live)
    assert [(c.path, c.live, c.desired) for c in changes] == [
        ("enforce_admins", False, True),
        ("restrictions", {"users": ["bot"], "teams": [], "apps": []}, None),
    ]
    assert [c.path for c in compare_protection(protection, None)] == [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
    ]


def test_token_from_env() -> None:
    assert token_from_env({"GH_TOKEN": " ghp_x\n"}).get_secret_value() == "ghp_x"
    token = token_from_env({"GITHUB_TOKEN": "ghp_a", "GH_TOKEN": "ghp_b"})
    assert token.get_secret_value() == "ghp_a"
    assert "ghp_a" not in repr(token) and "ghp_a" not in str(token)
    with pytest.raises(MissingTokenError, match="set GITHUB_TOKEN or GH_TOKEN"):
        token_from_env({"GITHUB_TOKEN": "  "})
    with pytest.raises(MissingTokenError) as info:
        token_from_env({"GITHUB_TOKEN": "ghp_secret\x00x"})
    assert "ghp_secret" not in str(info.value)


def test_api_url_from() -> None:
    assert api_url_from(None, {}) == "https://api.github.com"
    ghes = "https://ghe.example.com/api/v3"
    assert api_url_from(None, {"GITHUB_API_URL": ghes + "/"}) == ghes
    assert api_url_from("http://127.0.0.1:8080", {"GITHUB_API_URL": ghes}) == (
        "http://127.0.0.1:8080"
    )
    for bad in (
        "http://ghe.example.com",
        "ftp://x",
        "https://user:pw@ghe.example.com",
        "ghe.example.com",
    ):
        with pytest.raises(ConfigError, match="--api-url"):
            api_url_from(bad, {})
