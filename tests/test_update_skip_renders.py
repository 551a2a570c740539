"""The renamed-file guard of ``scaffold update`` renders the old and the new
template version only when the release can drop a file (a deletion, a rename, a
copier.yml change); otherwise the set of rendered files can only grow.

Renders are counted through the templates collaborator passed to
``update_instances`` (a thin counting wrapper around the real copier adapter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates, Rendered
from scaffold.models import TemplateSource
from scaffold.services.update import update_instances
from tests.helpers import (
    commit_all,
    git,
    make_tiny_template,
    release,
    render,
)

ANSWERS = {"repo_kind": "app", "name": "web", "owner": "acme"}


class CountingTemplates(CopierTemplates):
    """The real adapter, counting its ``copier copy`` renders."""

    def __init__(self, *, git: Git) -> None:
        super().__init__(git=git)
        self.renders: list[str] = []

    def render_with_notes(
        self,
        source: TemplateSource,
        dest: Path,
        answers: dict[str, Any],
        *,
        answers_file: str | None = None,
    ) -> Rendered:
        self.renders.append(source.ref or "")
        return super().render_with_notes(
            source, dest, answers, answers_file=answers_file
        )


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return make_tiny_template(
        tmp_path / "tpl",
        {
            "templates/app/README.md": "# readme v1\n",
            "templates/app/docs/guide.md": "guide v1\n",
        },
        "v1.0.0",
    )


def _project(template: Path, tmp_path: Path) -> Path:
    return render(template, tmp_path / "proj", ANSWERS, ref="v1.0.0", git_init=True)


def git_changes(template: Path) -> list[tuple[str, str]]:
    return Git().diff_status(template, "v1.0.0", "v1.1.0")


def _update(project: Path) -> tuple[CountingTemplates, Any]:
    templates = CountingTemplates(git=Git())
    report = update_instances(project, to_ref="v1.1.0", templates=templates, git=Git())
    return templates, report


def test_release_that_only_edits_and_adds_files_renders_nothing_extra(
    template: Path, tmp_path: Path
) -> None:
    project = _project(template, tmp_path)
    release(
        template,
        "v1.1.0",
        {
            "templates/app/README.md": "# readme v2\n",
            "templates/app/NEW.md": "new\n",
        },
    )
    templates, report = _update(project)
    assert templates.renders == []
    assert report.conflicted is None
    assert (project / "README.md").read_text() == "# readme v2\n"
    assert (project / "NEW.md").read_text() == "new\n"
    assert git(project, "log", "-1", "--format=%s").strip().endswith("v1.0.0 → v1.1.0")


@pytest.mark.slow
def test_release_that_deletes_an_edited_file_still_keeps_it(
    template: Path, tmp_path: Path
) -> None:
    project = _project(template, tmp_path)
    (project / "docs/guide.md").write_text("guide v1\nmy notes\n")
    commit_all(project, "my notes")
    release(template, "v1.1.0", {"templates/app/docs/guide.md": None})
    templates, report = _update(project)
    assert templates.renders == ["v1.0.0", "v1.1.0"]
    conflict = report.conflicted
    assert conflict is not None
    assert [c.path for c in conflict.conflicts] == ["docs/guide.md"]
    assert (project / "docs/guide.md").read_text() == "guide v1\nmy notes\n"


def test_release_that_renames_an_edited_file_still_keeps_it(
    template: Path, tmp_path: Path
) -> None:
    project = _project(template, tmp_path)
    (project / "docs/guide.md").write_text("guide v1\nmy notes\n")
    commit_all(project, "my notes")
    release(
        template,
        "v1.1.0",
        {
            "templates/app/docs/guide.md": None,
            "templates/app/docs/GUIDE.md": "guide v1\n",
        },
    )
    templates, report = _update(project)
    assert templates.renders == ["v1.0.0", "v1.1.0"]
    conflict = report.conflicted
    assert conflict is not None
    assert [c.path for c in conflict.conflicts] == ["docs/guide.md"]
    assert "docs/GUIDE.md" in conflict.conflicts[0].reason
    assert (project / "docs/guide.md").read_text() == "guide v1\nmy notes\n"


@pytest.mark.slow
def test_copier_yml_change_still_runs_the_guard(template: Path, tmp_path: Path) -> None:
    project = _project(template, tmp_path)
    (project / "docs/guide.md").write_text("guide v1\nmy notes\n")
    commit_all(project, "my notes")
    # the release only adds files, but copier.yml moves the subdirectory to a
    # copy without docs/guide.md: the guard must still run
    copier_yml = (template / "copier.yml").read_text()
    answers_tpl = "templates/app/{{ _copier_conf.answers_file }}.jinja"
    release(
        template,
        "v1.1.0",
        {
            "copier.yml": copier_yml.replace('"templates/', '"templates2/'),
            "templates2/app/README.md": "# readme v1\n",
            answers_tpl.replace("templates/", "templates2/"): (
                template / answers_tpl
            ).read_text(),
        },
    )
    assert {s for s, _ in git_changes(template)} == {"A", "M"}
    templates, report = _update(project)
    assert templates.renders == ["v1.0.0", "v1.1.0"]
    conflict = report.conflicted
    assert conflict is not None
    assert [c.path for c in conflict.conflicts] == ["docs/guide.md"]


def test_release_changes_are_computed_once_per_version_pair(
    template: Path, tmp_path: Path
) -> None:
    release(template, "v1.1.0", {"templates/app/README.md": "# readme v2\n"})
    calls: list[tuple[str, ...]] = []

    class CountingGit(Git):
        def diff_status(self, repo: Path, old: str, new: str) -> list[tuple[str, str]]:
            calls.append((old, new))
            return super().diff_status(repo, old, new)

    templates = CopierTemplates(git=CountingGit())
    first = templates.release_changes(str(template), "v1.0.0", "v1.1.0")
    again = templates.release_changes(str(template), "v1.0.0", "v1.1.0")
    assert first == again == [("M", "templates/app/README.md")]
    assert calls == [("v1.0.0", "v1.1.0")]
    assert templates.release_changes(str(template), "v1.0.0", "v9.9.9") is None
