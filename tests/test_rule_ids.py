"""Rule ids are one enum, and it is exactly the catalogue's list."""

from __future__ import annotations

import pytest

from scaffold.services.check.rules import RuleId, catalogue


def test_rule_id_enum_is_the_catalogue() -> None:
    assert list(catalogue()) == list(RuleId)
    assert all(rule.id is rule_id for rule_id, rule in catalogue().items())


def test_an_unknown_rule_id_is_refused() -> None:
    with pytest.raises(ValueError, match="not-a-rule"):
        RuleId("not-a-rule")
