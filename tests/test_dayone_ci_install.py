"""The required `scaffold-check` job installs the scaffold release that
generated the repo from the template source the repo records (``_src_path`` at
``_commit``), not from a package index that does not have it.

The job's steps run for real, offline: a fresh virtualenv, ``pip install
git+file://…@<tag>`` of a template release served from a git URL, then
``scaffold check``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app as cli
from scaffold.layout import ANSWERS_FILE
from tests.dayone_helpers import load_job, make_release_repo, offline_pip_env, run_job
from tests.helpers import FLUX_FLEET_ANSWERS, TEMPLATE_TAG, git, render

APP = {"repo_kind": "app", "name": "hello", "owner": "acme"}


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project, committed and tagged v<version>, like an org's template repo."""
    return make_release_repo(
        tmp_path_factory.mktemp("release") / "scaffold", TEMPLATE_TAG
    )


def _installed_and_checked(repo: Path, workflow: str, tmp: Path, **kw: object) -> str:
    job = run_job(
        repo / ".github/workflows" / workflow,
        "scaffold-check",
        cwd=repo,
        runner_temp=tmp,
        env=offline_pip_env(tmp) | dict(kw.pop("env", {})),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    for proc in job.outputs:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    install, check = job.outputs[-2:]
    assert f"scaffold {__version__}" in install.stdout
    # the fresh virtualenv's scaffold ran, not this checkout's
    assert job.path == [str(tmp / "scaffold" / "bin")]
    return check.stdout


@pytest.mark.slow
def test_app_check_job_installs_its_release_and_passes(
    release: Path, tmp_path: Path
) -> None:
    url = f"git+{release.as_uri()}"  # copier's spelling of a git URL without .git
    repo = render(url, tmp_path / "hello", APP, git_init=True)
    step = next(
        s
        for s in load_job(repo / ".github/workflows/ci.yaml", "scaffold-check")["steps"]
        if s.get("name", "").startswith("Install scaffold")
    )
    assert step["env"]["SCAFFOLD_SPEC"] == f"{url}@{TEMPLATE_TAG}"
    runner = tmp_path / "runner"
    runner.mkdir()
    out = _installed_and_checked(repo, "ci.yaml", runner)
    assert out.startswith("OK") or "\nOK: " in out, out


@pytest.mark.slow
def test_fleet_check_job_installs_its_release_and_passes(
    release: Path, tmp_path: Path
) -> None:
    repo = render(
        f"git+{release.as_uri()}", tmp_path / "fleet", FLUX_FLEET_ANSWERS, git_init=True
    )
    runner = tmp_path / "runner"
    runner.mkdir()
    # the installed release ships the CRD schemas: nothing else is fetched
    out = _installed_and_checked(repo, "validate.yaml", runner)
    assert "(0 not validated)" in out, out


def test_untagged_commit_installs_by_commit_hash(release: Path, tmp_path: Path) -> None:
    """Rendered past a tag, ``_commit`` is a describe string pip cannot resolve; the
    job installs the exact commit instead."""
    clone = tmp_path / "tpl"
    git(tmp_path, "clone", "-q", str(release), str(clone))
    git(clone, "commit", "-q", "--allow-empty", "-m", "after the release")
    sha = git(clone, "rev-parse", "HEAD").strip()
    repo = render(f"git+{clone.as_uri()}", tmp_path / "hello", APP, ref="HEAD")
    job = load_job(repo / ".github/workflows/ci.yaml", "scaffold-check")
    specs = [
        s["env"]["SCAFFOLD_SPEC"]
        for s in job["steps"]
        if "SCAFFOLD_SPEC" in s.get("env", {})
    ]
    assert specs == [f"git+{clone.as_uri()}@{sha}"]


@pytest.mark.parametrize(
    ("src", "spec"),
    [
        (
            "https://github.com/acme/scaffold.git",
            "git+https://github.com/acme/scaffold.git",
        ),
        (
            "git@github.com:acme/scaffold.git",
            "git+ssh://git@github.com/acme/scaffold.git",
        ),
        ("gh:acme/scaffold", "git+https://github.com/acme/scaffold"),
    ],
)
def test_recorded_source_becomes_a_pip_git_url(
    template_repo: Path, tmp_path: Path, src: str, spec: str
) -> None:
    """Whatever form of git URL copier recorded, pip gets one it understands. (git's
    ``insteadOf`` serves the org's URLs from the local template repo.)"""
    with Path(os.environ["GIT_CONFIG_GLOBAL"]).open("a", encoding="utf-8") as config:
        config.write(f'[url "{template_repo}"]\n')
        for url in (
            "https://github.com/acme/scaffold.git",
            "git@github.com:acme/scaffold.git",
        ):
            config.write(f"\tinsteadOf = {url}\n")
    from plumbum import local  # copier's git runner keeps its own copy of the env

    with local.env(GIT_CONFIG_GLOBAL=os.environ["GIT_CONFIG_GLOBAL"]):
        repo = render(src, tmp_path / "hello", APP)
    assert f"_src_path: {src}\n" in (repo / ANSWERS_FILE).read_text()
    job = load_job(repo / ".github/workflows/ci.yaml", "scaffold-check")
    (step,) = [s for s in job["steps"] if "SCAFFOLD_SPEC" in s.get("env", {})]
    assert step["env"]["SCAFFOLD_SPEC"] == f"{spec}@{TEMPLATE_TAG}"


def test_local_template_path_is_reported_at_generation_and_in_the_workflow(
    template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "hello"
    result = CliRunner().invoke(
        cli,
        [
            "new",
            "app",
            str(dest),
            "--set",
            "name=hello",
            "--set",
            "owner=acme",
            "--template",
            str(template_repo),
            "--ref",
            TEMPLATE_TAG,
            "--no-git",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"template source {template_repo} is a local path" in result.output
    runner = tmp_path / "runner"
    runner.mkdir()
    job = run_job(
        dest / ".github/workflows/ci.yaml",
        "scaffold-check",
        cwd=dest,
        runner_temp=runner,
    )
    (failed,) = job.outputs
    assert failed.returncode == 1
    assert f"_src_path is the local path '{template_repo}'" in failed.stdout
