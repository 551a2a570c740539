"""``scaffold rollout`` and ``scaffold status`` on a fleet built from this project's
real templates: the fleet's own instance and its app's are updated in one pull
request, one commit each, exactly as ``scaffold update`` does locally."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.github import GitHubClient
from scaffold.cli import app
from scaffold.services.rollout import RolloutOptions, rollout
from tests.github_fake import CANARY_TOKEN, FakeGitHub
from tests.helpers import (
    FLUX_FLEET_ANSWERS,
    TOOL_PATH,
    VENV_BIN,
    copy_template_tree,
    git,
)
from tests.rollout_support import ORG, TEMPLATE_URL, TemplateRepo, file_at

DEPLOYMENT = "templates/fleet-app/apps/{{ name }}/base/deployment.yaml.jinja"
LABEL = "    app.kubernetes.io/part-of: fleet-v1-1\n"
APP = {"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.0.0"}


@pytest.mark.slow
def test_a_fleet_and_its_app_are_updated_in_one_pull_request(
    fake_org: FakeGitHub, tmp_path: Path
) -> None:
    template = TemplateRepo(fake_org, tmp_path / "template")
    real = tmp_path / "real"
    copy_template_tree(real)
    template.copy_tree(real)
    template.release("v1.0.0", {}, "The first release.")

    # generated from the template's GitHub URL (reached through insteadOf), so the
    # answers and the scaffold-check job record that URL; the scaffold CLI runs as a
    # user would (a fresh process: copier's git sees this test's git config)
    fleet = tmp_path / "fleet"
    scaffold = [str(VENV_BIN / "scaffold")]
    source = ["--template", TEMPLATE_URL, "--ref", "v1.0.0"]
    sets = [f"--set={k}={v}" for k, v in FLUX_FLEET_ANSWERS.items() if k != "repo_kind"]
    app_sets = [f"--set={k}={v}" for k, v in APP.items()]
    env = {**os.environ, "PATH": TOOL_PATH}
    for args in (
        ["new", "infra", str(fleet), "--defaults", *sets, *source],
        ["fleet", "add-app", str(fleet), *app_sets, *source],
    ):
        proc = subprocess.run(
            scaffold + args, capture_output=True, text=True, env=env, check=False
        )
        assert proc.returncode == 0, proc.stderr
    repo = fake_org.add_repo(ORG, "fleet-infra", git=True)
    git(fleet, "push", "-q", repo.clone_url, "main")

    deployment = (template.work / DEPLOYMENT).read_text(encoding="utf-8")
    labelled = deployment.replace("  labels:\n", "  labels:\n" + LABEL, 1)
    assert labelled != deployment
    template.release("v1.1.0", {DEPLOYMENT: labelled}, "Apps carry a part-of label.")

    gh = GitHubClient(
        token=SecretStr(CANARY_TOKEN),
        api_url=fake_org.url,
        sleep=lambda _s: None,
        write_interval=0.0,
    )
    options = RolloutOptions(
        org=ORG, template=TEMPLATE_URL, workdir=tmp_path / "wd", jobs=1
    )
    with gh:
        report = rollout(options, forge=gh, git=Git(), token=CANARY_TOKEN)
    [outcome] = [r for r in report.repos if r.repo == f"{ORG}/fleet-infra"]
    assert outcome.outcome.value == "updated", outcome
    [pr] = repo.pulls.values()
    assert "`.` v1.0.0, `apps/web` v1.0.0" in pr["body"]
    branch = "scaffold/update-v1.1.0"
    subjects = repo.git("log", "-2", "--format=%s", branch).splitlines()
    assert subjects == [
        "chore(template): apps/web v1.0.0 → v1.1.0",
        "chore(template): v1.0.0 → v1.1.0",
    ]
    assert LABEL in file_at(repo, branch, "apps/web/base/deployment.yaml")
    for answers_file in (".copier-answers.yml", "apps/web/.copier-answers.yml"):
        answers = yaml.safe_load(file_at(repo, branch, answers_file))
        assert (answers["_src_path"], answers["_commit"]) == (TEMPLATE_URL, "v1.1.0")

    result = CliRunner().invoke(
        app,
        ["status", "--org", ORG, "--template", TEMPLATE_URL, "--json"],
        env={"GITHUB_TOKEN": CANARY_TOKEN, "GITHUB_API_URL": fake_org.url},
    )
    assert result.exit_code == 0, result.output
    rows = [
        (r["instance"], r["version"], r["behind"]) for r in json.loads(result.stdout)
    ]
    assert rows == [("", "v1.0.0", 1), ("apps/web", "v1.0.0", 1)]
