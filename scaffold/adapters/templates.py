"""The only module that imports copier. Copier errors become scaffold errors here.

Copier's warnings (``DirtyLocalWarning`` when rendering a dirty checkout at HEAD,
"No git tags found") are captured with :func:`warnings.catch_warnings` and returned
as ``notes`` instead of being printed.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffold.adapters.git import Git
from scaffold.config import CREDENTIALS_HINT, is_local, mask_credentials
from scaffold.errors import GitError, InvalidAnswerError, TemplateError, UsageError
from scaffold.layout import ANSWERS_FILE, TEMPLATE_CONFIG
from scaffold.models import Question, TemplateSource

_VALIDATION = re.compile(
    r"Validation error for question '(?P<key>[^']+)': (?P<rule>.*)"
)
_CHOICE = re.compile(r"Invalid choice for '(?P<key>[^']+)': (?P<rule>.*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """What a copier run produced."""

    answers: dict[str, Any]  # the answers file as written
    notes: list[str] = field(default_factory=list)  # copier's warnings, one line each


class CopierTemplates:
    """Reads the questionnaire and renders/updates repos with copier."""

    def __init__(self, *, git: Git) -> None:
        self._git = git
        self._changes: dict[tuple[str, str, str], list[tuple[str, str]] | None] = {}

    # --- questionnaire -------------------------------------------------------

    def questions(self, source: TemplateSource) -> list[Question]:
        """The questions of the root copier.yml at ``source`` (static parts)."""
        text = self._read_config(source)
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise TemplateError(f"template: invalid {TEMPLATE_CONFIG}") from exc
        result: list[Question] = []
        for key, raw in data.items():
            if str(key).startswith("_"):
                continue
            spec = raw if isinstance(raw, dict) else {"default": raw}
            choices = spec.get("choices")
            if isinstance(choices, list):
                choices = {str(c): c for c in choices}
            result.append(
                Question(
                    key=str(key),
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
        if is_local(source.url):
            root = Path(source.url)
            ref = source.ref
            # a .git at the top means a repo root (copier's own test); no subprocess
            if ref and ref != "HEAD" and (root / ".git").exists():
                try:
                    return self._git.show_file(root, ref, TEMPLATE_CONFIG)
                except GitError as exc:
                    raise UsageError(
                        f"--ref {ref}: no such version (or no {TEMPLATE_CONFIG}) "
                        f"in template {source.url}"
                    ) from exc
            path = root / TEMPLATE_CONFIG
            if not path.is_file():
                raise UsageError(f"template: no {TEMPLATE_CONFIG} in {source.url}")
            return path.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory(prefix="scaffold-tpl-") as tmp:
            ref = source.ref if source.ref and source.ref != "HEAD" else None
            try:
                self._git.clone_shallow(source.url, Path(tmp) / "src", ref=ref)
            except GitError as exc:
                raise _unreachable(source.url, exc) from exc
            return (Path(tmp) / "src" / TEMPLATE_CONFIG).read_text(encoding="utf-8")

    def tags(self, url: str) -> list[str]:
        """Tags of the template repository at ``url`` ([] when it has none)."""
        if is_local(url):
            root = Path(url)
            if not self._git.is_repo_root(root):
                return []
            return self._git.tags(root)
        try:
            return self._git.remote_tags(url)
        except GitError as exc:
            raise _unreachable(url, exc) from exc

    def release_changes(
        self, url: str, old: str, new: str
    ) -> list[tuple[str, str]] | None:
        """``(git status letter, path)`` of each template file that differs
        between versions ``old`` and ``new`` (a rename is a deletion plus an
        addition), or ``None`` when that cannot be told: not a git repository,
        an unknown version, or a ``copier.yml`` that pulls in other files with
        ``!include``. Remembered per (url, old, new) for this object's life.
        """
        key = (url, old, new)
        if key not in self._changes:
            self._changes[key] = self._release_changes(url, old, new)
        return self._changes[key]

    def _release_changes(
        self, url: str, old: str, new: str
    ) -> list[tuple[str, str]] | None:
        if is_local(url) and self._git.is_repo_root(Path(url)):
            return self._diff(Path(url), old, new)
        with tempfile.TemporaryDirectory(prefix="scaffold-tpl-") as tmp:
            try:  # bare: no checkout; in a rollout the url is the local mirror
                self._git.clone_remote(url, Path(tmp) / "src", bare=True)
            except GitError:
                return None
            return self._diff(Path(tmp) / "src", old, new)

    def _diff(self, repo: Path, old: str, new: str) -> list[tuple[str, str]] | None:
        try:
            for ref in (old, new):
                if "!include" in self._git.show_file(repo, ref, TEMPLATE_CONFIG):
                    return None
            return self._git.diff_status(repo, old, new)
        except GitError:
            return None

    # --- copier runs ---------------------------------------------------------

    def render(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> dict[str, Any]:
        """Render a new project into ``dest`` non-interactively; return its answers."""
        return self.render_with_notes(
            source, dest, answers, answers_file=answers_file
        ).answers

    def render_with_notes(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> Rendered:
        """:meth:`render`, also returning copier's warnings as notes."""
        import copier  # lazy: keeps CLI start-up fast

        with _copier_errors() as notes:
            copier.run_copy(
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
        return Rendered(
            answers=read_answers(dest / (answers_file or ANSWERS_FILE)), notes=notes
        )

    def update(
        self,
        project: Path,
        *,
        ref: str | None,
        answers_file: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> list[str]:
        """``copier update`` of ``project`` to ``ref``, non-interactively.

        ``answers_file`` (relative to ``project``) selects the Copier instance, e.g.
        ``apps/<name>/.copier-answers.yml`` for an app inside a fleet. Conflicts
        are written inline (``<<<<<<< before updating`` markers and
        unmerged index entries); copier succeeds anyway, the caller detects them.
        Returns copier's warnings. ``data`` changes answers (``--set``).
        """
        import copier  # lazy: keeps CLI start-up fast

        with _copier_errors() as notes:
            copier.run_update(
                project,
                defaults=True,
                overwrite=True,
                conflict="inline",
                skip_answered=True,
                vcs_ref=ref,
                quiet=True,
                unsafe=False,
                answers_file=answers_file,
                data=data or {},
            )
        return notes


def _unreachable(url: str, exc: GitError) -> TemplateError:
    """A remote template git could not read (the URL carries no credentials)."""
    lines = exc.stderr.strip().splitlines()
    detail = lines[-1] if lines else "no output"
    return TemplateError(
        mask_credentials(
            f"template {url}: cannot read it ({detail}); {CREDENTIALS_HINT}"
        )
    )


def read_answers(path: Path) -> dict[str, Any]:
    """The answers file at ``path`` as a dict ({} when absent)."""
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}: invalid YAML{where}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UsageError(f"{path}: must be a YAML mapping of key: value")
    return dict(loaded)


@contextmanager
def _copier_errors() -> Iterator[list[str]]:
    """Translate copier's exceptions and collect its warnings as notes."""
    from copier.errors import CopierError, UserMessageError
    from plumbum import ProcessExecutionError  # copier runs git through plumbum

    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    except ProcessExecutionError as exc:
        lines = str(exc.stderr or "").strip().splitlines()
        detail = lines[-1] if lines else f"exit {exc.retcode}"
        raise TemplateError(
            mask_credentials(f"template: git failed ({detail}); {CREDENTIALS_HINT}")
        ) from None
    except ValueError as exc:
        raise _answer_error(exc) from exc
    except UserMessageError as exc:
        raise UsageError(f"template: {_one_line(exc)}") from exc
    except CopierError as exc:
        raise TemplateError(f"template: {_one_line(exc)}") from exc
    for item in caught:
        text = _one_line(item.message)
        if text not in notes:
            notes.append(text)


def _one_line(exc: BaseException | Warning | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _answer_error(exc: ValueError) -> UsageError:
    msg = _one_line(exc)
    for pattern in (_VALIDATION, _CHOICE):
        m = pattern.search(msg)
        if m:
            return InvalidAnswerError(key=m["key"], rule=m["rule"].strip())
    if "revision" in msg.lower():  # an unknown --ref / --to
        return UsageError(f"template: {msg}")
    return UsageError(f"answers: {msg}")
