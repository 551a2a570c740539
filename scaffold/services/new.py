"""Use case: generate a new repo from the template.

Renders into a temporary directory beside the destination and moves the result into
place only on success, so a failure (bad answer, template error) writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from scaffold.adapters.git import Git
from scaffold.errors import DestinationExistsError, InvalidAnswerError, UsageError
from scaffold.models import GeneratedRepo, Question, RepoKind, TemplateSource


class TemplateRenderer(Protocol):
    """What this service needs from the template adapter."""

    def questions(self, source: TemplateSource) -> list[Question]: ...

    def render(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> dict[str, Any]: ...


def check_known_keys(answers: dict[str, Any], questions: list[Question]) -> None:
    """Reject answer keys the template does not ask."""
    known = {q.key for q in questions}
    for key in answers:
        if key not in known:
            raise InvalidAnswerError(
                key=key, rule=f"unknown key (known: {', '.join(sorted(known))})"
            )


def is_empty_dir(path: Path) -> bool:
    """True if ``path`` does not exist or is an empty directory."""
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def create_repo(
    *,
    kind: RepoKind,
    dest: Path,
    answers: dict[str, Any],
    source: TemplateSource,
    templates: TemplateRenderer,
    git: Git | None,
    force: bool = False,
    author: str | None = None,
) -> GeneratedRepo:
    """Render ``kind`` into ``dest``; init git and commit unless ``git`` is None."""
    dest = dest.resolve()
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination {dest} exists and is not a directory")
    if not force and not is_empty_dir(dest):
        raise DestinationExistsError(path=str(dest))
    data = {**answers, "repo_kind": kind.value}
    check_known_keys(data, templates.questions(source))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        prefix=f".{dest.name}.scaffold-", dir=dest.parent
    ) as tmp:
        staging = Path(tmp) / "out"
        final_answers = templates.render(source, staging, data)
        commit = None
        if git is not None:
            branch = str(final_answers.get("default_branch") or "main")
            git.init(staging, branch=branch)
            kind_name = kind.value
            commit = git.commit_all(
                staging,
                f"chore: scaffold {kind_name} repo {final_answers.get('name')}",
                author=author,
            )
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    return GeneratedRepo(
        path=dest,
        kind=kind,
        answers=final_answers,
        template=source,
        commit=commit,
    )
