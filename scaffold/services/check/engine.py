"""``scaffold check``: read the repo, find the roots, build them, check every
object and workflow; returns a :class:`CheckReport` (never prints)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import yaml

from scaffold.services.check import policies, workflows
from scaffold.services.check.build import (
    Builder,
    BuildOutput,
    Target,
    assemble,
    error_line,
    plain_reason,
    report_build_failure,
    report_deprecations,
    resource_files,
)
from scaffold.services.check.collect import Collector, rel_to
from scaffold.services.check.locate import (
    Located,
    Locator,
    load_scope,
    patch_files,
    pop_origin,
    source_name,
)
from scaffold.services.check.report import CheckReport, RootResult, RootStatus
from scaffold.services.check.roots import (
    KustomizationRoot,
    PlainRoot,
    closure,
    discover,
    references,
)
from scaffold.services.check.rules import RuleId
from scaffold.services.check.settings import CheckSettings
from scaffold.services.check.sources import (
    Document,
    ManifestLoader,
    SourceFile,
    UnsafeFileError,
    load_source,
    parse_yaml,
    safe_target,
    scan_repo,
)
from scaffold.services.check.substitute import (
    flux_kustomizations,
    flux_path,
    substitute,
    substitutions,
)
from scaffold.services.check.validate import Context, Schemas, check_object

HELM_CHART_REASON = "Helm chart, not rendered"


class Linter(Protocol):
    """The actionlint adapter."""

    def lint(self, cwd: Path, files: Sequence[str]) -> Sequence[Any]: ...


class _Reader:
    """Reads repo files once, safely; a refused file becomes a finding."""

    def __init__(self, repo: Path, out: Collector) -> None:
        self.repo = repo
        self.out = out

    def __call__(self, path: Path) -> SourceFile | None:
        rel = rel_to(self.repo, path)
        why = safe_target(path, self.repo)
        if why is not None:
            self.out.add("file-skipped", rel, None, f"not read: {why}")
            return None
        try:
            return load_source(path, rel)
        except UnsafeFileError as exc:
            self.out.add("file-skipped", rel, None, f"not read: {exc}")
            return None


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
    out = Collector(settings)
    read = _Reader(repo, out)

    scan = scan_repo(repo, settings.exclude)
    for rel, why in scan.refused:
        out.add("file-skipped", rel, None, f"not read: {why}")
    sources = [s for s in (read(path) for path in scan.files) if s is not None]
    index = _index(sources, schemas)
    all_objects = [doc.data for entries in index.values() for _, doc in entries]
    fluxes = flux_kustomizations(all_objects)
    kroots, plain_roots = discover(
        repo, sources, flux_paths=[flux_path(k) for k in fluxes], load=read
    )
    by_dir = {r.dir: r for r in kroots}
    locator = Locator(repo, sources, index, read)
    ctx = Context(
        schemas=schemas,
        out=out,
        fleet_urls=frozenset(
            policies.fleet_repo_urls(all_objects, lambda p: (repo / p).exists())
        ),
        scopes=policies.policy_scopes(all_objects),
    )
    _check_sources(sources, kroots, ctx)
    subs = substitutions(fluxes)

    for chart in scan.charts:
        out.add("helm-chart", f"{chart}/Chart.yaml", None, HELM_CHART_REASON)
    results = [
        RootResult(
            path=chart,
            type="helm-chart",
            status=RootStatus.SKIPPED,
            reason=HELM_CHART_REASON,
        )
        for chart in scan.charts
    ]
    targets = _plan(repo, kroots, by_dir, kustomize, subs, out, results)

    objects = 0
    not_validated = 0
    jobs = settings.jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(targets)))) as pool:
        # every build starts now; plain directories are checked meanwhile, and
        # each build's objects while the later builds still run
        outputs = pool.map(lambda t: t.run(), targets)
        for plain in plain_roots:
            result, missing = _check_plain(plain, ctx, subs.get(plain.rel))
            objects += result.objects
            not_validated += missing
            results.append(result)
        for target, output in zip(targets, outputs, strict=True):
            result, missing = _check_built(target, output, locator, ctx)
            objects += result.objects
            not_validated += missing
            results.append(result)
    _check_workflows(sources, repo, actionlint, out)

    return CheckReport(
        path=str(repo),
        kubernetes_version=schemas.kubernetes_version,
        strict=settings.strict,
        kustomize=kustomize.display,
        actionlint=actionlint is not None and out.enabled("workflow-actionlint"),
        skipped_rules=tuple(sorted(settings.skip)),
        roots=tuple(sorted(results, key=lambda r: (r.path, r.type))),
        findings=tuple(out.findings()),
        files=len(sources),
        objects=objects,
        not_validated=not_validated,
        seconds=round(time.perf_counter() - start, 3),
    )


def _index(
    sources: Sequence[SourceFile], schemas: Schemas
) -> dict[tuple[str, str], list[tuple[SourceFile, Document]]]:
    """(kind, name) -> the source documents of objects (kustomizations and
    .github excluded); CRDs found are registered with ``schemas``."""
    index: dict[tuple[str, str], list[tuple[SourceFile, Document]]] = {}
    for source in sources:
        if source.is_kustomization or source.in_github:
            continue
        for doc in source.objects():
            key = (doc.data["kind"], str(source_name(doc.data)))
            index.setdefault(key, []).append((source, doc))
            if doc.data["kind"] == "CustomResourceDefinition":
                schemas.add_crd(doc.data)
    return index


def _plan(
    repo: Path,
    kroots: Sequence[KustomizationRoot],
    by_dir: Mapping[Path, KustomizationRoot],
    kustomize: Builder,
    subs: Mapping[str, dict[str, str]],
    out: Collector,
    results: list[RootResult],
) -> list[Target]:
    """The roots to build; the others' results are appended to ``results``."""
    targets: list[Target] = []
    for kroot in kroots:
        result = _classify(kroot, out)
        if result is not None:
            if not kroot.hidden:
                results.append(result)
            continue
        members = closure(kroot, by_dir)
        skipped = kroot.ksops_generators()
        for generator in skipped:
            values = kroot.data.get("generators") or []
            out.add(
                RuleId.KUSTOMIZE_GENERATOR_SKIPPED,
                kroot.file_rel,
                kroot.line_of(["generators", list(values).index(generator)]),
                f"KSOPS generator {generator} not run (CI holds no decryption "
                f"key); the rest of {kroot.rel} is built",
                root=kroot.rel,
            )
        run: Callable[[], BuildOutput] = (
            partial(
                kustomize.build_without_generators, repo, kroot.source.path, skipped
            )
            if skipped
            else partial(kustomize.build, kroot.dir)
        )
        targets.append(
            Target(
                root=kroot,
                closure=members,
                scope=load_scope(members),
                patches=patch_files(members),
                run=run,
                substitute=subs.get(kroot.rel),
            )
        )
    return targets


