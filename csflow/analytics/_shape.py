"""What a case's shape decides, worked out once per shape.

A case's shape is the sequence of its events' triggers, destination states,
event types and actor roles. It decides everything ``read_log`` needs about
the case but its times and data: the path, each visit's actions, hand-offs
and staff cost, the hand-offs between roles, and which events are a
response, an escalation or a reopening. A workflow's cases follow few shapes
(the benchmark's million events have 9; a simulated 3,000 complaints, 255),
so this walk over a case's events is done once per shape and each case is
left with the arithmetic of its own times, a few calls in C per event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import chain, compress, repeat
from typing import Any, NamedTuple

from csflow.calendars import BusinessDuration

# Codes for what a trigger means to the measures (a trigger may mean several).
FIRST, RESPONSE, ESCALATION, REOPEN, CONFIRM = 1, 2, 4, 8, 16


class Step(NamedTuple):
    """What entering a step means to the read."""

    sla: BusinessDuration | None
    sla_days: int | None  # the SLA's business days, when it is in business days (the common kind)
    pauses: bool  # pauses the SLA of the step it was entered from
    resolves: bool  # one of the spec's resolved states


PLAIN_STEP = Step(None, None, False, False)

#: A case's shape: each event's trigger, destination state, type and actor role, one
#: after another (one flat tuple hashes and compares in less time than nested ones).
Key = tuple[str, ...]


class Shape:
    """The facts of every case of one shape but those of its times and data.

    Visits are numbered from 0 (the first event's step); the lists of
    per-visit values line up with :attr:`states`.
    """

    __slots__ = ("actions", "changes", "closed", "confirmed", "costs", "done",
                 "escalations", "first_contact", "handoffs", "nths", "number", "pairs",
                 "reopens", "respond", "respond_visit", "spent", "states", "steps")

    def __init__(self, number: int) -> None:
        #: Its place among the shapes of a read: what a case keeps of its shape, as
        #: a number is not a container for the garbage collector to walk.
        self.number = number
        self.changes: tuple[int, ...] | None = None  # events entering a step; None: every one
        self.states: tuple[str, ...] = ()  # the path: the step of each visit
        self.steps: tuple[Step, ...] = ()  # what entering each visit's step means
        self.nths: tuple[int, ...] = ()  # 1 for a case's first visit to a step, 2 the second...
        self.actions: tuple[int, ...] = ()
        self.handoffs: tuple[int, ...] = ()
        self.costs: tuple[int, ...] = ()
        self.pairs: tuple[tuple[str, str], ...] = ()  # hand-offs (from role, to role), in order
        self.spent = 0  # staff cost of the whole case
        self.first_contact = self.confirmed = self.closed = False
        self.escalations = self.reopens = 0
        self.respond: int | None = None  # position of the first response event
        self.respond_visit: int | None = None  # the visit that event begins, if it begins one
        self.done: int | None = None  # the first visit after the first to a resolved step


class Shaping:
    """Works out shapes, knowing what the workflow's steps and triggers mean."""

    def __init__(self, steps: Mapping[str, Step], terminal: Collection[str],
                 rate: Callable[[str, int], int], means: Callable[[str, int], int]) -> None:
        self.steps, self.terminal, self.rate, self.means = steps.get, terminal, rate, means

    def work_out(self, key: Key, number: int) -> Shape:
        """Walk one case's events as ``read_log`` reads them, leaving out times and data."""
        rate, means = self.rate, self.means
        s = Shape(number)
        changes: list[int] = []
        states: list[str] = []
        nths: list[int] = []
        actions_of: list[int] = []
        handoffs_of: list[int] = []
        costs_of: list[int] = []
        pairs: list[tuple[str, str]] = []
        state = role = None
        actions = handoffs = cost = flags = 0
        events = zip(*[iter(key)] * 4, strict=True)  # (trigger, dest, type, role) of each
        for k, (trigger, dest, kind, now) in enumerate(events):
            # Timer events (SLA met/breached) are the engine's bookkeeping, not
            # work: they cost nothing and hand nothing over.
            if kind != "timer" or role is None:
                if role is None:  # the case's first event: its cost is no step's
                    role, s.spent = now, rate(now, 0)
                else:
                    actions += 1
                    if now != role:
                        handoffs += 1
                        pairs.append((role, now))
                        role = now
                    cost += rate(now, 0)
            if dest != state:
                if state is not None:  # the event leaving a step is the step's last action
                    actions_of.append(actions)
                    handoffs_of.append(handoffs)
                    costs_of.append(cost)
                    s.spent += cost
                    actions = handoffs = cost = 0
                changes.append(k)
                states.append(dest)
                nths.append(states.count(dest))
                state = dest
            code = means(trigger, 0)
            if code and k:  # the first event opens the case, whatever its trigger
                flags |= code
                if code & RESPONSE and s.respond is None:
                    s.respond = k
                    s.respond_visit = len(changes) - 1 if changes[-1] == k else None
                s.escalations += bool(code & ESCALATION)
                s.reopens += bool(code & REOPEN)
        actions_of.append(actions)
        handoffs_of.append(handoffs)
        costs_of.append(cost)
        s.spent += cost
        if len(changes) < len(key) // 4:
            s.changes = tuple(changes)
        s.actions, s.handoffs, s.costs, s.pairs = (
            tuple(actions_of), tuple(handoffs_of), tuple(costs_of), tuple(pairs))
        self.summarise(s, states, nths, flags)
        return s

    def summarise(self, s: Shape, states: list[str], nths: list[int], flags: int) -> None:
        """Fill in what follows from the path and the meanings of the case's triggers."""
        s.states, s.nths = tuple(states), tuple(nths)
        s.steps = tuple(self.steps(n, PLAIN_STEP) for n in states)
        s.first_contact = bool(flags & FIRST) and s.reopens == 0
        s.confirmed = bool(flags & CONFIRM)
        s.closed = states[-1] in self.terminal
        s.done = next((j for j, st in enumerate(s.steps) if j and st.resolves), None)

class Stays:
    """The visits of many cases, as ``read_log`` leaves them.

    Per case read, in the order of the log's case rows: its id and the
    number of its shape. When each visit of each case began is in
    ``entered``, cases one after another. Business hours and SLA verdicts
    are kept by shape, a column per visit of the shape and a value per case
    of the shape, so step analysis takes each step's hours a column at a time
    (a visit that can have no SLA verdict has no column: ``None``); what a
    shape decides is kept once per shape. The visits as rows are laid out
    only when asked for. Nothing here is a container per case: a container
    for each of a million cases would keep the garbage collector busy.
    """

    __slots__ = ("entered", "hours", "ids", "kept", "shape_of", "shapes", "verdicts")

    def __init__(self, shapes: Sequence[Shape], ids: Sequence[str], shape_of: Sequence[int],
                 entered: Sequence[datetime], hours: Sequence[Sequence[Sequence[float]]],
                 verdicts: Sequence[Sequence[Sequence[bool | None] | None]],
                 kept: Sequence[bool] | None = None) -> None:
        self.shapes, self.ids, self.shape_of, self.entered = shapes, ids, shape_of, entered
        self.hours, self.verdicts = hours, verdicts  # by shape number
        self.kept = kept  # which of the cases read these are (None: all)

    def places(self) -> Iterator[tuple[str, int, int, int]]:
        """Each case: its id, its shape's number, its place among the cases of that
        shape, and where its visits begin in ``entered``."""
        seen = [0] * len(self.shapes)
        lengths = [len(s.states) for s in self.shapes]
        start = 0
        for cid, k in zip(self.ids, self.shape_of, strict=True):
            place = seen[k]
            seen[k] = place + 1
            yield cid, k, place, start
            start += lengths[k]

    def cases(self) -> Iterator[tuple[str, int, int, int]]:
        """As :meth:`places`, for the cases these are."""
        return self.places() if self.kept is None else compress(self.places(), self.kept)

    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """Each visit as a row of :class:`Visit`'s fields, cases in order."""
        entered = self.entered
        return tuple(chain.from_iterable(
            zip(repeat(cid), s.states, s.nths, entered[a:b], (*entered[a + 1:b], None),
                [c[r] for c in self.hours[k]], s.actions, s.handoffs, s.costs,
                [None if c is None else c[r] for c in self.verdicts[k]], strict=False)
            for cid, k, r, a in self.cases()
            for s in (self.shapes[k],) for b in (a + len(s.states),)))

    def only(self, keep: Iterable[bool]) -> Stays:
        """The visits of the cases ``keep`` marks (one flag per case, in order)."""
        flags = iter(keep)
        kept = ([bool(f) for f in flags] if self.kept is None
                else [was and bool(next(flags)) for was in self.kept])
        return Stays(self.shapes, self.ids, self.shape_of, self.entered, self.hours,
                     self.verdicts, kept)

    def by_shape(self) -> Iterator[tuple[Shape, int, list[int] | None]]:
        """Each shape of the cases, with how many cases have it and their places among
        its cases (``None``: all of them, in order)."""
        if self.kept is None:
            for s, hours in zip(self.shapes, self.hours, strict=True):
                if hours[0]:
                    yield s, len(hours[0]), None
            return
        places: dict[int, list[int]] = {}
        for _, k, r, _ in self.cases():
            found = places.get(k)
            if found is None:
                places[k] = [r]
            else:
                found.append(r)
        for k, rs in places.items():
            yield self.shapes[k], len(rs), rs
