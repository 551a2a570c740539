"""Where the pod rules apply: the repo's own Kyverno ClusterPolicies of the same
name narrow them (autogen controllers, excluded namespaces); then every pod rule
on one object."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scaffold.services.check.policies import (
    latest_tag,
    pod_probes,
    privileged,
    requests_limits,
    run_as_nonroot,
)
from scaffold.services.check.policies.common import Hit, get

#: The pod rules, in report order.
POD_RULE_MODULES = (latest_tag, privileged, requests_limits, pod_probes, run_as_nonroot)
POD_RULES = tuple(m.RULE for m in POD_RULE_MODULES)
AUTOGEN_ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"


@dataclass(frozen=True, slots=True)
class PolicyScope:
    """Where the repo's own Kyverno ClusterPolicy of a pod rule applies."""

    kinds: frozenset[str] | None  # Pod + autogen controllers; None: all pod kinds
    excluded_namespaces: frozenset[str]

    def applies(self, kind: str, namespace: Any) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return not (
            isinstance(namespace, str) and namespace in self.excluded_namespaces
        )


def policy_scopes(objects: Iterable[Mapping[str, Any]]) -> dict[str, PolicyScope]:
    """Scopes from ClusterPolicies in the repo named like the pod rules: their
    autogen-controllers annotation and ``exclude`` namespaces. Rules without a
    policy in the repo apply to every pod kind in every namespace."""
    scopes: dict[str, PolicyScope] = {}
    for obj in objects:
        name = get(obj, ["metadata", "name"])
        if (
            obj.get("kind") != "ClusterPolicy"
            or not str(obj.get("apiVersion", "")).startswith("kyverno.io/")
            or name not in POD_RULES
        ):
            continue
        annotations = get(obj, ["metadata", "annotations"])
        autogen = (
            annotations.get(AUTOGEN_ANNOTATION)
            if isinstance(annotations, Mapping)
            else None
        )
        kinds: frozenset[str] | None = None
        if isinstance(autogen, str):
            controllers = {k.strip() for k in autogen.split(",") if k.strip()}
            kinds = frozenset({"Pod"} | (controllers - {"none"}))
        excluded: set[str] = set()
        rules = get(obj, ["spec", "rules"])
        for rule in rules if isinstance(rules, list) else []:
            for block in ("any", "all"):
                entries = get(rule, ["exclude", block])
                for entry in entries if isinstance(entries, list) else []:
                    namespaces = get(entry, ["resources", "namespaces"])
                    if isinstance(namespaces, list):
                        excluded.update(str(n) for n in namespaces)
        scopes[str(name)] = PolicyScope(kinds, frozenset(excluded))
    return scopes


def pod_checks(
    obj: Mapping[str, Any], scopes: Mapping[str, PolicyScope] | None = None
) -> Iterator[Hit]:
    """Kyverno pod rules on a workload's pod spec, within the repo's policy scopes."""
    kind = str(obj.get("kind"))
    namespace = get(obj, ["metadata", "namespace"])
    hits = (hit for module in POD_RULE_MODULES for hit in module.check(obj))
    for hit in hits:
        scope = (scopes or {}).get(hit[0])
        if scope is None or scope.applies(kind, namespace):
            yield hit
