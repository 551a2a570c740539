"""Every generated repo carries .github/settings.yml whose required status checks
are exactly the job names its pull-request workflows report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.layout import REQUIRED_CHECKS
from scaffold.services.protect.bodies import (
    classic_body,
    repository_body,
    ruleset_body,
)
from scaffold.services.protect.settings_file import (
    SettingsFile,
    StatusChecksRule,
    parse_settings,
)
from tests.github_fake import GitHubSpec, require_spec
from tests.helpers import TEMPLATE_TAG, fleet_answers, render

VARIANTS: dict[str, dict[str, Any]] = {
    "app": {"repo_kind": "app", "name": "payments-api", "owner": "acme"},
    "infra": fleet_answers(),
    "infra-strict": {
        "repo_kind": "infra",
        "name": "fleet-strict",
        "owner": "acme",
        "default_branch": "trunk",
        "gitops_engine": "argocd",
        "secrets": "sealed-secrets",
        "required_approvals": 3,
        "require_code_owner_review": False,
        "require_signed_commits": True,
    },
}


@pytest.fixture(scope="session")
def github_spec() -> GitHubSpec:
    return require_spec()


@pytest.fixture(scope="module")
def rendered(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each variant rendered once with real copier."""

    out = {}
    for variant, data in VARIANTS.items():
        dst = tmp_path_factory.mktemp(variant)
        render(
            template_repo,
            dst,
            data=data,
        )
        out[variant] = dst
    return out


def _settings(root: Path) -> SettingsFile:
    data = yaml.safe_load((root / ".github" / "settings.yml").read_text("utf-8"))
    return parse_settings(data)


def _ruleset_checks(settings: SettingsFile) -> list[str]:
    (ruleset,) = settings.rulesets
    rules = [r for r in ruleset.rules if isinstance(r, StatusChecksRule)]
    assert len(rules) == 1
    return [c.context for c in rules[0].parameters.required_status_checks]


def _classic_checks(settings: SettingsFile) -> list[str]:
    (branch,) = settings.branches
    assert branch.protection is not None
    rsc = branch.protection.required_status_checks
    assert rsc is not None and rsc.contexts is None  # checks, never contexts
    return [c.context for c in rsc.as_checks()]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_required_checks_equal_layout(rendered: dict[str, Path], variant: str) -> None:
    kind = VARIANTS[variant]["repo_kind"]
    settings = _settings(rendered[variant])
    assert _ruleset_checks(settings) == list(REQUIRED_CHECKS[kind])
    assert _classic_checks(settings) == list(REQUIRED_CHECKS[kind])


@pytest.mark.parametrize("variant", ["app", "infra"])
def test_default_policy(rendered: dict[str, Path], variant: str) -> None:
    settings = _settings(rendered[variant])
    repo = settings.repository
    assert repo is not None
    # linear history: squash/rebase only, no merge commits
    assert (repo.allow_squash_merge, repo.allow_rebase_merge) == (True, True)
    assert repo.allow_merge_commit is False
    assert repo.delete_branch_on_merge is True
    assert repo.default_branch == "main"
    (ruleset,) = settings.rulesets
    assert ruleset.enforcement == "active"
    assert ruleset.bypass_actors == []
    assert ruleset.conditions is not None
    assert ruleset.conditions.ref_name.include == ["~DEFAULT_BRANCH"]
    types = [r.type for r in ruleset.rules]
    assert types == [
        "deletion",
        "non_fast_forward",
        "required_linear_history",
        "pull_request",
        "required_status_checks",
    ]
    body = ruleset_body(ruleset)
    pr = next(r for r in body["rules"] if r["type"] == "pull_request")["parameters"]
    assert pr == {
        "required_approving_review_count": 1,
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": True,
        "require_last_push_approval": False,
        "required_review_thread_resolution": True,
        "allowed_merge_methods": ["squash", "rebase"],
    }
    (branch,) = settings.branches
    assert branch.name == "main"
    protection = branch.protection
    assert protection is not None
    assert protection.enforce_admins is True
    assert protection.required_linear_history is True
    assert protection.allow_force_pushes is False
    assert protection.allow_deletions is False
    assert protection.required_conversation_resolution is True
    assert protection.required_signatures is False
    reviews = protection.required_pull_request_reviews
    assert reviews is not None
    assert reviews.required_approving_review_count == 1
    assert reviews.dismiss_stale_reviews and reviews.require_code_owner_reviews


