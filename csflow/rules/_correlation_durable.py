"""The durable-rules half of :class:`csflow.rules.correlation.Correlator`.

durable-rules has no sliding-window aggregate (``count(n)`` is a tumbling
batch, and an n-way join per threshold explodes for n = 20), so the window
itself is kept in Python and the engine holds, per live key, a *tally* fact
``{kind: tally, c, k, n}`` plus a *fired* marker while the key is at or over
its threshold. Two rules per correlation carry the stateful part:

* ``fire-i``: a tally with ``n >= count`` and no fired marker for its key ->
  assert the marker and report the key;
* ``rearm-i``: a fired marker and a tally for its key with ``n < count`` ->
  retract the marker, so the next time the key reaches ``count`` fires again.

The two conditions are disjoint for any one tally, so no ``pri()`` is needed.

Measured limits of durable-rules 2.0.28 that shape this module:

* the engine is process-global when used through ``durable.lang`` (one
  module-level host, rulesets never unregistered, DSL stacks shared by all
  threads). Here each instance builds its own :class:`durable.engine.Ruleset`
  under a unique name from plain JSON, never registers it with a host, and
  deletes it with ``delete_ruleset`` on :meth:`close` (or when collected);
* a ruleset keeps at most 1,024 live session ids (the next raises
  ``MemoryError``), so one session per correlation holds every key's facts,
  joined on the key id, instead of one session per customer;
* a fact no rule matches raises ``MessageNotHandledException`` and is not
  stored; every fact asserted here matches one rule's first condition;
* a fact is identified by the 32-bit FNV-1a hash of its ``id`` (or, without
  one, of its content), and a second live fact with the same hash is
  refused with ``MessageObservedException``. Content hashes collided once
  in about 600,000 tally updates with 10,000 live keys (measured), so every
  fact here carries a counter ``id`` and a refused one is asserted again
  under the next id. Live facts therefore always have distinct hashes and a
  retraction by ``id`` removes exactly the fact meant.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from durable import engine as durable_engine
from durable.engine import MessageNotHandledException, MessageObservedException, Ruleset


class DurableThresholds:
    """Per-key tallies and fired markers for every correlation of one correlator."""

    def __init__(self, counts: Sequence[int]) -> None:
        self._fired: list[tuple[int, int]] = []
        definition: dict[str, Any] = {}
        for index, count in enumerate(counts):
            definition[f"fire-{index}"] = {
                "all": [
                    {"t": {"$and": [{"kind": "tally"}, {"c": index}, {"$gte": {"n": count}}]}},
                    {"m_1$not": {"$and": [{"kind": "fired"}, {"c": index}, {"k": {"t": "k"}}]}},
                ],
                "run": self._fire,
            }
            definition[f"rearm-{index}"] = {
                "all": [
                    {"f": {"$and": [{"kind": "fired"}, {"c": index}]}},
                    {"t": {"$and": [
                        {"kind": "tally"}, {"c": index}, {"k": {"f": "k"}}, {"$lt": {"n": count}},
                    ]}},
                ],
                "run": self._rearm,
            }
        # A unique name keeps two correlators' engine state apart even though
        # the native engine keeps its rulesets in one process-wide table.
        self._ruleset = Ruleset(f"csflow-correlation-{uuid.uuid4().hex}", None, definition)
        self._tallies: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_id = 0
        # durable.engine's own binding of the native module, so no second
        # untyped import is needed.
        self._release = weakref.finalize(
            self, durable_engine.durable_rules_engine.delete_ruleset, self._ruleset._handle
        )

    def _fire(self, c: Any) -> None:
        tally = c.t
        self._fired.append((tally.c, tally.k))
        # durable-rules swallows exceptions raised by actions, so a refused
        # marker must be retried here rather than reported.
        self._with_fresh_id(c.assert_fact, {"kind": "fired", "c": tally.c, "k": tally.k})

    def _rearm(self, c: Any) -> None:
        c.retract_fact(c.f._d)

    def set(self, correlation: int, key: int, n: int) -> bool:
        """Replace the tally of ``key``; True if the engine fired for it.

        A tally of 0 is asserted (so a fired marker is retracted by
        ``rearm``) and then retracted, leaving nothing behind for a key with
        no events in its window.
        """
        slot = (correlation, key)
        old = self._tallies.pop(slot, None)
        if old is not None:
            self._run(self._ruleset.retract_fact, old)
        tally = {"sid": str(correlation), "kind": "tally", "c": correlation, "k": key, "n": n}
        self._run(lambda fact: self._with_fresh_id(self._ruleset.assert_fact, fact), tally)
        if n:
            self._tallies[slot] = tally
        else:
            self._run(self._ruleset.retract_fact, tally)
        fired = bool(self._fired)
        self._fired.clear()
        return fired

    def facts(self, correlation: int) -> list[dict[str, Any]]:
        """The facts the engine holds for one correlation (for tests and diagnostics)."""
        facts: list[dict[str, Any]] = self._ruleset.get_facts(str(correlation))
        return facts

    def close(self) -> None:
        self._release()

    @property
    def closed(self) -> bool:
        return not self._release.alive

    def _with_fresh_id(self, call: Callable[[dict[str, Any]], Any], fact: dict[str, Any]) -> Any:
        """Assert ``fact`` under the next id whose hash no live fact shares."""
        while True:
            fact["id"] = self._next_id
            self._next_id += 1
            try:
                return call(fact)
            except MessageObservedException:
                continue

    def _run(self, call: Callable[[dict[str, Any]], Any], fact: dict[str, Any]) -> None:
        try:
            state = call(fact)
        except MessageNotHandledException:
            return
        errors: list[BaseException] = []

        def done(error: BaseException | None, _state: object) -> None:
            if error is not None:
                errors.append(error)

        # Actions run synchronously here: without a durable Host there is no
        # background dispatcher thread to run them later.
        self._ruleset.do_actions(state, done)
        if errors:
            raise errors[0]
