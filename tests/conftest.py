"""Shared fixtures: an isolated git config and a tagged template repo."""

from __future__ import annotations

import fcntl
import gc
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import plumbum
import pytest
from hypothesis import HealthCheck, settings
from pytest_httpserver import HTTPServer

from tests.github_fake import CANARY_TOKEN, FakeGitHub, load_spec
from tests.helpers import TEMPLATE_TAG, make_template_repo, use_render_cache

# Property-based suites (Hypothesis). "ci" (the default) keeps the suite fast;
# "long" is the soak run: HYPOTHESIS_PROFILE=long pytest tests/test_answers_fuzz.py
# tests/test_security_git.py (see README, "Threat model"). Tests that run a whole
# command per example scale their count down from the profile's.
_COMMON = {
    "deadline": None,
    "database": None,  # nothing written into the checkout
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the autouse git_env: same each time
    ],
}
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("long", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A worker keeps large structures alive all run (GitHub's REST description, compiled
# schemas) while copier and jinja allocate millions of short-lived objects; at the
# default thresholds the collector re-walks the former ~30 times a run (3-4 s of CPU
# per worker). Collect less often; memory is not the constraint here.
gc.set_threshold(50_000, 20, 20)


_HIDDEN = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "SCAFFOLD_TEMPLATE",
    "SCAFFOLD_CONFIG",
    "GITHUB_TOKEN",
    "GH_TOKEN",
)


@pytest.fixture(autouse=True)
def git_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Isolate git and copier from the machine's config (identity pinned)."""
    home = tmp_path_factory.mktemp("home")
    (home / "git-template").mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        # no sample hooks in every repository and clone: fewer files to write
        f"[init]\n\tdefaultBranch = main\n\ttemplateDir = {home / 'git-template'}\n"
        '[protocol "file"]\n\tallow = always\n',
        encoding="utf-8",
    )
    env = {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        # per-test copier cache: copier's shared cache directory races under xdist
        "COPIER_CACHE_DIR": str(home / "copier-cache"),
        # commands run against the fake GitHub do not wait a second between
        # writes; the pacing is tested with an injected clock (test_protect.py)
        "SCAFFOLD_WRITE_INTERVAL": "0",
    }
    for var in _HIDDEN:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    # copier runs git through plumbum, whose environment is a copy of os.environ
    # taken when it was first imported (by the pytest-copie plugin, before this file)
    with plumbum.local.env(**env):
        for var in _HIDDEN:
            plumbum.local.env.pop(var, None)
        yield


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory every xdist worker of this test run shares (pytest removes it
    with the run's other temporary directories)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session", autouse=True)
def _shared_renders(run_dir: Path) -> None:
    """``helpers.render`` reuses renders across the run's workers."""
    use_render_cache(run_dir / "renders")


@pytest.fixture(scope="session")
def template_repo(run_dir: Path) -> Path:
    """This project's templates in a clean git repo tagged v<package version>,
    made once per test run (read-only: tests release onto copies)."""
    repo = run_dir / "template" / "scaffold"
    with (run_dir / "template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (repo / ".git").is_dir():
            scratch = Path(tempfile.mkdtemp(dir=run_dir))
            make_template_repo(scratch / "scaffold", TEMPLATE_TAG)
            repo.parent.mkdir(exist_ok=True)
            (scratch / "scaffold").rename(repo)
    return repo


@pytest.fixture
def fake_org(
    httpserver: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeGitHub]:
    """A fake GitHub whose repos are real bare repositories on disk.

    ``https://github.com/OWNER/NAME.git`` reaches them through
    ``url.<root>/.insteadOf`` in this test's global git config. Accepts
    ``CANARY_TOKEN`` only; fails the test if a request broke GitHub's description.
    """
    fake = FakeGitHub(httpserver, token=CANARY_TOKEN, spec=load_spec()).install()
    fake.serve_git(tmp_path_factory.mktemp("github"))
    yield fake
    assert fake.violations == [], "requests broke GitHub's API description"
