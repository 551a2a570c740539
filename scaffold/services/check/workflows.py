"""GitHub workflow rules: JSON schema, SHA-pinned ``uses:``, explicit permissions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from scaffold.services.check.sources import Document

Hit = tuple[str, int, str]  # rule, line, message

_PINNED = re.compile(r"@[0-9a-f]{40}$")
_DOCKER_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
MAX_SCHEMA_ERRORS = 5


@cache
def _workflow_validator() -> Any:
    """The GitHub workflow schema check-jsonschema vendors (schemastore's)."""
    import jsonschema

    text = (
        resources.files("check_jsonschema")
        .joinpath("builtin_schemas", "vendor", "github-workflows.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    return cls(schema)


def schema_hits(doc: Document) -> Iterator[Hit]:
    """Schema errors, most relevant first (at most MAX_SCHEMA_ERRORS)."""
    from jsonschema.exceptions import best_match, relevance

    errors = sorted(
        _workflow_validator().iter_errors(doc.data), key=relevance, reverse=True
    )
    for error in errors[:MAX_SCHEMA_ERRORS]:
        # best_match descends into the telling sub-error of a oneOf/anyOf
        best = best_match([error])
        path = list(best.absolute_path)
        key = _unexpected_key(best.message)
        where = ".".join(str(p) for p in path) or "(top level)"
        yield (
            "workflow-schema",
            doc.line_of(path, key),
            f"{where}: {_short(best.message)}",
        )


def _unexpected_key(message: str) -> str | None:
    match = re.search(r"\('([^']+)' (?:was|were) unexpected\)", message)
    return match.group(1) if match else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _uses(data: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    jobs = data.get("jobs")
    if not isinstance(jobs, Mapping):
        return
    for job_id, job in jobs.items():
        if not isinstance(job, Mapping):
            continue
        if isinstance(job.get("uses"), str):
            yield ["jobs", job_id, "uses"], job["uses"]
        steps = job.get("steps")
        if isinstance(steps, list):
            for index, step in enumerate(steps):
                if isinstance(step, Mapping) and isinstance(step.get("uses"), str):
                    yield ["jobs", job_id, "steps", index, "uses"], step["uses"]


def pin_hits(doc: Document) -> Iterator[Hit]:
    """Every ``uses:`` pinned to a full commit SHA (or a local/digest reference)."""
    if not isinstance(doc.data, Mapping):
        return
    for path, uses in _uses(doc.data):
        ref = uses.strip()
        if ref.startswith("./"):
            continue
        if ref.startswith("docker://"):
            if _DOCKER_PINNED.search(ref):
                continue
            reason = "is not pinned to a sha256 digest"
        elif _PINNED.search(ref):
            continue
        else:
            reason = "is not pinned to a full 40-character commit SHA"
        yield ("workflow-unpinned-action", doc.line_of(path), f"uses: {ref} {reason}")


def permission_hits(doc: Document) -> Iterator[Hit]:
    """Top-level ``permissions:``, or one on every job."""
    data = doc.data
    if not isinstance(data, Mapping) or "permissions" in data:
        return
    jobs = data.get("jobs")
    if not isinstance(jobs, Mapping):
        return
    for job_id, job in jobs.items():
        if isinstance(job, Mapping) and "permissions" not in job:
            yield (
                "workflow-permissions",
                doc.line_of(["jobs", job_id]),
                f"job {job_id} has no permissions and the workflow sets no "
                "top-level permissions",
            )
