"""Replay as of any instant, re-checking decisions, and what-if under candidate rules."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from csflow._replay import replay
from csflow.audit import case_history, recheck, whatif
from csflow.audit._fold import fold
from csflow.errors import CaseNotFound, UnknownDefinition
from csflow.rules import POLICIES, RuleSet

from .conftest import Desk


def test_fold_builds_the_data_replay_builds(desk: Desk) -> None:
    for case_id in desk.case_ids:
        events = desk.store.load_events(case_id)
        data: object = {}
        for e in events:
            data = fold(data, e.data, e.pii)  # type: ignore[arg-type]
        assert data == replay(desk.engine.workflow("complaint"), events).data
        assert data == desk.store.load_case(case_id).data


def test_replay_as_of_each_event_time(desk: Desk) -> None:
    case_id = max(desk.case_ids, key=lambda c: desk.store.load_case(c).version)
    events = desk.store.load_events(case_id)
    for e in events:
        # the last event at that instant (an escalation can follow in the same second)
        last = [x for x in events if x.occurred_at <= e.occurred_at][-1]
        history = case_history(desk.store, case_id, as_of=e.occurred_at)
        assert history.case.state == last.dest
        assert history.case.version == last.seq
        assert [x.seq for x in history.events] == list(range(1, last.seq + 1))
        assert history.broken is None
    now = case_history(desk.store, case_id)
    assert now.case == desk.store.load_case(case_id)
    with pytest.raises(ValueError, match="did not exist"):
        case_history(desk.store, case_id, as_of=events[0].occurred_at - timedelta(seconds=1))
    with pytest.raises(ValueError, match="time zone"):
        case_history(desk.store, case_id, as_of=events[0].occurred_at.replace(tzinfo=None))
    with pytest.raises(CaseNotFound):
        case_history(desk.store, "nope")
    with pytest.raises(UnknownDefinition, match="complaint"):
        case_history(desk.store, case_id, workflows={})


def test_every_recorded_decision_reproduces(desk: Desk) -> None:
    report = recheck(desk.store)
    assert report.ok, report.differences[:3]
    assert report.checked["escalation"] >= len(desk.case_ids) // 2
    assert report.unusable == {}


def test_unknown_and_corrupt_rulesets_are_reported_not_crashed_on(sql_desk: Desk) -> None:
    assert sql_desk.engine.rules is not None
    version = sql_desk.engine.rules.version
    sql_desk.sql("UPDATE csflow_rulesets SET files = replace(files, 'agent', 'agnet')")
    report = recheck(sql_desk.store)
    assert "corrupt" in report.unusable[version]
    assert len(report.differences) == sum(report.checked.values())
    assert all(d.problem and "corrupt" in d.problem for d in report.differences)

    sql_desk.sql("UPDATE csflow_rulesets SET files = '{\"a.yaml\": \"decision: [\"}'")
    assert "do not load" in recheck(sql_desk.store).unusable[version]

    sql_desk.sql("DELETE FROM csflow_rulesets")
    assert "unknown" in recheck(sql_desk.store).unusable[version]


def test_whatif_reports_what_candidate_rules_would_decide(desk: Desk, tmp_path: Path) -> None:
    candidate_dir = tmp_path / "candidate"
    shutil.copytree(POLICIES, candidate_dir)
    table = candidate_dir / "complaint" / "compensation_authority.yaml"
    # a stricter policy: agents' own authority cut to 1 GBP
    text, cuts = re.subn(r'(role: agent, category: \w+, amount: )"<= [0-9.]+"', r'\1"<= 1"',
                         table.read_text())
    assert cuts > 0
    table.write_text(text)
    before = list(desk.store.iter_raw_events())

    same = whatif(desk.store, RuleSet.load(POLICIES))
    assert same.ok
    report = whatif(desk.store, RuleSet.load(candidate_dir))

    assert list(desk.store.iter_raw_events()) == before
    assert report.ruleset_version == RuleSet.load(candidate_dir).version
    assert report.changed("compensation_authority") > 0
    assert report.changed("escalation") == 0
    diff = report.differences[0]
    assert diff.decision == "compensation_authority"
    assert diff.after is not None and diff.rows_after != diff.rows_before
    assert diff.case_id in report.cases
