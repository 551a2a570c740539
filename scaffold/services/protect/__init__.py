"""Use case: make a GitHub repository match its ``.github/settings.yml``: plan the
writes per target, apply them in order (README: "Applying it"), report them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from scaffold.adapters.templates import read_answers
from scaffold.errors import ConfigError, ForgeError
from scaffold.layout import ANSWERS_FILE, DEFAULT_BRANCH
from scaffold.services.protect.actions import (
    Action,
    CreateRuleset,
    DeleteBranchProtection,
    Forge,
    PutBranchProtection,
    RepoRef,
    SetRequiredSignatures,
    UpdateRepository,
    UpdateRuleset,
)
from scaffold.services.protect.bodies import (
    classic_body,
    repository_body,
    ruleset_body,
)
from scaffold.services.protect.classic_diff import compare_protection
from scaffold.services.protect.diff import ABSENT, Change, compare_repository
from scaffold.services.protect.ruleset_diff import (
    compare_ruleset,
    ruleset_fields,
    ruleset_update_body,
)
from scaffold.services.protect.settings_file import (
    BranchSettings,
    Ruleset,
    SettingsError,
    SettingsFile,
    parse_settings,
)

SETTINGS_PATH = Path(".github") / "settings.yml"


class ProtectMode(StrEnum):
    RULESETS = "rulesets"
    CLASSIC = "classic"


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
    return settings_from_text(text, path)


def settings_from_text(text: str, path: Path | str = SETTINGS_PATH) -> SettingsFile:
    """Parse and validate the text of a settings file (``path`` names it)."""
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
        UpdateRepository(
            repo=ref,
            changes=tuple(changes),
            fields={c.path: desired[c.path] for c in changes},
        )
    ]


def _plan_rulesets(
    settings: SettingsFile, forge: Forge, ref: RepoRef, _live_repo: dict[str, Any]
) -> list[Action]:
    live_list = forge.list_rulesets(ref.owner, ref.name)
    by_name = {
        str(r.get("name")): r
        for r in live_list
        if r.get("source_type", "Repository") == "Repository"
    }
    planned: list[Action] = []
    for ruleset in settings.rulesets:
        summary = by_name.get(ruleset.name)
        if summary is None:
            planned.append(
                CreateRuleset(
                    repo=ref,
                    changes=_created(ruleset),
                    name=ruleset.name,
                    ruleset=ruleset_body(ruleset),
                )
            )
            continue
        ruleset_id = int(summary["id"])
        live = forge.get_ruleset(ref.owner, ref.name, ruleset_id)
        changes = compare_ruleset(ruleset, live)
        if changes:
            planned.append(
                UpdateRuleset(
                    repo=ref,
                    changes=tuple(changes),
                    name=ruleset.name,
                    ruleset_id=ruleset_id,
                    fields=ruleset_update_body(ruleset, changes),
                )
            )
    return planned


def _branch_name(branch: BranchSettings, live_repo: dict[str, Any]) -> str:
    if branch.name == "default":  # safe-settings: "default" is the default branch
        return str(live_repo.get("default_branch") or DEFAULT_BRANCH)
    return branch.name


def _plan_classic(
    settings: SettingsFile, forge: Forge, ref: RepoRef, live_repo: dict[str, Any]
) -> list[Action]:
    planned: list[Action] = []
    for branch in settings.branches:
        name = _branch_name(branch, live_repo)
        live = forge.get_branch_protection(ref.owner, ref.name, name)
        desired = branch.protection
        if desired is None:
            if live is not None:
                planned.append(
                    DeleteBranchProtection(
                        repo=ref,
                        changes=(Change("protection", "present", None),),
                        branch=name,
                    )
                )
            continue
        changes = compare_protection(desired, live)
        main = [c for c in changes if c.path != "required_signatures"]
        signatures = [c for c in changes if c.path == "required_signatures"]
        if main or live is None:
            planned.append(
                PutBranchProtection(
                    repo=ref,
                    changes=tuple(main),
                    branch=name,
                    protection=classic_body(desired),
                    exists=live is not None,
                )
            )
        if signatures:
            planned.append(
                SetRequiredSignatures(
                    repo=ref,
                    changes=tuple(signatures),
                    branch=name,
                    enabled=bool(desired.required_signatures),
                )
            )
    return planned


Planner = Callable[[SettingsFile, Forge, RepoRef, dict[str, Any]], list[Action]]

#: How each mode plans the default-branch protection.
PLANNERS: dict[ProtectMode, Planner] = {
    ProtectMode.RULESETS: _plan_rulesets,
    ProtectMode.CLASSIC: _plan_classic,
}


def _apply(actions: list[Action], forge: Forge, *, dry_run: bool) -> None:
    if not dry_run:
        for action in actions:
            action.apply(forge)


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
    # repository settings first (linear history needs squash or rebase allowed),
    # then the protection, planned against GitHub as it is after them
    actions = _plan_repository(settings, live_repo, repo)
    _apply(actions, forge, dry_run=dry_run)
    protection = PLANNERS[mode](settings, forge, repo, live_repo)
    _apply(protection, forge, dry_run=dry_run)
    actions += protection
    return ProtectReport(
        repo=str(repo),
        mode=mode,
        dry_run=dry_run,
        actions=tuple(actions),
        ignored_sections=tuple(settings.ignored_sections()),
        writes=0 if dry_run else len(actions),
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
    "settings_from_text",
]
