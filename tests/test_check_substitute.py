"""services/check/substitute.py: Flux postBuild substitution before validation."""

from __future__ import annotations

from scaffold.services.check.substitute import (
    DISABLE_ANNOTATION,
    flux_kustomizations,
    substitute,
    substitutions,
    unresolved,
)

FLUX = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "web"},
    "spec": {"path": "./apps/web/", "postBuild": {"substitute": {"REPLICAS": "3"}}},
}


def test_values_defaults_escapes_and_types() -> None:
    subs = substitutions(flux_kustomizations([FLUX, {"kind": "ConfigMap"}]))
    assert subs == {"apps/web": {"REPLICAS": "3"}}
    obj = {
        "kind": "Deployment",
        "spec": {
            "replicas": "${REPLICAS}",
            "minReadySeconds": "${MIN_READY:=5}",
            "paused": "${PAUSED:-false}",
            "note": "x-${REPLICAS}-${UNKNOWN}",
            "literal": "$${REPLICAS}",
        },
    }
    spec = substitute(obj, subs["apps/web"])["spec"]
    assert spec["replicas"] == 3
    assert spec["minReadySeconds"] == 5
    assert spec["paused"] is False
    assert spec["note"] == "x-3-${UNKNOWN}"
    assert unresolved(spec["note"])
    assert spec["literal"] == "${REPLICAS}"
    assert obj["spec"]["replicas"] == "${REPLICAS}"  # the input is not changed


def test_objects_can_opt_out() -> None:
    obj = {
        "metadata": {"annotations": {DISABLE_ANNOTATION: "disabled"}},
        "data": {"a": "${REPLICAS}"},
    }
    assert substitute(obj, {"REPLICAS": "3"}) == obj
