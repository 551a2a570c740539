"""Use case: a whole GitOps org (a fleet and its apps) from one manifest.

First a plan, from the manifest and what GitHub holds (reads only): which repos
exist, which were generated from this template and at what version, which apps
the fleet registers (or has a pull request for), whether protection, Actions
variables and secrets match. Then only the difference is applied, per repo and in
parallel: create the repo (empty) or adopt it (empty, or generated from this
template; anything else is refused with a reason), render it exactly as
``scaffold new`` does (:func:`scaffold.services.new.create_repo`; apps registered
in the fleet with :func:`scaffold.services.fleet.register_app`, like
``new app --infra``), push the default branch, protect it
(:func:`scaffold.services.protect.protect`), set variables and sealed secrets.

After the first push a default branch is never pushed again: apps added later
are registered in the fleet through one pull request (branch
``scaffold/bootstrap/register-apps``, extended by later runs; the registrations
rewrite shared access blocks, so one pull request per app would conflict). Every
step is read back on the next run, so a rerun of an unchanged manifest writes
nothing and a run killed anywhere converges on the next one. Secrets cannot be
read back: one that exists is left alone.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import SecretStr

from scaffold.adapters.git import Git
from scaffold.errors import ScaffoldError, TemplateError, UsageError
from scaffold.layout import ANSWERS_FILE, FLEET_APPS_DIR
from scaffold.models import RepoKind, TemplateSource
from scaffold.services.discovery import normalize_src
from scaffold.services.fleet import register_app
from scaffold.services.manifest import Desired, RepoSpec
from scaffold.services.new import NewRenderer, check_git_identity, create_repo
from scaffold.services.protect import (
    SETTINGS_PATH,
    Forge,
    ProtectMode,
    RepoRef,
    load_settings,
    protect,
    settings_from_text,
)
from scaffold.services.rollout import RolloutForge

# apps added to an existing fleet: one rolling pull request from this branch
REGISTER_BRANCH = "scaffold/bootstrap/register-apps"
WORKFLOWS_DIR = ".github/workflows"
_USES = re.compile(r"\b(vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)")


class OrgForge(Forge, RolloutForge, Protocol):
    """What bootstrap needs from GitHub (adapters.github.GitHubClient): protect's and
    rollout's calls, plus repo creation, Actions variables and secrets, topics."""

    def find_repo(self, owner: str, repo: str) -> dict[str, Any] | None: ...

    def create_org_repo(
        self, org: str, name: str, *, visibility: str, description: str = ""
    ) -> dict[str, Any]: ...

    def list_variables(self, owner: str, repo: str) -> dict[str, str]: ...

    def get_topics(self, owner: str, repo: str) -> list[str]: ...

    def replace_topics(self, owner: str, repo: str, names: list[str]) -> None: ...

    def set_variable(
        self, owner: str, repo: str, name: str, value: str, *, exists: bool
    ) -> None: ...

    def list_secret_names(self, owner: str, repo: str) -> list[str]: ...

    def secrets_public_key(self, owner: str, repo: str) -> tuple[str, str]: ...

    def put_secret(
        self, owner: str, repo: str, name: str, *, encrypted_value: str, key_id: str
    ) -> None: ...


class RenderError(TemplateError):
    """Rendering in a worker process failed (the worker's message)."""


Sealer = Callable[[str, SecretStr], str]  # (public key b64, value) -> sealed b64
Progress = Callable[[str, str, bool], None]  # (repo, what, done)


class State(StrEnum):
    NEW = "new"  # no such repo: create it
    EMPTY = "empty"  # exists without commits: adopt it
    GENERATED = "generated"  # generated from this template: adopt it
    FOREIGN = "foreign"  # anything else: refused


