"""``scaffold update``: bring one local repo to a newer template version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.errors import UpdateConflictError


@app.command()
def update(
    path: Annotated[
        Path, typer.Argument(help="The repo to update (a clean git work tree).")
    ] = Path(),
    *,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="REF", help="Template version (default: the latest tag)."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show the diff the update would make; change nothing."
        ),
    ] = False,
) -> None:
    """Update a generated repo to a newer template version.

    Works on a new branch scaffold/update-<ref> and commits
    "chore(template): vA → vB" there. Conflicts are left in the work tree
    (exit 3), nothing is committed then.
    """
    with handle_errors():
        from scaffold.adapters.git import Git
        from scaffold.adapters.templates import CopierTemplates
        from scaffold.services.update import update_repo

        git = Git()
        result = update_repo(
            path,
            to_ref=to,
            templates=CopierTemplates(git=git),
            git=git,
            dry_run=dry_run,
        )
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        versions = f"{result.from_version} → {result.to_version}"
        if result.up_to_date:
            typer.echo(
                f"{result.path}: already up to date at {result.from_version}"
                if result.from_version == result.to_version
                else f"{result.path}: already up to date ({versions} changes nothing)"
            )
            return
        if result.dry_run:
            typer.echo(f"{result.path}: dry run of {versions}; nothing was changed")
            typer.echo(result.diff, nl=False)
        for conflict in result.conflicts:
            typer.echo(f"CONFLICT {conflict.path}: {conflict.reason}")
        if result.conflicts:
            if result.dry_run:
                raise UpdateConflictError(count=len(result.conflicts), branch=None)
            subject = _subject(result.from_version, result.to_version)
            typer.echo(
                f"\nThe work tree is on {result.branch} with the update applied. "
                "Resolve each file above (remove the <<<<<<< ======= >>>>>>> "
                "markers, fold *.rej hunks in and delete them), then:\n"
                f"  git add -A && git commit -m '{subject}'\n"
                "To abandon the update instead:\n"
                f"  git reset -q --hard && git clean -fdq && git switch - "
                f"&& git branch -D {result.branch}"
            )
            raise UpdateConflictError(count=len(result.conflicts), branch=result.branch)
        if not result.dry_run:
            typer.echo(
                f"{result.path}: updated {versions} on branch {result.branch} "
                f"(commit {str(result.commit)[:12]}, {len(result.changed)} file(s))"
            )
            for rel in result.changed:
                typer.echo(f"  {rel}")
            typer.echo(
                f"Review and merge it: git diff {result.branch}~1 {result.branch}"
            )


def _subject(from_version: str, to_version: str) -> str:
    from scaffold.services.update import commit_message

    return commit_message(from_version, to_version)
