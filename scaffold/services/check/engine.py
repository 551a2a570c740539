"""``scaffold check``: build every root, validate every object, apply the rules."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import yaml

from scaffold.services.check import policies, workflows
from scaffold.services.check.report import CheckReport, Finding, RootResult, RootStatus
from scaffold.services.check.roots import (
    REFERENCE_FIELDS,
    KustomizationRoot,
    PlainRoot,
    closure,
    discover,
    is_remote,
)
from scaffold.services.check.rules import RuleId, Severity, catalogue
from scaffold.services.check.settings import CheckSettings
from scaffold.services.check.sources import (
    Document,
    ManifestLoader,
    SourceFile,
    load_source,
    parse_yaml,
    walk_yaml_files,
)

_DEPRECATED = re.compile(r"Warning: '([A-Za-z0-9]+)' is deprecated")
_UNEXPECTED = re.compile(r"\('([^']+)' (?:was|were) unexpected\)")
MAX_ERRORS_PER_OBJECT = 5


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


class Builder(Protocol):
    """The kustomize adapter, as the service uses it."""

    @property
    def display(self) -> str: ...

    def build(self, root: Path) -> BuildOutput: ...

    def build_files(self, files: Sequence[Path]) -> BuildOutput: ...

    def build_without_generators(
        self, repo: Path, root: Path, generators: Sequence[str]
    ) -> BuildOutput: ...


class Issue(Protocol):
    @property
    def path(self) -> tuple[str | int, ...]: ...

    @property
    def message(self) -> str: ...


class Hit(Protocol):
    """A schema found for an object type."""

    @property
    def source(self) -> str: ...

    def issues(self, instance: Any) -> Sequence[Issue]: ...


class Schemas(Protocol):
    """The schema registry adapter."""

    kubernetes_version: str

    def add_crd(self, crd: Mapping[str, Any]) -> list[str]: ...

    def lookup(self, api_version: str, kind: str) -> Hit | None: ...


class Linter(Protocol):
    """The actionlint adapter."""

    def lint(self, cwd: Path, files: Sequence[str]) -> Sequence[Any]: ...


@dataclass(slots=True)
class _Target:
    """Something to build: a kustomization root or a plain directory."""

    rel: str
    type: str
    scope: list[Path]
    run: Callable[[], BuildOutput]
    patches: frozenset[Path] = frozenset()
    kroot: KustomizationRoot | None = None
    closure: list[KustomizationRoot] = field(default_factory=list)
    plain: PlainRoot | None = None
    flux_targeted: bool = False


class _Collector:
    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self.rules = catalogue()
        self.findings: dict[tuple[str, str, int, str], Finding] = {}

    def enabled(self, rule: str) -> bool:
        return rule not in self.settings.skip

    def add(
        self,
        rule: str,
        file: str,
        line: int | None,
        message: str,
        *,
        root: str | None = None,
    ) -> None:
        if not self.enabled(rule):
            return
        spec = self.rules[RuleId(rule)]  # an id not in the catalogue fails here
        severity = spec.severity
        if self.settings.strict and rule == RuleId.SCHEMA_MISSING:
            severity = Severity.ERROR
        finding = Finding(
            rule=rule,
            severity=severity,
            file=file,
            line=line,
            message=_short(message),
            fix=spec.fix,
            root=root,
        )
        self.findings.setdefault(finding.key(), finding)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _object_label(obj: Mapping[str, Any], *, namespace: bool = True) -> str:
    """``Kind ns/name``; without the namespace when the finding points into the
    source file (overlays set namespaces; one finding per source line)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name", "?")
    ns = meta.get("namespace") if namespace else None
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{name}"