class StepKind(StrEnum):
    CREATE = "create"
    PUSH = "push"
    REGISTER = "register"  # app in the fleet's first commit, or on REGISTER_BRANCH
    PULL_REQUEST = "pull-request"  # open (or refresh) the fleet's registration PR
    PROTECT = "protect"
    TOPICS = "topics"
    VARIABLE = "variable"
    SECRET = "secret"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    kind: StepKind
    target: str  # repo, app, variable or secret name
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind.value} {self.target}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(slots=True, kw_only=True)
class RepoPlan:
    spec: RepoSpec
    state: State
    steps: list[Step] = field(default_factory=list)
    url: str | None = None
    clone_url: str | None = None
    version: str | None = None  # the template version it was generated at
    reason: str | None = None  # why it is refused
    pending: list[str] = field(default_factory=list)  # open PRs already there
    branch_sha: str | None = None  # REGISTER_BRANCH on the remote
    pull_number: int | None = None  # its open pull request
    branch_fresh: bool = False  # REGISTER_BRANCH restarts from the default branch
    unmerged: list[str] = field(default_factory=list)  # apps not on the default branch
    uses: set[str] | None = None  # Actions names its workflows use (None: all)


@dataclass(slots=True, kw_only=True)
class RepoResult:
    name: str
    kind: str
    state: str
    outcome: str  # unchanged | created | adopted | updated | refused | failed
    actions: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    url: str | None = None
    version: str | None = None
    pull_requests: list[str] = field(default_factory=list)
    error: str | None = None
    writes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "outcome": self.outcome,
            "version": self.version,
            "planned": self.planned,
            "actions": self.actions,
            "url": self.url,
            "pull_requests": self.pull_requests,
            "error": self.error,
            "writes": self.writes,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapReport:
    org: str
    dry_run: bool
    repos: tuple[RepoResult, ...]

    @property
    def failed(self) -> list[RepoResult]:
        return [r for r in self.repos if r.outcome in {"refused", "failed"}]

    @property
    def writes(self) -> int:
        return sum(r.writes for r in self.repos)

    def to_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "dry_run": self.dry_run,
            "converged": not self.failed and not self.dry_run,
            "writes": self.writes,
            "repos": [r.to_dict() for r in self.repos],
        }


@dataclass(slots=True, kw_only=True)
class _Context:
    desired: Desired
    forge: OrgForge
    git: Git
    token: SecretStr
    templates: NewRenderer
    seal: Sealer
    progress: Progress
    render: Renderer
    workdir: Path = Path()

    @property
    def org(self) -> str:
        return self.desired.org

    def remote(self, url: str) -> Git:
        """A Git that authenticates to ``url``'s host (token in its env only)."""
        return self.git.with_token(url, self.token.get_secret_value())


def used_names(texts: list[str]) -> set[str]:
    """Names of ``vars.X`` / ``secrets.X`` used in workflow texts."""
    return {match[2] for text in texts for match in _USES.finditer(text)}


# --- rendering -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderJob:
    """Render ``spec`` into ``dest`` and register ``regs`` in it (a fleet), or,
    ``into_existing``, only register ``regs`` in the fleet clone at ``dest``."""

    spec: RepoSpec
    regs: tuple[RepoSpec, ...]
    source: TemplateSource
    dest: Path
    into_existing: bool = False


Renderer = Callable[[RenderJob], None]


def render_job(job: RenderJob, *, templates: NewRenderer, git: Git) -> None:
    """The rendering of one job: exactly ``scaffold new`` and, for each app,
    ``new app --infra``'s registration (each committed)."""
    if not job.into_existing:
        create_repo(
            kind=job.spec.kind,
            dest=job.dest,
            answers=job.spec.answers,
            source=job.source,
            templates=templates,
            git=git,
        )
    for app in job.regs:
        register_app(
            fleet_path=job.dest,
            app_answers=app.answers,
            source=job.source,
            templates=templates,
            git=git,
            extra=app.fleet_answers,
        )


class SerialRenderer:
    """Renders in the calling thread, one job at a time (copier keeps process-wide
    state: warning filters, its template cache)."""

    def __init__(self, *, templates: NewRenderer, git: Git) -> None:
        self._templates = templates
        self._git = git
        self._lock = threading.Lock()

    def __call__(self, job: RenderJob) -> None:
        with self._lock:
            render_job(job, templates=self._templates, git=self._git)


def _init_worker(cache_root: str) -> None:
    """A spawned worker's own copier cache (a shared one races)."""
    cache = Path(cache_root) / f"worker-{os.getpid()}"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["COPIER_CACHE_DIR"] = str(cache)


