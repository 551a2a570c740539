"""JSON schemas for Kubernetes objects: kubernetes-validate's strict core schemas,
kubeconform-layout CRD schema directories, and CRDs found in the repo.

Compiled validators are cached per (apiVersion, kind). Heavy libraries are imported
lazily so ``scaffold --help`` stays fast.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from scaffold.errors import ConfigError, UsageError

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")
_CORE_GROUP_RE = re.compile(r"^([a-z0-9-]+|[a-z0-9.-]+\.k8s\.io)$")


class ObjectValidator(Protocol):
    """What callers need from a compiled jsonschema validator."""

    def iter_errors(self, instance: Any) -> Iterator[Any]: ...


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One validation error: where (JSON path) and what."""

    path: tuple[str | int, ...]
    message: str


@dataclass(frozen=True, slots=True)
class SchemaHit:
    """A validator and where its schema came from (for messages)."""

    source: str
    validator: ObjectValidator

    def issues(self, instance: Any) -> list[SchemaIssue]:
        """Validation errors sorted by path; a broken schema is a ConfigError."""
        try:
            errors = list(self.validator.iter_errors(instance))
        except Exception as exc:  # referencing/jsonschema errors of a bad schema
            raise ConfigError(f"{self.source}: cannot be used ({exc})") from exc
        issues = [SchemaIssue(tuple(e.absolute_path), str(e.message)) for e in errors]
        return sorted(issues, key=lambda i: [str(p) for p in i.path])


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def supported_kubernetes_versions() -> list[str]:
    """The X.Y versions kubernetes-validate ships schemas for, oldest first."""
    from kubernetes_validate import utils as kv

    versions: list[str] = kv.all_versions()
    return sorted({".".join(v.split(".")[:2]) for v in versions}, key=_version_key)


def resolve_kubernetes_version(requested: str) -> str:
    """``1.33`` / ``v1.33.2`` -> the schema dir name kubernetes-validate ships."""
    match = _VERSION_RE.match(requested.strip())
    supported = supported_kubernetes_versions()
    if not match:
        raise UsageError(
            f"--kubernetes-version {requested!r}: expected X.Y, e.g. {supported[-1]}"
        )
    wanted = f"{match.group(1)}.{match.group(2)}"
    if wanted not in supported:
        raise UsageError(
            f"--kubernetes-version {wanted}: kubernetes-validate ships schemas for "
            f"{supported[0]}..{supported[-1]}"
        )
    return wanted


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class SchemaRegistry:
    """Finds and caches a validator for an (apiVersion, kind); thread-safe."""

    def __init__(
        self, *, kubernetes_version: str, locations: Sequence[Path] = ()
    ) -> None:
        self.kubernetes_version = resolve_kubernetes_version(kubernetes_version)
        for location in locations:
            if not location.is_dir():
                raise ConfigError(
                    f"schema location {location}: not a directory "
                    "(expected {group}/{kind}_{version}.json files)"
                )
        self._locations = list(locations)
        self._crds: dict[tuple[str, str], dict[str, Any]] = {}
        self._cache: dict[tuple[str, str], SchemaHit | None] = {}
        self._core_registry: Any = None
        self._lock = threading.Lock()

    # -- repo CRDs -----------------------------------------------------------
    def add_crd(self, crd: Mapping[str, Any]) -> list[str]:
        """Register the served versions of a CustomResourceDefinition object.

        Returns the ``group/version`` + kind keys that were added.
        """
        spec = crd.get("spec")
        if not isinstance(spec, Mapping):
            return []
        group = spec.get("group")
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        versions = spec.get("versions")
        if not isinstance(group, str) or not isinstance(kind, str):
            return []
        added: list[str] = []
        for version in versions if isinstance(versions, list) else []:
            if not isinstance(version, Mapping) or version.get("served") is False:
                continue
            schema = version.get("schema")
            openapi = (
                schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
            )
            name = version.get("name")
            if not isinstance(openapi, Mapping) or not isinstance(name, str):
                continue
            key = (f"{group}/{name}", kind)
            with self._lock:
                self._crds[key] = openapi_to_jsonschema(openapi)
                self._cache.pop(key, None)
            added.append(f"{group}/{name} {kind}")
        return added

    # -- lookup ----------------------------------------------------------------
    def lookup(self, api_version: str, kind: str) -> SchemaHit | None:
        """A validator for the object type, or None when no schema is known."""
        key = (api_version, kind)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        hit = self._find(api_version, kind)
        with self._lock:
            self._cache[key] = hit
        return hit

    def _find(self, api_version: str, kind: str) -> SchemaHit | None:
        group, version = split_api_version(api_version)
        if _CORE_GROUP_RE.match(group or "core"):
            hit = self._core(api_version, kind)
            if hit is not None:
                return hit
        crd = self._crds.get((api_version, kind))
        if crd is not None:
            label = f"CRD {group}/{version} {kind} in repo"
            try:
                return SchemaHit(label, _draft_validator(crd))
            except ConfigError as exc:
                raise ConfigError(f"{label}: {exc}") from exc
        for location in self._locations:
            path = location / group / f"{kind.lower()}_{version}.json"
            if path.is_file():
                try:
                    schema = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"schema {path}: cannot load ({exc})") from exc
                label = f"schema {group}/{kind.lower()}_{version}.json"
                try:
                    return SchemaHit(label, _draft_validator(schema))
                except ConfigError as exc:
                    raise ConfigError(f"schema {path}: {exc}") from exc
        return None

    def _core(self, api_version: str, kind: str) -> SchemaHit | None:
        prefix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        base = (
            resources.files("kubernetes_validate")
            / "kubernetes-json-schema"
            / f"v{self.kubernetes_version}.0-local-strict"
        )
        ref = base / f"{kind.lower()}-{prefix}.json"
        if not ref.is_file():
            return None
        import jsonschema
        from referencing import Registry, Resource

        schema = json.loads(ref.read_text(encoding="utf-8"))
        with self._lock:
            if self._core_registry is None:
                defs = json.loads(
                    (base / "_definitions.json").read_text(encoding="utf-8")
                )
                self._core_registry = Resource.from_contents(defs) @ Registry()
            registry = self._core_registry
        registry = Resource.from_contents(schema) @ registry
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        return SchemaHit(f"Kubernetes {self.kubernetes_version} (strict)", validator)


