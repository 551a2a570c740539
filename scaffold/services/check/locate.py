"""Mapping a built object back to its source: file, document and line.

kustomize records each object's origin when the build asks for it
(``buildMetadata: [originAnnotations]``, the kustomize adapter's wrapper): the
source file, or the kustomization whose generator made it. Inside a file the
document is matched by kind and name (``namePrefix``/``nameSuffix`` and
``generateName`` allowed for); without an origin, by kind and name among the files
the root can load.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scaffold.services.check.roots import KustomizationRoot
from scaffold.services.check.sources import Document, SourceFile

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_GENERATOR_FIELDS = {
    "ConfigMapGenerator": "configMapGenerator",
    "SecretGenerator": "secretGenerator",
}

Index = Mapping[tuple[str, str], list[tuple[SourceFile, Document]]]


@dataclass(frozen=True, slots=True)
class Origin:
    path: str | None = None  # the source file, relative to the build's base
    configured_in: str | None = None  # the kustomization of a generator
    generator: str | None = None  # ConfigMapGenerator, SecretGenerator, ...


def pop_origin(obj: MutableMapping[str, Any]) -> Origin | None:
    """Remove the origin annotation (and an annotations map left empty) from a
    built object; return what it said."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, MutableMapping) else None
    if not isinstance(annotations, MutableMapping):
        return None
    raw = annotations.pop(ORIGIN_ANNOTATION, None)
    if not annotations and isinstance(meta, MutableMapping):
        del meta["annotations"]
    if not isinstance(raw, str):
        return None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return None
    if not isinstance(data, Mapping):
        return None
    by = data.get("configuredBy")
    return Origin(
        path=data.get("path") if isinstance(data.get("path"), str) else None,
        configured_in=data.get("configuredIn")
        if isinstance(data.get("configuredIn"), str)
        else None,
        generator=str(by.get("kind")) if isinstance(by, Mapping) else None,
    )


def source_name(data: Mapping[str, Any]) -> str | None:
    """metadata.name, else metadata.generateName."""
    meta = data.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    name = meta.get("name") or meta.get("generateName")
    return str(name) if name else None


def object_label(obj: Mapping[str, Any], *, namespace: bool = True) -> str:
    """``Kind ns/name`` (the generateName for unnamed objects); without the
    namespace when the finding points into the source file."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = source_name(obj) or "(unnamed)"
    ns = meta.get("namespace") if namespace else None
    return f"{obj.get('kind')} {str(ns) + '/' if ns else ''}{name}"


@dataclass(frozen=True, slots=True)
class Located:
    """Where a built object's findings go."""

    file: str
    doc: Document | None
    anchor: tuple[str | int, ...] | None = None  # every line points here

    @property
    def generated(self) -> bool:
        """Made by a kustomize generator (the finding points at its entry)."""
        return self.anchor is not None

    def line(self, path: Sequence[str | int], key: str | None = None) -> int | None:
        if self.doc is None:
            return None
        if self.anchor is not None:
            return self.doc.line_of(list(self.anchor))
        return self.doc.line_of(path, key)

    def label(self, obj: Mapping[str, Any]) -> str:
        """The object as its source names it (same across overlays)."""
        if self.doc is not None and self.anchor is None:
            data = self.doc.data
            return f"{data.get('kind')} {source_name(data) or '(unnamed)'}"
        return object_label(obj, namespace=self.doc is None)


def pick_document(docs: Iterable[Document], obj: Mapping[str, Any]) -> Document | None:
    """The document of one file that ``obj`` was built from."""
    kind = obj.get("kind")
    candidates = [d for d in docs if d.data.get("kind") == kind]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = str(meta.get("name") or meta.get("generateName") or "")
    namespace = meta.get("namespace")

    def ns_of(doc: Document) -> Any:
        doc_meta = doc.data.get("metadata")
        return doc_meta.get("namespace") if isinstance(doc_meta, Mapping) else None

    exact = [d for d in candidates if source_name(d.data) == name]
    if exact:
        return next((d for d in exact if ns_of(d) == namespace), exact[0])
    contained = [d for d in candidates if (source_name(d.data) or "\0") in name]
    if contained:
        return max(contained, key=lambda d: len(source_name(d.data) or ""))
    return None


