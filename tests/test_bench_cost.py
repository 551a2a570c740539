"""``bench/pytest_cost.py``: per-test CPU and GC figures survive xdist and add up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT

BUSY = """
import gc, time

def test_busy():
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass

def test_idle():
    gc.collect()
"""


@pytest.mark.slow  # a whole pytest run per case; a measurement tool, not scaffold
@pytest.mark.parametrize("workers", ["0", "2"])
def test_costs_are_reported_per_test_and_per_file(tmp_path: Path, workers: str) -> None:
    (tmp_path / "test_sample.py").write_text(BUSY, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "bench.pytest_cost", "-q",
         "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path),
         "-n", workers, str(tmp_path / "test_sample.py")],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    (total,) = [line for line in lines if line.startswith("2 tests: ")]
    assert float(total.split()[2]) >= 0.3
    busy = next(line for line in lines if line.endswith("test_sample.py::test_busy"))
    assert 0.3 <= float(busy.split()[0]) < 5
    assert lines.index(busy) < next(
        i for i, line in enumerate(lines) if line.endswith("::test_idle")
    )
    assert any(line.endswith("  test_sample.py") for line in lines)
