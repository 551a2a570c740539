"""``scaffold rollout``: push a template release into every repo of an org, one
pull request each; ``scaffold status``: the org's template version dashboard."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from scaffold.cli.app import app, error, handle_errors
from scaffold.cli.protect import (
    ApiUrlOption,
    api_url_from,
    token_from_env,
    write_interval_from,
)

if TYPE_CHECKING:  # imported lazily at run time (CLI start-up)
    from collections.abc import Callable

    from scaffold.services.rollout import Event, RolloutReport
    from scaffold.services.status import StatusRow

_TEMPLATE_HELP = (
    "The template the repos were generated from (the URL their _src_path records). "
    "Default: $SCAFFOLD_TEMPLATE, the config file, or this source checkout."
)
OrgOption = Annotated[
    str, typer.Option("--org", metavar="ORG", help="The GitHub organization.")
]
TemplateOption = Annotated[
    str | None, typer.Option("--template", metavar="SRC", help=_TEMPLATE_HELP)
]


def default_workdir(org: str) -> Path:
    """``$XDG_CACHE_HOME/scaffold/rollout/<org>`` (``~/.cache`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scaffold" / "rollout" / org


@app.command("rollout")
def rollout_cmd(
    *,
    org: OrgOption,
    repos: Annotated[
        list[str] | None,
        typer.Option(
            "--repo",
            metavar="OWNER/NAME",
            help="Only these repos (repeatable).",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="REF",
            help="Template version (default: its highest release tag).",
        ),
    ] = None,
    template: TemplateOption = None,
    api_url: ApiUrlOption = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", metavar="N", min=1, help="Repos updated in parallel."),
    ] = 4,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Discovery and diff statistics per repo; no push, no API write.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON report on stdout.")
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            help="Template cache and scratch clones, kept between runs "
            "(default: $XDG_CACHE_HOME/scaffold/rollout/ORG).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Only the I-th of N stable, disjoint shares of the repos.",
        ),
    ] = None,
    on_conflict: Annotated[
        Literal["skip", "draft"],
        typer.Option(
            "--on-conflict",
            help="skip: push nothing for that repo; draft: a draft PR with the "
            "conflict markers.",
        ),
    ] = "skip",
) -> None:
    """Open a template-update pull request in every repo of ORG generated from
    the template (fleets: with their apps). Never pushes to a default branch;
    a rerun converges with no writes. Exit 0: all updated or up to date;
    3: conflicts or failures (the other repos were still done).
    Token: $GITHUB_TOKEN or $GH_TOKEN."""
    with handle_errors():
        from scaffold.adapters.git import Git
        from scaffold.adapters.github import GitHubClient
        from scaffold.config import resolve_template
        from scaffold.services.discovery import Shard, parse_repo_names
        from scaffold.services.rollout import RolloutOptions, rollout

        options = RolloutOptions(
            org=org,
            template=resolve_template(template, None).url,
            workdir=workdir or default_workdir(org),
            to_ref=to,
            repos=parse_repo_names(org, repos or []),
            jobs=jobs,
            dry_run=dry_run,
            shard=Shard.parse(shard) if shard else None,
            on_conflict=on_conflict,
        )
        url = api_url_from(api_url, os.environ)
        token = token_from_env(os.environ)
        interval = write_interval_from(os.environ)
        try:
            with (
                GitHubClient(
                    token=token, api_url=url, write_interval=interval
                ) as client,
                _progress(enabled=not as_json) as on_event,
            ):
                report = rollout(
                    options,
                    forge=client,
                    git=Git(),
                    token=token.get_secret_value(),
                    on_event=on_event,
                )
        except KeyboardInterrupt:
            error(
                "interrupted; repos already done keep their pull requests, "
                "run the same command again to carry on"
            )
            raise typer.Exit(130) from None
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            _print_report(report)
    raise typer.Exit(report.exit_code)


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[Event], None] | None]:
    """A live bar on a terminal (done/total, each worker's repo, elapsed)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    running: list[str] = []
    progress = Progress(
        SpinnerColumn(),
        TextColumn("rollout"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("discovering", total=None)

    def on_event(event: Event) -> None:
        if event.kind == "read":
            progress.update(task, description=f"reading {event.repo}")
        elif event.kind == "total":
            progress.update(task, total=event.total, description="")
        elif event.kind == "start":
            running.append(event.repo)
        elif event.kind == "done":
            if event.repo in running:
                running.remove(event.repo)
            progress.advance(task)
        if event.kind in {"start", "done"}:
            progress.update(task, description=", ".join(running))

    with progress:
        yield on_event


def _print_report(report: RolloutReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"scaffold rollout {report.org} → {report.to_version}")
    for column in ("repo", "from → to", "outcome", "PR / detail"):
        table.add_column(column, overflow="fold")
    for repo in report.repos:
        detail = repo.pr_url or repo.error or ""
        if report.dry_run and repo.files:
            detail = f"{len(repo.files)} file(s), +{repo.insertions} -{repo.deletions}"
        table.add_row(
            repo.repo,
            f"{repo.from_version or '-'} → {repo.to_version}",
            repo.outcome.value,
            detail,
        )
    console.print(table)
    for repo in report.repos:
        for conflict in repo.conflicts:
            console.print(f"CONFLICT {repo.repo} {conflict}", markup=False)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
    suffix = " (dry run: nothing was pushed or written)" if report.dry_run else ""
    console.print(f"{len(report.repos)} repo(s): {counts}{suffix}", markup=False)


@app.command("status")
def status_cmd(
    *,
    org: OrgOption,
    template: TemplateOption = None,
    api_url: ApiUrlOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list on stdout.")
    ] = False,
) -> None:
    """Template version of every generated repo (and fleet app) in ORG, how many
    releases behind it is, and its open update pull request; API only, no clone.
    Token: $GITHUB_TOKEN or $GH_TOKEN."""
    with handle_errors():
        from scaffold.adapters.git import Git
        from scaffold.adapters.github import GitHubClient
        from scaffold.config import resolve_template
        from scaffold.services.status import org_status

        source = resolve_template(template, None).url
        url = api_url_from(api_url, os.environ)
        token = token_from_env(os.environ)
        git = Git()
        if source.startswith(("https://", "http://")):
            git = git.with_token(source, token.get_secret_value())
        with GitHubClient(token=token, api_url=url) as client:
            rows = org_status(client, git, org=org, template=source)
        if as_json:
            typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        else:
            _print_status(org, rows)


def _print_status(org: str, rows: list[StatusRow]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"template versions in {org}")
    for column in ("repo", "instance", "version", "behind", "update PR"):
        table.add_column(column, overflow="fold")
    for row in rows:
        behind = "?" if row.behind < 0 else str(row.behind)
        table.add_row(
            row.repo, row.instance or ".", row.version, behind, row.pr_url or ""
        )
    console.print(table)
    current = sum(1 for r in rows if r.behind == 0)
    latest = rows[0].latest if rows else "-"
    console.print(
        f"{len(rows)} instance(s); {current} at the latest release {latest}",
        markup=False,
    )
