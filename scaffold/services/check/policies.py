"""Policy rules on objects: the generated Kyverno policies plus repo hygiene.

Each check yields ``(rule_id, path, message)``: ``path`` is the JSON path inside the
object used to find the source line.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Hit = tuple[str, list[str | int], str]

#: kind -> path of the pod spec inside the object (Kyverno autogen controllers).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: Run-to-completion workloads are exempt from the probe rule.
NO_PROBE_KINDS = frozenset({"Job", "CronJob"})
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")
_PROD_TOKENS = frozenset({"prod", "production", "prd"})
_ENV_LABELS = ("env", "environment", "app.kubernetes.io/environment")


def _get(obj: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def value_at(obj: Any, path: Sequence[str | int]) -> Any:
    """The value at a JSON path, or None."""
    return _get(obj, path)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _containers(
    spec: Mapping[str, Any], lists: Sequence[str]
) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for list_name in lists:
        items = spec.get(list_name)
        if isinstance(items, list):
            for index, container in enumerate(items):
                if isinstance(container, Mapping):
                    yield list_name, index, container


def image_problem(image: str) -> str | None:
    """Why ``image`` is mutable (no tag, ``latest``), or None when pinned."""
    if "@" in image:
        return None  # digest
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the latest tag"
    return None


POD_RULES = (
    "disallow-latest-tag",
    "require-requests-limits",
    "require-pod-probes",
    "disallow-privileged-containers",
    "require-run-as-nonroot",
)
AUTOGEN_ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"


@dataclass(frozen=True, slots=True)
class PolicyScope:
    """Where the repo's own Kyverno ClusterPolicy of a pod rule applies."""

    kinds: frozenset[str] | None  # Pod + autogen controllers; None: all pod kinds
    excluded_namespaces: frozenset[str]

    def applies(self, kind: str, namespace: Any) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return not (
            isinstance(namespace, str) and namespace in self.excluded_namespaces
        )


def policy_scopes(objects: Iterable[Mapping[str, Any]]) -> dict[str, PolicyScope]:
    """Scopes from ClusterPolicies in the repo named like the pod rules: their
    autogen-controllers annotation and ``exclude`` namespaces. Rules without a
    policy in the repo apply to every pod kind in every namespace."""
    scopes: dict[str, PolicyScope] = {}
    for obj in objects:
        name = _get(obj, ["metadata", "name"])
        if (
            obj.get("kind") != "ClusterPolicy"
            or not str(obj.get("apiVersion", "")).startswith("kyverno.io/")
            or name not in POD_RULES
        ):
            continue
        annotations = _get(obj, ["metadata", "annotations"])
        autogen = (
            annotations.get(AUTOGEN_ANNOTATION)
            if isinstance(annotations, Mapping)
            else None
        )
        kinds: frozenset[str] | None = None
        if isinstance(autogen, str):
            controllers = {k.strip() for k in autogen.split(",") if k.strip()}
            kinds = frozenset({"Pod"} | (controllers - {"none"}))
        excluded: set[str] = set()
        rules = _get(obj, ["spec", "rules"])
        for rule in rules if isinstance(rules, list) else []:
            for block in ("any", "all"):
                entries = _get(rule, ["exclude", block])
                for entry in entries if isinstance(entries, list) else []:
                    namespaces = _get(entry, ["resources", "namespaces"])
                    if isinstance(namespaces, list):
                        excluded.update(str(n) for n in namespaces)
        scopes[str(name)] = PolicyScope(kinds, frozenset(excluded))
    return scopes


def pod_checks(
    obj: Mapping[str, Any], scopes: Mapping[str, PolicyScope] | None = None
) -> Iterator[Hit]:
    """Kyverno pod rules on a workload's pod spec, within the repo's policy scopes."""
    kind = str(obj.get("kind"))
    namespace = _get(obj, ["metadata", "namespace"])
    for hit in _pod_checks(obj):
        scope = (scopes or {}).get(hit[0])
        if scope is None or scope.applies(kind, namespace):
            yield hit


