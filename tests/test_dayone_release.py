"""The release workflow attests provenance only where GitHub can (an
answer), with its permissions only when used; the promotion still runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dayone_helpers import load_job
from tests.helpers import TOOL_PATH, render, slow_except

ATTEST_PERMISSIONS = {"id-token", "attestations", "artifact-metadata"}


@pytest.mark.parametrize(
    "attest", slow_except(["public", "always", "never"], inner={"public"})
)
def test_attestation_follows_the_answer(
    template_repo: Path, tmp_path: Path, attest: str
) -> None:
    repo = render(
        template_repo,
        tmp_path / "hello",
        {
            "repo_kind": "app",
            "name": "hello",
            "owner": "acme",
            "attest_provenance": attest,
        },
        git_init=True,
    )
    image = load_job(repo / ".github/workflows/release.yaml", "image")
    steps = [
        s
        for s in image["steps"]
        if str(s.get("uses", "")).startswith("actions/attest@")
    ]
    granted = ATTEST_PERMISSIONS & set(image["permissions"])
    body = load_job(repo / ".github/workflows/release.yaml", "promote")["steps"][-1][
        "with"
    ]["body"]
    if attest == "never":
        assert steps == [] and granted == set()
        assert "attestation" not in body
    else:
        (step,) = steps
        assert granted == ATTEST_PERMISSIONS
        assert all(image["permissions"][p] == "write" for p in ATTEST_PERMISSIONS)
        assert "gh attestation verify" in body
        condition = step.get("if")
        if attest == "public":
            assert condition == "github.event.repository.visibility == 'public'"
        else:
            assert condition is None
    # the promotion job does not depend on the attestation having run
    promote = load_job(repo / ".github/workflows/release.yaml", "promote")
    assert promote["needs"] == "image" and "if" not in promote
    # every variant is a valid workflow (GitHub's schema, actionlint) by scaffold check
    proc = subprocess.run(
        ["scaffold", "check", ".", "--strict"],
        cwd=repo,
        env={**os.environ, "PATH": TOOL_PATH},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
