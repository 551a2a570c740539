"""services/check/locate.py: origins read and removed, documents matched."""

from __future__ import annotations

from typing import Any

from scaffold.services.check.locate import (
    ORIGIN_ANNOTATION,
    Origin,
    object_label,
    pick_document,
    pop_origin,
)
from scaffold.services.check.sources import Document


def doc(kind: str, **meta: str) -> Document:
    return Document({"apiVersion": "v1", "kind": kind, "metadata": meta}, None)


def test_the_origin_annotation_is_read_and_removed() -> None:
    obj: dict[str, Any] = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "prod-cfg-4h2m",
            "annotations": {
                ORIGIN_ANNOTATION: "configuredIn: ../repo/base/kustomization.yaml\n"
                "configuredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"
            },
        },
    }
    assert pop_origin(obj) == Origin(
        configured_in="../repo/base/kustomization.yaml", generator="ConfigMapGenerator"
    )
    assert obj["metadata"] == {"name": "prod-cfg-4h2m"}  # nothing left to validate
    kept = {
        "metadata": {"annotations": {ORIGIN_ANNOTATION: "path: a.yaml\n", "x": "y"}}
    }
    assert pop_origin(kept) == Origin(path="a.yaml")
    assert kept["metadata"]["annotations"] == {"x": "y"}
    assert pop_origin({"metadata": {}}) is None


def test_documents_are_matched_through_prefixes_namespaces_and_generate_name() -> None:
    web, api = doc("Deployment", name="web"), doc("Deployment", name="api")
    assert (
        pick_document(
            [web, api], {"kind": "Deployment", "metadata": {"name": "prod-web-v1"}}
        )
        is web
    )
    a = doc("Service", name="web", namespace="a")
    b = doc("Service", name="web", namespace="b")
    built_b = {"kind": "Service", "metadata": {"name": "web", "namespace": "b"}}
    assert pick_document([a, b], built_b) is b
    hooks = [doc("Job", generateName="migrate-"), doc("Job", generateName="seed-")]
    assert (
        pick_document(hooks, {"kind": "Job", "metadata": {"generateName": "seed-"}})
        is hooks[1]
    )
    assert (
        pick_document([web], {"kind": "Service", "metadata": {"name": "web"}}) is None
    )


def test_unnamed_objects_are_labelled_by_generate_name() -> None:
    job = {"kind": "Job", "metadata": {"generateName": "seed-", "namespace": "ops"}}
    assert object_label(job) == "Job ops/seed-"
    assert object_label({"kind": "Job", "metadata": {}}) == "Job (unnamed)"
