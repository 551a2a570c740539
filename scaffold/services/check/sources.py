"""Reading the repo's YAML: documents with their source nodes (for line numbers)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml")
#: Directory names never descended into (besides dot-directories other than .github).
SKIP_DIRS = frozenset({"node_modules", "__pycache__"})

_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _strip_resolvers(
    loader: type[yaml.SafeLoader], tags: set[str]
) -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    return {
        first: [(tag, rx) for tag, rx in resolvers if tag not in tags]
        for first, resolvers in loader.yaml_implicit_resolvers.items()
    }


def _construct_str(_loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


class ManifestLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """YAML as Kubernetes reads it: timestamps stay strings, ``=`` is a string."""


ManifestLoader.yaml_implicit_resolvers = _strip_resolvers(
    _BASE_LOADER, {"tag:yaml.org,2002:timestamp"}
)
ManifestLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)


class WorkflowLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """YAML 1.2 booleans only (``on:`` stays a key), as GitHub reads workflows."""


WorkflowLoader.yaml_implicit_resolvers = _strip_resolvers(
    _BASE_LOADER, {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"}
)
WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
WorkflowLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)


@dataclass(slots=True)
class Document:
    """One YAML document: its data and its composed node."""

    data: Any
    node: yaml.Node | None

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1 if self.node is not None else 1

    def line_of(self, path: Sequence[str | int], key: str | None = None) -> int:
        """The 1-based line of ``path`` (deepest part that exists); ``key`` names a
        child key to point at (e.g. the unexpected property)."""
        node = self.node
        if node is None:
            return 1
        line = node.start_mark.line + 1
        parts: list[str | int] = [*path, key] if key is not None else list(path)
        for part in parts:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if str(key_node.value) == str(part):
                        line = key_node.start_mark.line + 1
                        child = value_node
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


@dataclass(slots=True)
class SourceFile:
    """A YAML file of the repo; ``error`` is set when it does not parse."""

    path: Path
    rel: str
    documents: list[Document] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None

    @property
    def is_kustomization(self) -> bool:
        return self.path.name in KUSTOMIZATION_FILES

    @property
    def is_workflow(self) -> bool:
        parts = self.rel.split("/")
        return len(parts) == 3 and parts[0] == ".github" and parts[1] == "workflows"

    @property
    def in_github(self) -> bool:
        return self.rel.startswith(".github/")

    def objects(self) -> Iterator[Document]:
        """Documents that look like Kubernetes objects (apiVersion + kind)."""
        for doc in self.documents:
            if (
                isinstance(doc.data, dict)
                and isinstance(doc.data.get("apiVersion"), str)
                and isinstance(doc.data.get("kind"), str)
            ):
                yield doc

    @property
    def is_manifest(self) -> bool:
        """A Kubernetes manifest file (not a kustomization, not under .github)."""
        if self.is_kustomization or self.in_github or self.error:
            return False
        return any(True for _ in self.objects())


def parse_yaml(text: str, loader: type[yaml.SafeLoader]) -> list[Document]:
    """All documents of ``text``; raises yaml.YAMLError."""
    docs: list[Document] = []
    instance = loader(text)
    try:
        while instance.check_node():
            node = instance.get_node()
            data = instance.construct_document(node) if node is not None else None
            if data is not None:
                docs.append(Document(data, node))
    finally:
        instance.dispose()
    return docs


def load_source(path: Path, rel: str) -> SourceFile:
    """Parse one file, recording a syntax error instead of raising."""
    source = SourceFile(path=path, rel=rel)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        source.error = f"cannot read: {exc}"
        return source
    loader = WorkflowLoader if source.is_workflow else ManifestLoader
    try:
        source.documents = parse_yaml(text, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        source.error_line = mark.line + 1 if mark is not None else None
        source.error = " ".join(
            str(part) for part in (exc.context, exc.problem) if part
        ) or str(exc)
    except yaml.YAMLError as exc:
        source.error = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
    return source


def walk_yaml_files(root: Path, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """Every YAML file under ``root`` (sorted), skipping .git, dot-directories other
    than .github, Helm chart directories (Go templates are not YAML) and paths
    matching an ``exclude`` glob (relative, posix)."""
    for current, dirs, files in os.walk(root):
        here = Path(current)
        rel_dir = here.relative_to(root).as_posix()
        if "Chart.yaml" in files and here != root:
            dirs[:] = []
            continue
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and (not d.startswith(".") or (d == ".github" and here == root))
            and not _excluded(_join(rel_dir, d), exclude)
        )
        for name in sorted(files):
            if not (name.endswith(YAML_SUFFIXES) or name == "Kustomization"):
                continue
            rel = _join(rel_dir, name)
            if not _excluded(rel, exclude):
                yield here / name


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir in ("", ".") else f"{rel_dir}/{name}"


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch(rel, pattern) or rel.startswith(pattern.rstrip("/") + "/")
        for pattern in patterns
    )
