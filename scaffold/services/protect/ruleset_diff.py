"""Compare a ruleset of the settings file with GitHub's.

A ruleset's *rule types* are compared both ways: a rule present on GitHub but
absent from the file is drift and is removed.
"""

from __future__ import annotations

from typing import Any

from scaffold.services.protect.bodies import ruleset_body
from scaffold.services.protect.diff import (
    ABSENT,
    Change,
    canon_checks,
    compare,
    flatten,
)
from scaffold.services.protect.settings_file import Ruleset, StatusChecksRule


def _canon_actor(actor: dict[str, Any]) -> str:
    actor_id = actor.get("actor_id")
    if actor.get("actor_type") in {"OrganizationAdmin", "DeployKey"}:
        actor_id = None
    return f"{actor.get('actor_type')}:{actor_id}:{actor.get('bypass_mode', 'always')}"


# Booleans GitHub may leave out of a rule's parameters when they are false.
_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "pull_request": {
        "dismiss_stale_reviews_on_push": False,
        "require_code_owner_review": False,
        "require_last_push_approval": False,
        "required_review_thread_resolution": False,
    },
    "required_status_checks": {"do_not_enforce_on_create": False},
}


def _canon_ruleset(
    data: dict[str, Any], desired: Ruleset
) -> tuple[dict[str, Any], set[str]]:
    """A ruleset body (desired or live) in comparable form, and its rule types."""
    wanted_ids = {}
    for rule in desired.rules:
        if isinstance(rule, StatusChecksRule):
            wanted_ids = {
                c.context: c.integration_id
                for c in rule.parameters.required_status_checks
            }
    out: dict[str, Any] = {
        "name": data.get("name", ABSENT),
        "target": data.get("target", "branch"),
        "enforcement": data.get("enforcement", ABSENT),
    }
    if "bypass_actors" in data:  # non-admin tokens do not see bypass actors
        out["bypass_actors"] = sorted(
            _canon_actor(a) for a in data.get("bypass_actors") or []
        )
    ref = ((data.get("conditions") or {}).get("ref_name")) or {}
    out["conditions"] = {
        "ref_name": {
            "include": sorted(ref.get("include") or []),
            "exclude": sorted(ref.get("exclude") or []),
        }
    }
    rules: dict[str, Any] = {}
    for rule in data.get("rules") or []:
        params = {
            **_PARAM_DEFAULTS.get(str(rule.get("type")), {}),
            **(rule.get("parameters") or {}),
        }
        if "allowed_merge_methods" in params:
            params["allowed_merge_methods"] = sorted(params["allowed_merge_methods"])
        if "required_status_checks" in params:
            params["required_status_checks"] = canon_checks(
                params["required_status_checks"], wanted_ids, "integration_id"
            )
        rules[str(rule.get("type"))] = params
    out["rules"] = rules
    return out, set(rules)


def compare_ruleset(desired: Ruleset, live: dict[str, Any]) -> list[Change]:
    """Differences between the file's ruleset and GitHub's (``GET .../rulesets/{id}``).

    Paths are ``rules.<type>.<parameter>``; an added or removed rule is
    ``rules.<type>`` with ``<absent>`` on one side.
    """
    want, want_types = _canon_ruleset(ruleset_body(desired), desired)
    have, have_types = _canon_ruleset(live, desired)
    if "bypass_actors" not in have:
        want.pop("bypass_actors", None)
    want_rules = want.pop("rules")
    have_rules = have.pop("rules")
    changes = compare(want, have)
    for rule_type in sorted(want_types | have_types):
        if rule_type not in have_types:
            changes.append(Change(f"rules.{rule_type}", ABSENT, "present"))
        elif rule_type not in want_types:
            changes.append(Change(f"rules.{rule_type}", "present", ABSENT))
        else:
            for change in compare(want_rules[rule_type], have_rules[rule_type]):
                changes.append(
                    Change(
                        f"rules.{rule_type}.{change.path}", change.live, change.desired
                    )
                )
    return changes


def ruleset_fields(ruleset: Ruleset) -> list[tuple[str, Any]]:
    """The ruleset as (path, value) leaves, with the paths diffs use."""
    canon, _ = _canon_ruleset(ruleset_body(ruleset), ruleset)
    rules = canon.pop("rules")
    flat: dict[str, Any] = {}
    flatten(canon, "", flat)
    for rule_type, params in rules.items():
        if params:
            flatten(params, f"rules.{rule_type}", flat)
        else:
            flat[f"rules.{rule_type}"] = "present"
    return list(flat.items())


def ruleset_update_body(desired: Ruleset, changes: list[Change]) -> dict[str, Any]:
    """The top-level fields of the ruleset that changed (``PUT`` replaces each)."""
    body = ruleset_body(desired)
    changed = {c.path.split(".", 1)[0] for c in changes}
    if "conditions" in changed and "conditions" not in body:
        body["conditions"] = {"ref_name": {"include": [], "exclude": []}}
    return {key: value for key, value in body.items() if key in changed}
