"""Every bundled rule file's own ``tests:`` pass (later policy packs are picked up by the glob)."""

from __future__ import annotations

from pathlib import Path

import pytest

import csflow
from csflow.rules import RuleSet, TestOutcome

POLICIES = Path(csflow.__file__).parent / "policies"
PACKS = sorted({p.parent for p in POLICIES.rglob("*.yaml")})


def _outcomes() -> list[tuple[str, TestOutcome]]:
    out = []
    for pack in PACKS:
        for outcome in RuleSet.load(pack).run_tests():
            out.append((f"{outcome.file}:{outcome.line} {outcome.label}", outcome))
    return out


OUTCOMES = _outcomes()


def test_bundled_packs_exist_and_have_tests() -> None:
    assert PACKS, "no bundled policy packs found"
    assert len(OUTCOMES) >= 30


@pytest.mark.parametrize("outcome", [o for _, o in OUTCOMES], ids=[i for i, _ in OUTCOMES])
def test_bundled_rule_file_test(outcome: TestOutcome) -> None:
    assert outcome.passed, outcome.message


@pytest.mark.parametrize("pack", PACKS, ids=[p.name for p in PACKS])
def test_bundled_packs_have_no_warnings_and_cite_sources(pack: Path) -> None:
    rules = RuleSet.load(pack)
    assert rules.check() == []
    for name in rules.names:
        for row in rules.table(name).rows:
            assert row.source, f"{name}: row {row.id} has no source"


def test_complaint_tables_have_the_agreed_shape() -> None:
    rules = RuleSet.load(POLICIES / "complaint")
    auth = rules.table("compensation_authority")
    assert [i.name for i in auth.inputs] == ["role", "category", "amount"]
    assert [o.name for o in auth.outputs] == ["approve", "escalate_to"]
    esc = rules.table("escalation")
    assert [i.name for i in esc.inputs] == [
        "severity", "vulnerable", "regulated", "repeat", "amount_over_authority",
        "sla_breached", "level",
    ]
    assert [o.name for o in esc.outputs] == ["escalate", "to_level", "priority", "reason"]
    assert esc.outputs[1].optional


def test_authority_refers_to_a_level_that_can_approve() -> None:
    """Following escalate_to always ends in an approval, for every role, category and amount."""
    rules = RuleSet.load(POLICIES / "complaint")
    for amount in ("0", "25", "25.01", "99.99", "100", "100.01", "250", "500", "500.01",
                   "1000", "1000.01", "2500", "2500.01", "99999"):
        for category in ("refund", "compensation", "goodwill"):
            role = "agent"
            for _ in range(4):
                d = rules.decide("compensation_authority",
                                 {"role": role, "category": category, "amount": amount})
                if d.outputs["approve"]:
                    break
                role = d.outputs["escalate_to"]
            assert d.outputs["approve"] is True, (amount, category)
