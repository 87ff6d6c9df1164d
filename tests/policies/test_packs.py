"""The bundled rule packs: agreed shapes, impossible facts, calendar coverage, explain.

Each pack's own ``tests:`` (the worked examples of the law) run in
tests/rules/test_policies.py; here are the checks those cannot express.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import csflow
from csflow.calendars import CalendarRegistry
from csflow.cli.rules import app
from csflow.errors import CalendarError, DefinitionError, InvalidFacts
from csflow.rules import RuleSet

POLICIES = Path(csflow.__file__).parent / "policies"
RULES = RuleSet.load(POLICIES)
CALENDARS = CalendarRegistry.bundled()

SHAPES = {
    "uk_goods_remedy": (
        ["goods_type", "delivered_on", "reported_on", "repair_requested_on", "goods_returned_on",
         "failed_repairs_or_replacements"],
        ["remedy", "short_term_reject_until", "refund_due_within_days",
         "deduction_for_use_allowed", "burden_on_trader"],
    ),
    "uk_distance_cancellation": (
        ["contract_type", "concluded_on", "delivered_on", "cancelled_on",
         "cancellation_info_given", "goods_received_back_on", "proof_of_return_on"],
        ["cancellation_deadline", "cancellation_valid", "refund_due_by",
         "refund_includes_standard_delivery"],
    ),
    "fca_complaint_deadlines": (
        ["received_on", "region", "kind", "resolved_on", "final_response_on"],
        ["src_deadline", "resolvable_by_src", "final_response_due", "extended_final_response_due",
         "ombudsman_referral_deadline"],
    ),
    "au_acl_remedy": (
        ["failure", "price_aud", "normally_personal_use"],
        ["acl_applies", "chosen_by", "options"],
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_legal_packs_have_the_published_names(name: str) -> None:
    table = RULES.table(name)
    inputs, outputs = SHAPES[name]
    assert [i.name for i in table.inputs] == inputs
    assert [o.name for o in table.outputs] == outputs


def test_organisation_packs_cover_every_business_area_of_the_complaint_workflow() -> None:
    for name in ("service_standards", "refund_policy", "cancellation_fee",
                 "price_increase_notice", "substitution"):
        area = next(i for i in RULES.table(name).inputs if i.name == "business_area")
        assert area.type.values == ("retail", "subscriptions", "delivery")
        file = f"organisation/{name.removesuffix('_notice')}.yaml"
        assert "EXAMPLE ORGANISATION POLICY" in RULES.files[file]


def test_optional_defaults_apply() -> None:
    d = RULES.decide("uk_goods_remedy", {"delivered_on": "2024-03-01", "reported_on": "2024-03-05"})
    assert d.inputs["goods_type"] == "goods" and d.inputs["failed_repairs_or_replacements"] == 0
    assert d.outputs["remedy"] == "full_refund"


@pytest.mark.parametrize(
    ("decision", "facts", "fact"),
    [
        ("uk_goods_remedy", {"delivered_on": "2024-03-01", "reported_on": "2024-03-20",
                             "repair_requested_on": "2024-03-11",
                             "goods_returned_on": "2024-03-10"}, "goods_returned_on"),
        ("uk_distance_cancellation", {"contract_type": "services", "concluded_on": "2024-05-01",
                                      "cancelled_on": "2024-04-30"}, "cancelled_on"),
        ("uk_distance_cancellation", {"contract_type": "goods", "concluded_on": "2024-05-01",
                                      "delivered_on": "2024-04-28", "cancelled_on": "2024-05-02"},
         "delivered_on"),
        ("fca_complaint_deadlines", {"received_on": "2025-04-17", "region": "wales",
                                     "kind": "standard"}, "region"),
        ("fca_complaint_deadlines", {"received_on": "2025-04-17", "region": "scotland",
                                     "kind": "standard", "final_response_on": "2025-04-01"},
         "final_response_on"),
    ],
)
def test_impossible_facts_name_the_fact(decision: str, facts: dict[str, str], fact: str) -> None:
    with pytest.raises(InvalidFacts) as err:
        RULES.decide(decision, facts)
    assert err.value.decision == decision and err.value.input == fact
    assert fact in str(err.value)
    with pytest.raises(InvalidFacts):  # explain checks the same
        RULES.explain(decision, facts)


def test_a_constraint_message_shows_the_values() -> None:
    with pytest.raises(InvalidFacts, match=r"before it was made \(given cancelled_on=2024-04-30"):
        RULES.decide("uk_distance_cancellation", {"contract_type": "services",
                                                  "concluded_on": "2024-05-01",
                                                  "cancelled_on": "2024-04-30"})


def test_a_date_outside_the_holiday_tables_is_an_error_naming_the_fact() -> None:
    with pytest.raises(CalendarError) as err:
        RULES.decide("fca_complaint_deadlines",
                     {"received_on": "1999-12-30", "region": "scotland", "kind": "standard"})
    message = str(err.value)
    assert err.value.calendar == "uk-scotland" and err.value.date == date(1999, 12, 30)
    assert "fca_complaint_deadlines" in message and "received_on=1999-12-30" in message
    assert "outside" in message


def test_a_result_beyond_the_holiday_tables_is_an_error_too() -> None:
    with pytest.raises(CalendarError, match="payment-services-england-wales"):
        RULES.decide("fca_complaint_deadlines",
                     {"received_on": "2060-12-20", "region": "england_wales",
                      "kind": "payment_services"})


def test_regions_give_different_deadlines_for_the_same_day() -> None:
    facts = {"received_on": "2025-04-17", "kind": "standard"}
    got = {
        r: RULES.decide("fca_complaint_deadlines", {**facts, "region": r}).outputs["src_deadline"]
        for r in ("england_wales", "scotland", "northern_ireland")
    }
    assert got == {"england_wales": date(2025, 4, 24), "scotland": date(2025, 4, 23),
                   "northern_ireland": date(2025, 4, 24)}


@given(st.dates(date(2001, 1, 1), date(2058, 12, 31)), st.sampled_from(
    ["england_wales", "scotland", "northern_ireland"]))
def test_src_deadline_is_three_business_days_later(received: date, region: str) -> None:
    d = RULES.decide("fca_complaint_deadlines",
                     {"received_on": received, "region": region, "kind": "payment_services"})
    calendar = CALENDARS[{"england_wales": "uk-england-wales", "scotland": "uk-scotland",
                          "northern_ireland": "uk-northern-ireland"}[region]]
    out = d.outputs
    assert calendar.business_days_between(received, out["src_deadline"]) == 3
    assert calendar.is_business_day(out["src_deadline"])
    assert calendar.business_days_between(received, out["final_response_due"]) == 15
    assert calendar.business_days_between(received, out["extended_final_response_due"]) == 35


@given(st.dates(date(2001, 1, 1), date(2050, 12, 31)),
       st.integers(0, 40), st.integers(0, 60), st.integers(0, 60))
def test_short_term_right_is_at_least_seven_days_after_a_repair(
    delivered: date, asked_after: int, away: int, reported_after: int
) -> None:
    asked = delivered + timedelta(days=asked_after)
    back = asked + timedelta(days=away)
    d = RULES.decide("uk_goods_remedy", {
        "delivered_on": delivered, "repair_requested_on": asked, "goods_returned_on": back,
        "reported_on": back + timedelta(days=reported_after)})
    until = d.outputs["short_term_reject_until"]
    if asked_after <= 30:
        assert until >= back + timedelta(days=7)
        assert until >= delivered + timedelta(days=30 + away + 1)
    else:
        assert until == delivered + timedelta(days=30)
    if d.outputs["remedy"] == "full_refund":
        assert back + timedelta(days=reported_after) <= until


# -- the rules-layer mechanisms the packs use ---------------------------------


def _table(extra: str) -> str:
    return (
        "decision: t\ntitle: T\nhit_policy: first\n"
        "inputs:\n  a: {type: date}\n  b: {type: date, optional: true}\n"
        "outputs:\n  r: {type: date}\n"
        "rules:\n  - {id: r1, then: {r: \"=add_months(a, 1)\"}}\n" + extra
    )


def test_constraint_must_be_a_test_and_name_an_input() -> None:
    with pytest.raises(DefinitionError) as err:
        RuleSet.from_texts({"t.yaml": _table(
            "constraints:\n  - {check: 'add_days(a, 1)', message: m}\n"
            "  - {check: 'b >= a', message: m, fact: c}\n")})
    text = str(err.value)
    assert "true/false test" in text and "unknown input 'c'" in text


def test_a_constraint_over_a_missing_optional_fact_does_not_apply() -> None:
    rules = RuleSet.from_texts({"t.yaml": _table(
        "constraints:\n  - {check: 'b >= a', message: b before a}\n")})
    assert rules.decide("t", {"a": "2024-01-31"}).outputs["r"] == date(2024, 2, 29)
    with pytest.raises(InvalidFacts) as err:
        rules.decide("t", {"a": "2024-01-31", "b": "2024-01-30"})
    assert err.value.input == "a, b"  # no `fact:`: every input the check reads


def test_error_tests_pass_only_on_the_named_fact() -> None:
    rules = RuleSet.from_texts({"t.yaml": _table(
        "constraints:\n  - {check: 'b >= a', message: m, fact: b}\n"
        "tests:\n  - {given: {a: 2024-01-02, b: 2024-01-01}, error: b}\n"
        "  - {given: {a: 2024-01-02, b: 2024-01-01}, error: a}\n"
        "  - {given: {a: 2024-01-02}, error: b}\n")})
    assert [o.passed for o in rules.run_tests()] == [True, False, False]


def test_error_tests_cannot_also_expect_outputs() -> None:
    with pytest.raises(DefinitionError, match="either outputs"):
        RuleSet.from_texts({"t.yaml": _table(
            "tests:\n  - {given: {a: 2024-01-02}, expect: {r: 2024-02-02}, error: a}\n")})


@pytest.mark.parametrize(("start", "months", "end"), [
    (date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2023, 8, 31), 6, date(2024, 2, 29)),
    (date(2024, 5, 15), 12, date(2025, 5, 15)), (date(2024, 3, 31), -1, date(2024, 2, 29)),
    (date(2024, 12, 1), 1, date(2025, 1, 1)),
])
def test_add_months_keeps_the_day_or_takes_the_month_end(start: date, months: int,
                                                          end: date) -> None:
    rules = RuleSet.from_texts({"t.yaml": _table("").replace("add_months(a, 1)",
                                                              f"add_months(a, {months})"
                                                              if months >= 0 else
                                                              f"add_months(a, 0 - {-months})")})
    assert rules.decide("t", {"a": start}).outputs["r"] == end


def test_explain_shows_the_cited_rows_for_a_real_case() -> None:
    facts = ('{"delivered_on": "2024-03-01", "repair_requested_on": "2024-03-11", '
             '"goods_returned_on": "2024-03-20", "reported_on": "2024-04-11", '
             '"failed_repairs_or_replacements": 1}')
    result = CliRunner().invoke(app, ["explain", str(POLICIES), "uk_goods_remedy",
                                      "--facts", facts])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "final-after-failed-repair-paused" in out and "HIT" in out
    assert "s.24(5)(a)" in out and "price_reduction_or_final_rejection" in out
