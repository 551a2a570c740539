"""The ``scaffold bootstrap`` manifest: an org's fleet and apps in one YAML file.

Reading it reports every problem at once, each with its line: the structure
(pydantic, unknown keys are errors), app names (the fleet's rules), duplicates,
``env:`` secrets whose variable is unset, and every repo's answers checked with
the same rules as ``scaffold new`` (:class:`~scaffold.services.answers.AnswerRules`
over the template's ``copier.yml``: unknown keys, choices, copier's validators,
required answers without a default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from scaffold.errors import InvalidAnswerError, ScaffoldError, UsageError
from scaffold.layout import DEFAULT_BRANCH
from scaffold.models import Question, RepoKind, TemplateSource
from scaffold.services.answers import KIND_KEY, AnswerRules
from scaffold.services.fleet import app_name_problem, fleet_app_data

# GitHub: letters, digits and '_'; not starting with a digit or GITHUB_
_ACTIONS_NAME = r"^(?!GITHUB_)(?![0-9])[A-Za-z0-9_]+$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# GitHub: lowercase letters, digits and '-', at most 50 characters, 20 per repo
Topic = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]
# answers bootstrap sets itself, and from what
_SET_BY_BOOTSTRAP = {"name": "the repo's name", "owner": "org", KIND_KEY: "the section"}

Path_ = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretFromEnv(_Strict):
    env: str = Field(pattern=_ENV_NAME)


class ActionsSpec(_Strict):
    variables: dict[str, str | int] = {}
    secrets: dict[str, SecretFromEnv] = {}


class FleetSpec(_Strict):
    name: str
    answers: dict[str, Any] = {}
    topics: list[Topic] = Field(default=[], max_length=20)


class AppSpec(_Strict):
    name: str
    answers: dict[str, Any] = {}
    fleet: dict[str, Any] = {}  # answers of this app's registration in the fleet
    topics: list[Topic] = Field(default=[], max_length=20)


class Manifest(_Strict):
    org: str
    template: str | None = None
    ref: str | None = None
    visibility: Literal["private", "internal", "public"] = "private"
    defaults: dict[str, Any] = {}
    topics: list[Topic] = Field(default=[], max_length=20)  # on every repo
    fleet: FleetSpec
    apps: list[AppSpec] = []
    actions: ActionsSpec = ActionsSpec()


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    line: int | None
    where: str
    rule: str


class ManifestError(UsageError):
    """The manifest has problems (exit 2); every one is listed with its line."""

    def __init__(self, *, path: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [
            f"{path}:{p.line or '?'}: {p.where}: {p.rule}"
            if p.where
            else f"{path}:{p.line or '?'}: {p.rule}"
            for p in problems
        ]
        super().__init__(
            f"{path}: {len(problems)} problem(s); nothing was written\n  "
            + "\n  ".join(lines)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoSpec:
    """One repository the manifest declares, with its complete, checked answers."""

    name: str
    kind: RepoKind
    answers: dict[str, Any]  # without repo_kind; defaults filled in
    fleet_answers: dict[str, Any] = field(default_factory=dict)  # apps only
    topics: tuple[str, ...] = ()  # sorted; empty: topics are left alone

    @property
    def default_branch(self) -> str:
        return str(self.answers.get("default_branch") or DEFAULT_BRANCH)


@dataclass(frozen=True, slots=True, kw_only=True)
class Desired:
    """The checked manifest: what the org should look like."""

    org: str
    visibility: str
    source: TemplateSource
    fleet: RepoSpec
    apps: tuple[RepoSpec, ...]
    variables: dict[str, str]
    secrets: dict[str, SecretStr]  # values read from the environment

    @property
    def repos(self) -> tuple[RepoSpec, ...]:
        return (self.fleet, *self.apps)


# --- YAML with lines -------------------------------------------------------------


def _lines(
    node: yaml.Node, path: Path_, out: dict[Path_, int], dups: list[Any]
) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value in node.value:
            key = str(key_node.value)
            if key in seen:
                dups.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            _lines(value, (*path, key), out, dups)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out, dups)


def _where(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Collector:
    def __init__(self, lines: dict[Path_, int]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def add(self, path: Path_, rule: str) -> None:
        problem = Problem(line=self.line(path), where=_where(path), rule=rule)
        if problem not in self.problems:
            self.problems.append(problem)


def _pydantic_rule(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    return str(error["msg"])


# --- answers ---------------------------------------------------------------------


def _check_answers(
    rules: AnswerRules,
    given: dict[str, Any],
    origin: dict[str, Path_],
    repo_path: Path_,
    out: _Collector,
) -> dict[str, Any] | None:
    """Resolve ``given`` with ``rules``; report every bad or missing answer.

    ``origin`` maps a key to where it was written; a key from ``defaults`` that
    does not apply to this kind of repository is simply not used.
    """
    given = dict(given)
    ok = True
    for _ in range(len(given) + 1):
        try:
            resolution = rules.resolve(given, fill_defaults=True)
        except InvalidAnswerError as exc:
            where = origin.get(exc.key, repo_path)
            from_defaults = where[:1] == ("defaults",)
            if not (from_defaults and "does not apply" in exc.rule):
                out.add(where, exc.rule)
                ok = False
            if exc.key not in given:
                return None
            del given[exc.key]
            continue
        for key in resolution.missing:
            out.add((*repo_path, "answers"), f"{key}: required (no default)")
        if resolution.missing or not ok:
            return None
        return {k: v for k, v in resolution.answers.items() if k != KIND_KEY}
    return None


def _given(
    kind: str,
    name: str,
    org: str,
    defaults: dict[str, Any],
    answers: dict[str, Any],
    path: Path_,
    out: _Collector,
) -> tuple[dict[str, Any], dict[str, Path_]]:
    given: dict[str, Any] = {}
    origin: dict[str, Path_] = {}
    for source, prefix in ((defaults, ("defaults",)), (answers, (*path, "answers"))):
        for key, value in source.items():
            if key in _SET_BY_BOOTSTRAP:
                out.add(
                    (*prefix, key), f"set by bootstrap from {_SET_BY_BOOTSTRAP[key]}"
                )
                continue
            given[key] = value
            origin[key] = (*prefix, key)
    given.update({KIND_KEY: kind, "name": name, "owner": org})
    origin.update({"name": (*path, "name"), "owner": ("org",)})
    return given, origin


# --- entry point -----------------------------------------------------------------

RulesFor = Callable[[str | None, str | None], tuple[TemplateSource, AnswerRules]]


def read_manifest(
    path: Path, *, env: Mapping[str, str], rules_for: RulesFor
) -> Desired:
    """Read and check the manifest at ``path``; raise :class:`ManifestError`.

    ``rules_for(template, ref)`` resolves the template source (the manifest's, or
    the configured one at its latest release) and returns it with its rules.
    """
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read ({exc.strerror})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ManifestError(
            path=shown, problems=[Problem(line=line, where="", rule=str(problem))]
        ) from None
    lines: dict[Path_, int] = {}
    dups: list[Any] = []
    if node is not None:
        _lines(node, (), lines, dups)
    out = _Collector(lines)
    if not isinstance(raw, dict):
        out.add((), "must be a mapping with org, fleet and apps")
        raise ManifestError(path=shown, problems=out.problems)
    for dup_path, line in dups:
        out.problems.append(
            Problem(line=line, where=_where(dup_path), rule="duplicate key")
        )
    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            out.add(tuple(error["loc"]), _pydantic_rule(error))
    _check_names(raw, out)
    _check_actions(raw, env, out)
    source: TemplateSource | None = None
    rules: AnswerRules | None = None
    template, ref = raw.get("template"), raw.get("ref")
    if (template is None or isinstance(template, str)) and (
        ref is None or isinstance(ref, str)
    ):
        try:
            source, rules = rules_for(template, ref)
        except ScaffoldError as exc:  # bad source or ref: nothing to check against
            out.add(("template",), str(exc))
    desired = None
    if rules is not None and source is not None:
        desired = _check_repos(raw, manifest, rules, source, env, out)
    if out.problems or desired is None:
        out.problems.sort(key=lambda p: p.line or 0)
        raise ManifestError(path=shown, problems=out.problems)
    return desired


def _check_names(raw: dict[str, Any], out: _Collector) -> None:
    fleet = raw.get("fleet")
    fleet_name = fleet.get("name") if isinstance(fleet, dict) else None
    apps = raw.get("apps")
    if not isinstance(apps, list):
        return
    first: dict[str, int] = {}
    for index, app in enumerate(apps):
        if not isinstance(app, dict) or not isinstance(app.get("name"), str):
            continue
        name = app["name"]
        where = ("apps", index, "name")
        if rule := app_name_problem(name):
            out.add(where, rule)
        if name in first:
            out.add(where, f"duplicate app {name!r} (first at apps[{first[name]}])")
        elif name == fleet_name:
            out.add(where, f"{name!r} is the fleet's name")
        first.setdefault(name, index)


def _check_actions(
    raw: dict[str, Any], env: Mapping[str, str], out: _Collector
) -> None:
    actions = raw.get("actions")
    if not isinstance(actions, dict):
        return
    for section in ("variables", "secrets"):
        entries = actions.get(section)
        if not isinstance(entries, dict):
            continue
        for name, value in entries.items():
            where = ("actions", section, name)
            if not re.match(_ACTIONS_NAME, str(name)):
                out.add(
                    where,
                    "must be letters, digits and '_', not starting with a digit "
                    "or GITHUB_",
                )
            if section == "secrets" and isinstance(value, dict):
                var = value.get("env")
                if isinstance(var, str) and not env.get(var):
                    out.add((*where, "env"), f"environment variable {var} is not set")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _check_repos(
    raw: dict[str, Any],
    manifest: Manifest | None,
    rules: AnswerRules,
    source: TemplateSource,
    env: Mapping[str, str],
    out: _Collector,
) -> Desired | None:
    org = raw.get("org")
    defaults = _mapping(raw.get("defaults"))
    fleet_raw = raw.get("fleet")
    if not isinstance(org, str) or not isinstance(fleet_raw, dict):
        return None
    fleet_name = fleet_raw.get("name")
    fleet_spec = None
    if isinstance(fleet_name, str):
        fleet_answers = fleet_raw.get("answers")
        given, origin = _given(
            "infra",
            fleet_name,
            org,
            defaults,
            _mapping(fleet_answers),
            ("fleet",),
            out,
        )
        answers = _check_answers(rules, given, origin, ("fleet",), out)
        if answers is not None:
            fleet_spec = RepoSpec(name=fleet_name, kind=RepoKind.INFRA, answers=answers)
    apps: list[RepoSpec] = []
    raw_apps: list[Any] = raw["apps"] if isinstance(raw.get("apps"), list) else []
    for index, app in enumerate(raw_apps):
        if not isinstance(app, dict) or not isinstance(app.get("name"), str):
            continue
        path: Path_ = ("apps", index)
        app_answers = _mapping(app.get("answers"))
        given, origin = _given(
            "app", app["name"], org, defaults, app_answers, path, out
        )
        infra_repo = f"{org}/{fleet_name}"
        if "infra_repo" in given and given["infra_repo"] != infra_repo:
            out.add(
                origin["infra_repo"],
                f"is {infra_repo!r} (the manifest's fleet) for every app",
            )
        given["infra_repo"] = infra_repo
        answers = _check_answers(rules, given, origin, path, out)
        if answers is None or fleet_spec is None:
            continue
        extra = _mapping(app.get("fleet"))
        registration = _check_registration(rules, fleet_spec, answers, extra, path, out)
        if registration is not None:
            apps.append(
                RepoSpec(
                    name=app["name"],
                    kind=RepoKind.APP,
                    answers=answers,
                    fleet_answers=extra,
                )
            )
    if manifest is None or fleet_spec is None or len(apps) != len(raw_apps):
        return None

    def topics(own: list[str]) -> tuple[str, ...]:
        return tuple(sorted({*manifest.topics, *own}))

    return Desired(
        org=manifest.org,
        visibility=manifest.visibility,
        source=source,
        fleet=replace(fleet_spec, topics=topics(manifest.fleet.topics)),
        apps=tuple(
            replace(spec, topics=topics(entry.topics))
            for spec, entry in zip(apps, manifest.apps, strict=True)
        ),
        variables={k: str(v) for k, v in manifest.actions.variables.items()},
        secrets={k: SecretStr(env[v.env]) for k, v in manifest.actions.secrets.items()},
    )


def _check_registration(
    rules: AnswerRules,
    fleet: RepoSpec,
    app_answers: dict[str, Any],
    extra: dict[str, Any],
    path: Path_,
    out: _Collector,
) -> dict[str, Any] | None:
    """The app's answers in the fleet, checked as ``fleet add-app`` checks them:
    known keys, the fleet's engine and secrets mode, copier's rules."""
    from scaffold.services.fleet import fleet_answers_from_app

    where = (*path, "fleet")
    try:
        data = fleet_app_data(
            fleet.answers, {**fleet_answers_from_app(app_answers), **extra}
        )
    except InvalidAnswerError as exc:
        out.add((*where, exc.key), exc.rule)
        return None
    ok = True
    for key, value in extra.items():
        question = rules.by_key.get(key)
        if question is None or rules.is_hidden(question) or key == KIND_KEY:
            out.add((*where, key), "unknown key")
            ok = False
            continue
        try:
            typed = rules.parse(question, value)
        except InvalidAnswerError as exc:
            out.add((*where, key), exc.rule)
            ok = False
            continue
        if rule := rules.problem(question, typed, data, safety=False):
            out.add((*where, key), rule)
            ok = False
    return data if ok else None


class QuestionSource(Protocol):
    """What reading a manifest needs from the template adapter."""

    def questions(self, source: TemplateSource) -> list[Question]: ...

    def tags(self, url: str) -> list[str]: ...


def rules_from_templates(templates: QuestionSource, env: Mapping[str, str]) -> RulesFor:
    """``rules_for``: the manifest's template (else the configured one, see
    :mod:`scaffold.config`) at its ref, else at the latest release tag."""
    from scaffold.config import resolve_template
    from scaffold.services.update import latest_tag

    def rules_for(
        template: str | None, ref: str | None
    ) -> tuple[TemplateSource, AnswerRules]:
        source = resolve_template(template, ref, env)
        if source.ref is None:
            tag = latest_tag(templates.tags(source.url))
            if tag is None:
                raise UsageError(f"{source.url} has no release tag vX.Y.Z; set 'ref:'")
            source = TemplateSource(url=source.url, ref=tag)
        return source, AnswerRules(templates.questions(source))

    return rules_for
