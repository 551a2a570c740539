"""The smaller day-one defects of the generated manifests, each with the
check that would have caught it (probes, UID, digest pinning, prod ApplicationSets,
self-managed Argo CD bootstrap, Kyverno prod enforcement, Grafana's password, the
infra-controllers timeout, where app secrets live)."""

from __future__ import annotations

import itertools
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.layout import DEFAULT_ENVIRONMENTS as ENVIRONMENTS
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from tests.dayone_helpers import load_job
from tests.helpers import TEMPLATE_TAG, fleet_answers, render
from tests.infra_helpers import kustomize_build, load_yaml_objects

KPS = "infrastructure/controllers/kube-prometheus-stack.yaml"


def _fleet(template_repo: Path, dest: Path, engine: str) -> Path:
    render(template_repo, dest, fleet_answers(engine), git_init=True)
    g = Git()
    add_app(
        fleet_path=dest,
        answers={"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.0.1"},
        source=TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG),
        templates=CopierTemplates(git=g),
        git=g,
    )
    return dest


@pytest.fixture(scope="module")
def flux(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fleet(template_repo, tmp_path_factory.mktemp("flux") / "f", "flux")


@pytest.fixture(scope="module")
def argocd(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fleet(template_repo, tmp_path_factory.mktemp("argo") / "f", "argocd")


@pytest.fixture(scope="module")
def app(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = {"repo_kind": "app", "name": "web", "owner": "acme"}
    return render(template_repo, tmp_path_factory.mktemp("app") / "web", data)


def _deployment(fleet: Path, env: str) -> dict[str, Any]:
    objs = kustomize_build(fleet, f"apps/web/overlays/{env}").objects
    return next(o for o in objs if o["kind"] == "Deployment")


def test_readiness_calls_readyz_and_liveness_healthz(flux: Path, app: Path) -> None:
    # the app drains through /readyz on SIGTERM: a readiness probe on /healthz would
    # keep sending it traffic while it shuts down
    server = next(app.rglob("app.py")).read_text()
    assert '"/readyz"' in server and '"/healthz"' in server
    for env in ENVIRONMENTS:
        (container,) = _deployment(flux, env)["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_image_uid_is_the_deployments_run_as_user(flux: Path, app: Path) -> None:
    users = re.findall(r"(?m)^USER (\d+):(\d+)$", (app / "Dockerfile").read_text())
    assert len(users) == 1
    uid, gid = map(int, users[0])
    for env in ENVIRONMENTS:
        pod = _deployment(flux, env)["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (uid, gid, gid)


def test_promotion_pins_tag_and_digest(flux: Path, app: Path) -> None:
    promote = load_job(app / ".github/workflows/release.yaml", "promote")
    (edit,) = [s for s in promote["steps"] if "kustomize edit" in s.get("run", "")]
    assert 'kustomize edit set image "$IMAGE=$IMAGE:$TAG@$DIGEST"' in edit["run"]
    assert promote["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    fleet_promote = load_job(flux / ".github/workflows/promote.yaml", "promote")
    (copy,) = [s for s in fleet_promote["steps"] if s.get("id") == "copy"]
    assert ".images[0].digest = strenv(DIGEST)" in copy["run"]
    # what the dev overlay then holds, as Flux builds it
    overlay = flux / "apps/web/overlays/dev/kustomization.yaml"
    original = overlay.read_text()
    digest = "sha256:" + "a" * 64
    doc = yaml.safe_load(original)
    doc["images"][0].update(newTag="sha-" + "1" * 40, digest=digest)
    overlay.write_text(yaml.safe_dump(doc))
    try:
        (container,) = _deployment(flux, "dev")["spec"]["template"]["spec"][
            "containers"
        ]
    finally:
        overlay.write_text(original)
    assert container["image"] == f"ghcr.io/acme/web:sha-{'1' * 40}@{digest}"


def test_prod_application_set_preserves_resources_on_deletion(argocd: Path) -> None:
    for env in ENVIRONMENTS:
        objs = load_yaml_objects(argocd / f"projects/{env}.yaml")
        appset = next(o for o in objs if o["kind"] == "ApplicationSet")
        preserve = (
            appset["spec"].get("syncPolicy", {}).get("preserveResourcesOnDeletion")
        )
        assert preserve is (True if env == "prod" else None), env


def _braces(pattern: str) -> list[str]:
    """Expand one ``{a,b}`` group (Argo CD's directory include syntax)."""
    m = re.fullmatch(r"\{(.*)\}", pattern)
    return m.group(1).split(",") if m else [pattern]


def test_argo_bootstrap_applications_are_reconciled_from_git(argocd: Path) -> None:
    """Like argocd-autopilot: ``root`` manages itself and ``argo-cd``, so a change to
    either is a PR, not a kubectl apply."""
    for env in ENVIRONMENTS:
        (root,) = load_yaml_objects(argocd / f"bootstrap/root-{env}.yaml")
        source = root["spec"]["source"]
        assert source["path"] == "." and source["directory"]["recurse"] is True
        include = _braces(source["directory"]["include"])
        managed = {
            str(p.relative_to(argocd))
            for p in itertools.chain(
                (argocd / "bootstrap").glob("*.yaml"),
                (argocd / "projects").glob("*.yaml"),
            )
            if any(fnmatch(str(p.relative_to(argocd)), pat) for pat in include)
        }
        assert managed == {
            "bootstrap/argo-cd.yaml",
            f"bootstrap/root-{env}.yaml",
            "projects/platform.yaml",
            f"projects/{env}.yaml",
        }


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_prod_enforces_every_rule_of_every_policy(
    engine: str, flux: Path, argocd: Path
) -> None:
    fleet = flux if engine == "flux" else argocd
    for env in ENVIRONMENTS:
        policies = [
            o
            for o in kustomize_build(fleet, f"infrastructure/configs/{env}").objects
            if o["kind"] == "ClusterPolicy"
        ]
        assert len(policies) == 5
        actions = {
            (p["metadata"]["name"], r["name"]): r["validate"]["failureAction"]
            for p in policies
            for r in p["spec"]["rules"]
        }
        expected = "Enforce" if env == "prod" else "Audit"
        assert set(actions.values()) == {expected}, (env, actions)
    doc = yaml.safe_load(
        (fleet / "infrastructure/configs/prod/kustomization.yaml").read_text()
    )
    assert all(p["target"].get("name") for p in doc["patches"])  # by name, never all


def test_grafana_admin_password_comes_from_a_secret(flux: Path, argocd: Path) -> None:
    release = next(
        o for o in load_yaml_objects(flux / KPS) if o["kind"] == "HelmRelease"
    )
    app = next(
        o
        for o in load_yaml_objects(argocd / "projects/platform.yaml")
        if o["metadata"]["name"] == "kube-prometheus-stack"
    )
    for values in (
        release["spec"]["values"],
        app["spec"]["source"]["helm"]["valuesObject"],
    ):
        admin = values["grafana"]["admin"]
        assert admin == {
            "existingSecret": "grafana-admin",
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        }
        assert "adminPassword" not in values["grafana"]


def _minutes(duration: str) -> float:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert m and duration, duration
    h, mi, s = (int(x or 0) for x in m.groups())
    return h * 60 + mi + s / 60


def test_infra_controllers_outlast_a_first_kube_prometheus_stack_install(
    flux: Path,
) -> None:
    release = next(
        o for o in load_yaml_objects(flux / KPS) if o["kind"] == "HelmRelease"
    )
    attempt = _minutes(release["spec"]["timeout"])
    for env in ENVIRONMENTS:
        objs = load_yaml_objects(flux / f"clusters/{env}/infrastructure.yaml")
        ks = next(o for o in objs if o["metadata"]["name"] == "infra-controllers")
        # at least a failed attempt and its retry fit before the health check gives up
        assert _minutes(ks["spec"]["timeout"]) >= 2 * attempt, env


def test_cluster_secrets_readme_sends_app_secrets_to_the_overlay(
    template_repo: Path, tmp_path: Path
) -> None:
    data = {"repo_kind": "infra", "name": "f", "owner": "acme", "gitops_engine": "flux",
            "secrets": "sealed-secrets"}  # fmt: skip
    fleet = render(template_repo, tmp_path / "f", data)
    for env in ENVIRONMENTS:
        text = (fleet / f"secrets/{env}/README.md").read_text()
        assert f"`apps/<app>/overlays/{env}/`" in text
        assert "-n my-app-" not in text  # no app secret examples here


LABEL = {"scaffold.dev/system": "true"}


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_system_namespaces_are_excluded_by_label(
    engine: str, flux: Path, argocd: Path
) -> None:
    fleet = flux if engine == "flux" else argocd
    policies = [
        o
        for o in kustomize_build(fleet, "infrastructure/configs/prod").objects
        if o["kind"] == "ClusterPolicy"
    ]
    for policy in policies:
        for rule in policy["spec"]["rules"]:
            (entry,) = rule["exclude"]["any"]
            assert entry == {"resources": {"namespaceSelector": {"matchLabels": LABEL}}}
    labelled: set[str] = set()
    if engine == "flux":
        for path in (fleet / "infrastructure/controllers").glob("*.yaml"):
            for obj in load_yaml_objects(path):
                if (
                    obj["kind"] == "Namespace"
                    and obj["metadata"].get("labels") == LABEL
                ):
                    labelled.add(obj["metadata"]["name"])
        # flux-system comes from flux bootstrap's gotk-components.yaml: the cluster's
        # kustomization.yaml (kept by bootstrap) labels it
        for env in ENVIRONMENTS:
            doc = yaml.safe_load(
                (fleet / f"clusters/{env}/flux-system/kustomization.yaml").read_text()
            )
            (patch,) = [
                p
                for p in doc["patches"]
                if p["target"] == {"kind": "Namespace", "name": "flux-system"}
            ]
            assert yaml.safe_load(patch["patch"]) == [
                {
                    "op": "add",
                    "path": "/metadata/labels/scaffold.dev~1system",
                    "value": "true",
                }
            ]
        labelled.add("flux-system")
    else:
        (ns,) = load_yaml_objects(fleet / "bootstrap/argo-cd/namespace.yaml")
        assert ns["metadata"]["labels"] == LABEL
        labelled.add("argocd")
        for obj in load_yaml_objects(fleet / "projects/platform.yaml"):
            if "CreateNamespace=true" in obj.get("spec", {}).get("syncPolicy", {}).get(
                "syncOptions", []
            ):
                meta = obj["spec"]["syncPolicy"]["managedNamespaceMetadata"]
                assert meta == {"labels": LABEL}
                labelled.add(obj["spec"]["destination"]["namespace"])
    assert labelled >= {"monitoring", "kyverno"}
