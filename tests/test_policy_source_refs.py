"""policies/source_refs.py: source-mutable-ref."""

from __future__ import annotations

from typing import Any

import pytest

from scaffold.services.check import policies


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
