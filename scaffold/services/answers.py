"""Template answers: defaults, ``when`` conditions, parsing and validation, with
copier's own Jinja (sandboxed, Ansible filters) so everything copier would reject is
rejected before it runs; plus :func:`safety_rule` for every text answer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from scaffold.errors import InvalidAnswerError, MissingAnswersError, UsageError
from scaffold.models import Question

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

KIND_KEY: Final = "repo_kind"


class _Missing:
    """Marker: a question has no default."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class _Deferred:
    """Marker: a default only copier can render (e.g. it includes a template file)."""

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED: Final = _Deferred()

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE: Final = (
    ("..", "must not contain '..' (path traversal)"),
    ("\\", "must not contain '\\'"),
    ('"', "must not contain quotes"),
    ("'", "must not contain quotes"),
    ("`", "must not contain quotes"),
    ("{{", "must not contain template syntax"),
    ("}}", "must not contain template syntax"),
    ("{%", "must not contain template syntax"),
    ("%}", "must not contain template syntax"),
    ("{#", "must not contain template syntax"),
    ("$", "must not contain '$'"),
    ("#", "must not contain '#'"),
    (": ", "must not contain ': '"),
)


def safety_rule(value: str) -> str | None:
    """The generic rule every string answer obeys; the broken rule or None.

    Answers end up in file names, YAML and Jinja of the generated repo, so: one line,
    no path traversal, no absolute paths, no quotes, no template syntax, no YAML
    comment or mapping indicators.
    """
    if _CONTROL.search(value):
        return "must be a single line without control characters"
    if value.startswith(("/", "~")):
        return "must not be an absolute path"
    if value.endswith(":"):
        return "must not end with ':'"
    for needle, rule in _UNSAFE:
        if needle in value:
            return rule
    if kind := yaml_retyped(value):
        return (
            f"must stay text when written unquoted in YAML (this reads as {kind}; "
            "values like true, on, y, null, 123, 1e3, 0x10, 2024-01-01 are re-typed)"
        )
    return None


# Scalars YAML re-types that PyYAML (YAML 1.1) leaves as text: YAML 1.1 booleans
# Go's yaml.v2 resolves (kubectl, kustomize) and YAML 1.2 core-schema numbers
# (yaml.v3, Helm: 1e3, 0o17)
_GO_YAML_BOOLS: Final = frozenset({"y", "Y", "n", "N"})
_YAML12_NUMBER: Final = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"
    r"|^0o[0-7]+$|^0x[0-9a-fA-F]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


def yaml_retyped(value: str) -> str | None:
    """The type YAML gives ``value`` written unquoted (``key: value``) when that
    is not text (a boolean, null, a number, a date), else None.

    The empty string is left to the templates (they test for it); values YAML
    cannot read unquoted at all (``@team``) are quoted by the templates.
    """
    if value == "":
        return None
    if value != value.strip():
        return "text without its leading/trailing spaces"
    if value in _GO_YAML_BOOLS:
        return "a boolean"
    if _YAML12_NUMBER.match(value):
        return "a number"
    import yaml  # lazy: keeps CLI start-up fast

    try:
        loaded = yaml.safe_load(f"key: {value}")
    except yaml.YAMLError:
        return None
    got = loaded.get("key") if isinstance(loaded, dict) else value
    if got is None:
        return "null"
    if isinstance(got, bool):
        return "a boolean"
    if isinstance(got, (int, float)):
        return "a number"
    names = {"date": "a date", "datetime": "a timestamp"}
    return names.get(type(got).__name__)


def cast_to_bool(value: Any) -> bool:
    """Copier's bool parsing (numbers, YAML booleans and nulls, then ``bool``)."""
    try:
        return bool(float(value))
    except (TypeError, ValueError):
        pass
    if isinstance(value, str):
        lower = value.strip().lower()
        if lower in {"", "n", "no", "f", "false", "off", "~", "null", "none"}:
            return False
        if lower in {"y", "yes", "t", "true", "on"}:
            return True
    return bool(value)


