"""policies/requests_limits.py: require-requests-limits."""

from __future__ import annotations

from scaffold.services.check.policies import requests_limits
from tests.check_support import GOOD_CONTAINER, pod


def test_names_what_is_missing() -> None:
    container = {**GOOD_CONTAINER, "resources": {"requests": {"cpu": "1m"}}}
    (hit,) = requests_limits.check(pod({"containers": [container]}))
    assert (
        hit[2]
        == "container c has no resources.requests.memory, resources.limits.memory"
    )
    assert list(requests_limits.check(pod({"containers": [GOOD_CONTAINER]}))) == []
