"""The interactive ``scaffold new`` wizard (questionary).

The questions are the template's own (``copier.yml``, read by the template adapter);
defaults, ``when`` conditions and validators are rendered by
:class:`scaffold.services.answers.AnswerRules`, so the wizard accepts exactly what the
non-interactive path and copier accept. Prompting goes through a :class:`Prompter`
so tests can drive the same code without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from scaffold.errors import InvalidAnswerError
from scaffold.models import Question
from scaffold.services.answers import DEFERRED, KIND_KEY, MISSING, AnswerRules

Validate = Callable[[str], str | None]


class Prompter(Protocol):
    """How the wizard talks to the user."""

    def select(
        self, message: str, choices: list[tuple[str, Any]], default: Any
    ) -> Any: ...

    def text(self, message: str, default: str, validate: Validate) -> str: ...

    def confirm(self, message: str, default: bool) -> bool: ...

    def show(self, text: str) -> None: ...


class QuestionaryPrompter:
    """:class:`Prompter` on a real terminal. Ctrl-C raises KeyboardInterrupt."""

    def select(self, message: str, choices: list[tuple[str, Any]], default: Any) -> Any:
        """A select list; returns the chosen value."""
        import questionary

        options = [
            questionary.Choice(title=label, value=value) for label, value in choices
        ]
        chosen = next((c for c in options if c.value == default), None)
        return questionary.select(message, choices=options, default=chosen).unsafe_ask()

    def text(self, message: str, default: str, validate: Validate) -> str:
        """A line of text, validated as you type (on Enter)."""
        import questionary

        def check(value: str) -> bool | str:
            problem = validate(value)
            return True if problem is None else problem

        return str(
            questionary.text(message, default=default, validate=check).unsafe_ask()
        )

    def confirm(self, message: str, default: bool) -> bool:
        """Yes or no."""
        import questionary

        return bool(questionary.confirm(message, default=default).unsafe_ask())

    def show(self, text: str) -> None:
        """Print a block of text."""
        import typer

        typer.echo(text)


def message_for(question: Question) -> str:
    """The prompt line: help text and the key."""
    text = question.help.strip() or question.key
    return f"{text} [{question.key}]"


def ordered(rules: AnswerRules) -> list[Question]:
    """The questions in asking order: the kind first, then copier.yml's order."""
    kind = [q for q in rules.questions if q.key == KIND_KEY]
    return kind + [q for q in rules.questions if q.key != KIND_KEY]


def run_wizard(
    rules: AnswerRules,
    given: Mapping[str, Any],
    *,
    prompter: Prompter,
    use_defaults: bool = False,
) -> dict[str, Any]:
    """Ask every applicable question not answered in ``given``; return all answers.

    With ``use_defaults`` only questions without a (valid) default are asked.
    """
    rules.check_keys(given)
    answers: dict[str, Any] = {}
    for question in ordered(rules):
        key = question.key
        if rules.is_hidden(question) or not rules.is_asked(question, answers):
            continue
        if key in given:
            answers[key] = rules.check(question, given[key], answers)
            continue
        default = rules.default(question, answers)
        if default is DEFERRED:
            if use_defaults:
                continue  # copier renders it
            default = MISSING
        if (
            use_defaults
            and default is not MISSING
            and rules.problem(question, default, answers) is None
        ):
            answers[key] = default
            continue
        answers[key] = ask(rules, question, answers, default, prompter)
    for key in given:
        if key not in answers:
            raise InvalidAnswerError(
                key=key, rule="does not apply to this kind of repository"
            )
    return answers


def ask(
    rules: AnswerRules,
    question: Question,
    answers: Mapping[str, Any],
    default: Any,
    prompter: Prompter,
) -> Any:
    """Ask one question until the answer is valid; return the typed value."""
    message = message_for(question)
    if question.type == "bool" and question.choices is None:
        flag = prompter.confirm(
            message, bool(default) if default is not MISSING else False
        )
        return rules.check(question, flag, answers)
    if question.choices is not None:
        choices = list(question.choices.items())
        value = prompter.select(
            message, choices, None if default is MISSING else default
        )
        return rules.check(question, value, answers)

    def validate(text: str) -> str | None:
        try:
            value = rules.parse(question, text)
        except InvalidAnswerError as exc:
            return exc.rule
        return rules.problem(question, value, answers)

    shown = "" if default is MISSING else _as_text(default)
    while True:  # the prompter validates; re-ask if it did not
        text = prompter.text(message, shown, validate)
        if validate(text) is None:
            return rules.parse(question, text)
        shown = text


def _as_text(value: Any) -> str:
    """A default as the user would type it: YAML flow style for lists and maps."""
    if isinstance(value, (list, dict)):
        import yaml

        return str(yaml.safe_dump(value, default_flow_style=True)).strip()
    return str(value)


def summary(answers: Mapping[str, Any], dest: Path) -> str:
    """The answers as an aligned block, for the confirmation step."""
    width = max([len("destination"), *(len(k) for k in answers)])
    lines = [
        f"  {key.ljust(width)}  {_as_text(value)}" for key, value in answers.items()
    ]
    return "\n".join(
        ["", "Summary:", *lines, f"  {'destination'.ljust(width)}  {dest}"]
    )
