"""SLA and deadline timers: what a transition does to a case's clocks, as pure functions.

A state's SLA runs while the case is in that state, pauses while it sits in a
``pauses_sla`` state entered from there (awaiting the customer), resumes when
it comes back, and stops when it goes anywhere else. A deadline declared on a
data field (``final_response_due``) runs while the field holds a time and the
case has not reached a state that meets it. Each clock is one or two
:class:`Timer` rows (a warning at a share of the target, and the breach), kept
by the store next to the case and claimed by ``run_due`` when due.

The engine asks :func:`plan_transition` what a transition changes and
:func:`plan_fire` what firing a due timer records; both return the
:class:`Milestone` events to write and the timer rows to put or drop, which
the engine hands to the store's atomic ``append`` with the events. Nothing
here reads a clock or a store, so the rules are testable as plain data.

Milestones are never dropped: a timer that fell due while nobody fired it
(workers down, the clock paused at the wrong moment) is recorded as reached
by the transition that stops or pauses its clock, and a breach timer that
stops in time is recorded as met. Every SLA cycle therefore ends in exactly
one ``sla_met`` or ``sla_breached`` event, which is what attainment reports
count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import msgspec

from csflow._data import get_path, has_path, nest
from csflow.calendars import CalendarRegistry
from csflow.model import Actor
from csflow.workflows._definition import SLA as SLADef
from csflow.workflows._definition import Deadline, WorkflowDef

SYSTEM = Actor("system", "system")
"""Who fires timers: the role workflows name in ``roles`` for breach actions."""

SLA, DEADLINE = "sla", "deadline"
WARNING, BREACH = "warning", "breach"
NOTIFY, ESCALATE = "notify", "escalate"


class Timer(msgspec.Struct, frozen=True, gc=False):
    """One milestone of one clock of one case.

    ``id`` is ``case:kind:name:cycle:milestone`` where ``cycle`` is the seq of
    the event that started the clock, so a state entered twice gets fresh
    timers, and ``timer:<id>`` is the idempotency key of the event that
    records its outcome: a timer can be recorded once, whoever gets there
    first. ``due_at`` is None while the clock is paused. SLA timers keep what
    is needed to recompute the due time on resume (``target``, ``calendar``,
    ``share`` of the target, ``pauses`` so far).

    A frozen msgspec Struct, as :class:`~csflow.model.Event` is: a resume
    copies two timers, and copying a dataclass cost more than the due-time
    arithmetic.
    """

    id: str
    case_id: str
    kind: str  # SLA | DEADLINE
    name: str  # the state (SLA) or the data path (deadline)
    milestone: str  # WARNING | BREACH
    due_at: datetime | None
    started_at: datetime
    action: str = NOTIFY  # notify | escalate | a trigger to fire on breach
    target: str | None = None
    calendar: str | None = None
    share: Decimal = Decimal(1)
    pauses: tuple[tuple[datetime, datetime], ...] = ()
    paused_since: datetime | None = None
    attempts: int = 0  # times claimed by a worker (kept by the store)

    @property
    def key(self) -> str:
        """The idempotency key of the event recording this timer's outcome."""
        return f"timer:{self.id}"


@dataclass(frozen=True, slots=True)
class TimerChanges:
    """Timer rows to write (replacing any with the same id) and ids to delete."""

    put: tuple[Timer, ...] = ()
    drop: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.put or self.drop)


NO_CHANGES = TimerChanges()


