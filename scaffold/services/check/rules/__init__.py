"""The data-driven rule catalogue of ``scaffold check`` (``catalogue.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

import yaml


class Severity(StrEnum):
    """How bad a finding is; ordered error > warning > info."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class RuleId(StrEnum):
    """Every rule id; a test proves these are exactly the catalogue's."""

    YAML_SYNTAX = "yaml-syntax"
    FILE_SKIPPED = "file-skipped"
    KUSTOMIZE_BUILD = "kustomize-build"
    KUSTOMIZE_OUTSIDE_REPO = "kustomize-outside-repo"
    KUSTOMIZE_DEPRECATED = "kustomize-deprecated"
    KUSTOMIZE_REMOTE = "kustomize-remote"
    KUSTOMIZE_GENERATOR_SKIPPED = "kustomize-generator-skipped"
    HELM_CHART = "helm-chart"
    SCHEMA_INVALID = "schema-invalid"
    SCHEMA_MISSING = "schema-missing"
    DISALLOW_LATEST_TAG = "disallow-latest-tag"
    REQUIRE_REQUESTS_LIMITS = "require-requests-limits"
    REQUIRE_POD_PROBES = "require-pod-probes"
    DISALLOW_PRIVILEGED_CONTAINERS = "disallow-privileged-containers"
    REQUIRE_RUN_AS_NONROOT = "require-run-as-nonroot"
    SECRET_PLAINTEXT = "secret-plaintext"
    SOURCE_MUTABLE_REF = "source-mutable-ref"
    WORKFLOW_SCHEMA = "workflow-schema"
    WORKFLOW_UNPINNED_ACTION = "workflow-unpinned-action"
    WORKFLOW_PERMISSIONS = "workflow-permissions"
    WORKFLOW_ACTIONLINT = "workflow-actionlint"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One catalogue entry."""

    id: RuleId
    severity: Severity
    category: str
    description: str
    fix: str


@cache
def catalogue() -> dict[RuleId, Rule]:
    """Rule id -> rule, in catalogue order."""
    text = resources.files(__name__).joinpath("catalogue.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {
        RuleId(rule_id): Rule(
            id=RuleId(rule_id),
            severity=Severity(entry["severity"]),
            category=str(entry["category"]),
            description=str(entry["description"]),
            fix=str(entry["fix"]),
        )
        for rule_id, entry in data["rules"].items()
    }
