"""policies/run_as_nonroot.py: require-run-as-nonroot (Kyverno anyPattern)."""

from __future__ import annotations

from tests.check_support import GOOD_CONTAINER, pod, rules


def test_run_as_nonroot_follows_the_kyverno_any_pattern() -> None:
    good = {"securityContext": {"runAsNonRoot": True}, "containers": [GOOD_CONTAINER]}
    assert rules(pod(good)) == []
    per_container = {
        "containers": [{**GOOD_CONTAINER, "securityContext": {"runAsNonRoot": True}}],
        "initContainers": [
            {"name": "i", "image": "x:1", "securityContext": {"runAsNonRoot": True}}
        ],
    }
    assert rules(pod(per_container)) == []
    init_not_set = {**per_container, "initContainers": [{"name": "i", "image": "x:1"}]}
    assert rules(pod(init_not_set)) == ["require-run-as-nonroot"]
    overridden = {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{**GOOD_CONTAINER, "securityContext": {"runAsNonRoot": False}}],
    }
    assert rules(pod(overridden)) == ["require-run-as-nonroot"]
