"""``scaffold new``: generate an app or infra repo."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.errors import Aborted, MissingAnswersError, UsageError
from scaffold.models import GeneratedRepo, RepoKind


def parse_set(values: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict (values stay text; types are parsed later)."""
    result: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        result[key.strip()] = value
    return result


def load_answers(path: Path | None) -> dict[str, Any]:
    """Answers from a YAML mapping; copier's private ``_`` keys are ignored."""
    if path is None:
        return {}
    import yaml

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


def stdin_is_terminal() -> bool:
    """True when the wizard can prompt."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@app.command()
def new(
    kind: Annotated[
        RepoKind | None,
        typer.Argument(help="What to generate: app or infra (asked when omitted)."),
    ] = None,
    dest: Annotated[
        Path | None, typer.Argument(help="Destination directory (default: ./NAME).")
    ] = None,
    *,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="An answer (repeatable)."),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option("--answers", metavar="FILE", help="YAML file of answers."),
    ] = None,
    defaults: Annotated[
        bool,
        typer.Option(
            "--defaults",
            help="Take the default for every unanswered question that has one.",
        ),
    ] = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="SRC",
            help="Template source (git URL or path). Default: $SCAFFOLD_TEMPLATE, "
            "the config file, or this source checkout.",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="REF",
            help="Template version (git tag or HEAD). Default: the tag "
            "v<scaffold version> if the source has it, else HEAD of a source "
            "checkout, else the highest version tag.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a non-empty destination directory."),
    ] = False,
    no_git: Annotated[
        bool, typer.Option("--no-git", help="Do not git init or commit.")
    ] = False,
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            metavar="'NAME <EMAIL>'",
            help="Author of the first commit (default: git config).",
        ),
    ] = None,
    infra: Annotated[
        Path | None,
        typer.Option(
            "--infra",
            metavar="FLEET",
            help="Also register the app in this fleet (infra) repo.",
        ),
    ] = None,
) -> None:
    """Generate a new app or infra repo from the template.

    On a terminal, a wizard asks every question not answered by --set/--answers
    (--defaults: only those without a default). Without a terminal, unanswered
    questions take their defaults and a question without one is an error.
    """
    with handle_errors():
        given = {**load_answers(answers), **parse_set(set_ or [])}
        if infra is not None:
            from scaffold.cli import fleet as fleet_cli

            fleet_cli.check_infra_kind(kind.value if kind else given.get("repo_kind"))
            given = fleet_cli.infra_answers(infra, given, git=not no_git)
        result = generate(
            kind=kind,
            dest=dest,
            given=given,
            defaults=defaults,
            template=template,
            ref=ref,
            force=force,
            git_enabled=not no_git,
            author=author,
            before_write=None
            if infra is None
            # fail before anything is written: fleet missing, not a fleet, app exists
            else lambda k, a: _check_infra(infra, k.value, a),
        )
        print_result(result)
        if infra is not None:
            from scaffold.cli import fleet as fleet_cli

            typer.echo(
                fleet_cli.register_new_app(
                    infra,
                    result.answers,
                    result.template,
                    commit=not no_git,
                    app_commit=result.commit,
                )
            )


def _check_infra(infra: Path, kind: str, answers: dict[str, Any]) -> None:
    from scaffold.cli import fleet as fleet_cli

    fleet_cli.check_infra(infra, kind, answers)


def generate(
    *,
    kind: RepoKind | None,
    dest: Path | None,
    given: dict[str, Any],
    defaults: bool,
    template: str | None,
    ref: str | None,
    force: bool,
    git_enabled: bool,
    author: str | None,
    before_write: Callable[[RepoKind, dict[str, Any]], None] | None = None,
) -> GeneratedRepo:
    """Composition root of ``scaffold new``: build adapters, ask, call the service.

    ``before_write(kind, answers)`` runs once every answer is known and before
    anything is written: the hook for options that must fail fast (e.g. checking a
    fleet repo the new app will be registered in).
    """
    from scaffold import __version__
    from scaffold.adapters.git import Git
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.cli.wizard import QuestionaryPrompter, run_wizard, summary
    from scaffold.config import resolve_template, source_checkout
    from scaffold.services.answers import KIND_KEY, AnswerRules, merge_kind, only_kinds
    from scaffold.services.new import (
        check_destination,
        check_git_identity,
        create_repo,
        with_default_ref,
    )

    given = merge_kind(kind.value if kind else None, given)
    git = Git()
    templates = CopierTemplates(git=git)
    source = with_default_ref(
        resolve_template(template, ref, os.environ),
        templates=templates,
        version=__version__,
        checkout=source_checkout(),
    )
    questions = only_kinds(templates.questions(source), [k.value for k in RepoKind])
    rules = AnswerRules(questions)
    # fail fast, before asking anything
    if dest is not None:
        check_destination(dest, force=force)
    if git_enabled:
        check_git_identity(git, dest.resolve().parent if dest else Path.cwd(), author)
    resolution = rules.resolve(given, fill_defaults=True)
    # asked for this kind, not given (taking a default or missing)
    unanswered = [k for k in resolution.answers if k not in given]
    unanswered += resolution.missing
    wants_wizard = bool(resolution.missing) or (not defaults and bool(unanswered))
    if wants_wizard and stdin_is_terminal():
        prompter = QuestionaryPrompter()
        data = run_wizard(rules, given, prompter=prompter, use_defaults=defaults)
        target = (dest or Path(str(data["name"]))).resolve()
        check_destination(target, force=force)
        prompter.show(summary(data, target))
        if not prompter.confirm("Generate this repository?", True):
            raise Aborted("aborted; nothing was written")
        given, dest, complete = data, target, data
    elif resolution.missing:
        raise MissingAnswersError(keys=resolution.missing)
    else:
        complete = resolution.answers
    repo_kind = RepoKind(str(given[KIND_KEY]))
    if before_write is not None:
        before_write(repo_kind, dict(complete))
    return create_repo(
        kind=repo_kind,
        dest=dest or Path(str(given.get("name", resolution.answers.get("name")))),
        answers={k: v for k, v in given.items() if k != KIND_KEY},
        source=source,
        templates=templates,
        git=git if git_enabled else None,
        force=force,
        author=author,
        rules=rules,
    )


def print_result(result: GeneratedRepo) -> None:
    """Tell the user what was made and what to do next."""
    version = result.answers.get("_commit", result.template.ref or "latest")
    typer.echo(
        f"Created {result.kind.value} repo {result.path} "
        f"(template {result.template.url} @ {version})"
    )
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if result.next_steps:
        typer.echo("\nNext steps:")
        for step in result.next_steps:
            typer.echo(f"  {step}")
