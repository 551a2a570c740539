"""Checking one object: its schema and every object rule, findings at its source."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scaffold.services.check import policies
from scaffold.services.check.collect import Collector
from scaffold.services.check.locate import Located, images_entry, object_label
from scaffold.services.check.policies.common import clip
from scaffold.services.check.roots import KustomizationRoot
from scaffold.services.check.rules import RuleId
from scaffold.services.check.substitute import unresolved

_UNEXPECTED = re.compile(r"\('([^']+)' (?:was|were) unexpected\)")
MAX_ERRORS_PER_OBJECT = 5


class Issue(Protocol):
    @property
    def path(self) -> tuple[str | int, ...]: ...

    @property
    def message(self) -> str: ...


class Hit(Protocol):
    """A schema found for an object type."""

    @property
    def source(self) -> str: ...

    def issues(self, instance: Any) -> Sequence[Issue]: ...


class Schemas(Protocol):
    """The schema registry adapter."""

    kubernetes_version: str

    def add_crd(self, crd: Mapping[str, Any]) -> list[str]: ...

    def lookup(self, api_version: str, kind: str) -> Hit | None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What every object check of one run shares."""

    schemas: Schemas
    out: Collector
    fleet_urls: frozenset[str]
    scopes: Mapping[str, policies.PolicyScope]


def check_object(
    obj: Mapping[str, Any],
    where: Located,
    root: str,
    ctx: Context,
    members: Sequence[KustomizationRoot] = (),
) -> bool:
    """Validate ``obj`` and apply the object rules; False when no schema is known."""
    out = ctx.out
    label = where.label(obj)
    known = _validate(obj, label, where, root, ctx)
    for rule, path, message in policies.pod_checks(obj, ctx.scopes):
        override = (
            images_entry(members, policies.value_at(obj, path))
            if rule == RuleId.DISALLOW_LATEST_TAG
            else None
        )
        if override is not None:
            out.add(rule, *override, f"{label}: {message}", root=root)
        else:
            out.add(
                rule, where.file, where.line(path), f"{label}: {message}", root=root
            )
    # generated Secrets: secret_generator_checks looked at their sources
    for rule, path, message in () if where.generated else policies.secret_checks(obj):
        out.add(rule, where.file, where.line(path), f"{label}: {message}", root=root)
    for rule, path, message in policies.source_checks(
        obj, where.file, root, fleet_urls=ctx.fleet_urls
    ):
        out.add(rule, where.file, where.line(path), message, root=root)
    return known


def _validate(
    obj: Mapping[str, Any], label: str, where: Located, root: str, ctx: Context
) -> bool:
    """Schema-validate one object; False when no schema is known."""
    out = ctx.out
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj["kind"])
    hit = ctx.schemas.lookup(api_version, kind)
    if hit is None:
        out.add(
            "schema-missing",
            where.file,
            where.line([]),
            f"{label}: no schema for {api_version} {kind}; not validated",
            root=root,
        )
        return False
    if not out.enabled("schema-invalid"):
        return True
    instance = {k: v for k, v in obj.items() if k != "sops"}
    issues = [
        i
        for i in hit.issues(instance)
        if not unresolved(policies.value_at(instance, list(i.path)))
    ]
    for issue in issues[:MAX_ERRORS_PER_OBJECT]:
        path = list(issue.path)
        match = _UNEXPECTED.search(issue.message)
        place = ".".join(str(p) for p in path) or "(root)"
        out.add(
            "schema-invalid",
            where.file,
            where.line(path, match.group(1) if match else None),
            f"{label}: {clip(place, 80)}: {clip(issue.message, 160)} [{hit.source}]",
            root=root,
        )
    return True


__all__ = ["Context", "Schemas", "check_object", "object_label"]