def check_repo(
    *,
    settings: CheckSettings,
    kustomize: Builder,
    schemas: Schemas,
    actionlint: Linter | None = None,
) -> CheckReport:
    """Check the repo at ``settings.repo``; returns the report (never prints)."""
    start = time.perf_counter()
    repo = settings.repo
    out = _Collector(settings)

    sources = [
        load_source(path, path.relative_to(repo).as_posix())
        for path in walk_yaml_files(repo, settings.exclude)
    ]
    index: dict[tuple[str, str], list[tuple[SourceFile, Document]]] = {}
    for source in sources:
        if source.error is not None:
            out.add("yaml-syntax", source.rel, source.error_line, source.error)
            continue
        if source.is_kustomization and source.documents:
            for rule, path, message in policies.secret_generator_checks(
                source.documents[0].data, source.path.parent
            ):
                out.add(rule, source.rel, source.documents[0].line_of(path), message)
        if source.is_kustomization or source.in_github:
            continue
        for doc in source.objects():
            data = doc.data
            name = (
                data.get("metadata", {}).get("name")
                if isinstance(data.get("metadata"), Mapping)
                else None
            )
            index.setdefault((data["kind"], str(name)), []).append((source, doc))
            for rule, path, message in policies.secret_checks(data):
                out.add(rule, source.rel, doc.line_of(path), message)
            if data["kind"] == "CustomResourceDefinition":
                schemas.add_crd(data)

    kroots, plain_roots = discover(repo, sources)
    by_dir = {r.dir: r for r in kroots}
    results: list[RootResult] = []
    targets: list[_Target] = []
    for kroot in kroots:
        if kroot.source.error is not None:
            results.append(
                _root(kroot.rel, RootStatus.FAILED, "kustomization does not parse")
            )
        elif kroot.component:
            results.append(
                _root(
                    kroot.rel, RootStatus.COMPONENT, "built through the roots using it"
                )
            )
        elif kroot.remote:
            why = "; ".join(kroot.remote)
            results.append(_root(kroot.rel, RootStatus.SKIPPED, why))
            out.add(
                "kustomize-remote",
                kroot.file_rel,
                _remote_line(kroot),
                f"root {kroot.rel} not built (offline): {why}",
                root=kroot.rel,
            )
        elif kroot.referenced_by:
            results.append(
                _root(
                    kroot.rel,
                    RootStatus.INCLUDED,
                    "built via " + ", ".join(kroot.referenced_by),
                )
            )
        else:
            members = closure(kroot, by_dir)
            skipped = kroot.ksops_generators()
            for generator in skipped:
                out.add(
                    RuleId.KUSTOMIZE_GENERATOR_SKIPPED,
                    kroot.file_rel,
                    _entry_line(kroot, "generators", generator),
                    f"KSOPS generator {generator} not run (CI holds no decryption "
                    f"key); the rest of {kroot.rel} is built",
                    root=kroot.rel,
                )
            run: Callable[[], BuildOutput] = (
                partial(kustomize.build_without_generators, repo, kroot.dir, skipped)
                if skipped
                else partial(kustomize.build, kroot.dir)
            )
            targets.append(
                _Target(
                    rel=kroot.rel,
                    type="kustomization",
                    scope=_scope(members),
                    patches=_patch_files(members),
                    run=run,
                    kroot=kroot,
                    closure=members,
                )
            )
    flux_paths = _flux_paths(index)
    scopes = policies.policy_scopes(
        doc.data for entries in index.values() for _, doc in entries
    )
    fleet_urls = policies.fleet_repo_urls(
        (doc.data for entries in index.values() for _, doc in entries),
        lambda path: (repo / path).exists(),
    )
    for plain in plain_roots:
        files = [f.path for f in plain.files]
        targets.append(
            _Target(
                rel=plain.rel,
                type="plain",
                scope=files,
                run=lambda fs=files: kustomize.build_files(fs),  # type: ignore[misc]
                plain=plain,
                flux_targeted=plain.rel in flux_paths,
            )
        )

    jobs = settings.jobs or os.cpu_count() or 1
    objects = 0
    not_validated = 0
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(targets)))) as pool:
        # results arrive in order; checking one overlaps the builds still running
        outputs = pool.map(lambda t: t.run(), targets)
        for target, output in zip(targets, outputs, strict=True):
            status, count, missing, reason = _process(
                target, output, index, schemas, out, fleet_urls, scopes
            )
            objects += count
            not_validated += missing
            results.append(
                RootResult(
                    path=target.rel,
                    type=target.type,
                    status=status,
                    reason=reason,
                    objects=count,
                    seconds=round(output.seconds, 3),
                )
            )
    _check_workflows(sources, repo, actionlint, out)

    findings = sorted(out.findings.values(), key=Finding.sort_key)
    return CheckReport(
        path=str(repo),
        kubernetes_version=schemas.kubernetes_version,
        strict=settings.strict,
        kustomize=kustomize.display,
        actionlint=actionlint is not None and out.enabled("workflow-actionlint"),
        skipped_rules=tuple(sorted(settings.skip)),
        roots=tuple(sorted(results, key=lambda r: r.path)),
        findings=tuple(findings),
        files=len(sources),
        objects=objects,
        not_validated=not_validated,
        seconds=round(time.perf_counter() - start, 3),
    )


def _root(rel: str, status: RootStatus, reason: str) -> RootResult:
    return RootResult(path=rel, type="kustomization", status=status, reason=reason)


def _entry_line(kroot: KustomizationRoot, field_name: str, entry: str) -> int | None:
    """Line of ``entry`` in the list ``field_name`` of the kustomization."""
    doc = kroot.source.documents[0] if kroot.source.documents else None
    values = kroot.data.get(field_name)
    if doc is None or not isinstance(values, list) or entry not in values:
        return None
    return doc.line_of([field_name, values.index(entry)])


