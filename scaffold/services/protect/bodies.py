"""Request bodies GitHub gets from the settings model.

Classic ``required_status_checks`` is always sent with ``checks`` only (a file that
lists ``contexts`` is converted; GitHub answers 422 to both or neither), and
``required_signatures`` never goes into the protection body (its own endpoint).
"""

from __future__ import annotations

from typing import Any

from scaffold.services.protect.settings_file import (
    ClassicProtection,
    RepositorySettings,
    Ruleset,
)


def repository_body(repo: RepositorySettings) -> dict[str, Any]:
    """The managed repository fields (``PATCH /repos/{o}/{r}``)."""
    return repo.model_dump(exclude_none=True)


def ruleset_body(ruleset: Ruleset) -> dict[str, Any]:
    """``POST /repos/{o}/{r}/rulesets`` body."""
    body = ruleset.model_dump(exclude_none=True)
    return body


#: Classic protection's on/off switches, sent only when the file sets them (the
#: required-signatures switch has its own endpoint).
CLASSIC_TOGGLES = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)


def classic_body(protection: ClassicProtection) -> dict[str, Any]:
    """``PUT .../branches/{b}/protection`` body: ``checks`` only, no signatures."""
    body: dict[str, Any] = {}
    rsc = protection.required_status_checks
    body["required_status_checks"] = (
        None
        if rsc is None
        else {
            "strict": rsc.strict,
            "checks": [c.model_dump(exclude_none=True) for c in rsc.as_checks()],
        }
    )
    body["enforce_admins"] = protection.enforce_admins
    reviews = protection.required_pull_request_reviews
    body["required_pull_request_reviews"] = (
        None if reviews is None else reviews.model_dump(exclude_none=True)
    )
    restrictions = protection.restrictions
    body["restrictions"] = (
        None if restrictions is None else restrictions.model_dump(exclude_none=True)
    )
    for key in CLASSIC_TOGGLES:
        value = getattr(protection, key)
        if value is not None:
            body[key] = value
    return body
