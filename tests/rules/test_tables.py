"""Decision tables: loading, types, hit policies, expressions, explain, versions."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from csflow._canonical import canonical_json
from csflow.errors import DefinitionError, InvalidFacts, UnknownDefinition
from csflow.model import Decision, RowCheck
from csflow.rules import RuleSet

AUTH = """\
decision: authority
title: Who may approve
hit_policy: first
inputs:
  role:     {type: enum, values: [agent, manager]}
  amount:   {type: money}
outputs:
  approve:     {type: bool}
  escalate_to: {type: enum, values: [manager], optional: true}
rules:
  - id: agent-small
    when: {role: agent, amount: "<= 50"}
    then: {approve: true}
    source: Policy 2.1
  - id: agent-large
    when: {role: agent}
    then: {approve: false, escalate_to: manager}
  - id: manager
    when: {role: manager}
    then: {approve: true}
tests:
  - given: {role: agent, amount: "50.00"}
    expect: {approve: true}
"""


def rules(*texts: str, **named: str) -> RuleSet:
    files = {f"t{i}.yaml": textwrap.dedent(t) for i, t in enumerate(texts)}
    files.update({k: textwrap.dedent(v) for k, v in named.items()})
    return RuleSet.from_texts(files)


def table(head: str, body: str) -> RuleSet:
    return rules(textwrap.dedent(head) + textwrap.dedent(body))


def problems(*texts: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        rules(*texts)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------- decide


def test_decide_returns_typed_inputs_outputs_rows_and_version() -> None:
    rs = rules(AUTH)
    d = rs.decide("authority", {"role": "agent", "amount": "12.50", "case_ref": "ignored"})
    assert d == Decision("authority", rs.version, {"role": "agent", "amount": Decimal("12.50")},
                         {"approve": True, "escalate_to": None}, ("agent-small",),
                         "Who may approve")
    assert d.trace == ()
    canonical_json({"inputs": d.inputs, "outputs": d.outputs})  # JSON-able as recorded


def test_fast_built_decision_is_an_ordinary_decision() -> None:
    d = rules(AUTH).decide("authority", {"role": "manager", "amount": 1})
    same = Decision(d.name, d.ruleset_version, d.inputs, d.outputs, d.matched, d.title)
    assert d == same and hash(repr(d)) == hash(repr(same)) and type(d) is Decision


@pytest.mark.parametrize(("facts", "field", "words"), [
    ({"amount": 5}, "role", "missing"),
    ({"role": None, "amount": 5}, "role", "null"),
    ({"role": "boss", "amount": 5}, "role", "not one of agent, manager"),
    ({"role": ["agent"], "amount": 5}, "role", "expected one of"),
    ({"role": "agent", "amount": 5.5}, "amount", "floats are inexact"),
    ({"role": "agent", "amount": "five"}, "amount", "amount of money"),
    ({"role": "agent", "amount": Decimal("NaN")}, "amount", "not a finite number"),
    ({"role": "agent", "amount": True}, "amount", "amount of money"),
])
def test_missing_or_ill_typed_facts_name_the_input(
    facts: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidFacts) as info:
        rules(AUTH).decide("authority", facts)
    assert info.value.input == field and info.value.decision == "authority"
    assert words in str(info.value)


def test_unknown_decision() -> None:
    with pytest.raises(UnknownDefinition) as info:
        rules(AUTH).decide("nope", {})
    assert info.value.known == ("authority",)


def test_types_accept_their_documented_forms() -> None:
    rs = table("""\
        decision: kinds
        title: Kinds
        hit_policy: first
        inputs:
          n:  {type: integer}
          d:  {type: date}
          t:  {type: datetime}
          s:  {type: string}
          b:  {type: bool}
          xs: {type: list, of: {type: enum, values: [a, b]}}
        outputs:
          ok: {type: bool}
        rules:
          - id: all
            when: {n: "[1..3]", d: ">= 2024-01-01", t: "< 2030-01-01T00:00:00+00:00",
                   s: "x, 'y, z'", b: true, xs: "a"}
            then: {ok: true}
          - id: other
            then: {ok: false}
        """, "")
    facts = {"n": "2", "d": "2024-05-01", "t": "2024-05-01T10:00:00+01:00", "s": "y, z",
             "b": True, "xs": ("b", "a")}
    d = rs.decide("kinds", facts)
    assert d.matched == ("all",)
    assert d.inputs == {"n": 2, "d": date(2024, 5, 1),
                        "t": datetime.fromisoformat("2024-05-01T10:00:00+01:00"),
                        "s": "y, z", "b": True, "xs": ["b", "a"]}
    for bad in ({"t": "2024-05-01T10:00:00"}, {"d": datetime(2024, 1, 1, tzinfo=UTC)},
                {"n": 1.0}, {"b": "true"}, {"xs": ["c"]}):
        with pytest.raises(InvalidFacts) as info:
            rs.decide("kinds", {**facts, **bad})
        assert info.value.input == next(iter(bad))


def test_optional_inputs_and_defaults() -> None:
    rs = table("""\
        decision: opt
        title: Optional inputs
        hit_policy: first
        inputs:
          tier:  {type: enum, values: [gold, basic], default: basic}
          score: {type: integer, optional: true}
        outputs:
          band: {type: string}
        rules:
          - id: unknown
            when: {score: null}
            then: {band: unknown}
          - id: gold
            when: {tier: gold, score: "not(< 50)"}
            then: {band: top}
          - id: rest
            then: {band: rest}
        """, "")
    assert rs.decide("opt", {}).outputs == {"band": "unknown"}
    assert rs.decide("opt", {}).inputs == {"tier": "basic", "score": None}
    assert rs.decide("opt", {"tier": "gold", "score": 50}).matched == ("gold",)
    assert rs.decide("opt", {"tier": None, "score": 80}).matched == ("rest",)


# --------------------------------------------------------------- hit policies

POLICY_HEAD = """\
decision: p
title: Policies
inputs:
  n: {type: integer}
