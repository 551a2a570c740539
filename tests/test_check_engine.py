"""services/check/engine.py end to end on small repos: which files are candidate
manifests, what a run that checks nothing says."""

from __future__ import annotations

from pathlib import Path

from scaffold.cli.check import render_text
from tests.check_support import run_check


def test_broken_workflows_and_kustomizations_are_syntax_errors(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: [push\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text("resources: [\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.yaml").write_text("a: [\n")  # not a manifest
    report = run_check(tmp_path, actionlint=False)
    syntax = sorted(f.file for f in report.findings if f.rule == "yaml-syntax")
    assert syntax == [".github/workflows/ci.yml", "app/kustomization.yaml"]


def test_a_run_that_checked_nothing_says_so(tmp_path: Path) -> None:
    (tmp_path / "charts" / "web").mkdir(parents=True)
    (tmp_path / "charts" / "web" / "Chart.yaml").write_text("name: web\n")
    report = run_check(tmp_path, actionlint=False, strict=True)
    assert report.objects == 0
    assert report.exit_code == 1  # the helm-chart warning fails --strict
    text = render_text(report)
    assert "nothing was checked" in text
    assert "charts/web - Helm chart, not rendered" in text
