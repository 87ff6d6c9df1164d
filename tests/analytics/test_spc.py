"""Control charts, the four run rules, and Pareto."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csflow.analytics import AnalyticsError, c_chart, p_chart, pareto, run_rules, u_chart


def _labels(n: int) -> list[str]:
    return [f"p{i}" for i in range(n)]


def test_c_chart_limits_are_mean_plus_minus_three_root_mean() -> None:
    chart = c_chart("complaints", _labels(4), [8, 10, 12, 10])
    assert chart.center == 10
    assert chart.upper[0] == pytest.approx(10 + 3 * math.sqrt(10))
    assert chart.lower[0] == pytest.approx(10 - 3 * math.sqrt(10))
    assert chart.signals == ()


def test_p_chart_limits_narrow_with_bigger_periods_and_stay_in_0_1() -> None:
    chart = p_chart("late", _labels(3), [1, 10, 0], [10, 100, 0])
    assert chart.center == pytest.approx(11 / 110)
    assert chart.upper[1] is not None and chart.upper[0] is not None
    assert chart.upper[1] < chart.upper[0]
    assert chart.values[2] is None and chart.upper[2] is None  # no cases: a gap, not 0
    assert all(0 <= (x or 0) <= 1 for x in (*chart.upper, *chart.lower))


def test_u_chart_counts_per_unit() -> None:
    chart = u_chart("escalations per case", _labels(2), [5, 15], [10, 10])
    assert chart.center == 1.0 and chart.values == (0.5, 1.5)


@pytest.mark.parametrize(("z", "rule", "index"), [
    ([0, 0.5, 3.2, 0], 1, 2),
    ([0, 2.5, 0.3, 2.1], 2, 3),
    ([1.5, 1.2, 0.2, 1.1, 1.3], 3, 4),
    ([-0.1] * 8, 4, 7),
])
def test_each_run_rule_fires_where_it_should(z: list[float], rule: int, index: int) -> None:
    signals = run_rules(z, _labels(len(z)))
    assert (signals[0].rule, signals[0].index) == (rule, index)


def test_rules_need_the_points_on_one_side() -> None:
    assert run_rules([2.5, -2.5, 0.5], _labels(3)) == ()
    assert run_rules([0.5, -0.5] * 6, _labels(12)) == ()
    assert run_rules([0.2] * 7, _labels(7)) == ()  # seven is not eight


def test_gaps_break_runs() -> None:
    assert run_rules([0.2] * 4 + [None] + [0.2] * 4, _labels(9)) == ()


def test_a_spike_in_complaints_is_flagged() -> None:
    chart = c_chart("complaints", _labels(10), [20, 21, 19, 20, 22, 18, 20, 45, 21, 20])
    assert [(s.label, s.rule, s.side) for s in chart.signals] == [("p7", 1, "above")]
    assert "beyond 3σ" in chart.signals[0].message


@given(st.lists(st.floats(min_value=-0.99, max_value=0.99), min_size=1, max_size=7))
def test_short_runs_of_small_deviations_never_signal(z: list[float]) -> None:
    assert run_rules(z, _labels(len(z))) == ()


def test_bad_chart_input_is_an_error() -> None:
    with pytest.raises(AnalyticsError, match="at least one period"):
        c_chart("x", [], [])
    with pytest.raises(AnalyticsError, match="more hits than cases"):
        p_chart("x", _labels(1), [3], [2])
    with pytest.raises(AnalyticsError, match="no cases in any period"):
        p_chart("x", _labels(2), [0, 0], [0, 0])


def test_pareto_orders_accumulates_and_marks_the_vital_few() -> None:
    bars = pareto({"billing": 10, "delivery": 60, "staff": 5, "product": 25})
    assert [b.cause for b in bars] == ["delivery", "product", "billing", "staff"]
    assert [round(b.cumulative, 2) for b in bars] == [0.6, 0.85, 0.95, 1.0]
    assert [b.vital for b in bars] == [True, True, False, False]
    assert pareto({}) == ()