"""


def test_unique_rejects_overlaps_at_load_and_finds_the_one_row() -> None:
    body = """\
        outputs: {r: {type: string}}
        rules:
          - {id: low, when: {n: "< 10"}, then: {r: low}}
          - {id: high, when: {n: ">= 10"}, then: {r: high}}
        """
    rs = table(POLICY_HEAD + "hit_policy: unique\n", body)
    assert rs.decide("p", {"n": 10}).matched == ("high",)
    bad = problems(POLICY_HEAD + "hit_policy: unique\n" + textwrap.dedent(body).replace(
        '">= 10"', '">= 9"'))
    assert any("rows 'low' and 'high' both match when n = 9" in p for p in bad)
    assert bad[0].startswith("t0.yaml:9:")


def test_any_allows_overlaps_with_equal_outputs_only() -> None:
    body = """\
        outputs: {r: {type: string}}
        rules:
          - {id: a, when: {n: "< 10"}, then: {r: same}}
          - {id: b, when: {n: "> 5"}, then: {r: same}}
        """
    rs = table(POLICY_HEAD + "hit_policy: any\n", body)
    assert rs.decide("p", {"n": 7}).matched == ("a", "b")
    assert any("different outputs" in p for p in problems(
        POLICY_HEAD + "hit_policy: any\n" + textwrap.dedent(body).replace("r: same}}\n",
                                                                          "r: other}}\n", 1)))


def test_priority_takes_the_highest_ranked_output() -> None:
    rs = table(POLICY_HEAD + "hit_policy: priority\n", """\
        outputs: {level: {type: enum, values: [urgent, high, normal]}}
        rules:
          - {id: any, then: {level: normal}}
          - {id: big, when: {n: "> 100"}, then: {level: high}}
          - {id: huge, when: {n: "> 1000"}, then: {level: urgent}}
        """)
    assert rs.decide("p", {"n": 5000}).outputs == {"level": "urgent"}
    assert rs.decide("p", {"n": 5000}).matched == ("huge",)
    assert rs.decide("p", {"n": 500}).matched == ("big",)


@pytest.mark.parametrize(("aggregate", "expected"), [
    (None, {"fee": [Decimal("5"), Decimal("2.50")]}),
    ("sum", {"fee": Decimal("7.50")}),
    ("min", {"fee": Decimal("2.50")}),
    ("max", {"fee": Decimal("5")}),
])
def test_collect_and_aggregates(aggregate: str | None, expected: dict[str, Any]) -> None:
    agg = f"aggregate: {aggregate}\n" if aggregate else ""
    rs = table(POLICY_HEAD + "hit_policy: collect\n" + agg, """\
        outputs: {fee: {type: money}}
        rules:
          - {id: base, then: {fee: 5}}
          - {id: extra, when: {n: "> 3"}, then: {fee: "2.50"}}
        """)
    d = rs.decide("p", {"n": 4})
    assert d.outputs == expected and d.matched == ("base", "extra")


def test_collect_count_and_no_match() -> None:
    rs = table(POLICY_HEAD + "hit_policy: collect\naggregate: count\n", """\
        outputs: {flags: {type: integer}}
        rules:
          - {id: a, when: {n: "> 1"}, then: {}}
          - {id: b, when: {n: "> 2"}, then: {}}
        """)
    assert rs.decide("p", {"n": 3}).outputs == {"flags": 2}
    assert rs.decide("p", {"n": 0}).outputs == {"flags": 0}
    assert rs.decide("p", {"n": 0}).matched == ()


# ------------------------------------------------------------ expressions


def test_computed_facts_and_expression_outputs() -> None:
    rs = table("""\
        decision: returns
        title: Short-term right to reject
        hit_policy: first
        inputs:
          delivered_on: {type: date}
          reported_on:  {type: date}
          received_on:  {type: date, optional: true}
          price:        {type: money}
        computed:
          days_since_delivery: "days_between(delivered_on, reported_on)"
          half: {expr: "round(price / 2, 2)", type: money}
        outputs:
          reject:        {type: bool}
          refund_due_by: {type: date, optional: true}
          amount:        {type: money}
        rules:
          - id: in-time
            when: {days_since_delivery: "[0..30]"}
            then: {reject: true, refund_due_by: "=add_days(received_on, 14)", amount: "=price"}
            source: Consumer Rights Act 2015 s.22
          - id: late
            then: {reject: false, amount: "=min(half, 100) + 0.5"}
        """, "")
    d = rs.decide("returns", {"delivered_on": "2024-01-01", "reported_on": "2024-01-31",
                              "received_on": "2024-02-01", "price": "99.99"})
    assert d.outputs == {"reject": True, "refund_due_by": date(2024, 2, 15),
                         "amount": Decimal("99.99")}
    d = rs.decide("returns", {"delivered_on": "2024-01-01", "reported_on": "2024-01-20",
                              "price": "10"})
    assert d.outputs["refund_due_by"] is None  # null in, null out
    d = rs.decide("returns", {"delivered_on": "2024-01-01", "reported_on": "2024-02-01",
                              "price": "333"})
    assert d.outputs == {"reject": False, "refund_due_by": None, "amount": Decimal("100.5")}
    facts = rs.table("returns").facts({"delivered_on": "2024-01-01", "reported_on": "2024-02-01",
                                       "price": "3.33"})
    assert facts["days_since_delivery"] == 31 and facts["half"] == Decimal("1.67")  # half up


@pytest.mark.parametrize(("expr", "words"), [
    ("days_between(delivered_on)", "days_between() takes 2 arguments"),
    ("nope(1)", "unknown function 'nope'"),
    ("delivered_on + 1", "'+' needs decimal or integer, not date"),
    ("unknown_fact * 2", "unknown name 'unknown_fact'"),
    ("1 +", "expected a value"),
    ("1 < 2 < 3", "cannot be chained"),
    ("__import__('os')", "unknown function '__import__'"),
    ("tier == 'platinum'", "'platinum' is not one of gold, basic"),
    ("(1", "expected ')'"),
    ("1 ; 2", "unexpected character ';'"),
])
def test_bad_expressions_are_definition_errors(expr: str, words: str) -> None:
    text = f"""\
