"""Building roots: kustomize for kustomization roots, Flux's generated
kustomization (assembled here, linear in size) for plain directories, and what a
failed build says, on one line, at the right file."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from scaffold.services.check.collect import Collector
from scaffold.services.check.roots import (
    REFERENCE_FIELDS,
    KustomizationRoot,
    PlainRoot,
    is_remote,
)
from scaffold.services.check.sources import Document, SourceFile

_DEPRECATED = re.compile(r"Warning: '([A-Za-z0-9]+)' is deprecated")
#: klog's prefix: severity letter, date, time, pid, file:line]
_KLOG = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [^\]]+\] ?")


class BuildOutput(Protocol):
    """What one build returns (the kustomize adapter's BuildResult)."""

    @property
    def returncode(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def base(self) -> str: ...


class Builder(Protocol):
    """The kustomize adapter, as the service uses it."""

    @property
    def display(self) -> str: ...

    def build(self, root: Path) -> BuildOutput: ...

    def build_without_generators(
        self, repo: Path, kustomization: Path, generators: Sequence[str]
    ) -> BuildOutput: ...


@dataclass(slots=True)
class Target:
    """A kustomization root to build."""

    root: KustomizationRoot
    closure: list[KustomizationRoot]
    scope: list[Path]
    patches: frozenset[Path]
    run: Callable[[], BuildOutput]
    substitute: dict[str, str] | None = None

    @property
    def rel(self) -> str:
        return self.root.rel


def error_line(stderr: str) -> str:
    """kustomize's error on one line: klog's ``err=<`` block or ``err="..."``
    when present (kubectl), else the last ``Error:``/``error:`` line."""
    lines = [_KLOG.sub("", ln) for ln in stderr.splitlines()]
    for i, line in enumerate(lines):
        if "err=<" in line:
            block: list[str] = []
            for body in lines[i + 1 :]:
                if body.strip() == ">":
                    break
                block.append(body.strip())
            if block:
                return " ".join(block)
        match = re.search(r'err="((?:[^"\\]|\\.)*)"', line)
        if match:
            return match.group(1).replace('\\"', '"').replace("\\n", " ")
    kept = [ln.strip() for ln in lines if ln.strip() and "Warning:" not in ln]
    errors = [ln for ln in kept if ln.lower().startswith("error")] or kept[-1:]
    return errors[-1] if errors else "no output"


def report_deprecations(target: Target, stderr: str, out: Collector) -> None:
    fields = list(dict.fromkeys(_DEPRECATED.findall(stderr)))
    for field_name in fields:
        owners = [m for m in target.closure if field_name in m.data]
        if not owners:
            out.add(
                "kustomize-deprecated",
                target.root.file_rel,
                None,
                f"kustomize: '{field_name}' is deprecated",
                root=target.rel,
            )
        for owner in owners:
            out.add(
                "kustomize-deprecated",
                owner.file_rel,
                owner.line_of([field_name]),
                f"'{field_name}' is deprecated",
                root=target.rel,
            )


def report_build_failure(target: Target, stderr: str, out: Collector) -> None:
    """Missing references at their line in the kustomization naming them, else
    kustomize's own message at the root's kustomization."""
    reported = False
    for member in target.closure:
        for field_name in REFERENCE_FIELDS:
            values = member.data.get(field_name)
            if not isinstance(values, list):
                continue
            for i, value in enumerate(values):
                if (
                    isinstance(value, str)
                    and not is_remote(value, member.dir)
                    and not (member.dir / value).exists()
                ):
                    reported = True
                    out.add(
                        "kustomize-build",
                        member.file_rel,
                        member.line_of([field_name, i]),
                        f"{field_name} entry {value[:80]!r} does not exist",
                        root=target.rel,
                    )
    if not reported:
        out.add(
            "kustomize-build",
            target.root.file_rel,
            None,
            error_line(stderr),
            root=target.rel,
        )


def resource_files(
    target: Target, source: Callable[[Path], SourceFile | None]
) -> Iterator[SourceFile]:
    """The resource files of a root's kustomizations (to check one by one when
    the build fails)."""
    seen: set[Path] = set()
    for member in target.closure:
        for _, entry in member.entries():
            path = (member.dir / entry).resolve()
            if path in seen:
                continue
            seen.add(path)
            found = source(path) if path.is_file() else None
            if found is not None:
                yield found


@dataclass(slots=True)
class Assembled:
    """A plain directory as Flux's generated kustomization would build it."""

    objects: list[tuple[SourceFile, Document]] = field(default_factory=list)
    problems: list[tuple[SourceFile, Document, str]] = field(default_factory=list)


def assemble(plain: PlainRoot) -> Assembled:
    """Every object of the directory's files; with ``problems`` what kustomize
    would refuse (an object without a name, the same id twice). Linear in size."""
    result = Assembled()
    seen: dict[tuple[str, str, str, str], SourceFile] = {}
    for source in plain.files:
        for doc in source.objects():
            result.objects.append((source, doc))
            meta = doc.data.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            name = meta.get("name")
            kind = str(doc.data["kind"])
            if not name:
                result.problems.append((source, doc, f"{kind} has no metadata.name"))
                continue
            api = str(doc.data["apiVersion"])
            key = (
                api.split("/")[0] if "/" in api else "",
                kind,
                str(meta.get("namespace") or ""),
                str(name),
            )
            if key in seen:
                ns = f"{key[2]}/" if key[2] else ""
                result.problems.append(
                    (
                        source,
                        doc,
                        f"{kind} {ns}{name} is defined twice (also in {seen[key].rel})",
                    )
                )
            else:
                seen[key] = source
    return result


def plain_reason(problems: Sequence[tuple[SourceFile, Document, str]]) -> str:
    return "checked file by file (no Flux Kustomization points here): " + problems[0][2]
