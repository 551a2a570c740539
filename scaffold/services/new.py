"""Use case: generate a new repo from the template.

Every answer is validated in Python (copier's own validator Jinja plus the generic
safety rule, see :mod:`scaffold.services.answers`) before copier runs. Rendering goes
into a temporary directory beside the destination, which is moved into place only
on success, so a failure (bad answer, template error, git error) writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from scaffold.adapters.git import Git, parse_ident
from scaffold.adapters.templates import Rendered, is_local
from scaffold.errors import DestinationExistsError, UsageError
from scaffold.layout import DEFAULT_BRANCH
from scaffold.models import GeneratedRepo, Question, RepoKind, TemplateSource
from scaffold.services.answers import AnswerRules, merge_kind


class TemplateRenderer(Protocol):
    """What this service needs from the template adapter."""

    def questions(self, source: TemplateSource) -> list[Question]: ...

    def tags(self, url: str) -> list[str]: ...

    def render_with_notes(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> Rendered: ...


def default_ref(tags: list[str], *, version: str, is_checkout: bool) -> str | None:
    """The template version ``scaffold new`` uses when none is asked for.

    1. ``v<version>``, the release matching this CLI, when the source has that tag;
    2. else ``HEAD`` for the source checkout scaffold runs from (developers, demo);
    3. else None: copier's choice, the highest PEP 440 tag.
    """
    tag = f"v{version}"
    if tag in tags:
        return tag
    return "HEAD" if is_checkout else None


def with_default_ref(
    source: TemplateSource,
    *,
    templates: TemplateRenderer,
    version: str,
    checkout: Path | None,
) -> TemplateSource:
    """``source`` with :func:`default_ref` filled in when it names no ref."""
    if source.ref:
        return source
    is_checkout = checkout is not None and source.url == str(checkout)
    ref = default_ref(
        templates.tags(source.url), version=version, is_checkout=is_checkout
    )
    return TemplateSource(url=source.url, ref=ref)


def is_empty_dir(path: Path) -> bool:
    """True if ``path`` does not exist or is an empty directory."""
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def check_destination(dest: Path, *, force: bool, keep: tuple[Path, ...] = ()) -> Path:
    """Resolve ``dest``; refuse a file or (without ``force``) a non-empty dir.

    ``--force`` replaces the directory, so it must not hold anything in ``keep``
    (the working directory, the template source).
    """
    dest = dest.resolve()
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination {dest} exists and is not a directory")
    if is_empty_dir(dest):
        return dest
    if not force:
        raise DestinationExistsError(path=str(dest))
    for path in (Path.cwd(), *keep):
        if path.resolve().is_relative_to(dest):
            raise UsageError(
                f"destination {dest} contains {path.resolve()}; "
                "--force will not replace it"
            )
    return dest


def check_git_identity(git: Git, where: Path, author: str | None) -> None:
    """Fail before writing anything when the first commit could have no author."""
    if author is not None:
        parse_ident(author)
        return
    while not where.exists():
        where = where.parent
    if not git.has_identity(where, "GIT_AUTHOR_IDENT") or not git.has_identity(
        where, "GIT_COMMITTER_IDENT"
    ):
        raise UsageError(
            "git: no author identity for the first commit; pass --author "
            "'Name <email>', set git config user.name and user.email, "
            "or use --no-git"
        )


def next_steps(dest: Path, answers: dict[str, Any], *, git: bool) -> list[str]:
    """What the user does after ``scaffold new``."""
    owner, name = answers.get("owner", "OWNER"), answers.get("name", dest.name)
    branch = answers.get("default_branch", DEFAULT_BRANCH)
    steps = [f"cd {dest}"]
    if not git:
        steps.append(f"git init -b {branch} && git add -A && git commit -m 'initial'")
    steps += [
        f"create the GitHub repo {owner}/{name} (empty), then: "
        f"git remote add origin git@github.com:{owner}/{name}.git "
        f"&& git push -u origin {branch}",
        "scaffold check .",
        f"scaffold protect {owner}/{name}",
    ]
    return steps


def local_source_note(url: str) -> str:
    """Why a repo generated from a local template path cannot pass its CI."""
    return (
        f"template source {url} is a local path: the generated scaffold-check job "
        "installs scaffold from the template source the repo records, so it fails "
        "until the repo is generated from the template's git URL "
        "(scaffold new --template <git URL>)"
    )


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
    rules: AnswerRules | None = None,
) -> GeneratedRepo:
    """Validate ``answers``, render ``kind`` into ``dest``, init git and commit.

    ``git=None`` skips ``git init`` and the first commit. Unanswered questions take
    their defaults; questions without one raise :class:`MissingAnswersError`.
    ``rules`` saves re-reading the questions when the caller already has them.
    """
    local_urls = [source.url] if is_local(source.url) else []
    local_source = tuple(Path(url) for url in local_urls)
    dest = check_destination(dest, force=force, keep=local_source)
    if git is not None:
        check_git_identity(git, dest.parent, author)
    rules = rules or AnswerRules(templates.questions(source))
    data = rules.require(merge_kind(kind.value, answers))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        prefix=f".{dest.name}.scaffold-", dir=dest.parent
    ) as tmp:
        staging = Path(tmp) / "out"
        rendered = templates.render_with_notes(source, staging, data)
        commit = None
        if git is not None:
            branch = str(rendered.answers.get("default_branch") or DEFAULT_BRANCH)
            git.init(staging, branch=branch)
            commit = git.commit_all(
                staging,
                f"chore: scaffold {kind.value} repo {rendered.answers.get('name')}",
                author=author,
            )
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    return GeneratedRepo(
        path=dest,
        kind=kind,
        answers=rendered.answers,
        template=source,
        commit=commit,
        next_steps=next_steps(dest, rendered.answers, git=git is not None),
        notes=[*rendered.notes, *map(local_source_note, local_urls)],
    )
