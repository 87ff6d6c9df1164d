"""One pass over the event log: per-case facts and per-step visits.

Everything the KPIs, trends and step analysis need is collected in a single
streaming pass over ``Store.iter_events()`` (events of many cases
interleaved, in recorded order), so a million-event log is read once. The
pass keeps only a small accumulator per case and reads the few data fields
the measures need straight from each event's data change, instead of
rebuilding every case's full data, which would cost a dict merge per event.

Business time (hours to acknowledge, dwell in a step, SLA and regulatory
deadlines) is measured with the workflow's :class:`BusinessCalendar`, so a
complaint received on Friday evening is not "late" on Monday morning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from csflow._data import merge
from csflow.calendars import BusinessCalendar, BusinessDuration, CalendarRegistry
from csflow.errors import CsflowError, UnknownDefinition
from csflow.model import Event
from csflow.workflows import WorkflowDef, bundled_workflows


class AnalyticsError(CsflowError):
    """An analysis was asked for something the log or its arguments cannot give."""


class NoData(AnalyticsError):
    """There is nothing to analyse (an empty store, or no case of that workflow)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """A regulatory deadline from receipt to the final response.

    It applies to cases whose data has a true value at ``applies_when`` (a
    dotted path such as ``classification.regulated``) and is met when the
    case reaches one of the spec's ``resolved_states`` by the due time.
    """

    name: str
    target: BusinessDuration
    applies_when: str


#: Staff cost of one recorded action, by role, in pence. An estimate until the
#: desk records handling time; shown as such in the report.
DEFAULT_ACTION_COST: Mapping[str, int] = {
    "agent": 600, "team_leader": 900, "manager": 1400, "director": 2500,
    "customer": 0, "system": 0,
}


@dataclass(frozen=True)
class LogSpec:
    """How a workflow's triggers and data map onto the measures.

    The defaults describe the bundled ``complaint`` workflow; a desk with its
    own workflow names its own triggers, states and data fields here rather
    than renaming them to suit the report.
    """

    workflow: str = "complaint"
    calendar: str = "uk-england-wales"
    area: str = "business_area"
    channel: str = "channel"
    category: str = "classification.type"
    cause: str = "root_cause"
    csat: str = "csat"
    remedy: str = "agreed_solution.amount"
    first_contact: tuple[str, ...] = ("resolve_on_first_contact",)
    response: tuple[str, ...] = ("inform_customer", "resolve_on_first_contact", "complete_action")
    escalation: tuple[str, ...] = ("escalate",)
    reopen: tuple[str, ...] = ("reopen",)
    confirmation: tuple[str, ...] = ("confirm_resolved",)
    resolved_states: tuple[str, ...] = ("confirming", "closed")
    action_cost: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ACTION_COST))
    deadlines: tuple[Deadline, ...] = (
        Deadline("FCA DISP final response (8 weeks)", BusinessDuration.parse("8 weeks"),
                 "classification.regulated"),
    )


