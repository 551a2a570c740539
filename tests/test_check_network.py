"""``scaffold check`` never reaches the network.

Every field through which kustomize can fetch a URL holds an address of a local
black-hole server (it accepts connections and never answers): each root must be
reported skipped (``kustomize-remote``) and the server must see no connection.
The same repo is checked inside a network namespace with no network at all.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaffold.adapters.kustomize import NO_NETWORK_PROXY, Kustomize, offline_env
from scaffold.services.check import RootStatus
from tests.check_support import LOCATOR, run_check
from tests.helpers import TOOL_PATH

KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"
#: a generous bound: a fetch against a silent server stalls 10 s or more per root
BOUND_SECONDS = 60


class BlackHole:
    """A TCP server on loopback that accepts and never answers; counts accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    server = BlackHole()
    yield server
    server.close()


def remote_fields(url: str) -> dict[str, str]:
    """One root per field kustomize can fetch through, each naming ``url``."""
    cases = {
        "resources": f"resources: [cm.yaml, {url}/r.yaml]\n",
        "components": f"components: [{url}/component]\n",
        "patches": f"patches:\n  - path: {url}/p.yaml\n",
        "patchesStrategicMerge": f"patchesStrategicMerge: [{url}/p.yaml]\n",
        "replacements": f"replacements:\n  - path: {url}/r.yaml\n",
        "openapi": f"openapi:\n  path: {url}/schema.json\n",
        "configurations": f"configurations: [{url}/c.yaml]\n",
        "crds": f"crds: [{url}/crd.json]\n",
        "transformers": f"transformers: [{url}/t.yaml]\n",
        "generators": f"generators: [{url}/g.yaml]\n",
        "validators": f"validators: [{url}/v.yaml]\n",
        "configmap-files": f"configMapGenerator:\n  - name: c\n    files: [{url}/f]\n",
        "configmap-envs": "configMapGenerator:\n  - name: c\n"
        f"    envs: [{url}/e.env]\n",
        "secret-files": f"secretGenerator:\n  - name: s\n    files: [k={url}/f]\n",
        "helm-values": "helmCharts:\n  - name: web\n    repo: oci://127.0.0.1/c\n"
        f"    valuesFile: {url}/values.yaml\n",
        "git-base": "resources: [https://127.0.0.1/org/repo//base?ref=v1]\n",
    }
    files: dict[str, str] = {}
    for name, body in cases.items():
        text = (
            body if body.startswith("resources:") else "resources: [cm.yaml]\n" + body
        )
        files[f"roots/{name}/kustomization.yaml"] = KUST + text
        files[f"roots/{name}/cm.yaml"] = CM
    # a remote base reached through a relative path under a skipped directory
    files["roots/via-hidden/kustomization.yaml"] = (
        KUST + "resources: [../../.lib/base]\n"
    )
    files[".lib/base/kustomization.yaml"] = KUST + f"resources: [{url}/base.yaml]\n"
    return files


def write(repo: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    return repo


def assert_all_skipped(report: object) -> None:
    roots = {r.path: r for r in report.roots}  # type: ignore[attr-defined]
    built = [p for p, r in roots.items() if r.status is RootStatus.BUILT]
    assert built == [], built
    skipped = [p for p, r in roots.items() if r.status is RootStatus.SKIPPED]
    assert len(skipped) == 17, sorted(roots)
    remote = {f.file for f in report.findings if f.rule == "kustomize-remote"}  # type: ignore[attr-defined]
    assert ".lib/base/kustomization.yaml" in remote
    assert len(remote) == 17


def test_every_remote_field_is_skipped_never_fetched(
    tmp_path: Path, black_hole: BlackHole
) -> None:
    repo = write(
        tmp_path / "repo", remote_fields(f"http://127.0.0.1:{black_hole.port}")
    )
    start = time.monotonic()
    report = run_check(repo, actionlint=False)
    assert time.monotonic() - start < BOUND_SECONDS
    assert_all_skipped(report)
    assert black_hole.connections == 0


def test_the_build_itself_has_no_network(tmp_path: Path) -> None:
    """Second line of defence: kustomize runs with proxies to a closed port, git
    limited to file://, an empty kubeconfig; a URL fails fast."""
    env = offline_env({"HTTPS_PROXY": "http://proxy.example:3128", "no_proxy": "*"})
    assert env["HTTPS_PROXY"] == env["https_proxy"] == NO_NETWORK_PROXY
    assert env["NO_PROXY"] == env["no_proxy"] == ""
    assert env["GIT_ALLOW_PROTOCOL"] == "file"
    assert env["KUBECONFIG"] == os.devnull
    write(
        tmp_path,
        {"kustomization.yaml": KUST + "resources: [https://example.com/x.yaml]\n"},
    )
    start = time.monotonic()
    result = Kustomize.locate(LOCATOR).run(tmp_path)
    assert time.monotonic() - start < BOUND_SECONDS
    assert result.returncode != 0


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare is not installed")
def test_no_network_namespace(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -rn is not permitted here: {probe.stderr.decode()[:200]}")
    repo = write(tmp_path / "repo", remote_fields("https://example.com"))
    write(
        repo,
        {
            "apps/web/kustomization.yaml": KUST + "resources: [cm.yaml]\n",
            "apps/web/cm.yaml": CM,
        },
    )
    start = time.monotonic()
    proc = subprocess.run(
        [
            "unshare",
            "-rn",
            sys.executable,
            "-m",
            "scaffold",
            "check",
            str(repo),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": TOOL_PATH},
        timeout=BOUND_SECONDS * 3,
    )
    assert time.monotonic() - start < BOUND_SECONDS * 3
    data = json.loads(proc.stdout)
    assert data["summary"]["roots"]["skipped"] == 17
    assert data["summary"]["roots"]["built"] == 1  # apps/web, offline
    assert proc.returncode == 0, proc.stderr
