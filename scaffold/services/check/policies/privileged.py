"""disallow-privileged-containers: no container sets securityContext.privileged;
containers, initContainers, ephemeralContainers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import (
    CONTAINER_LISTS,
    Hit,
    clip,
    containers,
    pod_spec,
    truthy,
)

RULE = "disallow-privileged-containers"


def check(obj: Mapping[str, Any]) -> Iterator[Hit]:
    found = pod_spec(obj)
    if found is None:
        return
    base, spec = found
    for list_name, index, container in containers(spec, CONTAINER_LISTS):
        security = container.get("securityContext")
        if isinstance(security, Mapping) and truthy(security.get("privileged")):
            yield (
                RULE,
                [*base, list_name, index, "securityContext", "privileged"],
                f"container {clip(container.get('name', index), 63)} is privileged",
            )
