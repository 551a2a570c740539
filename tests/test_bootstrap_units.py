"""Fast parts of `scaffold bootstrap`: the manifest checks, sealing against the
fake's private key, the dry run (no rendering)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.github import GitHubClient
from scaffold.adapters.sealing import seal
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app
from scaffold.errors import ForgeValidationError
from scaffold.services.bootstrap import used_names
from scaffold.services.manifest import (
    Desired,
    ManifestError,
    read_manifest,
    rules_from_templates,
)
from tests.github_fake import CANARY_TOKEN, FakeGitHub
from tests.helpers import TEMPLATE_TAG


def read(tmp_path: Path, template: Path, body: str, **env: str) -> Desired:
    path = tmp_path / "org.yaml"
    path.write_text(f"template: {template}\nref: {TEMPLATE_TAG}\n" + body, "utf-8")
    environ = {**os.environ, **env}
    rules_for = rules_from_templates(CopierTemplates(git=Git()), environ)
    return read_manifest(path, env=environ, rules_for=rules_for)


FLEET = """\
fleet:
  name: fleet-infra
  answers: {gitops_engine: flux, secrets: none}
"""


def test_manifest_fills_answers_like_scaffold_new(
    template_repo: Path, tmp_path: Path
) -> None:
    desired = read(
        tmp_path,
        template_repo,
        "org: acme\ndefaults: {codeowners: '@acme/web-team', container_port: 9000}\n"
        + FLEET
        + "apps:\n  - name: web\n    fleet: {replicas: 3}\n",
        KEY="secret-value",
    )
    assert desired.source.ref == TEMPLATE_TAG
    fleet, web = desired.repos
    # a default a kind does not ask (container_port for infra) is not used there
    assert "container_port" not in fleet.answers
    assert fleet.answers["codeowners"] == "@acme/web-team"
    assert web.answers["container_port"] == 9000
    assert web.answers["owner"] == "acme"
    assert web.answers["infra_repo"] == "acme/fleet-infra"
    assert web.answers["image_registry"] == "ghcr.io/acme"  # copier's default
    assert web.fleet_answers == {"replicas": 3}
    assert desired.visibility == "private"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("org: acme\n" + FLEET + "apps:\n  - name: web\n    answers: {owner: x}\n",
         "9: apps[0].answers.owner: set by bootstrap from org"),
        ("org: acme\n" + FLEET
         + "apps:\n  - name: web\n    answers: {infra_repo: acme/other}\n",
         "9: apps[0].answers.infra_repo: is 'acme/fleet-infra' (the manifest's fleet)"),
        ("org: acme\n" + FLEET + "apps:\n  - name: web\n    fleet: {replicas: 99}\n",
         "9: apps[0].fleet.replicas: must be an integer between 1 and 50"),
        ("org: acme\n" + FLEET + "apps:\n  - name: web\n    fleet: {colour: red}\n",
         "9: apps[0].fleet.colour: unknown key"),
        ("org: acme\n" + FLEET
         + "apps:\n  - name: web\n    fleet: {gitops_engine: argocd}\n",
         "9: apps[0].fleet.gitops_engine: is 'flux' for every app of this fleet"),
        ("org: acme\n" + FLEET + "apps:\n  - name: flux-system\n",
         "8: apps[0].name: 'flux-system' is reserved"),
        ("org: acme\n" + FLEET + "visibility: secret\n",
         "7: visibility: Input should be 'private', 'internal' or 'public'"),
        ("org: acme\norg: again\n" + FLEET, "4: org: duplicate key"),
        ("org: acme\nfleet: [\n", "5: "),
        ("org: -acme-\n" + FLEET, "3: org: must be a GitHub login"),
        ("org: acme\n" + FLEET + "actions:\n  variables: {GITHUB_X: y}\n",
         "8: actions.variables.GITHUB_X: must be letters, digits and '_'"),
        (FLEET, "org: required"),
        ("org: acme\n" + FLEET + "topics: [GitOps]\n",
         "7: topics[0]: String should match pattern"),
    ],
)  # fmt: skip
def test_manifest_problems_name_the_line(
    template_repo: Path, tmp_path: Path, body: str, problem: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        read(tmp_path, template_repo, body)
    assert problem in str(caught.value), str(caught.value)


def test_template_without_release_is_a_manifest_problem(tmp_path: Path) -> None:
    empty = tmp_path / "tpl"
    empty.mkdir()
    (empty / "copier.yml").write_text("name: {type: str}\n", "utf-8")
    path = tmp_path / "org.yaml"
    path.write_text(f"org: acme\ntemplate: {empty}\n{FLEET}", "utf-8")
    rules_for = rules_from_templates(CopierTemplates(git=Git()), os.environ)
    with pytest.raises(ManifestError, match=r"org.yaml:2: template: .* no release tag"):
        read_manifest(path, env=os.environ, rules_for=rules_for)


def test_used_names_reads_vars_and_secrets_of_workflows() -> None:
    text = "with:\n  id: ${{ vars.APP_ID }}\n  key: ${{secrets.KEY_1}}\n  x: vars\n"
    assert used_names([text, "${{ secrets.GITHUB_TOKEN }}"]) == {
        "APP_ID",
        "KEY_1",
        "GITHUB_TOKEN",
    }


def client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(
        token=SecretStr(CANARY_TOKEN),
        api_url=fake.url,
        sleep=lambda _s: None,
        write_interval=0.0,
    )


def test_a_sealed_secret_decrypts_and_a_wrongly_sealed_one_is_refused(
    fake_org: FakeGitHub,
) -> None:
    from nacl.public import PrivateKey

    fake_org.add_repo("acme", "web")
    with client(fake_org) as gh:
        key_id, key = gh.secrets_public_key("acme", "web")
        gh.put_secret(
            "acme", "web", "TOKEN",
            encrypted_value=seal(key, SecretStr("s3cr3t")), key_id=key_id,
        )  # fmt: skip
        assert fake_org.secret_value("acme/web", "TOKEN") == "s3cr3t"
        assert gh.list_secret_names("acme", "web") == ["TOKEN"]
        import base64

        other = base64.b64encode(bytes(PrivateKey.generate().public_key)).decode()
        with pytest.raises(ForgeValidationError, match="could not decrypt"):
            gh.put_secret(
                "acme", "web", "OTHER",
                encrypted_value=seal(other, SecretStr("x")), key_id=key_id,
            )  # fmt: skip
    assert fake_org.bad_secrets == ["acme/web/OTHER: does not decrypt"]


def test_dry_run_prints_the_plan_and_writes_nothing(
    fake_org: FakeGitHub,
    template_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        f"org: acme\ntemplate: {template_repo}\nref: {TEMPLATE_TAG}\n{FLEET}"
        "apps:\n  - name: web\n",
        "utf-8",
    )
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_TOKEN)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(
        app, ["bootstrap", str(path), "--api-url", fake_org.url, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "create acme/fleet-infra (private)" in result.stdout
    assert "register web (first commit)" in result.stdout
    assert "dry run: nothing was written" in result.stdout
    assert fake_org.write_count() == 0
    assert fake_org.repos == {}


def test_plan_adopts_an_empty_repo_and_refuses_one_from_another_template(
    fake_org: FakeGitHub, template_repo: Path, tmp_path: Path
) -> None:
    from scaffold.services.bootstrap import bootstrap
    from tests.helpers import commit_all, git

    fake_org.add_repo("acme", "fleet-infra", git=True)  # empty: adopted
    other = fake_org.add_repo("acme", "web", git=True)
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / ".copier-answers.yml").write_text(
        "_src_path: https://github.com/other/templates.git\nrepo_kind: app\n", "utf-8"
    )
    commit_all(seed, "init")
    git(seed, "push", "-q", other.clone_url, "main")
    desired = read(
        tmp_path, template_repo, "org: acme\n" + FLEET + "apps:\n  - name: web\n"
    )
    git_ = Git()
    with client(fake_org) as gh:
        report = bootstrap(
            desired, forge=gh, git=git_, token=SecretStr(CANARY_TOKEN),
            templates=CopierTemplates(git=git_), seal=seal, dry_run=True,
        )  # fmt: skip
    fleet, web = report.repos
    assert (fleet.state, fleet.outcome) == ("empty", "planned")
    assert fleet.planned[0] == "push main (rendered)"
    assert "register web (first commit)" not in fleet.planned  # web is refused
    assert (web.state, web.outcome) == ("foreign", "refused")
    assert web.error is not None
    assert "generated from 'https://github.com/other/templates.git'" in web.error
    assert fake_org.writes == []  # the seed's push aside, nothing was written
    assert len(fake_org.pushes()) == 1
