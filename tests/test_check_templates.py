"""Every generated variant passes ``scaffold check --strict`` with no other flag: the
CRD schemas scaffold ships cover every custom resource, so nothing is left "not
validated".

Variants come from the root copier.yml: every combination of the choice questions
that apply to a repo kind (e.g. infra x engine x secrets), so the test follows the
templates as they grow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from scaffold.services.check import RootStatus
from tests.check_support import run_check
from tests.helpers import AGE_RECIPIENT, PROJECT_ROOT, render

FIXED = {"repo_kind", "language"}
#: Answers for questions without a usable default (only sent if the question exists).
SAMPLES = {"sops_age_recipients": AGE_RECIPIENT}
CONFIG = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())


def _asked(question: dict[str, Any], answers: dict[str, Any]) -> bool:
    when = question.get("when", True)
    if not isinstance(when, str):
        return bool(when)
    rendered = jinja2.Environment().from_string(when).render(**answers)
    return rendered.strip().lower() not in ("false", "", "0", "none")


def _choices(question: dict[str, Any]) -> list[Any]:
    choices = question["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def variants(kind: str) -> list[dict[str, Any]]:
    """Every combination of the choice questions asked for ``kind``."""
    combos: list[dict[str, Any]] = [{"repo_kind": kind}]
    for key, question in CONFIG.items():
        if key.startswith("_") or key in FIXED or not isinstance(question, dict):
            continue
        if not question.get("choices"):
            continue
        grown = []
        for combo in combos:
            if _asked(question, combo):
                grown.extend({**combo, key: v} for v in _choices(question))
            else:
                grown.append(combo)
        combos = grown
    return combos


KINDS = _choices(CONFIG["repo_kind"])
CASES = [(kind, data) for kind in KINDS for data in variants(kind)]


def _id(case: tuple[str, dict[str, Any]]) -> str:
    _, data = case
    return "-".join(str(v) for v in data.values())


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_generated_repo_passes_check(
    case: tuple[str, dict[str, Any]],
    template_repo: Path,
    tmp_path: Path,
) -> None:
    _, extra = case
    dest = tmp_path / "repo"
    render(
        template_repo,
        dest,
        data={
            "name": "demo",
            "owner": "acme",
            **{k: v for k, v in SAMPLES.items() if k in CONFIG},
            **extra,
        },
    )
    # strict, as the generated CI runs it: Argo CD fleets skip only the offline
    # build of the remote Argo CD install (their lint job builds it)
    kind, engine = extra["repo_kind"], extra.get("gitops_engine")
    skip = ("kustomize-remote",) if (kind, engine) == ("infra", "argocd") else ()
    report = run_check(
        dest,
        strict=True,
        skip=skip,
    )
    failing = [f for f in report.findings if f.severity.value in ("error", "warning")]
    assert failing == [], "\n".join(
        f"{f.file}:{f.line} [{f.rule}] {f.message}" for f in failing
    )
    assert report.exit_code == 0
    assert not report.roots_with(RootStatus.FAILED)
