"""Small inline SVG charts, drawn in Python so the report needs no network or JS.

Every chart is a fixed-size ``<svg>`` with a ``viewBox``, so it scales with
the page and prints. Missing values (a period without cases) are gaps, never
zeros; a chart without any value says so in words instead of drawing axes
around nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from csflow.analytics._spc import ControlChart, ParetoBar

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
LIMIT = "#d62728"
SIGNAL = "#ff7f0e"
W, H = 640, 290
#: Room below the plot for period or cause labels, slanted, and the legend under them.
L, R, T, B = 56, 16, 30, 88
#: Longer labels are cut (the whole label stays in the tooltip), so a slanted one
#: cannot reach the legend.
LABEL_CHARS = 16


def _frame(title: str, body: str, legend: str = "") -> str:
    return (f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title>'
            f'<text x="{L}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>'
            f'{body}{legend}</svg>')


def _empty(title: str, why: str) -> str:
    return _frame(title, f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#555">'
                         f'{escape(why)}</text>')


def _scale(lo: float, hi: float) -> tuple[float, float, float]:
    """``lo``, a top a little above ``hi``, and the gridline step: 1, 2 or 5 times a
    power of ten, about four steps, so the axis reads 0, 50, 100, 150 rather than
    0, 32, 65, 97."""
    if hi <= lo:
        hi = lo + 1
    span = (hi - lo) * 1.08
    power = 10 ** math.floor(math.log10(span / 4))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= span / 4)
    return lo, lo + math.ceil(span / step - 1e-9) * step, step


def _axes(labels: Sequence[str], lo: float, hi: float, step: float, fmt: str) -> str:
    out = [f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#333"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#333"/>']
    for k in range(round((hi - lo) / step) + 1):
        v = lo + step * k
        y = _y(v, lo, hi)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{L - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt.format(v)}</text>')
    step = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % step == 0:
            x = _x(i, len(labels))
            out.append(f'<text x="{x:.1f}" y="{H - B + 14}" text-anchor="end" '
                       f'transform="rotate(-35 {x:.1f} {H - B + 14})">'
                       f'{_short(label, LABEL_CHARS)}</text>')
    return "".join(out)


def _short(text: str, chars: int) -> str:
    """``text`` escaped, cut to ``chars`` characters with the whole of it as a tooltip."""
    if len(text) <= chars:
        return escape(text)
    return f"<title>{escape(text)}</title>{escape(text[:chars - 1])}…"


def _x(i: int, n: int) -> float:
    # The middle of the i-th of n equal slots: a bar drawn there stays clear of the
    # axis and of the chart's right edge.
    return L + (W - L - R) * (i + 0.5) / n


def _y(v: float, lo: float, hi: float) -> float:
    return H - B - (H - T - B) * (v - lo) / (hi - lo)


def _polyline(values: Sequence[float | None], lo: float, hi: float, color: str,
              width: float = 2.5, dash: str = "") -> str:
    """One polyline per run of present values, so gaps stay gaps."""
    out, run = [], []
    n = len(values)
    for i, v in enumerate([*values, None]):
        if v is not None:
            run.append(f"{_x(i, n):.1f},{_y(v, lo, hi):.1f}")
            continue
        if len(run) == 1:
            x, y = run[0].split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{color}"/>')
        elif run:
            out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                       f'stroke-width="{width}"{f" stroke-dasharray={dash!r}" if dash else ""}/>')
        run = []
    return "".join(out)


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
               fmt: str = "{:.0f}") -> str:
    values = [v for s in series.values() for v in s if v is not None]
    if not labels or not values:
        return _empty(title, "no data in these periods")
    lo, hi, step = _scale(min(0.0, *values), max(values))
    body = [_axes(labels, lo, hi, step, fmt)]
    legend = []
    # One row: up to 110 px a series, less (and names cut) when there are many.
    space = min(110.0, (W - L - R) / len(series))
    for k, (name, s) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        body.append(_polyline(s, lo, hi, color))
        x = L + space * k
        legend.append(f'<rect x="{x:.1f}" y="{H - 14}" width="10" height="10" '
                      f'fill="{color}"/><text x="{x + 14:.1f}" y="{H - 5}">'
                      f'{_short(name, int((space - 18) / 6))}</text>')
    return _frame(title, "".join(body), "".join(legend))


def control_chart(chart: ControlChart, fmt: str = "{:.0f}") -> str:
    present = [v for v in chart.values if v is not None]
    if not present:
        return _empty(chart.title, "no data in these periods")
    limits = [v for v in chart.upper if v is not None]
    lo, hi, step = _scale(0.0, max([*present, *limits, chart.center]))
    n = len(chart.values)
    body = [_axes(chart.labels, lo, hi, step, fmt),
            _polyline([chart.center] * n, lo, hi, "#333", 1.2, "4 3"),
            _polyline(list(chart.upper), lo, hi, LIMIT, 1.5, "6 3"),
            _polyline(list(chart.lower), lo, hi, LIMIT, 1.5, "6 3"),
            _polyline(list(chart.values), lo, hi, PALETTE[0])]
    for s in chart.signals:
        v = chart.values[s.index]
        if v is not None:
            body.append(f'<circle cx="{_x(s.index, n):.1f}" cy="{_y(v, lo, hi):.1f}" r="6" '
                        f'fill="{SIGNAL}" stroke="#000"><title>{escape(s.message)}</title>'
                        f'</circle>')
    legend = (f'<text x="{L}" y="{H - 5}">{chart.kind}-chart · centre {fmt.format(chart.center)}'
              f' · <tspan fill="{LIMIT}">limits ±3σ</tspan> · '
              f'<tspan fill="{SIGNAL}">● special-cause signal</tspan></text>')
    return _frame(chart.title, "".join(body), legend)


def pareto_chart(title: str, bars: Sequence[ParetoBar]) -> str:
    if not bars:
        return _empty(title, "no causes recorded")
    top = max(b.count for b in bars)
    lo, hi, step = _scale(0.0, float(top))
    n = len(bars)
    width = (W - L - R) / n * 0.7
    body = [_axes([b.cause for b in bars], lo, hi, step, "{:.0f}")]
    for i, b in enumerate(bars):
        x = _x(i, n) - width / 2
        y = _y(b.count, lo, hi)
        color = PALETTE[0] if b.vital else "#aec7e8"
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                    f'height="{H - B - y:.1f}" fill="{color}"><title>{escape(b.cause)}: '
                    f'{b.count}</title></rect>')
    cum = [b.cumulative * hi for b in bars]
    body.append(_polyline(cum, lo, hi, LIMIT, 2))
    body.append(f'<text x="{W - R}" y="{T - 4}" text-anchor="end" fill="{LIMIT}">'
                f'cumulative share (top = 100%)</text>')
    legend = (f'<rect x="{L}" y="{H - 14}" width="10" height="10" fill="{PALETTE[0]}"/>'
              f'<text x="{L + 14}" y="{H - 5}">the vital few (≈80% of complaints)</text>')
    return _frame(title, "".join(body), legend)
