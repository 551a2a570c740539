"""policies/secrets.py: secret-plaintext."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffold.services.check import policies


def test_sops_detection() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert list(policies.secret_checks(secret)) == []  # no data at all
    plain = {**secret, "data": {"a": "Zm9v"}}
    assert [h[0] for h in policies.secret_checks(plain)] == ["secret-plaintext"]
    half = {**secret, "data": {"a": "ENC[x]", "b": "Zm9v"}, "sops": {"mac": "ENC[y]"}}
    assert [h[0] for h in policies.secret_checks(half)] == ["secret-plaintext"]
    full = {**secret, "data": {"a": "ENC[x]"}, "sops": {"mac": "ENC[y]"}}
    assert list(policies.secret_checks(full)) == []


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        ("op://vault/item/field", True),
        ("${DB_PASSWORD}", True),
        ("ref+vault://secret/db#password", True),
        ("vault:secret/data/db#password", True),
        ("b3A6Ly92YXVsdC9pdGVtL2ZpZWxk", True),  # base64 of op://vault/item/field
        ("hunter2", False),
        ("prefix-${VAR}", False),
        ("Zm9v", False),
    ],
)
def test_references_are_not_plaintext(value: str, reference: bool) -> None:
    assert policies.is_secret_reference(value) is reference
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"k": value}}
    flagged = bool(list(policies.secret_checks(secret)))
    assert flagged is not reference or value.startswith("b3A6")


def test_a_generated_secret_is_checked_at_its_generator(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("PASSWORD=hunter2\n")
    data = {"secretGenerator": [{"name": "app", "envs": ["app.env"]}]}
    (hit,) = policies.secret_generator_checks(data, tmp_path)
    assert hit[1] == ["secretGenerator", 0, "envs", 0]
