"""Alerts reach someone. Alertmanager routes every alert (but the
Watchdog heartbeat) to the fleet's receiver, whose URL comes from a Secret; Flux sends
reconciliation errors to the same target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.layout import DEFAULT_ENVIRONMENTS as ENVIRONMENTS
from tests.helpers import fleet_answers, render, slow_except
from tests.infra_helpers import load_yaml_objects

CONFIGS = {
    "slack": "slack_configs",
    "msteams": "msteams_configs",
    "webhook": "webhook_configs",
}
URL_KEYS = {
    "slack": "api_url_file",
    "msteams": "webhook_url_file",
    "webhook": "url_file",
}
ENGINES = ("flux", "argocd")
RECEIVERS = ("slack", "msteams", "webhook", "none")
FLUX_TYPES = {"slack": "slack", "msteams": "msteams", "webhook": "generic"}


def _fleet(template_repo: Path, dest: Path, engine: str, receiver: str) -> Path:
    # slack is the default answer: that fleet is the one other modules render too
    extra = {} if receiver == "slack" else {"alerts_receiver": receiver}
    return render(template_repo, dest, fleet_answers(engine, **extra))


def _values(fleet: Path, engine: str) -> dict[str, Any]:
    if engine == "flux":
        objs = load_yaml_objects(
            fleet / "infrastructure/controllers/kube-prometheus-stack.yaml"
        )
        release = next(o for o in objs if o["kind"] == "HelmRelease")
        return dict(release["spec"]["values"])
    objs = load_yaml_objects(fleet / "projects/platform.yaml")
    app = next(o for o in objs if o["metadata"]["name"] == "kube-prometheus-stack")
    return dict(app["spec"]["source"]["helm"]["valuesObject"])


@pytest.mark.parametrize(
    ("engine", "receiver"),
    # the inner loop renders three fleets: slack on both engines, none on Flux
    slow_except(
        [(e, r) for e in ENGINES for r in RECEIVERS],
        inner={("flux", "slack"), ("argocd", "slack"), ("flux", "none")},
    ),
)
def test_alertmanager_routes_to_the_receiver(
    template_repo: Path, tmp_path: Path, engine: str, receiver: str
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", engine, receiver)
    am = _values(fleet, engine)["alertmanager"]
    route, receivers = am["config"]["route"], am["config"]["receivers"]
    by_name = {r["name"]: r for r in receivers}
    assert by_name["null"] == {"name": "null"}
    assert route["routes"] == [
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']}
    ]
    if receiver == "none":
        assert route["receiver"] == "null" and set(by_name) == {"null"}
        return
    assert route["receiver"] == "fleet"  # no longer the chart's null receiver
    (target,) = by_name["fleet"][CONFIGS[receiver]]
    url_file = Path(target[URL_KEYS[receiver]])
    spec = am["alertmanagerSpec"]
    (mount,) = spec["volumeMounts"]
    (volume,) = spec["volumes"]
    assert url_file.parent == Path(mount["mountPath"]) and url_file.name == "url"
    assert volume["name"] == mount["name"]
    # the URL is a Secret; optional, so Alertmanager starts before it exists
    assert volume["secret"] == {"secretName": "alert-webhook", "optional": True}


@pytest.mark.parametrize("receiver", slow_except(RECEIVERS, inner={"slack", "none"}))
def test_flux_sends_reconciliation_errors_to_the_receiver(
    template_repo: Path, tmp_path: Path, receiver: str
) -> None:
    fleet = _fleet(template_repo, tmp_path / "f", "flux", receiver)
    for env in ENVIRONMENTS:
        objs = load_yaml_objects(fleet / f"clusters/{env}/notifications.yaml")
        named = {(o["kind"], o["metadata"]["name"]): o for o in objs}
        assert ("Provider", "github-status") in named  # commit statuses stay
        if receiver == "none":
            assert ("Provider", "alerts") not in named
            continue
        provider = named["Provider", "alerts"]["spec"]
        assert provider == {
            "type": FLUX_TYPES[receiver],
            "secretRef": {"name": "alert-webhook"},
        }
        alert = named["Alert", "alerts"]["spec"]
        assert alert["providerRef"] == {"name": "alerts"}
        assert alert["eventSeverity"] == "error"
        kinds = {s["kind"] for s in alert["eventSources"]}
        assert {"Kustomization", "HelmRelease", "GitRepository"} <= kinds
        assert alert["eventMetadata"] == {"cluster": env}


@pytest.mark.parametrize("receiver", slow_except(["slack", "none"], inner={"slack"}))
def test_argocd_notifications_go_to_the_receiver(
    template_repo: Path, tmp_path: Path, receiver: str
) -> None:
    """Argo CD: failed syncs and degraded apps reach the receiver through a
    notifications webhook whose URL is a secret reference; every Application and
    every ApplicationSet template subscribes to it."""
    fleet = _fleet(template_repo, tmp_path / "f", "argocd", receiver)
    argo = fleet / "bootstrap/argo-cd"
    patches = [
        p["path"] for p in load_yaml_objects(argo / "kustomization.yaml")[0]["patches"]
    ]
    subscribed: list[dict[str, Any]] = []
    for path in (fleet / "projects").glob("*.yaml"):
        for obj in load_yaml_objects(path):
            if obj["kind"] == "Application":
                subscribed.append(obj["metadata"].get("annotations", {}))
            elif obj["kind"] == "ApplicationSet":
                meta = obj["spec"]["template"]["metadata"]
                subscribed.append(meta.get("annotations", {}))
    assert len(subscribed) >= 1 + len(ENVIRONMENTS)
    keys = {
        "notifications.argoproj.io/subscribe.on-sync-failed-alert.fleet-alerts",
        "notifications.argoproj.io/subscribe.on-health-degraded-alert.fleet-alerts",
    }
    if receiver == "none":
        assert "argocd-notifications-alerts.yaml" not in patches
        assert not (argo / "argocd-notifications-alerts.yaml").exists()
        assert all(not keys & set(a) for a in subscribed)
        return
    assert "argocd-notifications-alerts.yaml" in patches
    (cm,) = load_yaml_objects(argo / "argocd-notifications-alerts.yaml")
    assert cm["metadata"]["name"] == "argocd-notifications-cm"
    data = cm["data"]
    service = yaml.safe_load(data["service.webhook.fleet-alerts"])
    assert service["url"] == "$alert-webhook-url"  # a secret reference, no URL
    for trigger, template in (
        ("trigger.on-sync-failed-alert", "alert-sync-failed"),
        ("trigger.on-health-degraded-alert", "alert-health-degraded"),
    ):
        (rule,) = yaml.safe_load(data[trigger])
        assert rule["send"] == [template]
        hook = yaml.safe_load(data[f"template.{template}"])["webhook"]["fleet-alerts"]
        assert hook["method"] == "POST" and '"text"' in hook["body"]
    for found in subscribed:
        assert {k: found.get(k) for k in keys} == dict.fromkeys(keys, "")
