"""``scaffold update``: print what :mod:`scaffold.services.update` did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.errors import UpdateConflictError

if TYPE_CHECKING:
    from scaffold.services.update import UpdateReport, UpdateResult


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
    apps: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            metavar="NAME",
            help="Fleets: update only this app (repeatable); the fleet's own "
            "files are left alone.",
        ),
    ] = None,
    no_apps: Annotated[
        bool,
        typer.Option("--no-apps", help="Fleets: update only the fleet's own files."),
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Change an answer (repeatable), e.g. "
            "'environments=[dev, qa, staging, prod]'; a fleet's apps follow it.",
        ),
    ] = None,
) -> None:
    """Update a generated repo (a fleet: also its apps) to a newer template
    version, on the branch scaffold/update-<ref>; conflicts exit 3.

    The full behaviour: the README's 'scaffold update' section.
    """
    with handle_errors():
        from scaffold.adapters.git import Git
        from scaffold.adapters.templates import CopierTemplates
        from scaffold.cli.inputs import parse_set
        from scaffold.services.update import update_instances

        git = Git()
        report = update_instances(
            path,
            to_ref=to,
            templates=CopierTemplates(git=git),
            git=git,
            dry_run=dry_run,
            apps=apps or None,
            include_apps=not no_apps,
            changes={k: str(v) for k, v in parse_set(set_ or []).items()} or None,
        )
        for result in report.results:
            for note in result.notes:
                typer.echo(f"note: {note}", err=True)
        if len(report.results) == 1:
            _print_single(report.results[0])
        else:
            _print_many(report)


def _print_single(result: UpdateResult) -> None:
    """One instance: the repo itself (or one app with --app)."""
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
    if result.conflicts:
        _conflicts(result, remaining=[])
    if not result.dry_run:
        typer.echo(
            f"{result.path}: updated {versions} on branch {result.branch} "
            f"(commit {str(result.commit)[:12]}, {len(result.changed)} file(s))"
        )
        for rel in result.changed:
            typer.echo(f"  {rel}")
        branch = str(result.branch)
        _git_commands(
            result.path, "Review and merge it:", [["diff", f"{branch}~1", branch]]
        )


def _print_many(report: UpdateReport) -> None:
    """A fleet: its own instance and its apps', one line each."""
    if report.up_to_date:
        at = sorted({r.to_version for r in report.results})
        typer.echo(
            f"{report.path}: already up to date at {', '.join(at)} "
            f"({len(report.results)} template instances)"
        )
        return
    if report.dry_run:
        typer.echo(f"{report.path}: dry run; nothing was changed")
    for result in report.results:
        typer.echo(_instance_line(result, dry_run=report.dry_run))
        moved = result.from_version != result.to_version
        if moved and not (report.dry_run or result.conflicts or result.up_to_date):
            for rel in result.changed:
                typer.echo(f"  {rel}")
    for label in report.not_run:
        typer.echo(f"{label}: not run (an earlier instance has conflicts)")
    if report.dry_run:
        typer.echo(report.diff, nl=False)
    conflicted = report.conflicted
    if conflicted is not None:
        _conflicts(conflicted, remaining=report.not_run)
    if not report.dry_run:
        count = len(report.commits)
        typer.echo(
            f"{report.path}: updated on branch {report.branch} ({count} commit(s))"
        )
        branch = str(report.branch)
        _git_commands(
            report.path,
            "Review and merge it:",
            [["log", "-p", f"{branch}~{count}..{branch}"]],
        )


def _instance_line(result: UpdateResult, *, dry_run: bool) -> str:
    """One instance of a fleet: what the update did to it."""
    label = result.instance or "."
    versions = f"{result.from_version} → {result.to_version}"
    if result.from_version == result.to_version:
        return f"{label}: unchanged, already at {result.to_version}"
    if result.conflicts:
        return f"{label}: {versions} left conflicts"
    if result.up_to_date:
        return f"{label}: {versions} changes nothing"
    if dry_run:
        return f"{label}: {versions}, {len(result.changed)} file(s)"
    return (
        f"{label}: {versions} (commit {str(result.commit)[:12]}, "
        f"{len(result.changed)} file(s))"
    )


def _conflicts(result: UpdateResult, *, remaining: list[str]) -> None:
    """List the conflicts file by file, tell how to go on; exit 3."""
    from scaffold.services.update import commit_message

    for conflict in result.conflicts:
        typer.echo(f"CONFLICT {conflict.path}: {conflict.reason}")
    instance = result.instance or None
    if result.dry_run:
        raise UpdateConflictError(
            count=len(result.conflicts), branch=None, instance=instance
        )
    subject = commit_message(result.from_version, result.to_version, result.instance)
    branch = str(result.branch)
    typer.echo(
        f"\nThe work tree is on {branch} with the update applied. "
        "Resolve each file above (remove the <<<<<<< ======= >>>>>>> "
        "markers, fold *.rej hunks in and delete them), then:"
    )
    _git_commands(
        result.path,
        None,
        [["add", "-A"], ["commit", "-m", subject]],
        then=(
            "# then run the same scaffold update again (on this branch) for the "
            f"rest: {', '.join(remaining)}"
            if remaining
            else None
        ),
    )
    _git_commands(
        result.path,
        "To abandon the update instead:",
        [
            ["reset", "-q", "--hard"],
            ["clean", "-fdq"],
            ["switch", "-"],
            ["branch", "-D", branch],
        ],
    )
    raise UpdateConflictError(
        count=len(result.conflicts), branch=result.branch, instance=instance
    )


def _git_commands(
    repo: Path, intro: str | None, commands: list[list[str]], *, then: str | None = None
) -> None:
    """Print git commands for the user to run on one indented, quoted shell line
    (``git -C REPO`` unless REPO is the working directory); ``then`` is a ``#``
    comment line after it. A test runs the lines as printed."""
    import shlex

    git = (
        ["git"] if repo.resolve() == Path.cwd().resolve() else ["git", "-C", str(repo)]
    )
    if intro is not None:
        typer.echo(intro)
    typer.echo("  " + " && ".join(shlex.join([*git, *argv]) for argv in commands))
    if then is not None:
        typer.echo(f"  {then}")
