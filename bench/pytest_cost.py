"""Where the test suite's time goes: CPU (the test process and the programs it ran)
and garbage-collector time per test, summed per file, printed after the run.

    .venv/bin/pytest -p bench.pytest_cost -m "not slow" -n 2 -q

Works with xdist: each worker measures its tests and sends the figures with the
test reports. A test that costs more than a second of CPU is a candidate for
``slow`` (README, "Quick start").
"""

from __future__ import annotations

import gc
import resource
import time
from collections import defaultdict
from collections.abc import Generator
from typing import Any

import pytest

_KEY = "cost"  # (CPU seconds, GC seconds) of one test phase, in user_properties
_SHOWN = 15
_gc = {"total": 0.0, "start": 0.0}
_mark = [(0.0, 0.0)]
_tests: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])


def _collector(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _gc["start"] = time.perf_counter()
    else:
        _gc["total"] += time.perf_counter() - _gc["start"]


gc.callbacks.append(_collector)


def _now() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for programs
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return cpu, _gc["total"]


def pytest_runtest_logstart() -> None:  # pluggy passes only the arguments named
    _mark[0] = _now()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport() -> Generator[None, Any, None]:
    report = (yield).get_result()
    now = _now()
    report.user_properties.append((_KEY, (now[0] - _mark[0][0], now[1] - _mark[0][1])))
    _mark[0] = now


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == _KEY:
            _tests[report.nodeid][0] += value[0]
            _tests[report.nodeid][1] += value[1]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _tests:
        return
    write = terminalreporter.write_line
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for nodeid, (cpu, collected) in _tests.items():
        files[nodeid.split("::")[0]][0] += cpu
        files[nodeid.split("::")[0]][1] += collected
    cpu = sum(c for c, _ in _tests.values())
    collected = sum(g for _, g in _tests.values())
    terminalreporter.section("cost: CPU seconds (process + programs it ran), GC")
    write(f"{len(_tests)} tests: {cpu:.1f} s CPU, {collected:.1f} s of it in GC")
    for title, rows in (("tests", _tests), ("files", files)):
        write(f"most expensive {title}:")
        ranked = sorted(rows.items(), key=lambda kv: -kv[1][0])[:_SHOWN]
        for name, (c, g) in ranked:
            write(f"  {c:6.2f} {g:5.2f}  {name}")
