"""The app repo's release workflow and the fleet's promotion workflow mint their
GitHub App token the same way: same pinned action, same credential inputs, same
variable and secret names (one App, configured once, documented alike).

actions/create-github-app-token v3.1.0 added ``client-id`` and deprecated ``app-id``
(actions/create-github-app-token#353); v3.1.1 is the pinned release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import render

ACTION = "actions/create-github-app-token@1b10c78c7865c340bc4f6099eb2f838309f1e8c3"
CREDENTIALS = {
    "client-id": "${{ vars.PROMOTION_APP_CLIENT_ID }}",
    "private-key": "${{ secrets.PROMOTION_APP_PRIVATE_KEY }}",
}
#: inputs of the action besides the permission-* ones (app-id: deprecated)
INPUTS = {"client-id", "private-key", "owner", "repositories", "skip-token-revoke"}


@pytest.fixture(scope="module")
def rendered(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = {}
    for kind, extra in (("app", {}), ("infra", {"secrets": "none"})):
        dst = tmp_path_factory.mktemp("token") / kind
        render(
            template_repo,
            dst,
            data={"repo_kind": kind, "name": "demo", "owner": "acme", **extra},
        )
        out[kind] = dst
    return out


def _token_steps(path: Path) -> list[dict[str, Any]]:
    wf = yaml.safe_load(path.read_text())
    return [
        step
        for job in wf["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("actions/create-github-app-token@")
    ]


def test_both_templates_mint_the_token_identically(rendered: dict[str, Path]) -> None:
    (app,) = _token_steps(rendered["app"] / ".github/workflows/release.yaml")
    (fleet,) = _token_steps(rendered["infra"] / ".github/workflows/promote.yaml")
    for step in (app, fleet):
        assert step["uses"] == ACTION
        assert step["id"] == "app-token"
        inputs = step["with"]
        assert {k: inputs[k] for k in CREDENTIALS} == CREDENTIALS
        assert "app-id" not in inputs and "app_id" not in inputs
        unknown = {
            k for k in inputs if k not in INPUTS and not k.startswith("permission-")
        }
        assert not unknown, unknown
        assert inputs["permission-contents"] == "write"
        assert inputs["permission-pull-requests"] == "write"
    shared = set(CREDENTIALS) | {"permission-contents", "permission-pull-requests"}
    assert {k: app["with"][k] for k in shared} == {k: fleet["with"][k] for k in shared}
    # the app repo's token is scoped to the fleet repo; the fleet's to itself
    assert app["with"]["owner"] == "acme"
    assert app["with"]["repositories"] == "fleet-infra"
    assert "owner" not in fleet["with"] and "repositories" not in fleet["with"]


def test_readmes_name_the_same_variable_and_secret(rendered: dict[str, Path]) -> None:
    for kind in ("app", "infra"):
        readme = " ".join((rendered[kind] / "README.md").read_text().split())
        assert "variable `PROMOTION_APP_CLIENT_ID`" in readme, kind
        assert "secret `PROMOTION_APP_PRIVATE_KEY`" in readme, kind
        assert "PROMOTION_APP_ID" not in readme, kind
