"""Use case: keep the fleet's shared access files in step with its apps.

Who owns an app is an answer of the app's own Copier instance
(``apps/<name>/.copier-answers.yml``): ``team`` (a GitHub handle, for CODEOWNERS) and
``team_group`` (the team's OIDC group, for Argo CD and Kubernetes RBAC). Everything
per app lives in files of that instance, except two lists GitHub and Argo CD each
want in one place:

- ``.github/CODEOWNERS``: ``/apps/<name>/`` -> the team; the overlay of production
  (the fleet's last environment) -> the team
  and the platform team (GitHub reads only one CODEOWNERS file);
- ``projects/<env>.yaml`` (Argo CD fleets): one AppProject role per app, bound to the
  team group, allowed to get and sync only that app's Application.

:func:`sync_access` rewrites the block between the markers in those files
(``layout.APP_OWNERS_MARKERS`` / ``APP_ROLES_MARKERS``) from the registered apps'
answers. It is idempotent (a second run changes nothing) and converges: an app whose
directory was removed loses its lines at the next run. ``fleet add-app`` and
``scaffold update`` run it. A CODEOWNERS file from before the markers gets the block
appended (last match wins in CODEOWNERS, so the end is the right place); a project
without markers is left alone until ``scaffold update`` brings the fleet's template
up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from scaffold.adapters.templates import read_answers
from scaffold.layout import (
    ANSWERS_FILE,
    APP_OWNERS_MARKERS,
    APP_ROLES_MARKERS,
    ARGOCD_PROJECT,
    CODEOWNERS_FILE,
    DEFAULT_ENVIRONMENTS,
    FLEET_APPS_DIR,
)


@dataclass(frozen=True, slots=True)
class AppAccess:
    """Who owns one app of the fleet."""

    name: str
    team: str  # GitHub handle, e.g. @acme/payments
    group: str  # OIDC group, e.g. acme:payments


def app_owners(path: Path, apps: list[str]) -> list[AppAccess]:
    """The fleet's apps that name a team (apps from before ``team`` existed
    have none until ``scaffold update``; the fleet's ``*`` rule covers them)."""
    result = []
    for name in apps:
        answers = read_answers(path / FLEET_APPS_DIR / name / ANSWERS_FILE)
        team, group = answers.get("team"), answers.get("team_group")
        if team and group:
            result.append(AppAccess(name=name, team=str(team), group=str(group)))
    return result


def codeowners_lines(
    apps: list[AppAccess], platform: str, production: str = DEFAULT_ENVIRONMENTS[-1]
) -> list[str]:
    """CODEOWNERS rules of the apps (platform = the fleet's ``codeowners``;
    ``production`` = the fleet's last environment)."""
    rules = []
    for app in apps:
        co_owners = " ".join(dict.fromkeys((app.team, platform)))
        rules.append((f"/apps/{app.name}/", app.team))
        rules.append((f"/apps/{app.name}/overlays/{production}/", co_owners))
    width = max([23, *(len(pattern) for pattern, _ in rules)])
    return [f"{pattern:<{width}} {owners}" for pattern, owners in rules]


def role_name(app: str) -> str:
    """The AppProject role of an app's team."""
    return f"app-{app}"


def project_roles(apps: list[AppAccess], env: str) -> list[dict[str, object]]:
    """AppProject roles of ``env``: each app's team may get and sync that app only."""
    roles: list[dict[str, object]] = []
    for app in apps:
        subject = f"proj:{env}:{role_name(app.name)}"
        target = f"{env}/{app.name}-{env}"
        roles.append(
            {
                "name": role_name(app.name),
                "description": f"{app.team} may sync {app.name}-{env}, nothing else",
                "groups": [app.group],
                "policies": [
                    f"p, {subject}, applications, {action}, {target}, allow"
                    for action in ("get", "sync")
                ],
            }
        )
    return roles


def replace_block(text: str, markers: tuple[str, str], body: list[str]) -> str | None:
    """``text`` with the lines between the marker lines replaced by ``body``
    (indented like the opening marker); None when the markers are missing."""
    lines = text.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.strip() == markers[0]), -1)
    end = next(
        (i for i, line in enumerate(lines) if i > begin and line.strip() == markers[1]),
        -1,
    )
    if begin < 0 or end < 0:
        return None
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    new = [f"{indent}{line}\n" if line else "\n" for line in body]
    return "".join([*lines[: begin + 1], *new, *lines[end:]])


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences inside mappings, like the templates do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        del indentless  # always indent
        super().increase_indent(flow, False)


def _yaml_lines(items: list[dict[str, object]]) -> list[str]:
    if not items:
        return []
    text = yaml.dump(
        items,
        Dumper=_IndentedDumper,
        sort_keys=False,
        default_flow_style=False,
        width=200,
    )
    return text.splitlines()


def sync_access(
    path: Path,
    *,
    engine: str,
    platform: str,
    apps: list[str],
    environments: Sequence[str] = DEFAULT_ENVIRONMENTS,
) -> list[str]:
    """Rewrite the access blocks of the fleet at ``path`` from ``apps`` (the
    registered app names; ``platform`` is the fleet's ``codeowners``;
    ``environments`` the fleet's, in promotion order). Returns the changed files,
    relative to the fleet."""
    owners = app_owners(path, apps)
    changed = []
    codeowners = path / CODEOWNERS_FILE
    if codeowners.is_file():
        text = codeowners.read_text(encoding="utf-8")
        lines = codeowners_lines(owners, platform, environments[-1])
        new = replace_block(text, APP_OWNERS_MARKERS, lines)
        if new is None and lines:  # a fleet from before the markers: append
            block = [APP_OWNERS_MARKERS[0], *lines, APP_OWNERS_MARKERS[1]]
            sep = "\n" if text and not text.endswith("\n") else ""
            new = text + sep + "\n".join(block) + "\n"
        if new is not None and new != text:
            codeowners.write_text(new, encoding="utf-8")
            changed.append(CODEOWNERS_FILE)
    if engine == "argocd":
        for env in environments:
            rel = ARGOCD_PROJECT.format(env=env)
            project = path / rel
            if not project.is_file():
                continue
            text = project.read_text(encoding="utf-8")
            roles = _yaml_lines(project_roles(owners, env))
            new = replace_block(text, APP_ROLES_MARKERS, roles)
            if new is not None and new != text:
                project.write_text(new, encoding="utf-8")
                changed.append(rel)
    return changed