def _render_in_worker(job: RenderJob) -> str | None:
    """Runs in a worker process; an error comes back as its message (scaffold's
    errors take keyword arguments, so they do not survive pickling)."""
    from scaffold.adapters.templates import CopierTemplates

    git = Git()
    try:
        render_job(job, templates=CopierTemplates(git=git), git=git)
    except ScaffoldError as exc:
        return str(exc)
    return None


class ProcessRenderer:
    """Renders in ``jobs`` spawned worker processes (CPU-parallel copier runs,
    one copier cache each); use as a context manager."""

    def __init__(self, jobs: int, cache_root: Path) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(
            max_workers=max(1, jobs),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(cache_root),),
        )

    def __enter__(self) -> ProcessRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __call__(self, job: RenderJob) -> None:
        error = self._pool.submit(_render_in_worker, job).result()
        if error is not None:
            raise RenderError(f"{job.spec.name}: {error}")


# --- plan ------------------------------------------------------------------------


def _topics_step(ctx: _Context, plan: RepoPlan, *, live: bool) -> None:
    """Topics, when the manifest names any (otherwise they are left alone)."""
    wanted = list(plan.spec.topics)
    if not wanted:
        return
    if live and sorted(ctx.forge.get_topics(ctx.org, plan.spec.name)) == wanted:
        return
    plan.steps.append(Step(kind=StepKind.TOPICS, target=", ".join(wanted)))


def _actions_steps(ctx: _Context, plan: RepoPlan, *, live: bool) -> None:
    """Topic, variable and secret steps (``live``: compare with what the repo
    has)."""
    _topics_step(ctx, plan, live=live)
    wanted_vars = {
        k: v
        for k, v in ctx.desired.variables.items()
        if plan.uses is None or k in plan.uses
    }
    wanted_secrets = [
        k for k in ctx.desired.secrets if plan.uses is None or k in plan.uses
    ]
    detail = "if its workflows use it" if plan.spec.kind is RepoKind.INFRA else ""
    if not live:
        plan.steps += [
            Step(kind=StepKind.VARIABLE, target=k, detail=detail) for k in wanted_vars
        ]
        plan.steps += [
            Step(kind=StepKind.SECRET, target=k, detail=detail) for k in wanted_secrets
        ]
        return
    name = plan.spec.name
    current = ctx.forge.list_variables(ctx.org, name) if wanted_vars else {}
    for key, value in wanted_vars.items():
        if key not in current:
            plan.steps.append(Step(kind=StepKind.VARIABLE, target=key, detail="new"))
        elif current[key] != value:
            plan.steps.append(
                Step(kind=StepKind.VARIABLE, target=key, detail="changed")
            )
    present = (
        set(ctx.forge.list_secret_names(ctx.org, name)) if wanted_secrets else set()
    )
    plan.steps += [
        Step(kind=StepKind.SECRET, target=k, detail="new")
        for k in wanted_secrets
        if k not in present
    ]


def _workflow_uses(ctx: _Context, name: str) -> set[str]:
    listing = ctx.forge.get_contents(ctx.org, name, WORKFLOWS_DIR)
    if not isinstance(listing, list):
        return set()
    texts = []
    for item in listing:
        if item.get("type") == "file":
            text = ctx.forge.get_file(ctx.org, name, str(item["path"]))
            texts.append(text or "")
    return used_names(texts)