def _parse_yaml(key: str, raw: Any) -> Any:
    """A ``type: yaml`` answer: text (``--set``, the wizard) is parsed as YAML;
    values from an answers file arrive parsed already."""
    if not isinstance(raw, str):
        return raw
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        raise InvalidAnswerError(
            key=key, rule="must be YAML, e.g. [dev, staging, prod]"
        ) from None


def _strings(value: Any) -> list[str]:
    """Every string in an answer (the value itself, or the items of a YAML list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


_TRUE: Final = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE: Final = frozenset({"n", "no", "f", "false", "off", "0"})


def parse_bool(key: str, raw: Any) -> bool:
    """A boolean answer: a bool, 0/1, or yes/no, true/false, on/off (any case).

    Anything else, the empty string included, is an error (copier would read
    ``""`` as false and any other text as true).
    """
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidAnswerError(key=key, rule="must be true or false (yes/no, on/off)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """Outcome of :meth:`AnswerRules.resolve`."""

    answers: dict[str, Any]  # every asked key with a value, in question order
    missing: list[str] = field(default_factory=list)  # asked, no value, no default


class AnswerRules:
    """Renders and checks answers against the questions of one template version."""

    def __init__(self, questions: Iterable[Question]) -> None:
        self.questions = list(questions)
        self.by_key = {q.key: q for q in self.questions}
        self._compiled: dict[str, Template] = {}

    @cached_property
    def _env(self) -> SandboxedEnvironment:
        from jinja2.sandbox import SandboxedEnvironment
        from jinja2_ansible_filters import AnsibleCoreFiltersExtension

        return SandboxedEnvironment(
            extensions=[AnsibleCoreFiltersExtension], keep_trailing_newline=True
        )

    def render(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Render ``value`` as Jinja if it is a string; other values pass through."""
        if not isinstance(value, str):
            return value
        template = self._compiled.get(value)
        if template is None:
            template = self._compiled[value] = self._env.from_string(value)
        return template.render(dict(context))

    # --- per question -------------------------------------------------------

    def is_hidden(self, question: Question) -> bool:
        """True for computed questions (``when: false``): never asked, never set."""
        return question.when is False or (
            isinstance(question.when, str)
            and "{" not in question.when
            and not cast_to_bool(question.when)
        )

    def is_asked(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Evaluate the question's ``when`` against earlier answers."""
        if question.when is True:
            return True
        return cast_to_bool(self.render(question.when, answers))

    def default(self, question: Question, answers: Mapping[str, Any]) -> Any:
        """The default rendered against earlier answers and parsed.

        MISSING when there is none; DEFERRED when it cannot be rendered here (it
        needs copier's template loader): copier then computes and validates it.
        """
        if question.default is None:
            return MISSING
        try:
            rendered = self.render(question.default, answers)
        except Exception:
            return DEFERRED
        try:
            return self.parse(question, rendered)
        except InvalidAnswerError:
            return rendered

    def parse(self, question: Question, raw: Any) -> Any:
        """Convert a raw answer (text from ``--set`` or the wizard) to its type."""
        key, kind = question.key, question.type
        if kind == "yaml":
            return _parse_yaml(key, raw)
        if isinstance(raw, (dict, list)) or raw is None:
            raise InvalidAnswerError(key=key, rule=f"must be a single {kind} value")
        if kind == "int":
            if isinstance(raw, bool):
                raise InvalidAnswerError(key=key, rule="must be an integer")
            try:
                return int(str(raw).strip())
            except ValueError:
                raise InvalidAnswerError(key=key, rule="must be an integer") from None
        if kind == "float":
            try:
                return float(str(raw).strip())
            except ValueError:
                raise InvalidAnswerError(key=key, rule="must be a number") from None
        if kind == "bool":
            return parse_bool(key, raw)
        return raw if isinstance(raw, str) else str(raw)

    def problem(
        self,
        question: Question,
        value: Any,
        answers: Mapping[str, Any],
        *,
        safety: bool = True,
    ) -> str | None:
        """The rule ``value`` breaks (choices, safety, copier validator) or None.

        ``safety=False`` leaves out :func:`safety_rule` (copier's own rules only,
        as for the answers of an app inside a fleet).
        """
        if question.choices is not None:
            allowed = list(question.choices.values())
            if value not in allowed:
                return "must be one of: " + ", ".join(str(v) for v in allowed)
        for text in _strings(value) if safety else []:
            if rule := safety_rule(text):
                return rule
        if question.validator:
            try:
                message = str(
                    self.render(question.validator, {**answers, question.key: value})
                ).strip()
            except Exception as exc:  # a validator that fails to render rejects
                message = f"invalid value ({type(exc).__name__})"
            if message:
                return message
        return None

    def check(self, question: Question, raw: Any, answers: Mapping[str, Any]) -> Any:
        """Parse and validate; return the typed value or raise InvalidAnswerError."""
        value = self.parse(question, raw)
        if rule := self.problem(question, value, answers):
            raise InvalidAnswerError(key=question.key, rule=rule)
        return value

    # --- whole questionnaire --------------------------------------------------

    def check_keys(self, given: Mapping[str, Any]) -> None:
        """Reject keys the template does not ask (unknown or computed)."""
        known = [q.key for q in self.questions if not self.is_hidden(q)]
        for key in given:
            question = self.by_key.get(key)
            if question is None:
                raise InvalidAnswerError(
                    key=key, rule=f"unknown key (known: {', '.join(known)})"
                )
            if self.is_hidden(question):
                raise InvalidAnswerError(
                    key=key, rule="computed by the template; it cannot be set"
                )

    def resolve(
        self, given: Mapping[str, Any], *, fill_defaults: bool = True
    ) -> Resolution:
        """Validate ``given`` in question order and complete it with defaults.

        Raises :class:`InvalidAnswerError` for the first bad answer (unknown key,
        a key that does not apply to this kind, a broken rule). Keys without an
        answer and without a default (or every unanswered key when
        ``fill_defaults`` is false) are returned in ``missing``.
        """
        self.check_keys(given)
        answers: dict[str, Any] = {}
        missing: list[str] = []
        for question in self.questions:
            if self.is_hidden(question):
                continue
            key = question.key
            if not self.is_asked(question, answers):
                if key in given and KIND_KEY in answers:
                    raise InvalidAnswerError(
                        key=key, rule="does not apply to this kind of repository"
                    )
                continue
            if key in given:
                answers[key] = self.check(question, given[key], answers)
                continue
            default = MISSING if not fill_defaults else self.default(question, answers)
            if default is MISSING:
                missing.append(key)
                continue
            if default is DEFERRED:
                continue
            try:
                answers[key] = self.check(question, default, answers)
            except InvalidAnswerError:
                if missing:  # the default depends on a missing answer
                    continue
                raise
        return Resolution(answers=answers, missing=missing)

    def require(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`resolve` with defaults; raise MissingAnswersError on any gap."""
        resolution = self.resolve(given, fill_defaults=True)
        if resolution.missing:
            raise MissingAnswersError(keys=resolution.missing)
        return resolution.answers


def only_kinds(questions: Iterable[Question], kinds: Iterable[str]) -> list[Question]:
    """The questions with ``repo_kind``'s choices cut down to ``kinds``.

    copier.yml may know kinds that ``scaffold new`` must not offer (e.g. a kind that
    only another command renders).
    """
    allowed = set(kinds)
    result = []
    for question in questions:
        if question.key == KIND_KEY and question.choices is not None:
            choices = {k: v for k, v in question.choices.items() if v in allowed}
            question = replace(question, choices=choices)
        result.append(question)
    return result


def merge_kind(kind: str | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """Fold the KIND argument into the answers; a conflicting ``repo_kind`` fails."""
    data = dict(given)
    if kind is None:
        return data
    if KIND_KEY in data and str(data[KIND_KEY]) != kind:
        raise UsageError(
            f"{KIND_KEY}: {data[KIND_KEY]!r} conflicts with the KIND argument {kind!r}"
        )
    data[KIND_KEY] = kind
    return data
