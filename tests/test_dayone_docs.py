"""The READMEs (project and generated) describe the real day-one
flow in order: generate, create and push repos, protect, set the promotion App,
bootstrap each cluster, release, promote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT, render, slow_except


def _in_order(text: str, needles: list[str]) -> None:
    positions = [text.find(n) for n in needles]
    assert all(p >= 0 for p in positions), dict(zip(needles, positions, strict=True))
    assert positions == sorted(positions), dict(zip(needles, positions, strict=True))


def test_project_readme_day_one_flow() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    day_one = readme[readme.index("### Day one") :]
    _in_order(
        day_one,
        ["**Generate**", "**Create and push**", "**Protect**", "**The promotion App**",
         "**Bootstrap each cluster**", "**Release**", "**Promote**"],
    )  # fmt: skip
    steps = re.findall(r"(?m)^(\d)\. \*\*", day_one)
    assert steps == [str(i) for i in range(1, 8)]
    assert "scripts/bootstrap.sh" in day_one and "--infra" in day_one


@pytest.mark.parametrize("engine", slow_except(["flux", "argocd"], inner={"flux"}))
def test_fleet_readme_uses_the_bootstrap_script(
    template_repo: Path, tmp_path: Path, engine: str
) -> None:
    data = {"repo_kind": "infra", "name": "f", "owner": "acme", "gitops_engine": engine,
            "secrets": "none"}  # fmt: skip
    fleet = render(template_repo, tmp_path / "f", data)
    readme = (fleet / "README.md").read_text()
    _in_order(
        readme,
        ["## Day one, in order", "scaffold protect . --repo acme/f",
         "PROMOTION_APP_CLIENT_ID", "scripts/bootstrap.sh <env>", "## Bootstrap",
         "## Add an app", "## Promote", "## Alerts"],
    )  # fmt: skip
    bootstrap = readme[readme.index("## Bootstrap") : readme.index("## Add an app")]
    assert "scripts/bootstrap.sh --dry-run dev" in bootstrap
    # no hand-run install steps that would skip the script's ordering
    assert "kubectl apply" not in bootstrap.split("```")[1]
    assert (fleet / "scripts/bootstrap.sh").is_file()


def test_app_readme_day_one_flow(template_repo: Path, tmp_path: Path) -> None:
    app = render(
        template_repo,
        tmp_path / "web",
        {"repo_kind": "app", "name": "web", "owner": "acme"},
    )
    readme = (app / "README.md").read_text()
    day_one = readme[readme.index("## Day one, in order") :]
    _in_order(
        day_one,
        ["gh repo create acme/web", "scaffold protect . --repo acme/web",
         "PROMOTION_APP_CLIENT_ID", "scripts/bootstrap.sh <env>",
         "Merge a PR here: `release`", "then promote"],
    )  # fmt: skip
