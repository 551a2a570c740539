"""Finding what to build: kustomization roots and plain manifest directories."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffold.services.check.sources import SourceFile

#: Fields whose entries are files or directories kustomize loads.
REFERENCE_FIELDS = ("resources", "bases", "components")
#: Fields that can only be built with the network and helm.
HELM_FIELDS = ("helmCharts", "helmChartInflationGenerator")
_REMOTE_HOST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+/")


def is_remote(entry: str, base: Path) -> bool:
    """True if kustomize would fetch ``entry`` over the network."""
    if "://" in entry or entry.startswith("git@"):
        return True
    if (base / entry).exists():
        return False
    return bool(_REMOTE_HOST.match(entry))


@dataclass(slots=True)
class KustomizationRoot:
    """A directory with a kustomization file."""

    dir: Path
    rel: str
    source: SourceFile
    data: Mapping[str, Any]
    component: bool
    remote: list[str] = field(default_factory=list)  # reasons it cannot build
    children: list[Path] = field(default_factory=list)  # referenced kustomize dirs
    referenced_by: list[str] = field(default_factory=list)

    @property
    def file_rel(self) -> str:
        return self.source.rel

    def ksops_generators(self) -> list[str]:
        """``generators:`` entries that are KSOPS generator files (decrypting needs
        a key; never run offline)."""
        found = []
        values = self.data.get("generators")
        for value in values if isinstance(values, list) else []:
            path = self.dir / str(value)
            if not isinstance(value, str) or not path.is_file():
                continue
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if (
                isinstance(doc, dict)
                and doc.get("kind") == "ksops"
                and str(doc.get("apiVersion", "")).startswith("viaduct.ai/")
            ):
                found.append(value)
        return found

    def entries(self) -> Iterable[tuple[str, str]]:
        """(field, entry) for every string entry of the reference fields."""
        for name in REFERENCE_FIELDS:
            values = self.data.get(name)
            if isinstance(values, list):
                for value in values:
                    if isinstance(value, str):
                        yield name, value


@dataclass(slots=True)
class PlainRoot:
    """A directory of manifests outside every kustomization tree; Flux would
    generate a kustomization listing them (recursively)."""

    dir: Path
    rel: str
    files: list[SourceFile]


def discover(
    repo: Path, sources: Iterable[SourceFile]
) -> tuple[list[KustomizationRoot], list[PlainRoot]]:
    """Kustomization roots (with references resolved) and plain manifest dirs."""
    sources = list(sources)
    roots = _kustomization_roots(repo, sources)
    _resolve_references(roots)
    return sorted(roots.values(), key=lambda r: r.rel), _plain_roots(
        repo, sources, set(roots)
    )


def _kustomization_roots(
    repo: Path, sources: list[SourceFile]
) -> dict[Path, KustomizationRoot]:
    roots: dict[Path, KustomizationRoot] = {}
    for source in sources:
        if not source.is_kustomization or source.path.parent in roots:
            continue
        data = source.documents[0].data if source.documents else {}
        if not isinstance(data, Mapping):
            data = {}
        roots[source.path.parent] = KustomizationRoot(
            dir=source.path.parent,
            rel=_rel(repo, source.path.parent),
            source=source,
            data=data,
            component=data.get("kind") == "Component",
        )
    return roots


def _resolve_references(roots: dict[Path, KustomizationRoot]) -> None:
    """Children, remote reasons (propagated to includers) and ``referenced_by``."""
    for root in roots.values():
        _read_entries(root, roots)
    # remote-ness propagates to every root that includes a remote root
    changed = True
    while changed:
        changed = False
        for root in roots.values():
            changed |= _inherit_remote(root, roots)
    for root in roots.values():
        if root.remote:
            continue
        for child in root.children:
            roots[child].referenced_by.append(root.rel)


def _read_entries(
    root: KustomizationRoot, roots: dict[Path, KustomizationRoot]
) -> None:
    for _, entry in root.entries():
        if is_remote(entry, root.dir):
            root.remote.append(f"remote resource {entry}")
            continue
        target = (root.dir / entry).resolve()
        if target in roots and target != root.dir:
            root.children.append(target)
    for name in HELM_FIELDS:
        if root.data.get(name):
            root.remote.append(f"{name} need helm and network access")


def _inherit_remote(
    root: KustomizationRoot, roots: dict[Path, KustomizationRoot]
) -> bool:
    """Add a reason for each remote child not yet named; True if any was added."""
    changed = False
    for child in root.children:
        reason = f"includes {roots[child].rel} which cannot be built offline"
        if roots[child].remote and reason not in root.remote:
            root.remote.append(reason)
            changed = True
    return changed


def _plain_roots(
    repo: Path, sources: list[SourceFile], in_tree: set[Path]
) -> list[PlainRoot]:
    """Manifest directories outside every kustomization tree, each grouped under
    its topmost ancestor that also holds manifests."""
    plain: dict[Path, list[SourceFile]] = {}
    for source in sources:
        if not source.is_manifest:
            continue
        directory = source.path.parent
        if _inside_any(directory, in_tree, repo):
            continue
        plain.setdefault(directory, []).append(source)
    grouped: dict[Path, list[SourceFile]] = {}
    for directory in sorted(plain, key=lambda p: len(p.parts)):
        top = next((d for d in grouped if directory.is_relative_to(d)), directory)
        grouped.setdefault(top, []).extend(plain[directory])
    return [
        PlainRoot(dir=d, rel=_rel(repo, d), files=sorted(files, key=lambda s: s.rel))
        for d, files in sorted(grouped.items())
    ]


def _inside_any(directory: Path, roots: set[Path], repo: Path) -> bool:
    current = directory
    while True:
        if current in roots:
            return True
        if current == repo or current.parent == current:
            return False
        current = current.parent


def closure(
    root: KustomizationRoot, roots: Mapping[Path, KustomizationRoot]
) -> list[KustomizationRoot]:
    """``root`` and every kustomization it includes, transitively."""
    seen: dict[Path, KustomizationRoot] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        if current.dir in seen:
            continue
        seen[current.dir] = current
        stack.extend(roots[c] for c in current.children if c in roots)
    return list(seen.values())


def _rel(repo: Path, path: Path) -> str:
    rel = path.relative_to(repo).as_posix()
    return rel or "."
