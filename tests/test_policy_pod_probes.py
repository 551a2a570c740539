"""policies/pod_probes.py: require-pod-probes."""

from __future__ import annotations

from scaffold.services.check.policies import pod_probes
from tests.check_support import GOOD_CONTAINER, pod


def test_probes_on_long_running_containers_only() -> None:
    bare = {k: v for k, v in GOOD_CONTAINER.items() if k != "readinessProbe"}
    assert [h[0] for h in pod_probes.check(pod({"containers": [bare]}))] == [
        "require-pod-probes"
    ]
    job = {"kind": "Job", "spec": {"template": {"spec": {"containers": [bare]}}}}
    assert list(pod_probes.check(job)) == []
    startup = {**bare, "startupProbe": {"tcpSocket": {"port": 80}}}
    assert list(pod_probes.check(pod({"containers": [startup]}))) == []
