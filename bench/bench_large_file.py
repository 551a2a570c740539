"""Benchmark: ``scaffold check`` on one large YAML file vs parsing it with PyYAML.

Generates one plain directory holding a single ``all.yaml`` of N objects (default
105,000: ConfigMaps and policy-clean Deployments alternating, about 50 MB), then, in
the same run and one after the other, times as fresh processes:

* ``scaffold check --format json DIR`` (schema validation of every object, every
  object rule, line numbers), and
* the baseline a user would run instead: ``yaml.safe_load_all`` of the same file
  (``python -c``, PyYAML's default loader, no validation at all).

It prints wall time, CPU time (user + sys, the fair measure on a shared box) and peak
RSS of each, the ratios, and writes ``bench/results/bench_large_file.json``
(git-ignored). Exits 1 when the CPU ratio is above the goal (3.0). With
``--before DIR`` it also times a scaffold checkout at DIR (put first on PYTHONPATH).

    python bench/bench_large_file.py [--objects 105000] [--before /path/to/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 3.0

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{i}
  namespace: team-{team}
  labels: {{app.kubernetes.io/name: app-{i}, app.kubernetes.io/part-of: fleet}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "search,checkout,recommendations"
  UPSTREAM_URL: "http://upstream-{i}.team-{team}.svc.cluster.local:8080"
  CACHE_TTL_SECONDS: "300"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{team}
  labels: {{app.kubernetes.io/name: app-{i}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: app-{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app-{i}}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 65532}}
      containers:
        - name: app
          image: ghcr.io/acme/app-{i}:1.0.{team}
          ports: [{{containerPort: 8080, name: http}}]
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          livenessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
"""

BASELINE = "import sys, yaml; n = sum(1 for _ in yaml.safe_load_all(open(sys.argv[1])))"


def write_file(path: Path, objects: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(objects):
            template = CONFIGMAP if i % 2 == 0 else DEPLOYMENT
            out.write("---\n" + template.format(i=i, team=i % 40))


def measure(
    argv: list[str], env: dict[str, str], cwd: Path, objects: int | None = None
) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one process; with
    ``objects``, its JSON report must say it checked that many without a finding
    (a refused file would make a fast, meaningless run)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stdout.seek(0)
        output = stdout.read()
    if objects is not None:
        report = json.loads(output)
        checked = sum(root["objects"] or 0 for root in report["roots"])
        if checked != objects or report["findings"]:
            raise SystemExit(f"check saw {checked} objects: {output[-500:]!r}")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {stderr[-500:]}")
    if proc.stderr:
        proc.stderr.close()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=105_000)
    parser.add_argument("--before", type=Path, help="an older scaffold checkout")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        target = repo / "all.yaml"
        write_file(target, args.objects)
        size_mb = target.stat().st_size / 1e6
        env = dict(os.environ)
        check = [sys.executable, "-m", "scaffold", "check", "--format", "json"]
        results = {
            "scaffold_check": measure(
                [*check, str(repo)], env, Path(tmp), args.objects
            ),
            "yaml_safe_load_all": measure(
                [sys.executable, "-c", BASELINE, str(target)], env, Path(tmp)
            ),
        }
        if args.before:  # run from tmp: ``-m`` would put the cwd's checkout first
            old_env = {**env, "PYTHONPATH": str(args.before.resolve())}
            results["scaffold_check_before"] = measure(
                [*check, str(repo)], old_env, Path(tmp), args.objects
            )

    base = results["yaml_safe_load_all"]
    report = {
        "objects": args.objects,
        "file_mb": round(size_mb, 1),
        **results,
        "cpu_ratio": round(results["scaffold_check"]["cpu_s"] / base["cpu_s"], 2),
        "wall_ratio": round(results["scaffold_check"]["wall_s"] / base["wall_s"], 2),
        "rss_ratio": round(
            results["scaffold_check"]["peak_rss_mb"] / base["peak_rss_mb"], 2
        ),
        "goal": f"cpu_ratio <= {GOAL}",
    }
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_large_file.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["cpu_ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