def _pod_checks(obj: Mapping[str, Any]) -> Iterator[Hit]:
    kind = obj.get("kind")
    spec_path = POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if spec_path is None:
        return
    spec = _get(obj, spec_path)
    if not isinstance(spec, Mapping):
        return
    base: list[str | int] = list(spec_path)
    everything = list(_containers(spec, CONTAINER_LISTS))
    for list_name, index, container in everything:
        where: list[str | int] = [*base, list_name, index]
        name = container.get("name", index)
        image = container.get("image")
        if isinstance(image, str):
            problem = image_problem(image)
            if problem:
                yield (
                    "disallow-latest-tag",
                    [*where, "image"],
                    f"container {name}: image {image} {problem}",
                )
        security = container.get("securityContext")
        if isinstance(security, Mapping) and _truthy(security.get("privileged")):
            yield (
                "disallow-privileged-containers",
                [*where, "securityContext", "privileged"],
                f"container {name} is privileged",
            )
    for list_name, index, container in _containers(spec, ("containers",)):
        where = [*base, list_name, index]
        name = container.get("name", index)
        resources = container.get("resources")
        missing = [
            f"{section}.{key}"
            for section, key in (
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "memory"),
            )
            if not _get(resources, [section, key])
        ]
        if missing:
            yield (
                "require-requests-limits",
                where,
                f"container {name} has no resources." + ", resources.".join(missing),
            )
        if kind not in NO_PROBE_KINDS and not any(
            container.get(p)
            for p in ("livenessProbe", "readinessProbe", "startupProbe")
        ):
            yield (
                "require-pod-probes",
                where,
                f"container {name} has no liveness, readiness or startup probe",
            )
    yield from _nonroot(spec, base, everything)


def _nonroot(
    spec: Mapping[str, Any],
    base: list[str | int],
    containers: list[tuple[str, int, Mapping[str, Any]]],
) -> Iterator[Hit]:
    def container_value(container: Mapping[str, Any]) -> Any:
        security = container.get("securityContext")
        return security.get("runAsNonRoot") if isinstance(security, Mapping) else None

    pod_level = _truthy(_get(spec, ["securityContext", "runAsNonRoot"]))
    overriding = [
        (list_name, index, c)
        for list_name, index, c in containers
        if container_value(c) is not None and not _truthy(container_value(c))
    ]
    all_set = bool(containers) and all(
        _truthy(container_value(c)) for _, _, c in containers
    )
    if pod_level and not overriding:
        return
    if all_set:
        return
    if overriding:
        list_name, index, container = overriding[0]
        yield (
            "require-run-as-nonroot",
            [*base, list_name, index, "securityContext", "runAsNonRoot"],
            f"container {container.get('name', index)} sets runAsNonRoot false",
        )
    else:
        yield (
            "require-run-as-nonroot",
            base,
            "pod does not set securityContext.runAsNonRoot true "
            "(at pod level or on every container)",
        )


def is_sops_encrypted(doc: Mapping[str, Any]) -> bool:
    """A SOPS-encrypted object: ``sops:`` metadata and every data value ENC[...]."""
    if not isinstance(doc.get("sops"), Mapping):
        return False
    for section in ("data", "stringData"):
        values = doc.get(section)
        if isinstance(values, Mapping):
            for value in values.values():
                if not (isinstance(value, str) and value.startswith("ENC[")):
                    return False
    return True


#: Values filled in at deploy time (no secret material in the repo): Flux
#: ``${VAR}`` substitution, 1Password ``op://``, vals ``ref+``, ``vault:`` paths.
_SECRET_REFERENCE = re.compile(r"^(\$\{[^}]+\}|op://\S+|ref\+\S+|vault:\S+)$")


def is_secret_reference(value: Any) -> bool:
    """A Secret value that only refers to a secret kept elsewhere (``data``
    values are base64: decoded first)."""
    if not isinstance(value, str):
        return False
    if _SECRET_REFERENCE.match(value.strip()):
        return True
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return bool(_SECRET_REFERENCE.match(decoded.strip()))


