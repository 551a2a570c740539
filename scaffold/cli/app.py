"""The Typer application object and the one place errors become exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError

app = typer.Typer(
    name="scaffold",
    help="Generate GitOps app and infra repos from versioned Copier templates, "
    "validate them, protect them, and keep them up to date.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals can hold tokens
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Scaffold GitOps repos."""


def error(message: str) -> None:
    """Print a one-line error to stderr (no markup interpretation).

    Undecodable bytes of file names (surrogate escapes) print as escapes, and
    line breaks as spaces: the error stays one line whatever it quotes.
    """
    line = " ".join(message.splitlines())
    sys.stderr.write(
        f"error: {line.encode('utf-8', 'backslashreplace').decode('utf-8')}\n"
    )


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map :class:`ScaffoldError` to its exit code and Ctrl-C to 130."""
    try:
        yield
    except ScaffoldError as exc:
        error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        error("interrupted; nothing was written")
        raise typer.Exit(130) from None
    except OSError as exc:  # the last net: a one-line error, never a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        error(f"{where}{exc.strerror or type(exc).__name__}")
        raise typer.Exit(1) from None
