"""The compiled validity check (jsonschema-rs) on core schemas says exactly what the
jsonschema validator says: same verdict on valid and invalid objects of every core
kind scaffold's tests touch, and the errors still come from jsonschema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scaffold.adapters.schemas import SchemaRegistry

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27.3",
                        "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "100m", "memory": 64}},
                        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                    }
                ]
            },
        },
    },
}
CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c"},
    "data": {"a": "b"},
}


def _broken(obj: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


CASES = [
    DEPLOYMENT,
    CONFIGMAP,
    _broken(DEPLOYMENT, ["spec", "replicas"], "two"),
    _broken(DEPLOYMENT, ["spec", "unknownField"], 1),
    _broken(DEPLOYMENT, ["spec", "template", "spec", "containers", 0, "name"], None),
    _broken(DEPLOYMENT, ["spec", "replicas"], 2.5),
    _broken(DEPLOYMENT, ["spec", "replicas"], True),
    _broken(DEPLOYMENT, ["metadata", "labels", "app"], 1),
    _broken(CONFIGMAP, ["data", "a"], 1),
    _broken(CONFIGMAP, ["data"], ["a"]),
    _broken(CONFIGMAP, ["data", 1], "int key"),
    _broken(CONFIGMAP, ["data", "n"], float("nan")),
    _broken(CONFIGMAP, ["metadata", "name"], 10**30),
]


@pytest.mark.parametrize("obj", CASES)
def test_fast_path_agrees_with_jsonschema(obj: dict[str, Any]) -> None:
    hit = SchemaRegistry(kubernetes_version="1.33").lookup(
        obj["apiVersion"], obj["kind"]
    )
    assert hit is not None and hit.is_valid is not None
    slow = [(tuple(e.absolute_path), e.message) for e in hit.validator.iter_errors(obj)]
    try:
        fast = hit.is_valid(obj)
    except (ValueError, TypeError, OverflowError):
        fast = None  # issues() falls back to the full check
    if fast is not None:
        assert fast == (not slow)
    assert [(i.path, i.message) for i in hit.issues(obj)] == sorted(
        [(p, m) for p, m in slow], key=lambda pm: [str(p) for p in pm[0]]
    )


def test_no_fast_path_where_regexes_could_differ() -> None:
    registry = SchemaRegistry(kubernetes_version="1.33")
    crd = {
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "string", "pattern": "^a+$"}
                            },
                        }
                    },
                }
            ],
        }
    }
    registry.add_crd(crd)
    hit = registry.lookup("example.com/v1", "Widget")
    assert hit is not None and hit.is_valid is None
    assert [i.path for i in hit.issues({"spec": "b"})] == [("spec",)]
