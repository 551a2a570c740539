"""Reading the repo's YAML: documents with their source nodes (for line numbers)."""

from __future__ import annotations

import os
import re
import stat
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
#: Files larger than this are not read (a finding says so).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: YAML nodes one document may expand to through aliases (billion laughs).
MAX_EXPANDED_NODES = 2_000_000
#: apiVersion prefixes of local tool configs that look like objects but are never
#: applied to a cluster (skaffold, kind, k3d, ctlptl).
TOOL_CONFIG_APIS = ("skaffold/", "kind.x-k8s.io/", "k3d.io/", "ctlptl.dev/")
_MANIFEST_TEXT = re.compile(r"^apiVersion:[ \t]*\S", re.MULTILINE)
_KIND_TEXT = re.compile(r"^kind:[ \t]*\S", re.MULTILINE)

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


#: Where a composed YAML node starts, without the node: ``[line, children]`` with
#: children ``{key: (key line, LineTree)}`` for a mapping, ``[LineTree, ...]`` for a
#: sequence, None for a scalar. Nodes and their marks cost ~1 KB each; a 100k-object
#: file kept as nodes needed gigabytes.
LineTree = list[Any]


def line_tree(node: yaml.Node, memo: dict[int, LineTree] | None = None) -> LineTree:
    """The :data:`LineTree` of ``node`` (shared through aliases, built once)."""
    memo = {} if memo is None else memo
    known = memo.get(id(node))
    if known is not None:
        return known
    tree: LineTree = [node.start_mark.line + 1, None]
    memo[id(node)] = tree
    if isinstance(node, yaml.MappingNode):
        children: dict[str, tuple[int, LineTree]] = {}
        for key_node, value_node in node.value:
            # the first of duplicate keys, as the node walk found it
            children.setdefault(
                str(key_node.value),
                (key_node.start_mark.line + 1, line_tree(value_node, memo)),
            )
        tree[1] = children
    elif isinstance(node, yaml.SequenceNode):
        tree[1] = [line_tree(child, memo) for child in node.value]
    return tree


@dataclass(slots=True)
class Document:
    """One YAML document: its data and where its nodes start (line numbers)."""

    data: Any
    lines: LineTree | None

    @property
    def line(self) -> int:
        return self.lines[0] if self.lines is not None else 1

    def line_of(self, path: Sequence[str | int], key: str | None = None) -> int:
        """The 1-based line of ``path`` (deepest part that exists); ``key`` names a
        child key to point at (e.g. the unexpected property)."""
        tree = self.lines
        if tree is None:
            return 1
        line: int = tree[0]
        parts: list[str | int] = [*path, key] if key is not None else list(path)
        for part in parts:
            children = tree[1]
            child: LineTree | None = None
            if isinstance(children, dict):
                found = children.get(str(part))
                if found is not None:
                    line, child = found
            elif (
                isinstance(children, list)
                and isinstance(part, int)
                and 0 <= part < len(children)
            ):
                child = children[part]
                line = child[0]
            if child is None:
                break
            tree = child
        return line


@dataclass(slots=True)
class SourceFile:
    """A YAML file of the repo; ``error`` is set when it does not parse."""

    path: Path
    rel: str
    documents: list[Document] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    text: str = ""

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
        """Documents that look like Kubernetes objects (apiVersion + kind), tool
        configs (skaffold, kind, k3d) excluded."""
        for doc in self.documents:
            if (
                isinstance(doc.data, dict)
                and isinstance(doc.data.get("apiVersion"), str)
                and isinstance(doc.data.get("kind"), str)
                and not doc.data["apiVersion"].startswith(TOOL_CONFIG_APIS)
            ):
                yield doc

    @property
    def looks_like_manifest(self) -> bool:
        """For a file that does not parse: top-level apiVersion and kind, no Go or
        Jinja template markers (a broken manifest, not a template or a tool config)."""
        text = self.text
        return (
            bool(_MANIFEST_TEXT.search(text) and _KIND_TEXT.search(text))
            and "{{" not in text
            and "{%" not in text
            and ".template." not in self.path.name
        )

    @property
    def is_manifest(self) -> bool:
        """A Kubernetes manifest file (not a kustomization, not under .github)."""
        if self.is_kustomization or self.in_github or self.error:
            return False
        return any(True for _ in self.objects())


