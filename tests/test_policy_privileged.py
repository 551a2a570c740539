"""policies/privileged.py: disallow-privileged-containers."""

from __future__ import annotations

from scaffold.services.check.policies import privileged
from tests.check_support import GOOD_CONTAINER, pod


def test_every_container_list_and_the_line_path() -> None:
    spec = {
        "containers": [GOOD_CONTAINER],
        "ephemeralContainers": [
            {"name": "debug", "image": "x:1", "securityContext": {"privileged": "true"}}
        ],
    }
    (hit,) = privileged.check(pod(spec))
    assert hit[1] == ["spec", "ephemeralContainers", 0, "securityContext", "privileged"]
    assert hit[2] == "container debug is privileged"
    spec["ephemeralContainers"][0]["securityContext"] = {"privileged": False}
    assert list(privileged.check(pod(spec))) == []