def _draft_validator(schema: Mapping[str, Any]) -> ObjectValidator:
    """A validator of the draft the schema declares ($schema), Draft 7 otherwise.

    The schema is checked against its metaschema (without format assertions), and
    Go (RE2) ``pattern``s Python cannot compile are adapted or dropped."""
    import jsonschema

    schema = _python_patterns(schema)
    cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    error = jsonschema.exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise ConfigError(f"invalid JSON schema at {where}: {error.message[:200]}")
    validator: ObjectValidator = cls(schema)
    return validator


_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def _python_pattern(pattern: str) -> str | None:
    """``pattern`` as a Python regex: RE2 allows inline flags anywhere, Python only
    at the start, so they are moved there; None if it still does not compile."""
    for candidate in (pattern, _hoist_flags(pattern)):
        try:
            re.compile(candidate)
        except re.error:
            continue
        return candidate
    return None


def _hoist_flags(pattern: str) -> str:
    flags = "".join(sorted(set("".join(_INLINE_FLAGS.findall(pattern)))))
    body = _INLINE_FLAGS.sub("", pattern)
    return f"(?{flags}){body}" if flags else body


def _python_patterns(node: Any) -> Any:
    if isinstance(node, list):
        return [_python_patterns(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            adapted = _python_pattern(value)
            if adapted is not None:
                out[key] = adapted
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _python_patterns(sub) for name, sub in value.items()}
        else:
            out[key] = _python_patterns(value)
    return out


def openapi_to_jsonschema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD ``openAPIV3Schema`` as a strict JSON schema (like kubeconform's
    openapi2jsonschema with strict mode): ``nullable`` adds null, int-or-string
    accepts both, objects with ``properties`` and no ``additionalProperties`` or
    ``x-kubernetes-preserve-unknown-fields`` reject unknown fields; apiVersion, kind
    and metadata are always allowed at the root."""
    schema: dict[str, Any] = _convert(copy.deepcopy(dict(openapi)))
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    return schema


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs"})


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        else:
            out[key] = _convert(value)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out