def _plan_repo(ctx: _Context, spec: RepoSpec) -> RepoPlan:
    name = spec.name
    ctx.progress(name, "reading", False)
    live = ctx.forge.find_repo(ctx.org, name)
    if live is None:
        plan = RepoPlan(spec=spec, state=State.NEW, uses=None)
        plan.steps += [
            Step(kind=StepKind.CREATE, target=f"{ctx.org}/{name}",
                 detail=ctx.desired.visibility),
            Step(kind=StepKind.PUSH, target=spec.default_branch, detail="rendered"),
            Step(kind=StepKind.PROTECT, target=str(SETTINGS_PATH)),
        ]  # fmt: skip
        _actions_steps(ctx, plan, live=False)
        return plan
    url, clone_url = str(live.get("html_url") or ""), str(live.get("clone_url"))
    text = ctx.forge.get_file(ctx.org, name, ANSWERS_FILE)
    if text is None and not ctx.remote(clone_url).ls_remote(clone_url):
        plan = RepoPlan(spec=spec, state=State.EMPTY, url=url, clone_url=clone_url,
                        uses=None)  # fmt: skip
        plan.steps += [
            Step(kind=StepKind.PUSH, target=spec.default_branch, detail="rendered"),
            Step(kind=StepKind.PROTECT, target=str(SETTINGS_PATH)),
        ]
        _actions_steps(ctx, plan, live=True)
        return plan
    plan = RepoPlan(spec=spec, state=State.FOREIGN, url=url, clone_url=clone_url)
    if text is None:
        plan.reason = f"has commits but no {ANSWERS_FILE}; not generated by scaffold"
        return plan
    try:
        answers = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        answers = None
    if not isinstance(answers, dict):
        plan.reason = f"{ANSWERS_FILE} is not a YAML mapping"
        return plan
    source = ctx.desired.source.url
    if normalize_src(str(answers.get("_src_path"))) != normalize_src(source):
        plan.reason = (
            f"generated from {answers.get('_src_path')!r}, not from this "
            f"template ({source})"
        )
        return plan
    if answers.get("repo_kind") != spec.kind.value:
        plan.reason = (
            f"is a {answers.get('repo_kind')!r} repo, the manifest wants "
            f"{spec.kind.value!r}"
        )
        return plan
    plan.state = State.GENERATED
    plan.version = str(answers.get("_commit") or "") or None
    settings_text = ctx.forge.get_file(ctx.org, name, str(SETTINGS_PATH))
    if settings_text is not None:
        settings = settings_from_text(settings_text)
        report = protect(
            settings=settings,
            repo=RepoRef(owner=ctx.org, name=name),
            forge=ctx.forge,
            mode=_mode(settings),
            dry_run=True,
        )
        if report.actions:
            plan.steps.append(
                Step(kind=StepKind.PROTECT, target=str(SETTINGS_PATH),
                     detail=f"{len(report.actions)} target(s) differ")
            )  # fmt: skip
    if spec.kind is RepoKind.INFRA:
        plan.uses = _workflow_uses(ctx, name)
    _actions_steps(ctx, plan, live=True)
    return plan


def _mode(settings: Any) -> ProtectMode:
    return ProtectMode.RULESETS if settings.rulesets else ProtectMode.CLASSIC


def _plan_registrations(ctx: _Context, fleet: RepoPlan, apps: list[RepoPlan]) -> None:
    """Which apps the fleet still has to register, and how."""
    wanted = [a.spec for a in apps if a.state is not State.FOREIGN]
    if fleet.state is State.FOREIGN:
        return
    if fleet.state in {State.NEW, State.EMPTY}:
        at = next(i for i, s in enumerate(fleet.steps) if s.kind is StepKind.PUSH)
        fleet.steps[at:at] = [
            Step(kind=StepKind.REGISTER, target=app.name, detail="first commit")
            for app in wanted
        ]
        return
    name = fleet.spec.name
    present = _app_dirs(ctx, name, None)
    missing = [app.name for app in wanted if app.name not in present]
    if not missing:
        return
    assert fleet.clone_url is not None
    ref = f"refs/heads/{REGISTER_BRANCH}"
    fleet.branch_sha = (
        ctx.remote(fleet.clone_url).ls_remote(fleet.clone_url, ref).get(ref)
    )
    on_branch = _app_dirs(ctx, name, REGISTER_BRANCH) if fleet.branch_sha else set()
    pulls = ctx.forge.list_pulls(ctx.org, name, head=REGISTER_BRANCH)
    if not pulls and on_branch <= present:  # merged long ago: start it afresh
        fleet.branch_fresh, on_branch = True, set()
    if pulls:
        fleet.pending.append(str(pulls[0].get("html_url")))
        fleet.pull_number = int(pulls[0]["number"])
    fleet.unmerged = missing
    to_push = [a for a in missing if a not in on_branch]
    fleet.steps += [
        Step(kind=StepKind.REGISTER, target=a, detail=f"on {REGISTER_BRANCH}")
        for a in to_push
    ]
    if not pulls or to_push:
        fleet.steps.append(
            Step(kind=StepKind.PULL_REQUEST, target=", ".join(missing),
                 detail="refresh" if pulls else "open")
        )  # fmt: skip


