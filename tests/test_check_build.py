"""services/check/build.py: kustomize's messages on one line, plain directories
assembled like Flux's generated kustomization."""

from __future__ import annotations

from pathlib import Path

from scaffold.services.check.build import assemble, error_line
from scaffold.services.check.roots import PlainRoot
from scaffold.services.check.sources import load_source

KLOG_BLOCK = """\
E1130 08:00:00.123456   12345 run.go:72] "command failed" err=<
\taccumulating resources: accumulation err='accumulating resources from 'x.yaml':
\topen /repo/app/x.yaml: no such file or directory'
 >
"""
KLOG_QUOTED = (
    'E1130 08:00:00.123456   12345 run.go:72] "command failed" '
    'err="accumulating resources: \\"x\\" not found"\n'
)


def test_klog_err_blocks_are_parsed() -> None:
    line = error_line(KLOG_BLOCK)
    assert line.startswith("accumulating resources: accumulation err=")
    assert line.endswith("no such file or directory'")
    assert "E1130" not in line and "run.go" not in line
    assert error_line(KLOG_QUOTED) == 'accumulating resources: "x" not found'


def test_plain_error_lines_and_warnings() -> None:
    stderr = "# Warning: 'bases' is deprecated.\nError: map[string]interface {}(nil)\n"
    assert error_line(stderr) == "Error: map[string]interface {}(nil)"
    assert error_line("") == "no output"


def test_assembling_finds_duplicates_and_unnamed_objects(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: n\n"
    (tmp_path / "a.yaml").write_text(cm)
    (tmp_path / "b.yaml").write_text(
        cm
        + "---\n"
        + cm.replace("namespace: n", "namespace: m")
        + "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: j-\n"
    )
    files = [load_source(tmp_path / n, n) for n in ("a.yaml", "b.yaml")]
    result = assemble(PlainRoot(dir=tmp_path, rel=".", files=files, flux=True))
    assert len(result.objects) == 4
    assert [(s.rel, m) for s, _, m in result.problems] == [
        ("b.yaml", "ConfigMap n/a is defined twice (also in a.yaml)"),
        ("b.yaml", "Job has no metadata.name"),
    ]
