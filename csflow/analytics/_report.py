"""The service manager's report: one self-contained HTML file.

:func:`build_report` does the analysis (pure, from events); :func:`render_html`
lays it out. The page has no scripts, fonts or images from elsewhere: charts
are inline SVG, styles are inline, so it can be mailed, archived with the
review, and opened offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from html import escape
from itertools import compress
from pathlib import Path
from typing import Any

from csflow.analytics import _svg
from csflow.analytics._kpi import (
    Kpis,
    Period,
    first_period,
    kpi_table,
    measure,
    period_positions,
    periods_for,
)
from csflow.analytics._log import CaseFacts, EventLog, LogSpec, column, read_log
from csflow.analytics._spc import (
    ControlChart,
    ParetoBar,
    c_chart,
    category_trend,
    causes,
    p_chart,
    pareto,
    u_chart,
)
from csflow.analytics._standards import (
    BUNDLED,
    MIN_PERIODS,
    Failing,
    Standard,
    compare,
    fmt_measure,
    load_standards,
    standards_for,
)
from csflow.analytics._steps import StepAnalysis, step_analysis
from csflow.errors import UnknownDefinition
from csflow.model import Event
from csflow.workflows import WorkflowDef

REVIEW_WORKFLOW = "process_review"


@dataclass(frozen=True)
class Report:
    """Everything the report shows, as values (testable without HTML)."""

    log: EventLog
    periods: tuple[Period, ...]
    overall: Kpis
    by_period: tuple[Kpis, ...]
    by_area: tuple[Kpis, ...]
    standards: tuple[Standard, ...]
    failings: tuple[Failing, ...]
    standards_note: str | None  # why standards were not judged, if they were not
    volume_chart: ControlChart
    sla_chart: ControlChart | None
    escalation_chart: ControlChart | None
    categories: dict[str, list[int]]
    pareto: tuple[ParetoBar, ...]
    steps: StepAnalysis
    reviews: tuple[dict[str, Any], ...]

    @property
    def attention(self) -> list[str]:
        """The few things a manager should act on first, in plain words."""
        out = [f"Special cause in {c.title.lower()} — {s.message}" for c in self.charts
               for s in c.signals]
        by_key: dict[tuple[str, str], list[str]] = {}
        for f in self.failings:
            by_key.setdefault((f.area, f.measure), []).append(f.period)
        for (area, m), periods in sorted(by_key.items(), key=lambda kv: -len(kv[1]))[:5]:
            out.append(f"{area}: {m.replace('_', ' ')} missed its standard in {len(periods)} of "
                       f"{len(self.periods)} periods ({', '.join(periods[:4])}"
                       f"{'…' if len(periods) > 4 else ''})")
        worst = max((s for s in self.steps.steps if s.breach_share),
                    key=lambda s: s.breach_share or 0.0, default=None)
        if worst is not None and worst.breach_share:
            out.append(f"Step '{worst.step}' breaches its {worst.sla} standard in "
                       f"{worst.breach_share:.0%} of cases")
        loops = max(self.steps.steps, key=lambda s: s.rework, default=None)
        if loops is not None and loops.rework:
            out.append(f"Rework: {loops.rework} repeat visits to '{loops.step}' "
                       f"({loops.rework_cases} cases)")
        vital = [b.cause for b in self.pareto if b.vital]
        if vital:
            out.append(f"{len(vital)} of {len(self.pareto)} causes account for ~80% of "
                       f"complaints: {', '.join(vital)}")
        return out

    @property
    def charts(self) -> list[ControlChart]:
        return [c for c in (self.volume_chart, self.sla_chart, self.escalation_chart) if c]


def build_report(
    events: Iterable[Event],
    *,
    spec: LogSpec | None = None,
    period: str = "auto",
    boundaries: Sequence[date] = (),
    areas: Sequence[str] = (),
    standards: Sequence[Standard] | str | Path = BUNDLED,
    workflows: Iterable[WorkflowDef] | None = None,
) -> Report:
    """Analyse the log for the report. ``areas`` limits it to those business areas."""
    log = read_log(events, spec=spec, workflows=workflows)
    known = log.areas
    for a in areas:
        if a not in known:
            raise UnknownDefinition("business area", a, known)
    if areas:
        keep = set(areas)
        mine = [area in keep for area in column(log.case_rows, CaseFacts, "area")]
        log = replace(log, case_rows=tuple(compress(log.case_rows, mine)),
                      stays=log.stays.only(mine))
    stds = tuple(load_standards(standards) if isinstance(standards, (str, Path)) else standards)
    periods = periods_for(log, period, boundaries=boundaries)
    by_period = kpi_table(log, periods)
    by_area = kpi_table(log, periods, by="business_area")
    note = None
    failings: list[Failing] = []
    judged = [s for a in known if a in {s.area for s in stds} for s in standards_for(stds, a)]
    if len(periods) < MIN_PERIODS:
        note = (f"Standards are judged over at least {MIN_PERIODS} consecutive service periods; "
                f"this report has {len(periods)}. Choose a shorter period (e.g. --period day).")
    else:
        failings = compare(by_area, judged)
    labels = [p.label for p in periods]
    volume = c_chart("Complaints per period", labels, [k.volume for k in by_period])
    sla_n: list[list[bool]] = [[] for _ in periods]
    esc_n: list[list[int]] = [[] for _ in periods]
    rows = log.case_rows
    for i, met, escalations in zip(period_positions(rows, first_period(periods)),
                                   column(rows, CaseFacts, "sla_met"),
                                   column(rows, CaseFacts, "escalations"), strict=True):
        if i is not None:
            if met is not None:
                sla_n[i].append(met)
            esc_n[i].append(escalations)
    sla = (p_chart("Share of cases breaching a service level", labels,
                   [sum(not v for v in xs) for xs in sla_n], [len(xs) for xs in sla_n])
           if any(sla_n) else None)
    esc = (u_chart("Escalations per case", labels, [sum(xs) for xs in esc_n],
                   [len(xs) for xs in esc_n]) if any(esc_n) else None)
    reviews = tuple(
        {"id": cid, **o} for cid, o in log.others.items() if o["workflow"] == REVIEW_WORKFLOW)
    return Report(
        log=log, periods=periods, overall=measure(log.case_rows, "all"),
        by_period=tuple(by_period), by_area=tuple(by_area), standards=tuple(judged),
        failings=tuple(failings), standards_note=note, volume_chart=volume, sla_chart=sla,
        escalation_chart=esc, categories=category_trend(log, periods),
        pareto=pareto(causes(log)), steps=step_analysis(log), reviews=reviews,
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1220px}
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:2px solid #1f77b4;padding-bottom:4px}
.meta{color:#555}.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));
gap:10px;margin:16px 0}
.tile{border:1px solid #ccd;border-radius:8px;padding:10px;background:#f7f9fc}
.tile b{display:block;font-size:24px;margin-top:4px}.tile span{color:#555;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;
padding:4px 8px;text-align:right}
th{background:#eef2f8}td:first-child,th:first-child{text-align:left}
.bad{background:#fde2e1}.attention li{margin:4px 0}.note{color:#8a5a00}
"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _h(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} h"


def _tiles(k: Kpis) -> str:
    tiles = [
        ("Complaints", str(k.volume), f"{k.closed} closed"),
        ("First-contact resolution", _pct(k.first_contact_rate), "resolved at first contact"),
        ("Time to acknowledge", _h(k.ack_hours), "mean, business hours"),
        ("Time to respond", _h(k.respond_hours), "mean, business hours"),
        ("Time to resolve", _h(k.resolve_hours), f"median {_h(k.resolve_hours_median)}"),
        ("SLA attainment", _pct(k.sla_attainment), "cases meeting every step SLA"),
        ("Escalation rate", _pct(k.escalation_rate), "cases escalated at least once"),
        ("Reopen rate", _pct(k.reopen_rate), "cases reopened"),
        ("Customer confirmation", _pct(k.confirmation_rate), "of closed cases"),
        ("CSAT", _pct(k.csat), "share of 4–5 answers"
         + ("" if k.csat_mean is None else f", mean {k.csat_mean:.2f}")),
        ("Cost per case", "–" if k.cost_per_case is None else f"£{k.cost_per_case:,.2f}",
         "remedy + estimated staff time"),
        ("Regulatory compliance", _pct(k.regulatory_compliance),
         f"{k.regulated} regulated cases"),
    ]
    return '<div class="tiles">' + "".join(
        f'<div class="tile">{escape(a)}<b>{escape(b)}</b><span>{escape(c)}</span></div>'
        for a, b, c in tiles) + "</div>"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]],
           bad: frozenset[tuple[int, int]] = frozenset()) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for i, row in enumerate(rows):
        out.append("<tr>" + "".join(
            f'<td{" class=bad" if (i, j) in bad else ""}>{escape(c)}</td>'
            for j, c in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _area_table(r: Report) -> str:
    cols = [("volume", "Cases"), ("first_contact_rate", "FCR"), ("ack_hours", "Ack"),
            ("resolve_hours", "Resolve"), ("sla_attainment", "SLA"),
            ("escalation_rate", "Escalated"), ("reopen_rate", "Reopened"), ("csat", "CSAT"),
            ("cost_per_case", "Cost/case"), ("regulatory_compliance", "Regulatory")]
    failed = {(f.period, f.area, f.measure) for f in r.failings}
    rows, bad = [], set()
    for i, k in enumerate(r.by_area):
        row = [k.period, k.group or "–"]
        for j, (m, _) in enumerate(cols):
            value = getattr(k, m)
            row.append(str(value) if m == "volume" else fmt_measure(m, value))
            if (k.period, k.group, m) in failed:
                bad.add((i, j + 2))
        rows.append(row)
    return _table(["Period", "Area", *(c for _, c in cols)], rows, frozenset(bad))


def _steps_table(s: StepAnalysis) -> str:
    rows = [[x.step, x.sla or "–", str(x.visits), str(x.cases), _h(x.dwell_mean),
             _h(x.dwell_median), _h(x.dwell_p90), f"{x.rework} ({x.rework_cases} cases)",
             str(x.handoffs), f"£{x.cost:,.2f}",
             "–" if x.cost_per_case is None else f"£{x.cost_per_case:,.2f}",
             _pct(x.breach_share), _pct(x.regulatory_breach_share)] for x in s.steps]
    bad = frozenset((i, 11) for i, x in enumerate(s.steps) if (x.breach_share or 0) > 0.1)
    return _table(["Step", "Standard", "Visits", "Cases", "Dwell mean", "Median", "90th pct",
                   "Rework", "Hand-offs", "Staff cost", "Per case", "SLA breached",
                   "Regulatory missed"], rows, bad)


def _reviews(r: Report) -> str:
    if not r.reviews:
        return ("<p>No process review is open. Start one with the <code>process_review</code> "
                "workflow (see docs/review.md); its steps are pre-filled from the step table "
                "above.</p>")
    rows = []
    for rv in r.reviews:
        d = rv["data"]
        steps, assessed = d.get("steps") or [], d.get("assessments") or []
        rows.append([str(d.get("title", rv["id"])), str(d.get("workflow_reviewed", "–")),
                     str(rv["state"]).replace("_", " "), f"{len(assessed)} / {len(steps)}",
                     "yes" if (d.get("legal_ethical") or {}).get("checked") else "no",
                     rv["updated_at"].strftime("%Y-%m-%d %H:%M")])
    return _table(["Review", "Workflow", "Stage", "Steps assessed", "Legal & ethical checked",
                   "Last activity (UTC)"], rows)


def render_html(r: Report, *, title: str = "Customer service report") -> str:
    """The report as one HTML page (inline CSS and SVG only)."""
    labels = [p.label for p in r.periods]
    log = r.log
    area_volume = {a: [k.volume for k in r.by_area if k.group == a] for a in log.areas}
    attention = r.attention
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p class=meta>Workflow <b>{escape(log.workflow.name)}</b> · "
        f"{len(log.case_rows)} cases, {log.events} events · service periods "
        f"{escape(labels[0])} to {escape(labels[-1])} ({len(labels)}) · data as of "
        f"{log.as_of:%Y-%m-%d %H:%M} UTC · business time on the {escape(log.calendar.name)} "
        "calendar</p>",
        _tiles(r.overall),
        "<h2>What needs attention</h2><ul class=attention>"
        + ("".join(f"<li>{escape(a)}</li>" for a in attention)
           or "<li>No special causes, standard failings or breaching steps.</li>") + "</ul>",
        "<h2>Trends</h2><div class=grid>",
        _svg.line_chart("Complaints per period by business area", labels, area_volume),
        _svg.line_chart("Complaints per period by category", labels,
                        dict(list(r.categories.items())[:6])),
        "</div><h2>Control charts</h2><div class=grid>",
        _svg.control_chart(r.volume_chart),
        *(_svg.control_chart(c, "{:.0%}" if c.kind == "p" else "{:.2f}")
          for c in (r.sla_chart, r.escalation_chart) if c is not None),
        _svg.pareto_chart(f"Pareto of root causes ({sum(b.count for b in r.pareto)} cases "
                          "with a recorded cause)", r.pareto),
        "</div>",
        "<h2>Service standards by business area</h2>",
        f"<p class=note>{escape(r.standards_note)}</p>" if r.standards_note else
        (f"<p>{len(r.failings)} failing(s) over {len(r.periods)} consecutive periods; failing "
         "cells are shaded.</p>"),
        _table(["Area", "Measure", "Standard", "Source"],
               [[s.area, s.measure.replace("_", " "), s.describe(), s.source]
                for s in r.standards]),
        _area_table(r),
        "<h2>Process steps</h2>",
        f"<p>Dwell times in business hours. Staff cost is estimated from actions by role. "
        f"Steps of <b>{escape(r.steps.workflow)}</b> in workflow order.</p>",
        _steps_table(r.steps),
        "<h3>Most common paths</h3>",
        _table(["Path", "Cases", "Share", "Mean time to resolve"],
               [[" → ".join(p.path), str(p.cases), _pct(p.share), _h(p.mean_hours)]
                for p in r.steps.paths]),
        "<h3>Hand-offs between roles</h3>",
        _table(["From", "To", "Hand-offs"], [[a, b, str(n)] for a, b, n in r.steps.handoffs]),
        "<h2>Process re-engineering reviews</h2>",
        _reviews(r),
        "</body></html>",
    ]
    return "".join(parts)