def _app_dirs(ctx: _Context, fleet: str, ref: str | None) -> set[str]:
    """Apps registered in the fleet at ``ref`` (``add_app`` refuses an app whose
    directory exists: that is "registered")."""
    listing = ctx.forge.get_contents(ctx.org, fleet, FLEET_APPS_DIR, ref=ref)
    if not isinstance(listing, list):
        return set()
    return {str(e.get("name")) for e in listing if e.get("type") == "dir"}


def make_plan(ctx: _Context, jobs: int) -> list[RepoPlan]:
    desired = ctx.desired
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        plans = list(pool.map(lambda s: _plan_safely(ctx, s), desired.repos))
    _plan_registrations(ctx, plans[0], plans[1:])
    return plans


def _plan_safely(ctx: _Context, spec: RepoSpec) -> RepoPlan:
    try:
        return _plan_repo(ctx, spec)
    except ScaffoldError as exc:
        return RepoPlan(spec=spec, state=State.FOREIGN, reason=f"cannot read: {exc}")


# --- apply -----------------------------------------------------------------------


class _Writes:
    def __init__(self, result: RepoResult) -> None:
        self.result = result

    def done(self, what: str, writes: int = 1) -> None:
        self.result.actions.append(what)
        self.result.writes += writes


def _render(ctx: _Context, plan: RepoPlan, regs: list[RepoSpec]) -> Path:
    """Render the repo as ``scaffold new`` does and register ``regs`` in it one
    after the other as ``new app --infra`` does (each registration also rewrites
    the fleet's shared access blocks); return the committed work tree."""
    dest = ctx.workdir / plan.spec.name
    ctx.render(RenderJob(spec=plan.spec, regs=tuple(regs), source=ctx.desired.source,
                         dest=dest))  # fmt: skip
    return dest


def _protect(ctx: _Context, plan: RepoPlan, tree: Path | None, log: _Writes) -> None:
    name = plan.spec.name
    if tree is not None:
        settings = load_settings(tree)
    else:
        text = ctx.forge.get_file(ctx.org, name, str(SETTINGS_PATH))
        if text is None:
            return
        settings = settings_from_text(text)
    report = protect(
        settings=settings,
        repo=RepoRef(owner=ctx.org, name=name),
        forge=ctx.forge,
        mode=_mode(settings),
    )
    if report.writes:
        log.done(f"protected ({len(report.actions)} target(s))", report.writes)


def _set_actions(ctx: _Context, plan: RepoPlan, log: _Writes) -> None:
    name = plan.spec.name
    if any(s.kind is StepKind.TOPICS for s in plan.steps):
        ctx.forge.replace_topics(ctx.org, name, list(plan.spec.topics))
        log.done(f"topics {', '.join(plan.spec.topics)}")
    uses = plan.uses
    steps = [
        s
        for s in plan.steps
        if s.kind in {StepKind.VARIABLE, StepKind.SECRET}
        and (uses is None or s.target in uses)
    ]
    variables = [s.target for s in steps if s.kind is StepKind.VARIABLE]
    secrets = [s.target for s in steps if s.kind is StepKind.SECRET]
    current = ctx.forge.list_variables(ctx.org, name) if variables else {}
    for key in variables:
        value = ctx.desired.variables[key]
        if current.get(key) == value:
            continue
        ctx.forge.set_variable(ctx.org, name, key, value, exists=key in current)
        log.done(f"variable {key}")
    if not secrets:
        return
    present = set(ctx.forge.list_secret_names(ctx.org, name))
    missing = [k for k in secrets if k not in present]
    if not missing:
        return
    key_id, key = ctx.forge.secrets_public_key(ctx.org, name)
    for secret in missing:
        sealed = ctx.seal(key, ctx.desired.secrets[secret])
        ctx.forge.put_secret(
            ctx.org, name, secret, encrypted_value=sealed, key_id=key_id
        )
        log.done(f"secret {secret} (sealed)")


