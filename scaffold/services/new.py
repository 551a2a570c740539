"""Use case: generate a new repo from the template.

Every answer is validated in Python (copier's own validator Jinja plus the generic
safety rule, see :mod:`scaffold.services.answers`) before copier runs. Rendering goes
into a temporary directory beside the destination, which is moved into place only
on success, so a failure (bad answer, template error, git error) writes nothing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scaffold.adapters.git import Git, parse_ident
from scaffold.adapters.templates import Rendered
from scaffold.config import is_local
from scaffold.errors import DestinationExistsError, InvalidAnswerError, UsageError
from scaffold.layout import DEFAULT_BRANCH, IMAGE_TAG
from scaffold.models import GeneratedRepo, Question, RepoKind, TemplateSource
from scaffold.services.answers import AnswerRules, merge_kind
from scaffold.services.fleet import (
    AddedApp,
    FleetAppRenderer,
    app_answers_for,
    preflight_new_app,
    read_fleet,
    register_app,
)


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
    """The template version ``scaffold new`` uses when none is asked for (the
    order is README.md's "Template source and versions"; None: copier's choice)."""
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


def check_destination(
    dest: Path,
    *,
    force: bool,
    keep: tuple[Path, ...] = (),
    git: Git | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> Path:
    """Resolve ``dest``; refuse a file or (without ``force``) a non-empty dir.

    ``--force`` replaces the directory, so it must not be ``/`` or hold the home
    directory, the working directory or anything in ``keep`` (the template
    source). With ``git``, a work tree with uncommitted changes is replaced only
    when ``confirm(question)`` (a prompt on a terminal) says yes.
    """
    _check_name_lengths(dest)
    dest = dest.resolve()
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"destination {dest} exists and is not a directory")
    if is_empty_dir(dest):
        return dest
    if not force:
        raise DestinationExistsError(path=str(dest))
    if dest == Path(dest.anchor):
        raise UsageError(f"destination {dest}: --force will not replace the root")
    for path in (Path.home(), Path.cwd(), *keep):
        if path.resolve().is_relative_to(dest):
            raise UsageError(
                f"destination {dest} contains {path.resolve()}; "
                "--force will not replace it"
            )
    if git is not None and (dest / ".git").exists() and git.is_dirty(dest):
        question = (
            f"{dest} is a git work tree with uncommitted changes; "
            "--force deletes them. Replace it anyway?"
        )
        if confirm is None or not confirm(question):
            raise UsageError(
                f"destination {dest} is a git work tree with uncommitted changes; "
                "--force will not replace it (commit or stash them, or confirm "
                "on a terminal)"
            )
    return dest


def _check_name_lengths(dest: Path) -> None:
    """Refuse a path the file system cannot hold (one line, exit 2)."""
    for part in dest.parts:
        if len(os.fsencode(part)) > 255:
            raise UsageError(
                f"destination: the name {part[:40]}… is longer than 255 bytes"
            )
    if len(os.fsencode(str(dest.absolute()))) > 4000:
        raise UsageError("destination: the path is longer than 4000 bytes")


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
    """What the user does after ``scaffold new``, as lines of a shell script.

    Every line is a command to paste or a ``#`` comment; a test runs them as
    printed.
    """
    owner, name = answers.get("owner", "OWNER"), answers.get("name", dest.name)
    branch = str(answers.get("default_branch", DEFAULT_BRANCH))
    repo = f"{owner}/{name}"
    steps = [shlex.join(["cd", str(dest)])]
    if not git:
        steps += [
            shlex.join(["git", "init", "-b", branch]),
            "git add -A",
            "git commit -m 'initial'",
        ]
    steps += [
        f"# create the empty GitHub repo {repo}, then push to it:",
        shlex.join(["git", "remote", "add", "origin", f"git@github.com:{repo}.git"]),
        shlex.join(["git", "push", "-u", "origin", branch]),
        "scaffold check .",
        f"{shlex.join(['scaffold', 'protect', '.', '--repo', repo])}"
        "  # GITHUB_TOKEN: a repo admin's token",
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
    probe: Git | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> GeneratedRepo:
    """Validate ``answers``, render ``kind`` into ``dest``, init git and commit.

    ``git=None`` skips ``git init`` and the first commit. Unanswered questions take
    their defaults; questions without one raise :class:`MissingAnswersError`.
    ``rules`` saves re-reading the questions when the caller already has them.
    ``probe`` (default ``git``) looks at DEST before ``force`` replaces it and
    ``confirm`` asks before a work tree with uncommitted changes goes (see
    :func:`check_destination`).
    """
    local_urls = [source.url] if is_local(source.url) else []
    local_source = tuple(Path(url) for url in local_urls)
    dest = check_destination(
        dest, force=force, keep=local_source, git=probe or git, confirm=confirm
    )
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


class NewRenderer(TemplateRenderer, FleetAppRenderer, Protocol):
    """Renders repos and fleet apps (``adapters.templates.CopierTemplates``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOptions:
    """What ``scaffold new`` was asked to do, once parsing and the wizard are over.

    ``answers`` are the given answers (without ``repo_kind``; unanswered questions
    take their defaults); ``commit=False`` is ``--no-git``; ``infra`` is the fleet
    the new app is registered in.
    """

    kind: RepoKind
    dest: Path
    answers: dict[str, Any]
    source: TemplateSource
    commit: bool = True
    force: bool = False
    author: str | None = None
    infra: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewResult:
    """Result of :func:`run_new`."""

    repo: GeneratedRepo
    registered: AddedApp | None = None


def infra_answers(
    infra: Path, kind: str, answers: dict[str, Any], options: NewOptions
) -> dict[str, Any]:
    """``answers`` of an app registered in the fleet ``infra`` (``new app --infra``):
    ``infra_repo`` is the fleet's own (a different one is an error), and the app
    repo needs its first commit, whose image every env of the fleet deploys."""
    if kind != "app":
        raise UsageError("--infra: only `scaffold new app` can register into a fleet")
    if not options.commit:
        raise UsageError(
            "--infra: the fleet deploys the image of the app repo's first commit "
            f"({IMAGE_TAG}, built by its first push); drop --no-git"
        )
    return app_answers_for(read_fleet(infra, field="--infra"), answers)


def _deploys_to(
    environments: tuple[str, ...], answers: dict[str, Any], rules: AnswerRules
) -> dict[str, Any]:
    """An app registered in a fleet releases to the fleet's first environment."""
    key = "deploy_environment"
    if key not in rules.by_key:  # a template version from before the answer
        return {}
    given = answers.get(key)
    if given is not None and given != environments[0]:
        raise InvalidAnswerError(
            key=key, rule=f"is {environments[0]!r} (the fleet's first environment)"
        )
    return {key: environments[0]}


def run_new(
    options: NewOptions,
    *,
    templates: NewRenderer,
    git: Git,
    rules: AnswerRules | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> NewResult:
    """The ``scaffold new`` use case: generate a repo, register an app in a fleet.

    With ``infra``, everything the registration checks (the fleet, the app name,
    a clean fleet) is checked before anything is written.
    """
    rules = rules or AnswerRules(templates.questions(options.source))
    commit_git = git if options.commit else None
    answers = dict(options.answers)
    if options.infra is not None:
        answers = infra_answers(options.infra, options.kind.value, answers, options)
        complete = rules.require(merge_kind(options.kind.value, answers))
        fleet = preflight_new_app(options.infra, options.kind.value, complete, git=git)
        answers.update(_deploys_to(fleet.environments, answers, rules))
    repo = create_repo(
        kind=options.kind,
        dest=options.dest,
        answers=answers,
        source=options.source,
        templates=templates,
        git=commit_git,
        force=options.force,
        author=options.author,
        rules=rules,
        probe=git,
        confirm=confirm,
    )
    registered = None
    if options.infra is not None:
        registered = register_app(
            fleet_path=options.infra,
            app_answers=repo.answers,
            source=options.source,
            templates=templates,
            git=commit_git,
            app_commit=repo.commit,
        )
    return NewResult(repo=repo, registered=registered)
