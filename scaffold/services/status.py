"""Use case: ``scaffold status --org``, the template version of every generated repo.

From the API alone (no clone): discovery (see :mod:`scaffold.services.discovery`)
gives each repo's instances and versions; the template's release tags come from
``git ls-remote --tags`` of the template; open ``scaffold/update-*`` pull requests
come from the pulls API (only for repos that are behind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scaffold.services.discovery import OrgReader, discover, update_pulls
from scaffold.services.update import latest_tag


class TagLister(Protocol):
    """Release tags of the template (adapters.git.Git.remote_tags)."""

    def remote_tags(self, remote: str) -> list[str]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    """One Copier instance: a repo or an app inside a fleet."""

    repo: str
    instance: str  # "" for the repo itself, "apps/<name>" for a fleet's app
    version: str
    latest: str
    behind: int  # releases between version and latest (0: current)
    pr_url: str | None = None  # the repo's open update pull request
    pr_branch: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "instance": self.instance,
            "version": self.version,
            "latest": self.latest,
            "behind": self.behind,
            "pr_url": self.pr_url,
            "pr_branch": self.pr_branch,
        }


def releases_behind(version: str, tags: list[str]) -> int:
    """How many release tags are newer than ``version`` (-1: not a release tag)."""
    from packaging.version import InvalidVersion, Version

    try:
        current = Version(version.removeprefix("v"))
    except InvalidVersion:
        return -1
    newer = 0
    for tag in tags:
        if latest_tag([tag]) is None:  # not a release (prerelease or not PEP 440)
            continue
        if Version(tag.removeprefix("v")) > current:
            newer += 1
    return newer


def org_status(
    forge: OrgReader,
    tags: TagLister,
    *,
    org: str,
    template: str,
    on_repo: Callable[[str], None] | None = None,
) -> list[StatusRow]:
    """One row per instance of every repo generated from ``template`` in ``org``."""
    release_tags = tags.remote_tags(template)
    latest = latest_tag(release_tags) or ""
    rows: list[StatusRow] = []
    for repo in discover(forge, org=org, template=template, on_repo=on_repo):
        if repo.skipped:
            continue
        pr: dict[str, Any] | None = None
        if any(inst.version != latest for inst in repo.instances):
            pulls = update_pulls(forge, repo)
            pr = pulls[0] if pulls else None
        rows.extend(
            StatusRow(
                repo=repo.full_name,
                instance=inst.label,
                version=inst.version,
                latest=latest,
                behind=releases_behind(inst.version, release_tags),
                pr_url=str(pr.get("html_url")) if pr else None,
                pr_branch=str(pr["head"]["ref"]) if pr else None,
            )
            for inst in repo.instances
        )
    return rows
