"""actionlint through subprocess (optional: only when it is installed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.adapters.kustomize import ToolLocator
from scaffold.adapters.process import display, run
from scaffold.errors import CommandError

#: seconds one actionlint run may take
ACTIONLINT_TIMEOUT = 120.0


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
        cmd = [self.executable, "-no-color", "-format", "{{json .}}", "--", *files]
        # exit 1 means "found problems"; anything else is a crash, never "no findings"
        proc = run(cmd, cwd=cwd, timeout=ACTIONLINT_TIMEOUT, ok=(0, 1))
        try:
            data = json.loads(proc.stdout or "[]")
        except ValueError:
            data = None
        if not isinstance(data, list):
            raise CommandError(
                command=display(cmd),
                returncode=proc.returncode,
                stderr=proc.stderr or "its output is not a JSON list",
            )
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