@dataclass(frozen=True, slots=True)
class Milestone:
    """A timer outcome to record as an event of type ``timer``.

    ``outcome`` is ``warning``, ``breached`` or ``met``; the event's trigger is
    e.g. ``sla_breached`` and its data delta :meth:`delta` (so the case shows
    ``sla.investigating.outcome``).
    """

    timer: Timer
    outcome: str

    @property
    def trigger(self) -> str:
        return f"{self.timer.kind}_{self.outcome}"

    def delta(self, now: datetime) -> dict[str, Any]:
        t = self.timer
        due = None if t.due_at is None else _iso(t.due_at)
        if self.outcome == "warning":
            info: dict[str, Any] = {"warning_at": due}
        else:
            info = {"outcome": self.outcome, "due_at": due}
            if self.outcome == "met":
                info["met_at"] = _iso(now)
        where = f"sla.{t.name}" if t.kind == SLA else f"deadlines.{t.name}"
        out = nest(where, info)
        if self.outcome == "breached" and t.action == ESCALATE:
            out["escalated"] = True
        return out

    @property
    def message(self) -> str | None:
        """The outbox message telling the team, or None (a met clock needs no one)."""
        if self.outcome == "met":
            return None
        if self.outcome == "breached" and self.timer.action == ESCALATE:
            return f"{self.timer.kind}_escalated"
        return self.trigger

    @property
    def fires(self) -> str | None:
        """The trigger to fire after a breach whose action is one, else None."""
        t = self.timer
        if self.outcome == "breached" and t.action not in (NOTIFY, ESCALATE):
            return t.action
        return None


@dataclass(frozen=True, slots=True)
class TimerPlan:
    """What one step records (in order, before its own event) and changes."""

    record: tuple[Milestone, ...] = ()
    changes: TimerChanges = NO_CHANGES


NO_PLAN = TimerPlan()


def affected(
    wf: WorkflowDef, state: str, dest: str, delta: Mapping[str, Any], *, new_case: bool
) -> bool:
    """Whether a transition can touch timers; when False the engine skips loading them.

    Staying in a state changes no clock unless the data of a deadline changes,
    which keeps the common "add a note" fire free of timer reads.
    """
    if not wf.has_timers:
        return False
    if new_case or dest != state:
        return True
    return not wf.deadline_roots.isdisjoint(delta) and any(
        has_path(delta, d.path) for d in wf.deadlines
    )


def plan_transition(
    wf: WorkflowDef,
    calendars: CalendarRegistry,
    *,
    case_id: str,
    state: str | None,
    dest: str,
    data_after: Mapping[str, Any],
    timers: Sequence[Timer],
    now: datetime,
    next_seq: int,
) -> TimerPlan:
    """The timer effects of moving a case from ``state`` to ``dest`` at ``now``.

    ``state`` is None for a new case. ``timers`` are the case's current
    timers, ``data_after`` its data after the transition, ``next_seq`` the seq
    the first event of this step will get.
    Raises ValueError naming the field when a deadline field holds something
    that is not a date or time.
    """
    record: list[Milestone] = []
    put: list[Timer] = []
    drop: list[str] = []
    open_after = dest not in wf.terminal_states
    resumed: set[str] = set()
    if dest != state:
        pausing = open_after and wf.states[dest].pauses_sla
        resumed = _move_sla(timers, dest, pausing, calendars, now, record, put, drop)
    pending: list[tuple[Deadline, datetime]] = []
    deadlines = [t for t in timers if t.kind == DEADLINE]
    for d in wf.deadlines:
        due = deadline_due(get_path(data_after, d.path), d, calendars)
        meets = not open_after or dest in d.met_in
        own = [t for t in deadlines if t.name == d.path]
        kept = bool(own) and _move_deadline(own, due, meets, now, record, drop)
        if not meets and due is not None and not kept:
            # Not re-armed when this very due time was already met or breached.
            done = get_path(data_after, ("deadlines", *d.path.split(".")))
            if not (isinstance(done, Mapping) and done.get("due_at") == _iso(due)):
                pending.append((d, due))
    cycle = next_seq + len(record)
    sla = wf.states[dest].sla if open_after else None
    if dest != state and sla is not None and dest not in resumed:
        put.extend(_start_sla(case_id, dest, cycle, sla, calendars, now))
    put.extend(
        Timer(
            id=f"{case_id}:{DEADLINE}:{d.path}:{cycle}:{BREACH}",
            case_id=case_id,
            kind=DEADLINE,
            name=d.path,
            milestone=BREACH,
            due_at=due,
            started_at=now,
            action=d.on_breach,
            calendar=d.calendar,
        )
        for d, due in pending
    )
    return TimerPlan(tuple(record), TimerChanges(tuple(put), tuple(drop)))