def _push_new(
    ctx: _Context, plan: RepoPlan, regs: list[RepoSpec], log: _Writes
) -> Path:
    spec = plan.spec
    if plan.state is State.NEW:
        ctx.progress(spec.name, "creating", False)
        created = ctx.forge.create_org_repo(
            ctx.org,
            spec.name,
            visibility=ctx.desired.visibility,
            description=str(spec.answers.get("description", "")),
        )
        plan.url = str(created.get("html_url") or "")
        plan.clone_url = str(created["clone_url"])
        log.done(f"created {ctx.org}/{spec.name} ({ctx.desired.visibility})")
    ctx.progress(spec.name, "rendering", False)
    tree = _render(ctx, plan, regs)
    if spec.kind is RepoKind.INFRA:
        texts = [p.read_text("utf-8") for p in (tree / WORKFLOWS_DIR).glob("*.y*ml")]
        plan.uses = used_names(texts)
    ctx.progress(spec.name, "pushing", False)
    assert plan.clone_url is not None
    ctx.remote(plan.clone_url).push(
        tree, plan.clone_url, local="HEAD", branch=spec.default_branch, expect=None
    )
    registered = f"; registered {', '.join(a.name for a in regs)}" if regs else ""
    log.done(f"pushed {spec.default_branch}{registered}")
    return tree


def _open_pull(ctx: _Context, plan: RepoPlan, apps: dict[str, RepoSpec],
               result: RepoResult, log: _Writes) -> None:  # fmt: skip
    """Register apps in an existing (protected) fleet through one pull request
    from REGISTER_BRANCH: missing registrations are committed on that branch
    (never on the default branch), then the pull request is opened or its title
    refreshed."""
    if plan.state is not State.GENERATED:
        return
    fleet = plan.spec
    to_push = [apps[s.target] for s in plan.steps if s.kind is StepKind.REGISTER]
    if not to_push and not any(s.kind is StepKind.PULL_REQUEST for s in plan.steps):
        return
    assert plan.clone_url is not None
    remote = ctx.remote(plan.clone_url)
    if to_push:
        ctx.progress(fleet.name, f"registering {len(to_push)} app(s)", False)
        work = ctx.workdir / f"{fleet.name}-registrations"
        keep = plan.branch_sha and not plan.branch_fresh
        base = REGISTER_BRANCH if keep else fleet.default_branch
        remote.clone_remote(plan.clone_url, work, branch=base, depth=1)
        ctx.render(RenderJob(spec=fleet, regs=tuple(to_push), source=ctx.desired.source,
                             dest=work, into_existing=True))  # fmt: skip
        remote.push(work, plan.clone_url, local="HEAD", branch=REGISTER_BRANCH,
                    expect=plan.branch_sha)  # fmt: skip
        log.done(f"pushed {REGISTER_BRANCH} (+{', '.join(a.name for a in to_push)})")
    names = ", ".join(plan.unmerged)
    title = f"feat(apps): add {names}"
    body = (
        f"Registers the app(s) {names} of `{ctx.org}` in this fleet, as "
        "`scaffold new app --infra` does. Opened by `scaffold bootstrap`; a later "
        "run adds the apps the manifest gains to this pull request."
    )
    if plan.pull_number is None:
        pull = ctx.forge.create_pull(ctx.org, fleet.name, title=title,
                                     head=REGISTER_BRANCH, base=fleet.default_branch,
                                     body=body)  # fmt: skip
        result.pull_requests.append(str(pull.get("html_url")))
        log.done(f"opened pull request #{pull.get('number')}")
    else:
        ctx.forge.update_pull(
            ctx.org, fleet.name, plan.pull_number, {"title": title, "body": body}
        )
        log.done(f"refreshed pull request #{plan.pull_number}")


