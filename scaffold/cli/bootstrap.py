"""``scaffold bootstrap MANIFEST``: a whole GitOps org from one file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.cli.protect import ApiUrlOption

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import SecretStr

    from scaffold.adapters.git import Git
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.services.bootstrap import BootstrapReport
    from scaffold.services.manifest import Desired


def _table(title: str) -> Any:
    from rich import box
    from rich.table import Table

    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)


def plan_table(report: BootstrapReport) -> Any:
    """The plan: one row per repo, its state and the steps that would run."""
    table = _table(f"scaffold bootstrap plan for {report.org}")
    for column in ("repo", "kind", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("plan", overflow="fold")
    for repo in report.repos:
        state = repo.state + (f" @ {repo.version}" if repo.version else "")
        if repo.outcome == "refused":
            steps = f"refused: {repo.error}"
        else:
            lines = repo.planned + [f"pending {url}" for url in repo.pull_requests]
            steps = "\n".join(lines) or "nothing to do"
        table.add_row(repo.name, repo.kind, state, steps)
    return table


def result_table(report: BootstrapReport) -> Any:
    """What was done: one row per repo with its outcome."""
    table = _table(f"scaffold bootstrap: {report.org}")
    for column in ("repo", "outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("done", overflow="fold")
    table.add_column("url", no_wrap=True)
    for repo in report.repos:
        done = repo.error if repo.error else "\n".join(repo.actions) or "-"
        urls = "\n".join([repo.url or "", *repo.pull_requests]).strip()
        table.add_row(repo.name, repo.outcome, done, urls)
    return table


class _Bar:
    """A progress bar on stderr (terminal only), one tick per finished repo."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("bootstrap", total=total)

    def __call__(self, repo: str, what: str, done: bool) -> None:
        self.progress.update(
            self.task, description=f"{repo}: {what}", advance=1 if done else 0
        )


def _run(desired: Desired, *, jobs: int, dry_run: bool, token: SecretStr, url: str,
         interval: float, git: Git, templates: CopierTemplates, progress: _Bar | None,
         on_plan: Callable[[BootstrapReport], None]) -> BootstrapReport:  # fmt: skip
    """Compose the client, the worker processes and the sealing; run the service."""
    from scaffold.adapters.github import GitHubClient
    from scaffold.adapters.sealing import seal
    from scaffold.services.bootstrap import ProcessRenderer, bootstrap

    with (
        tempfile.TemporaryDirectory(prefix="scaffold-copier-cache-") as cache,
        ProcessRenderer(jobs, Path(cache)) as renderer,
        GitHubClient(token=token, api_url=url, write_interval=interval) as client,
    ):
        return bootstrap(
            desired,
            forge=client,
            git=git,
            token=token,
            templates=templates,
            seal=seal,
            jobs=jobs,
            dry_run=dry_run,
            progress=progress,
            on_plan=on_plan,
            renderer=renderer,
        )


@app.command("bootstrap")
def bootstrap_cmd(
    manifest: Annotated[
        Path,
        typer.Argument(
            metavar="MANIFEST", help="The org manifest (YAML): org, fleet, apps, ..."
        ),
    ],
    *,
    api_url: ApiUrlOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable report on stdout.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", metavar="N", min=1, max=32, help="Repos worked on in parallel."
        ),
    ] = 4,
) -> None:
    """Create or adopt the fleet and app repos a manifest declares, render, push,
    protect them and set their Actions variables and secrets; rerun to converge.
    Token: $GITHUB_TOKEN or $GH_TOKEN."""
    with handle_errors():
        from rich.console import Console

        from scaffold.adapters.git import Git
        from scaffold.adapters.templates import CopierTemplates
        from scaffold.cli.protect import (
            api_url_from,
            token_from_env,
            write_interval_from,
        )
        from scaffold.errors import Interrupted, ReposFailedError
        from scaffold.services.manifest import read_manifest, rules_from_templates

        env = os.environ
        url = api_url_from(api_url, env)
        interval = write_interval_from(env)
        git = Git()
        templates = CopierTemplates(git=git)
        desired = read_manifest(
            manifest, env=env, rules_for=rules_from_templates(templates, env)
        )
        token = token_from_env(env)
        console = Console(soft_wrap=False)
        bar = _Bar(len(desired.repos)) if not as_json and sys.stderr.isatty() else None

        def show_plan(plan: BootstrapReport) -> None:
            if not as_json:
                console.print(plan_table(plan))
            if bar is not None and not dry_run:
                bar.progress.start()  # below the plan, until the work is done

        try:
            report = _run(desired, jobs=jobs, dry_run=dry_run, token=token, url=url,
                          interval=interval, git=git, templates=templates,
                          progress=bar, on_plan=show_plan)  # fmt: skip
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted: some repos may be half done; run the same command "
                "again, it picks up where this run stopped"
            ) from None
        finally:
            if bar is not None:
                bar.progress.stop()
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        elif dry_run:
            typer.echo("dry run: nothing was written")
        else:
            console.print(result_table(report))
            typer.echo(f"{report.writes} write(s)")
        if report.failed:
            raise ReposFailedError(
                failed=[r.name for r in report.failed], total=len(report.repos)
            )
