"""require-pod-probes: a liveness, readiness or startup probe on every container
(``containers`` only); Jobs and CronJobs run to completion and are exempt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import Hit, clip, containers, pod_spec

RULE = "require-pod-probes"
#: Run-to-completion workloads are exempt from the probe rule.
NO_PROBE_KINDS = frozenset({"Job", "CronJob"})
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def check(obj: Mapping[str, Any]) -> Iterator[Hit]:
    found = pod_spec(obj)
    if found is None or obj.get("kind") in NO_PROBE_KINDS:
        return
    base, spec = found
    for list_name, index, container in containers(spec, ("containers",)):
        if not any(container.get(p) for p in PROBES):
            yield (
                RULE,
                [*base, list_name, index],
                f"container {clip(container.get('name', index), 63)} has no "
                "liveness, readiness or startup probe",
            )
