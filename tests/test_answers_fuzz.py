"""Property-based answers (Hypothesis): every rejected set is exit 2 with one line
naming the key and nothing written; no accepted string answer is one YAML would
re-type when a template writes it unquoted; accepted sets render.

Profiles (tests/conftest.py): ``ci`` (default, ~300 examples of the pure property)
and ``long`` (``HYPOTHESIS_PROFILE=long``, thousands). Rendering is the expensive
part: a few fixed tricky-but-valid sets render here, and a ``slow`` test renders
and checks a handful of generated ones.
"""

from __future__ import annotations

import re
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app
from scaffold.errors import InvalidAnswerError, UsageError
from scaffold.models import TemplateSource
from scaffold.services.answers import AnswerRules, merge_kind, only_kinds
from scaffold.services.fleet import Fleet, check_app_name
from tests.helpers import TEMPLATE_TAG, TOOL_PATH, VENV_BIN

# values YAML re-types, values that break files, and plain ones
RETYPED = [
    *("null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False"),
    *("on", "On", "off", "OFF", "yes", "no", "y", "Y", "n", "N"),
    *("123", "0", "-1", "+5", "1e3", "1E3", "0x10", "0o17", "0b1", "1_000"),
    *("12:30", "1.0", ".5", ".inf", "-.Inf", ".nan", "2024-01-01"),
    "2024-01-01T00:00:00Z",
]
HOSTILE = [
    *("", " ", " main", "main ", "../x", "x/../y", "/etc", "~root", "{{ x }}"),
    *("{% x %}", "a: b", "a #b", "'q'", '"q"', "`q`", "$(x)", "a\nb", "a\tb"),
    *("\x00", "\x1b[31m", "x:", "-x", "é", "a" * 70),
]
PLAIN = ["main", "demo", "acme", "a1", "release-2024.01", "v1.0", "web-api", "x"]
VALUES = st.one_of(
    st.sampled_from(RETYPED + HOSTILE + PLAIN),
    st.text(alphabet=string.printable, max_size=16),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,12}", fullmatch=True),
)
_YAML12_NUMBER = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


@pytest.fixture(scope="module")
def rules(template_repo: Path) -> AnswerRules:
    templates = CopierTemplates(git=Git())
    source = TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG)
    return AnswerRules(only_kinds(templates.questions(source), ["app", "infra"]))


def _keys(rules: AnswerRules) -> list[str]:
    return [
        q.key
        for q in rules.questions
        if q.key != "repo_kind" and not rules.is_hidden(q) and q.choices is None
    ]


def _stays_text(value: str) -> bool:
    """An independent oracle: YAML 1.1 (PyYAML) and 1.2 core numbers/booleans."""
    if value == "" or value in {"y", "Y", "n", "N"} or _YAML12_NUMBER.match(value):
        return value == ""
    try:
        loaded = yaml.safe_load(f"k: {value}")
    except yaml.YAMLError:
        return True  # not plain YAML at all: the templates quote such values
    got = loaded.get("k") if isinstance(loaded, dict) else value
    return isinstance(got, (str, list, dict))


