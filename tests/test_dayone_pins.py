"""Every platform pin is a current, supported patch release (never an
x.y.0), cited in a comment, and fleets carry a Renovate configuration whose managers
really find those pins (Dependabot keeps the GitHub Actions)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import fleet_answers, render
from tests.infra_helpers import load_yaml_objects

# looked up in the projects' own release tags (see the comments in the templates)
EXPECTED = {
    "argo-cd": "v3.5.1",
    "kyverno": "3.8.2",
    "kube-prometheus-stack": "88.5.3",
    "sealed-secrets": "2.18.5",
    "ksops": "v4.5.1",
    "flux": "v2.9.4",
}


@pytest.fixture(scope="module")
def fleets(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    result = {}
    for engine in ("flux", "argocd"):
        for secrets in ("sops", "sealed-secrets"):
            data = fleet_answers(engine, secrets)
            dest = tmp_path_factory.mktemp(f"{engine}-{secrets}") / "f"
            result[f"{engine}-{secrets}"] = render(template_repo, dest, data)
    return result


def _pins(fleet: Path) -> dict[str, str]:
    """Every platform pin of the fleet, by name."""
    pins: dict[str, str] = {}
    for path in [
        *fleet.glob("infrastructure/controllers/*.yaml"),
        *fleet.glob("projects/*.yaml"),
    ]:
        for obj in load_yaml_objects(path):
            if obj["kind"] == "HelmRelease":
                pins[obj["spec"]["chart"]["spec"]["chart"]] = obj["spec"]["chart"][
                    "spec"
                ]["version"]
            source = obj.get("spec", {}).get("source", {})
            if obj["kind"] == "Application" and "chart" in source:
                pins[source["chart"]] = str(source["targetRevision"])
    boot = fleet / "bootstrap/argo-cd/kustomization.yaml"
    if boot.is_file():
        (url,) = [
            r for r in yaml.safe_load(boot.read_text())["resources"] if "://" in r
        ]
        pins["argo-cd"] = re.search(r"/argo-cd/(v[^/]+)/", url).group(1)  # type: ignore[union-attr]
    ksops = fleet / "bootstrap/argo-cd/argocd-repo-server-ksops.yaml"
    if ksops.is_file():
        pins["ksops"] = re.search(
            r"image: viaductoss/ksops:(\S+)", ksops.read_text()
        ).group(1)  # type: ignore[union-attr]
    script = (fleet / "scripts/bootstrap.sh").read_text()
    if 'FLUX_VERSION="' in script:
        pins["flux"] = re.search(r'FLUX_VERSION="([^"]+)"', script).group(1)  # type: ignore[union-attr]
    return pins


def test_pins_are_the_looked_up_patch_releases(fleets: dict[str, Path]) -> None:
    seen: dict[str, str] = {}
    for fleet in fleets.values():
        for name, version in _pins(fleet).items():
            assert not re.fullmatch(r"v?\d+\.\d+\.0", version), (name, version)
            assert seen.setdefault(name, version) == version  # Flux and Argo agree
    assert seen == EXPECTED


def _re(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) regex as a Python one."""
    return re.compile(pattern.replace("(?<", "(?P<"))


def _file_pattern(pattern: str) -> re.Pattern[str]:
    assert pattern.startswith("/") and pattern.endswith("/"), pattern
    return _re(pattern[1:-1])


def test_renovate_finds_every_pin(fleets: dict[str, Path]) -> None:
    for fleet in fleets.values():
        config = json.loads((fleet / "renovate.json").read_text())
        assert config["github-actions"] == {"enabled": False}  # Dependabot's job
        dependabot = yaml.safe_load((fleet / ".github/dependabot.yml").read_text())
        assert [u["package-ecosystem"] for u in dependabot["updates"]] == [
            "github-actions"
        ]
        files = [
            str(p.relative_to(fleet)) for p in fleet.rglob("*")
            if p.is_file() and ".git" not in p.parts
        ]  # fmt: skip
        found: dict[str, str] = {}
        for manager in config["customManagers"]:
            patterns = [_file_pattern(p) for p in manager["managerFilePatterns"]]
            matched = [f for f in files if any(p.search(f) for p in patterns)]
            assert matched, manager["description"]
            for rel in matched:
                for string in manager["matchStrings"]:
                    m = _re(string).search((fleet / rel).read_text())
                    assert m, (rel, string)
                    name = manager.get("depNameTemplate") or m.group("depName")
                    found[name] = m.group("currentValue")
        # the built-in managers see the charts
        builtin = "flux" if (fleet / "clusters").is_dir() else "argocd"
        patterns = [_file_pattern(p) for p in config[builtin]["managerFilePatterns"]]
        chart_dirs = ("infrastructure/controllers/", "projects/")
        chart_files = [
            f for f in files if f.startswith(chart_dirs) and f.endswith(".yaml")
        ]
        assert all(any(p.search(f) for p in patterns) for f in chart_files)
        pins = _pins(fleet)
        expected = {"fluxcd/flux2": pins["flux"]} if builtin == "flux" else {
            "argoproj/argo-cd": pins["argo-cd"],
            **({"viaductoss/ksops": pins["ksops"]} if "ksops" in pins else {}),
        }  # fmt: skip
        assert found == expected
