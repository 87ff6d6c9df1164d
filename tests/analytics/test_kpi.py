"""KPIs from hand-made cases whose every figure can be worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from csflow.analytics import (
    AnalyticsError,
    LogSpec,
    NoData,
    kpi_table,
    measure,
    read_log,
    service_periods,
)
from csflow.errors import UnknownDefinition
from csflow.model import Actor, Event
from csflow.testing import memory_engine

AGENT = Actor("a1", "agent")
CUSTOMER = Actor("c1", "customer")
CLASS = {"type": "billing", "severity": "low", "vulnerable": False, "regulated": False,
         "repeat": False}


def _intake(area: str = "retail", channel: str = "phone") -> dict[str, object]:
    return {"customer": {"id": "c1", "name": "Ann Smith"}, "channel": channel,
            "business_area": area, "product": "kettle", "description": "Broken",
            "desired_outcome": "a refund"}


def _cases() -> list[Event]:
    """Monday 09:00: case A resolved at first contact at 11:00 and confirmed (CSAT 5).
    Tuesday 09:00: case B investigated at 10:00, escalated, closed unconfirmed Wed 09:00."""
    engine, clock = memory_engine(start=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    a = engine.start("complaint", _intake(), actor=AGENT)
    clock.advance(hours=2)
    engine.fire(a.id, "resolve_on_first_contact", actor=AGENT,
                data={"classification": CLASS, "action_taken": "Refunded"})
    clock.advance(hours=1)
    engine.fire(a.id, "confirm_resolved", actor=CUSTOMER, data={"csat": 5})
    clock.set(datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    b = engine.start("complaint", _intake("delivery", "email"), actor=AGENT)
    clock.advance(hours=1)
    engine.fire(b.id, "start_investigation", actor=AGENT, data={"classification": CLASS})
    engine.fire(b.id, "escalate", actor=AGENT,
                data={"escalation_reason": "Needs a team leader", "to_level": "team_leader"})
    return list(engine.store.iter_events())


def test_overall_figures_match_the_hand_calculation() -> None:
    log = read_log(_cases())
    k = measure(log.cases)
    assert k.volume == 2 and k.closed == 1
    assert k.first_contact_rate == 0.5
    assert k.ack_hours == pytest.approx((2 + 1) / 2)  # 2 business hours for A, 1 for B
    assert k.escalation_rate == 0.5 and k.reopen_rate == 0.0
    assert k.confirmation_rate == 1.0
    assert k.csat == 1.0 and k.csat_mean == 5.0
    assert k.regulated == 0 and k.regulatory_compliance is None


def test_cost_counts_staff_actions_by_role_and_the_remedy() -> None:
    log = read_log(_cases())
    a = next(c for c in log.cases if c.first_contact)
    assert a.cost == 600 + 600 + 0  # agent opens, agent resolves, customer confirms
    cheap = read_log(_cases(), spec=LogSpec(action_cost={"agent": 100}))
    assert next(c for c in cheap.cases if c.first_contact).cost == 200


def test_periods_without_cases_have_rows_with_no_rates_not_nan() -> None:
    log = read_log(_cases())
    periods = service_periods("day", date(2026, 1, 5), date(2026, 1, 8))
    rows = kpi_table(log, periods, by="business_area")
    assert [(r.period, r.group, r.volume) for r in rows] == [
        ("2026-01-05", "delivery", 0), ("2026-01-05", "retail", 1),
        ("2026-01-06", "delivery", 1), ("2026-01-06", "retail", 0),
        ("2026-01-07", "delivery", 0), ("2026-01-07", "retail", 0),
        ("2026-01-08", "delivery", 0), ("2026-01-08", "retail", 0),
    ]
    empty = rows[-1]
    assert empty.first_contact_rate is None and empty.cost_per_case is None
    assert empty.csat is None and empty.sla_attainment is None


def test_weeks_months_and_custom_periods() -> None:
    weeks = service_periods("week", date(2026, 1, 7), date(2026, 1, 20))
    assert [p.label for p in weeks] == ["2026-W02", "2026-W03", "2026-W04"]
    assert weeks[0].start == date(2026, 1, 5)
    months = service_periods("month", date(2026, 1, 31), date(2026, 3, 1))
    assert [p.label for p in months] == ["2026-01", "2026-02", "2026-03"]
    custom = service_periods("custom", date(2026, 1, 1), date(2026, 1, 1),
                             boundaries=[date(2026, 1, 1), date(2026, 1, 29), date(2026, 2, 26)])
    assert [(p.start, p.end) for p in custom] == [
        (date(2026, 1, 1), date(2026, 1, 29)), (date(2026, 1, 29), date(2026, 2, 26))]


@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    ("fortnight", {}, "unknown service period 'fortnight'"),
    ("custom", {"boundaries": [date(2026, 1, 1)]}, "at least two boundary dates"),
])
def test_bad_periods_are_csflow_errors(kind: str, kwargs: dict[str, object], message: str
                                       ) -> None:
    with pytest.raises(AnalyticsError, match=message):
        service_periods(kind, date(2026, 1, 1), date(2026, 1, 2), **kwargs)  # type: ignore[arg-type]


def test_empty_log_unknown_workflow_and_unknown_group() -> None:
    with pytest.raises(NoData, match="no 'complaint' cases"):
        read_log([])
    with pytest.raises(UnknownDefinition, match="unknown workflow 'refunds'"):
        read_log(_cases(), spec=LogSpec(workflow="refunds"))
    log = read_log(_cases())
    periods = service_periods("day", date(2026, 1, 5), date(2026, 1, 6))
    with pytest.raises(UnknownDefinition, match=r"unknown business area 'garden'.*retail"):
        kpi_table(log, periods, by="business_area", groups=["garden"])
    with pytest.raises(AnalyticsError, match="cannot group by 'colour'"):
        kpi_table(log, periods, by="colour")


def test_open_case_breaches_its_sla_once_the_log_end_passes_due() -> None:
    engine, _ = memory_engine(start=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    case = engine.start("complaint", _intake(), actor=AGENT)
    engine.fire(case.id, "start_investigation", actor=AGENT, data={"classification": CLASS})
    events = list(engine.store.iter_events())
    # investigating has 5 business days: due at close on Monday 12 January
    assert read_log(events, as_of=datetime(2026, 1, 9, 17, tzinfo=UTC)).cases[0].sla_met is True
    late = read_log(events, as_of=datetime(2026, 1, 12, 9, tzinfo=UTC) + timedelta(days=1))
    assert late.cases[0].sla_met is False
