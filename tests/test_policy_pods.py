"""policies/pods.py and the pod rules together: controllers, container lists, scopes."""

from __future__ import annotations

import yaml

from scaffold.services.check import policies
from tests.check_support import GOOD_CONTAINER, pod, rules


def test_pod_rules_reach_every_controller_template() -> None:
    bad = {
        "containers": [
            {"name": "c", "image": "x", "securityContext": {"privileged": True}}
        ]
    }
    template = {"template": {"spec": bad}}
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        found = rules({"kind": kind, "spec": template})
        assert "disallow-privileged-containers" in found, kind
        assert "disallow-latest-tag" in found
        assert "require-requests-limits" in found
        assert ("require-pod-probes" in found) is (kind != "Job")
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": template}}}
    assert "require-pod-probes" not in rules(cron)
    assert "disallow-privileged-containers" in rules(cron)
    assert rules({"kind": "Service", "spec": template}) == []


def test_requests_limits_and_probes_only_on_containers_like_kyverno() -> None:
    spec = {
        "securityContext": {"runAsNonRoot": True},
        "initContainers": [{"name": "init", "image": "x:1"}],
        "containers": [GOOD_CONTAINER],
    }
    assert rules(pod(spec)) == []


def test_the_repos_own_kyverno_policies_scope_the_pod_rules() -> None:
    policy = yaml.safe_load(
        """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-pod-probes
  annotations:
    pod-policies.kyverno.io/autogen-controllers: DaemonSet,Deployment,StatefulSet
spec:
  rules:
    - name: validate-probes
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {namespaces: [kube-system, monitoring]}}]}
"""
    )
    scopes = policies.policy_scopes([policy])
    no_probe = {"containers": [{**GOOD_CONTAINER, "readinessProbe": None}]}
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "web"},
        "spec": {
            "template": {
                "spec": {**no_probe, "securityContext": {"runAsNonRoot": True}}
            }
        },
    }
    hits = lambda o: [h[0] for h in policies.pod_checks(o, scopes)]  # noqa: E731
    assert hits(deployment) == ["require-pod-probes"]
    in_monitoring = {**deployment, "metadata": {"name": "d", "namespace": "monitoring"}}
    assert hits(in_monitoring) == []
    replicaset = {**deployment, "kind": "ReplicaSet"}
    assert hits(replicaset) == []  # not an autogen controller of that policy
    assert [h[0] for h in policies.pod_checks(replicaset)] == ["require-pod-probes"]
