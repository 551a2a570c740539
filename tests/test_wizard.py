"""The ``scaffold new`` wizard: its questions are copier.yml's, and it runs on a tty."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import jinja2
import pexpect
import pytest
import yaml

from scaffold import __version__
from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli.wizard import Validate, run_wizard
from scaffold.errors import InvalidAnswerError
from scaffold.models import Question, TemplateSource
from scaffold.services.answers import AnswerRules, only_kinds
from tests.helpers import PROJECT_ROOT, git, leftovers

KINDS = ("app", "infra")


def copier_yml() -> dict[str, Any]:
    data = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# valid answers for questions without a default (others take their default)
SAMPLES: dict[str, str] = {
    "name": "demo",
    "owner": "acme",
    "sops_age_recipients": "age1" + "q" * 58,
}


def visible_questions(kind: str) -> list[str]:
    """copier.yml's non-hidden questions for ``kind``, read without our code.

    ``when`` is rendered against the earlier answers (sample values or defaults).
    """
    keys: list[str] = []
    context: dict[str, Any] = {"repo_kind": kind}
    for key, spec in copier_yml().items():
        if key.startswith("_"):
            continue
        if key == "repo_kind":
            keys.append(key)
            continue
        spec = spec if isinstance(spec, dict) else {"default": spec}
        when = spec.get("when", True)
        if isinstance(when, str):
            when = jinja2.Template(when).render(**context).strip() == "True"
        if not when:
            continue
        keys.append(key)
        default = spec.get("default")
        if isinstance(default, str):
            default = jinja2.Template(default).render(**context)
        context[key] = SAMPLES.get(key, default)
    return keys


class ScriptedPrompter:
    """A Prompter that answers from a script (else the default) and records."""

    def __init__(self, kind: str, replies: dict[str, list[str]]) -> None:
        self.kind = kind
        self.replies = {k: [v] for k, v in SAMPLES.items()} | replies
        self.asked: list[str] = []
        self.messages: dict[str, str] = {}
        self.errors: dict[str, list[str]] = {}
        self.confirmed: bool | None = None
        self.rounds: dict[str, int] = {}

    def _key(self, message: str) -> str:
        key = message.rsplit("[", 1)[1].rstrip("]")
        self.messages[key] = message
        if key not in self.asked:
            self.asked.append(key)
        return key

    def select(self, message: str, choices: list[tuple[str, Any]], default: Any) -> Any:
        key = self._key(message)
        if key == "repo_kind":
            return self.kind
        return default if default is not None else choices[0][1]

    def text(self, message: str, default: str, validate: Validate) -> str:
        key = self._key(message)
        self.rounds[key] = self.rounds.get(key, 0) + 1
        assert self.rounds[key] < 10, f"{key}: asked again and again ({default!r})"
        script = self.replies.get(key, [])
        reply = script.pop(0) if script else default
        if (problem := validate(reply)) is not None:
            self.errors.setdefault(key, []).append(problem)
        return reply

    def confirm(self, message: str, default: bool) -> bool:
        if message.endswith("]"):  # a bool question, not the final confirmation
            self._key(message)
            return default
        self.confirmed = default
        return default

    def show(self, text: str) -> None:
        pass


@pytest.fixture(scope="module")
def rules() -> AnswerRules:
    templates = CopierTemplates(git=Git())
    return AnswerRules(templates.questions(TemplateSource(url=str(PROJECT_ROOT))))


@pytest.mark.parametrize("kind", KINDS)
def test_wizard_asks_exactly_copier_questions(rules: AnswerRules, kind: str) -> None:
    prompter = ScriptedPrompter(kind, {"name": ["demo"], "owner": ["acme"]})
    answers = run_wizard(rules, {}, prompter=prompter)
    assert prompter.asked == visible_questions(kind)
    assert list(answers) == visible_questions(kind)
    assert answers["repo_kind"] == kind
    for key in prompter.asked:  # the help text is copier.yml's
        assert prompter.messages[key] == f"{copier_yml()[key]['help']} [{key}]"


def test_bool_question_is_a_confirm() -> None:
    rules = AnswerRules(
        [
            Question(key="flag", type="bool", default=True, help="A flag"),
            Question(key="off", type="bool", default=False, help="Off"),
        ]
    )
    prompter = ScriptedPrompter("app", {})
    assert run_wizard(rules, {}, prompter=prompter) == {"flag": True, "off": False}
    assert prompter.asked == ["flag", "off"]


def test_new_offers_only_app_and_infra(rules: AnswerRules) -> None:
    kinds = only_kinds(
        [Question(key="repo_kind", choices={"a": "app", "i": "infra", "x": "other"})],
        ["app", "infra"],
    )
    assert kinds[0].choices == {"a": "app", "i": "infra"}
    with pytest.raises(InvalidAnswerError, match="must be one of: app, infra"):
        AnswerRules(kinds).resolve({"repo_kind": "other"})


def test_defaults_follow_earlier_answers(rules: AnswerRules) -> None:
    prompter = ScriptedPrompter("app", {"name": ["pay"], "owner": ["Acme"]})
    answers = run_wizard(rules, {}, prompter=prompter)
    assert answers["image_registry"] == "ghcr.io/acme"
    assert answers["infra_repo"] == "Acme/fleet-infra"
    assert answers["description"] == "pay service"
    assert answers["container_port"] == 8080


def test_invalid_answer_is_asked_again(rules: AnswerRules) -> None:
    prompter = ScriptedPrompter(
        "app",
        {"name": ["Bad_Name", "../x", "ok-name"], "owner": ["acme"],
         "container_port": ["80", "9000"]},
    )  # fmt: skip
    answers = run_wizard(rules, {}, prompter=prompter)
    assert answers["name"] == "ok-name"
    assert answers["container_port"] == 9000
    assert prompter.errors["name"][0].startswith("must be a DNS-1123 label")
    assert prompter.errors["name"][1] == "must not contain '..' (path traversal)"
    assert prompter.errors["container_port"] == [
        "must be an integer between 1024 and 65535"
    ]


def test_given_answers_are_not_asked(rules: AnswerRules) -> None:
    prompter = ScriptedPrompter("app", {"owner": ["acme"]})
    answers = run_wizard(
        rules,
        {"repo_kind": "app", "name": "given"},
        prompter=prompter,
        use_defaults=True,
    )
    assert prompter.asked == ["owner"]  # --defaults: only what has no default
    assert answers["name"] == "given"
    with pytest.raises(InvalidAnswerError, match="colour: unknown key"):
        run_wizard(rules, {"colour": "red"}, prompter=prompter)
    # kind chosen in the wizard: an answer for the other kind is an error
    infra = ScriptedPrompter("infra", {})
    with pytest.raises(InvalidAnswerError, match="container_port: does not apply"):
        run_wizard(rules, {"container_port": "8080"}, prompter=infra)


# --- a real terminal -------------------------------------------------------------


def spawn(cwd: Path, *args: str) -> pexpect.spawn:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    return pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "new", *args],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )


@pytest.mark.slow
def test_wizard_on_a_terminal(template_repo: Path, tmp_path: Path) -> None:
    child = spawn(tmp_path, "--template", str(template_repo))
    child.expect(r"What kind of repository do you want\? \[repo_kind\]")
    child.send("\r")  # first choice: app
    child.expect(r"\[name\]")
    child.send("Bad_Name\r")
    child.expect("must be a DNS-1123 label")
    child.send("\x15good-name\r")  # Ctrl-U clears the line, then the correction
    child.expect(r"\[owner\]")
    child.send("acme\r")
    for key in visible_questions("app"):
        if key in {"repo_kind", "name", "owner"}:
            continue
        assert key not in SAMPLES, f"{key}: the terminal test has no answer for it"
        child.expect(rf"\[{key}\]")
        child.send("\r")  # accept the default
    child.expect("Summary:")
    child.expect(r"image_registry\s+ghcr.io/acme")
    child.expect(r"Generate this repository\?")
    child.send("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    repo = tmp_path / "good-name"
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text("utf-8"))
    assert answers["name"] == "good-name"
    assert answers["owner"] == "acme"
    assert answers["_commit"] == f"v{__version__}"
    assert (
        git(repo, "log", "--format=%s").strip() == "chore: scaffold app repo good-name"
    )


def test_ctrl_c_exits_130_and_writes_nothing(
    template_repo: Path, tmp_path: Path
) -> None:
    child = spawn(tmp_path, "app", "--template", str(template_repo))
    child.expect(r"\[name\]")
    child.send("half")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "interrupted; nothing was written" in str(child.before)
    assert list(tmp_path.iterdir()) == []


def test_declining_the_summary_writes_nothing(
    template_repo: Path, tmp_path: Path
) -> None:
    child = spawn(
        tmp_path, "app", "--template", str(template_repo), "--defaults",
        "--set", "owner=acme",
    )  # fmt: skip
    child.expect(r"\[name\]")
    child.send("svc\r")
    child.expect(r"Generate this repository\?")
    child.send("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "aborted; nothing was written" in str(child.before)
    assert list(tmp_path.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_no_wizard_when_everything_is_answered(
    template_repo: Path, tmp_path: Path
) -> None:
    child = spawn(
        tmp_path, "app", "--template", str(template_repo), "--defaults",
        "--set", "name=svc", "--set", "owner=acme",
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "?" not in str(child.before).split("Created", 1)[0]  # nothing was asked
    assert (tmp_path / "svc" / ".copier-answers.yml").is_file()
