"""disallow-latest-tag: every container image has a tag that is not ``latest``
(or a digest); containers, initContainers, ephemeralContainers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import (
    CONTAINER_LISTS,
    Hit,
    clip,
    containers,
    pod_spec,
)

RULE = "disallow-latest-tag"


def image_problem(image: str) -> str | None:
    """Why ``image`` is mutable (no tag, ``latest``), or None when pinned."""
    if "@" in image:
        return None  # digest
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the latest tag"
    return None


def check(obj: Mapping[str, Any]) -> Iterator[Hit]:
    found = pod_spec(obj)
    if found is None:
        return
    base, spec = found
    for list_name, index, container in containers(spec, CONTAINER_LISTS):
        image = container.get("image")
        problem = image_problem(image) if isinstance(image, str) else None
        if problem:
            yield (
                RULE,
                [*base, list_name, index, "image"],
                f"container {clip(container.get('name', index), 63)}: image "
                f"{clip(image)} {problem}",
            )