decision: e
title: Expressions
hit_policy: first
inputs:
  delivered_on: {{type: date}}
  tier: {{type: enum, values: [gold, basic]}}
computed:
  x: {{expr: "{expr}", type: integer}}
outputs: {{ok: {{type: bool}}}}
rules:
  - {{id: r, then: {{ok: true}}}}
"""
    found = problems(text)
    assert any(words in p and p.startswith("t0.yaml:8:") for p in found), found


def test_user_functions_are_called_and_their_arity_checked() -> None:
    def add_business_days(d: date, n: int, calendar: str) -> date:
        assert calendar == "uk"
        return date.fromordinal(d.toordinal() + n)

    text = """\
decision: due
title: Due date
hit_policy: first
inputs: {received: {type: date}}
outputs: {due: {type: date}}
rules:
  - {id: r, then: {due: "=add_business_days(received, 3, 'uk')"}}
"""
    rs = RuleSet.from_texts({"d.yaml": text}, functions={"add_business_days": add_business_days})
    assert rs.decide("due", {"received": "2024-01-01"}).outputs == {"due": date(2024, 1, 4)}
    with pytest.raises(DefinitionError, match="too many positional arguments"):
        RuleSet.from_texts({"d.yaml": text.replace("3, 'uk'", "3, 'uk', 4")},
                           functions={"add_business_days": add_business_days})
    with pytest.raises(DefinitionError, match="unknown function 'add_working_days'"):
        RuleSet.from_texts({"d.yaml": text.replace("add_business_days", "add_working_days")})


def test_calendar_functions_are_built_in() -> None:
    """Without user functions, business days come from the bundled calendars:
    23 Dec 2025 + 3 business days skips Christmas and Boxing Day."""
    rs = RuleSet.from_texts({"d.yaml": """\
