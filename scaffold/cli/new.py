"""``scaffold new``: generate an app or infra repo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import fleet as fleet_cli
from scaffold.cli.app import app, handle_errors
from scaffold.config import resolve_template
from scaffold.errors import InvalidAnswerError, UsageError
from scaffold.models import RepoKind
from scaffold.services.new import create_repo


def _parse_set(values: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        result[key.strip()] = value
    return result


def _load_answers(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--answers {path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"--answers {path}: invalid YAML") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--answers {path}: must be a YAML mapping of key: value")
    return {str(k): v for k, v in data.items() if not str(k).startswith("_")}


@app.command()
def new(
    kind: Annotated[
        RepoKind | None, typer.Argument(help="What to generate: app or infra.")
    ] = None,
    dest: Annotated[
        Path | None, typer.Argument(help="Destination directory (default: ./NAME).")
    ] = None,
    *,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Answer KEY=VALUE (repeatable)."),
    ] = None,
    answers: Annotated[
        Path | None, typer.Option("--answers", help="YAML file of answers.")
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Use defaults for unanswered keys.")
    ] = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Template source (git URL or path). Default: $SCAFFOLD_TEMPLATE, "
            "the config file, or this source checkout.",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option("--ref", help="Template version (git tag); default: latest."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a non-empty destination.")
    ] = False,
    no_git: Annotated[
        bool, typer.Option("--no-git", help="Do not git init / commit.")
    ] = False,
    author: Annotated[
        str | None,
        typer.Option("--author", help="First commit author, 'Name <email>'."),
    ] = None,
    infra: Annotated[
        Path | None,
        typer.Option("--infra", help="Also register the app in this fleet repo."),
    ] = None,
) -> None:
    """Generate a new app or infra repo."""
    with handle_errors():
        data = {**_load_answers(answers), **_parse_set(set_ or [])}
        if kind is None:
            raise UsageError("kind: give 'app' or 'infra'")
        if "name" not in data and not defaults:
            raise InvalidAnswerError(key="name", rule="required")
        source = resolve_template(template, ref, os.environ)
        if infra is not None:  # fail before writing anything
            fleet_cli.check_infra(infra, kind.value, data)
        git = Git()
        target = dest or Path(str(data.get("name", kind.value)))
        result = create_repo(
            kind=kind,
            dest=target,
            answers=data,
            source=source,
            templates=CopierTemplates(git=git),
            git=None if no_git else git,
            force=force,
            author=author,
        )
        typer.echo(f"Created {result.kind.value} repo {result.path}")
        if infra is not None:
            typer.echo(
                fleet_cli.register_new_app(
                    infra, result.answers, source, commit=not no_git
                )
            )
