"""The app repo template (templates/app + templates/_lang/<language>).

Two answer sets are rendered once per module (defaults, and every app answer
customised) and checked for content, workflow validity (GitHub's schema and
actionlint), pinning, port wiring, and real behaviour: the generated service's own
test suite and linter pass, and the service starts and answers its probes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.layout import ANSWERS_FILE, REQUIRED_CHECKS
from tests.helpers import PROJECT_ROOT, TEMPLATE_TAG, VENV_BIN, git, render, tree

USES_PIN = re.compile(
    r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@(?P<sha>[0-9a-f]{40})"
    r" # (?P<version>v\d+(?:\.\d+){0,2})$"
)
IMAGE_FROM = re.compile(
    r"^FROM (?P<image>[a-z0-9./-]+):(?P<tag>\d+\.\d+\.\d+)-[a-z0-9-]+"
    r"@sha256:[0-9a-f]{64}(?: AS \w+)?$",
    re.MULTILINE,
)
#: every action pin with its provenance (see the file's header)
ACTION_PINS = PROJECT_ROOT / "tests/data/action-pins.yaml"

DEFAULT_ANSWERS: dict[str, Any] = {"repo_kind": "app", "name": "hello", "owner": "acme"}
CUSTOM_ANSWERS: dict[str, Any] = {
    "repo_kind": "app",
    "name": "payments-api",
    "owner": "Acme-Corp",
    "description": "Payments API (v2), card + wallet flows",
    "container_port": 9091,
    "image_registry": "registry.example.com:5000/team/payments",
    "infra_repo": "acme-corp/platform-fleet",
    "default_branch": "trunk",
    "codeowners": "@acme-corp/payments",
}


@dataclass(frozen=True)
class Rendered:
    """A rendered app repo and the answers it was rendered with."""

    path: Path
    answers: dict[str, Any]

    def text(self, rel: str) -> str:
        return (self.path / rel).read_text(encoding="utf-8")

    def yaml(self, rel: str) -> Any:
        return yaml.safe_load(self.text(rel))

    @property
    def port(self) -> int:
        return int(self.answers["container_port"])

    @property
    def package(self) -> str:
        (pkg,) = [p.name for p in (self.path / "src").iterdir() if p.is_dir()]
        return pkg


@pytest.fixture(scope="module")
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module-scoped twin of conftest's git_env (which is function-scoped)."""
    home = tmp_path_factory.mktemp("app-home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("COPIER_CACHE_DIR", str(home / "copier-cache"))
        yield


@pytest.fixture(scope="module")
def default_app(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory, isolated_env: None
) -> Rendered:
    """Defaults for everything but the required answers (plain copier.run_copy)."""
    dst = tmp_path_factory.mktemp("app-default") / "hello"
    render(
        template_repo,
        dst,
        data=DEFAULT_ANSWERS,
    )
    return Rendered(dst, yaml.safe_load((dst / ANSWERS_FILE).read_text("utf-8")))


@pytest.fixture(scope="module")
def custom_app(copie_session: Any, template_repo: Path, isolated_env: None) -> Rendered:
    """Every app answer customised (pytest-copie; non-ghcr registry, other branch)."""
    result = copie_session.copy(
        extra_answers=CUSTOM_ANSWERS, template_dir=template_repo, vcs_ref=TEMPLATE_TAG
    )
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return Rendered(Path(result.project_dir), dict(result.answers))


@pytest.fixture(params=["default", "custom"])
def app(request: pytest.FixtureRequest) -> Rendered:
    """Each rendered variant in turn."""
    rendered: Rendered = request.getfixturevalue(f"{request.param}_app")
    return rendered


def workflow(app: Rendered, name: str) -> dict[str, Any]:
    data: dict[str, Any] = app.yaml(f".github/workflows/{name}.yaml")
    data["on"] = data.pop(True) if True in data else data["on"]  # PyYAML: on -> True
    return data


def steps(wf: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in wf["jobs"].values():
        yield from job.get("steps", [])


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- files and answers -------------------------------------------------------


def test_generated_files(default_app: Rendered) -> None:
    files = set(tree(default_app.path))
    assert files == {
        ".copier-answers.yml",
        ".dockerignore",
        ".github/dependabot.yml",
        ".github/pull_request_template.md",
        ".github/settings.yml",
        ".github/workflows/ci.yaml",
        ".github/workflows/release.yaml",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".python-version",
        "CODEOWNERS",
        "CONTRIBUTING.md",
        "Dockerfile",
        "README.md",
        "pyproject.toml",
        "src/hello/__init__.py",
        "src/hello/__main__.py",
        "src/hello/app.py",
        "src/hello/config.py",
        "src/hello/logs.py",
        "src/hello/server.py",
        "tests/test_app.py",
        "tests/test_lifecycle.py",
    }


def test_no_unrendered_jinja(app: Rendered) -> None:
    for rel, text in tree(app.path).items():
        # GitHub expressions ${{ }} and docker's {{.State…}} are fine; Jinja is not
        leftovers = re.findall(r"(?<!\$)\{\{(?!\.)|\{%|\{#", text)
        assert not leftovers, f"{rel}: unrendered Jinja {leftovers}"
        assert "{%" not in rel and "{{" not in rel


def test_files_pass_the_repos_own_whitespace_hooks(app: Rendered) -> None:
    """end-of-file-fixer / trailing-whitespace would otherwise rewrite a fresh repo."""
    for rel, text in tree(app.path).items():
        assert text.endswith("\n") and not text.endswith("\n\n"), rel
        assert not re.search(r"[ \t]$", text, re.MULTILINE), rel


def test_answers_file_records_source_and_commit(
    default_app: Rendered, custom_app: Rendered, template_repo: Path
) -> None:
    for rendered, given in (
        (default_app, DEFAULT_ANSWERS),
        (custom_app, CUSTOM_ANSWERS),
    ):
        answers = yaml.safe_load(rendered.text(ANSWERS_FILE))
        assert answers["_src_path"] == str(template_repo)
        assert answers["_commit"] == TEMPLATE_TAG
        assert {k: answers[k] for k in given} == given
        assert answers["language"] == "python"
        # computed, not asked: never stored, so updates recompute it
        assert "python_package" not in answers
        assert "scaffold_version" not in answers
    defaults = yaml.safe_load(default_app.text(ANSWERS_FILE))
    assert defaults["container_port"] == 8080
    assert defaults["image_registry"] == "ghcr.io/acme"
    assert defaults["infra_repo"] == "acme/fleet-infra"
    assert defaults["default_branch"] == "main"
    assert defaults["codeowners"] == "@acme/platform"


def test_python_package_name(
    custom_app: Rendered, copie: Any, template_repo: Path
) -> None:
    assert custom_app.package == "payments_api"
    # names that are not importable, or would shadow the stdlib, get a prefix
    for name, package in (("http", "svc_http"), ("2fa-codes", "svc_2fa_codes")):
        result = copie.copy(
            extra_answers={"repo_kind": "app", "name": name, "owner": "acme"},
            template_dir=template_repo,
            vcs_ref=TEMPLATE_TAG,
        )
        assert result.exception is None, result.exception
        rendered = Rendered(Path(result.project_dir), dict(result.answers))
        assert rendered.package == package
        assert f'"-m", "{package}"' in rendered.text("Dockerfile")
        assert f'{name} = "{package}.server:main"' in rendered.text("pyproject.toml")


def test_every_language_choice_has_its_partials() -> None:
    """Adding a language = a templates/_lang/<lang>/ folder with the same partials."""
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text("utf-8"))
    languages = set(questions["language"]["choices"].values())
    lang_root = PROJECT_ROOT / "templates" / "_lang"
    expected = {p.name for p in (lang_root / "python").iterdir()}
    assert languages == {p.name for p in lang_root.iterdir() if p.is_dir()}
    for lang in languages:
        assert {p.name for p in (lang_root / lang).iterdir()} == expected


# --- workflows ---------------------------------------------------------------


def test_pr_workflow_job_names_are_the_required_checks(app: Rendered) -> None:
    ci = workflow(app, "ci")
    names = [job["name"] for job in ci["jobs"].values()]
    assert sorted(names) == sorted(REQUIRED_CHECKS["app"])
    assert set(ci["on"]) == {"pull_request", "push"}
    assert ci["on"]["push"]["branches"] == [app.answers["default_branch"]]


def test_workflows_pass_github_schema_and_actionlint(app: Rendered) -> None:
    workflows = sorted(str(p) for p in (app.path / ".github/workflows").glob("*.yaml"))
    assert len(workflows) == 2
    schema = run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *workflows,
        ],
        cwd=app.path,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    dependabot = run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.dependabot",
            str(app.path / ".github/dependabot.yml"),
        ],
        cwd=app.path,
    )
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr
    if not (app.path / ".git").exists():
        git(app.path, "init", "-q")  # actionlint finds workflows via the git root
    lint = run([str(VENV_BIN / "actionlint"), "-no-color"], cwd=app.path)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_action_inputs_exist_in_the_pinned_major(app: Rendered, tmp_path: Path) -> None:
    """actionlint checks `with:` inputs only for `owner/repo@vN` refs it knows.

    So lint a copy whose SHA pins are replaced by their commented major version:
    a misspelt or removed input (e.g. `persist-credential`) then fails here.
    """
    repo = tmp_path / "by-major"
    (repo / ".github/workflows").mkdir(parents=True)
    for wf in (app.path / ".github/workflows").glob("*.yaml"):
        text = re.sub(r"@[0-9a-f]{40} # (v\d+)[.\d]*", r"@\1", wf.read_text("utf-8"))
        (repo / ".github/workflows" / wf.name).write_text(text, "utf-8")
    git(repo, "init", "-q")
    lint = run([str(VENV_BIN / "actionlint"), "-no-color"], cwd=repo)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def action_pins(app: Rendered) -> dict[str, re.Match[str]]:
    """action -> its pin; fails on any `uses:` that is not SHA-pinned and commented."""
    pins: dict[str, re.Match[str]] = {}
    for wf in sorted((app.path / ".github/workflows").glob("*.yaml")):
        for line in wf.read_text("utf-8").splitlines():
            if "uses:" not in line:
                continue
            ref = line.split("uses:", 1)[1].strip()
            match = USES_PIN.match(ref)
            assert match, f"{wf.name}: not SHA-pinned with a version comment: {ref}"
            # one pin per action across all workflows
            assert pins.setdefault(match["action"], match)[0] == ref, ref
    return pins


