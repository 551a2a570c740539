"""Use case: update a repo's Copier instances (its own and, in a fleet, each
app's) to a newer template version, one commit each on one branch.

The steps and guarantees are README.md's ``scaffold update`` section.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from scaffold.adapters.git import Git
from scaffold.adapters.templates import Rendered, read_answers
from scaffold.config import check_ref, template_url
from scaffold.errors import InvalidAnswerError, UsageError
from scaffold.layout import (
    ANSWERS_FILE,
    FLEET_APP_KIND,
    FLEET_APPS_DIR,
    TEMPLATE_CONFIG,
    UPDATE_BRANCH_PREFIX,
)
from scaffold.models import Question, TemplateSource
from scaffold.services.answers import AnswerRules
from scaffold.services.fleet import (
    INHERITED,
    answers_file_for,
    read_fleet,
    sync_fleet_access,
)
from scaffold.services.update_guard import Marker, UpdateGuard, guard

CONFLICT_MARKER = "<<<<<<< before updating"
_DRY_RUN_AUTHOR = "scaffold dry run <scaffold@localhost>"


class TemplateUpdater(Protocol):
    """What this service needs from the template adapter."""

    def tags(self, url: str) -> list[str]: ...

    def render_with_notes(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> Rendered: ...

    def update(
        self,
        project: Path,
        *,
        ref: str | None,
        answers_file: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> list[str]: ...

    def questions(self, source: TemplateSource) -> list[Question]: ...

    def release_changes(
        self, url: str, old: str, new: str
    ) -> list[tuple[str, str]] | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """A file the user must look at after an update."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateResult:
    """What ``scaffold update`` did (or, with ``dry_run``, would do)."""

    path: Path
    from_version: str
    to_version: str
    branch: str | None = None  # the update branch left behind, None if none
    changed: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    commit: str | None = None
    diff: str = ""
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    instance: str = ""  # "" for the repo itself, "apps/<name>" for a fleet's app
    answers_file: str = ANSWERS_FILE

    @property
    def up_to_date(self) -> bool:
        """True when the update changes nothing."""
        return not self.changed and not self.conflicts


def latest_tag(tags: list[str]) -> str | None:
    """The highest PEP 440 release tag (``vX.Y.Z``), prereleases excluded."""
    from packaging.version import InvalidVersion, Version

    best: tuple[Version, str] | None = None
    for tag in tags:
        try:
            version = Version(tag.removeprefix("v"))
        except InvalidVersion:
            continue
        if version.is_prerelease:
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return None if best is None else best[1]


