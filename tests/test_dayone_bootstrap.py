"""``scripts/bootstrap.sh <env>`` bootstraps a cluster in the order that
works (namespace, key Secret, then flux bootstrap / the Argo CD install and root
Applications, then wait), idempotently, with ``--dry-run``. Linted with shellcheck and
run against stub ``kubectl``/``flux`` that record their calls."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyrage
import pytest

from tests.helpers import VENV_BIN, fleet_answers, render, slow_except

STUB = """#!/usr/bin/env bash
# records the call; `get secret NAME` succeeds only for STUB_EXISTING entries
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$STUB_LOG"
if [ "${1:-}" = "-n" ] && [ "${3:-}" = "get" ] && [ "${4:-}" = "secret" ]; then
  case " ${STUB_EXISTING:-} " in *" $2/$5 "*) exit 0 ;; *) exit 1 ;; esac
fi
case " $* " in *" -f - "*) cat > /dev/null ;; esac
exit 0
"""
SECRET_VALUES = ("status-token-value", "AGE-SECRET-KEY-")


def _fleet(template_repo: Path, dest: Path, engine: str, secrets: str) -> Path:
    return render(template_repo, dest, fleet_answers(engine, secrets))


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    for tool in ("kubectl", "flux"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    key = tmp_path / "dev.agekey"
    key.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STUB_LOG": str(tmp_path / "calls.log"),
        "SOPS_AGE_KEY_FILE": str(key),
        "GITHUB_TOKEN": "bootstrap-token-value",
        "GITHUB_STATUS_TOKEN": "status-token-value",
    }


def _run(
    fleet: Path, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = Path(env["STUB_LOG"])
    log.write_text("")
    proc = subprocess.run(
        [str(fleet / "scripts/bootstrap.sh"), *args],
        cwd=fleet, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    for value in (*SECRET_VALUES, env["GITHUB_TOKEN"]):
        assert value not in proc.stdout + proc.stderr + log.read_text()
    return proc, log.read_text().splitlines()


def _index(calls: list[str], needle: str) -> int:
    hits = [i for i, call in enumerate(calls) if needle in call]
    assert hits, f"{needle!r} not called: {calls}"
    return hits[0]


@pytest.mark.parametrize(
    ("engine", "secrets"),
    # the inner loop lints the fleets the tests below render
    slow_except(
        [
            (e, s)
            for e in ("flux", "argocd")
            for s in ("sops", "sealed-secrets", "none")
        ],
        inner={("flux", "sops"), ("argocd", "sops"), ("flux", "none")},
    ),
)
def test_shellcheck_passes(
    template_repo: Path, tmp_path: Path, engine: str, secrets: str
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", engine, secrets)
    script = fleet / "scripts/bootstrap.sh"
    assert os.access(script, os.X_OK)
    proc = subprocess.run(
        [str(VENV_BIN / "shellcheck"), "--severity=style", str(script)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_flux_order_key_before_bootstrap(
    template_repo: Path, tmp_path: Path, stubs: dict[str, str]
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "flux", "sops")
    proc, calls = _run(fleet, stubs, "dev")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    order = [
        _index(calls, "kubectl create namespace flux-system"),
        _index(calls, "kubectl -n flux-system create secret generic sops-age"),
        _index(calls, "flux bootstrap github"),
        _index(calls, "kubectl -n flux-system wait kustomization/flux-system"),
        _index(calls, "kubectl -n flux-system wait kustomization/infra-controllers"),
    ]
    assert order == sorted(order), calls
    assert f"--from-file=age.agekey={stubs['SOPS_AGE_KEY_FILE']}" in calls[order[1]]
    (bootstrap,) = [c for c in calls if c.startswith("flux ")]
    assert bootstrap.split()[3:] == [
        "--owner=acme", "--repository=fleet-infra", "--branch=main",
        "--path=clusters/dev", "--version=v2.9.4",
    ]  # fmt: skip
    assert _index(calls, "create secret generic grafana-admin") < order[2]
    assert _index(calls, "create secret generic github-token") < order[2]


def test_rerun_keeps_existing_secrets(
    template_repo: Path, tmp_path: Path, stubs: dict[str, str]
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "flux", "none")
    first, calls = _run(fleet, stubs, "staging")
    assert first.returncode == 0
    assert any("grafana-admin" in c and "create secret" in c for c in calls)
    again, calls = _run(
        fleet, {**stubs, "STUB_EXISTING": "monitoring/grafana-admin"}, "staging"
    )
    assert again.returncode == 0, again.stderr
    assert not any("grafana-admin" in c and "create secret" in c for c in calls)
    assert "kept: monitoring/grafana-admin exists" in again.stdout
    assert "sops-age" not in "\n".join(calls)  # no SOPS in this fleet


def test_argocd_order_key_install_then_root(
    template_repo: Path, tmp_path: Path, stubs: dict[str, str]
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "argocd", "sops")
    proc, calls = _run(fleet, stubs, "prod")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    order = [
        _index(calls, "kubectl create namespace argocd"),
        _index(calls, "kubectl -n argocd create secret generic sops-age"),
        _index(
            calls,
            f"apply --server-side --force-conflicts -k {fleet}/bootstrap/argo-cd",
        ),
        _index(calls, "rollout status deploy/argocd-repo-server"),
        _index(calls, f"-f {fleet}/bootstrap/root-prod.yaml"),
        _index(calls, "wait application/root"),
    ]
    assert order == sorted(order), calls
    assert f"--from-file=keys.txt={stubs['SOPS_AGE_KEY_FILE']}" in calls[order[1]]
    assert not any(c.startswith("flux ") for c in calls)


def test_dry_run_prints_the_plan_and_calls_nothing(
    template_repo: Path, tmp_path: Path, stubs: dict[str, str]
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "flux", "sops")
    proc, calls = _run(fleet, stubs, "--dry-run", "dev")
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    planned = [line[2:] for line in proc.stdout.splitlines() if line.startswith("+ ")]
    assert planned[0].startswith("kubectl create namespace flux-system")
    assert [p.split()[0] for p in planned].count("flux") == 1
    assert planned.index(next(p for p in planned if "sops-age" in p)) < planned.index(
        next(p for p in planned if p.startswith("flux bootstrap"))
    )


@pytest.mark.parametrize("args", [[], ["qa"], ["--bogus", "dev"]])
def test_bad_arguments_exit_2_before_touching_the_cluster(
    template_repo: Path, tmp_path: Path, stubs: dict[str, str], args: list[str]
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "flux", "none")
    proc, calls = _run(fleet, stubs, *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and calls == []
