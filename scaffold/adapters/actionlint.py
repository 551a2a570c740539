"""actionlint through subprocess (optional: only when it is installed)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.adapters.kustomize import ToolLocator


@dataclass(frozen=True, slots=True)
class LintMessage:
    """One actionlint diagnostic; ``file`` is relative to the cwd it ran in."""

    file: str
    line: int
    column: int
    kind: str
    message: str


class Actionlint:
    """Runs ``actionlint -format '{{json .}}'`` on workflow files."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    @classmethod
    def locate(cls, locator: ToolLocator) -> Actionlint | None:
        """The installed actionlint, or None."""
        found = locator.which("actionlint")
        return cls(found) if found else None

    def lint(self, cwd: Path, files: Sequence[str]) -> list[LintMessage]:
        """Lint ``files`` (paths relative to ``cwd``)."""
        if not files:
            return []
        try:
            proc = subprocess.run(
                [self.executable, "-no-color", "-format", "{{json .}}", *files],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except OSError:
            return []
        try:
            data = json.loads(proc.stdout or "[]")
        except ValueError:
            return []
        return [
            LintMessage(
                file=str(item.get("filepath", "")),
                line=int(item.get("line", 0) or 0),
                column=int(item.get("column", 0) or 0),
                kind=str(item.get("kind", "")),
                message=str(item.get("message", "")),
            )
            for item in data
            if isinstance(item, dict)
        ]
