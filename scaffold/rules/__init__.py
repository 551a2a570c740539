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


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One catalogue entry."""

    id: str
    severity: Severity
    category: str
    description: str
    fix: str


@cache
def catalogue() -> dict[str, Rule]:
    """Rule id -> rule, in catalogue order."""
    text = resources.files(__name__).joinpath("catalogue.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {
        rule_id: Rule(
            id=rule_id,
            severity=Severity(entry["severity"]),
            category=str(entry["category"]),
            description=str(entry["description"]),
            fix=str(entry["fix"]),
        )
        for rule_id, entry in data["rules"].items()
    }
