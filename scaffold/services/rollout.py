"""Use case: ``scaffold rollout``, a template release into every repo of an org,
one pull request each.

1. **Template, once.** The template is fetched into ``<workdir>/template.git`` (a
   bare clone, refreshed with ``git fetch`` on later runs). Its highest PEP 440
   release tag is the target unless ``--to`` names one.
2. **Discovery, API only** (:mod:`scaffold.services.discovery`): no clone for
   repos that are up to date, archived, forks or from another template.
3. **Resume.** For a repo that is behind, its open ``scaffold/update-*`` pull
   requests are listed. One for this target whose recorded base
   (``<!-- scaffold-rollout base=SHA -->`` in its body) is still the default
   branch's head is current: nothing is written (outcome ``pr-open``).
4. **Per repo, in worker processes** (``--jobs``): a shallow clone through the git
   CLI from the repo's ``clone_url``, then exactly ``scaffold update``'s code path
   (:func:`scaffold.services.update.update_instances`: renamed-file guard, fleet
   apps, conflict detection). Conflicts: ``skip`` pushes nothing; ``draft``
   commits the markers and opens a draft pull request. The branch
   ``scaffold/update-<ref>`` is pushed with ``--force-with-lease`` unless the
   remote branch already holds the same tree (a rerun after a kill). Nothing is
   ever pushed to a default branch.
5. **Pull requests, in this process, serially** (the client paces writes): open
   one, or refresh the open one's title and body; close older update pull
   requests with a comment pointing at the new one.

Each worker is a fresh (spawned) process whose environment gets, before copier
is imported: its own ``COPIER_CACHE_DIR`` (copier's cache is not safe under
parallel updates), ``url.<template.git>.insteadOf <_src_path>`` for every
``_src_path`` spelling in use (copier reads the cached template, the answers file
keeps the real ``_src_path``), and the token as an ``http.<host>/.extraHeader``
(adapters.git.auth_header) — git config through ``GIT_CONFIG_COUNT``, never on disk.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from scaffold.adapters.git import Git, auth_header, config_env
from scaffold.config import is_local
from scaffold.errors import GitError, ScaffoldError, UsageError
from scaffold.services.discovery import (
    FoundRepo,
    OrgReader,
    Shard,
    discover,
    update_pulls,
)
from scaffold.services.update import (
    branch_for,
    commit_message,
    latest_tag,
    update_instances,
)

ConflictPolicy = Literal["skip", "draft"]
_MARKER = re.compile(r"<!-- scaffold-rollout base=(?P<base>[0-9a-f]{40}) -->")
_BOT_NAME = "scaffold rollout"
_BOT_EMAIL = "scaffold-rollout@users.noreply.github.com"
_MAX_LISTED = 200  # files / notes listed in a pull request body
_MAX_NOTES = 20_000  # characters of release notes (GitHub caps bodies at 65536)


class Outcome(StrEnum):
    """What happened to one repo."""

    UPDATED = "updated"  # branch pushed, pull request opened
    PR_UPDATED = "pr-updated"  # the open update pull request was refreshed
    PR_OPEN = "pr-open"  # an open update pull request is already current
    UP_TO_DATE = "up-to-date"  # every instance is at the target
    WOULD_UPDATE = "would-update"  # --dry-run: an update is due
    CONFLICT = "conflict"  # skip: nothing pushed; draft: a draft pull request
    SKIPPED = "skipped"  # archived, a fork, no answers file, another template
    FAILED = "failed"  # an error in this repo (the others carried on)


_PROBLEMS = frozenset({Outcome.CONFLICT, Outcome.FAILED})


class RolloutForge(OrgReader, Protocol):
    """The GitHub calls rollout makes (adapters.github.GitHubClient)."""

    def get_branch(self, owner: str, repo: str, branch: str) -> dict[str, Any]: ...

    def create_pull(
        self,
        owner: str,
        repo: str,
        *,
        title: str,
        head: str,
        base: str,
        body: str,
        draft: bool = False,
    ) -> dict[str, Any]: ...

    def update_pull(
        self, owner: str, repo: str, number: int, fields: dict[str, Any]
    ) -> dict[str, Any]: ...

    def comment(self, owner: str, repo: str, number: int, body: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutOptions:
    """What ``scaffold rollout`` was asked to do."""

    org: str
    template: str  # the template URL the repos' _src_path must name
    workdir: Path
    to_ref: str | None = None
    repos: list[str] = field(default_factory=list)  # OWNER/NAME restriction
    jobs: int = 4
    dry_run: bool = False
    shard: Shard | None = None
    on_conflict: ConflictPolicy = "skip"


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoOutcome:
    """One line of the report."""

    repo: str
    from_version: str
    to_version: str
    outcome: Outcome
    pr_url: str | None = None
    files: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # "path: reason"
    error: str | None = None
    insertions: int = 0  # --dry-run diff statistics
    deletions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "from": self.from_version,
            "to": self.to_version,
            "outcome": self.outcome.value,
            "pr_url": self.pr_url,
            "files": self.files,
            "conflicts": self.conflicts,
            "error": self.error,
            "insertions": self.insertions,
            "deletions": self.deletions,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutReport:
    """Every selected repo's outcome, in name order."""

    org: str
    to_version: str
    dry_run: bool
    repos: list[RepoOutcome]

    @property
    def exit_code(self) -> int:
        """0: all updated or up to date; 3: a conflict or a failure somewhere."""
        return 3 if any(r.outcome in _PROBLEMS for r in self.repos) else 0

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for repo in self.repos:
            result[repo.outcome.value] = result.get(repo.outcome.value, 0) + 1
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "to": self.to_version,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "repos": [r.as_dict() for r in self.repos],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Progress: ``total`` once discovery is done, ``start`` when a worker takes a
    repo, ``done`` with each repo's outcome."""

    kind: Literal["read", "total", "start", "done"]
    repo: str = ""
    total: int = 0
    outcome: RepoOutcome | None = None


