"""The one way scaffold runs an external program (git, sops, actionlint).

Modelled on all-repos' ``run()``: every call has a timeout, never reads the
terminal, and a failure becomes a :class:`~scaffold.errors.CommandError` naming the
command and the last line of its stderr; nothing is swallowed silently.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
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
    ok: tuple[int, ...] = (0,),
    error: type[CommandError] = CommandError,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; return it when its exit code is in ``ok``, else raise ``error``.

    A missing program is :class:`ToolMissingError` (exit 2); a timeout or an
    exit code outside ``ok`` is ``error`` (a :class:`CommandError`) carrying the
    command line and stderr. Standard input is ``input`` or nothing.
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
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        if cwd is not None and not cwd.is_dir():
            raise error(
                command=display(argv), returncode=127, stderr=f"no directory {cwd}"
            ) from exc
        raise ToolMissingError(f"{argv[0]}: not found ({exc.strerror})") from exc
    except subprocess.TimeoutExpired as exc:
        raw = exc.stderr or ""
        stderr = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        raise error(
            command=display(argv),
            returncode=None,
            stderr=stderr or f"no answer within {timeout:g} s",
        ) from None
    if proc.returncode not in ok:
        raise error(
            command=display(argv),
            returncode=proc.returncode,
            stderr=mask_credentials(proc.stderr),
        )
    return proc