class Locator:
    """Finds sources by path (reading files the walk skipped, inside the repo
    only) and objects by kind and name."""

    def __init__(
        self,
        repo: Path,
        sources: Iterable[SourceFile],
        index: Index,
        load: Callable[[Path], SourceFile | None],
    ) -> None:
        self.repo = repo
        self.by_path = {s.path: s for s in sources}
        self.index = index
        self.load = load

    def source(self, path: Path) -> SourceFile | None:
        if path in self.by_path:
            return self.by_path[path]
        if not path.is_relative_to(self.repo) or not path.is_file():
            return None
        loaded = self.load(path)
        if loaded is not None:
            self.by_path[path] = loaded
        return loaded

    def locate(
        self,
        obj: Mapping[str, Any],
        origin: Origin | None,
        base: str,
        scope: Sequence[Path],
        patches: frozenset[Path],
    ) -> Located | None:
        if origin is not None and origin.path is not None:
            source = self.source(_under(base, origin.path))
            if source is not None:
                doc = pick_document(source.objects(), obj)
                if doc is not None:
                    return Located(source.rel, doc)
        if origin is not None and origin.configured_in is not None:
            source = self.source(_under(base, origin.configured_in))
            if source is not None and source.documents:
                return Located(
                    source.rel,
                    source.documents[0],
                    _generator_entry(source.documents[0], origin, obj),
                )
        found = locate_by_name(obj, self.index, scope, patches)
        return Located(found[0].rel, found[1]) if found is not None else None


def _under(base: str, rel: str) -> Path:
    """``rel`` (with ``..``) joined to ``base``, normalised without the disk."""
    return Path(os.path.normpath(Path(base) / rel))


def _generator_entry(
    doc: Document, origin: Origin, obj: Mapping[str, Any]
) -> tuple[str | int, ...]:
    field_name = _GENERATOR_FIELDS.get(origin.generator or "")
    if field_name is None or not isinstance(doc.data, Mapping):
        return ()
    name = str(source_name(obj) or "")
    entries = doc.data.get(field_name)
    best: tuple[str | int, ...] = (field_name,)
    best_len = -1
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        gen_name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(gen_name, str) and gen_name in name and len(gen_name) > best_len:
            best, best_len = (field_name, i), len(gen_name)
    return best


def locate_by_name(
    obj: Mapping[str, Any],
    index: Index,
    scope: Sequence[Path],
    patches: frozenset[Path] = frozenset(),
) -> tuple[SourceFile, Document] | None:
    """The source document a built object came from, by kind and name, restricted
    to the files the root can load, resources before patches."""
    name = source_name(obj)
    candidates = [
        (source, doc)
        for source, doc in index.get((str(obj.get("kind")), str(name)), [])
        if any(source.path == s or source.path.is_relative_to(s) for s in scope)
    ]
    candidates.sort(key=lambda c: c[0].path.resolve() in patches)
    return candidates[0] if candidates else None


def images_entry(
    members: Iterable[KustomizationRoot], image: Any
) -> tuple[str, int] | None:
    """The kustomization ``images:`` entry that set a container's image, if any
    (file, line): the tag to fix is there, not in the base manifest."""
    if not isinstance(image, str):
        return None
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: -(len(last) - last.index(":"))]
    for member in members:
        entries = member.data.get("images")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping) and repo in (
                entry.get("newName"),
                entry.get("name"),
            ):
                line = member.line_of(["images", index])
                return member.file_rel, line or 1
    return None


def patch_files(members: Iterable[KustomizationRoot]) -> frozenset[Path]:
    """Files the kustomizations use as patches (partial objects, never the source
    of a built object's fields)."""
    files: set[Path] = set()
    for member in members:
        entries: list[Any] = []
        for name in ("patches", "patchesStrategicMerge", "patchesJson6902"):
            value = member.data.get(name)
            if isinstance(value, list):
                entries.extend(value)
        for entry in entries:
            path = entry.get("path") if isinstance(entry, Mapping) else entry
            if isinstance(path, str) and "\n" not in path:
                files.add((member.dir / path).resolve())
    return frozenset(files)


def load_scope(members: Iterable[KustomizationRoot]) -> list[Path]:
    """Directories and files a root's kustomizations load."""
    scope: list[Path] = []
    for member in members:
        scope.append(member.dir)
        for _, entry in member.entries():
            target = member.dir / entry
            if target.is_file():
                scope.append(target.resolve())
    return scope
