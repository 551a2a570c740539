"""Collecting findings: one per defect (rule, file, line, message), naming every
root it reaches; messages on one line, repo-relative, bounded in length."""

from __future__ import annotations

from pathlib import Path

from scaffold.services.check.report import Finding
from scaffold.services.check.rules import RuleId, Severity, catalogue
from scaffold.services.check.settings import CheckSettings

#: Longest message kept (file-derived values are clipped well before this).
MESSAGE_LIMIT = 300


class Collector:
    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self.rules = catalogue()
        self._findings: dict[tuple[str, str, int, str], Finding] = {}
        self._roots: dict[tuple[str, str, int, str], set[str]] = {}
        self._repo = str(settings.repo)

    def enabled(self, rule: str) -> bool:
        return rule not in self.settings.skip

    def clean(self, text: str, limit: int = MESSAGE_LIMIT) -> str:
        """One line, repo paths relative, at most ``limit`` characters."""
        text = text.replace(self._repo + "/", "").replace(self._repo, ".")
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def add(
        self,
        rule: str,
        file: str,
        line: int | None,
        message: str,
        *,
        root: str | None = None,
    ) -> None:
        if not self.enabled(rule):
            return
        spec = self.rules[RuleId(rule)]  # an id not in the catalogue fails here
        severity = spec.severity
        if self.settings.strict and rule == RuleId.SCHEMA_MISSING:
            severity = Severity.ERROR
        finding = Finding(
            rule=rule,
            severity=severity,
            file=file,
            line=line,
            message=self.clean(message),
            fix=spec.fix,
        )
        key = finding.key()
        self._findings.setdefault(key, finding)
        roots = self._roots.setdefault(key, set())
        if root is not None:
            roots.add(root)

    def findings(self) -> list[Finding]:
        """Sorted findings, each with the sorted roots it was seen through."""
        result = []
        for key, finding in self._findings.items():
            roots = tuple(sorted(self._roots[key]))
            result.append(
                Finding(
                    rule=finding.rule,
                    severity=finding.severity,
                    file=finding.file,
                    line=finding.line,
                    message=finding.message,
                    fix=finding.fix,
                    root=roots[0] if roots else None,
                    roots=roots,
                )
            )
        return sorted(result, key=Finding.sort_key)


def rel_to(repo: Path, path: Path) -> str:
    """Repo-relative posix path ('.' for the repo itself)."""
    return path.relative_to(repo).as_posix() or "."
