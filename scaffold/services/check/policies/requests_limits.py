"""require-requests-limits: requests.cpu, requests.memory and limits.memory on
every container (``containers`` only, like the Kyverno policy)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import (
    Hit,
    clip,
    containers,
    get,
    pod_spec,
)

RULE = "require-requests-limits"
REQUIRED = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def check(obj: Mapping[str, Any]) -> Iterator[Hit]:
    found = pod_spec(obj)
    if found is None:
        return
    base, spec = found
    for list_name, index, container in containers(spec, ("containers",)):
        resources = container.get("resources")
        missing = [f"{s}.{k}" for s, k in REQUIRED if not get(resources, [s, k])]
        if missing:
            yield (
                RULE,
                [*base, list_name, index],
                f"container {clip(container.get('name', index), 63)} has no "
                "resources." + ", resources.".join(missing),
            )