def test_every_action_is_pinned_to_a_commit_with_version_comment(
    app: Rendered,
) -> None:
    assert {
        "actions/checkout",
        "actions/setup-python",
        "docker/setup-buildx-action",
        "docker/login-action",
        "docker/build-push-action",
        "docker/metadata-action",
        "actions/attest",
        "actions/create-github-app-token",
        "peter-evans/create-pull-request",
    } == set(action_pins(app))


def test_action_pins_have_a_recorded_provenance(app: Rendered) -> None:
    register = yaml.safe_load(ACTION_PINS.read_text("utf-8"))
    pins = action_pins(app)
    for action, pin in pins.items():
        assert action in register, f"{pin[0]}: no provenance in {ACTION_PINS.name}"
        assert (pin["sha"], pin["version"]) == (
            register[action]["sha"],
            register[action]["version"],
        ), pin[0]
        assert register[action]["provenance"] in {"tag", "seen"}


def test_action_pin_register_lists_exactly_the_templates_pins() -> None:
    register = yaml.safe_load(ACTION_PINS.read_text("utf-8"))
    used = {
        match["action"]: (match["sha"], match["version"])
        for path in (PROJECT_ROOT / "templates").rglob("*.y*ml*")
        for line in path.read_text("utf-8").splitlines()
        if "uses:" in line
        and (match := USES_PIN.match(line.split("uses:", 1)[1].strip()))
    }
    assert used == {a: (p["sha"], p["version"]) for a, p in register.items()}


