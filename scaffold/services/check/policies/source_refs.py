"""source-mutable-ref: GitOps sources pinned where immutability is expected."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from scaffold.services.check.policies.common import Hit, get

RULE = "source-mutable-ref"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")
_PROD_TOKENS = frozenset({"prod", "production", "prd"})
_ENV_LABELS = ("env", "environment", "app.kubernetes.io/environment")


def _tokens(*texts: str | None) -> set[str]:
    tokens: set[str] = set()
    for text in texts:
        if text:
            tokens.update(t for t in re.split(r"[^A-Za-z0-9]+", text.lower()) if t)
    return tokens


def is_prod_context(obj: Mapping[str, Any], *paths: str | None) -> bool:
    """Prod: a path segment/token, the namespace, name, Argo project or an env label
    says prod/production/prd."""
    labels = get(obj, ["metadata", "labels"])
    label_values = (
        [str(labels.get(k)) for k in _ENV_LABELS] if isinstance(labels, Mapping) else []
    )
    project = get(obj, ["spec", "project"]) or get(
        obj, ["spec", "template", "spec", "project"]
    )
    texts = [
        *paths,
        get(obj, ["metadata", "namespace"]),
        get(obj, ["metadata", "name"]),
        project if isinstance(project, str) else None,
        *label_values,
    ]
    return bool(
        _tokens(*[t if isinstance(t, str) else None for t in texts]) & _PROD_TOKENS
    )


def _pinned_revision(revision: Any) -> bool:
    return isinstance(revision, str) and bool(
        _SHA.match(revision) or _VERSION.match(revision)
    )


def _chart_version_mutable(version: Any) -> bool:
    """No version, ``*`` or ``latest`` (a bounded semver range is accepted)."""
    return not isinstance(version, str) or version.strip() in ("", "*", "latest")


def normalize_repo_url(url: str) -> str:
    """``ssh://git@github.com/o/r.git`` and ``https://github.com/o/r`` -> one key."""
    value = url.strip().lower()
    value = re.sub(r"^[a-z+]+://", "", value)
    value = re.sub(r"^[^@/]+@", "", value)
    host, sep, rest = value.partition("/")
    if ":" in host and not host.split(":", 1)[1].isdigit():  # scp-like git@host:o/r
        host, _, first = host.partition(":")
        rest = f"{first}/{rest}" if sep else first
        sep = "/"
    return (host + sep + rest).rstrip("/").removesuffix(".git")


def fleet_repo_urls(objects: Iterable[Mapping[str, Any]], exists: Any) -> set[str]:
    """URLs of the checked repo itself: the Flux ``flux-system`` GitRepository, Argo
    sources whose ``path`` exists in the repo, and Argo git generators."""
    urls: set[str] = set()
    for obj in objects:
        api = str(obj.get("apiVersion", ""))
        kind = obj.get("kind")
        if api.startswith("source.toolkit.fluxcd.io/") and kind == "GitRepository":
            url = get(obj, ["spec", "url"])
            if get(obj, ["metadata", "name"]) == "flux-system" and isinstance(url, str):
                urls.add(normalize_repo_url(url))
        if not api.startswith("argoproj.io/"):
            continue
        for _, source in _argo_sources(obj):
            path, url = source.get("path"), source.get("repoURL")
            if (
                isinstance(path, str)
                and isinstance(url, str)
                and "{{" not in path
                and exists(path)
            ):
                urls.add(normalize_repo_url(url))
        generators = get(obj, ["spec", "generators"])
        for generator in generators if isinstance(generators, list) else []:
            url = get(generator, ["git", "repoURL"])
            if isinstance(url, str):
                urls.add(normalize_repo_url(url))
    return urls


