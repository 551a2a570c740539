"""The writes ``scaffold protect`` plans: one type per kind of change, each with
the request it shows and the :class:`Forge` call that makes it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from scaffold.errors import ConfigError
from scaffold.services.protect.diff import Change

Verb = Literal["create", "update", "delete"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Action(ABC):
    """One write that is (or, in a dry run, would be) made."""

    repo: RepoRef
    changes: tuple[Change, ...]

    @property
    @abstractmethod
    def target(self) -> str:
        """What is written: ``repository``, ``ruleset 'x'``, ..."""

    @property
    @abstractmethod
    def verb(self) -> Verb: ...

    @property
    @abstractmethod
    def request(self) -> str:
        """The request, for people: ``PUT /repos/o/r/rulesets/3``."""

    @property
    def body(self) -> dict[str, Any] | None:
        return None

    @abstractmethod
    def apply(self, forge: Forge) -> None:
        """Make the write."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRepository(Action):
    fields: dict[str, Any]

    @property
    def target(self) -> str:
        return "repository"

    @property
    def verb(self) -> Verb:
        return "update"

    @property
    def request(self) -> str:
        return f"PATCH /repos/{self.repo}"

    @property
    def body(self) -> dict[str, Any]:
        return self.fields

    def apply(self, forge: Forge) -> None:
        forge.update_repo(self.repo.owner, self.repo.name, self.fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRuleset(Action):
    name: str
    ruleset: dict[str, Any]

    @property
    def verb(self) -> Verb:
        return "create"

    @property
    def target(self) -> str:
        return f"ruleset {self.name!r}"

    @property
    def request(self) -> str:
        return f"POST /repos/{self.repo}/rulesets"

    @property
    def body(self) -> dict[str, Any]:
        return self.ruleset

    def apply(self, forge: Forge) -> None:
        forge.create_ruleset(self.repo.owner, self.repo.name, self.ruleset)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRuleset(Action):
    name: str
    ruleset_id: int
    fields: dict[str, Any]

    @property
    def verb(self) -> Verb:
        return "update"

    @property
    def target(self) -> str:
        return f"ruleset {self.name!r}"

    @property
    def request(self) -> str:
        return f"PUT /repos/{self.repo}/rulesets/{self.ruleset_id}"

    @property
    def body(self) -> dict[str, Any]:
        return self.fields

    def apply(self, forge: Forge) -> None:
        forge.update_ruleset(
            self.repo.owner, self.repo.name, self.ruleset_id, self.fields
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _BranchAction(Action):
    branch: str

    @property
    def target(self) -> str:
        return f"branch {self.branch!r} protection"

    @property
    def path(self) -> str:
        return f"/repos/{self.repo}/branches/{self.branch}/protection"


@dataclass(frozen=True, slots=True, kw_only=True)
class PutBranchProtection(_BranchAction):
    """Create (``exists=False``) or replace classic branch protection."""

    protection: dict[str, Any]
    exists: bool

    @property
    def verb(self) -> Verb:
        return "update" if self.exists else "create"

    @property
    def request(self) -> str:
        return f"PUT {self.path}"

    @property
    def body(self) -> dict[str, Any]:
        return self.protection

    def apply(self, forge: Forge) -> None:
        forge.update_branch_protection(
            self.repo.owner, self.repo.name, self.branch, self.protection
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteBranchProtection(_BranchAction):
    @property
    def verb(self) -> Verb:
        return "delete"

    @property
    def request(self) -> str:
        return f"DELETE {self.path}"

    def apply(self, forge: Forge) -> None:
        forge.delete_branch_protection(self.repo.owner, self.repo.name, self.branch)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequiredSignatures(_BranchAction):
    enabled: bool

    @property
    def target(self) -> str:
        return f"branch {self.branch!r} required signatures"

    @property
    def verb(self) -> Verb:
        return "create" if self.enabled else "delete"

    @property
    def request(self) -> str:
        method = "POST" if self.enabled else "DELETE"
        return f"{method} {self.path}/required_signatures"

    def apply(self, forge: Forge) -> None:
        forge.set_required_signatures(
            self.repo.owner, self.repo.name, self.branch, enabled=self.enabled
        )