def _move_sla(
    timers: Sequence[Timer],
    dest: str,
    pausing: bool,
    calendars: CalendarRegistry,
    now: datetime,
    record: list[Milestone],
    put: list[Timer],
    drop: list[str],
) -> set[str]:
    """Resume, pause or stop each SLA clock as the case enters ``dest``; the states resumed."""
    resumed: set[str] = set()
    sla = _in_due_order(x for x in timers if x.kind == SLA)
    paused_here = [t for t in sla if t.name == dest and t.paused_since is not None]
    running = _resume(paused_here, calendars, now)
    for t in sla:
        if t.name == dest:
            resumed.add(t.name)
            if t.paused_since is not None:
                put.append(running[t.id])
        elif t.due_at is not None and t.due_at <= now:
            record.append(_reached(t))
            drop.append(t.id)
        elif pausing:
            if t.due_at is not None:
                put.append(msgspec.structs.replace(t, due_at=None, paused_since=now))
        else:
            drop.append(t.id)
            if t.milestone == BREACH:
                record.append(Milestone(t, "met"))
    return resumed


def _move_deadline(
    timers: Sequence[Timer],
    due: datetime | None,
    meets: bool,
    now: datetime,
    record: list[Milestone],
    drop: list[str],
) -> bool:
    """Record, stop or move a deadline's ``timers``; True when one stays as it is."""
    kept = False
    for t in _in_due_order(timers):
        assert t.due_at is not None  # deadlines never pause
        if t.due_at <= now:
            record.append(_reached(t))
            drop.append(t.id)
        elif meets:
            record.append(Milestone(t, "met"))
            drop.append(t.id)
        elif t.due_at != due:
            drop.append(t.id)  # moved or cleared by this transition
        else:
            kept = True
    return kept


def _start_sla(
    case_id: str,
    state: str,
    cycle: int,
    sla: SLADef,
    calendars: CalendarRegistry,
    now: datetime,
) -> list[Timer]:
    calendar = calendars[sla.calendar]
    target = str(sla.target)
    shares = [(WARNING, sla.warn_at)] if sla.warn_at is not None else []
    return [
        Timer(
            id=f"{case_id}:{SLA}:{state}:{cycle}:{milestone}",
            case_id=case_id,
            kind=SLA,
            name=state,
            milestone=milestone,
            due_at=calendar.due_at(now, target, (), fraction=share),
            started_at=now,
            action=sla.on_breach if milestone == BREACH else NOTIFY,
            target=target,
            calendar=sla.calendar,
            share=share,
        )
        for milestone, share in [*shares, (BREACH, Decimal(1))]
    ]


def plan_fire(timer: Timer, timers: Sequence[Timer], now: datetime) -> TimerPlan | None:
    """What firing ``timer`` records now, or None when it no longer should fire.

    ``timers`` are the case's current timers as stored: a timer that is gone
    (its clock stopped), paused, or moved later (resumed after a pause) since
    the worker claimed it does not fire.
    """
    current = next((t for t in timers if t.id == timer.id), None)
    if current is None or current.due_at is None or current.due_at > now:
        return None
    return TimerPlan((_reached(current),), TimerChanges(drop=(current.id,)))


