"""Correlation throughput: the durable-rules Correlator beside the plain-Python reference.

Feeds the same synthetic stream of new complaints (customers, categories and
products drawn with a long tail, one year of arrivals in time order) through
the bundled ``policies/complaint/correlation.yaml`` with both correlators,
checks that they raise exactly the same signals, and prints events/s for
each with the durable-rules figure as a ratio of the reference.

    python -m benchmarks.correlation            # 100,000 events, 10,000 customers
    python -m benchmarks.correlation --quick    # 10,000 events, 1,000 customers
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import csflow
from csflow.rules.correlation import (
    CorrelationEvent,
    CorrelationSpec,
    Correlator,
    ReferenceCorrelator,
    Signal,
    load_correlations,
)

SPEC = Path(csflow.__file__).parent / "policies" / "complaint" / "correlation.yaml"
CATEGORIES = [
    "product fault", "service failure", "delivery", "billing", "staff conduct", "policy",
    "data/privacy",
]


def stream(events: int, customers: int, seed: int = 20240301) -> list[CorrelationEvent]:
    """``events`` new complaints over one year; a few categories and products get most of them."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    year = timedelta(days=365).total_seconds()
    offsets = sorted(rng.uniform(0, year) for _ in range(events))
    weights = [1 / (rank + 1) for rank in range(len(CATEGORIES))]
    return [
        CorrelationEvent(
            f"case-{i}", start + timedelta(seconds=offset),
            {
                "customer": {"id": f"cust-{rng.randrange(customers)}"},
                "category": rng.choices(CATEGORIES, weights)[0],
                "product": f"sku-{int(rng.paretovariate(1.5) * 3) % 400}",
            },
        )
        for i, offset in enumerate(offsets)
    ]


def timed(
    cls: type[Correlator] | type[ReferenceCorrelator], spec: CorrelationSpec,
    events: list[CorrelationEvent],
) -> tuple[float, list[list[Signal]], int]:
    with cls(spec) as correlator:
        began = time.perf_counter()
        signals = [correlator.observe(e) for e in events]
        elapsed = time.perf_counter() - began
        live = correlator.live
    return elapsed, signals, live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events (a few seconds)")
    args = parser.parse_args()
    n, customers = (10_000, 1_000) if args.quick else (100_000, 10_000)
    spec = load_correlations(SPEC)
    events = stream(n, customers)
    distinct = len({e.get("customer.id") for e in events})
    print(f"{n:,} events, {distinct:,} distinct customers, rules: {SPEC.name}")

    ref_s, ref_signals, ref_live = timed(ReferenceCorrelator, spec, events)
    dur_s, dur_signals, dur_live = timed(Correlator, spec, events)
    if dur_signals != ref_signals or dur_live != ref_live:
        raise SystemExit("durable-rules and the reference disagree: this is a bug")
    raised = sum(len(s) for s in ref_signals)
    print(f"signals raised (identical in both): {raised:,}; events held at the end: {ref_live:,}")
    ref_rate, dur_rate = n / ref_s, n / dur_s
    print(f"{'plain-Python reference':<26}{ref_rate:>12,.0f} events/s   1.00x")
    print(f"{'durable-rules Correlator':<26}{dur_rate:>12,.0f} events/s   "
          f"{dur_rate / ref_rate:.3f}x of reference")


if __name__ == "__main__":
    main()
