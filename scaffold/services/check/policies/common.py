"""What the object rules share: JSON paths, pod specs, containers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

#: (rule id, JSON path inside the object for the source line, message)
Hit = tuple[str, list[str | int], str]

#: kind -> path of the pod spec inside the object (Kyverno autogen controllers).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def get(obj: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def value_at(obj: Any, path: Sequence[str | int]) -> Any:
    """The value at a JSON path, or None."""
    return get(obj, path)


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def containers(
    spec: Mapping[str, Any], lists: Sequence[str]
) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for list_name in lists:
        items = spec.get(list_name)
        if isinstance(items, list):
            for index, container in enumerate(items):
                if isinstance(container, Mapping):
                    yield list_name, index, container


def pod_spec(
    obj: Mapping[str, Any],
) -> tuple[list[str | int], Mapping[str, Any]] | None:
    """(path, pod spec) of a workload, or None."""
    kind = obj.get("kind")
    spec_path = POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if spec_path is None:
        return None
    spec = get(obj, spec_path)
    return (list(spec_path), spec) if isinstance(spec, Mapping) else None


def clip(value: object, limit: int = 120) -> str:
    """A file-derived value for a message, no longer than needed."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
