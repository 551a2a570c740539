"""Where a fleet app's answers file lives, with plain copier and through scaffold.

The root copier.yml computes ``_answers_file`` with Jinja, so a ``fleet-app`` keeps its
answers in ``apps/<name>/.copier-answers.yml`` and the answers template sits at the
template root (``{{_copier_conf.answers_file}}.jinja``): copier emits no
DeprecationWarning about answers-file templates outside the template root.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.models import TemplateSource
from tests.helpers import TEMPLATE_TAG, render

FLEET = {
    "repo_kind": "infra",
    "name": "fleet",
    "owner": "acme",
    "gitops_engine": "flux",
    "secrets": "none",
}
APP = {
    "repo_kind": "fleet-app",
    "name": "web",
    "owner": "acme",
    "gitops_engine": "flux",
    "secrets": "none",
}


def test_plain_copier_puts_fleet_app_answers_beside_the_app(
    template_repo: Path, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any copier warning fails the test
        render(template_repo, fleet, FLEET, overwrite=True)
        root_before = (fleet / ".copier-answers.yml").read_text()
        render(
            template_repo, fleet, APP, overwrite=True
        )  # no answers_file: the template decides
    assert (fleet / ".copier-answers.yml").read_text() == root_before
    app = yaml.safe_load((fleet / "apps/web/.copier-answers.yml").read_text())
    assert app["repo_kind"] == "fleet-app" and app["name"] == "web"
    assert app["_commit"] == TEMPLATE_TAG
    root = yaml.safe_load(root_before)
    assert root["repo_kind"] == "infra"


@pytest.mark.slow
def test_app_and_infra_keep_the_root_answers_file(
    template_repo: Path, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("app", "infra"):
            dst = tmp_path / kind
            data = {"repo_kind": kind, "name": "x", "owner": "a", "secrets": "none"}
            if kind == "app":
                del data["secrets"]
            render(template_repo, dst, data, overwrite=True)
            answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
            assert answers["repo_kind"] == kind
            assert not list(dst.glob("*/**/.copier-answers.yml"))


@pytest.mark.slow
def test_adapter_reports_no_copier_notes_for_a_fleet_app(
    template_repo: Path, tmp_path: Path
) -> None:
    """The adapter turns copier's warnings into notes; there must be none."""
    templates = CopierTemplates(git=Git())
    source = TemplateSource(url=str(template_repo), ref=TEMPLATE_TAG)
    for answers_file in (None, "apps/web/.copier-answers.yml"):
        dst = tmp_path / f"out-{answers_file is None}"
        rendered = templates.render_with_notes(
            source, dst, dict(APP), answers_file=answers_file
        )
        assert rendered.notes == []
        assert (dst / "apps/web/.copier-answers.yml").is_file()
        assert not (dst / ".copier-answers.yml").exists()
