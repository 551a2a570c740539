"""The defect corpus: every bad repo is caught by the right rule at the right
place, and its clean twin passes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from scaffold.services.check import RootStatus
from scaffold.services.check.rules import Severity, catalogue
from tests.check_support import CORPUS, LOCATOR, OUTPUT_SCHEMA, run_check

OUTPUT_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(OUTPUT_SCHEMA.read_text())
)
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expect.yaml").is_file())


def _expect(case: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CORPUS / case / "expect.yaml").read_text())
    return data


def _run(case: str, variant: str) -> Any:
    expect = _expect(case)
    if expect.get("actionlint") and LOCATOR.which("actionlint") is None:
        pytest.skip("actionlint is not installed")
    return run_check(
        CORPUS / case / variant,
        strict=expect.get("strict"),
        skip=tuple(expect.get("skip", ())),
    )


@pytest.mark.parametrize("case", CASES)
def test_bad_repo_is_caught(case: str) -> None:
    expect = _expect(case)
    report = _run(case, "bad")
    hits = [
        f
        for f in report.findings
        if f.rule == expect["rule"] and f.file == expect["file"]
    ]
    assert hits, f"{case}: no {expect['rule']} in {expect['file']}: {report.findings}"
    if "line" in expect:
        assert expect["line"] in [f.line for f in hits], hits
    rule = catalogue()[expect["rule"]]
    if rule.severity is Severity.ERROR or expect.get("strict"):
        assert report.exit_code == 1
    for finding in hits:
        assert finding.fix == rule.fix
        assert finding.message
    OUTPUT_VALIDATOR.validate(report.to_dict(tool_version="0.0.0"))


@pytest.mark.parametrize("case", CASES)
def test_clean_twin_passes(case: str) -> None:
    report = _run(case, "good")
    assert report.findings == (), report.findings
    assert report.exit_code == 0
    assert not report.roots_with(RootStatus.FAILED)


def test_every_rule_has_a_corpus_case() -> None:
    covered = {_expect(case)["rule"] for case in CASES}
    assert covered == set(catalogue())