def _apply_repo(ctx: _Context, plan: RepoPlan, regs: list[RepoSpec],
                apps: dict[str, RepoSpec]) -> RepoResult:  # fmt: skip
    spec = plan.spec
    result = RepoResult(
        name=spec.name,
        kind=spec.kind.value,
        state=plan.state.value,
        outcome="unchanged",
        url=plan.url,
        version=plan.version,
        planned=[str(s) for s in plan.steps],
        pull_requests=list(plan.pending),
    )
    if plan.state is State.FOREIGN:
        result.outcome, result.error = "refused", plan.reason
        ctx.progress(spec.name, "refused", True)
        return result
    log = _Writes(result)
    try:
        tree = None
        if plan.state in {State.NEW, State.EMPTY}:
            tree = _push_new(ctx, plan, regs, log)
            result.url = plan.url
        if any(s.kind is StepKind.PROTECT for s in plan.steps):
            ctx.progress(spec.name, "protecting", False)
            _protect(ctx, plan, tree, log)
        ctx.progress(spec.name, "actions variables and secrets", False)
        _set_actions(ctx, plan, log)
        _open_pull(ctx, plan, apps, result, log)
    except (ScaffoldError, OSError) as exc:
        result.outcome, result.error = "failed", str(exc)
        ctx.progress(spec.name, "failed", True)
        return result
    if plan.state is State.NEW:
        result.outcome = "created"
    elif plan.state is State.EMPTY:
        result.outcome = "adopted"
    elif result.writes:
        result.outcome = "updated"
    ctx.progress(spec.name, result.outcome, True)
    return result


def _planned_only(plan: RepoPlan) -> RepoResult:
    return RepoResult(
        name=plan.spec.name,
        kind=plan.spec.kind.value,
        state=plan.state.value,
        outcome="refused" if plan.state is State.FOREIGN else "planned",
        url=plan.url,
        version=plan.version,
        planned=[str(s) for s in plan.steps],
        pull_requests=list(plan.pending),
        error=plan.reason,
    )


def bootstrap(
    desired: Desired,
    *,
    forge: OrgForge,
    git: Git,
    token: SecretStr,
    templates: NewRenderer,
    seal: Sealer,
    jobs: int = 4,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_plan: Callable[[BootstrapReport], None] | None = None,
    renderer: Renderer | None = None,
) -> BootstrapReport:
    """Plan, then (unless ``dry_run``) apply; see the module docstring.

    ``on_plan`` sees the plan before anything is written; ``progress`` is told
    what each repo is doing (from several threads). ``renderer`` runs the
    rendering (default: :class:`SerialRenderer`; the CLI passes a
    :class:`ProcessRenderer`).
    """
    ctx = _Context(
        desired=desired,
        forge=forge,
        git=git,
        token=token,
        templates=templates,
        seal=seal,
        progress=progress or (lambda _r, _w, _d: None),
        render=renderer or SerialRenderer(templates=templates, git=git),
    )
    plans = make_plan(ctx, jobs)
    planned = BootstrapReport(
        org=desired.org, dry_run=True, repos=tuple(_planned_only(p) for p in plans)
    )
    if on_plan is not None:
        on_plan(planned)
    if dry_run:
        return planned
    if any(
        s.kind in {StepKind.PUSH, StepKind.PULL_REQUEST} for p in plans for s in p.steps
    ):
        try:
            check_git_identity(git, Path.cwd(), None)
        except UsageError as exc:
            raise UsageError(f"bootstrap: {exc}") from None
    fleet, app_plans = plans[0], plans[1:]
    first_commit = fleet.state in {State.NEW, State.EMPTY}
    regs = [
        p.spec
        for p in app_plans
        if first_commit and any(s.kind is StepKind.REGISTER and s.target == p.spec.name
                                for s in fleet.steps)
    ]  # fmt: skip
    apps = {p.spec.name: p.spec for p in app_plans}
    with tempfile.TemporaryDirectory(prefix="scaffold-bootstrap-") as tmp:
        ctx.workdir = Path(tmp)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(_apply_repo, ctx, fleet, regs, apps)]
            futures += [pool.submit(_apply_repo, ctx, p, [], apps) for p in app_plans]
            results = tuple(f.result() for f in futures)
    return BootstrapReport(org=desired.org, dry_run=False, repos=results)