# --- worker processes ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    repo: str
    clone_url: str
    default_branch: str
    target: str
    branch: str
    dry_run: bool
    draft: bool
    clones: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class _Work:
    repo: str
    base: str = ""  # the default branch's head the update was made on
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    up_to_date: bool = False
    pushed: bool = False
    error: str | None = None
    insertions: int = 0
    deletions: int = 0


_events: Any = None  # the worker's queue to the parent (set by _init_worker)
# the worker's template adapter, kept across its jobs: it remembers which files
# each release changes, so the renamed-file guard asks git once per worker
_templates: Any = None


def _init_worker(entries: list[tuple[str, str]], cache_root: str, events: Any) -> None:
    """Runs first in each spawned worker, before anything imports copier."""
    global _events  # per-process state of the worker
    _events = events
    os.environ.update(config_env(os.environ, entries))
    cache = Path(cache_root) / f"worker-{os.getpid()}"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["COPIER_CACHE_DIR"] = str(cache)
    if not Git().has_identity(Path(cache_root), "GIT_COMMITTER_IDENT"):
        for role in ("AUTHOR", "COMMITTER"):
            os.environ[f"GIT_{role}_NAME"] = _BOT_NAME
            os.environ[f"GIT_{role}_EMAIL"] = _BOT_EMAIL


