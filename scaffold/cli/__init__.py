"""Command-line interface: the only layer that prints or exits.

Each command lives in its own module and registers itself on :data:`app`; this
module is the composition root's entry point.
"""

from scaffold.cli import bootstrap as _bootstrap  # noqa: F401  (registers it)
from scaffold.cli import check as _check  # noqa: F401  (registers the command)
from scaffold.cli import fleet as _fleet  # noqa: F401  (registers the command)
from scaffold.cli import new as _new  # noqa: F401  (registers the command)
from scaffold.cli import protect as _protect  # noqa: F401
from scaffold.cli import rollout as _rollout  # noqa: F401  (rollout and status)
from scaffold.cli import update as _update  # noqa: F401
from scaffold.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
