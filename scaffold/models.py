"""Value objects shared by every layer. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class RepoKind(StrEnum):
    """What a template generates."""

    APP = "app"
    INFRA = "infra"


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSource:
    """Where templates come from: a git URL or path that stays reachable, and a ref."""

    url: str
    ref: str | None = None  # None: copier's choice (the highest PEP 440 tag)


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """One question of the root copier.yml, as the wizard needs it (static parts)."""

    key: str
    type: str = "str"
    help: str = ""
    default: Any = None  # may be a Jinja string rendered against earlier answers
    choices: dict[str, Any] | None = None  # label -> value
    validator: str | None = None  # copier's Jinja validator
    when: Any = True  # bool or Jinja string
    secret: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedRepo:
    """Result of ``scaffold new``."""

    path: Path
    kind: RepoKind
    answers: dict[str, Any]
    template: TemplateSource
    commit: str | None = None  # first commit sha, None with --no-git
    next_steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # template engine warnings
