"""Business-calendar arithmetic against the naive loops, measured in one run, as ratios.

    python -m benchmarks.calendars [--quick]

On the bundled ``uk-england-wales`` calendar, with the same random starts for
both sides (2024-2026, so Easter, Christmas and both DST changes are crossed):

* ``add_business_days`` for FCA-style targets (3, 15 and 35 business days)
  vs stepping day by day and asking whether each day is a business day;
* SLA due times for ``8 business hours`` (``due_at``) vs walking minute by
  minute and counting working minutes.

Both sides are checked to agree on every input before anything is timed.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from csflow.calendars import BusinessCalendar, BusinessDuration, CalendarRegistry
from csflow.calendars._reference import NaiveCalendar

T = TypeVar("T")
DAY_TARGETS = (3, 15, 35)
HOURS_TARGET = BusinessDuration.parse("8 business hours")


def rate(fn: Callable[[T], object], inputs: Sequence[T], rounds: int = 3) -> float:
    """Calls per second of ``fn`` over ``inputs`` (best of ``rounds``)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for item in inputs:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return len(inputs) / best


def day_inputs(rng: random.Random, n: int) -> list[tuple[date, int]]:
    first = date(2024, 1, 1).toordinal()
    return [
        (date.fromordinal(first + rng.randrange(3 * 365 - 60)), rng.choice(DAY_TARGETS))
        for _ in range(n)
    ]


def hour_inputs(rng: random.Random, n: int) -> list[datetime]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    return [base + timedelta(minutes=rng.randrange(3 * 365 * 1440 - 10 * 1440)) for _ in range(n)]


def report(label: str, fast: float, naive: float, floor: str) -> None:
    print(
        f"{label:<30} {fast:>10,.0f}/s   {floor} {naive:>8,.0f}/s   ratio {fast / naive:>7,.1f}x"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for CI")
    args = parser.parse_args(argv)
    fast_n, naive_n = (5_000, 100) if args.quick else (100_000, 2_000)
    rng = random.Random(20250417)

    t0 = time.perf_counter()
    cal: BusinessCalendar = CalendarRegistry.bundled()["uk-england-wales"]
    t1 = time.perf_counter()
    cal.is_business_day(date(2025, 1, 1))  # builds the tables
    t2 = time.perf_counter()
    naive = NaiveCalendar(cal)
    print(f"bundled registry loaded in {(t1 - t0) * 1000:.0f} ms; uk-england-wales tables "
          f"({cal.years[0]}-{cal.years[1]}) built on first use in {(t2 - t1) * 1000:.0f} ms")

    # The fast side repeats the naive side's inputs so both see the same mix
    # (a Friday-evening start costs the minute loop far more than a Monday one).
    days = day_inputs(rng, naive_n)
    for d, k in days:
        assert cal.add_business_days(d, k) == naive.add_business_days(d, k), (d, k)
    report(
        "add_business_days (3/15/35)",
        rate(lambda a: cal.add_business_days(*a), days * (fast_n // naive_n)),
        rate(lambda a: naive.add_business_days(*a), days),
        "day-by-day loop",
    )

    starts = hour_inputs(rng, naive_n // 5)
    for s in starts:
        assert cal.due_at(s, HOURS_TARGET) == naive.add_business_minutes(s, 480), s
    report(
        "due_at 8 business hours",
        rate(lambda s: cal.due_at(s, HOURS_TARGET), starts * (fast_n // len(starts))),
        rate(lambda s: naive.add_business_minutes(s, 480), starts, rounds=1),
        "minute loop   ",
    )


if __name__ == "__main__":
    main()
