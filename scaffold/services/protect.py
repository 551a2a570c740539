"""Use case: make a GitHub repository match its ``.github/settings.yml``.

Order: repository settings first (linear history needs squash or rebase merging
allowed), then the default-branch protection as rulesets (default) or classic
branch protection (``mode="classic"``). Every target is read, compared with the
file, and written only when it differs; a dry run reads and compares only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from scaffold.adapters.templates import read_answers
from scaffold.errors import ConfigError, ForgeError
from scaffold.layout import ANSWERS_FILE, DEFAULT_BRANCH
from scaffold.protection import (
    ABSENT,
    BranchSettings,
    Change,
    Ruleset,
    SettingsError,
    SettingsFile,
    classic_body,
    compare_protection,
    compare_repository,
    compare_ruleset,
    parse_settings,
    repository_body,
    ruleset_body,
    ruleset_fields,
    ruleset_update_body,
)

SETTINGS_PATH = Path(".github") / "settings.yml"


class ProtectMode(StrEnum):
    RULESETS = "rulesets"
    CLASSIC = "classic"


class Forge(Protocol):
    """What this use case needs from a forge client (adapters/github.py)."""

    def get_repo(self, owner: str, repo: str) -> dict[str, Any]: ...

    def update_repo(self, owner: str, repo: str, fields: dict[str, Any]) -> None: ...

    def list_rulesets(self, owner: str, repo: str) -> list[dict[str, Any]]: ...

    def get_ruleset(self, owner: str, repo: str, ruleset_id: int) -> dict[str, Any]: ...

    def create_ruleset(
        self, owner: str, repo: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...

    def update_ruleset(
        self, owner: str, repo: str, ruleset_id: int, body: dict[str, Any]
    ) -> None: ...

    def get_branch_protection(
        self, owner: str, repo: str, branch: str
    ) -> dict[str, Any] | None: ...

    def update_branch_protection(
        self, owner: str, repo: str, branch: str, body: dict[str, Any]
    ) -> None: ...

    def delete_branch_protection(self, owner: str, repo: str, branch: str) -> None: ...

    def set_required_signatures(
        self, owner: str, repo: str, branch: str, *, enabled: bool
    ) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoRef:
    owner: str
    name: str

    @classmethod
    def parse(cls, text: str) -> RepoRef:
        owner, sep, name = text.partition("/")
        if (
            not sep
            or not owner
            or not name
            or "/" in name
            or not all(c.isalnum() or c in "-_." for c in owner + name)
            or name in {".", ".."}
        ):
            raise ConfigError(f"--repo {text!r}: expected OWNER/NAME")
        return cls(owner=owner, name=name)

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


Verb = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One write that is (or, in a dry run, would be) made."""

    target: str  # "repository", "ruleset 'x'", "branch 'main' protection", ...
    verb: Verb
    request: str  # "PUT /repos/o/r/rulesets/3"
    changes: tuple[Change, ...]
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectReport:
    repo: str
    mode: ProtectMode
    dry_run: bool
    actions: tuple[Action, ...] = ()
    ignored_sections: tuple[str, ...] = ()
    writes: int = 0  # requests that changed something (0 in a dry run)

    @property
    def in_sync(self) -> bool:
        return not self.actions

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "in_sync": self.in_sync,
            "writes": self.writes,
            "ignored_sections": list(self.ignored_sections),
            "actions": [
                {
                    "target": a.target,
                    "verb": a.verb,
                    "request": a.request,
                    "body": a.body,
                    "changes": [
                        {"path": c.path, "live": c.live, "desired": c.desired}
                        for c in a.changes
                    ],
                }
                for a in self.actions
            ],
        }


def load_settings(root: Path) -> SettingsFile:
    """Read and validate ``root/.github/settings.yml`` (ConfigError, exit 2)."""
    path = root / SETTINGS_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found (generate the repo with scaffold new, or write one)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML") from None
    try:
        return parse_settings(data)
    except SettingsError as exc:
        raise ConfigError(f"{SETTINGS_PATH}: {exc}") from None


def repo_from_answers(root: Path) -> RepoRef:
    """OWNER/NAME from the answers file of a generated repo (``--repo`` default)."""
    path = root / ANSWERS_FILE
    try:
        data = read_answers(path)
    except (OSError, yaml.YAMLError):
        data = {}
    owner, name = data.get("owner"), data.get("name")
    if not owner or not name:
        raise ConfigError(
            f"--repo: required (no owner and name in {path}); give --repo OWNER/NAME"
        )
    return RepoRef.parse(f"{owner}/{name}")


def _created(ruleset: Ruleset) -> tuple[Change, ...]:
    return tuple(Change(path, ABSENT, value) for path, value in ruleset_fields(ruleset))


def _plan_repository(
    settings: SettingsFile, live_repo: dict[str, Any], ref: RepoRef
) -> list[Action]:
    if settings.repository is None:
        return []
    changes = compare_repository(settings.repository, live_repo)
    if not changes:
        return []
    desired = repository_body(settings.repository)
    return [
        Action(
            target="repository",
            verb="update",
            request=f"PATCH /repos/{ref}",
            changes=tuple(changes),
            body={c.path: desired[c.path] for c in changes},
        )
    ]


