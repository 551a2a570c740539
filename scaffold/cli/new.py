"""``scaffold new``: generate an app or infra repo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scaffold.cli.app import app, handle_errors
from scaffold.cli.inputs import load_answers, parse_set
from scaffold.errors import Aborted, MissingAnswersError
from scaffold.models import GeneratedRepo, RepoKind

if TYPE_CHECKING:
    from scaffold.services.new import NewResult


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
            help="Template source (git URL or path). Default: see 'Template "
            "source and versions' in the README.",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="REF",
            help="Template version (git tag or HEAD). Default: see 'Template "
            "source and versions' in the README.",
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
            infra=infra,
        )
        print_result(result.repo)
        if result.registered is not None:
            from scaffold.cli.fleet import added_summary

            typer.echo(added_summary(result.registered))


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
    infra: Path | None = None,
) -> NewResult:
    """Composition root of ``scaffold new``: build adapters, ask, run the service.

    Parsing and asking end in a :class:`~scaffold.services.new.NewOptions`; the
    use case itself (render, commit, register into ``infra``) is
    :func:`~scaffold.services.new.run_new`.
    """
    from scaffold import __version__
    from scaffold.adapters.git import Git
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.cli.wizard import QuestionaryPrompter, run_wizard, summary
    from scaffold.config import resolve_template, source_checkout
    from scaffold.services.answers import KIND_KEY, AnswerRules, merge_kind, only_kinds
    from scaffold.services.new import (
        NewOptions,
        check_destination,
        check_git_identity,
        run_new,
        with_default_ref,
    )

    given = merge_kind(kind.value if kind else None, given)
    if infra is not None and given.get(KIND_KEY) == "app":
        from scaffold.services.fleet import app_answers_for, read_fleet

        # infra_repo is the fleet's own: never asked, a different one is an error
        given = app_answers_for(read_fleet(infra, field="--infra"), given)
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
        given, dest = data, target
    elif resolution.missing:
        raise MissingAnswersError(keys=resolution.missing)
    options = NewOptions(
        kind=RepoKind(str(given[KIND_KEY])),
        dest=dest or Path(str(given.get("name", resolution.answers.get("name")))),
        answers={k: v for k, v in given.items() if k != KIND_KEY},
        source=source,
        commit=git_enabled,
        force=force,
        author=author,
        infra=infra,
    )
    return run_new(
        options,
        templates=templates,
        git=git,
        rules=rules,
        confirm=_confirm if stdin_is_terminal() else None,
    )


def _confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal (default no)."""
    from scaffold.cli.wizard import QuestionaryPrompter

    return QuestionaryPrompter().confirm(question, False)


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