def test_least_privilege_and_hygiene(app: Rendered) -> None:
    for name in ("ci", "release"):
        wf = workflow(app, name)
        assert wf["permissions"] == {"contents": "read"}, name
        assert "group" in wf["concurrency"], name
        for job_id, job in wf["jobs"].items():
            assert "timeout-minutes" in job, f"{name}.{job_id}"
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                # script-injection hygiene: expressions reach scripts via env only
                assert "${{" not in step.get("run", ""), f"{name}.{job_id}: {step}"
    ci = workflow(app, "ci")
    assert "pull_request" in ci["concurrency"]["cancel-in-progress"]
    assert all("permissions" not in job for job in ci["jobs"].values())  # read-only
    release = workflow(app, "release")
    assert release["concurrency"]["cancel-in-progress"] is False
    image, promote = release["jobs"]["image"], release["jobs"]["promote"]
    assert image["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
        "artifact-metadata": "write",
    }
    assert promote["permissions"] == {}


def test_release_builds_sha_tagged_image_and_promotes_to_dev(app: Rendered) -> None:
    release = workflow(app, "release")
    assert set(release["on"]) == {"push"}
    assert release["on"]["push"]["branches"] == [app.answers["default_branch"]]
    image_ref = f"{app.answers['image_registry']}/{app.answers['name']}"
    assert release["env"]["IMAGE"] == image_ref
    by_action = {s["uses"].split("@")[0]: s for s in steps(release) if "uses" in s}
    meta = by_action["docker/metadata-action"]["with"]
    assert meta["tags"] == "type=sha,format=long"  # sha-<40 hex>
    assert meta["flavor"] == "latest=false"
    assert by_action["docker/build-push-action"]["with"]["push"] is True
    login = by_action["docker/login-action"]["with"]
    assert login["registry"] == image_ref.split("/")[0]
    if login["registry"] == "ghcr.io":
        assert login["password"] == "${{ secrets.GITHUB_TOKEN }}"
    else:
        assert login["password"] == "${{ secrets.REGISTRY_PASSWORD }}"
    attest = by_action["actions/attest"]["with"]
    assert attest["push-to-registry"] is True
    assert attest["subject-digest"] == "${{ steps.build.outputs.digest }}"

    promote = release["jobs"]["promote"]
    assert promote["needs"] == "image"
    owner, repo = app.answers["infra_repo"].split("/")
    token = by_action["actions/create-github-app-token"]["with"]
    assert (token["owner"], token["repositories"]) == (owner, repo)
    checkout_infra = [
        s for s in promote["steps"] if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkout_infra[0]["with"]["repository"] == app.answers["infra_repo"]
    assert promote["env"]["OVERLAY"] == f"apps/{app.answers['name']}/overlays/dev"
    set_image = next(
        s for s in promote["steps"] if "kustomize edit" in s.get("run", "")
    )
    assert 'kustomize edit set image "$IMAGE=$IMAGE:$TAG@$DIGEST"' in set_image["run"]
    pr = by_action["peter-evans/create-pull-request"]["with"]
    assert pr["path"] == "infra"
    assert pr["token"] == "${{ steps.app-token.outputs.token }}"


def test_release_tag_guard_accepts_only_sha_of_the_commit(
    default_app: Rendered, tmp_path: Path
) -> None:
    """Run the release's own 'Record the tag' script with bash."""
    release = workflow(default_app, "release")
    step = next(s for s in release["jobs"]["image"]["steps"] if s.get("id") == "tag")
    sha = "0123456789abcdef0123456789abcdef01234567"
    for tag, ok in ((f"sha-{sha}", True), ("latest", False), (f"sha-{sha[:7]}", False)):
        out, summary = tmp_path / "out", tmp_path / "summary"
        env = {
            "PATH": os.environ["PATH"],
            "TAG": tag,
            "DIGEST": "sha256:" + "a" * 64,
            "IMAGE": release["env"]["IMAGE"],
            "GITHUB_SHA": sha,
            "GITHUB_OUTPUT": str(out),
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        proc = run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env)
        assert (proc.returncode == 0) is ok, (tag, proc.stdout, proc.stderr)
        if ok:
            assert out.read_text() == f"tag=sha-{sha}\n"
            assert re.fullmatch(r"tag=sha-[0-9a-f]{40}\n", out.read_text())


def test_scaffold_check_job_runs_the_pinned_scaffold(app: Rendered) -> None:
    job = workflow(app, "ci")["jobs"]["scaffold-check"]
    install, check = [s for s in job["steps"] if "run" in s]
    assert install["name"].startswith(
        "Install scaffold"
    )  # tests/test_dayone_ci_install.py
    assert check["run"] == "scaffold check . --strict"
    # run for real with this checkout's scaffold standing in for the installed release
    path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    proc = run(
        ["bash", "-e", "-c", check["run"]],
        cwd=app.path,
        env={**os.environ, "PATH": path},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK") or "\nOK: " in proc.stdout, proc.stdout


def test_no_latest_tag_anywhere(app: Rendered) -> None:
    for rel, text in tree(app.path).items():
        assert not re.search(r":latest\b|value=latest|latest=(true|auto)", text), rel
        for line in text.splitlines():
            if "latest" in line:  # only ever as a prohibition
                assert re.search(r"latest=false|(no|never) `latest`", line), (
                    f"{rel}: {line}"
                )


# --- image -------------------------------------------------------------------


def test_dockerfile_multistage_pinned_non_root(app: Rendered) -> None:
    lines = app.text("Dockerfile").splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2  # build + runtime
    for line in froms:
        assert IMAGE_FROM.match(line), line
    assert len({line.split(" AS ")[0] for line in froms}) == 1  # same base
    runtime = lines[lines.index(froms[-1]) :]
    users = [line for line in runtime if line.startswith("USER ")]
    assert users == ["USER 10001:10001"]
    assert runtime.index(users[0]) > max(
        i for i, line in enumerate(runtime) if line.startswith(("RUN ", "COPY "))
    )
    assert runtime[-1] == f'ENTRYPOINT ["python", "-m", "{app.package}"]'
    ignore = app.text(".dockerignore").splitlines()
    assert "*" in ignore and "!src/" in ignore  # allow-list build context


def test_python_version_is_consistent(app: Rendered) -> None:
    """Image, CI (setup-python reads .python-version) and lint target agree."""
    version = app.text(".python-version").strip()
    froms = IMAGE_FROM.finditer(app.text("Dockerfile"))
    assert {m["tag"].rsplit(".", 1)[0] for m in froms} == {version}
    project = tomllib.loads(app.text("pyproject.toml"))
    assert project["project"]["requires-python"] == f">={version}"
    assert project["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")


def test_port_is_wired_consistently(app: Rendered) -> None:
    port = app.port
    dockerfile = app.text("Dockerfile")
    assert f"EXPOSE {port}\n" in dockerfile
    assert f"PORT={port}" in dockerfile
    assert f"DEFAULT_PORT = {port}\n" in app.text(f"src/{app.package}/config.py")
    assert f"localhost:{port}" in app.text("README.md")
    assert f"| `PORT` | `{port}` |" in app.text("README.md")
    build = workflow(app, "ci")["jobs"]["build"]
    assert build["env"]["PORT"] == str(port)


# --- repo hygiene files ------------------------------------------------------


def test_dependabot_covers_actions_docker_and_pip(app: Rendered) -> None:
    config = app.yaml(".github/dependabot.yml")
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "docker", "pip"}
    for update in ecosystems.values():
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"]


def test_codeowners_pr_template_precommit(app: Rendered) -> None:
    assert f"* {app.answers['codeowners']}\n" in app.text("CODEOWNERS")
    assert "## Rollout and rollback" in app.text(".github/pull_request_template.md")
    precommit = app.yaml(".pre-commit-config.yaml")
    revs = {r["repo"].rsplit("/", 1)[1]: r["rev"] for r in precommit["repos"]}
    assert all(re.fullmatch(r"v\d+\.\d+\.\d+", rev) for rev in revs.values()), revs
    dev = tomllib.loads(app.text("pyproject.toml"))["project"]["optional-dependencies"]
    assert f"ruff=={revs['ruff-pre-commit'].lstrip('v')}" in dev["dev"]
    assert all(re.fullmatch(r"[a-z-]+==[\d.]+", req) for req in dev["dev"])
    assert {req.split("==")[0] for req in dev["dev"]} == {"pytest", "ruff", "mypy"}


def test_answers_are_quoted_where_they_land_in_yaml_and_toml(
    custom_app: Rendered,
) -> None:
    project = tomllib.loads(custom_app.text("pyproject.toml"))["project"]
    assert project["description"] == CUSTOM_ANSWERS["description"]
    assert project["name"] == CUSTOM_ANSWERS["name"]
    release = workflow(custom_app, "release")
    assert (
        release["env"]["IMAGE"]
        == "registry.example.com:5000/team/payments/payments-api"
    )


def test_readme_explains_the_path_to_production(app: Rendered) -> None:
    readme = app.text("README.md")
    for needle in (
        "## New here? Run it locally",
        f"python -m {app.package}",
        "docker build",
        f"{app.answers['image_registry']}/{app.answers['name']}:sha-",
        app.answers["infra_repo"],
        f"apps/{app.answers['name']}/overlays/dev/kustomization.yaml",
        "**Promotion.**",
        "`git revert`",
        "PROMOTION_APP_CLIENT_ID",
    ):
        assert needle in readme, needle
    assert "CONTRIBUTING.md" in readme
    assert app.answers["default_branch"] in app.text("CONTRIBUTING.md")


# --- the generated service, for real -----------------------------------------


def service_env(app: Rendered, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PORT", "HOST", "LOG_LEVEL", "APP_VERSION"))
    }
    return {
        **env,
        "PYTHONPATH": str(app.path / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


@pytest.mark.slow
def test_generated_tests_and_lint_pass(app: Rendered) -> None:
    env = service_env(app, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    tests = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app.path,
        env=env,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    passed = re.search(r"\b(\d+) passed\b", tests.stdout)
    assert passed and int(passed[1]) >= 10, tests.stdout
    assert "skipped" not in tests.stdout, tests.stdout
    lint = run([str(VENV_BIN / "ruff"), "check", "--no-cache", "."], cwd=app.path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(
        [str(VENV_BIN / "ruff"), "format", "--check", "--no-cache", "."], cwd=app.path
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    # mypy --strict per the generated pyproject.toml; no cache written into the repo
    types = run([str(VENV_BIN / "mypy"), "--cache-dir", os.devnull], cwd=app.path)
    assert types.returncode == 0, types.stdout + types.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status), json.load(r)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err)


def test_service_serves_probes_and_stops_on_sigterm(default_app: Rendered) -> None:
    port = free_port()
    env = service_env(
        default_app, HOST="127.0.0.1", PORT=str(port), SHUTDOWN_DELAY_SECONDS="0"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", default_app.package],
        cwd=default_app.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                status = http_get(port, "/readyz")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "service never listened"
                time.sleep(0.05)
        assert status == (200, {"status": "ready"})
        assert http_get(port, "/healthz") == (200, {"status": "ok"})
        assert http_get(port, "/") == (200, {"service": "hello", "version": "dev"})
        assert http_get(port, "/missing")[0] == 404
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err == ""  # every log line is JSON on stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["message"] == "listening"
    assert records[0]["port"] == port
    # a handler thread logs after it has answered, so two requests' records may
    # come in either order; the shutdown record comes before the last one
    requests = {r["path"]: r for r in records if r["message"] == "request"}
    assert {"method": "GET", "status": 200}.items() <= requests["/"].items()
    assert requests["/missing"]["status"] == 404
    shutdown = next(r for r in records if r["message"] == "shutdown requested")
    assert shutdown["signal"] == "SIGTERM"
    assert records.index(shutdown) < len(records) - 1
    assert records[-1]["message"] == "stopped"


def test_service_rejects_bad_port_with_exit_2(default_app: Rendered) -> None:
    proc = run(
        [sys.executable, "-m", default_app.package],
        cwd=default_app.path,
        env=service_env(default_app, PORT="eighty"),
        timeout=30,
    )
    assert proc.returncode == 2
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["level"] == "error"
    assert "PORT must be an integer" in record["error"]
