"""What differs between the settings file and GitHub: :class:`Change` and the
helpers both comparisons (rulesets, classic protection) share.

Only what the file states is compared: a key the file leaves out is not managed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaffold.services.protect.bodies import repository_body
from scaffold.services.protect.settings_file import RepositorySettings

ABSENT = "<absent>"  # shown in diffs for a value/rule that does not exist


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: ``path`` within its target, live and desired value."""

    path: str
    live: Any
    desired: Any


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Nested dicts as ``a.b.c`` -> leaf (lists and empty dicts are leaves)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def compare(desired: dict[str, Any], live: dict[str, Any]) -> list[Change]:
    """Flatten both; report every desired leaf whose live value differs."""
    want: dict[str, Any] = {}
    have: dict[str, Any] = {}
    flatten(desired, "", want)
    flatten(live, "", have)
    changes = []
    for path, value in want.items():
        current = have.get(path, ABSENT)
        if isinstance(current, dict) and not isinstance(value, dict):
            current = current or ABSENT
        if current != value:
            changes.append(Change(path=path, live=current, desired=value))
    return changes


def compare_repository(repo: RepositorySettings, live: dict[str, Any]) -> list[Change]:
    """Changed repository fields (live comes from ``GET /repos/{o}/{r}``)."""
    return [
        Change(path=key, live=live.get(key, ABSENT), desired=value)
        for key, value in repository_body(repo).items()
        if live.get(key, ABSENT) != value
    ]


def canon_checks(
    items: list[dict[str, Any]], ids: dict[str, Any], id_key: str
) -> list[str]:
    """Status checks as sorted strings; the integration/app id only when desired."""
    out = []
    for item in items:
        context = str(item.get("context"))
        wanted = ids.get(context)
        out.append(f"{context}@{item.get(id_key)}" if wanted is not None else context)
    return sorted(out)
