"""Flux ``postBuild.substitute``: the variables a Flux Kustomization fills in
after the build, applied before validation (``replicas: ${REPLICAS:=1}``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

#: ${VAR}, ${VAR:=default}, ${VAR:-default}, ${VAR=default}, ${VAR-default};
#: $${VAR} is an escaped literal (drone/envsubst, as Flux uses it).
_VAR = re.compile(r"\$(\$?)\{([_A-Za-z][_A-Za-z0-9]*)(?::?[=-]([^}]*))?\}")
DISABLE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"


def flux_kustomizations(
    objects: Iterable[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    return [
        obj
        for obj in objects
        if obj.get("kind") == "Kustomization"
        and str(obj.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/")
        and isinstance(obj.get("spec"), Mapping)
    ]


def flux_path(obj: Mapping[str, Any]) -> str:
    """A Flux Kustomization's spec.path, repo-relative ('.' for the root)."""
    path = str(obj["spec"].get("path") or ".").strip()
    return path.removeprefix("./").strip("/") or "."


def substitutions(
    kustomizations: Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, str]]:
    """Repo path -> postBuild.substitute values, for every Flux Kustomization
    with a postBuild (the first one pointing at a path wins)."""
    result: dict[str, dict[str, str]] = {}
    for obj in kustomizations:
        post = obj["spec"].get("postBuild")
        if not isinstance(post, Mapping):
            continue
        values = post.get("substitute")
        result.setdefault(
            flux_path(obj),
            {str(k): str(v) for k, v in values.items()}
            if isinstance(values, Mapping)
            else {},
        )
    return result


def _replace(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if name in values:
            return values[name]
        if default is not None:
            return default
        return match.group(0)  # unknown (substituteFrom): left, not validated

    return _VAR.sub(one, text)


def _typed(original: str, replaced: str) -> Any:
    """A value that was only a variable takes the YAML type of its replacement,
    as in Flux (which substitutes in the YAML text)."""
    if replaced == original or not _VAR.fullmatch(original):
        return replaced
    try:
        value = yaml.safe_load(replaced)
    except yaml.YAMLError:
        return replaced
    return value if isinstance(value, (int, float, bool)) else replaced


def substitute(obj: Any, values: Mapping[str, str]) -> Any:
    """``obj`` with the variables replaced (a new object; unknown variables stay)."""
    if isinstance(obj, Mapping):
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        if isinstance(annotations, Mapping) and (
            annotations.get(DISABLE_ANNOTATION) == "disabled"
        ):
            return obj
        return {k: _walk(v, values) for k, v in obj.items()}
    return obj


def _walk(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _typed(value, _replace(value, values)) if "${" in value else value
    if isinstance(value, Mapping):
        return {k: _walk(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, values) for v in value]
    return value


def unresolved(value: Any) -> bool:
    """A value still holding a variable (its schema errors are not real)."""
    return isinstance(value, str) and bool(_VAR.search(value))
