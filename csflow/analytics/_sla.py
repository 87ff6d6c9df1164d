"""SLA verdicts of a case whose SLA stays may be paused.

SLA episodes follow the engine's timers: a stay in an SLA state interrupted
only by states that pause the SLA (awaiting the customer) is one episode,
whose due time skips the pauses; it is met if it ends by then. A still-open
episode is breached once the log's end is past its due time, else
undecided. (A case whose shape never pauses an SLA stay has one episode per
stay, which ``read_log`` judges itself.)

Instants are a case's visits by number: when each began is ``times[j]``,
its business-day number ``numbers[j]`` (``None``: ask the clock), both
taken once per visit by ``read_log``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from csflow.analytics._shape import PLAIN_STEP, Shape, Step


class _Held:
    """An SLA episode waiting out a pause (the rare case): its verdict comes when it ends."""

    __slots__ = ("members", "pauses", "since", "start", "state", "step")

    def __init__(self, state: str, step: Step, start: int, since: int) -> None:
        self.state, self.step, self.start = state, step, start  # start: its first visit
        self.since: int | None = since  # the visit that began the current pause; None: resumed
        self.pauses: list[tuple[int, int]] = []  # (first visit of a pause, the visit after it)
        self.members = [start]  # its visits


class Episodes:
    """Judges the SLA episodes of cases, by the calendar's closes of business and due times."""

    def __init__(self, steps: Mapping[str, Step], closes: dict[int, datetime],
                 close: Callable[[int], datetime], due_at: Callable[..., datetime],
                 day_number: Callable[[datetime], int], end: datetime) -> None:
        self.step, self.closes, self.close = steps.get, closes, close
        self.due_at, self.day_number, self.end = due_at, day_number, end

    def verdicts(self, s: Shape, times: Sequence[datetime], numbers: Sequence[int | None]
                 ) -> list[bool | None]:
        """Each visit's SLA verdict, for a case of shape ``s``."""
        verdicts: list[bool | None] = []
        step = self.step
        state = held = due = None
        for j, (t, dest, entering) in enumerate(zip(times, s.states, s.steps, strict=True)):
            if j:  # visit k (of state) ends at t for dest
                assert state is not None
                k = j - 1
                verdict = None
                if held is None:
                    if due is not None:  # an SLA stay ends...
                        if entering.pauses:  # ... for a pause: the episode goes on
                            held = _Held(state, step(state, PLAIN_STEP), k, j)
                        else:
                            verdict = t > due
                elif held.since is None:  # a stay of the episode's state, after a pause
                    if entering.pauses:
                        held.since = j
                        held.members.append(k)
                    else:
                        verdict = t > self.held_due(held, times, numbers)
                        self.settle(verdicts, held, verdict)
                        held = None
                elif dest == held.state:  # the pause is over: the episode goes on
                    held.pauses.append((held.since, j))
                    held.since = None
                else:
                    # The pause ended elsewhere: the episode ended when the pause began,
                    # and the pause itself may be an SLA stay of its own.
                    self.settle(verdicts, held,
                                times[held.since] > self.held_due(held, times, numbers))
                    held = None
                    own = step(state, PLAIN_STEP)
                    if own.sla is not None:
                        if entering.pauses:
                            held = _Held(state, own, k, j)
                        else:
                            verdict = t > self.entry_due(own, k, times, numbers)
                verdicts.append(verdict)
            # Unless a new SLA stay begins, nothing is due (a resumed one is held's).
            due = (None if held is not None or entering.sla is None
                   else self.entry_due(entering, j, times, numbers))
            state = dest
        assert state is not None
        verdicts.append(self.at_end(verdicts, held, due, state, times, numbers))
        return verdicts

    def at_end(self, verdicts: list[bool | None], held: _Held | None, due: datetime | None,
               state: str, times: Sequence[datetime], numbers: Sequence[int | None]
               ) -> bool | None:
        """The verdict of the last visit, still open when the log ends (settling a held
        episode's earlier visits)."""
        end = self.end
        if held is None:
            return True if due is not None and end > due else None
        if held.since is None:  # still in the episode's state: open
            verdict = True if end > self.held_due(held, times, numbers) else None
            self.settle(verdicts, held, verdict)
            return verdict
        self.settle(verdicts, held, times[held.since] > self.held_due(held, times, numbers))
        own = self.step(state, PLAIN_STEP)
        if own.sla is not None and end > self.entry_due(own, len(times) - 1, times, numbers):
            return True
        return None

    @staticmethod
    def settle(verdicts: list[bool | None], held: _Held, verdict: bool | None) -> None:
        """Give the held episode's earlier visits their verdict."""
        for k in held.members:
            verdicts[k] = verdict

    def entry_due(self, entering: Step, j: int, times: Sequence[datetime],
                  numbers: Sequence[int | None]) -> datetime:
        """When the SLA of a step entered at visit ``j`` falls due, if no pause intervenes."""
        if entering.sla_days is None:
            assert entering.sla is not None
            return self.due_at(times[j], entering.sla)
        number = numbers[j]
        if number is None:
            number = self.day_number(times[j])
        number += entering.sla_days
        return self.closes.get(number) or self.close(number)

    def number(self, j: int, times: Sequence[datetime], numbers: Sequence[int | None]) -> int:
        number = numbers[j]
        return self.day_number(times[j]) if number is None else number

    def held_due(self, held: _Held, times: Sequence[datetime], numbers: Sequence[int | None]
                 ) -> datetime:
        """``cal.due_at(start, sla, pauses)`` of a held episode, by day numbers and shared
        closes of business.

        Business-day SLAs advance as the calendar's: close of business on the
        n-th business day, a day later for each business day begun while
        paused. Anything else, or pauses the calendar would refuse, it does itself.
        """
        entering, pauses = held.step, held.pauses
        if not pauses:
            return self.entry_due(entering, held.start, times, numbers)
        amount = entering.sla_days
        start = times[held.start]
        assert entering.sla is not None
        if amount is None or amount <= 0 or any(times[pe] < times[ps] for ps, pe in pauses):
            return self.due_at(start, entering.sla,
                               [(times[ps], times[pe]) for ps, pe in pauses])
        stops: list[list[int]]  # clipped to the start, merged
        if len(pauses) == 1:  # the usual: one wait for the customer, after the start
            ((ps, pe),) = pauses
            if times[ps] < start:
                ps = held.start
            stops = [] if times[pe] <= times[ps] else [[ps, pe]]
        else:
            at: Any = times.__getitem__
            stops = []
            for ps, pe in sorted(((ps if times[ps] >= start else held.start, pe)
                                  for ps, pe in pauses), key=lambda p: (at(p[0]), at(p[1]))):
                if times[pe] <= times[ps]:
                    continue
                if stops and times[ps] <= times[stops[-1][1]]:
                    if times[pe] > times[stops[-1][1]]:
                        stops[-1][1] = pe
                else:
                    stops.append([ps, pe])
        target = self.number(held.start, times, numbers) + amount
        closes, close = self.closes, self.close
        for ps, pe in stops:
            due = closes.get(target) or close(target)
            if due <= times[ps]:
                return due
            target += self.number(pe, times, numbers) - self.number(ps, times, numbers)
        return closes.get(target) or close(target)
