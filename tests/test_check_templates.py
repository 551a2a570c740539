"""Every generated variant passes ``scaffold check`` (the issue's acceptance test).

Variants come from the root copier.yml: every combination of the choice questions
that apply to a repo kind (e.g. infra × engine × secrets), so the test follows the
templates as they grow.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from scaffold.services.check import RootStatus
from tests.check_support import run_check
from tests.conftest import TEMPLATE_TAG
from tests.helpers import PROJECT_ROOT

FIXED = {"repo_kind", "language"}


def variants(kind: str) -> list[dict[str, Any]]:
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    axes: list[tuple[str, list[Any]]] = []
    for key, question in config.items():
        if key.startswith("_") or key in FIXED or not isinstance(question, dict):
            continue
        choices = question.get("choices")
        when = str(question.get("when", ""))
        if not choices or (when and kind not in when):
            continue
        values = list(choices.values()) if isinstance(choices, dict) else list(choices)
        axes.append((key, values))
    combos = itertools.product(*(values for _, values in axes))
    return [dict(zip([k for k, _ in axes], combo, strict=True)) for combo in combos]


CASES = [(kind, data) for kind in ("app", "infra") for data in variants(kind)]


def _id(case: tuple[str, dict[str, Any]]) -> str:
    kind, data = case
    return "-".join([kind, *(str(v) for v in data.values())])


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_generated_repo_passes_check(
    case: tuple[str, dict[str, Any]],
    template_repo: Path,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    kind, extra = case
    dest = tmp_path / "repo"
    copier.run_copy(
        str(template_repo),
        dest,
        data={"repo_kind": kind, "name": "demo", "owner": "acme", **extra},
        vcs_ref=TEMPLATE_TAG,
        defaults=True,
        unsafe=False,
        quiet=True,
    )
    report = run_check(dest, schema_locations=(shared_dir / "schemas" / "crds",))
    failing = [f for f in report.findings if f.severity.value == "error"]
    assert failing == [], "\n".join(
        f"{f.file}:{f.line} [{f.rule}] {f.message}" for f in failing
    )
    assert report.exit_code == 0
    assert not report.roots_with(RootStatus.FAILED)