def _check_sources(
    sources: Sequence[SourceFile], kroots: Sequence[KustomizationRoot], ctx: Context
) -> None:
    """Per-file rules: syntax errors of candidate manifests, secretGenerators and
    plaintext Secrets committed anywhere (built or not)."""
    out = ctx.out
    referenced: set[Path] = set()
    opaque: set[Path] = set()  # generator data: bytes to kustomize, not YAML
    for kroot in kroots:
        for where, entry, _ in references(kroot.data):
            target = (kroot.dir / entry).resolve()
            generated = str(where[0]).endswith("Generator")
            (opaque if generated else referenced).add(target)
        for rule, path, message in policies.secret_generator_checks(
            kroot.data, kroot.dir
        ):
            out.add(rule, kroot.file_rel, kroot.line_of(path), message)
    for source in sources:
        if source.error is not None:
            resolved = source.path.resolve()
            if (
                source.is_kustomization
                or source.is_workflow
                or resolved in referenced
                or (resolved not in opaque and source.looks_like_manifest)
            ):
                out.add("yaml-syntax", source.rel, source.error_line, source.error)
            continue
        if source.is_kustomization or source.in_github:
            continue
        for doc in source.objects():
            label = Located(source.rel, doc).label(doc.data)
            for rule, path, message in policies.secret_checks(doc.data):
                out.add(rule, source.rel, doc.line_of(path), f"{label}: {message}")


def _classify(kroot: KustomizationRoot, out: Collector) -> RootResult | None:
    """The result of a root that is not built by itself (None: build it)."""
    status, reason = _not_built(kroot, out) or (None, None)
    if status is None or reason is None:
        return None
    return RootResult(
        path=kroot.rel, type="kustomization", status=status, reason=reason
    )


def _not_built(
    kroot: KustomizationRoot, out: Collector
) -> tuple[RootStatus, str] | None:
    if kroot.source.error is not None:
        return RootStatus.FAILED, "kustomization does not parse"
    if kroot.component:
        return RootStatus.COMPONENT, "built through the roots using it"
    if kroot.cycle or kroot.unsafe or kroot.remote:
        return _report_unbuildable(kroot, out)
    if kroot.referenced_by:
        return RootStatus.INCLUDED, "built via " + ", ".join(kroot.referenced_by)
    if kroot.hidden:
        return RootStatus.INCLUDED, "read through a reference"
    return None


