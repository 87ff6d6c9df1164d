"""The report's charts stay legible: round gridlines, bars inside the plot, labels that
cannot run into the legend."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from csflow.analytics import pareto
from csflow.analytics._svg import LABEL_CHARS, H, L, R, W, _scale, line_chart, pareto_chart


@given(st.floats(0, 1e9, allow_nan=False), st.floats(1e-6, 1e9, allow_nan=False))
def test_the_axis_steps_are_round_and_reach_past_the_data(lo: float, span: float) -> None:
    hi = lo + span
    bottom, top, step = _scale(lo, hi)
    assert bottom == lo
    assert top >= hi
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5, 10))
    assert 2 <= round((top - lo) / step) <= 6  # a handful of gridlines, never dozens


def test_pareto_bars_stay_inside_the_plot() -> None:
    for n in range(1, 13):
        bars = pareto({f"cause {k}": 100 - k for k in range(n)})
        svg = pareto_chart("causes", bars)
        rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height', svg)
        bars_drawn = [(float(x), float(w)) for x, w in rects][:n]  # the legend's comes last
        assert len(bars_drawn) == n
        for x, width in bars_drawn:
            assert x > L and x + width < W - R, (n, x, width)


def test_long_labels_are_cut_and_kept_whole_in_a_tooltip() -> None:
    cause = "third_party_courier_delay_in_the_north"
    svg = pareto_chart("causes", pareto({cause: 5, "other": 3}))
    assert f"<title>{cause}</title>{cause[:LABEL_CHARS - 1]}…</text>" in svg
    assert f">{cause}<" not in svg.replace(f"<title>{cause}</title>", "")


def test_many_series_share_the_legend_row() -> None:
    series = {f"category number {k}": [float(k), float(k + 1)] for k in range(8)}
    svg = line_chart("volumes", ["W1", "W2"], series)
    xs = [float(x) for x in re.findall(rf'<rect x="([\d.]+)" y="{H - 14}"', svg)]
    assert len(xs) == 8
    assert xs[-1] < W - R  # the last legend entry starts inside the chart
