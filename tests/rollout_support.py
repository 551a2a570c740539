"""An org on the git-backed fake GitHub: a template repo and repos generated from it.

Most scenarios use a tiny inline template (copier's ``build_file_tree`` idea: a
few files written by the test) so thirty repos cost seconds, not minutes; the
fleet scenarios use this project's real templates.

Generated repos are rendered from a local checkout of the template at its tag and
their answers file then records the template's ``https://github.com/...`` URL,
exactly as ``copier copy https://github.com/acme/scaffold.git`` would write it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.github_fake import FakeGitHub, FakeRepo
from tests.helpers import commit_all, git, render

ORG = "acme"
TEMPLATE_URL = f"https://github.com/{ORG}/scaffold.git"

TINY_V1: dict[str, str | None] = {
    "copier.yml": (
        "_subdirectory: tpl\n"
        "_templates_suffix: .jinja\n"
        "name:\n  type: str\n"
        "repo_kind:\n  type: str\n  default: app\n"
    ),
    "tpl/{{ _copier_conf.answers_file }}.jinja": (
        "# Changes here will be overwritten by Copier\n"
        "{{ _copier_answers|to_nice_yaml -}}\n"
    ),
    "tpl/README.md.jinja": "# {{ name }}\n\nGenerated.\n",
    "tpl/deploy/config.yaml.jinja": "name: {{ name }}\nreplicas: 1\nport: 8080\n",
    "tpl/ci.yaml": "steps:\n  - lint\n  - test\n",
}
# v0.2.0: a changed line, a new file, a line added to ci.yaml
TINY_V2: dict[str, str | None] = {
    "tpl/deploy/config.yaml.jinja": "name: {{ name }}\nreplicas: 2\nport: 8080\n",
    "tpl/SECURITY.md": "Report issues privately.\n",
    "tpl/ci.yaml": "steps:\n  - lint\n  - test\n  - scan\n",
}


class TemplateRepo:
    """The template: a work tree (for rendering) pushed to ``acme/scaffold``."""

    def __init__(self, fake: FakeGitHub, work: Path) -> None:
        self.fake = fake
        self.work = work
        self.remote = fake.add_repo(ORG, "scaffold", git=True)
        work.mkdir(parents=True)
        git(work, "init", "-q", "-b", "main")

    def release(self, tag: str, files: dict[str, str | None], notes: str) -> None:
        """Commit ``files`` (None deletes), tag ``tag`` annotated with ``notes``."""
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        commit_all(self.work, f"release {tag}")
        git(self.work, "tag", "-a", tag, "-m", notes)
        git(self.work, "push", "-q", "--follow-tags", TEMPLATE_URL, "main")

    def copy_tree(self, src: Path) -> None:
        """Replace the work tree's files with ``src``'s (e.g. the real templates)."""
        for item in self.work.iterdir():
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        shutil.copytree(src, self.work, dirs_exist_ok=True)


def generate(
    fake: FakeGitHub,
    template: TemplateRepo,
    dest: Path,
    name: str,
    *,
    ref: str = "v0.1.0",
    data: dict[str, Any] | None = None,
    edits: dict[str, str] | None = None,
    src: str = TEMPLATE_URL,
    **repo_kwargs: Any,
) -> FakeRepo:
    """Render ``name`` at ``ref``, commit (plus ``edits`` as a second commit), push
    to a new git-backed repo of the org; return it."""
    render(template.work, dest, data={"name": name, **(data or {})}, ref=ref)
    set_src(dest, src)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "init")
    if edits:
        for rel, text in edits.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text, encoding="utf-8")
        commit_all(dest, "local edits")
    repo = fake.add_repo(ORG, name, git=True, **repo_kwargs)
    git(dest, "push", "-q", repo.clone_url, "main")
    return repo


def set_src(project: Path, src: str) -> None:
    """Make every answers file under ``project`` record ``_src_path: src``."""
    for answers in project.rglob(".copier-answers.yml"):
        lines = answers.read_text(encoding="utf-8").splitlines()
        fixed = [
            f"_src_path: {src}" if ln.startswith("_src_path:") else ln for ln in lines
        ]
        answers.write_text("\n".join(fixed) + "\n", encoding="utf-8")


def file_at(repo: FakeRepo, ref: str, path: str) -> str:
    """A file of the bare repo at ``ref``."""
    return repo.git("show", f"{ref}:{path}")
