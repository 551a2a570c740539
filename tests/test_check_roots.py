"""Plain manifest directories: one kustomization like Flux, or file by file."""

from __future__ import annotations

from pathlib import Path

from scaffold.services.check import RootStatus
from tests.check_support import run_check

APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/acme/fleet
    path: projects/{env}
    targetRevision: v1.0.0
  destination: {{server: 'https://kubernetes.default.svc', namespace: argocd}}
"""
FLUX_KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./bootstrap
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""


def _repo(tmp_path: Path, flux: bool) -> Path:
    repo = tmp_path / "repo"
    (repo / "bootstrap").mkdir(parents=True)
    for env in ("dev", "prod"):
        (repo / "bootstrap" / f"root-{env}.yaml").write_text(APP.format(env=env))
    if flux:
        (repo / "clusters").mkdir()
        (repo / "clusters" / "sync.yaml").write_text(FLUX_KS)
    return repo


def test_per_cluster_files_with_the_same_object_are_checked_one_by_one(
    tmp_path: Path,
) -> None:
    report = run_check(_repo(tmp_path, flux=False), actionlint=False)
    root = next(r for r in report.roots if r.path == "bootstrap")
    assert root.status is RootStatus.BUILT
    assert root.objects == 2
    assert root.reason is not None and root.reason.startswith("checked file by file")
    assert report.exit_code == 0


def test_a_flux_path_must_build_as_one_kustomization(tmp_path: Path) -> None:
    report = run_check(_repo(tmp_path, flux=True), actionlint=False)
    root = next(r for r in report.roots if r.path == "bootstrap")
    assert root.status is RootStatus.FAILED
    failures = [f for f in report.findings if f.rule == "kustomize-build"]
    assert failures and "already registered id" in failures[0].message
    assert report.exit_code == 1
