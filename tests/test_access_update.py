"""Apps registered before access as code get the wiring through
``scaffold update``.

The template repo's v1.0.0 is this project's templates as they were before the
change (commit BEFORE, read from this repository's history with ``git archive``),
v1.1.0 is the current tree. A fleet with two apps is generated at v1.0.0 and
updated with services.update (real copier, real git, real kustomize).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.layout import DEFAULT_ENVIRONMENTS
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from scaffold.services.update import update_instances
from tests.helpers import PROJECT_ROOT, commit_all, copy_template_tree, git, render
from tests.infra_helpers import kustomize_build, load_yaml_objects

pytestmark = pytest.mark.slow

# the last commit whose templates have no access wiring (no team, no tenants)
BEFORE = "d9948b44b66105e16a1ac72460daac689c9ab2c1"
APPS = ("api", "web")


@pytest.fixture(scope="session")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("access-versions") / "tpl"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", BEFORE, "copier.yml", "templates"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    assert "team" not in yaml.safe_load((repo / "copier.yml").read_text())
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "templates before access")
    git(repo, "tag", "v1.0.0")
    shutil.rmtree(repo / "templates")
    copy_template_tree(repo)
    commit_all(repo, "templates with access")
    git(repo, "tag", "v1.1.0")
    return repo


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_update_wires_access_into_existing_apps(
    versions: Path, tmp_path: Path, engine: str
) -> None:
    fleet = tmp_path / "fleet-infra"
    answers = {
        "repo_kind": "infra",
        "name": "fleet-infra",
        "owner": "acme",
        "gitops_engine": engine,
        "secrets": "none",
    }
    render(versions, fleet, data=answers, ref="v1.0.0", git_init=True)
    g = Git()
    old = TemplateSource(url=str(versions), ref="v1.0.0")
    for name in APPS:
        add_app(
            fleet_path=fleet,
            answers={"name": name, "app_image": f"ghcr.io/acme/{name}"},
            source=old,
            templates=CopierTemplates(git=g),
            git=g,
        )
    codeowners = (fleet / ".github/CODEOWNERS").read_text()
    assert "/apps/web/" not in codeowners  # no team yet: nothing appended
    if engine == "flux":
        assert (fleet / "apps/web/overlays/dev/namespace.yaml").is_file()

    report = update_instances(
        fleet, to_ref=None, templates=CopierTemplates(git=g), git=g
    )
    assert report.conflicted is None, report.conflicted
    assert [r.instance for r in report.results] == ["", "apps/api", "apps/web"]
    assert all(r.to_version == "v1.1.0" and r.commit for r in report.results)
    assert git(fleet, "status", "--porcelain").strip() == ""

    for name in APPS:
        app_answers = yaml.safe_load(
            (fleet / f"apps/{name}/.copier-answers.yml").read_text()
        )
        # default team: the fleet's CODEOWNERS team
        assert app_answers["team"] == "@acme/platform"
        assert app_answers["team_group"] == "acme:platform"
        # the app's own update commit carries its CODEOWNERS line
        result = next(r for r in report.results if r.instance == f"apps/{name}")
        assert ".github/CODEOWNERS" in result.changed
    codeowners = (fleet / ".github/CODEOWNERS").read_text()
    assert codeowners.count("# >>> scaffold: app owners") == 1
    for name in APPS:
        assert f"/apps/{name}/ " in codeowners

    for env in DEFAULT_ENVIRONMENTS:
        for name in APPS:
            objs = kustomize_build(fleet, f"apps/{name}/overlays/{env}").objects
            kinds = {o["kind"] for o in objs}
            assert "RoleBinding" in kinds
            if engine == "flux":
                assert "Namespace" not in kinds
                assert not (
                    fleet / f"apps/{name}/overlays/{env}/namespace.yaml"
                ).exists()
                tenant = load_yaml_objects(fleet / f"clusters/{env}/apps/{name}.yaml")
                ks = next(o for o in tenant if o["kind"] == "Kustomization")
                assert ks["spec"]["serviceAccountName"] == f"app-{name}"
                assert {o["kind"] for o in tenant} >= {
                    "Namespace",
                    "ServiceAccount",
                    "RoleBinding",
                }
        if engine == "argocd":
            project = next(
                o
                for o in load_yaml_objects(fleet / f"projects/{env}.yaml")
                if o["kind"] == "AppProject"
            )
            roles = {r["name"]: r for r in project["spec"]["roles"]}
            assert roles["app-web"]["groups"] == ["acme:platform"]
            assert roles["app-web"]["policies"][-1] == (
                f"p, proj:{env}:app-web, applications, sync, {env}/web-{env}, allow"
            )
    if engine == "argocd":
        assert (fleet / "bootstrap/argo-cd/argocd-rbac-cm.yaml").is_file()