def _argo_sources(obj: Mapping[str, Any]) -> list[tuple[list[str | int], Any]]:
    kind = obj.get("kind")
    spec_path: list[str | int] = (
        ["spec"] if kind == "Application" else ["spec", "template", "spec"]
    )
    sources: list[tuple[list[str | int], Any]] = []
    single = get(obj, [*spec_path, "source"])
    if isinstance(single, Mapping):
        sources.append(([*spec_path, "source"], single))
    multi = get(obj, [*spec_path, "sources"])
    if isinstance(multi, list):
        sources.extend(
            ([*spec_path, "sources", i], s)
            for i, s in enumerate(multi)
            if isinstance(s, Mapping)
        )
    return sources


def source_checks(
    obj: Mapping[str, Any],
    *paths: str | None,
    fleet_urls: frozenset[str] | set[str] = frozenset(),
) -> Iterator[Hit]:
    """Mutable GitOps source references (see the catalogue's source-mutable-ref).

    Tracking a branch of the fleet repo itself (``fleet_urls``) is normal GitOps:
    promotion happens by PR into per-env folders. Other git sources in a prod
    context, and chart/OCI sources everywhere, must be pinned."""
    kind = obj.get("kind")
    api = str(obj.get("apiVersion", ""))
    name = get(obj, ["metadata", "name"])
    prod = is_prod_context(obj, *paths)
    if api.startswith("argoproj.io/") and kind in ("Application", "ApplicationSet"):
        sources = _argo_sources(obj)
        for where, source in sources:
            revision = source.get("targetRevision")
            if source.get("chart"):
                if _chart_version_mutable(revision):
                    yield (
                        "source-mutable-ref",
                        [*where, "targetRevision"],
                        f"{kind} {name}: chart {source.get('chart')} version "
                        f"{revision or '(none)'} is not a fixed version",
                    )
            elif (
                prod
                and not _pinned_revision(revision)
                and normalize_repo_url(str(source.get("repoURL", ""))) not in fleet_urls
            ):
                yield (
                    "source-mutable-ref",
                    [*where, "targetRevision"],
                    f"{kind} {name}: prod source tracks targetRevision "
                    f"{revision or 'HEAD (default)'}, not a tag or commit",
                )
    elif api.startswith("source.toolkit.fluxcd.io/"):
        ref = get(obj, ["spec", "ref"])
        ref = ref if isinstance(ref, Mapping) else {}
        if kind == "OCIRepository":
            if not (ref.get("digest") or ref.get("semver") or ref.get("tag")):
                yield (
                    "source-mutable-ref",
                    ["spec"],
                    f"OCIRepository {name} has no ref (defaults to tag latest)",
                )
            elif not ref.get("digest") and (
                ref.get("tag") == "latest" or ref.get("semver") in ("*", "x", ">=0.0.0")
            ):
                yield (
                    "source-mutable-ref",
                    ["spec", "ref"],
                    f"OCIRepository {name} follows a mutable ref "
                    f"({ref.get('tag') or ref.get('semver')})",
                )
        elif (
            kind == "GitRepository"
            and name != "flux-system"
            and prod
            and normalize_repo_url(str(get(obj, ["spec", "url"]) or ""))
            not in fleet_urls
            and not any(ref.get(k) for k in ("tag", "semver", "commit", "name"))
        ):
            yield (
                "source-mutable-ref",
                ["spec", "ref"],
                f"GitRepository {name} in a prod context tracks branch "
                f"{ref.get('branch') or '(default)'}, not a tag, semver or commit",
            )
    elif api.startswith("helm.toolkit.fluxcd.io/") and kind == "HelmRelease":
        chart_spec = get(obj, ["spec", "chart", "spec"])
        if isinstance(chart_spec, Mapping):
            version = chart_spec.get("version")
            if _chart_version_mutable(version):
                yield (
                    "source-mutable-ref",
                    ["spec", "chart", "spec"],
                    f"HelmRelease {name}: chart {chart_spec.get('chart')} version "
                    f"{version or '(none: latest)'} is not pinned",
                )
