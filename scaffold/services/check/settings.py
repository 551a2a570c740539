"""Effective settings of a check: command-line options over ``.scaffold.yaml``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scaffold import layout
from scaffold.errors import ConfigError, UsageError
from scaffold.services.check.rules import catalogue

DEFAULT_KUBERNETES_VERSION = "1.33"
CONFIG_KEYS = ("skip", "schema_locations", "kubernetes_version", "strict", "exclude")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    """What the command line asked for (None: not given)."""

    schema_locations: tuple[Path, ...] = ()
    kubernetes_version: str | None = None
    strict: bool | None = None
    skip: tuple[str, ...] = ()
    jobs: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSettings:
    """Options merged with the repo's config file."""

    repo: Path
    schema_locations: tuple[Path, ...]
    kubernetes_version: str
    strict: bool
    skip: frozenset[str]
    exclude: tuple[str, ...]
    jobs: int | None
    config_file: Path | None


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}: check.{key}: must be a list of strings"
        )
    return list(value)


def validate_rule_ids(ids: Sequence[str], origin: str) -> None:
    """Unknown rule ids are a usage error naming the valid ones."""
    known = catalogue()
    unknown = [r for r in ids if r not in known]
    if unknown:
        raise UsageError(
            f"{origin}: unknown rule {', '.join(unknown)} (known: {', '.join(known)})"
        )


def load_config(repo: Path) -> tuple[Mapping[str, Any], Path | None]:
    """The ``check:`` section of the repo's config file ({} when absent)."""
    path = repo / layout.CHECK_CONFIG_FILE
    if not path.is_file():
        return {}, None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}: not valid UTF-8 (byte {exc.start})"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}:{where}: not valid YAML ({exc.problem})"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}: cannot read ({detail})"
        ) from exc
    if data is None:
        return {}, path
    if not isinstance(data, Mapping):
        raise ConfigError(f"{layout.CHECK_CONFIG_FILE}: must be a YAML mapping")
    section = data.get("check") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{layout.CHECK_CONFIG_FILE}: check: must be a mapping")
    unknown = [k for k in section if k not in CONFIG_KEYS]
    if unknown:
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}: check.{unknown[0]}: unknown key "
            f"(allowed: {', '.join(CONFIG_KEYS)})"
        )
    return section, path


def resolve_settings(repo: Path, options: CheckOptions) -> CheckSettings:
    """Merge: lists (skip, schema locations) are unioned, scalars from the command
    line win; config paths are relative to the repo."""
    if not repo.is_dir():
        raise UsageError(f"PATH {repo}: not a directory")
    repo = repo.resolve()
    section, path = load_config(repo)
    config_skip = _str_list(section.get("skip"), "skip")
    validate_rule_ids(config_skip, f"{layout.CHECK_CONFIG_FILE}: check.skip")
    validate_rule_ids(list(options.skip), "--skip")
    locations = [
        (repo / p).resolve()
        for p in _str_list(section.get("schema_locations"), "schema_locations")
    ]
    locations += [p.resolve() for p in options.schema_locations]
    version = options.kubernetes_version or section.get("kubernetes_version")
    if version is not None and not isinstance(version, str):
        raise ConfigError(
            f"{layout.CHECK_CONFIG_FILE}: check.kubernetes_version: must be a quoted "
            "string like '1.33'"
        )
    strict = options.strict
    if strict is None:
        config_strict = section.get("strict", False)
        if not isinstance(config_strict, bool):
            raise ConfigError(
                f"{layout.CHECK_CONFIG_FILE}: check.strict: must be true or false"
            )
        strict = config_strict
    return CheckSettings(
        repo=repo,
        schema_locations=tuple(dict.fromkeys(locations)),
        kubernetes_version=str(version)
        if version is not None
        else DEFAULT_KUBERNETES_VERSION,
        strict=strict,
        skip=frozenset([*config_skip, *options.skip]),
        exclude=tuple(_str_list(section.get("exclude"), "exclude")),
        jobs=options.jobs,
        config_file=path,
    )