def _run_job(job: _Job) -> _Work:
    """One repo in a worker: clone, update as ``scaffold update`` does, push."""
    global _templates  # per-process state of the worker
    if _templates is None:
        from scaffold.adapters.templates import CopierTemplates

        _templates = CopierTemplates(git=Git())
    if _events is not None:
        _events.put(job.repo)
    work = job.clones / job.repo
    try:
        if work.exists():
            shutil.rmtree(work)
        git = Git()
        git.clone_remote(job.clone_url, work, branch=job.default_branch, depth=1)
        base = git.head(work)
        report = update_instances(
            work,
            to_ref=job.target,
            templates=_templates,
            git=git,
            dry_run=job.dry_run,
            commit_conflicts=job.draft,
        )
        changed = sorted({p for r in report.results for p in r.changed})
        conflicts = [
            f"{c.path}: {c.reason}" for r in report.results for c in r.conflicts
        ]
        plus, minus = _diffstat(report.diff) if job.dry_run else (0, 0)
        result = _Work(
            repo=job.repo,
            base=base,
            changed=changed,
            conflicts=conflicts,
            up_to_date=report.up_to_date,
            insertions=plus,
            deletions=minus,
        )
        if job.dry_run or report.up_to_date or (conflicts and not job.draft):
            return result
        return _push(git, work, job, result)
    except ScaffoldError as exc:
        return _Work(repo=job.repo, error=str(exc))
    except Exception as exc:  # one repo's surprise never stops the others
        return _Work(repo=job.repo, error=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _push(git: Git, work: Path, job: _Job, result: _Work) -> _Work:
    """Push the update branch unless the remote one already holds the same tree."""
    if job.branch == job.default_branch:  # never, whatever the names
        return replace(
            result, error=f"refusing to push to the default branch {job.branch}"
        )
    ref = f"refs/heads/{job.branch}"
    remote = git.ls_remote("origin", ref, cwd=work).get(ref)
    if remote is not None:
        git.fetch(work, "origin", ref)
        if git.tree_of(work, "FETCH_HEAD") == git.tree_of(work, "HEAD"):
            return result
    try:
        git.push(work, "origin", local="HEAD", branch=job.branch, expect=remote)
    except GitError as exc:
        detail = " ".join(exc.stderr.split())[-300:] or str(exc)
        return replace(result, error=f"push of {job.branch} refused: {detail}")
    return replace(result, pushed=True)


def _diffstat(diff: str) -> tuple[int, int]:
    plus = minus = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            plus += 1
        elif line.startswith("-") and not line.startswith("---"):
            minus += 1
    return plus, minus


# --- the use case -------------------------------------------------------------


def rollout(
    options: RolloutOptions,
    *,
    forge: RolloutForge,
    git: Git,
    token: str | None,
    on_event: Callable[[Event], None] | None = None,
) -> RolloutReport:
    """Run the rollout; see the module docstring. Per-repo failures are outcomes."""
    notify = on_event or (lambda _event: None)
    if options.jobs < 1:
        raise UsageError(f"--jobs {options.jobs}: must be at least 1")
    options.workdir.mkdir(parents=True, exist_ok=True)
    mirror = _fetch_template(options, git, token)
    target = _target(options, git, mirror)
    branch = branch_for(target)
    found = discover(
        forge,
        org=options.org,
        template=options.template,
        repos=options.repos or None,
        shard=options.shard,
        on_repo=lambda name: notify(Event(kind="read", repo=name)),
    )
    notify(Event(kind="total", total=len(found)))
    outcomes: dict[str, RepoOutcome] = {}
    jobs: list[tuple[FoundRepo, _Job, list[dict[str, Any]]]] = []

    def finish(outcome: RepoOutcome) -> None:
        outcomes[outcome.repo] = outcome
        notify(Event(kind="done", repo=outcome.repo, outcome=outcome))

    for repo in found:
        pending = _plan(repo, options, forge, target, branch, finish)
        if pending is not None:
            jobs.append((repo, pending[0], pending[1]))
    if jobs:
        _run_jobs(
            jobs,
            options=options,
            forge=forge,
            git=git,
            mirror=mirror,
            token=token,
            target=target,
            notify=notify,
            finish=finish,
        )
    return RolloutReport(
        org=options.org,
        to_version=target,
        dry_run=options.dry_run,
        repos=[outcomes[r.full_name] for r in found if r.full_name in outcomes],
    )


def _fetch_template(options: RolloutOptions, git: Git, token: str | None) -> Path:
    """The template as a bare repository in the workdir (cloned once, then fetched)."""
    mirror = options.workdir / "template.git"
    remote_git = git
    if token and not is_local(options.template) and "://" in options.template:
        with contextlib.suppress(UsageError):  # ssh:// etc.: the user's own auth
            remote_git = git.with_token(options.template, token)
    if (mirror / "HEAD").is_file():
        remote_git.run(
            mirror, "remote", "set-url", "--end-of-options", "origin", options.template
        )
        remote_git.fetch(
            mirror,
            "origin",
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
            prune=True,
        )
    else:
        tmp = options.workdir / "template.git.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        remote_git.clone_remote(options.template, tmp, bare=True)
        tmp.rename(mirror)
    return mirror


def _target(options: RolloutOptions, git: Git, mirror: Path) -> str:
    if options.to_ref:
        if git.tree_of(mirror, options.to_ref) is None:
            raise UsageError(
                f"--to {options.to_ref}: no such tag or branch in {options.template}"
            )
        return options.to_ref
    found = latest_tag(git.tags(mirror))
    if found is None:
        raise UsageError(f"template {options.template} has no release tags; pass --to")
    return found


def _plan(
    repo: FoundRepo,
    options: RolloutOptions,
    forge: RolloutForge,
    target: str,
    branch: str,
    finish: Callable[[RepoOutcome], None],
) -> tuple[_Job, list[dict[str, Any]]] | None:
    """Settle the repo from the API alone, or return the job a worker must run."""
    behind = [i for i in repo.instances if i.version != target]
    base = RepoOutcome(
        repo=repo.full_name,
        from_version=(behind[0] if behind else repo.instances[0]).version
        if repo.instances
        else "",
        to_version=target,
        outcome=Outcome.UP_TO_DATE,
    )
    if repo.skipped:
        finish(replace(base, outcome=Outcome.SKIPPED, error=repo.skipped))
        return None
    if not behind:
        finish(base)
        return None
    try:
        pulls = update_pulls(forge, repo)
        current = next((p for p in pulls if p["head"]["ref"] == branch), None)
        older = [p for p in pulls if p["head"]["ref"] != branch]
        if current is not None and not options.dry_run:
            head = forge.get_branch(repo.owner, repo.name, repo.default_branch)
            marker = _MARKER.search(str(current.get("body") or ""))
            if marker and marker["base"] == head["commit"]["sha"]:
                _supersede(forge, repo, older, current, target)
                finish(
                    replace(base, outcome=Outcome.PR_OPEN, pr_url=current["html_url"])
                )
                return None
    except ScaffoldError as exc:
        finish(replace(base, outcome=Outcome.FAILED, error=str(exc)))
        return None
    job = _Job(
        repo=repo.full_name,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        target=target,
        branch=branch,
        dry_run=options.dry_run,
        draft=options.on_conflict == "draft",
        clones=options.workdir / "clones",
    )
    return job, pulls


def _worker_config(
    jobs: list[tuple[FoundRepo, _Job, list[dict[str, Any]]]],
    *,
    mirror: Path,
    token: str | None,
) -> list[tuple[str, str]]:
    """git config for the workers: template spellings → the cache, token header."""
    entries: list[tuple[str, str]] = []
    spellings = sorted(
        {i.src for repo, _, _ in jobs for i in repo.instances if not is_local(i.src)}
    )
    entries += [(f"url.{mirror.resolve().as_uri()}.insteadOf", s) for s in spellings]
    if token:
        hosts = {}
        for repo, _, _ in jobs:
            with contextlib.suppress(UsageError):
                key, value = auth_header(repo.clone_url, token)
                hosts[key] = value
        entries += sorted(hosts.items())
    return entries


def _run_jobs(
    jobs: list[tuple[FoundRepo, _Job, list[dict[str, Any]]]],
    *,
    options: RolloutOptions,
    forge: RolloutForge,
    git: Git,
    mirror: Path,
    token: str | None,
    target: str,
    notify: Callable[[Event], None],
    finish: Callable[[RepoOutcome], None],
) -> None:
    """Run the jobs in spawned worker processes; open PRs here as results come."""
    ctx = multiprocessing.get_context("spawn")  # fresh env before copier's import
    events = ctx.Queue()
    entries = _worker_config(jobs, mirror=mirror, token=token)
    by_repo = {job.repo: (repo, pulls) for repo, job, pulls in jobs}
    with _pool(ctx, options, entries, events) as pool:
        pending: dict[Future[_Work], _Job] = {
            pool.submit(_run_job, job): job for _, job, _ in jobs
        }
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(events, notify)
            for future in done:
                job = pending.pop(future)
                repo, pulls = by_repo[job.repo]
                try:
                    work = future.result()
                except Exception as exc:  # a worker died (killed, out of memory)
                    work = _Work(repo=job.repo, error=f"worker failed: {exc}")
                finish(
                    _conclude(
                        repo,
                        work,
                        pulls=pulls,
                        options=options,
                        forge=forge,
                        git=git,
                        mirror=mirror,
                        target=target,
                    )
                )
        _drain(events, notify)


@contextlib.contextmanager
def _pool(
    ctx: Any, options: RolloutOptions, entries: list[tuple[str, str]], events: Any
) -> Iterator[ProcessPoolExecutor]:
    cache_root = options.workdir / "copier-cache"
    cache_root.mkdir(parents=True, exist_ok=True)
    pool = ProcessPoolExecutor(
        max_workers=options.jobs,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(entries, str(cache_root), events),
    )
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _drain(events: Any, notify: Callable[[Event], None]) -> None:
    while True:
        try:
            name = events.get_nowait()
        except queue.Empty:
            return
        notify(Event(kind="start", repo=str(name)))


def _conclude(
    repo: FoundRepo,
    work: _Work,
    *,
    pulls: list[dict[str, Any]],
    options: RolloutOptions,
    forge: RolloutForge,
    git: Git,
    mirror: Path,
    target: str,
) -> RepoOutcome:
    """A worker's result becomes an outcome (opening or refreshing the PR)."""
    behind = [i for i in repo.instances if i.version != target]
    base = RepoOutcome(
        repo=repo.full_name,
        from_version=behind[0].version if behind else repo.version,
        to_version=target,
        outcome=Outcome.UP_TO_DATE,
        files=work.changed,
        conflicts=work.conflicts,
        insertions=work.insertions,
        deletions=work.deletions,
    )
    if work.error is not None:
        return replace(base, outcome=Outcome.FAILED, error=work.error)
    if work.up_to_date:
        return base
    if options.dry_run:
        outcome = Outcome.CONFLICT if work.conflicts else Outcome.WOULD_UPDATE
        return replace(base, outcome=outcome)
    if work.conflicts and options.on_conflict == "skip":
        return replace(
            base, outcome=Outcome.CONFLICT, error="conflicts; nothing pushed"
        )
    branch = branch_for(target)
    title = commit_message(base.from_version, target)
    body = pr_body(
        repo,
        work,
        from_version=base.from_version,
        target=target,
        notes=release_notes(git, mirror, base.from_version, target),
    )
    current = next((p for p in pulls if p["head"]["ref"] == branch), None)
    older = [p for p in pulls if p["head"]["ref"] != branch]
    try:
        if current is None:
            pr = forge.create_pull(
                repo.owner,
                repo.name,
                title=title,
                head=branch,
                base=repo.default_branch,
                body=body,
                draft=bool(work.conflicts),
            )
            outcome = Outcome.UPDATED
        else:
            pr = current
            if current.get("title") != title or current.get("body") != body:
                pr = forge.update_pull(
                    repo.owner,
                    repo.name,
                    int(current["number"]),
                    {"title": title, "body": body},
                )
            outcome = Outcome.PR_UPDATED
        _supersede(forge, repo, older, pr, target)
    except ScaffoldError as exc:
        return replace(base, outcome=Outcome.FAILED, error=str(exc))
    if work.conflicts:
        outcome = Outcome.CONFLICT
    return replace(base, outcome=outcome, pr_url=str(pr.get("html_url")))


def _supersede(
    forge: RolloutForge,
    repo: FoundRepo,
    older: list[dict[str, Any]],
    new: dict[str, Any],
    target: str,
) -> None:
    """Close older update pull requests, each with a comment naming the new one."""
    for pr in older:
        number = int(pr["number"])
        forge.comment(
            repo.owner,
            repo.name,
            number,
            f"Superseded by {new.get('html_url')} (template {target}); "
            "closed by scaffold rollout.",
        )
        forge.update_pull(repo.owner, repo.name, number, {"state": "closed"})


def release_notes(git: Git, mirror: Path, from_version: str, target: str) -> str:
    """The template's tag annotations for the releases in (from, target]."""
    from packaging.version import InvalidVersion, Version

    try:
        low = Version(from_version.removeprefix("v"))
        high = Version(target.removeprefix("v"))
    except InvalidVersion:
        return ""
    picked = []
    for tag in git.tags(mirror):
        if latest_tag([tag]) is None:
            continue
        version = Version(tag.removeprefix("v"))
        if low < version <= high:
            picked.append((version, tag))
    parts = []
    for _, tag in sorted(picked, reverse=True):
        message = git.tag_message(mirror, tag)
        parts.append(f"#### {tag}\n\n{message}" if message else f"#### {tag}")
    text = "\n\n".join(parts)
    return text if len(text) <= _MAX_NOTES else text[:_MAX_NOTES] + "\n\n…(cut)"


def pr_body(
    repo: FoundRepo, work: _Work, *, from_version: str, target: str, notes: str
) -> str:
    """The pull request body: files, conflicts, release notes, the resume marker."""
    instances = ", ".join(
        f"`{i.label or '.'}` {i.version}" for i in repo.instances if i.version != target
    )
    lines = [
        f"Template update {from_version} → {target} by `scaffold rollout` "
        f"(instances: {instances}).",
        "",
        "Review it like any change; it merges through the usual checks.",
        "",
        f"### Files changed ({len(work.changed)})",
        "",
    ]
    lines += [f"- `{path}`" for path in work.changed[:_MAX_LISTED]]
    if len(work.changed) > _MAX_LISTED:
        lines.append(f"- … and {len(work.changed) - _MAX_LISTED} more")
    if work.conflicts:
        lines += [
            "",
            f"### Conflicts ({len(work.conflicts)})",
            "",
            "These files hold `<<<<<<< before updating` markers or `*.rej` hunks: "
            "resolve them on this branch before merging (this is a draft).",
            "",
        ]
        lines += [f"- {c}" for c in work.conflicts[:_MAX_LISTED]]
    lines += ["", "### Release notes", "", notes or "(no tag annotations)", ""]
    lines.append(f"<!-- scaffold-rollout base={work.base} -->")
    return "\n".join(lines)