def _remote_line(kroot: KustomizationRoot) -> int | None:
    doc = kroot.source.documents[0] if kroot.source.documents else None
    if doc is None:
        return None
    for field_name in REFERENCE_FIELDS:
        values = kroot.data.get(field_name)
        if isinstance(values, list):
            for i, value in enumerate(values):
                if isinstance(value, str) and is_remote(value, kroot.dir):
                    return doc.line_of([field_name, i])
    for field_name in ("helmCharts", "helmChartInflationGenerator"):
        if kroot.data.get(field_name):
            return doc.line_of([field_name])
    return doc.line


def _images_entry(
    target: _Target, obj: Mapping[str, Any], path: Sequence[str | int]
) -> tuple[str, int] | None:
    """The kustomization ``images:`` entry that set a container's image, if any
    (file, line): the tag to fix is there, not in the base manifest."""
    image = policies.value_at(obj, path)
    if not isinstance(image, str):
        return None
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: -(len(last) - last.index(":"))]
    for member in target.closure:
        entries = member.data.get("images")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping) and repo in (
                entry.get("newName"),
                entry.get("name"),
            ):
                doc = member.source.documents[0]
                return member.file_rel, doc.line_of(["images", index])
    return None


def _patch_files(members: Iterable[KustomizationRoot]) -> frozenset[Path]:
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


def _scope(members: Iterable[KustomizationRoot]) -> list[Path]:
    scope: list[Path] = []
    for member in members:
        scope.append(member.dir)
        for _, entry in member.entries():
            target = member.dir / entry
            if target.is_file():
                scope.append(target.resolve())
    return scope


def _process(
    target: _Target,
    output: BuildOutput,
    index: Mapping[tuple[str, str], list[tuple[SourceFile, Document]]],
    schemas: Schemas,
    out: _Collector,
    fleet_urls: set[str],
    scopes: Mapping[str, policies.PolicyScope],
) -> tuple[RootStatus, int, int, str | None]:
    root_file = target.kroot.file_rel if target.kroot else target.rel
    _deprecations(target, output.stderr, out)
    reason: str | None = None
    if output.returncode != 0 and target.plain is not None and not target.flux_targeted:
        # Not a Flux path: the files are applied one by one (kubectl apply -f, an
        # Argo CD directory source, one root Application per cluster), so
        # duplicates across files are fine; check each file's objects.
        docs = [doc for f in target.plain.files for doc in f.objects()]
        reason = "checked file by file (no Flux Kustomization points here): " + (
            _error_line(output.stderr)
        )
    elif output.returncode != 0:
        _build_failure(target, output.stderr, out)
        return RootStatus.FAILED, 0, 0, "kustomize build failed"
    else:
        try:
            docs = parse_yaml(output.stdout, ManifestLoader)
        except yaml.YAMLError as exc:
            message = f"unreadable build output: {exc}"
            out.add("kustomize-build", root_file, None, message, root=target.rel)
            return RootStatus.FAILED, 0, 0, "unreadable build output"
    count = 0
    missing = 0
    for doc in docs:
        obj = doc.data
        if not isinstance(obj, Mapping) or not isinstance(obj.get("kind"), str):
            continue
        count += 1
        located = _locate(obj, index, target.scope, target.patches)
        if located is not None:
            file, src_doc = located[0].rel, located[1]
        else:
            file, src_doc = root_file, None

        def line(path: Sequence[str | int], key: str | None = None) -> int | None:
            return src_doc.line_of(path, key) if src_doc is not None else None  # noqa: B023

        label = _object_label(obj, namespace=src_doc is None)
        if not _validate(obj, label, line, file, target.rel, schemas, out):
            missing += 1
        for rule, path, message in policies.pod_checks(obj, scopes):
            override = (
                _images_entry(target, obj, path)
                if rule == RuleId.DISALLOW_LATEST_TAG
                else None
            )
            if override is not None:
                out.add(rule, *override, f"{label}: {message}", root=target.rel)
            else:
                out.add(rule, file, line(path), f"{label}: {message}", root=target.rel)
        for rule, path, message in policies.source_checks(
            obj, file, target.rel, fleet_urls=fleet_urls
        ):
            out.add(rule, file, line(path), message, root=target.rel)
    return RootStatus.BUILT, count, missing, reason


