"""SLA episodes of a case shape, and when a paused one falls due.

SLA episodes follow the engine's timers: a stay in an SLA state interrupted
only by states that pause the SLA (awaiting the customer) is one episode,
whose due time skips the pauses; it is met if it ends by then. A still-open
episode is breached once the log's end is past its due time, else
undecided. A shape without such pauses has one episode per SLA stay.

Which visits form an episode, where its pauses are and which visit ends it
follow from the shape's path alone, so they are worked out once per shape
(:func:`episodes`); each case is left to compare its times with the due
times. Instants are a case's visits by number: when each began is
``times[j]``, its business-day number ``numbers[j]`` (``None``: ask the
clock), both taken once per visit by ``read_log``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from csflow.analytics._shape import Shape, Step
from csflow.calendars import BusinessDuration

#: A pause of an episode: (the first visit of the pause, the visit after it).
Pause = tuple[int, int]


class Episode(NamedTuple):
    """One SLA episode of a shape's cases, by visit number."""

    members: tuple[int, ...]  # the visits whose verdict is the episode's
    start: int  # the visit that began it: its SLA runs from then
    step: Step  # the step it is a stay in (its SLA)
    pauses: tuple[Pause, ...]
    stop: int | None  # the visit whose beginning ends it; None: open at the log's end


class _Held:
    """An episode being followed through a pause: it ends when the case leaves
    its state for anything but a pause, or a pause leads elsewhere."""

    __slots__ = ("members", "pauses", "since", "start", "step")

    def __init__(self, step: Step, start: int, since: int) -> None:
        self.step, self.start = step, start
        self.since: int | None = since  # the visit that began the current pause; None: resumed
        self.pauses: list[Pause] = []
        self.members = [start]

    def ended(self, stop: int | None, last: int | None = None) -> Episode:
        """The episode, ended by visit ``stop``, with visit ``last`` one of its own."""
        members = self.members if last is None else [*self.members, last]
        return Episode(tuple(members), self.start, self.step, tuple(self.pauses), stop)


def episodes(s: Shape) -> tuple[Episode, ...]:
    """The SLA episodes of the cases of shape ``s``, in the order they end."""
    found: list[Episode] = []
    steps, states = s.steps, s.states
    held: _Held | None = None
    timed = steps[0].sla is not None  # the visit just left began an SLA stay of its own
    for j in range(1, len(steps)):
        k, entering = j - 1, steps[j]
        if held is None:
            if timed:  # an SLA stay ends: for a pause, the episode goes on
                if entering.pauses:
                    held = _Held(steps[k], k, j)
                else:
                    found.append(Episode((k,), k, steps[k], (), j))
        elif held.since is None:  # a stay of the episode's state, after a pause
            if entering.pauses:
                held.since = j
                held.members.append(k)
            else:
                found.append(held.ended(j, k))
                held = None
        elif states[j] == states[held.start]:  # the pause is over: the episode goes on
            held.pauses.append((held.since, j))
            held.since = None
        else:
            # The pause ended elsewhere: the episode ended when the pause began,
            # and the pause itself may be an SLA stay of its own.
            found.append(held.ended(held.since))
            held = None
            if steps[k].sla is not None:
                if entering.pauses:
                    held = _Held(steps[k], k, j)
                else:
                    found.append(Episode((k,), k, steps[k], (), j))
        timed = held is None and entering.sla is not None
    last = len(steps) - 1
    if held is None:
        if timed:
            found.append(Episode((last,), last, steps[last], (), None))
    elif held.since is None:  # still in the episode's state: open
        found.append(held.ended(None, last))
    else:
        found.append(held.ended(held.since))
        if steps[last].sla is not None:
            found.append(Episode((last,), last, steps[last], (), None))
    return tuple(found)


class PausedDue:
    """When an episode with pauses falls due, by the calendar's closes of business and due times."""

    def __init__(self, closes: dict[int, datetime], close: Callable[[int], datetime],
                 due_at: Callable[..., datetime], day_number: Callable[[datetime], int]
                 ) -> None:
        self.closes, self.close, self.due_at, self.day_number = closes, close, due_at, day_number

    def number(self, j: int, times: Sequence[datetime], numbers: Sequence[int | None]) -> int:
        number = numbers[j]
        return self.day_number(times[j]) if number is None else number

    def __call__(self, first: int, sla: BusinessDuration, amount: int | None,
                 pauses: Sequence[Pause], times: Sequence[datetime],
                 numbers: Sequence[int | None]) -> datetime:
        """``cal.due_at(times[first], sla, pauses)``, by day numbers and shared closes of
        business (``amount``: the SLA's business days, when it is in business days).

        Business-day SLAs advance as the calendar's: close of business on the
        n-th business day, a day later for each business day begun while
        paused. Anything else, or pauses the calendar would refuse, it does itself.
        """
        start = times[first]
        if amount is None or amount <= 0 or any(times[pe] < times[ps] for ps, pe in pauses):
            return self.due_at(start, sla, [(times[ps], times[pe]) for ps, pe in pauses])
        stops: list[list[int]]  # clipped to the start, merged
        if len(pauses) == 1:  # the usual: one wait for the customer, after the start
            ((ps, pe),) = pauses
            if times[ps] < start:
                ps = first
            stops = [] if times[pe] <= times[ps] else [[ps, pe]]
        else:
            at: Any = times.__getitem__
            stops = []
            for ps, pe in sorted(((ps if times[ps] >= start else first, pe)
                                  for ps, pe in pauses), key=lambda p: (at(p[0]), at(p[1]))):
                if times[pe] <= times[ps]:
                    continue
                if stops and times[ps] <= times[stops[-1][1]]:
                    if times[pe] > times[stops[-1][1]]:
                        stops[-1][1] = pe
                else:
                    stops.append([ps, pe])
        target = self.number(first, times, numbers) + amount
        closes, close = self.closes, self.close
        for ps, pe in stops:
            due = closes.get(target) or close(target)
            if due <= times[ps]:
                return due
            target += self.number(pe, times, numbers) - self.number(ps, times, numbers)
        return closes.get(target) or close(target)
