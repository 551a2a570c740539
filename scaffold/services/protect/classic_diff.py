"""Compare classic branch protection of the settings file with GitHub's."""

from __future__ import annotations

from typing import Any

from scaffold.services.protect.bodies import CLASSIC_TOGGLES, classic_body
from scaffold.services.protect.diff import ABSENT, Change, canon_checks, compare
from scaffold.services.protect.settings_file import ClassicProtection


def _enabled(live: dict[str, Any], key: str) -> Any:
    value = live.get(key)
    if isinstance(value, dict):
        return bool(value.get("enabled"))
    return False if value is None else value


def _names(items: list[Any] | None, key: str) -> list[str]:
    return sorted(
        str(i.get(key)) if isinstance(i, dict) else str(i) for i in (items or [])
    )


def _canon_actor_lists(value: Any) -> Any:
    if value is None:
        return None
    return {
        "users": _names(value.get("users"), "login"),
        "teams": _names(value.get("teams"), "slug"),
        "apps": _names(value.get("apps"), "slug"),
    }


def canon_live_protection(
    live: dict[str, Any] | None, desired: ClassicProtection
) -> dict[str, Any]:
    """``GET .../branches/{b}/protection`` (None: not protected) in desired shape."""
    live = live or {}
    wanted_ids = {}
    if desired.required_status_checks is not None:
        wanted_ids = {
            c.context: c.app_id for c in desired.required_status_checks.as_checks()
        }
    out: dict[str, Any] = {}
    rsc = live.get("required_status_checks")
    out["required_status_checks"] = (
        None
        if not rsc
        else {
            "strict": bool(rsc.get("strict")),
            "checks": canon_checks(
                rsc.get("checks")
                or [{"context": c} for c in rsc.get("contexts") or []],
                wanted_ids,
                "app_id",
            ),
        }
    )
    out["enforce_admins"] = _enabled(live, "enforce_admins")
    reviews = live.get("required_pull_request_reviews")
    if not reviews:
        out["required_pull_request_reviews"] = None
    else:
        out["required_pull_request_reviews"] = {
            "required_approving_review_count": reviews.get(
                "required_approving_review_count", 0
            ),
            "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
            "require_code_owner_reviews": bool(
                reviews.get("require_code_owner_reviews")
            ),
            "require_last_push_approval": bool(
                reviews.get("require_last_push_approval")
            ),
            "dismissal_restrictions": _canon_actor_lists(
                reviews.get("dismissal_restrictions")
            ),
            "bypass_pull_request_allowances": _canon_actor_lists(
                reviews.get("bypass_pull_request_allowances")
            ),
        }
    out["restrictions"] = _canon_actor_lists(live.get("restrictions"))
    for key in (*CLASSIC_TOGGLES, "required_signatures"):
        out[key] = _enabled(live, key)
    return out


def canon_desired_protection(desired: ClassicProtection) -> dict[str, Any]:
    """The file's protection in the same shape as :func:`canon_live_protection`."""
    body = classic_body(desired)
    rsc = body["required_status_checks"]
    if rsc is not None:
        wanted_ids = {c["context"]: c.get("app_id") for c in rsc["checks"]}
        body["required_status_checks"] = {
            "strict": rsc["strict"],
            "checks": canon_checks(rsc["checks"], wanted_ids, "app_id"),
        }
    reviews = body["required_pull_request_reviews"]
    if reviews is not None:
        for key in ("dismissal_restrictions", "bypass_pull_request_allowances"):
            if key in reviews:
                reviews[key] = _canon_actor_lists(reviews[key])
    body["restrictions"] = _canon_actor_lists(body["restrictions"])
    body["enforce_admins"] = bool(body["enforce_admins"])  # null turns it off
    if desired.required_signatures is not None:
        body["required_signatures"] = desired.required_signatures
    return body


def compare_protection(
    desired: ClassicProtection, live: dict[str, Any] | None
) -> list[Change]:
    """Differences between the file's classic protection and GitHub's."""
    want = canon_desired_protection(desired)
    have = canon_live_protection(live, desired)
    changes: list[Change] = []
    for key, value in want.items():
        current = have.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            changes.extend(
                Change(f"{key}.{c.path}", c.live, c.desired)
                for c in compare(value, current)
            )
        elif value != current:
            changes.append(
                Change(key, ABSENT if current is None else current, value)
                if value is not None
                else Change(key, current, None)
            )
    return changes