def _answer_sets(rules: AnswerRules) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    keys = _keys(rules)
    base = st.fixed_dictionaries({"name": VALUES, "owner": VALUES})
    extra = st.dictionaries(st.sampled_from(keys), VALUES, max_size=4)
    return st.tuples(
        st.sampled_from(["app", "infra"]),
        st.builds(lambda a, b: {**b, **a}, base, extra),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_answers_property(rules: AnswerRules, data: st.DataObject) -> None:
    kind, given_answers = data.draw(_answer_sets(rules))
    try:
        answers = rules.require(merge_kind(kind, given_answers))
    except UsageError as exc:
        message = str(exc)
        assert exc.exit_code == 2
        assert "\n" not in message and "\r" not in message
        if isinstance(exc, InvalidAnswerError):
            assert exc.key in given_answers or exc.key in {
                q.key for q in rules.questions
            }
        return
    for key, value in answers.items():
        question = rules.by_key[key]
        if question.type == "bool":
            assert isinstance(value, bool), (key, value)
        elif isinstance(value, str):
            assert _stays_text(value), (key, value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("default_branch", v) for v in ("null", "true", "123", "2024-01-01", "on")]
    + [("name", v) for v in ("true", "123", "1e3", "0x10")]
    + [("description", "yes"), ("description", "1.0")],
)
def test_retyped_answer_is_one_line_exit_2_nothing_written(
    template_repo: Path, tmp_path: Path, key: str, value: str
) -> None:
    dest = tmp_path / "out"
    sets = {"name": "demo", "owner": "acme", key: value}
    args = ["new", "app", str(dest), "--no-git", "--defaults"]
    args += ["--template", str(template_repo), "--ref", TEMPLATE_TAG]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {key}: must stay text"), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["", "maybe", "2"])
def test_bool_answer_must_be_a_boolean(
    template_repo: Path, tmp_path: Path, value: str
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(
        f"name: demo\nowner: acme\nrequire_signed_commits: '{value}'\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        [
            *("new", "app", str(tmp_path / "out"), "--no-git", "--defaults"),
            *("--template", str(template_repo), "--ref", TEMPLATE_TAG),
            *("--answers", str(answers)),
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "error: require_signed_commits: must be true or false"
    )
    assert not (tmp_path / "out").exists()


@settings(max_examples=max(20, settings().max_examples // 10))
@given(name=st.one_of(st.sampled_from(RETYPED + PLAIN), VALUES))
def test_fleet_app_names_never_retyped(name: str) -> None:
    fleet = Fleet(
        path=Path("/nonexistent-fleet"),
        name="fleet",
        owner="acme",
        engine="flux",
        secrets="none",
        default_branch="main",
        answers={},
    )
    try:
        accepted = check_app_name(fleet, name)
    except InvalidAnswerError as exc:
        assert exc.key == "name" and "\n" not in str(exc)
        return
    assert _stays_text(accepted) and accepted != ""


def test_tricky_but_valid_answers_render(template_repo: Path, tmp_path: Path) -> None:
    """Values close to the re-typed ones are kept as text in the generated YAML."""
    dest = tmp_path / "a1"
    sets = {
        "name": "a1",
        "owner": "acme",
        "default_branch": "release-2024.01",
        "description": "v1.0 on call",
    }
    args = ["new", "app", str(dest), "--no-git", "--defaults"]
    args += ["--template", str(template_repo), "--ref", TEMPLATE_TAG]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text("utf-8"))
    assert answers["default_branch"] == "release-2024.01"
    settings_yml = yaml.safe_load((dest / ".github/settings.yml").read_text("utf-8"))
    assert "release-2024.01" in str(settings_yml)


def _render_and_check(
    template: Path, dest: Path, kind: str, sets: dict[str, Any]
) -> None:
    args = [str(VENV_BIN / "scaffold"), "new", kind, str(dest), "--no-git"]
    args += ["--defaults", "--template", str(template), "--ref", TEMPLATE_TAG]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    env = {"PATH": TOOL_PATH}
    import os

    env = {**os.environ, **env}
    made = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    checked = subprocess.run(
        [str(VENV_BIN / "scaffold"), "check", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
@settings(
    max_examples=max(3, settings().max_examples // 100),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_accepted_answer_sets_render_repos_that_pass_check(
    rules: AnswerRules,
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    kind = data.draw(st.sampled_from(["app", "infra"]))
    sets = {
        "name": data.draw(
            st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
        ),
        "owner": data.draw(st.sampled_from(["acme", "a1", "team-x"])),
        "default_branch": data.draw(st.sampled_from([*PLAIN, "on-call", "v2"])),
    }
    try:
        rules.require(merge_kind(kind, sets))
    except UsageError:
        assume(False)
    _render_and_check(template_repo, tmp_path_factory.mktemp("r") / "out", kind, sets)