decision: due
title: Due date
hit_policy: first
inputs: {received: {type: date}}
outputs: {due: {type: date}}
rules:
  - {id: r, then: {due: "=add_business_days(received, 3, 'uk-england-wales')"}}
"""})
    assert rs.decide("due", {"received": "2025-12-23"}).outputs == {"due": date(2025, 12, 30)}


def test_runtime_arithmetic_failure_names_the_computed_fact() -> None:
    rs = table("""\
        decision: ratio
        title: Ratio
        hit_policy: first
        inputs: {a: {type: integer}, b: {type: integer}}
        computed: {r: "a / b"}
        outputs: {ok: {type: bool}}
        rules:
          - {id: r, when: {r: "> 1"}, then: {ok: true}}
          - {id: s, then: {ok: false}}
        """, "")
    with pytest.raises(InvalidFacts) as info:
        rs.decide("ratio", {"a": 1, "b": 0})
    assert info.value.input == "r"


# -------------------------------------------------------------- explain


def test_explain_names_the_first_failing_cell_and_value_seen() -> None:
    d = rules(AUTH).explain("authority", {"role": "agent", "amount": 80})
    assert d.matched == ("agent-large",)
    assert d.trace == (
        RowCheck("agent-small", False, "amount", "<= 50", Decimal(80)),
        RowCheck("agent-large", True),
        RowCheck("manager", False, "role", "manager", "agent"),
    )
    plain = rules(AUTH).decide("authority", {"role": "agent", "amount": 80})
    assert (plain.outputs, plain.matched, plain.inputs) == (d.outputs, d.matched, d.inputs)


# ------------------------------------------------------------ static checks


def test_shadowed_rows_are_errors_with_file_and_line() -> None:
    text = AUTH.replace("  - id: manager\n", "  - id: dead\n    when: {role: agent, amount: "
                        "\"[60..70]\"}\n    then: {approve: true}\n  - id: manager\n")
    found = problems(text)
    assert found == ["t0.yaml:18:9: row 'dead' can never fire: row(s) "
                     "'agent-large' above it match every case it matches (hit policy first); "
                     "remove it or move it above them"]


def test_gaps_are_warnings_listing_the_uncovered_cases() -> None:
    rs = table(POLICY_HEAD + "hit_policy: first\n", """\
        outputs: {r: {type: string}}
        rules:
          - {id: low, when: {n: "< 10"}, then: {r: low}}
          - {id: high, when: {n: "(10..20]"}, then: {r: high}}
        """)
    (warning,) = rs.check()
    assert "no row matches when: n = 10 or n >= 21;" in warning.message
    assert rs.decide("p", {"n": 10}).outputs == {"r": None}


def test_enum_gaps_are_found_per_combination() -> None:
    rs = rules(AUTH.replace("  - id: manager\n    when: {role: manager}\n",
                            "  - id: manager\n    when: {role: manager, amount: \"> 0\"}\n"))
    (warning,) = rs.check()
    assert "role = manager, amount <= 0" in warning.message


@pytest.mark.parametrize(("old", "new", "words"), [
    ('amount: "<= 50"', 'amount: "<= fifty"', "amount of money"),
    ("role: agent, amount", "role: agnet, amount", "'agnet' is not one of agent, manager"),
    ("role: agent, amount", "rol: agent, amount", "unknown input 'rol'"),
    ("role: agent, amount", 'role: "< agent", amount', "needs a number"),
    ('amount: "<= 50"', 'amount: "[50..10]"', "range '[50..10]' is empty"),
    ("then: {approve: true}\n    source", "then: {approve: yes}\n    source", "true or false"),
    ("then: {approve: true}\n    source", "then: {aprove: true}\n    source", "unknown output"),
    ("hit_policy: first", "hit_policy: last", "hit_policy"),
    ("  - id: agent-large", "  - id: agent-small", "already used"),
    ("expect: {approve: true}", "expect: {approved: true}", "unknown output 'approved'"),
    ("given: {role: agent, amount", "given: {role: agent, amt", "unknown input 'amt'"),
    ("title: Who may approve\n", "", "title: required field is missing"),
    ("money}", "cash}", "inputs.amount.type"),
])
def test_mistakes_are_located_definition_errors(old: str, new: str, words: str) -> None:
    assert old in AUTH
    found = problems(AUTH.replace(old, new, 1))
    assert any(words in p and p.startswith("t0.yaml:") for p in found), found


def test_all_problems_of_all_files_are_reported_together() -> None:
    bad1 = AUTH.replace("role: agent, amount", "role: agnet, amount")
    bad2 = AUTH.replace("decision: authority", "decision: other").replace("money}", "cash}")
    found = problems(bad1, bad2, "decision: [unclosed")
    assert {p.split(":")[0] for p in found} == {"t0.yaml", "t1.yaml", "t2.yaml"}


def test_duplicate_decisions_and_correlation_files() -> None:
    assert any("already defined" in p for p in problems(AUTH, AUTH))
    rs = rules(AUTH, **{"correlation.yaml": "correlations: []\n"})
    assert list(rs.files) == ["t0.yaml"]


# ------------------------------------------------------------ rulesets


def test_version_is_the_hash_of_canonical_content(tmp_path: Any) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text(AUTH)
    (tmp_path / "notes.txt").write_text("not a rule file")
    loaded = RuleSet.load(tmp_path)
    assert dict(loaded.files) == {"sub/a.yaml": AUTH}
    assert RuleSet.from_texts(dict(loaded.files)).version == loaded.version
    assert RuleSet.from_texts({"sub/a.yaml": AUTH + "\n"}).version != loaded.version
    assert RuleSet.load(tmp_path / "sub" / "a.yaml").names == ("authority",)


def test_ruleset_is_immutable_and_load_is_all_or_nothing(tmp_path: Any) -> None:
    rs = rules(AUTH)
    with pytest.raises(AttributeError):
        rs.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        RuleSet()
    (tmp_path / "a.yaml").write_text(AUTH)
    (tmp_path / "b.yaml").write_text("decision: b\n")
    with pytest.raises(DefinitionError):
        RuleSet.load(tmp_path)
    with pytest.raises(DefinitionError, match="does not exist"):
        RuleSet.load(tmp_path / "missing")


def test_run_tests_reports_failures_with_the_trace() -> None:
    rs = rules(AUTH.replace("expect: {approve: true}",
                            "expect: {approve: false}\n    matched: [manager]"))
    (outcome,) = rs.run_tests()
    assert not outcome.passed
    assert outcome.message == ("approve: expected false, got true; "
                               "rows: expected manager, got agent-small")
    assert outcome.explained is not None and len(outcome.explained.trace) == 3