def test_answers_drive_the_policy(rendered: dict[str, Path]) -> None:
    settings = _settings(rendered["infra-strict"])
    (ruleset,) = settings.rulesets
    assert ruleset.has_rule("required_signatures")
    body = ruleset_body(ruleset)
    pr = next(r for r in body["rules"] if r["type"] == "pull_request")["parameters"]
    assert pr["required_approving_review_count"] == 3
    assert pr["require_code_owner_review"] is False
    (branch,) = settings.branches
    assert branch.name == "trunk"
    assert settings.repository is not None
    assert settings.repository.default_branch == "trunk"
    protection = branch.protection
    assert protection is not None and protection.required_signatures is True
    reviews = protection.required_pull_request_reviews
    assert reviews is not None
    assert reviews.required_approving_review_count == 3
    assert reviews.require_code_owner_reviews is False


@pytest.mark.parametrize("approvals", [-1, 7])
def test_required_approvals_out_of_range(
    template_repo: Path, tmp_path: Path, approvals: int
) -> None:
    from scaffold.adapters.git import Git
    from scaffold.adapters.templates import CopierTemplates
    from scaffold.errors import InvalidAnswerError
    from scaffold.models import RepoKind, TemplateSource
    from scaffold.services.new import create_repo

    with pytest.raises(InvalidAnswerError) as info:
        create_repo(
            kind=RepoKind.INFRA,
            dest=tmp_path / "out",
            answers={
                "name": "fleet",
                "owner": "acme",
                "secrets": "none",
                "required_approvals": approvals,
            },
            source=TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG),
            templates=CopierTemplates(git=Git()),
            git=None,
        )
    assert info.value.key == "required_approvals"
    assert "between 0 and 6" in info.value.rule
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_bodies_match_github_api_description(
    rendered: dict[str, Path], variant: str, github_spec: GitHubSpec
) -> None:
    """What scaffold protect would send for this file is schema-valid."""
    settings = _settings(rendered[variant])
    assert settings.repository is not None
    github_spec.validate(
        "patch", "/repos/{owner}/{repo}", repository_body(settings.repository)
    )
    for ruleset in settings.rulesets:
        github_spec.validate(
            "post", "/repos/{owner}/{repo}/rulesets", ruleset_body(ruleset)
        )
    for branch in settings.branches:
        assert branch.protection is not None
        github_spec.validate(
            "put",
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            classic_body(branch.protection),
        )


# --- the contract with the generated CI ---------------------------------------------


def _pull_request_job_names(workflow: dict[Any, Any]) -> set[str] | None:
    """Check names of a workflow's jobs if it runs on pull_request, else None."""
    # PyYAML (YAML 1.1) reads the key `on` as True
    triggers = workflow.get("on", workflow.get(True))
    if isinstance(triggers, str):
        triggers = [triggers]
    if not triggers or "pull_request" not in triggers:
        return None
    names = set()
    for job_id, job in (workflow.get("jobs") or {}).items():
        names.add(str(job.get("name", job_id)) if isinstance(job, dict) else job_id)
    return names


def missing_checks(root: Path, required: list[str]) -> tuple[list[str], list[str]]:
    """(workflow files, required checks no pull_request workflow job reports)."""
    files = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    reported: set[str] = set()
    pr_workflows = []
    for path in files:
        names = _pull_request_job_names(yaml.safe_load(path.read_text("utf-8")))
        if names is not None:
            reported |= names
            pr_workflows.append(path.name)
    if files and not pr_workflows:
        return [p.name for p in files], list(required)
    return [p.name for p in files], sorted(set(required) - reported)


def test_missing_checks_detects_a_renamed_job(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text(
        "on:\n  pull_request:\n  push:\n"
        "jobs:\n  lint:\n    runs-on: ubuntu-24.04\n    steps: []\n"
        "  tests:\n    name: test\n    runs-on: ubuntu-24.04\n    steps: []\n",
        encoding="utf-8",
    )
    (wf / "release.yaml").write_text(
        "on: push\njobs:\n  build:\n    runs-on: x\n    steps: []\n",
        encoding="utf-8",
    )
    # job id when no name, `name:` when given; push-only workflows do not count
    assert missing_checks(tmp_path, ["lint", "test"]) == (
        ["ci.yml", "release.yaml"],
        [],
    )
    assert missing_checks(tmp_path, ["lint", "test", "build"])[1] == ["build"]
    assert missing_checks(tmp_path / "nowhere", ["lint"]) == ([], ["lint"])


@pytest.mark.parametrize("kind", ["app", "infra"])
def test_required_checks_are_reported_by_pr_workflows(
    rendered: dict[str, Path], kind: str
) -> None:
    """Branch protection requires exactly checks the PR workflows report.

    Fails if workflows exist and do not report every required check; skips only
    while this branch has no workflows at all (they come from other branches).
    """
    root = rendered[kind]
    required = _ruleset_checks(_settings(root))
    files, missing = missing_checks(root, required)
    if not files:
        pytest.skip(
            f"{kind}: no .github/workflows in the rendered repo on this branch yet; "
            "the check runs once the PR workflows are merged"
        )
    assert not missing, (
        f"{kind}: required checks {missing} are not job names of any pull_request "
        f"workflow in {files}"
    )
