"""Property tests: mutated rule files only ever raise DefinitionError; decide == explain."""

from __future__ import annotations

import contextlib
import copy
import os
import random
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csflow
from csflow.errors import DefinitionError, InvalidFacts
from csflow.rules import RuleSet

PACK = Path(csflow.__file__).parent / "policies" / "complaint"

FEATURES = textwrap.dedent("""\
    decision: features
    title: Every feature
    hit_policy: first
    inputs:
      kind:   {type: enum, values: [a, b, c]}
      flag:   {type: bool}
      n:      {type: integer, optional: true}
      price:  {type: money, default: "10"}
      on:     {type: date}
      tags:   {type: list, of: {type: string}, optional: true}
    computed:
      age: "days_between(on, date('2024-06-01'))"
      big: "price * 2 > 100 and not flag"
    outputs:
      r:   {type: string}
      due: {type: date, optional: true}
      v:   {type: money, optional: true}
    rules:
      - {id: r1, when: {kind: [a, b], n: "[1..10)"}, then: {r: one, due: "=add_days(on, 3)"}}
      - {id: r2, when: {big: true, tags: "x, y"}, then: {r: two, v: "=max(price, 1) / 3"}}
      - {id: r3, when: {n: null, age: "> 30"}, then: {r: three}}
      - {id: r4, when: {kind: "not(c)", price: "(5..50]"}, then: {r: four, v: "=abs(price)"}}
      - {id: r5, when: {on: ">= 2024-01-01", flag: false}, then: {r: five}}
      - {id: r6, then: {r: six}}
    tests:
      - given: {kind: a, flag: true, n: 3, on: 2024-05-01}
        expect: {r: one, due: 2024-05-04}
""")


def _compact(path: Path, rows: int) -> str:
    """A bundled table cut to its first rows and tests: PyYAML is slow, the variety is kept."""
    data = yaml.safe_load(path.read_text())
    data["rules"] = data["rules"][:rows]
    data["tests"] = [{"given": t["given"]} for t in data["tests"][:2]]
    return yaml.safe_dump(data, sort_keys=False)


SOURCES = {
    "features.yaml": FEATURES,
    "compensation_authority.yaml": _compact(PACK / "compensation_authority.yaml", 6),
    "escalation.yaml": _compact(PACK / "escalation.yaml", 5),
}
PARSED = {name: yaml.safe_load(text) for name, text in SOURCES.items()}
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
EXAMPLES = int(os.environ.get("CSFLOW_RULES_FUZZ_EXAMPLES", "3000"))
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", "-", "<", "[1..]", "(3..2)", "not(", "null", "=",
    "=1 +", "=__import__('os')", "agent", "a, b", "'", "{", [], [None], {}, {"x": 1},
    "2024-13-01", "=days_between(on)", "x" * 200, "=r", "first", "collect", "sum",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(name: str, rnd: random.Random) -> str:
    if rnd.random() < 0.3:  # character-level damage
        chars = list(SOURCES[name])
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(chars))
            chars[i] = rnd.choice(["", ":", "-", "{", "]", " ", "\n", "'", "x", "#", "\t"])
        return "".join(chars)
    data = copy.deepcopy(PARSED[name])
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice(_paths(data)[1:])
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        choice = rnd.random()
        if choice < 0.25 and isinstance(parent, dict):
            del parent[path[-1]]
        elif choice < 0.35 and isinstance(parent, list):
            parent.append(parent[path[-1]])
        else:
            parent[path[-1]] = rnd.choice(ODD_VALUES)
    return yaml.dump(data, Dumper=DUMPER, sort_keys=False)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(SOURCES)))
def test_mutated_rule_files_only_raise_definition_errors(seed: int, name: str) -> None:
    rnd = random.Random(seed)
    text = _mutate(name, rnd)
    try:
        rules = RuleSet.from_texts({name: text})
    except DefinitionError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return
    rules.check()
    rules.run_tests()
    for decision in rules.names:
        with contextlib.suppress(InvalidFacts, DefinitionError):
            rules.decide(decision, {})


FEATURE_RULES = RuleSet.from_texts({"f.yaml": FEATURES})
AUTHORITY = RuleSet.load(PACK)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["a", "b", "c"]), flag=st.booleans(),
    n=st.none() | st.integers(-2, 12),
    price=st.none() | st.decimals(-100, 200, places=2),
    on=st.dates(), tags=st.none() | st.lists(st.sampled_from(["x", "y", "z"]), max_size=3),
)
def test_decide_agrees_with_explain(**facts: Any) -> None:
    decided = FEATURE_RULES.decide("features", facts)
    explained = FEATURE_RULES.explain("features", facts)
    assert (decided.outputs, decided.matched, decided.inputs) == (
        explained.outputs, explained.matched, explained.inputs)
    first_hit = next(c.row for c in explained.trace if c.matched)
    assert decided.matched == (first_hit,)


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from(["agent", "team_leader", "manager", "director"]),
    category=st.sampled_from(["refund", "compensation", "goodwill"]),
    amount=st.decimals(-10, 10_000, places=2),
)
def test_authority_decisions_match_explain(role: str, category: str, amount: Decimal) -> None:
    facts = {"role": role, "category": category, "amount": amount}
    d, e = AUTHORITY.decide("compensation_authority", facts), AUTHORITY.explain(
        "compensation_authority", facts)
    assert (d.outputs, d.matched) == (e.outputs, e.matched)
    assert d.outputs["approve"] is (d.outputs["escalate_to"] is None and amount >= 0)