def branch_for(ref: str) -> str:
    """``scaffold/update-<ref>`` with the ref made safe for a branch name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip("-.") or "ref"
    return f"{UPDATE_BRANCH_PREFIX}{safe}"


def commit_message(from_version: str, to_version: str, instance: str = "") -> str:
    """The update commit's subject (``instance`` e.g. ``apps/web`` in a fleet)."""
    where = f"{instance} " if instance else ""
    return f"chore(template): {where}{from_version} → {to_version}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """One Copier instance in a repo: the repo itself or an app inside a fleet."""

    label: str  # "" for the repo itself, "apps/<name>" for an app of a fleet
    answers_file: str  # relative to the repo root
    answers: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)  # answers to change

    @property
    def changing(self) -> bool:
        """True when an answer changes (an update even at the same version)."""
        return any(self.answers.get(k) != v for k, v in self.changes.items())

    @property
    def src(self) -> str:
        return str(self.answers.get("_src_path") or "")

    @property
    def version(self) -> str:
        return str(self.answers.get("_commit") or "")

    @property
    def data(self) -> dict[str, Any]:
        return {k: v for k, v in self.answers.items() if not str(k).startswith("_")}


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateReport:
    """What ``scaffold update`` did to every Copier instance of one repo.

    ``results`` holds one :class:`UpdateResult` per instance that was looked at, in
    order (the repo itself first, then the fleet's apps); ``not_run`` names the
    instances left alone because an earlier one stopped with conflicts.
    """

    path: Path
    to_version: str
    results: list[UpdateResult]
    branch: str | None = None  # the update branch left behind, None if none
    dry_run: bool = False
    not_run: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        """True when no instance changes."""
        return all(r.up_to_date for r in self.results) and not self.not_run

    @property
    def conflicted(self) -> UpdateResult | None:
        """The instance that stopped the update with conflicts, if any."""
        return next((r for r in self.results if r.conflicts), None)

    @property
    def commits(self) -> list[str]:
        return [r.commit for r in self.results if r.commit]

    @property
    def diff(self) -> str:
        """The combined diff (dry run: of every instance; else of each commit)."""
        return "".join(r.diff for r in self.results)


def list_instances(
    path: Path, answers: dict[str, Any], *, apps: list[str] | None, include_apps: bool
) -> list[Instance]:
    """The repo's own instance and, for a fleet, its apps' instances.

    ``apps`` restricts the update to those apps (the fleet's own instance is left
    alone then); ``include_apps=False`` updates only the repo's own instance.
    """
    own = Instance(label="", answers_file=ANSWERS_FILE, answers=answers)
    if apps and not include_apps:
        raise UsageError("--app: cannot be combined with --no-apps")
    if answers.get("repo_kind") != "infra":
        if apps:
            raise UsageError(f"--app: {path} is not a fleet (repo_kind is not infra)")
        return [own]
    registered = read_fleet(path, field="PATH").apps()
    if apps:
        unknown = [a for a in dict.fromkeys(apps) if a not in registered]
        if unknown:
            known = ", ".join(registered) or "none"
            raise UsageError(
                f"--app: no app {', '.join(map(repr, unknown))} in the fleet "
                f"(apps: {known})"
            )
        selected = list(dict.fromkeys(apps))
    else:
        selected = registered if include_apps else []
    result = [] if apps else [own]
    for name in selected:
        rel = answers_file_for(name)
        app_answers = read_answers(path / rel)
        if not app_answers.get("_commit") or not app_answers.get("_src_path"):
            raise UsageError(f"{rel}: no _src_path and _commit; cannot update {name}")
        result.append(
            Instance(
                label=f"{FLEET_APPS_DIR}/{name}",
                answers_file=rel,
                answers=app_answers,
            )
        )
    return result


def update_instances(
    path: Path,
    *,
    to_ref: str | None,
    templates: TemplateUpdater,
    git: Git,
    dry_run: bool = False,
    apps: list[str] | None = None,
    include_apps: bool = True,
    commit_conflicts: bool = False,
    changes: dict[str, str] | None = None,
) -> UpdateReport:
    """Update every Copier instance of the repo at ``path`` on one branch.

    ``changes`` (``--set KEY=VALUE``) changes answers of the repo's own instance,
    checked like ``scaffold new`` checks them; a fleet's apps follow the answers
    they inherit from the fleet (``environments``). An answer change updates even
    when the version stays the same (e.g. adding an environment).

    ``commit_conflicts`` (``scaffold rollout --on-conflict draft``): an instance
    with conflicts is committed with its markers (subject suffixed
    ``(conflicts)``) and the later instances still run; the report still lists
    the conflicts.

    For a fleet that is the fleet's own instance and each app's
    (``apps/<name>/.copier-answers.yml``), one commit per instance, all on
    ``scaffold/update-<ref>``. The first instance with conflicts stops the run:
    its update is left uncommitted on the branch, the later ones are not run.
    Running again on the update branch (after committing the resolution) goes on
    with the instances still behind.
    """
    path = path.resolve()
    if not path.is_dir() or not git.is_repo_root(path):
        raise UsageError(f"{path}: not the top of a git work tree")
    with guard(path, git=git) as run_guard:
        run_guard.check_not_interrupted()
        return _update_instances(
            path,
            to_ref=to_ref,
            templates=templates,
            git=git,
            dry_run=dry_run,
            apps=apps,
            include_apps=include_apps,
            run_guard=run_guard,
            commit_conflicts=commit_conflicts,
            changes=changes,
        )


def _update_instances(
    path: Path,
    *,
    to_ref: str | None,
    templates: TemplateUpdater,
    git: Git,
    dry_run: bool,
    apps: list[str] | None,
    include_apps: bool,
    run_guard: UpdateGuard,
    commit_conflicts: bool,
    changes: dict[str, str] | None,
) -> UpdateReport:
    """:func:`update_instances` with the repo's update lock held."""
    answers = read_answers(path / ANSWERS_FILE)
    if not answers.get("_commit") or not answers.get("_src_path"):
        raise UsageError(
            f"{path}: no {ANSWERS_FILE} with _src_path and _commit; "
            "was it generated by scaffold new?"
        )
    if to_ref is not None:
        to_ref = check_ref(to_ref, field="--to")
    instances = [
        _checked(inst)
        for inst in list_instances(path, answers, apps=apps, include_apps=include_apps)
    ]
    git.require_clean(path)
    tags: dict[str, list[str]] = {}

    def target_of(inst: Instance) -> str:
        if to_ref:
            return to_ref
        if inst.src not in tags:
            tags[inst.src] = templates.tags(inst.src)
        found = latest_tag(tags[inst.src])
        if not found:
            raise UsageError(f"template {inst.src} has no version tags; pass --to REF")
        return found

    targets = [target_of(inst) for inst in instances]
    if changes:
        instances = _with_changes(
            instances, answers, changes, target_of, templates, own=not apps
        )
    pending = [
        (inst, target)
        for inst, target in zip(instances, targets, strict=True)
        if target != inst.version or inst.changing
    ]
    branch = branch_for(pending[0][1] if pending else targets[0])
    if not pending:
        results = [
            _result(path, inst, target, dry_run)
            for inst, target in zip(instances, targets, strict=True)
        ]
        return UpdateReport(
            path=path, to_version=targets[0], results=results, dry_run=dry_run
        )
    resume = git.current_branch(path) == branch
    if branch in git.branches(path) and not resume:
        raise UsageError(
            f"branch {branch} already exists in {path}; merge or delete it first"
        )
    with run_guard.scratch() as scratch:
        if dry_run:
            work = scratch / "clone"
            git.clone(path, work)
        else:
            work = path
        return _run(
            work,
            path=path,
            plan=list(zip(instances, targets, strict=True)),
            branch=branch,
            resume=resume,
            templates=templates,
            git=git,
            scratch=scratch,
            dry_run=dry_run,
            run_guard=run_guard,
            commit_conflicts=commit_conflicts,
        )


def _with_changes(
    instances: list[Instance],
    answers: dict[str, Any],
    changes: dict[str, str],
    target_of: Callable[[Instance], str],
    templates: TemplateUpdater,
    *,
    own: bool,
) -> list[Instance]:
    """``instances`` with the checked answer changes each one takes: the repo's
    own instance all of them, a fleet's apps those they inherit from the fleet."""
    root = _checked(Instance(label="", answers_file=ANSWERS_FILE, answers=answers))
    source = TemplateSource(url=root.src, ref=target_of(root))
    rules = AnswerRules(templates.questions(source))
    context = dict(root.data)
    typed: dict[str, Any] = {}
    for key, raw in changes.items():
        question = rules.by_key.get(key)
        if (
            question is None
            or key == "repo_kind"
            or rules.is_hidden(question)
            or not rules.is_asked(question, context)
        ):
            kind = answers.get("repo_kind")
            raise InvalidAnswerError(
                key=key, rule=f"no such answer for this {kind} repo"
            )
        typed[key] = rules.check(question, raw, context)
    if not own and not set(typed) <= set(INHERITED):
        raise UsageError("--set: with --app only answers the apps inherit may change")
    inherited = {k: v for k, v in typed.items() if k in INHERITED}
    return [
        replace(inst, changes=inherited if inst.label else typed) for inst in instances
    ]


def _checked(inst: Instance) -> Instance:
    """``inst`` with its ``_src_path`` and ``_commit`` validated (they are read
    from a file anyone can change by pull request, and reach git and copier)."""
    src = template_url(
        inst.src, field=f"{inst.answers_file}: _src_path", allow_credentials=False
    )
    check_ref(inst.version, field=f"{inst.answers_file}: _commit")
    return replace(inst, answers={**inst.answers, "_src_path": src})


def _result(path: Path, inst: Instance, target: str, dry_run: bool) -> UpdateResult:
    return UpdateResult(
        path=path / inst.label if inst.label else path,
        from_version=inst.version,
        to_version=target,
        dry_run=dry_run,
        instance=inst.label,
        answers_file=inst.answers_file,
    )


def _run(
    work: Path,
    *,
    path: Path,
    plan: list[tuple[Instance, str]],
    branch: str,
    resume: bool,
    templates: TemplateUpdater,
    git: Git,
    scratch: Path,
    dry_run: bool,
    run_guard: UpdateGuard,
    commit_conflicts: bool = False,
) -> UpdateReport:
    original = git.current_branch(work)
    start = git.head(work)
    if not dry_run:  # a dry run works in a throwaway clone
        run_guard.begin(
            Marker(
                pid=os.getpid(),
                branch=branch,
                original=original,
                start=start,
                resume=resume,
            )
        )
    if not resume:
        git.switch_new(work, branch)
    results: list[UpdateResult] = []
    not_run: list[str] = []
    try:
        for index, (inst, target) in enumerate(plan):
            base = _result(path, inst, target, dry_run)
            if target == inst.version and not inst.changing:
                results.append(base)
                continue
            result = _update_one(
                work,
                inst,
                base=base,
                templates=templates,
                git=git,
                scratch=scratch / f"instance-{index}",
                dry_run=dry_run,
                commit_conflicts=commit_conflicts,
            )
            results.append(result)
            if result.conflicts and not commit_conflicts:
                not_run = [i.label or "." for i, _ in plan[index + 1 :]]
                break
    except BaseException:
        # the lock and the clean-tree check make every change here this run's own
        if resume:
            git.reset_to(work, start)
        else:
            git.restore(work, branch=original, sha=start)
            git.delete_branch(work, branch)
        run_guard.end()
        raise
    report = UpdateReport(
        path=path,
        to_version=plan[0][1],
        results=results,
        dry_run=dry_run,
        not_run=not_run,
    )
    if dry_run:
        return report
    if report.up_to_date and not resume:
        git.restore(work, branch=original, sha=start)
        git.delete_branch(work, branch)
        run_guard.end()
        return report
    run_guard.end()
    return replace(report, branch=branch)


def _update_one(
    work: Path,
    inst: Instance,
    *,
    base: UpdateResult,
    templates: TemplateUpdater,
    git: Git,
    scratch: Path,
    dry_run: bool,
    commit_conflicts: bool = False,
) -> UpdateResult:
    """Update one instance in ``work``; commit it unless it has conflicts
    (``commit_conflicts``: commit it with the markers too)."""
    orphans = find_orphans(
        work,
        src=inst.src,
        old=inst.version,
        new=base.to_version,
        answers=inst.data,
        new_answers={**inst.data, **inst.changes},
        templates=templates,
        scratch=scratch,
        answers_file=inst.answers_file,
    )
    notes = templates.update(
        work,
        ref=base.to_version,
        answers_file=inst.answers_file,
        data=dict(inst.changes) or None,
    )
    restored = _restore_orphans(work, orphans)
    changed = git.changed_paths(work)
    conflicts = [*restored, *find_conflicts(work, git, changed=changed)]
    if not conflicts and inst.answers.get("repo_kind") in ("infra", FLEET_APP_KIND):
        # an app's team may be new or changed: its CODEOWNERS lines and Argo CD
        # project role go into the same commit (so apps registered before teams
        # existed get them)
        sync_fleet_access(read_fleet(work))
        changed = git.changed_paths(work)
    fields: dict[str, Any] = {
        "changed": changed,
        "conflicts": conflicts,
        "notes": notes,
    }
    if not changed and not conflicts:
        return replace(base, **fields)
    if not dry_run:
        fields["branch"] = git.current_branch(work)
    if dry_run:
        fields["diff"] = git.staged_diff(work) if changed else ""
    if conflicts and not commit_conflicts:
        return replace(base, **fields)
    message = commit_message(base.from_version, base.to_version, inst.label)
    if conflicts:
        message += " (conflicts)"
    # copier refuses a dirty tree, so the next instance needs this one committed
    # (in a dry run only inside the throwaway clone, under a neutral identity)
    commit = git.commit_all(work, message, author=_DRY_RUN_AUTHOR if dry_run else None)
    if not dry_run:
        fields["commit"] = commit
        fields["diff"] = git.show(work)
    return replace(base, **fields)


@dataclass(frozen=True, slots=True)
class _Orphan:
    path: str
    local: bytes  # the project's content before the update
    added: tuple[str, ...]  # files the new version adds (rename candidates)


def find_orphans(
    project: Path,
    *,
    src: str,
    old: str,
    new: str,
    answers: dict[str, Any],
    templates: TemplateUpdater,
    scratch: Path,
    answers_file: str | None = None,
    new_answers: dict[str, Any] | None = None,
) -> list[_Orphan]:
    """Files the new version drops that the project has edited locally.

    ``answers_file`` selects the instance (an app inside a fleet renders into
    ``apps/<name>/`` and ``clusters/``); paths are relative to the repo root.
    Renders nothing when :func:`can_drop_files` says the release cannot drop one.
    """
    same_answers = new_answers is None or new_answers == answers
    if same_answers and not can_drop_files(templates, src, old, new):
        return []
    old_tree = scratch / "old"
    new_tree = scratch / "new"
    for ref, tree, data in (
        (old, old_tree, answers),
        (new, new_tree, answers if new_answers is None else new_answers),
    ):
        templates.render_with_notes(
            TemplateSource(url=src, ref=ref), tree, data, answers_file=answers_file
        )
    old_files, new_files = _files(old_tree), _files(new_tree)
    added = tuple(sorted(new_files - old_files))
    result = []
    for rel in sorted(old_files - new_files):
        local = project / rel
        if local.is_file() and local.read_bytes() != (old_tree / rel).read_bytes():
            result.append(_Orphan(rel, local.read_bytes(), added))
    return result


def can_drop_files(templates: TemplateUpdater, src: str, old: str, new: str) -> bool:
    """False only when rendering ``new`` with the same answers as ``old`` surely
    yields every file ``old`` yielded: the template's git diff between them only
    adds or edits files and leaves ``copier.yml`` (questions, ``_exclude``,
    ``_subdirectory``, ``_answers_file``...) alone. Which files copier writes
    depends on the template's file names, copier.yml and the answers (an edited
    file's content never drops it: copier writes empty files too), so none can be
    dropped then. Any doubt (no diff, a deletion, a rename, a type change, a
    copier.yml with ``!include``) is True."""
    changes = templates.release_changes(src, old, new)
    if changes is None:
        return True
    return any(
        status not in ("A", "M") or Path(path).name in _CONFIG_FILES
        for status, path in changes
    )


_CONFIG_FILES = frozenset({TEMPLATE_CONFIG, "copier.yaml"})


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _restore_orphans(work: Path, orphans: list[_Orphan]) -> list[Conflict]:
    """Put back locally edited files the update dropped; report each one."""
    conflicts = []
    for orphan in orphans:
        target = work / orphan.path
        if target.is_file() and target.read_bytes() == orphan.local:
            continue  # copier kept the local version: nothing was lost
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orphan.local)
        hint = (
            f" (new in this version: {', '.join(orphan.added)})" if orphan.added else ""
        )
        conflicts.append(
            Conflict(
                path=orphan.path,
                reason="removed or renamed by the template but edited locally; "
                f"your version was kept{hint}: move your changes, then delete it",
            )
        )
    return conflicts


def find_conflicts(
    work: Path, git: Git, *, changed: list[str] | None = None
) -> list[Conflict]:
    """Unmerged paths, files with copier's conflict markers, and ``*.rej`` files.

    ``changed``: the work tree's changed paths when the caller already has them.
    """
    found: dict[str, str] = {}
    for rel in git.unmerged_paths(work):
        found[rel] = "conflict: both the template and you changed it"
    for rel in git.changed_paths(work) if changed is None else changed:
        file = work / rel
        if rel in found or not file.is_file():
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if any(line == CONFLICT_MARKER for line in text.splitlines()):
            found[rel] = "conflict markers: both the template and you changed it"
    for rej in work.rglob("*.rej"):  # also git-ignored ones
        rel_path = rej.relative_to(work)
        if ".git" in rel_path.parts:
            continue
        found.setdefault(str(rel_path), "rejected hunks: apply them by hand")
    return [Conflict(path=p, reason=r) for p, r in sorted(found.items())]
