"""``scaffold check``: validate a GitOps repo offline (text or JSON report)."""

from __future__ import annotations

import json
from enum import StrEnum
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scaffold import __version__
from scaffold.cli.app import app, handle_errors

if TYPE_CHECKING:
    from scaffold.services.check import CheckReport


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command()
def check(
    path: Annotated[
        Path,
        typer.Argument(
            help="Repository to check (default: current directory).", metavar="PATH"
        ),
    ] = Path(),
    *,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", metavar="text|json", help="Report format."),
    ] = OutputFormat.TEXT,
    schema_location: Annotated[
        list[Path] | None,
        typer.Option(
            "--schema-location",
            metavar="DIR",
            help="Directory of CRD JSON schemas laid out {group}/{kind}_{version}.json "
            "(repeatable).",
        ),
    ] = None,
    kubernetes_version: Annotated[
        str | None,
        typer.Option(
            "--kubernetes-version",
            metavar="X.Y",
            help="Kubernetes schema version X.Y (default 1.33).",
        ),
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Objects without a schema are errors and warnings fail the check.",
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", metavar="RULE", help="Rule id to skip (repeatable)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", min=1, metavar="N", help="Parallel builds (default: CPU count)."
        ),
    ] = None,
) -> None:
    """Build every kustomization, validate every object and apply the rules.

    Exit 0 when there are no errors (warnings are allowed unless --strict), 1 on
    findings that fail the check, 2 on usage or configuration errors.
    """
    # heavy imports (yaml, jsonschema, kubernetes-validate) only when checking
    from scaffold.adapters.actionlint import Actionlint
    from scaffold.adapters.kustomize import Kustomize, PathLocator
    from scaffold.adapters.schemas import SchemaRegistry
    from scaffold.services.check import CheckOptions, check_repo, resolve_settings

    with handle_errors():
        settings = resolve_settings(
            path,
            CheckOptions(
                schema_locations=tuple(schema_location or ()),
                kubernetes_version=kubernetes_version,
                strict=strict,
                skip=tuple(skip or ()),
                jobs=jobs,
            ),
        )
        locator = PathLocator()
        kustomize = Kustomize.locate(locator)
        schemas = SchemaRegistry(
            kubernetes_version=settings.kubernetes_version,
            locations=settings.schema_locations,
        )
        report = check_repo(
            settings=settings,
            kustomize=kustomize,
            schemas=schemas,
            actionlint=Actionlint.locate(locator),
        )
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(report.to_dict(tool_version=__version__), indent=2))
    else:
        typer.echo(render_text(report))
    raise typer.Exit(report.exit_code)


def _inside(file: str, root: str) -> bool:
    return root == "." or file == root or file.startswith(root.rstrip("/") + "/")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(report: CheckReport) -> str:
    """Findings grouped by file, the roots, and a summary line."""
    from scaffold.services.check import RootStatus

    lines: list[str] = []
    for file, group in groupby(report.findings, key=lambda f: f.file):
        lines.append(file)
        for finding in group:
            where = f"{file}:{finding.line}" if finding.line else file
            severity = finding.severity.value
            via = ""
            if finding.root and not _inside(finding.file, finding.root):
                via = f" (built from {finding.root})"
            lines.append(
                f"  {where}: {severity} [{finding.rule}] {finding.message}{via}"
            )
            lines.append(f"      fix: {finding.fix}")
        lines.append("")
    for status in (RootStatus.BUILT, RootStatus.FAILED, RootStatus.SKIPPED):
        roots = report.roots_with(status)
        if roots:
            lines.append(f"{status.value} ({len(roots)}):")
            for r in roots:
                if status is RootStatus.BUILT:
                    lines.append(f"  {r.path} ({_plural(r.objects, 'object')})")
                else:
                    lines.append(f"  {r.path} - {r.reason}")
    included = report.roots_with(RootStatus.INCLUDED) + report.roots_with(
        RootStatus.COMPONENT
    )
    if included:
        lines.append(
            f"built through other roots: {', '.join(r.path for r in included)}"
        )
    if report.objects == 0:
        lines.append(
            "nothing was checked: no Kubernetes object was found or built "
            "(see the skipped and failed roots above)"
        )
    verdict = "FAILED" if report.exit_code else "OK"
    lines.append(
        f"{verdict}: {_plural(report.errors, 'error')}, "
        f"{_plural(report.warnings, 'warning')}, {report.infos} info in "
        f"{_plural(len({f.file for f in report.findings}), 'file')}; "
        f"{len(report.roots_with(RootStatus.BUILT))} built, "
        f"{len(report.roots_with(RootStatus.SKIPPED))} skipped, "
        f"{len(report.roots_with(RootStatus.FAILED))} failed roots; "
        f"{_plural(report.objects, 'object')} checked "
        f"({report.not_validated} not validated) against Kubernetes "
        f"{report.kubernetes_version} with {report.kustomize}"
        + ("" if report.actionlint else "; actionlint not run")
        + (
            f"; skipped rules: {', '.join(report.skipped_rules)}"
            if report.skipped_rules
            else ""
        )
    )
    return "\n".join(lines)


__all__ = ["check", "render_text"]
