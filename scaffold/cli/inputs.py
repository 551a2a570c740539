"""Answers given on the command line: ``--set KEY=VALUE`` and ``--answers FILE``.

Shared by ``scaffold new`` and ``scaffold fleet add-app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaffold.errors import UsageError


def parse_set(values: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict (values stay text; types are parsed later)."""
    result: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        result[key.strip()] = value
    return result


def load_answers(path: Path | None) -> dict[str, Any]:
    """Answers from a YAML mapping; copier's private ``_`` keys are ignored."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--answers {path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"--answers {path}: not UTF-8 (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"--answers {path}: invalid YAML") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--answers {path}: must be a YAML mapping of key: value")
    return {str(k): v for k, v in data.items() if not str(k).startswith("_")}
