"""Run in a spawned process by test_concurrency.py: for each case, fire against
another process, both basing their call on the same expected_version."""

from __future__ import annotations

from typing import Any

from csflow import Actor, Engine
from csflow.errors import CsflowError


def contender(url: str, case_ids: list[str], name: str, barrier: Any, results: Any) -> None:
    outcomes: list[str] = []
    try:
        engine = Engine(url)
        for case_id in case_ids:
            version = engine.get(case_id).version
            barrier.wait(60)  # both have read the same version before either fires
            try:
                engine.fire(
                    case_id,
                    "inform_customer",
                    actor=Actor(name, "agent"),
                    data={"message": f"from {name}", "via": "email"},
                    expected_version=version,
                )
                outcomes.append("won")
            except CsflowError as e:
                outcomes.append(type(e).__name__)
        engine.store.close()
    except Exception as e:  # reported to the parent, which fails the test with it
        outcomes.append(f"crashed: {type(e).__name__}: {e}")
    results.put((name, outcomes))
