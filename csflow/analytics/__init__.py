"""Insight from the event log: KPIs per service period, trends and control
charts, step analysis, service standards, and the manager's HTML report.

Everything here reads events (``Store.iter_events()``) and is pure; see
``docs/analytics.md``.
"""

from csflow.analytics._kpi import (
    GROUPS,
    MEASURES,
    PERIOD_KINDS,
    Kpis,
    Period,
    kpi_table,
    measure,
    periods_for,
    service_periods,
)
from csflow.analytics._log import (
    DEFAULT_ACTION_COST,
    AnalyticsError,
    CaseFacts,
    Deadline,
    EventLog,
    LogSpec,
    NoData,
    Visit,
    read_log,
)
from csflow.analytics._report import Report, build_report, render_html
from csflow.analytics._spc import (
    RULES,
    ControlChart,
    ParetoBar,
    Signal,
    c_chart,
    category_trend,
    causes,
    p_chart,
    pareto,
    run_rules,
    u_chart,
)
from csflow.analytics._standards import Failing, Standard, compare, load_standards
from csflow.analytics._steps import PathStats, StepAnalysis, StepStats, step_analysis

__all__ = [
    "DEFAULT_ACTION_COST",
    "GROUPS",
    "MEASURES",
    "PERIOD_KINDS",
    "RULES",
    "AnalyticsError",
    "CaseFacts",
    "ControlChart",
    "Deadline",
    "EventLog",
    "Failing",
    "Kpis",
    "LogSpec",
    "NoData",
    "ParetoBar",
    "PathStats",
    "Period",
    "Report",
    "Signal",
    "Standard",
    "StepAnalysis",
    "StepStats",
    "Visit",
    "build_report",
    "c_chart",
    "category_trend",
    "causes",
    "compare",
    "kpi_table",
    "load_standards",
    "measure",
    "p_chart",
    "pareto",
    "periods_for",
    "read_log",
    "render_html",
    "run_rules",
    "service_periods",
    "step_analysis",
    "u_chart",
]
