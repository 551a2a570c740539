"""policies/latest_tag.py: disallow-latest-tag."""

from __future__ import annotations

import pytest

from scaffold.services.check import policies
from tests.check_support import pod


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("nginx", "has no tag"),
        ("nginx:latest", "uses the latest tag"),
        ("localhost:5000/nginx", "has no tag"),
        ("localhost:5000/nginx:1.2", None),
        ("nginx@sha256:" + "a" * 64, None),
        ("ghcr.io/a/b:latest@sha256:" + "a" * 64, None),
    ],
)
def test_image_problem(image: str, problem: str | None) -> None:
    assert policies.image_problem(image) == problem


def test_messages_clip_file_derived_values() -> None:
    from scaffold.services.check.policies import latest_tag

    image = "registry.example/" + "a" * 5000
    (hit,) = latest_tag.check(pod({"containers": [{"name": "c", "image": image}]}))
    assert hit[0] == "disallow-latest-tag"
    assert len(hit[2]) < 200
