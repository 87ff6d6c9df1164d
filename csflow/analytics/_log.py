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
from typing import Any, NamedTuple

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


class Visit(NamedTuple):
    """One stay of a case in one state (step), from entering to leaving it.

    A named tuple rather than a frozen dataclass: a log has one per visit,
    and building a frozen dataclass costs four times as much, which at a
    million events is more than reading them.
    """

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


class CaseFacts(NamedTuple):
    """What the measures need to know about one case (a named tuple, as :class:`Visit`)."""

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

_RawVisit = tuple[str, datetime, int, int, int]
"""A visit as the pass records it: (state, entered, actions, handoffs, cost)."""


class _Acc:
    """A case being read: the open visit plus running counts."""

    __slots__ = (
        "actions",
        "cost",
        "entered",
        "escalations",
        "fields",
        "flags",
        "handoffs",
        "id",
        "opened",
        "reopens",
        "resolved",
        "respond",
        "respond_visit",
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
        self.respond: datetime | None = None
        self.respond_visit = -1  # the visit the first response entered, if it changed state
        self.resolved = -1  # the first visit to a resolved state
        self.escalations = 0
        self.reopens = 0
        self.fields: dict[str, Any] = {}
        self.visits: list[_RawVisit] = []  # closed visits; the open one is in the fields above


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
    name = wf.name

    # Bound once: attribute and global lookups per event are a visible share of the pass.
    accs: dict[str, _Acc] = {}
    find, rate, means, watch = accs.get, dict(spec.action_cost).get, meaning.get, watched.get
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
        actor = e.actor
        role = actor.role if actor is not None else "system"
        acc = find(e.case_id)
        if acc is None:
            acc = accs[e.case_id] = _Acc(e, role, rate(role, 0))
        else:
            # Timer events (SLA met/breached) are the engine's bookkeeping, not
            # work: they cost nothing and hand nothing over.
            if e.type != "timer":
                acc.actions += 1
                c = rate(role, 0)
                if c:
                    acc.cost += c
                    acc.visit_cost += c
                if role != acc.role:
                    acc.handoffs += 1
                    handoffs[(acc.role, role)] += 1
                    acc.role = role
            dest = e.dest
            if dest != acc.state:
                visits = acc.visits
                visits.append((acc.state, acc.entered, acc.actions, acc.handoffs,
                               acc.visit_cost))
                acc.state, acc.entered = dest, t
                acc.actions = acc.handoffs = acc.visit_cost = 0
                if acc.resolved < 0 and dest in resolved:
                    acc.resolved = len(visits)
            code = means(e.trigger)
            if code:
                acc.flags |= code
                if code & _RESPONSE and acc.respond is None:
                    acc.respond = t
                    if acc.entered == t:  # its offset is the visit's, already wanted
                        acc.respond_visit = len(acc.visits)
                if code & _ESCALATION:
                    acc.escalations += 1
                if code & _REOPEN:
                    acc.reopens += 1
        data = e.data
        if data:
            for key in data:
                targets = watch(key)
                if targets is not None:
                    for label, rest in targets:
                        value = _dig(data[key], rest) if rest else data[key]
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
        # Event data is plain dicts; the Mapping ABC check costs ten times as much.
        if not isinstance(value, dict) and not isinstance(value, Mapping):
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


#: Business microseconds in an hour, as two steps so hours come out exactly as
#: ``timedelta.total_seconds() / 3600`` gives them.
_US_PER_S, _S_PER_H = 1_000_000, 3600
_new_visit = tuple.__new__  # Visit(...) goes through a Python-level __new__; this does not


class _Finisher:
    """Turns the accumulators into facts: business time, SLAs and deadlines.

    Every instant a case needs (each visit's entry, the first response, the
    log's end) gets its business offset once, in one calendar call per case;
    dwell, time to acknowledge/respond/resolve and due times of SLAs are then
    integer arithmetic on offsets.
    """

    def __init__(self, wf: WorkflowDef, spec: LogSpec, cal: BusinessCalendar, end: datetime
                 ) -> None:
        self.wf, self.spec, self.cal, self.end = wf, spec, cal, end
        self.sla = {n: s.sla.target for n, s in wf.states.items() if s.sla is not None}
        self.pausing = frozenset(n for n, s in wf.states.items() if s.pauses_sla)
        self.terminal = wf.terminal_states
        self.tz = cal.tz
        self.end_offset = cal.business_offset(end)
        self.offsets = cal.business_offsets
        self.closes: dict[int, datetime] = {}  # close of business by business day number
        self.labels = [f"deadline:{d.name}" for d in spec.deadlines]

    def finish(self, accs: dict[str, _Acc], handoffs: Counter[tuple[str, str]], count: int,
               others: dict[str, dict[str, Any]]) -> EventLog:
        cases: list[CaseFacts] = []
        visits: list[Visit] = []
        case, add = self.case, cases.append
        for acc in accs.values():
            add(case(acc, visits))
        return EventLog(self.wf, self.spec, self.cal, tuple(cases), tuple(visits),
                        dict(handoffs), count, self.end, others)

    def span(self, a: datetime, b: datetime, oa: int, ob: int) -> float:
        """Business hours from ``a`` to ``b`` given their offsets."""
        if ob <= oa and b < a:  # refused exactly as business_time_between refuses it
            self.cal.business_time_between(a, b)
        return (ob - oa) / _US_PER_S / _S_PER_H

    def case(self, acc: _Acc, out: list[Visit]) -> CaseFacts:
        raw = acc.visits
        raw.append((acc.state, acc.entered, acc.actions, acc.handoffs, acc.visit_cost))
        times = [v[1] for v in raw]
        offs = self.offsets(times)
        n = len(raw)
        terminal = acc.state in self.terminal
        # Where each visit stops: the next entry; the last one stops at the log's
        # end, or at once when it is a terminal state.
        offs.append(offs[-1] if terminal else self.end_offset)
        breached = self.slas(raw, times)
        seen: dict[str, int] = {}
        cid = acc.id
        for k, (state, entered, actions, hand, cost) in enumerate(raw):
            nth = seen[state] = seen.get(state, 0) + 1
            d = offs[k + 1] - offs[k]
            out.append(_new_visit(Visit, (
                cid, state, nth, entered, times[k + 1] if k + 1 < n else None,
                d / _US_PER_S / _S_PER_H if d > 0 else 0.0, actions, hand, cost,
                breached.get(k))))
        f = acc.fields
        remedy = _pence(f.get("remedy"))
        deadline_met, deadline_state = self.deadlines(acc, times)
        decided = [b for b in breached.values() if b is not None]
        csat = f.get("csat")
        opened, o0 = acc.opened, offs[0]
        respond = acc.respond
        if respond is not None:
            k = acc.respond_visit
            respond_hours: float | None = self.span(
                opened, respond, o0, offs[k] if k >= 0 else self.cal.business_offset(respond))
        else:
            respond_hours = None
        r = acc.resolved
        return CaseFacts(
            id=cid, opened_at=opened, opened_on=opened.astimezone(self.tz).date(),
            area=_text(f.get("area")), channel=_text(f.get("channel")),
            category=_text(f.get("category")), cause=_text(f.get("cause")),
            state=acc.state, terminal=terminal,
            path=tuple(v[0] for v in raw),
            ack_hours=None if n < 2 else self.span(opened, times[1], o0, offs[1]),
            respond_hours=respond_hours,
            resolve_hours=None if r < 0 else self.span(opened, times[r], o0, offs[r]),
            first_contact=bool(acc.flags & _FIRST) and acc.reopens == 0,
            escalations=acc.escalations, reopens=acc.reopens,
            confirmed=bool(acc.flags & _CONFIRM),
            csat=csat if isinstance(csat, int) and not isinstance(csat, bool) else None,
            cost=acc.cost + remedy, remedy=remedy,
            sla_met=None if not decided else not any(decided),
            regulated=any(f.get(label) is True for label in self.labels),
            deadline_met=deadline_met, deadline_state=deadline_state,
        )

    def slas(self, raw: list[_RawVisit], times: list[datetime]) -> dict[int, bool | None]:
        """Breach per visit index of a state with an SLA.

        A stay in an SLA state interrupted only by states that pause the SLA
        (awaiting the customer) is one SLA episode; its due time skips the
        pauses, exactly as the engine's timers do. A still-open episode is
        breached once the log's end is past its due time, else undecided.
        """
        out: dict[int, bool | None] = {}
        n = len(raw)
        i = 0
        while i < n:
            state = raw[i][0]
            target = self.sla.get(state)
            if target is None:
                i += 1
                continue
            members, pauses = [i], []
            j = i
            end = times[i + 1] if i + 1 < n else None
            while end is not None and j + 1 < n and raw[j + 1][0] in self.pausing:
                if j + 2 >= n or raw[j + 2][0] != state:
                    break  # the pause has not ended, or ended elsewhere
                pauses.append((times[j + 1], times[j + 2]))
                members.append(j + 2)
                j += 2
                end = times[j + 1] if j + 1 < n else None
            due = self.due(times[i], target, pauses)
            verdict: bool | None = (end > due) if end is not None else (
                True if self.end > due else None)
            for m in members:
                out[m] = verdict
            i = j + 1
        return out

    def due(self, start: datetime, target: BusinessDuration,
            pauses: list[tuple[datetime, datetime]]) -> datetime:
        """``cal.due_at(start, target, pauses)``, by table lookups for unpaused business days.

        Those are nearly every SLA episode; close of business of the n-th
        business day is shared by every episode that ends then.
        """
        if pauses or not target.business or target.unit != "days":
            return self.cal.due_at(start, target, pauses)
        number = self.cal.business_day_number(start) + target.amount
        due = self.closes.get(number)
        if due is None:
            due = self.closes[number] = self.cal.close_of_business_day(number)
        return due

    def deadlines(self, acc: _Acc, times: list[datetime]) -> tuple[bool | None, str | None]:
        met: bool | None = None
        where: str | None = None
        for d, label in zip(self.spec.deadlines, self.labels, strict=True):
            if acc.fields.get(label) is not True:
                continue
            due = self.cal.due_at(acc.opened, d.target)
            done = times[acc.resolved] if acc.resolved >= 0 else None
            if done is not None and done <= due:
                met = True if met is None else met
                continue
            if done is None and self.end <= due:
                continue  # not due yet: neither met nor missed
            met = False
            where = next((v[0] for k, v in enumerate(acc.visits)
                          if v[1] <= due and (k + 1 == len(times) or due < times[k + 1])), None)
        return met, where


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pence(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) * 100  # the usual whole-pound amount, without a Decimal
    try:
        return int(Decimal(str(value)) * 100)
    except (InvalidOperation, ValueError):
        return 0
