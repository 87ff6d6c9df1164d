"""Reading the event log into per-case facts and per-step visits.

Everything the KPIs, trends and step analysis need comes from one read of
``Store.iter_events()`` (events of many cases interleaved, in recorded
order): a first pass chains each case's events together, then each case is
read start to end with its running state in local variables, which costs a
fraction of keeping an accumulator object per case up to date. The few data
fields the measures need are read from each case's data changes merged in
order, instead of rebuilding every case's full data.

Business time (hours to acknowledge, dwell in a step, SLA and regulatory
deadlines) is measured with the workflow's :class:`BusinessCalendar`, so a
complaint received on Friday evening is not "late" on Monday morning; the
calendar is asked about each day once (see :mod:`._clock`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter, itemgetter, sub, truediv
from typing import Any, NamedTuple

from csflow._data import merge
from csflow.analytics._clock import BusinessClock
from csflow.analytics._shape import (
    CONFIRM,
    ESCALATION,
    FIRST,
    REOPEN,
    RESPONSE,
    Key,
    Shape,
    Shaping,
    Stays,
    Step,
)
from csflow.analytics._sla import PausedDue, episodes
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
    and building a frozen dataclass costs four times as much (and the log
    keeps them as plain tuples: see :class:`EventLog`).
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
    """The facts of every case of one workflow, read in one pass.

    ``case_rows`` and ``visit_rows`` are the facts as plain tuples, fields in
    the order of :class:`CaseFacts` and :class:`Visit`; :attr:`cases` and
    :attr:`visits` are the same as named tuples. The measures read the rows:
    Python's garbage collector stops tracking a tuple of plain values, but
    never a named tuple, so a million visits kept as named tuples would be
    walked by every full collection while the log lives. Visits are kept by
    case in ``stays`` (the step analysis reads them there) and laid out as
    rows or named tuples only on first use.
    """

    workflow: WorkflowDef
    spec: LogSpec
    calendar: BusinessCalendar
    case_rows: tuple[tuple[Any, ...], ...]
    stays: Stays  # the visits of the cases of case_rows, in the same order
    handoffs: Mapping[tuple[str, str], int]
    events: int
    as_of: datetime
    #: case id -> {"workflow", "state", "data", "opened_at", "updated_at", "events"}
    others: Mapping[str, Mapping[str, Any]]

    @functools.cached_property
    def cases(self) -> tuple[CaseFacts, ...]:
        return tuple(map(CaseFacts._make, self.case_rows))

    @functools.cached_property
    def visit_rows(self) -> tuple[tuple[Any, ...], ...]:
        return self.stays.rows()

    @functools.cached_property
    def visits(self) -> tuple[Visit, ...]:
        return tuple(map(Visit._make, self.visit_rows))

    @property
    def areas(self) -> tuple[str, ...]:
        return tuple(sorted({a for a in column(self.case_rows, CaseFacts, "area")
                             if a is not None}))


def column(rows: Iterable[tuple[Any, ...]], kind: type[CaseFacts] | type[Visit], name: str
           ) -> list[Any]:
    """Field ``name`` of each of ``rows`` (of :class:`CaseFacts` or :class:`Visit`)."""
    return list(map(itemgetter(kind._fields.index(name)), rows))


#: Business microseconds in an hour, as two steps so hours come out exactly as
#: ``timedelta.total_seconds() / 3600`` gives them. Floats: offsets are read as
#: floats (see :meth:`_Reader.day`), whole numbers of microseconds, which a
#: float holds exactly for 285 years, and float arithmetic costs less than int.
_US_PER_S, _S_PER_H = 1e6, 3600.0

# What is read of every event: in one call, so each event is fetched from memory once
# (a case's events are scattered over the log).
_fields = attrgetter("trigger", "dest", "type", "actor", "occurred_at", "data")
_occurred = attrgetter("occurred_at")


def read_log(
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
    # Read twice at most: by case, then (for the order of hand-offs) from the start.
    log = events if isinstance(events, list | tuple) else list(events)
    heads, next_of, last = _by_case(log)
    mine: list[int] = []
    others: dict[str, dict[str, Any]] = {}
    count = len(log)
    for head in heads:
        if log[head].workflow == wf.name:  # a case's events are all of its workflow
            mine.append(head)
        else:
            for e in _chain(log, next_of, head):
                _other(others, e)
                count -= 1
    if not mine:
        known = ", ".join(sorted({str(o["workflow"]) for o in others.values()})) or "none"
        raise NoData(f"the event log has no {wf.name!r} cases to analyse (workflows in it: "
                     f"{known}); run the desk (or `csflow demo`) first")
    if others:  # the log's end is the last event of the workflow's own cases
        last = max(e.occurred_at for head in mine for e in _chain(log, next_of, head))
    assert last is not None
    reader = _Reader(wf, spec, registry[spec.calendar], as_of or last)
    cases, stays, pairs = reader.read(log, next_of, mine)
    return EventLog(wf, spec, reader.cal, tuple(cases), stays,
                    _in_order_seen(log, wf.name, pairs), count, reader.end, others)


def _by_case(events: Sequence[Event]) -> tuple[list[int], list[int], datetime | None]:
    """Each case's events as a chain: the position of its first event, in order
    of first appearance, and after each event the position of its case's next
    one (-1 at the last); and the latest ``occurred_at`` of all.

    Positions rather than a list of events per case: a list per case would
    live through the read, and so many containers surviving make the garbage
    collector run full collections, each a walk over every object in memory.
    One list of positions is one container (of ints, which it need not walk),
    and reading it gives back the ints put in, where an array makes new ones.
    """
    heads: list[int] = []
    next_of = [-1] * len(events)
    if not events:
        return heads, next_of, None
    latest: dict[str, int] = {}
    find = latest.get
    last = events[0].occurred_at
    for i, e in enumerate(events):
        t = e.occurred_at
        if t > last:  # noqa: PLR1730  # max() would be a call per event
            last = t
        case = e.case_id
        j = find(case)
        if j is None:
            heads.append(i)
        else:
            next_of[j] = i
        latest[case] = i
    return heads, next_of, last


def _chain(events: Sequence[Event], next_of: list[int], head: int) -> Iterator[Event]:
    """The events of the case whose first is at ``head``, in order."""
    while head >= 0:
        yield events[head]
        head = next_of[head]


def _nth(events: Sequence[Event], next_of: list[int], head: int, k: int) -> Event:
    """The ``k``-th event (from 0) of the case whose first is at ``head``."""
    for _ in range(k):
        head = next_of[head]
    return events[head]


def _in_order_seen(events: Sequence[Event], workflow: str, counts: dict[tuple[str, str], int]
                   ) -> dict[tuple[str, str], int]:
    """``counts`` of hand-offs in the order each was first seen in the log.

    Cases are read one after another, but the order of first appearance in
    the interleaved log is what decides ties between equally common
    hand-offs; every kind turns up early, so this reads only a short prefix.
    """
    if len(counts) < 2:
        return dict(counts)
    wanted = set(counts)
    order: dict[tuple[str, str], int] = {}
    roles: dict[str, str] = {}
    for e in events:
        if e.workflow != workflow:
            continue
        role = e.actor.role if e.actor is not None else "system"
        was = roles.get(e.case_id)
        if was is None:
            roles[e.case_id] = role
        elif e.type != "timer" and role != was:
            roles[e.case_id] = role
            pair = (was, role)
            if pair in wanted:
                wanted.remove(pair)
                order[pair] = counts[pair]
                if not wanted:
                    break
    return order


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


class _Reader:
    """Reads the cases of one workflow, one case at a time, into facts and visits.

    Every instant a case changes step gets its business offset once (from
    :class:`BusinessClock`), so dwell and the times to acknowledge, respond
    and resolve are integer differences; unpaused business-day SLAs fall due
    at a close of business shared by every episode that ends then.

    SLA episodes follow the engine's timers: a stay in an SLA state
    interrupted only by states that pause the SLA (awaiting the customer) is
    one episode, whose due time skips the pauses; it is met if it ends by
    then. A still-open episode is breached once the log's end is past its
    due time, else undecided.
    """

    def __init__(self, wf: WorkflowDef, spec: LogSpec, cal: BusinessCalendar, end: datetime
                 ) -> None:
        self.wf, self.spec, self.cal, self.end = wf, spec, cal, end
        self.clock = BusinessClock(cal)
        self.end_offset = cal.business_offset(end)
        #: BusinessClock's day shapes as the read uses them: offsets as floats.
        self.days: dict[int, tuple[float, float, float, float, int | None, int | None] | None] = {}
        self.closes: dict[int, datetime] = {}  # close of business by business day number
        resolved = set(spec.resolved_states)
        self.steps: dict[str, Step] = {}
        for n, s in wf.states.items():
            target = s.sla.target if s.sla is not None else None
            days = target.amount if target and target.business and target.unit == "days" else None
            self.steps[n] = Step(target, days, s.pauses_sla, n in resolved)
        for n in resolved - set(wf.states):
            self.steps[n] = Step(None, None, False, True)
        meaning: dict[str, int] = {}
        for code, triggers in ((FIRST, spec.first_contact), (RESPONSE, spec.response),
                               (ESCALATION, spec.escalation), (REOPEN, spec.reopen),
                               (CONFIRM, spec.confirmation)):
            for trig in triggers:
                meaning[trig] = meaning.get(trig, 0) | code
        self.shaping = Shaping(self.steps, wf.terminal_states, dict(spec.action_cost).get,
                               meaning.get)
        self.shapes: dict[Key, Shape] = {}  # by key; a plain dict, as BusinessClock.days
        self.found: list[Shape] = []  # by number
        #: By shape number: the business offset of each visit of its cases, a case after
        #: another (so a visit's offsets are a slice with the shape's length as step).
        self.offsets: list[list[float]] = []
        self.judged: list[list[list[bool | None] | None]] = []  # ... as Stays.verdicts
        #: By shape number: its SLA episodes as each case judges them (see shape()).
        self.plans: list[tuple[tuple[Any, ...], ...]] = []
        self.paused_due = PausedDue(self.closes, self.close, cal.due_at, self.clock.day_number)
        # What the measures read from case data: six values, then whether each
        # deadline applies. Each is a top-level key, some with a path below it.
        values = [spec.area, spec.channel, spec.category, spec.cause, spec.csat, spec.remedy]
        paths = [*values, *(d.applies_when for d in spec.deadlines)]
        self.conditions = len(values)  # where the deadline conditions start
        # Each path as its top-level key and the rest of it; where there is a rest,
        # its only key when it has one (a plain get reads it from event data's dicts).
        split = [(top, tuple(rest)) for top, *rest in (p.split(".") for p in paths)]
        self.tops = tuple(top for top, _ in split)
        self.below = tuple((k, rest[0] if len(rest) == 1 else None, rest)
                           for k, (_, rest) in enumerate(split) if rest)
        self.watched = tuple((k, top, rest) for k, (top, rest) in enumerate(split))

    def shape(self, key: Key) -> Shape:
        """The shape of ``key``, worked out the first time it is seen."""
        s = self.shapes[key] = self.shaping.work_out(key, len(self.found))
        self.found.append(s)
        self.offsets.append([])
        # A verdict column for each visit an episode can judge, and the episodes
        # as read() takes them: the columns of their visits, then their start,
        # SLA, its business days, pauses and the visit ending them.
        plan = episodes(s)
        columns: list[list[bool | None] | None] = [None] * len(s.states)
        for episode in plan:
            for j in episode.members:
                columns[j] = []
        self.judged.append(columns)
        self.plans.append(tuple(
            (tuple(columns[j] for j in e.members), e.start, e.step.sla, e.step.sla_days,
             e.pauses, e.stop) for e in plan))
        return s

    def day(self, n: int) -> tuple[float, float, float, float, int | None, int | None] | None:
        """Day ``n`` of the clock, its offsets as floats (``None``: ask the calendar)."""
        shape = self.clock.day(n)
        day = self.days[n] = None if shape is None else (
            float(shape[0]), float(shape[1]), float(shape[2]), float(shape[3]), shape[4], shape[5])
        return day

    def close(self, number: int) -> datetime:
        """Close of business of the ``number``-th business day, shared by every SLA due then."""
        due = self.closes.get(number)
        if due is None:
            due = self.closes[number] = self.cal.close_of_business_day(number)
        return due

    # One loop body on purpose: a function call per event or per visit would
    # cost more than the work it does.
    def read(self, events: Sequence[Event], next_of: list[int], heads: list[int]  # noqa: PLR0915
             ) -> tuple[list[tuple[Any, ...]], Stays, dict[tuple[str, str], int]]:
        """Rows of facts, the visits, and hand-off counts, of the cases chained from ``heads``.

        A case's events are walked once, taking each one's part of the case's
        shape, its data changes, and the business offset and day number of
        each instant the case changes step; the rest comes from the shape.
        """
        clock = self.clock
        days, origin, offset, day_number = self.days, clock.origin, clock.offset, clock.day_number
        local_dates = clock.dates
        shapes, shape, closes, close = self.shapes, self.shape, self.closes, self.close
        by_shape, plans, paused_due = self.offsets, self.plans, self.paused_due
        end, tz, due_at = self.end, self.cal.tz, self.cal.due_at
        cases: list[tuple[Any, ...]] = []
        add_case = cases.append
        ids: list[str] = []  # per case: as Stays.ids
        shape_of: list[int] = []  # ... and Stays.shape_of
        add_id, add_shape = ids.append, shape_of.append
        entered: list[datetime] = []  # when each visit began, cases one after another
        add_entered = entered.extend
        # The case being read, in containers emptied for each case rather than made
        # anew: fewer containers made, fewer runs of the garbage collector.
        signs: list[str] = []  # the case's shape: trigger, dest, type, role of each event
        times: list[datetime] = []  # when each visit began
        offsets: list[float] = []  # ... as a business offset
        numbers: list[int | None] = []  # ... and its business-day number (None: ask)
        data: dict[str, Any] = {}  # the latest value of each top-level key
        sign, add_time, add_offset, add_number, merge = (
            signs.extend, times.append, offsets.append, numbers.append, data.update)
        for head in heads:
            if data:
                data.clear()
            del signs[:], times[:], offsets[:], numbers[:]
            state = None
            i = head
            while i >= 0:
                e = events[i]
                i = next_of[i]
                actor = e.actor
                dest = e.dest
                sign((e.trigger, dest, e.type, "system" if actor is None else actor.role))
                if dest != state:
                    state = dest
                    t = e.occurred_at
                    add_time(t)
                    # BusinessClock.offset and .day_number, inline: this runs once per visit.
                    d = t - origin
                    try:
                        day = days[d.days]
                    except KeyError:
                        day = self.day(d.days)
                    if day is None:
                        add_offset(offset(t))
                        add_number(None)
                    else:
                        rise, worked, base, midnight, before, after = day
                        x = d.seconds * 1e6 + d.microseconds
                        y = x - rise
                        add_offset(base if y <= 0.0 else base + (y if y < worked else worked))
                        add_number(before if x < midnight else after)
                changes = e.data
                if changes:
                    merge(changes)
            key = tuple(signs)
            try:
                s = shapes[key]
            except KeyError:
                s = shape(key)
            k = s.number
            # Each SLA episode is met if it ends by its due time, kept by shape in
            # the columns of its visits. The usual one, unpaused, in business days,
            # falls due at a close of business shared by every episode due then.
            met_sla = None
            for verdicts, j, sla, sla_days, pauses, stop in plans[k]:
                if pauses:
                    due = paused_due(j, sla, sla_days, pauses, times, numbers)
                elif sla_days is None:
                    due = due_at(times[j], sla)
                else:
                    number = numbers[j]
                    if number is None:
                        number = day_number(times[j])
                    number += sla_days
                    due = closes.get(number) or close(number)
                verdict = times[stop] > due if stop is not None else True if end > due else None
                for column in verdicts:
                    column.append(verdict)
                if verdict is not None:
                    met_sla = not verdict and met_sla is not False
            by_shape[k] += offsets  # dwell is worked out a shape at a time: see dwell()
            cid = events[head].case_id
            add_id(cid)
            add_shape(k)
            add_entered(times)
            opened, o = times[0], offsets[0]
            ack = ack_hours = done = done_hours = respond = respond_hours = None
            if len(times) > 1:
                ack, a = times[1], offsets[1]
                ack_hours = (a - o) / _US_PER_S / _S_PER_H
            if s.done is not None:
                done, a = times[s.done], offsets[s.done]
                done_hours = (a - o) / _US_PER_S / _S_PER_H
            if s.respond is not None:
                if s.respond_visit is None:
                    respond = _nth(events, next_of, head, s.respond).occurred_at
                    a = offset(respond)
                else:
                    respond, a = times[s.respond_visit], offsets[s.respond_visit]
                respond_hours = (a - o) / _US_PER_S / _S_PER_H
            area, channel, category, cause, csat, remedy, *applies = self.fields(
                data, events, next_of, head)
            remedy = 0 if remedy is None else (
                int(remedy) * 100 if remedy.__class__ is str and remedy.isascii()
                and remedy.isdigit() else _pence(remedy))  # _pence, the usual amount inline
            # Times before the opening are refused as business_time_between refuses
            # them; offsets never fall, so only one no later than the opening's can be.
            if ((respond is not None and respond_hours is not None and respond_hours <= 0.0
                         and respond < opened)
                    or (ack is not None and ack_hours is not None and ack_hours <= 0.0
                         and ack < opened)
                    or (done is not None and done_hours is not None and done_hours <= 0.0
                         and done < opened)):
                for later in (respond, ack, done):
                    if later is not None:
                        self.cal.business_time_between(opened, later)
            regulated = True in applies
            met_deadline = missed_in = None
            if regulated:
                met_deadline, missed_in = self.deadlines(opened, applies, done, s.states, times)
            # BusinessClock.local_date, inline: opened.astimezone(tz).date() costs more.
            d = opened - origin
            try:
                on = local_dates[d.days]
            except KeyError:
                on = clock.day_dates(d.days)
            add_case((
                cid, opened, opened.astimezone(tz).date() if on is None
                else on[1] if d.seconds * 1_000_000 + d.microseconds < on[0] else on[2],
                area if isinstance(area, str) else None,
                channel if isinstance(channel, str) else None,
                category if isinstance(category, str) else None,
                cause if isinstance(cause, str) else None,
                state, s.closed, s.states, ack_hours, respond_hours, done_hours,
                s.first_contact, s.escalations, s.reopens, s.confirmed,
                csat if isinstance(csat, int) and not isinstance(csat, bool) else None,
                s.spent + remedy, remedy, met_sla, regulated, met_deadline, missed_in))
        hours = self.dwell()
        pairs: dict[tuple[str, str], int] = {}
        for s, columns in zip(self.found, hours, strict=True):
            for pair in s.pairs:
                pairs[pair] = pairs.get(pair, 0) + len(columns[0])
        return cases, Stays(self.found, ids, shape_of, entered, hours, self.judged), pairs

    def dwell(self) -> list[list[list[float]]]:
        """Business hours of each visit read, as :attr:`Stays.hours`.

        A visit ends when the case's next begins; the last at the log's end,
        or at once in a terminal step (no time). Each visit of a shape is a
        column of its cases' offsets, taken a column at a time in C.
        """
        hours: list[list[list[float]]] = []
        for s, offsets in zip(self.found, self.offsets, strict=True):
            n = len(s.states)
            starts = [offsets[j::n] for j in range(n)]
            columns = [_hours(b, a) for a, b in itertools.pairwise(starts)]
            last = starts[-1]
            columns.append([0.0] * len(last) if s.closed
                           else _hours(itertools.repeat(self.end_offset), last))
            hours.append(columns)
        return hours

    def fields(self, data: dict[str, Any], events: Sequence[Event], next_of: list[int], head: int
               ) -> list[Any]:
        """The watched values: each the last one any event set (not to None).

        ``data`` holds each top-level key as the last event set it, which is
        the answer unless that event set it (or the part wanted) to None;
        then the events are searched from the last. Deadline conditions come
        out as bools.
        """
        values = list(map(data.get, self.tops))
        for k, key, rest in self.below:
            value = values[k]
            if value is not None:
                # Event data is plain dicts: a get where the path is one key below.
                values[k] = value.get(key) if key is not None and value.__class__ is dict else (
                    _dig(value, rest))
        if None in values:  # a value not set at all, or set to None by the last to set it
            for k, top, rest in self.watched:
                if values[k] is None and top in data:
                    values[k] = next((v for e in reversed(list(_chain(events, next_of, head)))
                                      if top in e.data
                                      and (v := _dig(e.data[top], rest)) is not None), None)
        for k in range(self.conditions, len(values)):
            values[k] = values[k] is True
        return values

    def deadlines(self, opened: datetime, applies: list[Any], done: datetime | None,
                  states: Sequence[str], entered: Sequence[datetime]
                  ) -> tuple[bool | None, str | None]:
        """Whether the case met its regulatory deadlines; where it was when it missed one.

        ``states`` is the case's path, ``entered`` when it entered each step.
        """
        met: bool | None = None
        where: str | None = None
        for d, flag in zip(self.spec.deadlines, applies, strict=True):
            if not flag:
                continue
            target = d.target
            if not target.business:
                # A calendar deadline falls within two days of the same elapsed time
                # (UTC offsets differ by less than a day), so one resolved, or not yet
                # due, well inside that needs no calendar.
                span = timedelta(**{target.unit: target.amount})
                sure = opened + span - timedelta(days=2)
                inside = (opened + span + timedelta(days=2)).date() < self.cal.last_day
                if inside and done is not None and done <= sure:
                    met = True if met is None else met
                    continue
                if inside and done is None and self.end <= sure:
                    continue
            due = self.cal.due_at(opened, target)
            if done is not None and done <= due:
                met = True if met is None else met
                continue
            if done is None and self.end <= due:
                continue  # not due yet: neither met nor missed
            met = False
            where = next((state for k, state in enumerate(states) if entered[k] <= due
                          and (k + 1 == len(states) or due < entered[k + 1])), None)
        return met, where


def _hours(ends: Iterable[float], starts: Iterable[float]) -> list[float]:
    """Business hours from each of ``starts`` to the ``ends``; none where an end comes
    first (events recorded out of order, or an ``as_of`` before the visit began)."""
    hours = list(map(truediv, map(truediv, map(sub, ends, starts), itertools.repeat(_US_PER_S)),
                     itertools.repeat(_S_PER_H)))
    if hours and min(hours) < 0.0:
        hours = list(map(max, hours, itertools.repeat(0.0)))
    return hours


def _pence(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) * 100  # the usual whole-pound amount, without a Decimal
    try:
        return int(Decimal(str(value)) * 100)
    except (InvalidOperation, ValueError):
        return 0
