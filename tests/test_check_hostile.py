"""Hostile repos for ``scaffold check``: what must not be read
is refused with a finding, nothing hangs, memory and time stay bounded."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.services.check import RootStatus
from scaffold.services.check.sources import MAX_FILE_BYTES
from tests.check_support import CORPUS, run_check
from tests.helpers import TOOL_PATH, slow_except

KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
#: generous CI bounds (the point is "not minutes, not gigabytes")
BOUND_SECONDS = 120
MEMORY_LIMIT = 1536 * 1024 * 1024


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def check_json(repo: Path, *args: str) -> tuple[int, dict[str, object], str]:
    """``scaffold check --format json`` in a subprocess with a memory limit."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaffold",
            "check",
            str(repo),
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": TOOL_PATH},
        timeout=BOUND_SECONDS,
        preexec_fn=_limited,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


def hostile_repo(repo: Path) -> Path:
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "ok.yaml").write_text(CM.format(name="ok"))
    os.mkfifo(repo / "app" / "fifo.yaml")
    (repo / "app" / "zero.yaml").symlink_to("/dev/zero")
    (repo / "app" / "passwd.yaml").symlink_to("/etc/passwd")
    with (repo / "app" / "huge.yaml").open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    (repo / "app" / "latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\n# \xe9\n"
    )
    (repo / os.fsdecode(b"bad-\xff-name.yaml")).write_text(CM.format(name="n"))
    bomb = CORPUS / "file-skipped" / "bad" / "app" / "lol.yaml"
    (repo / "app" / "lol.yaml").write_text(bomb.read_text())
    # a kustomization loading through a symlinked directory out of the repo
    (repo / "k").mkdir()
    (repo / "k" / "kustomization.yaml").write_text(
        KUST + "resources: [../etc/hostname]\n"
    )
    (repo / "etc").symlink_to("/etc")
    # and through a kustomization file that is a symlink out of the repo
    (repo / "k2" / "base").mkdir(parents=True)
    (repo / "k2" / "base" / "kustomization.yaml").symlink_to("/etc/hostname")
    (repo / "k2" / "kustomization.yaml").write_text(KUST + "resources: [base]\n")
    # and a cycle
    (repo / "c1").mkdir()
    (repo / "c2").mkdir()
    (repo / "c1" / "kustomization.yaml").write_text(KUST + "resources: [../c2]\n")
    (repo / "c2" / "kustomization.yaml").write_text(KUST + "resources: [../c1]\n")
    return repo


def test_hostile_files_are_refused_with_a_finding(tmp_path: Path) -> None:
    repo = hostile_repo(tmp_path / "repo")
    code, data, _ = check_json(repo)
    assert code == 1
    refused = {
        f["file"]: f["message"]
        for f in data["findings"]  # type: ignore[attr-defined]
        if f["rule"] == "file-skipped"
    }
    assert "not a regular file" in refused["app/fifo.yaml"]
    assert "outside the repository" in refused["app/zero.yaml"]
    assert "outside the repository" in refused["app/passwd.yaml"]
    assert "larger than 64 MiB" in refused["app/huge.yaml"]
    assert "not valid UTF-8" in refused["app/latin1.yaml"]
    assert "aliases expand" in refused["app/lol.yaml"]
    assert any("not valid UTF-8" in m for f, m in refused.items() if "bad-" in f)
    rules = {(f["rule"], f["file"]) for f in data["findings"]}  # type: ignore[attr-defined]
    assert ("kustomize-outside-repo", "k/kustomization.yaml") in rules
    assert ("kustomize-outside-repo", "k2/kustomization.yaml") in rules
    assert ("kustomize-build", "c1/kustomization.yaml") in rules
    roots = {r["path"]: r["status"] for r in data["roots"]}  # type: ignore[attr-defined]
    assert roots["k"] == roots["k2"] == roots["c1"] == roots["c2"] == "failed"
    assert roots["app"] == "built"
    assert "root:" not in json.dumps(data)  # no /etc/passwd content echoed


def test_the_text_report_survives_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    repo = hostile_repo(tmp_path / "repo")
    proc = subprocess.run(
        [sys.executable, "-m", "scaffold", "check", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": TOOL_PATH},
        timeout=BOUND_SECONDS,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "bad-\ufffd-name.yaml" in proc.stdout


def test_a_config_file_that_is_not_utf8_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / ".scaffold.yaml").write_bytes(b"check:\n  skip: [\xff]\n")
    result = CliRunner().invoke(app, ["check", str(tmp_path)], env={"PATH": TOOL_PATH})
    assert result.exit_code == 2
    assert ".scaffold.yaml: not valid UTF-8" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_large_plain_file_is_linear(tmp_path: Path) -> None:
    """105k objects in 50 MB took 349 s (kustomize's accumulation is quadratic);
    plain directories are assembled in Python. 20k objects, bounded time and
    memory, every object checked."""
    count = 20_000
    (tmp_path / "big").mkdir()
    text = "".join(
        "---\n" + CM.format(name=f"cm-{i}").replace("a: b", f"a: {'x' * 200}")
        for i in range(count)
    )
    (tmp_path / "big" / "all.yaml").write_text(text)
    code, data, err = check_json(tmp_path)
    assert code == 0, err
    assert data["summary"]["objects"] == count  # type: ignore[index]


def test_a_hanging_build_is_a_finding(tmp_path: Path) -> None:
    from scaffold.adapters.kustomize import Kustomize
    from scaffold.adapters.schemas import SchemaRegistry
    from scaffold.services.check import CheckOptions, check_repo, resolve_settings

    slow = tmp_path / "bin" / "kustomize"
    slow.parent.mkdir()
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text(KUST + "resources: [cm.yaml]\n")
    (repo / "app" / "cm.yaml").write_text(CM.format(name="x"))
    settings = resolve_settings(repo, CheckOptions())
    report = check_repo(
        settings=settings,
        kustomize=Kustomize([str(slow), "build"], timeout=0.5),
        schemas=SchemaRegistry(kubernetes_version="1.33", locations=()),
    )
    build = [f for f in report.findings if f.rule == "kustomize-build"]
    assert build and "timed out after 0.5 s" in build[0].message
    assert report.roots_with(RootStatus.FAILED)[0].path == "app"
    assert report.objects == 1  # its files were checked one by one


@pytest.mark.parametrize("variant", slow_except(["bad", "good"], inner={"bad"}))
def test_two_runs_give_identical_json(variant: str, tmp_path: Path) -> None:
    repo = (
        hostile_repo(tmp_path / "repo")
        if variant == "bad"
        else CORPUS / "name-prefix-overlays" / "bad"
    )
    first = check_json(repo)[1]
    second = check_json(repo)[1]
    assert first == second
    assert "scaffold-check-" not in json.dumps(first)  # no temp dir leaks


def test_one_finding_per_base_defect_naming_every_root() -> None:
    report = run_check(CORPUS / "name-prefix-overlays" / "bad", actionlint=False)
    (finding,) = report.findings
    assert (finding.file, finding.line) == ("base/deployment.yaml", 16)
    assert finding.roots == ("envs/dev", "envs/prod")
    assert finding.message.startswith("Deployment web: ")


def test_unnamed_objects_are_named_by_their_generate_name() -> None:
    report = run_check(CORPUS / "generate-name-hooks" / "bad", actionlint=False)
    (finding,) = report.findings
    assert finding.message.startswith("Job seed-: container seed-run")
