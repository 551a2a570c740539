"""Grafana dashboards in generated fleets: delivered as ConfigMaps the Grafana sidecar
of kube-prometheus-stack loads, valid dashboard JSON, and querying only metrics the
engines document (tests/data/dashboards/documented-metrics.yaml, with citations)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.helpers import PROJECT_ROOT, fleet_answers, render
from tests.infra_helpers import kustomize_build, load_yaml_objects

DOCUMENTED = yaml.safe_load(
    (PROJECT_ROOT / "tests/data/dashboards/documented-metrics.yaml").read_text()
)
ENGINES = ("flux", "argocd")
DASHBOARD_NAME = {"flux": "flux", "argocd": "argo-cd"}

#: the part of Grafana's dashboard model (schemaVersion 39) the sidecar and Grafana
#: need, strictly: every panel placed on the 24-column grid, every query with an
#: expression against the dashboard's Prometheus data source variable
DATASOURCE = {
    "type": "object",
    "properties": {
        "type": {"const": "prometheus"},
        "uid": {"const": "${datasource}"},
    },
    "required": ["type", "uid"],
    "additionalProperties": False,
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "editable": {"const": False},
        "tags": {"type": "array", "items": {"type": "string"}},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {
                            "type": {"enum": ["datasource", "query"]},
                            "datasource": DATASOURCE,
                        },
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": ["row", "stat", "timeseries", "table"]},
                    "title": {"type": "string", "minLength": 1},
                    "datasource": DATASOURCE,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "targets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "refId": {"type": "string"},
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": DATASOURCE,
                            },
                        },
                    },
                },
                "if": {"properties": {"type": {"not": {"const": "row"}}}},
                "then": {"required": ["datasource", "targets", "description"]},
            },
        },
    },
}

_PROMQL_NOT_METRICS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


def promql_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions,
    keywords, label names (in ``{}`` or ``by (...)``), strings or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        if name in _PROMQL_NOT_METRICS or rest.startswith("("):
            continue
        names.add(name)
    return names


def test_promql_metrics_parser() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (kind, le) (rate(gotk_reconcile_duration_"
        'seconds_bucket{kind=~"$kind"}[5m]))) / on(kind) group_left up'
        ' or vector(0) and count(x{a="by (b)"} == 1)'
    )
    assert promql_metrics(expr) == {"gotk_reconcile_duration_seconds_bucket", "up", "x"}


def documented(name: str, engine: str) -> bool:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return name in DOCUMENTED[engine] or base in DOCUMENTED[engine]


@pytest.fixture(scope="module")
def fleets(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    result = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COPIER_CACHE_DIR", str(tmp_path_factory.mktemp("copier-cache")))
        for engine in ENGINES:
            dest = tmp_path_factory.mktemp(engine) / "fleet"
            data = fleet_answers(engine)
            result[engine] = render(template_repo, dest, data)
    return result


def _dashboards(fleet: Path) -> dict[str, dict[str, Any]]:
    """ConfigMap name -> dashboard, from the built configs base."""
    build = kustomize_build(fleet, "infrastructure/configs/base")
    assert build.stderr.strip() == ""
    result = {}
    for obj in build.objects:
        if obj["kind"] != "ConfigMap":
            continue
        meta = obj["metadata"]
        # what kube-prometheus-stack's sidecar selects (grafana.sidecar.dashboards)
        assert meta["labels"] == {"grafana_dashboard": "1"}, meta
        assert meta["namespace"] == "monitoring"
        ((key, text),) = obj["data"].items()
        assert key.endswith(".json")
        result[meta["name"]] = json.loads(text)
    return result


@pytest.mark.parametrize("engine", ENGINES)
def test_fleet_ships_its_engine_and_kyverno_dashboards(
    fleets: dict[str, Path], engine: str
) -> None:
    boards = _dashboards(fleets[engine])
    assert set(boards) == {
        f"grafana-dashboard-{DASHBOARD_NAME[engine]}",
        "grafana-dashboard-kyverno",
    }
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids)


def _panels_overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_dashboards_are_valid_and_query_documented_metrics(
    fleets: dict[str, Path], engine: str
) -> None:
    for name, board in _dashboards(fleets[engine]).items():
        jsonschema.validate(board, DASHBOARD_SCHEMA)
        panels = board["panels"]
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), name
        for i, a in enumerate(panels):
            assert a["gridPos"]["x"] + a["gridPos"]["w"] <= 24, a["title"]
            for b in panels[i + 1 :]:
                assert not _panels_overlap(a["gridPos"], b["gridPos"]), (
                    name,
                    a["title"],
                    b["title"],
                )
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        source = "kyverno" if name.endswith("kyverno") else engine
        queries = [t["expr"] for p in panels for t in p.get("targets", [])]
        queries += [
            re.sub(r"^label_values\((\w+),.*$", r"\1", v["definition"])
            for v in variables.values()
            if v["type"] == "query"
        ]
        used = set().union(*(promql_metrics(q) for q in queries))
        undocumented = sorted(m for m in used if not documented(m, source))
        assert not undocumented, f"{name}: not in {source}'s documented metrics"
        for panel in panels:
            if panel["type"] != "row":
                assert any(promql_metrics(t["expr"]) for t in panel["targets"]), panel


def _metrics_by_panel(board: dict[str, Any]) -> list[set[str]]:
    return [
        {
            re.sub(r"_(bucket|sum|count)$", "", m)
            for t in p.get("targets", [])
            for m in promql_metrics(t["expr"])
        }
        for p in board["panels"]
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_dashboards_cover_what_the_issue_names(
    fleets: dict[str, Path], engine: str
) -> None:
    boards = _dashboards(fleets[engine])
    kyverno = _metrics_by_panel(boards["grafana-dashboard-kyverno"])
    for metric in DOCUMENTED["kyverno_policy_metrics"]:
        assert any(metric in panel for panel in kyverno), metric
    own = _metrics_by_panel(boards[f"grafana-dashboard-{DASHBOARD_NAME[engine]}"])
    want = {
        "flux": {
            "gotk_resource_info",
            "gotk_reconcile_duration_seconds",
            "controller_runtime_reconcile_total",
            "controller_runtime_reconcile_errors_total",
        },
        "argocd": {"argocd_app_info", "argocd_app_sync_total", "argocd_app_reconcile"},
    }[engine]
    assert want <= set().union(*own)


@pytest.mark.parametrize("engine", ENGINES)
def test_kyverno_is_scraped(fleets: dict[str, Path], engine: str) -> None:
    """The chart's ServiceMonitors are on for every Kyverno controller."""
    if engine == "flux":
        path = fleets[engine] / "infrastructure/controllers/kyverno.yaml"
        (release,) = [o for o in load_yaml_objects(path) if o["kind"] == "HelmRelease"]
        values = release["spec"]["values"]
        assert release["spec"]["dependsOn"] == [
            {"name": "kube-prometheus-stack", "namespace": "monitoring"}
        ]
    else:
        path = fleets[engine] / "projects/platform.yaml"
        (app,) = [
            o
            for o in load_yaml_objects(path)
            if o["kind"] == "Application" and o["metadata"]["name"] == "kyverno"
        ]
        values = app["spec"]["source"]["helm"]["valuesObject"]
    for controller in (
        "admissionController",
        "backgroundController",
        "cleanupController",
        "reportsController",
    ):
        assert values[controller]["serviceMonitor"] == {"enabled": True}, controller
