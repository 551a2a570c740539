"""The only module that imports copier. Copier errors become scaffold errors here."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from scaffold.adapters.git import Git
from scaffold.errors import InvalidAnswerError, TemplateError, UsageError
from scaffold.layout import ANSWERS_FILE, TEMPLATE_CONFIG
from scaffold.models import Question, TemplateSource

_VALIDATION = re.compile(
    r"Validation error for question '(?P<key>[^']+)': (?P<rule>.*)"
)
_CHOICE = re.compile(r"Invalid choice for '(?P<key>[^']+)': (?P<rule>.*)")


def _is_local(url: str) -> bool:
    return "://" not in url and not url.startswith("git@")


class CopierTemplates:
    """Reads the questionnaire and renders/updates repos with copier."""

    def __init__(self, *, git: Git) -> None:
        self._git = git

    def questions(self, source: TemplateSource) -> list[Question]:
        """The questions of the root copier.yml at ``source`` (static parts)."""
        text = self._read_config(source)
        data = yaml.safe_load(text) or {}
        result: list[Question] = []
        for key, spec in data.items():
            if key.startswith("_"):
                continue
            spec = spec if isinstance(spec, dict) else {"default": spec}
            choices = spec.get("choices")
            if isinstance(choices, list):
                choices = {str(c): c for c in choices}
            result.append(
                Question(
                    key=key,
                    type=str(spec.get("type", "str")),
                    help=str(spec.get("help", "")),
                    default=spec.get("default"),
                    choices=choices,
                    validator=spec.get("validator"),
                    when=spec.get("when", True),
                    secret=bool(spec.get("secret", False)),
                )
            )
        return result

    def _read_config(self, source: TemplateSource) -> str:
        if _is_local(source.url):
            root = Path(source.url)
            ref = source.ref
            if ref and ref != "HEAD" and self._git.is_repo_root(root):
                return self._git.run(root, "show", f"{ref}:{TEMPLATE_CONFIG}")
            path = root / TEMPLATE_CONFIG
            if not path.is_file():
                raise UsageError(f"template: no {TEMPLATE_CONFIG} in {source.url}")
            return path.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory(prefix="scaffold-tpl-") as tmp:
            args = ["clone", "-q", "--depth", "1"]
            if source.ref and source.ref != "HEAD":
                args += ["--branch", source.ref]
            self._git.run(Path(tmp), *args, source.url, "src")
            return (Path(tmp) / "src" / TEMPLATE_CONFIG).read_text(encoding="utf-8")

    def render(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> dict[str, Any]:
        """Render a new project into ``dest`` non-interactively; return its answers."""
        import copier  # lazy: keeps CLI start-up fast
        from copier.errors import CopierError

        try:
            worker = copier.run_copy(
                source.url,
                dest,
                data=answers,
                vcs_ref=source.ref,
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
                answers_file=answers_file,
            )
        except ValueError as exc:
            raise _answer_error(exc) from exc
        except CopierError as exc:
            raise TemplateError(f"template: {_one_line(exc)}") from exc
        del worker
        written = dest / (answers_file or ANSWERS_FILE)
        loaded = (
            yaml.safe_load(written.read_text(encoding="utf-8"))
            if written.is_file()
            else {}
        )
        return dict(loaded or {})


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _answer_error(exc: ValueError) -> UsageError:
    msg = _one_line(exc)
    for pattern in (_VALIDATION, _CHOICE):
        m = pattern.search(msg)
        if m:
            return InvalidAnswerError(key=m["key"], rule=m["rule"].strip())
    return UsageError(f"answers: {msg}")