def _report_unbuildable(
    kroot: KustomizationRoot, out: Collector
) -> tuple[RootStatus, str]:
    """Findings for a cycle, loads outside the repo or remote references, each at
    the kustomization and line that makes them."""
    if kroot.cycle:
        loop = " -> ".join(kroot.cycle)
        out.add(
            "kustomize-build",
            kroot.file_rel,
            kroot.line_of(kroot.cycle_at),
            f"kustomizations include each other: {loop}",
            root=kroot.rel,
        )
        return RootStatus.FAILED, f"reference cycle {loop}"
    if kroot.unsafe:
        for problem in kroot.unsafe:
            out.add(
                "kustomize-outside-repo",
                problem.owner.file_rel,
                problem.owner.line_of(problem.path),
                f"{'.'.join(str(p) for p in problem.path)}: {problem.message}; "
                "not built",
                root=kroot.rel,
            )
        return RootStatus.FAILED, "loads files outside the repository"
    for problem in kroot.remote_at:
        out.add(
            "kustomize-remote",
            problem.owner.file_rel,
            problem.owner.line_of(problem.path),
            f"not built (offline, never fetched): {problem.message}",
            root=kroot.rel,
        )
    return RootStatus.SKIPPED, "; ".join(kroot.remote)


def _check_plain(
    plain: PlainRoot, ctx: Context, values: dict[str, str] | None
) -> tuple[RootResult, int]:
    assembled = assemble(plain)
    reason: str | None = None
    status = RootStatus.BUILT
    if assembled.problems and plain.flux:
        status = RootStatus.FAILED
        reason = "Flux cannot build this path"
        for source, doc, message in assembled.problems:
            ctx.out.add(
                "kustomize-build",
                source.rel,
                doc.line,
                f"building {plain.rel} as Flux does: {message}",
                root=plain.rel,
            )
    elif assembled.problems:
        # Not a Flux path: the files are applied one by one (kubectl apply -f, an
        # Argo CD directory source, one root Application per cluster)
        reason = plain_reason(assembled.problems)
    missing = 0
    for source, doc in assembled.objects:
        obj = doc.data if values is None else substitute(doc.data, values)
        if not check_object(obj, Located(source.rel, doc), plain.rel, ctx):
            missing += 1
    result = RootResult(
        path=plain.rel,
        type="plain",
        status=status,
        reason=reason,
        objects=len(assembled.objects),
    )
    return result, missing


def _check_built(
    target: Target, output: BuildOutput, locator: Locator, ctx: Context
) -> tuple[RootResult, int]:
    """Check one build's objects (or, when it failed, its files one by one);
    returns the root's result and how many objects had no schema."""
    out = ctx.out
    report_deprecations(target, output.stderr, out)
    status, reason = RootStatus.BUILT, None
    if output.returncode != 0:
        report_build_failure(target, output.stderr, out)
        status = RootStatus.FAILED
        reason = out.clean("kustomize build failed: " + error_line(output.stderr), 240)
        count, missing = _check_files(target, locator, ctx)
        if count:
            reason += "; its files were checked one by one"
    else:
        try:
            count, missing = _check_output(target, output, locator, ctx)
        except yaml.YAMLError as exc:
            message = f"unreadable build output: {str(exc)[:200]}"
            out.add(
                "kustomize-build", target.root.file_rel, None, message, root=target.rel
            )
            status, reason, count, missing = (
                RootStatus.FAILED,
                "unreadable build output",
                0,
                0,
            )
    result = RootResult(
        path=target.rel,
        type="kustomization",
        status=status,
        reason=reason,
        objects=count,
        seconds=round(output.seconds, 3),
    )
    return result, missing


def _check_files(target: Target, locator: Locator, ctx: Context) -> tuple[int, int]:
    """A root that did not build: the objects of its resource files, as written."""
    count = missing = 0
    for source in resource_files(target, locator.source):
        for doc in source.objects():
            count += 1
            if not check_object(doc.data, Located(source.rel, doc), target.rel, ctx):
                missing += 1
    return count, missing


def _check_output(
    target: Target, output: BuildOutput, locator: Locator, ctx: Context
) -> tuple[int, int]:
    """The built objects, each located through its origin; raises YAMLError."""
    count = missing = 0
    for doc in parse_yaml(output.stdout, ManifestLoader):
        obj = doc.data
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
            continue
        count += 1
        origin = pop_origin(obj)
        if target.substitute is not None:
            obj = substitute(obj, target.substitute)
        located = locator.locate(
            obj, origin, output.base, target.scope, target.patches
        ) or Located(target.root.file_rel, None)
        if not check_object(obj, located, target.rel, ctx, target.closure):
            missing += 1
    return count, missing


def _check_workflows(
    sources: Sequence[SourceFile],
    repo: Path,
    actionlint: Linter | None,
    out: Collector,
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


__all__ = ["check_repo"]
