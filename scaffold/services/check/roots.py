"""Finding what to build: kustomization roots and plain manifest directories.

Every field through which kustomize loads a file, a directory or a URL is
resolved here, so a root is built only when everything it loads is inside the
repository: a remote reference anywhere in its closure skips it, an absolute path
or an escape (``..``, a symlink) out of the repository fails it, and a cycle is an
error. Kustomizations reached through directories the walk skips (dot-directories,
excluded paths) are read too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from scaffold.services.check.sources import KUSTOMIZATION_FILES, SourceFile

#: Fields whose entries are kustomization directories or resource files.
REFERENCE_FIELDS = ("resources", "bases", "components")
#: Fields whose string entries are files or directories of plugin configs (or
#: inline YAML, which has a newline).
PLUGIN_FIELDS = ("generators", "transformers", "validators")
#: Fields whose string entries are files.
FILE_LIST_FIELDS = ("configurations", "crds", "patchesStrategicMerge")
#: Fields whose entries are mappings with a ``path`` file.
PATH_ENTRY_FIELDS = ("patches", "patchesJson6902", "replacements")
#: Fields that can only be built with the network and helm.
HELM_FIELDS = ("helmCharts", "helmChartInflationGenerator")
_REMOTE_HOST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+/")

Path_ = list[str | int]


def is_remote(entry: str, base: Path) -> bool:
    """True if kustomize would fetch ``entry`` over the network."""
    if "://" in entry or entry.startswith("git@"):
        return True
    if (base / entry).exists():
        return False
    return bool(_REMOTE_HOST.match(entry))


def _strings(values: Any, where: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(values, str):
        yield where, values
    elif isinstance(values, list):
        for i, value in enumerate(values):
            if isinstance(value, str):
                yield [*where, i], value


def references(data: Mapping[str, Any]) -> Iterator[tuple[Path_, str, bool]]:
    """(path in the kustomization, entry, may be a directory) for every entry
    kustomize loads from disk or the network."""
    yield from _list_references(data)
    yield from _path_references(data)
    yield from _generator_references(data)
    yield from _helm_references(data)


def _list_references(data: Mapping[str, Any]) -> Iterator[tuple[Path_, str, bool]]:
    fields = [(n, True) for n in (*REFERENCE_FIELDS, *PLUGIN_FIELDS)]
    fields += [(n, False) for n in FILE_LIST_FIELDS]
    for name, may_be_dir in fields:
        for where, value in _strings(data.get(name), [name]):
            if "\n" not in value:  # inline YAML, not a path
                yield where, value, may_be_dir


def _path_references(data: Mapping[str, Any]) -> Iterator[tuple[Path_, str, bool]]:
    for name in PATH_ENTRY_FIELDS:
        entries = data.get(name)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                yield [name, i, "path"], entry["path"], False
    openapi = data.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield ["openapi", "path"], openapi["path"], False


def _generator_references(
    data: Mapping[str, Any],
) -> Iterator[tuple[Path_, str, bool]]:
    for name in ("configMapGenerator", "secretGenerator"):
        generators = data.get(name)
        for i, gen in enumerate(generators if isinstance(generators, list) else []):
            for key in ("files", "envs", "env"):
                value = gen.get(key) if isinstance(gen, Mapping) else None
                for where, entry in _strings(value, [name, i, key]):
                    yield where, entry.split("=", 1)[-1], False


def _helm_references(data: Mapping[str, Any]) -> Iterator[tuple[Path_, str, bool]]:
    charts = data.get("helmCharts")
    for i, chart in enumerate(charts if isinstance(charts, list) else []):
        if not isinstance(chart, Mapping):
            continue
        for key in ("valuesFile", "repo", "additionalValuesFiles"):
            for where, value in _strings(chart.get(key), ["helmCharts", i, key]):
                yield where, value, False
    globals_ = data.get("helmGlobals")
    if isinstance(globals_, Mapping):
        for key in ("chartHome", "configHome"):
            for where, value in _strings(globals_.get(key), ["helmGlobals", key]):
                yield where, value, True


@dataclass(slots=True)
class Problem:
    """Why a root cannot be built: a reference at ``path`` of ``owner``."""

    owner: KustomizationRoot
    path: Path_
    message: str


@dataclass(slots=True, eq=False)
class KustomizationRoot:
    """A directory with a kustomization file."""

    dir: Path
    rel: str
    source: SourceFile
    data: Mapping[str, Any]
    component: bool
    hidden: bool = False  # read only because another kustomization references it
    remote: list[str] = field(default_factory=list)  # reasons it cannot build
    remote_at: list[Problem] = field(default_factory=list)
    unsafe: list[Problem] = field(default_factory=list)  # loads outside the repo
    cycle: list[str] = field(default_factory=list)
    cycle_at: Path_ = field(default_factory=list)  # the reference into the cycle
    children: list[Path] = field(default_factory=list)  # referenced kustomize dirs
    child_refs: dict[Path, Path_] = field(default_factory=dict)  # child -> where
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

    def line_of(self, path: Path_) -> int | None:
        doc = self.source.documents[0] if self.source.documents else None
        return doc.line_of(path) if doc is not None else None

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
    flux: bool = False  # a Flux Kustomization's spec.path


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _make_root(repo: Path, source: SourceFile, hidden: bool) -> KustomizationRoot:
    data = source.documents[0].data if source.documents else {}
    if not isinstance(data, Mapping):
        data = {}
    return KustomizationRoot(
        dir=source.path.parent,
        rel=_rel(repo, source.path.parent),
        source=source,
        data=data,
        component=data.get("kind") == "Component",
        hidden=hidden,
    )


def _classify(
    root: KustomizationRoot, where: Path_, entry: str, repo: Path
) -> Path | None:
    """The resolved local target of an entry, or None after recording why it is
    remote or unsafe (missing local targets resolve; the build reports them)."""
    if is_remote(entry, root.dir):
        root.remote.append(f"remote reference {_clip(entry)}")
        root.remote_at.append(Problem(root, where, f"remote {_clip(entry)}"))
        return None
    if Path(entry).is_absolute():
        root.unsafe.append(Problem(root, where, f"absolute path {_clip(entry)}"))
        return None
    try:
        target = (root.dir / entry).resolve()
    except (OSError, RuntimeError):
        root.unsafe.append(Problem(root, where, f"unresolvable path {_clip(entry)}"))
        return None
    if not target.is_relative_to(repo):
        root.unsafe.append(
            Problem(root, where, f"{_clip(entry)} resolves outside the repository")
        )
        return None
    if target.exists() and not (target.is_file() or target.is_dir()):
        root.unsafe.append(
            Problem(root, where, f"{_clip(entry)} is not a regular file")
        )
        return None
    return target


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def discover(
    repo: Path,
    sources: Iterable[SourceFile],
    *,
    flux_paths: Iterable[str] = (),
    load: Callable[[Path], SourceFile | None] | None = None,
) -> tuple[list[KustomizationRoot], list[PlainRoot]]:
    """Kustomization roots (references resolved; ``hidden`` ones were reached only
    through a reference) and plain manifest dirs.

    ``load`` reads a kustomization file the walk did not (under a skipped
    directory); None: such references are left to the build. Plain directories
    are grouped under the Flux Kustomization ``spec.path`` that contains them
    (``flux_paths``, repo-relative), else under their topmost ancestor holding
    manifests."""
    sources = list(sources)
    roots: dict[Path, KustomizationRoot] = {}
    for source in sources:
        if source.is_kustomization and source.path.parent not in roots:
            roots[source.path.parent] = _make_root(repo, source, hidden=False)
    queue = list(roots.values())
    while queue:
        queue.extend(_resolve(queue.pop(0), roots, repo, load))
    _mark_cycles(roots)
    _propagate(roots)
    plain = _plain_roots(repo, sources, set(roots), flux_paths)
    return sorted(roots.values(), key=lambda r: r.rel), plain


def _resolve(
    root: KustomizationRoot,
    roots: dict[Path, KustomizationRoot],
    repo: Path,
    load: Callable[[Path], SourceFile | None] | None,
) -> list[KustomizationRoot]:
    """Classify every reference of ``root``; returns the kustomizations read for
    the first time (to resolve in turn)."""
    new: list[KustomizationRoot] = []
    for name in HELM_FIELDS:
        if root.data.get(name):
            root.remote.append(f"{name} need helm and network access")
            root.remote_at.append(Problem(root, [name], f"{name} needs helm"))
    for where, entry, may_be_dir in references(root.data):
        target = _classify(root, where, entry, repo)
        if target is None or not may_be_dir or not target.is_dir():
            continue
        if target not in roots:
            file = kustomization_file(target)
            if file is None or load is None:
                continue
            loaded = load(file)
            if loaded is None:  # refused (a symlink out, not a regular file)
                root.unsafe.append(
                    Problem(root, where, f"{_clip(entry)}: kustomization not read")
                )
                continue
            roots[target] = _make_root(repo, loaded, hidden=True)
            new.append(roots[target])
        if target != root.dir and target not in root.children:
            root.children.append(target)
            root.child_refs[target] = where
    return new


def _propagate(roots: Mapping[Path, KustomizationRoot]) -> None:
    """Remote references and unsafe loads reach every root including them; the
    roots that build set ``referenced_by`` on their children."""
    changed = True
    while changed:
        changed = False
        for root in roots.values():
            for child_dir in root.children:
                changed |= _inherit(root, roots[child_dir])
    for root in roots.values():
        if not (root.remote or root.unsafe or root.cycle):
            for child_dir in root.children:
                roots[child_dir].referenced_by.append(root.rel)


def _inherit(root: KustomizationRoot, child: KustomizationRoot) -> bool:
    changed = False
    reason = f"includes {child.rel} which cannot be built offline"
    if child.remote and reason not in root.remote:
        root.remote.append(reason)
        root.remote_at.extend(child.remote_at)
        changed = True
    for problem in child.unsafe:
        if problem not in root.unsafe:
            root.unsafe.append(problem)
            changed = True
    return changed


def _plain_roots(
    repo: Path,
    sources: list[SourceFile],
    in_tree: set[Path],
    flux_paths: Iterable[str],
) -> list[PlainRoot]:
    """Manifest directories outside every kustomization tree, grouped under the
    deepest Flux path containing them, else under their topmost ancestor holding
    manifests that is not itself under a Flux path."""
    plain: dict[Path, list[SourceFile]] = {}
    for source in sources:
        directory = source.path.parent
        if source.is_manifest and not _inside_any(directory, in_tree, repo):
            plain.setdefault(directory, []).append(source)
    flux_dirs = sorted(
        {(repo / p).resolve() for p in flux_paths}, key=lambda p: -len(p.parts)
    )
    grouped: dict[Path, list[SourceFile]] = {}
    for directory in sorted(plain, key=lambda p: len(p.parts)):
        top = next((d for d in flux_dirs if directory.is_relative_to(d)), None)
        if top is None:
            top = next((d for d in grouped if directory.is_relative_to(d)), directory)
        grouped.setdefault(top, []).extend(plain[directory])
    return [
        PlainRoot(
            dir=d,
            rel=_rel(repo, d),
            files=sorted(files, key=lambda s: s.rel),
            flux=d in flux_dirs,
        )
        for d, files in sorted(grouped.items())
    ]


def _mark_cycles(roots: Mapping[Path, KustomizationRoot]) -> None:
    """Record on each root in a reference cycle the cycle (rel paths)."""
    state: dict[Path, int] = {}  # 1 visiting, 2 done
    stack: list[Path] = []

    def visit(node: Path) -> None:
        state[node] = 1
        stack.append(node)
        for child in roots[node].children:
            if state.get(child) == 1:
                loop = [*stack[stack.index(child) :], child]
                names = [roots[p].rel for p in loop]
                for member, following in pairwise(loop):
                    if not roots[member].cycle:
                        roots[member].cycle = names
                        roots[member].cycle_at = roots[member].child_refs[following]
            elif child not in state:
                visit(child)
        stack.pop()
        state[node] = 2

    for start in roots:
        if start not in state:
            visit(start)


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
