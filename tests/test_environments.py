"""`environments`: a fleet's list of environments (promotion order, the last one is
production) drives every per-env file, the apps inherit it, a fleet generated before
the answer existed updates cleanly, and bad lists are refused before anything is
written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scaffold.adapters.git import Git
from scaffold.adapters.templates import CopierTemplates
from scaffold.cli import app
from scaffold.layout import DEFAULT_ENVIRONMENTS
from scaffold.models import TemplateSource
from scaffold.services.check import RootStatus
from scaffold.services.fleet import add_app
from scaffold.services.update import update_instances
from tests.check_support import run_check
from tests.helpers import (
    PROJECT_ROOT,
    TEMPLATE_TAG,
    commit_all,
    copy_template_tree,
    fleet_answers,
    git,
    render,
    tree,
)
from tests.infra_helpers import kustomize_build, load_yaml_objects

YIELD = "{% yield env from environments %}{{ env }}{% endyield %}"
YIELD_ROOT = "{% yield env from environments %}root-{{ env }}{% endyield %}"
FOUR = ["dev", "qa", "staging", "prod"]
APP = {
    "name": "web",
    "app_image": "ghcr.io/acme/web",
    "app_tag": "1.4.2",
    "autoscaling": True,
    "replicas": 3,
}


def _fleet(
    template: Path,
    dest: Path,
    *,
    engine: str,
    secrets: str = "none",
    environments: list[str] | None = None,
    ref: str = TEMPLATE_TAG,
) -> Path:
    """A committed fleet with the app ``web`` added through the service."""
    data = fleet_answers(engine, secrets)
    if environments is not None:
        data["environments"] = environments
    render(template, dest, data, ref=ref, git_init=True)
    g = Git()
    add_app(
        fleet_path=dest,
        answers=dict(APP),
        source=TemplateSource(url=str(template), ref=ref),
        templates=CopierTemplates(git=g),
        git=g,
    )
    return dest


def _answers(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


# --- bad values: one line, exit 2, nothing written ---------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("[dev, staging, dev]", "must not list an environment twice"),
        ("[dev, Prod]", "Prod is not a valid name"),
        ("[dev, qa_1]", "qa_1 is not a valid name"),
        ("[]", "must list 1 to 8 environments"),
        ("[a, b, c, d, e, f, g, h, i]", "must list 1 to 8 environments (it lists 9)"),
        ("dev", "must be a YAML list"),
        ("{dev: 1}", "must be a YAML list"),
        ("[dev, base]", "reserved names"),
        ("[dev, staging", "must be YAML"),
    ],
)
def test_bad_environments_are_one_line_exit_2_nothing_written(
    template_repo: Path, tmp_path: Path, value: str, rule: str
) -> None:
    dest = tmp_path / "fleet"
    result = CliRunner().invoke(
        app,
        [
            "new",
            "infra",
            str(dest),
            "--defaults",
            "--no-git",
            "--template",
            str(template_repo),
            "--ref",
            TEMPLATE_TAG,
            "--set",
            "name=fleet",
            "--set",
            "owner=acme",
            "--set",
            "secrets=none",
            "--set",
            f"environments={value}",
        ],
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: environments: "), lines
    assert rule in lines[0]
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_default_matches_the_layout_constant() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text(encoding="utf-8"))
    assert tuple(config["environments"]["default"]) == DEFAULT_ENVIRONMENTS


# --- the list drives every per-env file --------------------------------------------


@pytest.fixture(scope="module")
def four(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COPIER_CACHE_DIR", str(tmp_path_factory.mktemp("copier-cache")))
        return {
            engine: _fleet(
                template_repo,
                tmp_path_factory.mktemp(engine) / "fleet",
                engine=engine,
                environments=FOUR,
            )
            for engine in ("flux", "argocd")
        }


def _dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir())


def test_flux_fleet_has_a_cluster_per_environment(four: dict[str, Path]) -> None:
    fleet = four["flux"]
    assert _dirs(fleet / "clusters") == sorted(FOUR)
    for env in FOUR:
        assert (fleet / f"clusters/{env}/flux-system/gotk-sync.yaml").is_file()
        (sync,) = [
            o
            for o in load_yaml_objects(fleet / f"clusters/{env}/apps/web.yaml")
            if o["kind"] == "Kustomization"
        ]
        assert sync["spec"]["path"] == f"./apps/web/overlays/{env}"
    assert _answers(fleet / "apps/web/.copier-answers.yml")["environments"] == FOUR
    owners = (fleet / ".github/CODEOWNERS").read_text(encoding="utf-8")
    assert "/clusters/prod/ " in owners and "/clusters/qa/" not in owners


def test_argocd_fleet_has_a_project_and_root_per_environment(
    four: dict[str, Path],
) -> None:
    fleet = four["argocd"]
    assert sorted(p.name for p in (fleet / "projects").iterdir()) == sorted(
        [f"{e}.yaml" for e in FOUR] + ["platform.yaml"]
    )
    for env in FOUR:
        root = load_yaml_objects(fleet / f"bootstrap/root-{env}.yaml")[0]
        include = root["spec"]["source"]["directory"]["include"]
        assert include == (
            "{bootstrap/argo-cd.yaml,"
            f"bootstrap/root-{env}.yaml,projects/platform.yaml,projects/{env}.yaml}}"
        )
        objs = load_yaml_objects(fleet / f"projects/{env}.yaml")
        (appset,) = [o for o in objs if o["kind"] == "ApplicationSet"]
        policy = appset["spec"]["template"]["spec"].get("syncPolicy", {})
        # the default prod sync is manual: only the last environment has no automation
        assert ("automated" in policy) == (env != FOUR[-1]), env


def test_overlays_are_sized_by_position(four: dict[str, Path]) -> None:
    fleet = four["flux"]
    assert _dirs(fleet / "apps/web/overlays") == sorted(FOUR)
    sizes = {}
    for env in FOUR:
        objs = kustomize_build(fleet, f"apps/web/overlays/{env}").objects
        (deploy,) = [o for o in objs if o["kind"] == "Deployment"]
        assert deploy["metadata"]["namespace"] == f"web-{env}"
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        sizes[env] = (
            deploy["spec"].get("replicas"),
            container["resources"]["requests"]["cpu"],
            any(o["kind"] == "HorizontalPodAutoscaler" for o in objs),
        )
    # first: dev-like (1 replica, smallest); middle: staging-like; last: prod (HPA)
    assert sizes == {
        "dev": (1, "50m", False),
        "qa": (3, "100m", False),
        "staging": (3, "100m", False),
        "prod": (None, "200m", True),
    }


def test_policies_enforce_only_in_the_last_environment(
    four: dict[str, Path],
) -> None:
    for env in FOUR:
        configs = kustomize_build(four["flux"], f"infrastructure/configs/{env}")
        actions = {
            rule["validate"]["failureAction"]
            for o in configs.objects
            if o["kind"] == "ClusterPolicy"
            for rule in o["spec"]["rules"]
        }
        assert ("Enforce" in actions) == (env == "prod"), (env, actions)


def test_promotion_follows_the_list(four: dict[str, Path]) -> None:
    wf = yaml.safe_load(
        (four["flux"] / ".github/workflows/promote.yaml").read_text(encoding="utf-8")
    )
    inputs = wf[True]["workflow_dispatch"]["inputs"]  # `on:` parses as True
    assert inputs["from"]["options"] == FOUR[:-1]
    assert inputs["to"]["options"] == FOUR[1:]
    (step,) = [s for s in wf["jobs"]["promote"]["steps"] if s.get("id") == "copy"]
    assert "dev:qa|qa:staging|staging:prod) ;;" in step["run"]


@pytest.mark.slow
def test_a_single_environment_is_production_with_nothing_to_promote(
    template_repo: Path, tmp_path: Path
) -> None:
    fleet = _fleet(
        template_repo, tmp_path / "fleet", engine="flux", environments=["live"]
    )
    assert _dirs(fleet / "clusters") == ["live"]
    assert not (fleet / ".github/workflows/promote.yaml").exists()
    assert (fleet / "apps/web/overlays/live/hpa.yaml").is_file()
    report = run_check(fleet, strict=True)
    assert report.exit_code == 0, report.findings


# --- every variant builds and validates completely ----------------------------------

LISTS = (["dev", "staging", "prod"], FOUR, ["dev", "prod"])
VARIANTS = [
    (engine, secrets, envs)
    for engine in ("flux", "argocd")
    for secrets in ("sops", "sealed-secrets", "none")
    for envs in LISTS
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "secrets", "envs"),
    VARIANTS,
    ids=[f"{e}-{s}-{len(v)}envs" for e, s, v in VARIANTS],
)
def test_every_variant_builds_and_validates_with_no_flags(
    template_repo: Path, tmp_path: Path, engine: str, secrets: str, envs: list[str]
) -> None:
    fleet = _fleet(
        template_repo,
        tmp_path / "fleet",
        engine=engine,
        secrets=secrets,
        environments=envs,
    )
    skip = ("kustomize-remote",) if engine == "argocd" else ()
    report = run_check(fleet, strict=True, skip=skip)
    failing = [f for f in report.findings if f.severity.value in ("error", "warning")]
    assert failing == [], "\n".join(f"{f.file}:{f.line} {f.message}" for f in failing)
    assert report.exit_code == 0
    assert not report.roots_with(RootStatus.FAILED)
    for env in envs:
        build = kustomize_build(fleet, f"apps/web/overlays/{env}")
        assert build.stderr.strip() == ""  # no kustomize warnings


# --- a fleet from before the answer updates cleanly --------------------------------


def _previous_release(dest: Path) -> None:
    """The templates as they were before `environments` was an answer: one literal
    directory or file per default environment (``{% set env = '...' %}`` at the top
    of each), and the list a computed value that is never asked nor recorded."""
    copy_template_tree(dest)
    root = dest / "templates"
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        rel = str(path.relative_to(root))
        if not path.is_file() or ("{% yield" not in rel):
            continue
        text = path.read_text(encoding="utf-8")
        for env in DEFAULT_ENVIRONMENTS:
            literal = rel.replace(YIELD_ROOT, f"root-{env}").replace(YIELD, env)
            literal = literal.replace("env == environments", f"'{env}' == environments")
            assert literal.endswith(".jinja"), literal
            target = root / literal
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"{{% set env = '{env}' %}}{text}", encoding="utf-8")
        path.unlink()
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    config = (dest / "copier.yml").read_text(encoding="utf-8")
    start = config.index("environments:\n")
    end = config.index("\n\n", start)
    hidden = (
        "environments:\n  type: yaml\n  default: [dev, staging, prod]\n  when: false"
    )
    (dest / "copier.yml").write_text(config[:start] + hidden + config[end:], "utf-8")


@pytest.mark.slow  # updates fleets of the real templates
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_fleet_from_before_the_answer_updates_cleanly(
    tmp_path: Path, engine: str
) -> None:
    template = tmp_path / "tpl"
    _previous_release(template)
    assert not any("{% yield" in str(p) for p in template.rglob("*"))
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "templates v0.0.9")
    git(template, "tag", "v0.0.9")
    shutil.rmtree(template / "templates")
    copy_template_tree(template)
    commit_all(template, f"templates {TEMPLATE_TAG}")
    git(template, "tag", TEMPLATE_TAG)

    fleet = _fleet(template, tmp_path / "fleet", engine=engine, ref="v0.0.9")
    answers = _answers(fleet / ".copier-answers.yml")
    assert "environments" not in answers  # never asked before
    before = {k: v for k, v in tree(fleet).items() if "copier-answers" not in k}

    report = update_instances(
        fleet, to_ref=None, templates=CopierTemplates(git=Git()), git=Git()
    )

    assert report.conflicted is None and not report.not_run
    assert [r.to_version for r in report.results] == [TEMPLATE_TAG, TEMPLATE_TAG]
    after = {k: v for k, v in tree(fleet).items() if "copier-answers" not in k}
    assert after == before  # the same three environments, file for file
    for answers_file in (".copier-answers.yml", "apps/web/.copier-answers.yml"):
        updated = _answers(fleet / answers_file)
        assert updated["_commit"] == TEMPLATE_TAG
        assert updated["environments"] == list(DEFAULT_ENVIRONMENTS)
    assert git(fleet, "status", "--porcelain").strip() == ""
    assert re.search(r"chore\(template\)", git(fleet, "log", "-3", "--format=%s"))


# --- adding an environment later: an answer change plus `scaffold update` ----------


@pytest.mark.slow  # updates a fleet of the real templates
def test_adding_an_environment_is_an_answer_change_plus_update(
    template_repo: Path, tmp_path: Path
) -> None:
    fleet = _fleet(template_repo, tmp_path / "fleet", engine="flux")
    before = tree(fleet)
    result = CliRunner().invoke(
        app,
        ["update", str(fleet), "--set", "environments=[dev, qa, staging, prod]"],
    )
    assert result.exit_code == 0, result.output
    assert _dirs(fleet / "clusters") == sorted(FOUR)
    assert _dirs(fleet / "apps/web/overlays") == sorted(FOUR)  # the app follows
    for answers_file in (".copier-answers.yml", "apps/web/.copier-answers.yml"):
        answers = _answers(fleet / answers_file)
        assert answers["environments"] == FOUR
        assert answers["_commit"] == TEMPLATE_TAG  # same version, new answer
    after = tree(fleet)
    per_env = [p for p in before if re.search(r"/(dev|staging|prod)[/.]", p)]
    assert len(per_env) > 10
    for path in per_env:  # the dev, staging and prod files are unchanged
        assert after[path] == before[path], path
    assert git(fleet, "status", "--porcelain").strip() == ""
    report = run_check(fleet, strict=True)
    assert report.exit_code == 0, report.findings
    rerun = CliRunner().invoke(
        app,
        ["update", str(fleet), "--set", "environments=[dev, qa, staging, prod]"],
    )
    assert rerun.exit_code == 0 and "up to date" in rerun.output, rerun.output


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("environments=[dev, dev]", "error: environments: must not list"),
        ("colour=blue", "error: colour: no such answer for this infra repo"),
    ],
)
def test_a_bad_answer_change_changes_nothing(
    template_repo: Path, tmp_path: Path, item: str, message: str
) -> None:
    fleet = _fleet(template_repo, tmp_path / "fleet", engine="flux")

    def state() -> tuple[Any, ...]:
        return tree(fleet), git(fleet, "rev-parse", "HEAD"), git(fleet, "branch")

    before = state()
    result = CliRunner().invoke(app, ["update", str(fleet), "--set", item])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message), result.stderr
    assert (
        tree(fleet),
        git(fleet, "rev-parse", "HEAD"),
        git(fleet, "branch"),
    ) == before


# --- an app repo releases to its fleet's first environment -------------------------


def _new_app(dest: Path, infra: Path, template: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "new",
            "app",
            str(dest),
            "--infra",
            str(infra),
            "--set",
            "name=payments",
            "--set",
            "owner=acme",
            "--template",
            str(template),
            "--ref",
            TEMPLATE_TAG,
            *extra,
        ],
    )


@pytest.mark.slow
def test_an_app_releases_to_the_fleets_first_environment(
    template_repo: Path, tmp_path: Path
) -> None:
    fleet = _fleet(
        template_repo, tmp_path / "fleet", engine="flux", environments=["qa", "prod"]
    )
    result = _new_app(tmp_path / "payments", fleet, template_repo)
    assert result.exit_code == 0, result.output
    release = yaml.safe_load(
        (tmp_path / "payments/.github/workflows/release.yaml").read_text("utf-8")
    )
    env = next(
        j["env"] for j in release["jobs"].values() if "OVERLAY" in j.get("env", {})
    )
    assert env["OVERLAY"] == "apps/payments/overlays/qa"
    assert (fleet / env["OVERLAY"] / "kustomization.yaml").is_file()
    assert _answers(fleet / "apps/payments/.copier-answers.yml")["environments"] == [
        "qa",
        "prod",
    ]


def test_an_app_cannot_release_to_another_environment(
    template_repo: Path, tmp_path: Path
) -> None:
    fleet = _fleet(
        template_repo, tmp_path / "fleet", engine="flux", environments=["qa", "prod"]
    )
    head = git(fleet, "rev-parse", "HEAD")
    result = _new_app(
        tmp_path / "payments", fleet, template_repo, "--set", "deploy_environment=dev"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: deploy_environment: is 'qa'"), result.stderr
    assert not (tmp_path / "payments").exists()
    assert git(fleet, "rev-parse", "HEAD") == head