def _plan_rulesets(
    settings: SettingsFile, forge: Forge, ref: RepoRef
) -> list[tuple[Action, int | None]]:
    live_list = forge.list_rulesets(ref.owner, ref.name)
    by_name = {
        str(r.get("name")): r
        for r in live_list
        if r.get("source_type", "Repository") == "Repository"
    }
    planned: list[tuple[Action, int | None]] = []
    for ruleset in settings.rulesets:
        summary = by_name.get(ruleset.name)
        if summary is None:
            body = ruleset_body(ruleset)
            planned.append(
                (
                    Action(
                        target=f"ruleset {ruleset.name!r}",
                        verb="create",
                        request=f"POST /repos/{ref}/rulesets",
                        changes=_created(ruleset),
                        body=body,
                    ),
                    None,
                )
            )
            continue
        ruleset_id = int(summary["id"])
        live = forge.get_ruleset(ref.owner, ref.name, ruleset_id)
        changes = compare_ruleset(ruleset, live)
        if changes:
            planned.append(
                (
                    Action(
                        target=f"ruleset {ruleset.name!r}",
                        verb="update",
                        request=f"PUT /repos/{ref}/rulesets/{ruleset_id}",
                        changes=tuple(changes),
                        body=ruleset_update_body(ruleset, changes),
                    ),
                    ruleset_id,
                )
            )
    return planned


def _branch_name(branch: BranchSettings, live_repo: dict[str, Any]) -> str:
    if branch.name == "default":  # safe-settings: "default" is the default branch
        return str(live_repo.get("default_branch") or DEFAULT_BRANCH)
    return branch.name


def _plan_classic(
    settings: SettingsFile, forge: Forge, ref: RepoRef, live_repo: dict[str, Any]
) -> list[tuple[Action, str]]:
    planned: list[tuple[Action, str]] = []
    for branch in settings.branches:
        name = _branch_name(branch, live_repo)
        base = f"/repos/{ref}/branches/{name}/protection"
        live = forge.get_branch_protection(ref.owner, ref.name, name)
        desired = branch.protection
        target = f"branch {name!r} protection"
        if desired is None:
            if live is not None:
                planned.append(
                    (
                        Action(
                            target=target,
                            verb="delete",
                            request=f"DELETE {base}",
                            changes=(Change("protection", "present", None),),
                        ),
                        name,
                    )
                )
            continue
        changes = compare_protection(desired, live)
        main = [c for c in changes if c.path != "required_signatures"]
        signatures = [c for c in changes if c.path == "required_signatures"]
        if main or live is None:
            body = classic_body(desired)
            planned.append(
                (
                    Action(
                        target=target,
                        verb="create" if live is None else "update",
                        request=f"PUT {base}",
                        changes=tuple(main),
                        body=body,
                    ),
                    name,
                )
            )
        if signatures:
            enabled = bool(desired.required_signatures)
            planned.append(
                (
                    Action(
                        target=f"branch {name!r} required signatures",
                        verb="create" if enabled else "delete",
                        request=f"{'POST' if enabled else 'DELETE'} "
                        f"{base}/required_signatures",
                        changes=tuple(signatures),
                    ),
                    name,
                )
            )
    return planned


def _unexpected_shapes(
    func: Callable[..., ProtectReport],
) -> Callable[..., ProtectReport]:
    """A GitHub answer of the wrong shape is a one-line :class:`ForgeError`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> ProtectReport:
        try:
            return func(*args, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ForgeError(
                "GitHub answered with JSON of an unexpected shape "
                f"({type(exc).__name__}); is --api-url a GitHub REST API root?"
            ) from None

    return wrapper


@_unexpected_shapes
def protect(
    *,
    settings: SettingsFile,
    repo: RepoRef,
    forge: Forge,
    mode: ProtectMode = ProtectMode.RULESETS,
    dry_run: bool = False,
) -> ProtectReport:
    """Compare GitHub with ``settings`` and (unless ``dry_run``) apply the changes."""
    if mode is ProtectMode.RULESETS and not settings.rulesets:
        raise ConfigError(
            f"{SETTINGS_PATH}: has no 'rulesets'; add them or use --mode classic"
        )
    if mode is ProtectMode.CLASSIC and not settings.branches:
        raise ConfigError(
            f"{SETTINGS_PATH}: has no 'branches'; add them or use --mode rulesets"
        )
    live_repo = forge.get_repo(repo.owner, repo.name)
    actions: list[Action] = []
    writes = 0

    repo_actions = _plan_repository(settings, live_repo, repo)
    for action in repo_actions:
        if not dry_run:
            forge.update_repo(repo.owner, repo.name, action.body or {})
            writes += 1
    actions.extend(repo_actions)

    if mode is ProtectMode.RULESETS:
        for action, ruleset_id in _plan_rulesets(settings, forge, repo):
            if not dry_run:
                if ruleset_id is None:
                    forge.create_ruleset(repo.owner, repo.name, action.body or {})
                else:
                    forge.update_ruleset(
                        repo.owner, repo.name, ruleset_id, action.body or {}
                    )
                writes += 1
            actions.append(action)
    else:
        for action, branch in _plan_classic(settings, forge, repo, live_repo):
            if not dry_run:
                if action.request.startswith("PUT "):
                    forge.update_branch_protection(
                        repo.owner, repo.name, branch, action.body or {}
                    )
                elif action.target.endswith("required signatures"):
                    forge.set_required_signatures(
                        repo.owner, repo.name, branch, enabled=action.verb == "create"
                    )
                else:
                    forge.delete_branch_protection(repo.owner, repo.name, branch)
                writes += 1
            actions.append(action)

    return ProtectReport(
        repo=str(repo),
        mode=mode,
        dry_run=dry_run,
        actions=tuple(actions),
        ignored_sections=tuple(settings.ignored_sections()),
        writes=writes,
    )


__all__ = [
    "SETTINGS_PATH",
    "Action",
    "Forge",
    "ProtectMode",
    "ProtectReport",
    "RepoRef",
    "load_settings",
    "protect",
    "repo_from_answers",
]
