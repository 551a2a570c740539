"""The README's command examples run as written (where they can run in a test).

``scaffold new`` examples generate ``payments-api``; the ``scaffold protect``
examples then run in it against the fake GitHub (tests/github_fake.py); the
``scaffold update`` examples run on repos of a tiny template.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.layout import ANSWERS_FILE
from scaffold.models import TemplateSource
from scaffold.services.fleet import add_app
from tests.github_fake import FakeGitHub, load_spec
from tests.helpers import (
    FLUX_FLEET_ANSWERS,
    PROJECT_ROOT,
    bash,
    git,
    make_tiny_template,
    release,
    render,
)

TOKEN = "ghp_README0123456789abcdefghijklmnopqrstuvw"

# Example lines a test cannot run as written, and why.
NOT_RUN = {
    "scaffold new  ": "the wizard needs a terminal (tests/test_wizard.py drives it)",
    "export GITHUB_TOKEN=...": "the test's token comes from its environment",
    "ghe.example.com": "no such server (GitHub Enterprise Server example)",
}


def examples(heading: str) -> list[str]:
    """The lines of the first ```bash block under ``heading`` that a test can run."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    assert lines, heading
    return [line for line in lines if not any(skip in line for skip in NOT_RUN)]


@pytest.mark.slow
def test_new_and_protect_examples_run_as_written(
    template_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver, token=TOKEN, spec=load_spec()).install()
    fake.add_repo("acme", "payments-api")
    env = {
        "SCAFFOLD_TEMPLATE": str(template_repo),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake.url,
    }
    (tmp_path / "answers.yml").write_text("name: from-answers\n", encoding="utf-8")

    new = examples("## `scaffold new")
    assert len(new) == 2, new
    bash("\n".join(new), tmp_path, **env)
    assert (tmp_path / "payments-api/.git").is_dir()
    assert (tmp_path / "from-answers/.copier-answers.yml").is_file()

    protect = examples("### Applying it")
    assert len(protect) == 4, protect
    out = bash("\n".join(protect), tmp_path / "payments-api", **env)
    assert '"repo": "acme/payments-api"' in out  # the --json example
    assert fake.repos["acme/payments-api"].rulesets  # rulesets mode applied
    assert fake.repos["acme/payments-api"].protection  # classic mode applied
    assert fake.violations == []


@pytest.mark.slow
def test_update_examples_run_as_written(tmp_path: Path) -> None:
    """Against a tiny template with the versions the examples name."""
    tpl = make_tiny_template(
        tmp_path / "tpl",
        {
            "templates/app/NOTES.md": "v0.1.0\n",
            "templates/fleet-app/apps/{{ name }}/NOTES.md": "v0.1.0\n",
        },
        "v0.1.0",
    )
    release(
        tpl,
        "v0.2.0",
        {
            "templates/app/NOTES.md": "v0.2.0\n",
            "templates/fleet-app/apps/{{ name }}/NOTES.md": "v0.2.0\n",
        },
    )
    work = tmp_path / "work"
    app = {"repo_kind": "app", "name": "demo", "owner": "acme"}
    render(tpl, work / "path/to/repo", app, ref="v0.1.0", git_init=True)
    here = render(tpl, tmp_path / "here", app, ref="v0.1.0", git_init=True)
    fleet = render(tpl, work / "fleet", FLUX_FLEET_ANSWERS, ref="v0.1.0", git_init=True)
    g = Git()
    add_app(
        fleet_path=fleet,
        answers={"name": "web"},
        source=TemplateSource(url=str(tpl), ref="v0.1.0"),
        templates=CopierTemplates(git=g),
        git=g,
    )

    lines = examples("## `scaffold update")
    assert len(lines) == 4, lines
    for line in lines:  # `.` is a generated repo, other paths are under work/
        bash(line, here if " . " in line else work)

    assert (work / "path/to/repo/NOTES.md").read_text("utf-8") == "v0.2.0\n"
    assert git(here, "status", "--porcelain") == ""  # the dry run changed nothing
    assert (here / "NOTES.md").read_text("utf-8") == "v0.1.0\n"
    assert (fleet / "apps/web/NOTES.md").read_text("utf-8") == "v0.2.0\n"
    assert "v0.2.0" in (fleet / ANSWERS_FILE).read_text("utf-8")  # --no-apps
