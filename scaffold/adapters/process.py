"""The one way scaffold runs an external program (git, sops, actionlint, kustomize).

Modelled on all-repos' ``run()``: every call has a timeout, never reads the
terminal, and a failure becomes a :class:`~scaffold.errors.CommandError` naming the
command and the last line of its stderr; nothing is swallowed silently.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Container, Mapping, Sequence
from pathlib import Path

from scaffold.config import mask_credentials
from scaffold.errors import CommandError, ToolMissingError

_SHOWN = 160  # characters of the command line kept in an error


def display(cmd: Sequence[str]) -> str:
    """The command line as shown in errors: program name, arguments, shortened."""
    text = mask_credentials(shlex.join([Path(cmd[0]).name, *cmd[1:]]))
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def run(
    cmd: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    ok: Container[int] | None = (0,),
    error: type[CommandError] = CommandError,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; return it when its exit code is in ``ok`` (any, for ``None``:
    the caller reads it), else raise ``error``.

    A missing program is :class:`ToolMissingError` (exit 2); a timeout or an
    exit code outside ``ok`` is ``error`` (a :class:`CommandError`) carrying the
    command line and stderr. Standard input is ``input`` or nothing; output that
    is not UTF-8 is decoded with replacement characters, never an exception.
    """
    argv = list(cmd)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except OSError as exc:  # no such program or directory, not executable
        if cwd is not None and not cwd.is_dir():
            raise error(
                command=display(argv), returncode=127, stderr=f"no directory {cwd}"
            ) from exc
        found = "not found" if isinstance(exc, FileNotFoundError) else "cannot run"
        raise ToolMissingError(f"{argv[0]}: {found} ({exc.strerror})") from exc
    except subprocess.TimeoutExpired as exc:
        raw = exc.stderr or ""
        stderr = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        raise error(
            command=display(argv),
            returncode=None,
            stderr=stderr or f"no answer within {timeout:g} s",
        ) from None
    if ok is not None and proc.returncode not in ok:
        raise error(
            command=display(argv),
            returncode=proc.returncode,
            stderr=mask_credentials(proc.stderr),
        )
    return proc