def _validate(
    obj: Mapping[str, Any],
    label: str,
    line: Callable[[Sequence[str | int], str | None], int | None],
    file: str,
    root: str,
    schemas: Schemas,
    out: _Collector,
) -> bool:
    """Schema-validate one object; False when no schema is known."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj["kind"])
    hit = schemas.lookup(api_version, kind)
    if hit is None:
        out.add(
            "schema-missing",
            file,
            line([], None),
            f"{label}: no schema for {api_version} {kind}; not validated",
            root=root,
        )
        return False
    if not out.enabled("schema-invalid"):
        return True
    instance = {k: v for k, v in obj.items() if k != "sops"}
    for issue in hit.issues(instance)[:MAX_ERRORS_PER_OBJECT]:
        path = list(issue.path)
        match = _UNEXPECTED.search(issue.message)
        where = ".".join(str(p) for p in path) or "(root)"
        out.add(
            "schema-invalid",
            file,
            line(path, match.group(1) if match else None),
            f"{label}: {where}: {issue.message} [{hit.source}]",
            root=root,
        )
    return True


def _locate(
    obj: Mapping[str, Any],
    index: Mapping[tuple[str, str], list[tuple[SourceFile, Document]]],
    scope: Sequence[Path],
    patches: frozenset[Path] = frozenset(),
) -> tuple[SourceFile, Document] | None:
    """The source document a built object came from, by kind and name, restricted
    to the files the root can load, resources before patches (name prefixes and
    suffixes defeat this; the caller falls back to the root's kustomization)."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    candidates = [
        (source, doc)
        for source, doc in index.get((str(obj.get("kind")), str(name)), [])
        if any(source.path == s or source.path.is_relative_to(s) for s in scope)
    ]
    candidates.sort(key=lambda c: c[0].path.resolve() in patches)
    return candidates[0] if candidates else None


def _deprecations(target: _Target, stderr: str, out: _Collector) -> None:
    fields = list(dict.fromkeys(_DEPRECATED.findall(stderr)))
    if not fields or target.kroot is None:
        return
    for field_name in fields:
        owners = [m for m in target.closure if field_name in m.data]
        if not owners:
            out.add(
                "kustomize-deprecated",
                target.kroot.file_rel,
                None,
                f"kustomize: '{field_name}' is deprecated",
                root=target.rel,
            )
        for owner in owners:
            doc = owner.source.documents[0]
            out.add(
                "kustomize-deprecated",
                owner.file_rel,
                doc.line_of([field_name]),
                f"'{field_name}' is deprecated",
                root=target.rel,
            )


def _error_line(stderr: str) -> str:
    """The last ``Error:``/``error:`` line of kustomize's stderr (or the last)."""
    lines = [
        ln.strip() for ln in stderr.splitlines() if ln.strip() and "Warning:" not in ln
    ]
    errors = [ln for ln in lines if ln.lower().startswith("error")] or lines[-1:]
    return _short(errors[-1] if errors else "no output", 240)


def _flux_paths(
    index: Mapping[tuple[str, str], list[tuple[SourceFile, Document]]],
) -> set[str]:
    """Repo-relative directories Flux Kustomizations in the repo point at."""
    paths: set[str] = set()
    for (kind, _), entries in index.items():
        if kind != "Kustomization":
            continue
        for _, doc in entries:
            api = str(doc.data.get("apiVersion", ""))
            spec = doc.data.get("spec")
            if api.startswith("kustomize.toolkit.fluxcd.io/") and isinstance(
                spec, Mapping
            ):
                path = str(spec.get("path") or ".").strip()
                path = path.removeprefix("./").strip("/") or "."
                paths.add(path)
    return paths


def _build_failure(target: _Target, stderr: str, out: _Collector) -> None:
    message = _error_line(stderr)
    if target.kroot is None:
        assert target.plain is not None
        out.add(
            "kustomize-build",
            target.plain.files[0].rel,
            None,
            f"building plain manifests in {target.rel} failed: {message}",
            root=target.rel,
        )
        return
    reported = False
    for member in target.closure:
        doc = member.source.documents[0] if member.source.documents else None
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
                        doc.line_of([field_name, i]) if doc else None,
                        f"{field_name} entry {value!r} does not exist",
                        root=target.rel,
                    )
    if not reported:
        out.add(
            "kustomize-build", target.kroot.file_rel, None, message, root=target.rel
        )


def _check_workflows(
    sources: Sequence[SourceFile],
    repo: Path,
    actionlint: Linter | None,
    out: _Collector,
) -> None:
    files = [s for s in sources if s.is_workflow and s.error is None]
    for source in files:
        for doc in source.documents[:1]:
            hits: list[tuple[str, int, str]] = []
            if out.enabled("workflow-schema"):
                hits.extend(workflows.schema_hits(doc))
            hits.extend(workflows.pin_hits(doc))
            hits.extend(workflows.permission_hits(doc))
            for rule, line, message in hits:
                out.add(rule, source.rel, line, message)
    if actionlint is not None and out.enabled("workflow-actionlint") and files:
        for msg in actionlint.lint(repo, [s.rel for s in files]):
            out.add(
                "workflow-actionlint",
                msg.file,
                msg.line or None,
                f"[{msg.kind}] {msg.message}",
            )
