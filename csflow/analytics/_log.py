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
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any, NamedTuple

from csflow._data import merge
from csflow.analytics._clock import BusinessClock
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
    :attr:`visits` are the same as named tuples, made on first use. The
    measures read the rows: Python's garbage collector stops tracking a tuple
    of plain values, but never a named tuple, so a million visits kept as
    named tuples would be walked by every full collection while the log lives.
    """

    workflow: WorkflowDef
    spec: LogSpec
    calendar: BusinessCalendar
    case_rows: tuple[tuple[Any, ...], ...]
    visit_rows: tuple[tuple[Any, ...], ...]
    handoffs: Mapping[tuple[str, str], int]
    events: int
    as_of: datetime
    #: case id -> {"workflow", "state", "data", "opened_at", "updated_at", "events"}
    others: Mapping[str, Mapping[str, Any]]

    @functools.cached_property
    def cases(self) -> tuple[CaseFacts, ...]:
        return tuple(map(CaseFacts._make, self.case_rows))

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


# Codes for what a trigger means to the measures (a trigger may mean several).
_FIRST, _RESPONSE, _ESCALATION, _REOPEN, _CONFIRM = 1, 2, 4, 8, 16

#: Business microseconds in an hour, as two steps so hours come out exactly as
#: ``timedelta.total_seconds() / 3600`` gives them.
_US_PER_S, _S_PER_H = 1_000_000, 3600


class _Step(NamedTuple):
    """What entering a step means to the pass."""

    sla: BusinessDuration | None
    sla_days: int | None  # the SLA's business days, when it is in business days (the common kind)
    pauses: bool  # pauses the SLA of the step it was entered from
    resolves: bool  # one of the spec's resolved states


_PLAIN_STEP = _Step(None, None, False, False)


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
    cases, visits, pairs = reader.read(log, next_of, mine)
    return EventLog(wf, spec, reader.cal, tuple(cases), tuple(visits),
                    _in_order_seen(log, wf.name, pairs), count, reader.end, others)


def _by_case(events: Sequence[Event]) -> tuple[list[int], array[int], datetime | None]:
    """Each case's events as a chain: the position of its first event, in order
    of first appearance, and after each event the position of its case's next
    one (-1 at the last); and the latest ``occurred_at`` of all.

    Positions rather than a list of events per case: lists are containers the
    garbage collector has to walk, positions in an array are not.
    """
    heads: list[int] = []
    next_of = array("q", [-1]) * len(events)
    if not events:
        return heads, next_of, None
    latest: dict[str, int] = {}
    find = latest.get
    last = events[0].occurred_at
    for i, e in enumerate(events):
        t = e.occurred_at
        if t > last:  # noqa: PLR1730  # max() would be a call per event
            last = t
        j = find(e.case_id)
        if j is None:
            heads.append(i)
        else:
            next_of[j] = i
        latest[e.case_id] = i
    return heads, next_of, last


def _chain(events: Sequence[Event], next_of: array[int], head: int) -> Iterator[Event]:
    """The events of the case whose first is at ``head``, in order."""
    while head >= 0:
        yield events[head]
        head = next_of[head]


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


class _Held:
    """An SLA episode waiting out a pause (the rare case): its verdict comes when it ends."""

    __slots__ = ("members", "pauses", "since", "start", "state", "step")

    def __init__(self, state: str, step: _Step, start: datetime, since: datetime,
                 member: int) -> None:
        self.state, self.step, self.start = state, step, start
        self.since: datetime | None = since  # when the current pause began; None: resumed
        self.pauses: list[tuple[datetime, datetime]] = []
        self.members = [member]  # indexes of its visits in the log's visits


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
        self.closes: dict[int, datetime] = {}  # close of business by business day number
        resolved = set(spec.resolved_states)
        self.steps: dict[str, _Step] = {}
        for n, s in wf.states.items():
            target = s.sla.target if s.sla is not None else None
            days = target.amount if target and target.business and target.unit == "days" else None
            self.steps[n] = _Step(target, days, s.pauses_sla, n in resolved)
        for n in resolved - set(wf.states):
            self.steps[n] = _Step(None, None, False, True)
        self.terminal = wf.terminal_states
        self.meaning: dict[str, int] = {}
        for code, triggers in ((_FIRST, spec.first_contact), (_RESPONSE, spec.response),
                               (_ESCALATION, spec.escalation), (_REOPEN, spec.reopen),
                               (_CONFIRM, spec.confirmation)):
            for trig in triggers:
                self.meaning[trig] = self.meaning.get(trig, 0) | code
        # What the measures read from case data: six values, then whether each
        # deadline applies. Each is a top-level key, some with a path below it.
        values = [spec.area, spec.channel, spec.category, spec.cause, spec.csat, spec.remedy]
        paths = [*values, *(d.applies_when for d in spec.deadlines)]
        self.conditions = len(values)  # where the deadline conditions start
        self.tops = [p.split(".")[0] for p in paths]
        # Paths that go below their top-level key: (position, the rest of the path,
        # its only key when it has one, which a plain get reads from event data's dicts).
        self.below = [(k, rest, rest[0] if len(rest) == 1 else None)
                      for k, p in enumerate(paths) if (rest := tuple(p.split(".")[1:]))]

    def close(self, number: int) -> datetime:
        """Close of business of the ``number``-th business day, shared by every SLA due then."""
        due = self.closes.get(number)
        if due is None:
            due = self.closes[number] = self.cal.close_of_business_day(number)
        return due

    # One loop body on purpose: a function call per event or per visit would
    # cost more than the work it does.
    def read(self, events: Sequence[Event], next_of: array[int], heads: list[int]  # noqa: PLR0915
             ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[tuple[str, str], int]]:
        """Rows of facts and visits, and hand-off counts, of the cases chained from ``heads``."""
        clock = self.clock
        days, origin, offset, day_number = clock.days, clock.origin, clock.offset, clock.day_number
        rate, means, step = dict(self.spec.action_cost).get, self.meaning.get, self.steps.get
        terminal, closes, close, due_at = self.terminal, self.closes, self.close, self.cal.due_at
        end, end_offset, tz = self.end, self.end_offset, self.cal.tz
        cases: list[tuple[Any, ...]] = []
        visits: list[tuple[Any, ...]] = []
        add_visit = visits.append
        pairs: dict[tuple[str, str], int] = {}
        for head in heads:
            first = events[head]
            cid = first.case_id
            opened = entered = first.occurred_at
            state = role = ack = respond = done = held = due = None
            data: dict[str, Any] = {}  # the latest value of each top-level key
            merge = data.update
            path: list[str] = []
            add_step = path.append
            spent = actions = handoffs = cost = flags = escalations = reopens = 0
            opened_offset = entered_offset = ack_offset = respond_offset = done_offset = 0
            decided = breached = False
            i = head
            while i >= 0:
                e = events[i]
                i = next_of[i]
                # Timer events (SLA met/breached) are the engine's bookkeeping, not
                # work: they cost nothing and hand nothing over.
                if e.type != "timer" or role is None:
                    actor = e.actor
                    now = actor.role if actor is not None else "system"
                    if role is None:  # the case's first event: its cost is no step's
                        role, spent = now, rate(now, 0)
                    else:
                        actions += 1
                        if now != role:
                            handoffs += 1
                            pair = (role, now)
                            pairs[pair] = pairs.get(pair, 0) + 1
                            role = now
                        cost += rate(now, 0)
                dest = e.dest
                if dest != state:
                    t = e.occurred_at
                    # BusinessClock.offset, inline: this runs once per visit.
                    d = t - origin
                    day = days[d.days]
                    x = d.seconds * 1_000_000 + d.microseconds
                    if day is None:
                        o = offset(t)
                    else:
                        rise, worked, base, midnight, before, after = day
                        y = x - rise
                        o = base if y <= 0 else base + (y if y < worked else worked)
                    sla, sla_days, pauses, resolves = step(dest, _PLAIN_STEP)
                    if state is None:
                        opened, opened_offset = t, o
                    else:
                        verdict = None
                        if held is not None:
                            held, verdict, settled = self.turn(held, visits, len(visits), state,
                                                               entered, t, dest, pauses)
                            for v in (settled, verdict):
                                if v is not None:
                                    decided = True
                                    breached = breached or v
                        elif due is not None:  # an SLA stay ends...
                            if pauses:  # ... for a pause: the episode goes on
                                held = _Held(state, step(state, _PLAIN_STEP), entered, t,
                                             len(visits))
                            else:
                                verdict = t > due
                                decided = True
                                breached = breached or verdict
                        hours = o - entered_offset
                        add_visit((cid, state, path.count(state), entered, t,
                                   hours / _US_PER_S / _S_PER_H if hours > 0 else 0.0,
                                   actions, handoffs, cost, verdict))
                        spent += cost
                        actions = handoffs = cost = 0
                        if ack is None:
                            ack, ack_offset = t, o
                        if resolves and done is None:
                            done, done_offset = t, o
                    due = None  # unless a new SLA stay begins (a resumed one is held's)
                    if held is None:
                        if sla_days is not None:
                            number = None if day is None else (
                                before if x < midnight else after)
                            if number is None:
                                number = day_number(t)
                            number += sla_days
                            due = closes.get(number) or close(number)
                        elif sla is not None:
                            due = due_at(t, sla)
                    state, entered, entered_offset = dest, t, o
                    add_step(dest)
                code = means(e.trigger)
                if code and e is not first:
                    flags |= code
                    if code & _RESPONSE and respond is None:
                        respond = e.occurred_at
                        respond_offset = entered_offset if entered == respond else offset(respond)
                    if code & _ESCALATION:
                        escalations += 1
                    if code & _REOPEN:
                        reopens += 1
                changes = e.data
                if changes:
                    merge(changes)
            # The open visit stops at the log's end, or at once in a terminal state.
            assert state is not None  # every event has a dest
            closed = state in terminal
            verdict = None
            if held is not None:
                verdict, settled = self.left_open(held, visits, state, entered)
                if settled is not None:
                    decided = True
                    breached = breached or settled
            elif due is not None and end > due:
                verdict = True
            if verdict is not None:
                decided = True
                breached = breached or verdict
            hours = 0 if closed else end_offset - entered_offset
            add_visit((cid, state, path.count(state), entered, None,
                       hours / _US_PER_S / _S_PER_H if hours > 0 else 0.0,
                       actions, handoffs, cost, verdict))
            spent += cost
            area, channel, category, cause, csat, remedy, *applies = self.fields(
                data, events, next_of, head)
            remedy = _pence(remedy)
            if ((respond is not None and respond < opened) or (ack is not None and ack < opened)
                    or (done is not None and done < opened)):
                for b in (respond, ack, done):  # refused as business_time_between refuses them
                    if b is not None:
                        self.cal.business_time_between(opened, b)
            cases.append((
                cid, opened, opened.astimezone(tz).date(),
                area if isinstance(area, str) else None,
                channel if isinstance(channel, str) else None,
                category if isinstance(category, str) else None,
                cause if isinstance(cause, str) else None,
                state, closed, tuple(path),
                None if ack is None else (ack_offset - opened_offset) / _US_PER_S / _S_PER_H,
                None if respond is None
                else (respond_offset - opened_offset) / _US_PER_S / _S_PER_H,
                None if done is None else (done_offset - opened_offset) / _US_PER_S / _S_PER_H,
                bool(flags & _FIRST) and reopens == 0, escalations, reopens,
                bool(flags & _CONFIRM),
                csat if isinstance(csat, int) and not isinstance(csat, bool) else None,
                spent + remedy, remedy, None if not decided else not breached,
                True in applies,
                *(self.deadlines(opened, applies, done, visits, len(visits) - len(path))
                  if True in applies else (None, None))))
        return cases, visits, pairs

    def turn(self, held: _Held, visits: list[tuple[Any, ...]], k: int, state: str,
             entered: datetime, t: datetime, dest: str, pauses: bool
             ) -> tuple[_Held | None, bool | None, bool | None]:
        """Visit ``k`` (``state`` since ``entered``) ends at ``t`` for ``dest``; an episode is held.

        Returns the episode still held (or a new one), the verdict of visit
        ``k`` if it has one now, and the verdict given to the held episode's
        earlier visits if it ended.
        """
        if held.since is None:  # a stay of the episode's state, after a pause
            if pauses:
                held.since = t
                held.members.append(k)
                return held, None, None
            verdict = t > self.held_due(held)
            return None, verdict, self.settle(visits, held, verdict)
        if dest == held.state:  # the pause is over: the episode goes on
            held.pauses.append((held.since, t))
            held.since = None
            return held, None, None
        # The pause ended elsewhere: the episode ended when the pause began, and
        # the pause itself may be an SLA stay of its own.
        settled = self.settle(visits, held, held.since > self.held_due(held))
        own = self.steps.get(state, _PLAIN_STEP)
        if own.sla is None:
            return None, None, settled
        if pauses:
            return _Held(state, own, entered, t, k), None, settled
        return None, t > self.entry_due(own, entered), settled

    def left_open(self, held: _Held, visits: list[tuple[Any, ...]], state: str, entered: datetime
                  ) -> tuple[bool | None, bool | None]:
        """Verdicts when the log ends with an episode held: the last visit's, the others'."""
        if held.since is None:  # still in the episode's state: open
            verdict = True if self.end > self.held_due(held) else None
            return verdict, self.settle(visits, held, verdict)
        settled = self.settle(visits, held, held.since > self.held_due(held))
        own = self.steps.get(state, _PLAIN_STEP)
        if own.sla is None:
            return None, settled
        return (True if self.end > self.entry_due(own, entered) else None), settled

    @staticmethod
    def settle(visits: list[tuple[Any, ...]], held: _Held, verdict: bool | None) -> bool | None:
        """Give the held episode's earlier visits their verdict."""
        for k in held.members:
            visits[k] = (*visits[k][:9], verdict)
        return verdict

    def held_due(self, held: _Held) -> datetime:
        return self.due(held.start, held.step, held.pauses)

    def entry_due(self, entering: _Step, start: datetime) -> datetime:
        """When the SLA of a step entered at ``start`` falls due, if no pause intervenes."""
        if entering.sla_days is not None:
            return self.close(self.clock.day_number(start) + entering.sla_days)
        assert entering.sla is not None
        return self.cal.due_at(start, entering.sla)

    def fields(self, data: dict[str, Any], events: Sequence[Event], next_of: array[int], head: int
               ) -> list[Any]:
        """The watched values: each the last one any event set (not to None).

        ``data`` holds each top-level key as the last event set it, which is
        the answer unless that event set it (or the part wanted) to None;
        then the events are searched from the last. Deadline conditions come
        out as bools.
        """
        values = list(map(data.get, self.tops))
        search = None in data.values()
        for k, rest, key in self.below:
            value = values[k]
            if value is not None:
                value = values[k] = (value.get(key) if key is not None and type(value) is dict
                                     else _dig(value, rest))
                if value is None:
                    search = True
        if search:
            for k, top in enumerate(self.tops):
                if values[k] is None and top in data:
                    rest = next((r for j, r, _ in self.below if j == k), ())
                    values[k] = next((v for e in reversed(list(_chain(events, next_of, head)))
                                      if top in e.data
                                      and (v := _dig(e.data[top], rest)) is not None), None)
        for k in range(self.conditions, len(values)):
            values[k] = values[k] is True
        return values

    def due(self, start: datetime, entering: _Step, pauses: list[tuple[datetime, datetime]]
            ) -> datetime:
        """``cal.due_at(start, sla, pauses)``, by day numbers and shared closes of business.

        Business-day SLAs advance as the calendar's: close of business on the
        n-th business day, a day later for each business day begun while
        paused. Anything else, or pauses the calendar would refuse, it does itself.
        """
        amount = entering.sla_days
        if not pauses:
            return self.entry_due(entering, start)
        assert entering.sla is not None
        if amount is None or amount <= 0 or any(pe < ps for ps, pe in pauses):
            return self.cal.due_at(start, entering.sla, pauses)
        stops: list[list[datetime]] = []  # clipped to the start, merged
        for ps, pe in sorted((max(ps, start), pe) for ps, pe in pauses):
            if pe <= ps:
                continue
            if stops and ps <= stops[-1][1]:
                stops[-1][1] = max(stops[-1][1], pe)
            else:
                stops.append([ps, pe])
        day = self.clock.day_number
        target = day(start) + amount
        for ps, pe in stops:
            due = self.close(target)
            if due <= ps:
                return due
            target += day(pe) - day(ps)
        return self.close(target)

    def deadlines(self, opened: datetime, applies: list[Any], done: datetime | None,
                  visits: list[tuple[Any, ...]], begin: int) -> tuple[bool | None, str | None]:
        """Whether the case met its regulatory deadlines; where it was when it missed one.

        ``visits[begin:]`` are the case's.
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
            own = visits[begin:]
            where = next((v[1] for k, v in enumerate(own)
                          if v[3] <= due and (k + 1 == len(own) or due < own[k + 1][3])), None)
        return met, where


def _pence(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) * 100  # the usual whole-pound amount, without a Decimal
    try:
        return int(Decimal(str(value)) * 100)
    except (InvalidOperation, ValueError):
        return 0