def secret_checks(obj: Mapping[str, Any]) -> Iterator[Hit]:
    """A plaintext Secret (checked on source files and on build output)."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return
    if is_sops_encrypted(obj):
        return
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, Mapping):
            continue
        plain = [k for k, v in values.items() if not is_secret_reference(v)]
        if plain:
            yield (
                "secret-plaintext",
                [section],
                f"plaintext {section} (not SOPS-encrypted, not a reference)",
            )
            return


def secret_generator_checks(data: Any, directory: Path) -> Iterator[Hit]:
    """kustomize ``secretGenerator``: literals are plaintext; files/envs must be
    SOPS-encrypted (Flux decrypts encrypted .env/.json/.yaml sources)."""
    generators = data.get("secretGenerator") if isinstance(data, Mapping) else None
    for index, generator in enumerate(generators or []):
        if not isinstance(generator, Mapping):
            continue
        name = generator.get("name")
        if generator.get("literals"):
            yield (
                "secret-plaintext",
                ["secretGenerator", index, "literals"],
                f"secretGenerator {name} has plaintext literals",
            )
        for field_name in ("files", "envs"):
            entries = generator.get(field_name)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if not isinstance(entry, str):
                    continue
                file = directory / entry.split("=", 1)[-1]
                try:
                    text = file.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue  # a missing file fails the build instead
                if not ("sops" in text and "ENC[" in text):
                    yield (
                        "secret-plaintext",
                        ["secretGenerator", index, field_name, i],
                        f"secretGenerator {name} reads {entry}, which is not "
                        "SOPS-encrypted",
                    )


def _tokens(*texts: str | None) -> set[str]:
    tokens: set[str] = set()
    for text in texts:
        if text:
            tokens.update(t for t in re.split(r"[^A-Za-z0-9]+", text.lower()) if t)
    return tokens


def is_prod_context(obj: Mapping[str, Any], *paths: str | None) -> bool:
    """Prod: a path segment/token, the namespace, name, Argo project or an env label
    says prod/production/prd."""
    labels = _get(obj, ["metadata", "labels"])
    label_values = (
        [str(labels.get(k)) for k in _ENV_LABELS] if isinstance(labels, Mapping) else []
    )
    project = _get(obj, ["spec", "project"]) or _get(
        obj, ["spec", "template", "spec", "project"]
    )
    texts = [
        *paths,
        _get(obj, ["metadata", "namespace"]),
        _get(obj, ["metadata", "name"]),
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
            url = _get(obj, ["spec", "url"])
            if _get(obj, ["metadata", "name"]) == "flux-system" and isinstance(
                url, str
            ):
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
        generators = _get(obj, ["spec", "generators"])
        for generator in generators if isinstance(generators, list) else []:
            url = _get(generator, ["git", "repoURL"])
            if isinstance(url, str):
                urls.add(normalize_repo_url(url))
    return urls


def _argo_sources(obj: Mapping[str, Any]) -> list[tuple[list[str | int], Any]]:
    kind = obj.get("kind")
    spec_path: list[str | int] = (
        ["spec"] if kind == "Application" else ["spec", "template", "spec"]
    )
    sources: list[tuple[list[str | int], Any]] = []
    single = _get(obj, [*spec_path, "source"])
    if isinstance(single, Mapping):
        sources.append(([*spec_path, "source"], single))
    multi = _get(obj, [*spec_path, "sources"])
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
    name = _get(obj, ["metadata", "name"])
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
        ref = _get(obj, ["spec", "ref"])
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
            and normalize_repo_url(str(_get(obj, ["spec", "url"]) or ""))
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
        chart_spec = _get(obj, ["spec", "chart", "spec"])
        if isinstance(chart_spec, Mapping):
            version = chart_spec.get("version")
            if _chart_version_mutable(version):
                yield (
                    "source-mutable-ref",
                    ["spec", "chart", "spec"],
                    f"HelmRelease {name}: chart {chart_spec.get('chart')} version "
                    f"{version or '(none: latest)'} is not pinned",
                )
