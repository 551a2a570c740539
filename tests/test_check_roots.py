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
    assert failures and "defined twice" in failures[0].message
    assert report.exit_code == 1


def test_findings_point_at_the_resource_not_at_a_patch(tmp_path: Path) -> None:
    corpus = Path(__file__).parent / "corpus" / "latest-tag" / "bad" / "app"
    base = tmp_path / "app" / "base"
    overlay = tmp_path / "app" / "a-overlay"  # sorts before base/ on purpose
    base.mkdir(parents=True)
    overlay.mkdir()
    (base / "deployment.yaml").write_text((corpus / "deployment.yaml").read_text())
    (base / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    (overlay / "kustomization.yaml").write_text(
        "resources: [../base]\npatches:\n  - path: aa-patch.yaml\n"
    )
    (overlay / "aa-patch.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "spec:\n  replicas: 2\n"
    )
    report = run_check(tmp_path, actionlint=False)
    [finding] = report.findings
    assert (finding.rule, finding.file, finding.line) == (
        "disallow-latest-tag",
        "app/base/deployment.yaml",
        16,
    )
    assert finding.root == "app/a-overlay"


def test_one_finding_per_source_line_across_overlays(tmp_path: Path) -> None:
    corpus = Path(__file__).parent / "corpus" / "latest-tag" / "bad" / "app"
    base = tmp_path / "base"
    base.mkdir()
    (base / "deployment.yaml").write_text((corpus / "deployment.yaml").read_text())
    (base / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    for env in ("dev", "staging", "prod"):
        overlay = tmp_path / "overlays" / env
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(
            f"namespace: web-{env}\nresources: [../../base]\n"
        )
    report = run_check(tmp_path, actionlint=False)
    assert [(f.rule, f.file, f.line) for f in report.findings] == [
        ("disallow-latest-tag", "base/deployment.yaml", 16)
    ]
    assert [r.path for r in report.roots_with(RootStatus.BUILT)] == [
        "overlays/dev",
        "overlays/prod",
        "overlays/staging",
    ]
    assert [r.reason for r in report.roots_with(RootStatus.INCLUDED)] == [
        "built via overlays/dev, overlays/prod, overlays/staging"
    ]
