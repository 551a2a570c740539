"""Find an org's repos generated from a template, through the GitHub API only.

Shared by ``scaffold rollout`` and ``scaffold status``: no clone, no checkout.
Per repo (archived repos and forks are left out) the root answers file is read
from the default branch with the contents API; a repo belongs to the template
when its ``_src_path`` is the template's URL compared normalised (scheme, host
and owner case-insensitive, ``.git`` and a trailing slash ignored, scp-style
``git@host:owner/name`` equal to ``https://host/owner/name``). A fleet's apps
(``apps/<name>/.copier-answers.yml``) are read too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml

from scaffold.errors import UsageError
from scaffold.layout import ANSWERS_FILE, FLEET_APPS_DIR, UPDATE_BRANCH_PREFIX
from scaffold.services.fleet import answers_file_for

_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


class OrgReader(Protocol):
    """The read-only API calls discovery needs (adapters.github.GitHubClient)."""

    def list_org_repos(self, org: str) -> list[dict[str, Any]]: ...

    def get_contents(
        self, owner: str, repo: str, path: str, *, ref: str | None = None
    ) -> dict[str, Any] | list[dict[str, Any]] | None: ...

    def get_file(
        self, owner: str, repo: str, path: str, *, ref: str | None = None
    ) -> str | None: ...

    def list_pulls(
        self,
        owner: str,
        repo: str,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
    ) -> list[dict[str, Any]]: ...


def normalize_src(url: str) -> str:
    """A template URL in one comparable form (see the module docstring)."""
    text = url.strip()
    if "://" not in text:
        scp = _SCP.match(text)
        if scp and not Path(text).exists():
            text = f"ssh://{scp['host']}/{scp['path']}"
        else:
            return str(Path(text).expanduser().resolve()).rstrip("/")
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    path = parts.path.strip("/").removesuffix(".git").rstrip("/")
    owner, _, rest = path.partition("/")
    path = f"{owner.lower()}/{rest}" if rest else owner.lower()
    return f"{host}/{path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    """``--shard I/N``: the I-th of N disjoint shares (1-based)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise UsageError(f"--shard {text!r}: expected I/N, e.g. 1/4")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise UsageError(f"--shard {text!r}: need 1 <= I <= N")
        return cls(index=index, count=count)

    def holds(self, full_name: str) -> bool:
        """True if ``full_name`` (case-insensitive) falls in this shard.

        A stable hash (SHA-256, not Python's salted ``hash``): the same repo is in
        the same shard on every machine and run.
        """
        digest = hashlib.sha256(full_name.lower().encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundInstance:
    """One Copier instance read through the API (the repo's own or an app's)."""

    label: str  # "" for the repo itself, "apps/<name>" for a fleet's app
    src: str  # _src_path exactly as recorded
    version: str  # _commit


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundRepo:
    """A repository of the org and what discovery learnt about it."""

    owner: str
    name: str
    clone_url: str
    default_branch: str
    instances: list[FoundInstance] = field(default_factory=list)
    skipped: str | None = None  # why it is not one of the template's repos

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def version(self) -> str:
        """The repo's own template version ('' when not generated)."""
        return self.instances[0].version if self.instances else ""


def parse_repo_names(org: str, names: Iterable[str]) -> list[str]:
    """``--repo OWNER/NAME`` values, checked to belong to ``org``."""
    result = []
    for name in names:
        owner, _, repo = name.partition("/")
        if not owner or not repo or "/" in repo:
            raise UsageError(f"--repo {name!r}: expected OWNER/NAME")
        if owner.lower() != org.lower():
            raise UsageError(f"--repo {name!r}: not in the organization {org}")
        result.append(f"{owner}/{repo}")
    return result


def discover(
    forge: OrgReader,
    *,
    org: str,
    template: str,
    repos: list[str] | None = None,
    shard: Shard | None = None,
    on_repo: Callable[[str], None] | None = None,
) -> list[FoundRepo]:
    """The org's repos in name order, each with its instances or a skip reason.

    ``repos`` restricts to those OWNER/NAMEs (a name the org lacks is a
    UsageError), ``shard`` to that share. Only repos in the selection cost a
    contents call; ``on_repo`` is told each one as it is read.
    """
    wanted = {r.lower() for r in repos or []}
    listed = forge.list_org_repos(org)
    if wanted:
        known = {str(r.get("full_name", "")).lower() for r in listed}
        missing = sorted(r for r in repos or [] if r.lower() not in known)
        if missing:
            raise UsageError(
                f"--repo {', '.join(missing)}: not found in the organization {org} "
                "(or the token cannot see it)"
            )
    target = normalize_src(template)
    found: list[FoundRepo] = []
    for raw in sorted(listed, key=lambda r: str(r.get("full_name", "")).lower()):
        full_name = str(raw.get("full_name", ""))
        if wanted and full_name.lower() not in wanted:
            continue
        if shard is not None and not shard.holds(full_name):
            continue
        owner, _, name = full_name.partition("/")
        repo = FoundRepo(
            owner=owner,
            name=name,
            clone_url=str(raw.get("clone_url") or ""),
            default_branch=str(raw.get("default_branch") or "main"),
        )
        if raw.get("archived"):
            found.append(_skip(repo, "archived"))
            continue
        if raw.get("fork"):
            found.append(_skip(repo, "a fork"))
            continue
        if on_repo is not None:
            on_repo(full_name)
        found.append(_read_instances(forge, repo, target))
    return found


def _skip(repo: FoundRepo, why: str) -> FoundRepo:
    return FoundRepo(
        owner=repo.owner,
        name=repo.name,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        skipped=why,
    )


def _answers(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _read_instances(forge: OrgReader, repo: FoundRepo, target: str) -> FoundRepo:
    ref = repo.default_branch
    own = _answers(forge.get_file(repo.owner, repo.name, ANSWERS_FILE, ref=ref))
    src, version = str(own.get("_src_path") or ""), str(own.get("_commit") or "")
    if not src or not version:
        return _skip(repo, f"no {ANSWERS_FILE} with _src_path and _commit")
    if normalize_src(src) != target:
        return _skip(repo, f"generated from another template ({src})")
    instances = [FoundInstance(label="", src=src, version=version)]
    if own.get("repo_kind") == "infra":
        listing = forge.get_contents(repo.owner, repo.name, FLEET_APPS_DIR, ref=ref)
        names = sorted(
            str(e.get("name"))
            for e in (listing if isinstance(listing, list) else [])
            if e.get("type") == "dir"
        )
        for app in names:
            rel = answers_file_for(app)
            answers = _answers(forge.get_file(repo.owner, repo.name, rel, ref=ref))
            if answers.get("_src_path") and answers.get("_commit"):
                instances.append(
                    FoundInstance(
                        label=f"{FLEET_APPS_DIR}/{app}",
                        src=str(answers["_src_path"]),
                        version=str(answers["_commit"]),
                    )
                )
    return FoundRepo(
        owner=repo.owner,
        name=repo.name,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        instances=instances,
    )


def update_pulls(forge: OrgReader, repo: FoundRepo) -> list[dict[str, Any]]:
    """The repo's open pull requests from a ``scaffold/update-*`` branch of its own
    (a fork's branch of the same name is not ours)."""
    result = []
    for pr in forge.list_pulls(repo.owner, repo.name, state="open"):
        head = pr.get("head") or {}
        source = str((head.get("repo") or {}).get("full_name", ""))
        if (
            str(head.get("ref", "")).startswith(UPDATE_BRANCH_PREFIX)
            and source.lower() == repo.full_name.lower()
        ):
            result.append(pr)
    return result