def deadline_due(
    value: Any, deadline: Deadline, calendars: CalendarRegistry
) -> datetime | None:
    """The instant a deadline field's value means (None when unset).

    An ISO date means the end of that day in the deadline's calendar's
    timezone (UTC without one); a datetime without an offset is read in that
    timezone too.
    """
    if value is None:
        return None
    tz: tzinfo = UTC if deadline.calendar is None else calendars[deadline.calendar].tz
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value + timedelta(days=1), time(), tz)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{deadline.path}: {value!r} is not an ISO date or date-time "
                "(e.g. 2025-03-31 or 2025-03-31T17:30:00Z)"
            ) from None
        if len(value) == 10:  # a bare date
            moment = datetime.combine(moment.date() + timedelta(days=1), time(), tz)
    else:
        raise ValueError(f"{deadline.path}: {value!r} is not a date or date-time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _resume(
    paused: Sequence[Timer], calendars: CalendarRegistry, now: datetime
) -> dict[str, Timer]:
    """Paused SLA timers running again from ``now``, by id.

    The milestones of one clock (warning, breach) share its start, target and
    pauses, so their due times come from one pass over the pauses so far.
    """
    clocks: dict[tuple[Any, ...], list[Timer]] = {}
    for t in paused:
        assert t.paused_since is not None and t.target is not None and t.calendar is not None
        clock = (t.calendar, t.started_at, t.target, t.pauses, t.paused_since)
        clocks.setdefault(clock, []).append(t)
    running: dict[str, Timer] = {}
    for (calendar, started_at, target, so_far, since), milestones in clocks.items():
        pauses = (*so_far, (since, now))
        dues = calendars[calendar].due_ats(
            started_at, target, pauses, [t.share for t in milestones]
        )
        for t, due in zip(milestones, dues, strict=True):
            running[t.id] = msgspec.structs.replace(
                t, due_at=due, pauses=pauses, paused_since=None
            )
    return running


def _reached(t: Timer) -> Milestone:
    return Milestone(t, "warning" if t.milestone == WARNING else "breached")


_FAR = datetime.max.replace(tzinfo=UTC)  # where paused timers sort


def _in_due_order(timers: Iterable[Timer]) -> list[Timer]:
    return sorted(timers, key=lambda t: (t.due_at or _FAR, t.milestone != WARNING, t.id))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the stored form ------------------------------------------------------------


def timer_to_dict(t: Timer) -> dict[str, Any]:
    """JSON-able form of everything but the claim bookkeeping (``attempts``)."""
    return {
        "id": t.id,
        "case_id": t.case_id,
        "kind": t.kind,
        "name": t.name,
        "milestone": t.milestone,
        "due_at": t.due_at,
        "started_at": t.started_at,
        "action": t.action,
        "target": t.target,
        "calendar": t.calendar,
        "share": str(t.share),
        "pauses": [list(p) for p in t.pauses],
        "paused_since": t.paused_since,
    }


def timer_from_dict(d: Mapping[str, Any], attempts: int = 0) -> Timer:
    return Timer(
        id=d["id"],
        case_id=d["case_id"],
        kind=d["kind"],
        name=d["name"],
        milestone=d["milestone"],
        due_at=_time(d.get("due_at")),
        started_at=_req(d["started_at"]),
        action=d.get("action", NOTIFY),
        target=d.get("target"),
        calendar=d.get("calendar"),
        share=Decimal(d.get("share", "1")),
        pauses=tuple((_req(s), _req(e)) for s, e in d.get("pauses") or ()),
        paused_since=_time(d.get("paused_since")),
        attempts=attempts,
    )


def _time(v: Any) -> datetime | None:
    if v is None:
        return None
    return v if isinstance(v, datetime) else datetime.fromisoformat(v)


def _req(v: Any) -> datetime:
    t = _time(v)
    assert t is not None
    return t


__all__ = [
    "NO_CHANGES",
    "SYSTEM",
    "Milestone",
    "Timer",
    "TimerChanges",
    "TimerPlan",
    "affected",
    "deadline_due",
    "plan_fire",
    "plan_transition",
    "timer_from_dict",
    "timer_to_dict",
]