class AliasBombError(yaml.YAMLError):
    """A document expands to more nodes than MAX_EXPANDED_NODES."""


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """Nodes ``node`` stands for once every alias is expanded (shared nodes are
    counted each time they are reached; each node is visited once)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = limit + 1  # a cycle through an alias counts as unbounded
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, limit)
            if total > limit:
                break
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo, limit)
            total += _expanded_size(value, memo, limit)
            if total > limit:
                break
    memo[id(node)] = total
    return total


def parse_yaml(
    text: str, loader: type[yaml.SafeLoader], *, max_nodes: int = MAX_EXPANDED_NODES
) -> list[Document]:
    """All documents of ``text``; raises yaml.YAMLError (AliasBombError when a
    document's aliases expand past ``max_nodes``)."""
    docs: list[Document] = []
    check_aliases = "&" in text
    instance = loader(text)
    try:
        while instance.check_node():
            node = instance.get_node()
            if node is None:
                continue
            if check_aliases:
                try:
                    size = _expanded_size(node, {}, max_nodes)
                except RecursionError:
                    size = max_nodes + 1
                if size > max_nodes:
                    raise AliasBombError(
                        f"YAML aliases expand to more than {max_nodes} nodes "
                        f"(document at line {node.start_mark.line + 1})"
                    )
            data = instance.construct_document(node)
            if data is not None:
                docs.append(Document(data, line_tree(node)))
    finally:
        instance.dispose()
    return docs


class RedefiningManifestLoader(yaml.SafeLoader):
    """ManifestLoader that accepts a redefined anchor (YAML allows it: the later
    one wins for the aliases after it; PyYAML refuses). Pure Python, so used only
    for files with a duplicate anchor."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor  # type: ignore[no-untyped-call]
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


RedefiningManifestLoader.yaml_implicit_resolvers = (
    ManifestLoader.yaml_implicit_resolvers
)
RedefiningManifestLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A regular file's text; raises OSError/ValueError naming what is wrong (not a
    regular file, too large, not UTF-8). Opens without following FIFOs' blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"larger than {limit // (1024 * 1024)} MiB")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None


class UnsafeFileError(Exception):
    """A file that is not read (not regular, too large, an alias bomb)."""


def load_source(path: Path, rel: str) -> SourceFile:
    """Parse one file, recording a syntax error instead of raising; raises
    UnsafeFileError for files that must not be read (see read_limited)."""
    source = SourceFile(path=path, rel=rel)
    try:
        source.text = text = read_limited(path.resolve())
    except ValueError as exc:
        raise UnsafeFileError(str(exc)) from None
    except OSError as exc:
        raise UnsafeFileError(f"cannot read ({exc.strerror or exc})") from None
    loader = WorkflowLoader if source.is_workflow else ManifestLoader
    try:
        try:
            source.documents = parse_yaml(text, loader)
        except yaml.composer.ComposerError as exc:
            if "duplicate anchor" not in f"{exc.context} {exc.problem}" or (
                source.is_workflow
            ):
                raise
            source.documents = parse_yaml(text, RedefiningManifestLoader)
    except AliasBombError as exc:
        raise UnsafeFileError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        source.error_line = mark.line + 1 if mark is not None else None
        context = str(exc.context or "")
        if context and exc.context_mark is not None and exc.context_mark != mark:
            context += f" (line {exc.context_mark.line + 1})"
        source.error = " ".join(
            part for part in (context, str(exc.problem or "")) if part
        ) or " ".join(str(exc).split())
    except yaml.YAMLError as exc:
        source.error = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
    except RecursionError:
        source.error = "YAML nested too deeply"
    return source


@dataclass(slots=True)
class Scan:
    """What the walk found: YAML files to read, files refused (repo-relative path,
    why), and Helm chart directories (not rendered)."""

    files: list[Path] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)


def _printable(rel: str) -> str | None:
    """None when ``rel`` is valid UTF-8; else a printable form of it."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return None


def safe_target(path: Path, repo: Path) -> str | None:
    """Why ``path`` must not be read (a symlink out of ``repo``, not a regular
    file), or None."""
    try:
        target = path.resolve()
        info = target.stat()
    except (OSError, RuntimeError) as exc:
        return f"cannot read ({getattr(exc, 'strerror', None) or exc})"
    if not target.is_relative_to(repo):
        return "a symlink to outside the repository"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    return None


def scan_repo(root: Path, exclude: Sequence[str] = ()) -> Scan:
    """Every YAML file under ``root`` (sorted), skipping .git, dotfiles and
    dot-directories other than .github, Helm chart directories (Go templates are
    not YAML; recorded in ``charts``) and paths matching an ``exclude`` glob
    (relative, posix). Files that are not regular files inside the repo (FIFOs,
    devices, symlinks out) or whose names are not UTF-8 are refused, not read."""
    scan = Scan()
    for current, dirs, files in os.walk(root):
        here = Path(current)
        rel_dir = here.relative_to(root).as_posix()
        if "Chart.yaml" in files and here != root:
            dirs[:] = []
            scan.charts.append(rel_dir)
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
            if name.startswith(".") and not rel_dir.startswith(".github"):
                continue  # tool configs (.sops.yaml, .yamllint.yaml, answers files)
            rel = _join(rel_dir, name)
            if _excluded(rel, exclude):
                continue
            shown = _printable(rel)
            if shown is not None:
                scan.refused.append((shown, "the file name is not valid UTF-8"))
                continue
            why = safe_target(here / name, root)
            if why is not None:
                scan.refused.append((rel, why))
                continue
            scan.files.append(here / name)
    return scan


def walk_yaml_files(root: Path, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """The readable YAML files of :func:`scan_repo`."""
    yield from scan_repo(root, exclude).files


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir in ("", ".") else f"{rel_dir}/{name}"


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch(rel, pattern) or rel.startswith(pattern.rstrip("/") + "/")
        for pattern in patterns
    )
