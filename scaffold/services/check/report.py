"""What ``scaffold check`` returns: findings, roots and counts (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scaffold.services.check.rules import Severity

#: Version of the JSON report layout (docs/check-output.schema.json).
REPORT_VERSION = 2


class RootStatus(StrEnum):
    """What happened to a kustomization root or plain manifest directory."""

    BUILT = "built"
    FAILED = "failed"
    SKIPPED = "skipped"  # not built: remote references, helmCharts, a Helm chart
    INCLUDED = "included"  # a base/ referenced by another root: built through it
    COMPONENT = "component"  # kind: Component, built through the roots using it


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem; ``file`` is repo-relative (posix), ``line`` 1-based."""

    rule: str
    severity: Severity
    file: str
    line: int | None
    message: str
    fix: str
    root: str | None = None  # the first of ``roots``
    roots: tuple[str, ...] = ()  # every root whose build reaches the defect

    def key(self) -> tuple[str, str, int, str]:
        """Identity for de-duplication (the same base object seen via 3 overlays)."""
        return (self.rule, self.file, self.line or 0, self.message)

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.file, self.line or 0, self.rule, self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class RootResult:
    """One kustomization root (``type`` kustomization) or plain manifest dir."""

    path: str
    type: str  # "kustomization" | "plain" | "helm-chart"
    status: RootStatus
    reason: str | None = None
    objects: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """The result of checking one repo."""

    path: str
    kubernetes_version: str
    strict: bool
    kustomize: str
    actionlint: bool
    skipped_rules: tuple[str, ...]
    roots: tuple[RootResult, ...]
    findings: tuple[Finding, ...]
    files: int
    objects: int
    not_validated: int
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)

    @property
    def infos(self) -> int:
        return self.count(Severity.INFO)

    def roots_with(self, status: RootStatus) -> list[RootResult]:
        return [r for r in self.roots if r.status is status]

    @property
    def exit_code(self) -> int:
        """1 on any error, or on any warning with --strict; else 0."""
        if self.errors or (self.strict and self.warnings):
            return 1
        return 0

    def to_dict(self, *, tool_version: str) -> dict[str, Any]:
        """The documented JSON layout (docs/check-output.schema.json)."""
        return {
            "version": REPORT_VERSION,
            "tool": {"name": "scaffold", "version": tool_version},
            "path": self.path,
            "kubernetes_version": self.kubernetes_version,
            "strict": self.strict,
            "kustomize": self.kustomize,
            "actionlint": self.actionlint,
            "skipped_rules": list(self.skipped_rules),
            "roots": [
                {
                    "path": r.path,
                    "type": r.type,
                    "status": r.status.value,
                    "reason": r.reason,
                    "objects": r.objects,
                }
                for r in self.roots
            ],
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.severity.value,
                    "file": f.file,
                    "line": f.line,
                    "message": f.message,
                    "fix": f.fix,
                    "root": f.root,
                    "roots": list(f.roots),
                }
                for f in self.findings
            ],
            "summary": {
                "errors": self.errors,
                "warnings": self.warnings,
                "info": self.infos,
                "files": self.files,
                "objects": self.objects,
                "not_validated": self.not_validated,
                "roots": {s.value: len(self.roots_with(s)) for s in RootStatus},
            },
            "exit_code": self.exit_code,
        }
