"""`scaffold bootstrap MANIFEST`: a whole org from one file, against the git-backed
fake GitHub (real bare repos behind https://github.com clone URLs, every request
checked against GitHub's description, sealed secrets really decrypted)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.github import GitHubClient
from scaffold.adapters.sealing import seal
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app
from scaffold.services.bootstrap import BootstrapReport, bootstrap
from scaffold.services.manifest import read_manifest, rules_from_templates
from tests.github_fake import CANARY_TOKEN, FakeGitHub
from tests.helpers import TEMPLATE_TAG, commit_all, git

SECRET_CANARY = "-----BEGIN KEY-----CANARY-s3cr3t-value-----END KEY-----"
CLIENT_ID = "Iv23liCANARYclient"


def manifest(template: Path, apps: list[str], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "org": "acme",
        "template": str(template),
        "ref": TEMPLATE_TAG,
        "visibility": "private",
        "defaults": {"codeowners": "@acme/platform"},
        "topics": ["gitops"],
        "fleet": {
            "name": "fleet-infra",
            "answers": {"gitops_engine": "flux", "secrets": "none"},
        },
        "apps": [{"name": name} for name in apps],
        "actions": {
            "variables": {"PROMOTION_APP_CLIENT_ID": CLIENT_ID},
            "secrets": {
                "PROMOTION_APP_PRIVATE_KEY": {"env": "PROMOTION_APP_PRIVATE_KEY"}
            },
        },
    }
    data.update(extra)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTION_APP_PRIVATE_KEY", SECRET_CANARY)


def run(
    fake: FakeGitHub,
    path: Path,
    *,
    dry_run: bool = False,
    jobs: int = 3,
    progress: Callable[[str, str, bool], None] | None = None,
) -> BootstrapReport:
    """The service with the real adapters (the CLI's composition, minus pacing)."""
    git = Git()
    templates = CopierTemplates(git=git)
    desired = read_manifest(
        path, env=os.environ, rules_for=rules_from_templates(templates, os.environ)
    )
    with GitHubClient(
        token=SecretStr(CANARY_TOKEN),
        api_url=fake.url,
        sleep=lambda _s: None,
        write_interval=0.0,
    ) as client:
        return bootstrap(
            desired,
            forge=client,
            git=git,
            token=SecretStr(CANARY_TOKEN),
            templates=templates,
            seal=seal,
            jobs=jobs,
            dry_run=dry_run,
            progress=progress,
        )


def files(fake: FakeGitHub, name: str, ref: str = "main") -> list[str]:
    repo = fake.repos[f"acme/{name}"]
    return repo.git("ls-tree", "-r", "--name-only", ref).split()


def fleet_main_pushes(fake: FakeGitHub) -> int:
    fleet = fake.repos["acme/fleet-infra"]
    return sum(1 for p in fake.pushes(fleet) if p[3] == "refs/heads/main")


@pytest.mark.slow
def test_fresh_org_then_rerun_then_a_new_app_through_a_pull_request(
    fake_org: FakeGitHub, template_repo: Path, tmp_path: Path, secret_env: None
) -> None:
    apps = ["web", "api", "billing", "search", "auth"]
    data = manifest(template_repo, apps)
    data["apps"][0]["topics"] = ["frontend"]
    path = write(tmp_path / "org.yaml", data)

    plan = run(fake_org, path, dry_run=True)
    assert fake_org.write_count() == 0
    assert [r.outcome for r in plan.repos] == ["planned"] * 6
    fleet_plan = plan.repos[0].planned
    assert fleet_plan[0] == "create acme/fleet-infra (private)"
    assert [s for s in fleet_plan if s.startswith("register ")] == [
        f"register {a} (first commit)" for a in apps
    ]

    first = run(fake_org, path)
    assert [(r.name, r.outcome) for r in first.repos] == [
        ("fleet-infra", "created"),
        *[(a, "created") for a in apps],
    ]
    assert first.failed == []
    fleet_files = files(fake_org, "fleet-infra")
    for name in apps:
        # the app repo, rendered exactly as `scaffold new app`
        answers = yaml.safe_load(
            fake_org.repos[f"acme/{name}"].git("show", "main:.copier-answers.yml")
        )
        assert answers["_commit"] == TEMPLATE_TAG
        assert answers["infra_repo"] == "acme/fleet-infra"
        assert answers["codeowners"] == "@acme/platform"
        # registered in the fleet's first push, as `new app --infra` does
        assert f"apps/{name}/.copier-answers.yml" in fleet_files
        assert f"clusters/dev/apps/{name}.yaml" in fleet_files
        # protected after the push; Actions variable and sealed secret set
        repo = fake_org.repos[f"acme/{name}"]
        assert repo.settings["private"] is True
        assert [r["name"] for r in repo.rulesets.values()]
        assert (
            fake_org.variables[f"acme/{name}"]["PROMOTION_APP_CLIENT_ID"]["value"]
            == CLIENT_ID
        )
        assert (
            fake_org.secret_value(f"acme/{name}", "PROMOTION_APP_PRIVATE_KEY")
            == SECRET_CANARY
        )
    # the fleet's promote workflow uses the promotion App too
    assert (
        fake_org.secret_value("acme/fleet-infra", "PROMOTION_APP_PRIVATE_KEY")
        == SECRET_CANARY
    )
    assert fake_org.bad_secrets == []
    assert fleet_main_pushes(fake_org) == 1
    assert fake_org.topics["acme/web"] == ["frontend", "gitops"]
    assert fake_org.topics["acme/fleet-infra"] == ["gitops"]

    # rerun, unchanged manifest: zero writes (API calls and pushes)
    before = fake_org.write_count()
    again = run(fake_org, path)
    assert fake_org.write_count() == before
    assert {r.outcome for r in again.repos} == {"unchanged"}
    assert all(r.state == "generated" for r in again.repos)

    # a new app: one new repo, one fleet pull request, fleet main untouched
    data["apps"].append({"name": "jobs"})
    write(tmp_path / "org.yaml", data)
    grown = run(fake_org, path)
    outcomes = {r.name: r.outcome for r in grown.repos}
    assert outcomes.pop("jobs") == "created"
    assert outcomes.pop("fleet-infra") == "updated"
    assert set(outcomes.values()) == {"unchanged"}
    fleet = fake_org.repos["acme/fleet-infra"]
    branch = "scaffold/bootstrap/register-apps"
    assert fleet_main_pushes(fake_org) == 1
    assert "apps/jobs/.copier-answers.yml" not in files(fake_org, "fleet-infra")
    assert "apps/jobs/.copier-answers.yml" in files(fake_org, "fleet-infra", branch)
    pulls = list(fleet.pulls.values())
    assert [(p["head"], p["title"]) for p in pulls] == [
        (branch, "feat(apps): add jobs")
    ]
    pr_url = "https://github.com/acme/fleet-infra/pull/1"
    assert grown.repos[0].pull_requests == [pr_url]

    # and again: the open pull request is the registration; nothing to write
    before = fake_org.write_count()
    settled = run(fake_org, path)
    assert fake_org.write_count() == before
    assert settled.repos[0].pull_requests == [pr_url]

    # another app while that pull request is open: the same pull request grows
    data["apps"].append({"name": "cron"})
    write(tmp_path / "org.yaml", data)
    run(fake_org, path)
    assert fleet_main_pushes(fake_org) == 1
    assert {"apps/jobs/.copier-answers.yml", "apps/cron/.copier-answers.yml"} <= set(
        files(fake_org, "fleet-infra", branch)
    )
    assert [p["title"] for p in fleet.pulls.values()] == ["feat(apps): add jobs, cron"]
    before = fake_org.write_count()
    run(fake_org, path)
    assert fake_org.write_count() == before

    # the pull request is merged (the branch stays); a later app starts it afresh
    fleet.git("update-ref", "refs/heads/main", f"refs/heads/{branch}")
    fleet.pulls[1]["state"] = "closed"
    data["apps"].append({"name": "mail"})
    write(tmp_path / "org.yaml", data)
    run(fake_org, path)
    assert [(p["number"], p["title"]) for p in fleet.pulls.values()][-1] == (
        2,
        "feat(apps): add mail",
    )
    log = fleet.git("log", "--format=%s", f"main..{branch}").splitlines()
    assert log == ["feat(apps): add mail"]  # on top of main, not the old branch


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in that repo's job."""


@pytest.mark.slow
def test_killed_mid_run_then_rerun_converges_without_duplicates(
    fake_org: FakeGitHub, template_repo: Path, tmp_path: Path, secret_env: None
) -> None:
    path = write(tmp_path / "org.yaml", manifest(template_repo, ["web", "api"]))
    # the fleet dies after its repo was created (before the push), web after
    # its push (before protection); api may or may not finish
    kill_at = {("fleet-infra", "rendering"), ("web", "protecting")}

    def progress(repo: str, what: str, done: bool) -> None:
        if (repo, what) in kill_at:
            raise Killed

    with pytest.raises(Killed):
        run(fake_org, path, jobs=1, progress=progress)
    assert "acme/fleet-infra" in fake_org.repos
    assert files(fake_org, "web")
    assert not fake_org.repos["acme/web"].rulesets

    second = run(fake_org, path, jobs=2)
    states = {r.name: (r.state, r.outcome) for r in second.repos}
    assert states["fleet-infra"] == ("empty", "adopted")
    assert states["web"] == ("generated", "updated")
    assert second.failed == []
    # nothing duplicated: one repo each, one ruleset each, one secret each
    assert sorted(fake_org.repos) == ["acme/api", "acme/fleet-infra", "acme/web"]
    for repo in fake_org.repos.values():
        assert len(repo.rulesets) == 1
        assert list(fake_org.secrets[repo.full_name]) == ["PROMOTION_APP_PRIVATE_KEY"]
    fleet_files = files(fake_org, "fleet-infra")
    assert {"apps/web/.copier-answers.yml", "apps/api/.copier-answers.yml"} <= set(
        fleet_files
    )
    before = fake_org.write_count()
    run(fake_org, path)
    assert fake_org.write_count() == before


@pytest.mark.slow
def test_unrelated_repo_is_refused_the_rest_is_done_and_nothing_leaks(
    fake_org: FakeGitHub,
    template_repo: Path,
    tmp_path: Path,
    secret_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the CLI: exit 3, --json report, canaries nowhere."""
    other = fake_org.add_repo("acme", "web", git=True)
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / "README.md").write_text("not ours\n", encoding="utf-8")
    commit_all(seed, "init")
    git(seed, "push", "-q", other.clone_url, "main")
    path = write(tmp_path / "org.yaml", manifest(template_repo, ["web"]))
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_TOKEN)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        app, ["bootstrap", str(path), "--api-url", fake_org.url, "--json"]
    )
    assert result.exit_code == 3, result.output
    report = yaml.safe_load(result.stdout)
    repos = {r["name"]: r for r in report["repos"]}
    assert repos["web"]["outcome"] == "refused"
    assert "no .copier-answers.yml" in repos["web"]["error"]
    assert repos["fleet-infra"]["outcome"] == "created"
    assert "1 of 2 repo(s) not converged: web" in result.stderr
    # the refused repo is untouched and not registered in the fleet
    assert files(fake_org, "web") == ["README.md"]
    assert not any(f.startswith("apps/web/") for f in files(fake_org, "fleet-infra"))
    # token and secret canaries: not in output, not on disk, not in git config
    assert CANARY_TOKEN not in result.output
    assert SECRET_CANARY not in result.output
    roots = [tmp_path, fake_org.git_root, Path(os.environ["GIT_CONFIG_GLOBAL"]).parent]
    for root in roots:
        assert root is not None
        for file in root.rglob("*"):
            if file.is_file():
                data = file.read_bytes()
                assert CANARY_TOKEN.encode() not in data, file
                assert SECRET_CANARY.encode() not in data, file
    assert fake_org.secret_value("acme/fleet-infra", "PROMOTION_APP_PRIVATE_KEY") == (
        SECRET_CANARY
    )


def test_bad_manifest_lists_every_problem_with_its_line_and_writes_nothing(
    fake_org: FakeGitHub,
    template_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_TOKEN)
    monkeypatch.delenv("PROMOTION_APP_PRIVATE_KEY", raising=False)
    text = f"""\
org: acme
template: {template_repo}
ref: {TEMPLATE_TAG}
colour: blue
fleet:
  name: fleet-infra
  answers: {{gitops_engine: flux, secrets: sops}}
apps:
  - name: Web_1
  - name: api
    answers: {{container_port: 80}}
  - name: api
actions:
  secrets:
    PROMOTION_APP_PRIVATE_KEY: {{env: PROMOTION_APP_PRIVATE_KEY}}
"""
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["bootstrap", str(path), "--api-url", fake_org.url]
    )
    assert result.exit_code == 2, result.output
    err = result.stderr
    expected = [
        f"{path}:4: colour: unknown key",
        f"{path}:7: fleet.answers: sops_age_recipients: required (no default)",
        f"{path}:9: apps[0].name: must be a DNS-1123 label",
        f"{path}:11: apps[1].answers.container_port: must be an integer between "
        "1024 and 65535",
        f"{path}:12: apps[2].name: duplicate app 'api' (first at apps[1])",
        f"{path}:15: actions.secrets.PROMOTION_APP_PRIVATE_KEY.env: environment "
        "variable PROMOTION_APP_PRIVATE_KEY is not set",
    ]
    for line in expected:
        assert line in err, f"{line!r} not in:\n{err}"
    assert fake_org.requests == []
    assert fake_org.write_count() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["org.yaml"]  # nor locally


@pytest.mark.slow
def test_on_a_terminal_a_progress_bar_runs_below_the_plan(
    fake_org: FakeGitHub, template_repo: Path, tmp_path: Path, secret_env: None
) -> None:
    import io
    import sys

    import pexpect

    from tests.helpers import PROJECT_ROOT

    path = write(tmp_path / "org.yaml", manifest(template_repo, ["web"]))
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TERM": "xterm",
        "GITHUB_TOKEN": CANARY_TOKEN,
        "SCAFFOLD_WRITE_INTERVAL": "0",
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "bootstrap", str(path), "--api-url", fake_org.url],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 160),
    )
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect("scaffold bootstrap plan for acme")
    child.expect(r"(fleet-infra|web): \w+.*\d/2")  # the bar: repo, step, done/total
    child.expect("scaffold bootstrap: acme")  # the final table
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, seen.getvalue()
    assert CANARY_TOKEN not in seen.getvalue()
    assert SECRET_CANARY not in seen.getvalue()