@dataclass(frozen=True, slots=True)
class Visit:
    """One stay of a case in one state (step), from entering to leaving it."""

    case_id: str
    state: str
    nth: int  # 1 for the first visit of this case to this state; more means rework
    entered_at: datetime
    left_at: datetime | None  # None: still there
    hours: float  # business hours spent (up to the end of the log if still there)
    actions: int  # events in the step, the one leaving it included (timer events excluded)
    handoffs: int  # changes of actor role between consecutive events in the step
    cost: int  # pence: staff cost of those actions
    sla_breached: bool | None  # None: no SLA, or not yet decided


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the measures need to know about one case."""

    id: str
    opened_at: datetime
    opened_on: date  # local date in the calendar's timezone: decides the service period
    area: str | None
    channel: str | None
    category: str | None
    cause: str | None
    state: str
    terminal: bool
    path: tuple[str, ...]
    ack_hours: float | None
    respond_hours: float | None
    resolve_hours: float | None
    first_contact: bool
    escalations: int
    reopens: int
    confirmed: bool
    csat: int | None
    cost: int  # pence: staff actions plus the agreed remedy
    remedy: int  # pence
    sla_met: bool | None  # every decided SLA of the case met; None: no SLA decided yet
    regulated: bool
    deadline_met: bool | None  # None: no deadline applies, or not yet due
    deadline_state: str | None  # where the case was when a deadline was missed


@dataclass(frozen=True)
class EventLog:
    """The facts of every case of one workflow, read in one pass."""

    workflow: WorkflowDef
    spec: LogSpec
    calendar: BusinessCalendar
    cases: tuple[CaseFacts, ...]
    visits: tuple[Visit, ...]
    handoffs: Mapping[tuple[str, str], int]
    events: int
    as_of: datetime
    #: case id -> {"workflow", "state", "data", "opened_at", "updated_at", "events"}
    others: Mapping[str, Mapping[str, Any]]

    @property
    def areas(self) -> tuple[str, ...]:
        return tuple(sorted({c.area for c in self.cases if c.area is not None}))


# Codes for what a trigger means to the measures (a trigger may mean several).
_FIRST, _RESPONSE, _ESCALATION, _REOPEN, _CONFIRM = 1, 2, 4, 8, 16


class _Acc:
    """A case being read: the open visit plus running counts."""

    __slots__ = (
        "ack",
        "actions",
        "cost",
        "csat",
        "entered",
        "escalations",
        "fields",
        "flags",
        "handoffs",
        "id",
        "nth",
        "opened",
        "remedy",
        "reopens",
        "resolved",
        "respond",
        "role",
        "state",
        "visit_cost",
        "visits",
    )

    def __init__(self, e: Event, role: str, cost: int) -> None:
        self.id = e.case_id
        self.opened = e.occurred_at
        self.state = e.dest
        self.entered = e.occurred_at
        self.actions = 0
        self.handoffs = 0
        self.cost = cost
        self.visit_cost = 0
        self.role = role
        self.flags = 0
        self.ack: datetime | None = None
        self.respond: datetime | None = None
        self.resolved: datetime | None = None
        self.escalations = 0
        self.reopens = 0
        self.csat: int | None = None
        self.remedy = 0
        self.fields: dict[str, Any] = {}
        # (state, entered, left, actions, handoffs, cost)
        self.visits: list[tuple[str, datetime, datetime | None, int, int, int]] = []
        self.nth: Counter[str] = Counter()


# One loop body on purpose: a function call per event would double the cost of the pass.
def read_log(  # noqa: PLR0915
    events: Iterable[Event],
    *,
    spec: LogSpec | None = None,
    workflows: Iterable[WorkflowDef] | None = None,
    calendars: CalendarRegistry | None = None,
    as_of: datetime | None = None,
) -> EventLog:
    """Read the events of ``spec.workflow`` into per-case facts and step visits.

    ``as_of`` is the moment open cases are measured to (SLA and deadline
    breaches of cases still open); it defaults to the last event read, so a
    report on last month's data does not age as it is re-run. Cases of other
    workflows (process reviews) are kept as small summaries in ``others``.

    Raises :class:`UnknownDefinition` for a workflow not among ``workflows``
    (default: the bundled ones) and :class:`NoData` when the log has no case
    of it.
    """
    spec = spec or LogSpec()
    defs = {w.name: w for w in (bundled_workflows() if workflows is None else workflows)}
    if spec.workflow not in defs:
        raise UnknownDefinition("workflow", spec.workflow, list(defs))
    wf = defs[spec.workflow]
    registry = calendars or CalendarRegistry.bundled()
    if spec.calendar not in registry:
        raise UnknownDefinition("calendar", spec.calendar, list(registry))
    cal = registry[spec.calendar]

    meaning: dict[str, int] = {}
    for codes, triggers in ((_FIRST, spec.first_contact), (_RESPONSE, spec.response),
                            (_ESCALATION, spec.escalation), (_REOPEN, spec.reopen),
                            (_CONFIRM, spec.confirmation)):
        for trig in triggers:
            meaning[trig] = meaning.get(trig, 0) | codes
    watched: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    wanted = {"area": spec.area, "channel": spec.channel, "category": spec.category,
              "cause": spec.cause, "csat": spec.csat, "remedy": spec.remedy,
              **{f"deadline:{d.name}": d.applies_when for d in spec.deadlines}}
    for key, path in wanted.items():
        parts = tuple(path.split("."))
        watched.setdefault(parts[0], []).append((key, parts[1:]))
    resolved = frozenset(spec.resolved_states)
    rates = spec.action_cost
    name = wf.name

    accs: dict[str, _Acc] = {}
    others: dict[str, dict[str, Any]] = {}
    handoffs: Counter[tuple[str, str]] = Counter()
    count = 0
    last: datetime | None = None
    for e in events:
        if e.workflow != name:
            _other(others, e)
            continue
        count += 1
        t = e.occurred_at
        if last is None or t > last:
            last = t
        role = e.actor.role if e.actor is not None else "system"
        acc = accs.get(e.case_id)
        if acc is None:
            acc = accs[e.case_id] = _Acc(e, role, rates.get(role, 0))
            acc.nth[e.dest] = 1
        else:
            # Timer events (SLA met/breached) are the engine's bookkeeping, not
            # work: they cost nothing and hand nothing over.
            if e.type != "timer":
                acc.actions += 1
                c = rates.get(role, 0)
                acc.cost += c
                acc.visit_cost += c
                if role != acc.role:
                    acc.handoffs += 1
                    handoffs[(acc.role, role)] += 1
                    acc.role = role
            code = meaning.get(e.trigger, 0)
            if code:
                acc.flags |= code
                if code & _RESPONSE and acc.respond is None:
                    acc.respond = t
                if code & _ESCALATION:
                    acc.escalations += 1
                if code & _REOPEN:
                    acc.reopens += 1
            dest = e.dest
            if dest != acc.state:
                if acc.ack is None:
                    acc.ack = t
                acc.visits.append((acc.state, acc.entered, t, acc.actions, acc.handoffs,
                                   acc.visit_cost))
                acc.state, acc.entered = dest, t
                acc.actions = acc.handoffs = acc.visit_cost = 0
                acc.nth[dest] += 1
                if acc.resolved is None and dest in resolved:
                    acc.resolved = t
        if e.data:
            for key in e.data:
                targets = watched.get(key)
                if targets is not None:
                    for label, rest in targets:
                        value = _dig(e.data[key], rest)
                        if value is not None:
                            acc.fields[label] = value
    if last is None:
        known = ", ".join(sorted({str(o["workflow"]) for o in others.values()})) or "none"
        raise NoData(f"the event log has no {name!r} cases to analyse (workflows in it: "
                     f"{known}); run the desk (or `csflow demo`) first")
    end = as_of or last
    return _Finisher(wf, spec, cal, end).finish(accs, handoffs, count, others)


def _dig(value: Any, rest: tuple[str, ...]) -> Any:
    for part in rest:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _other(others: dict[str, dict[str, Any]], e: Event) -> None:
    """Keep a running summary of a case of another workflow (a process review)."""
    o = others.get(e.case_id)
    if o is None:
        o = others[e.case_id] = {"workflow": e.workflow, "data": {}, "opened_at": e.occurred_at}
    o["state"], o["updated_at"], o["events"] = e.dest, e.occurred_at, e.seq
    o["data"] = merge(o["data"], e.data)


class _Finisher:
    """Turns the accumulators into facts: business time, SLAs and deadlines."""

    def __init__(self, wf: WorkflowDef, spec: LogSpec, cal: BusinessCalendar, end: datetime
                 ) -> None:
        self.wf, self.spec, self.cal, self.end = wf, spec, cal, end
        self.sla = {n: s.sla for n, s in wf.states.items() if s.sla is not None}
        self.pausing = frozenset(n for n, s in wf.states.items() if s.pauses_sla)
        self.terminal = wf.terminal_states
        self.tz = cal.tz

    def hours(self, a: datetime, b: datetime) -> float:
        return self.cal.business_time_between(a, b).total_seconds() / 3600

    def finish(self, accs: dict[str, _Acc], handoffs: Counter[tuple[str, str]], count: int,
               others: dict[str, dict[str, Any]]) -> EventLog:
        cases: list[CaseFacts] = []
        visits: list[Visit] = []
        for acc in accs.values():
            fact, vs = self.case(acc)
            cases.append(fact)
            visits.extend(vs)
        return EventLog(self.wf, self.spec, self.cal, tuple(cases), tuple(visits),
                        dict(handoffs), count, self.end, others)

    def case(self, acc: _Acc) -> tuple[CaseFacts, list[Visit]]:
        raw = [*acc.visits, (acc.state, acc.entered, None, acc.actions, acc.handoffs,
                             acc.visit_cost)]
        breached = self.slas(raw)
        seen: Counter[str] = Counter()
        visits = []
        for i, (state, entered, left, actions, hand, cost) in enumerate(raw):
            seen[state] += 1
            stop = left if left is not None else (entered if state in self.terminal else self.end)
            visits.append(Visit(acc.id, state, seen[state], entered, left,
                                self.hours(entered, max(stop, entered)), actions, hand, cost,
                                breached.get(i)))
        f = acc.fields
        remedy = _pence(f.get("remedy"))
        deadline_met, deadline_state = self.deadlines(acc, raw)
        decided = [b for b in breached.values() if b is not None]
        csat = f.get("csat")
        fact = CaseFacts(
            id=acc.id, opened_at=acc.opened, opened_on=acc.opened.astimezone(self.tz).date(),
            area=_text(f.get("area")), channel=_text(f.get("channel")),
            category=_text(f.get("category")), cause=_text(f.get("cause")),
            state=acc.state, terminal=acc.state in self.terminal,
            path=tuple(v[0] for v in raw),
            ack_hours=None if acc.ack is None else self.hours(acc.opened, acc.ack),
            respond_hours=None if acc.respond is None else self.hours(acc.opened, acc.respond),
            resolve_hours=None if acc.resolved is None else self.hours(acc.opened, acc.resolved),
            first_contact=bool(acc.flags & _FIRST) and acc.reopens == 0,
            escalations=acc.escalations, reopens=acc.reopens,
            confirmed=bool(acc.flags & _CONFIRM),
            csat=csat if isinstance(csat, int) and not isinstance(csat, bool) else None,
            cost=acc.cost + remedy, remedy=remedy,
            sla_met=None if not decided else not any(decided),
            regulated=any(f.get(f"deadline:{d.name}") is True for d in self.spec.deadlines),
            deadline_met=deadline_met, deadline_state=deadline_state,
        )
        return fact, visits

    def slas(self, raw: list[tuple[str, datetime, datetime | None, int, int, int]]
             ) -> dict[int, bool | None]:
        """Breach per visit index of a state with an SLA.

        A stay in an SLA state interrupted only by states that pause the SLA
        (awaiting the customer) is one SLA episode; its due time skips the
        pauses, exactly as the engine's timers do. A still-open episode is
        breached once the log's end is past its due time, else undecided.
        """
        out: dict[int, bool | None] = {}
        i = 0
        while i < len(raw):
            state, start = raw[i][0], raw[i][1]
            sla = self.sla.get(state)
            if sla is None:
                i += 1
                continue
            members, pauses = [i], []
            j, end = i, raw[i][2]
            while end is not None and j + 1 < len(raw) and raw[j + 1][0] in self.pausing:
                pause_start, pause_end = raw[j + 1][1], raw[j + 1][2]
                if pause_end is None or j + 2 >= len(raw) or raw[j + 2][0] != state:
                    break
                pauses.append((pause_start, pause_end))
                members.append(j + 2)
                j += 2
                end = raw[j][2]
            due = self.cal.due_at(start, sla.target, pauses)
            verdict: bool | None = (end > due) if end is not None else (
                True if self.end > due else None)
            for m in members:
                out[m] = verdict
            i = j + 1
        return out

    def deadlines(self, acc: _Acc, raw: list[tuple[str, datetime, datetime | None, int, int, int]]
                  ) -> tuple[bool | None, str | None]:
        met: bool | None = None
        where: str | None = None
        for d in self.spec.deadlines:
            if acc.fields.get(f"deadline:{d.name}") is not True:
                continue
            due = self.cal.due_at(acc.opened, d.target)
            done = acc.resolved
            if done is not None and done <= due:
                met = True if met is None else met
                continue
            if done is None and self.end <= due:
                continue  # not due yet: neither met nor missed
            met = False
            where = next((s for s, a, b, *_ in raw if a <= due and (b is None or due < b)), None)
        return met, where


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pence(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    try:
        return int(Decimal(str(value)) * 100)
    except (InvalidOperation, ValueError):
        return 0
