"""services/answers: copier's rules, rendered in Python, on synthetic questions."""

from __future__ import annotations

import pytest

from scaffold.errors import InvalidAnswerError, MissingAnswersError, UsageError
from scaffold.models import Question
from scaffold.services.answers import (
    DEFERRED,
    MISSING,
    AnswerRules,
    cast_to_bool,
    merge_kind,
)

QUESTIONS = [
    Question(key="repo_kind", choices={"App": "app", "Lib": "lib"}),
    Question(
        key="name",
        validator="{% if not (name | regex_search('^[a-z]+$')) %}"
        "lowercase only{% endif %}",
    ),
    Question(key="label", default="{{ name }}-label"),
    Question(key="port", type="int", default=8080, when="{{ repo_kind == 'app' }}"),
    Question(key="flag", type="bool", default=False),
    Question(key="computed", default="x", when=False),
]


@pytest.fixture
def rules() -> AnswerRules:
    return AnswerRules(QUESTIONS)


def test_resolve_fills_typed_defaults_in_order(rules: AnswerRules) -> None:
    result = rules.resolve({"repo_kind": "app", "name": "abc", "port": "9000"})
    assert result.missing == []
    assert result.answers == {
        "repo_kind": "app",
        "name": "abc",
        "label": "abc-label",
        "port": 9000,
        "flag": False,
    }


def test_missing_lists_every_key_and_skips_dependent_defaults(
    rules: AnswerRules,
) -> None:
    result = rules.resolve({})
    # label's default depends on name: not usable, but not "missing" either
    assert result.missing == ["repo_kind", "name"]
    with pytest.raises(MissingAnswersError, match="repo_kind, name;"):
        rules.require({})


def test_when_gates_questions(rules: AnswerRules) -> None:
    answers = rules.require({"repo_kind": "lib", "name": "abc"})
    assert "port" not in answers
    with pytest.raises(InvalidAnswerError, match="port: does not apply"):
        rules.require({"repo_kind": "lib", "name": "abc", "port": "1"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"name": "ABC"}, "name: lowercase only"),
        ({"name": "abc", "port": "x"}, "port: must be an integer"),
        ({"name": "abc", "port": True}, "port: must be an integer"),
        ({"name": "abc", "repo_kind": "web"}, "repo_kind: must be one of: app, lib"),
        ({"name": "abc", "computed": "y"}, "computed: computed by the template"),
        ({"name": "abc", "nope": "y"}, "nope: unknown key"),
        ({"name": ["a"]}, "name: must be a single str value"),
        ({"name": "abc", "label": "a\nb"}, "label: must be a single line"),
    ],
)
def test_bad_answers(
    rules: AnswerRules, given: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidAnswerError, match=message):
        rules.require({"repo_kind": "app", **given})


def test_default_and_parse(rules: AnswerRules) -> None:
    by_key = rules.by_key
    assert rules.default(by_key["name"], {}) is MISSING
    assert rules.default(by_key["label"], {"name": "n"}) == "n-label"
    assert rules.parse(by_key["flag"], "yes") is True
    assert rules.parse(by_key["flag"], "off") is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("Yes", True), ("1", True), ("0", False), ("", False),
     ("none", False), ("False", False), (True, True), (0, False)],
)  # fmt: skip
def test_cast_to_bool(value: object, expected: bool) -> None:
    assert cast_to_bool(value) is expected


def test_merge_kind() -> None:
    assert merge_kind("app", {"name": "x"}) == {"name": "x", "repo_kind": "app"}
    assert merge_kind(None, {"repo_kind": "infra"}) == {"repo_kind": "infra"}
    with pytest.raises(UsageError, match="conflicts with the KIND argument"):
        merge_kind("app", {"repo_kind": "infra"})


def test_default_only_copier_can_render_is_left_to_copier() -> None:
    rules = AnswerRules(
        [
            Question(key="name", default="x"),
            Question(key="pkg", default="{% include 'templates/part.jinja' %}"),
        ]
    )
    assert rules.default(rules.by_key["pkg"], {}) is DEFERRED
    assert rules.require({}) == {"name": "x"}  # pkg: copier computes it
