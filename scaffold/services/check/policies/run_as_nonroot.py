"""require-run-as-nonroot: runAsNonRoot true at pod level (not overridden with
false), or true on every container (Kyverno's ``anyPattern``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import (
    CONTAINER_LISTS,
    Hit,
    clip,
    containers,
    get,
    pod_spec,
    truthy,
)

RULE = "require-run-as-nonroot"


def _container_value(container: Mapping[str, Any]) -> Any:
    security = container.get("securityContext")
    return security.get("runAsNonRoot") if isinstance(security, Mapping) else None


def check(obj: Mapping[str, Any]) -> Iterator[Hit]:
    found = pod_spec(obj)
    if found is None:
        return
    base, spec = found
    everything = list(containers(spec, CONTAINER_LISTS))
    pod_level = truthy(get(spec, ["securityContext", "runAsNonRoot"]))
    overriding = [
        (list_name, index, c)
        for list_name, index, c in everything
        if _container_value(c) is not None and not truthy(_container_value(c))
    ]
    all_set = bool(everything) and all(
        truthy(_container_value(c)) for _, _, c in everything
    )
    if (pod_level and not overriding) or all_set:
        return
    if overriding:
        list_name, index, container = overriding[0]
        yield (
            RULE,
            [*base, list_name, index, "securityContext", "runAsNonRoot"],
            f"container {clip(container.get('name', index), 63)} sets "
            "runAsNonRoot false",
        )
    else:
        yield (
            RULE,
            base,
            "pod does not set securityContext.runAsNonRoot true "
            "(at pod level or on every container)",
        )
