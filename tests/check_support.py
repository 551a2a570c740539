"""Helpers for the ``scaffold check`` tests: real kustomize, real schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaffold.adapters.actionlint import Actionlint
from scaffold.adapters.kustomize import Kustomize, PathLocator
from scaffold.adapters.schemas import SchemaRegistry
from scaffold.services.check import (
    CheckOptions,
    CheckReport,
    check_repo,
    policies,
    resolve_settings,
)
from tests.helpers import TOOL_PATH

LOCATOR = PathLocator(TOOL_PATH)
CORPUS = Path(__file__).parent / "corpus"
OUTPUT_SCHEMA = (
    Path(__file__).resolve().parent.parent / "docs" / "check-output.schema.json"
)


def run_check(
    repo: Path,
    *,
    schema_locations: tuple[Path, ...] = (),
    strict: bool | None = None,
    skip: tuple[str, ...] = (),
    kubernetes_version: str | None = None,
    actionlint: bool = True,
) -> CheckReport:
    """The service with real adapters, as the CLI wires it."""
    settings = resolve_settings(
        repo,
        CheckOptions(
            schema_locations=schema_locations,
            strict=strict,
            skip=skip,
            kubernetes_version=kubernetes_version,
        ),
    )
    return check_repo(
        settings=settings,
        kustomize=Kustomize.locate(LOCATOR),
        schemas=SchemaRegistry(
            kubernetes_version=settings.kubernetes_version,
            locations=settings.schema_locations,
        ),
        actionlint=Actionlint.locate(LOCATOR) if actionlint else None,
    )


def pod(spec: dict[str, Any], kind: str = "Pod") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "p"}, "spec": spec}


def rules(obj: dict[str, Any]) -> list[str]:
    return [rule for rule, _, _ in policies.pod_checks(obj)]


GOOD_CONTAINER = {
    "name": "c",
    "image": "ghcr.io/a/b:1.0.0",
    "resources": {
        "requests": {"cpu": "1m", "memory": "1Mi"},
        "limits": {"memory": "1Mi"},
    },
    "readinessProbe": {"tcpSocket": {"port": 80}},
}
