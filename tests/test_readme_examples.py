"""The README's command examples run as written (where they can run in a test).

``scaffold new`` examples generate ``payments-api``; the ``scaffold protect``
examples then run in it against the fake GitHub (tests/github_fake.py).
"""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.github_fake import FakeGitHub, load_spec
from tests.helpers import PROJECT_ROOT, bash

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
