"""The Engine: joins workflows, rules, a store and a clock. It owns no I/O itself.

A call is always: load the snapshot, decide everything in memory (role, data,
guard, effects, decisions, next state, event and hash), then one atomic
``store.append``. A refusal raises before anything is written; a lost race
raises :class:`ConcurrencyConflict` from the append, which writes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson
from pydantic import ValidationError

from csflow._canonical import GENESIS, canonical_json, event_hash, seal_pii
from csflow._data import get_path, has_path, merge, nest, split_paths
from csflow._logging import default_logger
from csflow._outbox import OutboxMessage
from csflow._replay import replay
from csflow._timers import (
    NO_CHANGES,
    NO_PLAN,
    SYSTEM,
    Timer,
    TimerChanges,
    TimerPlan,
    plan_fire,
    plan_transition,
)
from csflow._timers import affected as timers_affected
from csflow.calendars import CalendarRegistry
from csflow.clock import Clock, SystemClock
from csflow.errors import (
    ConcurrencyConflict,
    CsflowError,
    DefinitionError,
    GuardFailed,
    IdempotencyKeyReused,
    InvalidData,
    NotAllowedInState,
    Problem,
    RoleNotPermitted,
    TransitionRefused,
    UnknownDefinition,
    UnknownTrigger,
)
from csflow.model import EMPTY, Actor, Case, Decision, Event
from csflow.rules import RuleSet, bundled_rules
from csflow.stores import Store, open_store
from csflow.workflows import (
    CompiledWorkflow,
    DecisionCall,
    Ref,
    TransitionDef,
    WorkflowDef,
    bundled_workflows,
    compile_workflow,
    load_workflow,
)

# A timer firing races user fires on the same case; each conflict means the
# case moved, so a few fresh attempts settle it.
_TIMER_RETRIES = 5


@dataclass(frozen=True)
class Allowed:
    """What an actor may fire on a case now, and why not the rest.

    ``notes`` explains triggers whose guard can only be judged with the data
    sent when firing (e.g. an amount to approve).
    """

    case_id: str
    state: str
    actor: Actor
    triggers: tuple[str, ...]
    refused: Mapping[str, str]
    notes: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, trigger: object) -> bool:
        return trigger in self.triggers


class Engine:
    """Runs cases of the given workflows against a store.

    ``store`` is a :class:`Store`, or anything :func:`csflow.open_store`
    takes (a URL such as ``"sqlite:///desk.db"``, a SQLAlchemy Engine or
    Connection). ``workflows`` defaults to the bundled ones; ``rules`` to the
    bundled policy packs, and is only needed when a workflow uses decisions.
    """

    def __init__(
        self,
        store: Store | str | Any,
        *,
        workflows: Iterable[WorkflowDef | str | Path] | None = None,
        rules: RuleSet | str | Path | None = None,
        clock: Clock | None = None,
        logger: Any = None,
        new_id: Callable[[], str] | None = None,
        calendars: CalendarRegistry | None = None,
    ) -> None:
        self.store: Store = store if isinstance(store, Store) else open_store(store)
        self.clock: Clock = clock or SystemClock()
        self.calendars = calendars or CalendarRegistry.bundled()
        # Names this process's timer leases, for whoever inspects a stuck one.
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        self._log = logger if logger is not None else default_logger()
        self._log_enabled = getattr(self._log, "isEnabledFor", None)
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        defs = [
            w if isinstance(w, WorkflowDef) else load_workflow(w)
            for w in (bundled_workflows() if workflows is None else workflows)
        ]
        self._compiled: dict[tuple[str, int], CompiledWorkflow] = {}
        self._latest: dict[str, int] = {}
        for wf in defs:
            if wf.key in self._compiled:
                raise DefinitionError.at(
                    f"workflow {wf.name!r} version {wf.version} is given twice", wf.file
                )
            self._compiled[wf.key] = compile_workflow(wf)
            self._latest[wf.name] = max(self._latest.get(wf.name, 0), wf.version)
        self._check_migrations(defs)
        self.rules = self._load_rules(rules, defs)
        if self.rules is not None:
            # Content-addressed and idempotent: audit can re-check every recorded
            # decision under exactly the rules then in force, without today's files.
            self.store.save_ruleset(self.rules.version, self.rules.files)

    # -- set-up -------------------------------------------------------------

    @staticmethod
    def _load_rules(rules: RuleSet | str | Path | None, defs: list[WorkflowDef]) -> RuleSet | None:
        calls = [
            (wf, c)
            for wf in defs
            for t in (wf.start, *wf.transitions)
            for c in ((t.guard,) if t.guard else ()) + t.decide
        ]
        if rules is None and not calls:
            return None
        ruleset = (
            bundled_rules()
            if rules is None
            else (rules if isinstance(rules, RuleSet) else RuleSet.load(rules))
        )
        problems = [
            Problem(
                f"decision {c.decision!r} is not in the ruleset; known: {', '.join(ruleset.names)}",
                wf.file,
                c.line,
            )
            for wf, c in calls
            if c.decision not in ruleset.names
        ]
        if problems:
            raise DefinitionError(problems)
        return ruleset

    def _check_migrations(self, defs: list[WorkflowDef]) -> None:
        """Every state of a loaded older version must land on a state of the newer one."""
        problems = []
        for wf in defs:
            for m in wf.migrations:
                old = self._compiled.get((wf.name, m.from_version))
                if old is None:
                    continue
                for state in old.definition.states:
                    if m.states.get(state, state) not in wf.states:
                        problems.append(
                            Problem(
                                f"migration from version {m.from_version}: state {state!r} "
                                f"is not in version {wf.version}; map it under 'states:'",
                                wf.file,
                                m.line,
                            )
                        )
        if problems:
            raise DefinitionError(problems)

    def workflow(self, name: str, version: int | None = None) -> WorkflowDef:
        return self._compiled_for(name, version).definition

    def _compiled_for(self, name: str, version: int | None = None) -> CompiledWorkflow:
        key = (name, version if version is not None else self._latest.get(name, 0))
        try:
            return self._compiled[key]
        except KeyError:
            raise UnknownDefinition(
                "workflow", name, [n for n, _ in self._compiled], version
            ) from None

    # -- reading ------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        return self.store.load_case(case_id)

    def history(self, case_id: str) -> list[Event]:
        self.store.load_case(case_id)  # CaseNotFound rather than an empty history
        return self.store.load_events(case_id)

    def allowed(self, case_id: str, actor: Actor) -> Allowed:
        case = self.store.load_case(case_id)
        compiled = self._compiled_for(case.workflow, case.workflow_version)
        ok: list[str] = []
        refused: dict[str, str] = {}
        notes: dict[str, str] = {}
        now = self.clock.now()
        for trigger in sorted(compiled.triggers):
            try:
                t = self._transition(compiled, case, trigger, actor)
            except CsflowError as exc:
                refused[trigger] = getattr(exc, "reason", str(exc))
                continue
            if t.guard is not None:
                if not self._inputs_known(t.guard, case.data):
                    notes[trigger] = (
                        f"guard {t.guard.decision!r} is checked with the data sent when firing"
                    )
                else:
                    decision = self._decide(t.guard, case, actor, case.data, now)
                    if not _meets(decision, t.guard.expect):
                        refused[trigger] = str(
                            GuardFailed(
                                case.id, case.state, trigger, decision, t.guard.expect
                            ).reason
                        )
                        continue
            ok.append(trigger)
        return Allowed(case.id, case.state, actor, tuple(ok), refused, notes)

    # -- writing ------------------------------------------------------------

    def start(
        self,
        workflow: str,
        data: Mapping[str, Any] | None = None,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        case_id: str | None = None,
        version: int | None = None,
    ) -> Case:
        """Open a new case. With an ``idempotency_key`` already used to start a
        case, returns that case as it was then and writes nothing."""
        if idempotency_key is not None:
            first = self._idempotent_result(idempotency_key, None, "start")
            if first is not None:
                return first
        compiled = self._compiled_for(workflow, version)
        wf = compiled.definition
        cid = case_id if case_id is not None else self._new_id()
        t = wf.start
        blank = Case(
            cid,
            wf.name,
            wf.version,
            wf.initial,
            EMPTY,
            0,
            self.clock.now(),
            self.clock.now(),
            GENESIS,
        )
        self._check_role(wf, t, blank, actor)
        return self._commit(compiled, blank, t, actor, data, idempotency_key, wf.initial)

    def fire(
        self,
        case_id: str,
        trigger: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Fire ``trigger`` on a case; returns the case after it.

        Raises a :class:`TransitionRefused` subclass (nothing written) when the
        trigger, state, role, data or guard does not allow it, and
        :class:`ConcurrencyConflict` when ``expected_version`` is stale or
        another writer got there first.
        """
        if idempotency_key is not None:
            first = self._idempotent_result(idempotency_key, case_id, trigger)
            if first is not None:
                return first
        case = self.store.load_case(case_id)
        if expected_version is not None and expected_version != case.version:
            raise ConcurrencyConflict(case_id, expected_version, case.version)
        compiled = self._compiled_for(case.workflow, case.workflow_version)
        t = self._transition(compiled, case, trigger, actor)
        return self._commit(
            compiled, case, t, actor, data, idempotency_key, compiled.dest(case.state, trigger)
        )

    # -- the steps of a call ------------------------------------------------

    def _transition(
        self, compiled: CompiledWorkflow, case: Case, trigger: str, actor: Actor
    ) -> TransitionDef:
        t = compiled.find(case.state, trigger)
        if t is None:
            if trigger not in compiled.triggers:
                raise UnknownTrigger(
                    case.id,
                    case.state,
                    trigger,
                    f"workflow {case.workflow!r} has no such trigger; known: "
                    f"{', '.join(sorted(compiled.triggers))}",
                )
            from_states = sorted({s for (s, tr) in compiled.transitions if tr == trigger})
            why = (
                "the case is closed"
                if case.terminal
                else f"it can only fire from {', '.join(from_states)}"
            )
            raise NotAllowedInState(case.id, case.state, trigger, why)
        self._check_role(compiled.definition, t, case, actor)
        return t

    @staticmethod
    def _check_role(wf: WorkflowDef, t: TransitionDef, case: Case, actor: Actor) -> None:
        roles = t.roles or wf.roles
        if roles and actor.role not in roles:
            raise RoleNotPermitted(case.id, case.state, t.trigger, actor.role, roles)

    def _commit(
        self,
        compiled: CompiledWorkflow,
        case: Case,
        t: TransitionDef,
        actor: Actor,
        data: Mapping[str, Any] | None,
        idempotency_key: str | None,
        dest: str,
    ) -> Case:
        batch = _Batch(case, self.clock.now())
        self._step(batch, compiled, t, actor, data, idempotency_key, dest)
        try:
            return self._write(batch)
        except CsflowError:
            # A concurrent retry with the same key may have won the race: give its result.
            if idempotency_key is not None:
                first = self._idempotent_result(idempotency_key, case.id, t.trigger)
                if first is not None:
                    return first
            raise

    def _step(
        self,
        batch: _Batch,
        compiled: CompiledWorkflow,
        t: TransitionDef,
        actor: Actor,
        data: Mapping[str, Any] | None,
        idempotency_key: str | None,
        dest: str,
    ) -> None:
        """Add one transition to ``batch``: everything is decided before ``batch`` changes,
        so a refusal leaves it as it was."""
        case, wf = batch.case, compiled.definition
        delta = self._validate(compiled, case, t, data or EMPTY)
        decisions: tuple[Decision, ...] = ()
        if t.guard is not None or t.set or t.decide:
            delta, decisions = self._effects(batch, t, actor, delta)
        after = merge(case.data, delta)
        plan = self._plan_timers(batch, wf, t.trigger, dest, delta, after)
        self._apply_plan(batch, wf, plan)
        event = batch.add(
            wf,
            type="start" if case.version == 0 else "transition",
            trigger=t.trigger,
            dest=dest,
            actor=actor,
            delta=delta,
            decisions=decisions,
            key=idempotency_key,
            # Timer milestones recorded just now changed the case: merge again then.
            after=after if batch.case is case else None,
        )
        for i, emit in enumerate(t.emit):
            payload = {
                k: self._resolve(v, case, actor, after, batch.now) for k, v in emit.data.items()
            }
            batch.message(wf, event, i, emit.message, emit.to, payload)

    def _effects(
        self, batch: _Batch, t: TransitionDef, actor: Actor, delta: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[Decision, ...]]:
        """Run a transition's guard, ``set`` and ``decide`` effects on the validated
        ``delta``: returns the delta with their outputs (in JSON form) and the
        decisions taken. Raises :class:`GuardFailed` when the guard says no."""
        case, now = batch.case, batch.now
        after = merge(case.data, delta)
        decisions: list[Decision] = []
        if t.guard is not None:
            decision = self._decide(t.guard, case, actor, after, now)
            decisions.append(decision)
            if not _meets(decision, t.guard.expect):
                assert self.rules is not None
                raise GuardFailed(
                    case.id,
                    case.state,
                    t.trigger,
                    self.rules.explain(decision.name, decision.inputs),
                    t.guard.expect,
                )
        for path, value in t.set:
            change = nest(path, self._resolve(value, case, actor, after, now))
            delta, after = merge(delta, change), merge(after, change)
        for call in t.decide:
            if call.optional and not self._required_known(call, after):
                continue
            decision = self._decide(call, case, actor, after, now)
            decisions.append(decision)
            for path, output in call.store.items():
                change = nest(path, decision.outputs.get(output))
                delta, after = merge(delta, change), merge(after, change)
        # JSON form ($now, decided Decimals and dates become text) so a case reads
        # the same from every store; the event carries exactly these values.
        # (Validated data is in JSON form already: see _validate.)
        return orjson.loads(canonical_json(delta)), tuple(decisions)

    def _plan_timers(
        self,
        batch: _Batch,
        wf: WorkflowDef,
        trigger: str,
        dest: str,
        delta: Mapping[str, Any],
        after: Mapping[str, Any],
    ) -> TimerPlan:
        case = batch.case
        new = case.version == 0
        if not timers_affected(wf, case.state, dest, delta, new_case=new):
            return NO_PLAN
        try:
            return plan_transition(
                wf,
                self.calendars,
                case_id=case.id,
                state=None if new else case.state,
                dest=dest,
                data_after=after,
                timers=self._timers_of(batch),
                now=batch.now,
                next_seq=case.version + 1,
            )
        except ValueError as exc:  # a deadline field that holds no date
            raise InvalidData(case.id, case.state, trigger, {"data": str(exc)}) from None

    def _timers_of(self, batch: _Batch) -> list[Timer]:
        """The case's timers as of the batch so far (read from the store once)."""
        if batch.timers is None:
            batch.timers = {} if batch.base.version == 0 else {
                t.id: t for t in self.store.load_timers(batch.base.id)
            }
            batch.loaded = dict(batch.timers)
        return list(batch.timers.values())

    def _apply_plan(self, batch: _Batch, wf: WorkflowDef, plan: TimerPlan) -> None:
        if plan is NO_PLAN:  # most fires: no clock moves
            return
        if plan.record or plan.changes:
            self._timers_of(batch)
        for m in plan.record:
            event = batch.add(
                wf,
                type="timer",
                trigger=m.trigger,
                dest=batch.case.state,
                actor=SYSTEM,
                delta=orjson.loads(canonical_json(m.delta(batch.now))),
                key=m.timer.key,
            )
            if m.message is not None:
                t = m.timer
                due = None if t.due_at is None else t.due_at.isoformat()
                info = {"kind": t.kind, "name": t.name, "due_at": due, "action": t.action}
                batch.message(wf, event, 0, m.message, "team", info)
        assert batch.timers is not None or not plan.changes
        if batch.timers is not None:
            for timer_id in plan.changes.drop:
                batch.timers.pop(timer_id, None)
            for timer in plan.changes.put:
                batch.timers[timer.id] = timer

    def _write(self, batch: _Batch) -> Case:
        self.store.append(
            batch.case,
            batch.events,
            batch.base.version,
            timers=batch.timer_changes(),
            outbox=batch.outbox,
        )
        # Formatting a log line costs more than deciding a transition, so skip
        # it outright when the host has INFO off (structlog's stdlib loggers
        # answer isEnabledFor; other loggers are always asked).
        if self._log_enabled is not None and not self._log_enabled(logging.INFO):
            return batch.case
        for e in batch.events:
            self._log.info(
                "csflow.fired",
                case_id=e.case_id,
                workflow=e.workflow,
                trigger=e.trigger,
                source=e.source,
                dest=e.dest,
                seq=e.seq,
                actor=None if e.actor is None else e.actor.id,
                role=None if e.actor is None else e.actor.role,
            )
        return batch.case

    # -- timers ---------------------------------------------------------------

    def timers(self, case_id: str) -> list[Timer]:
        """The case's running and paused SLA and deadline timers, soonest first."""
        self.store.load_case(case_id)
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(self.store.load_timers(case_id), key=lambda t: (t.due_at or far, t.id))

    def run_due(
        self,
        *,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=5),
        worker: str | None = None,
    ) -> DueReport:
        """Fire the timers due now, each exactly once however many workers run this.

        Claims up to ``limit`` due timers with a ``lease`` (a worker that dies
        leaves them to be claimed again once it ends) and fires each through
        :meth:`fire_timer`. Errors are counted and logged, not raised, so one
        bad case cannot stop a worker; such a timer is retried after its lease.
        """
        now = self.clock.now()
        claimed = self.store.claim_timers(
            now, limit=limit, lease_until=now + lease, worker=worker or self._worker
        )
        fired = skipped = 0
        failed: list[str] = []
        for timer in claimed:
            try:
                done = self.fire_timer(timer)
            except CsflowError as exc:
                failed.append(f"{timer.id}: {exc}")
                self._log.warning("csflow.timer_failed", timer=timer.id, error=str(exc))
                continue
            fired, skipped = (fired + 1, skipped) if done else (fired, skipped + 1)
        return DueReport(len(claimed), fired, skipped, tuple(failed))

    def fire_timer(self, timer: Timer) -> Case | None:
        """Record a due timer's milestone (and run its breach action) in one append.

        Returns the case after it, or None when the timer was already recorded
        or no longer applies (its clock stopped, paused or moved since it was
        read). The event's idempotency key is ``timer:<id>``, so however often
        a timer is fired, by however many workers, it is recorded once. A
        concurrent change to the case is retried a few times.
        """
        for attempt in range(_TIMER_RETRIES):
            # No key lookup first: the append that records a timer also deletes
            # it, so a recorded timer is simply not found below.
            case = self.store.load_case(timer.case_id)
            batch = _Batch(case, self.clock.now())
            plan = plan_fire(timer, self._timers_of(batch), batch.now)
            if plan is None:
                return None
            wf = self.workflow(case.workflow, case.workflow_version)
            self._apply_plan(batch, wf, plan)
            action = plan.record[0].fires
            if action is not None:
                self._breach_action(batch, wf, action, timer)
            try:
                return self._write(batch)
            except ConcurrencyConflict:
                if attempt == _TIMER_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def _breach_action(self, batch: _Batch, wf: WorkflowDef, trigger: str, timer: Timer) -> None:
        """Fire the trigger a breach names, as ``system``, after the breach event."""
        compiled = self._compiled_for(wf.name, wf.version)
        case = batch.case
        try:
            t = self._transition(compiled, case, trigger, SYSTEM)
            dest = compiled.dest(case.state, trigger)
            self._step(batch, compiled, t, SYSTEM, None, f"{timer.key}:{trigger}", dest)
        except TransitionRefused as exc:
            # The breach itself stays recorded; the refusal says why nothing followed.
            self._log.warning("csflow.breach_action_refused", timer=timer.id, reason=str(exc))

    # -- workflow versions -----------------------------------------------------

    def migrate(
        self,
        case_id: str,
        *,
        actor: Actor,
        version: int | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Move a case onto another version of its workflow (default: the latest).

        Cases stay on the version they started with until migrated; the target
        version must declare ``migrations: [{from: N, states: {old: new}}]``.
        Recorded as an event of type ``migration`` (trigger ``migrate``) whose
        source is the old state and dest the new one, and clocks move as for
        a transition between them.
        """
        if idempotency_key is not None:
            first = self._idempotent_result(idempotency_key, case_id, "migrate")
            if first is not None:
                return first
        case = self.store.load_case(case_id)
        if expected_version is not None and expected_version != case.version:
            raise ConcurrencyConflict(case_id, expected_version, case.version)
        target = self.workflow(case.workflow, version)
        if target.version == case.workflow_version:
            raise NotAllowedInState(
                case.id, case.state, "migrate", f"it is already on version {target.version}"
            )
        mapping = target.migration_from(case.workflow_version)
        if mapping is None:
            raise NotAllowedInState(
                case.id,
                case.state,
                "migrate",
                f"workflow {target.name!r} version {target.version} declares no migration "
                f"from version {case.workflow_version}; add one under 'migrations:'",
            )
        dest = mapping.states.get(case.state, case.state)
        batch = _Batch(case, self.clock.now())
        plan = self._plan_timers(batch, target, "migrate", dest, EMPTY, case.data)
        self._apply_plan(batch, target, plan)
        batch.add(
            target,
            type="migration",
            trigger="migrate",
            dest=dest,
            actor=actor,
            delta=EMPTY,
            key=idempotency_key,
        )
        try:
            return self._write(batch)
        except CsflowError:
            if idempotency_key is not None:
                first = self._idempotent_result(idempotency_key, case.id, "migrate")
                if first is not None:
                    return first
            raise

    @staticmethod
    def _validate(
        compiled: CompiledWorkflow, case: Case, t: TransitionDef, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        validate = compiled.validators[t.trigger]
        if validate is None:
            if data:
                raise InvalidData(
                    case.id,
                    case.state,
                    t.trigger,
                    dict.fromkeys(data, "this trigger takes no data"),
                )
            return {}
        try:
            # JSON form, and storable as is: declared fields are typed and bounded
            # (no NaN, no integers beyond 64 bits; see workflows/_fields.py).
            return validate(data)
        except ValidationError as exc:
            errors = {
                ".".join(str(p) for p in err["loc"]) or "data": (
                    "unknown field; check its spelling"
                    if err["type"] == "extra_forbidden"
                    else err["msg"]
                )
                for err in exc.errors(include_url=False)
            }
            raise InvalidData(case.id, case.state, t.trigger, errors) from None
        except TypeError as exc:
            raise InvalidData(case.id, case.state, t.trigger, {"data": str(exc)}) from None

    def _decide(
        self, call: DecisionCall, case: Case, actor: Actor, data: Mapping[str, Any], now: Any
    ) -> Decision:
        assert self.rules is not None  # checked in __init__ for every call in a workflow
        if call.inputs:
            facts = {k: self._resolve(v, case, actor, data, now) for k, v in call.inputs.items()}
        else:
            facts = {**data, "role": actor.role}
        return self.rules.decide(call.decision, facts)

    @staticmethod
    def _resolve(value: Any, case: Case, actor: Actor, data: Mapping[str, Any], now: Any) -> Any:
        if not isinstance(value, Ref):
            return value
        root, rest = value.path[0], value.path[1:]
        if root == "data":
            return get_path(data, rest)
        if root == "actor":
            return actor.id if rest == ("id",) else actor.role
        if root == "case":
            return case.id if rest == ("id",) else case.state
        return now  # "$now": the loader accepts no other roots

    def _required_known(self, call: DecisionCall, data: Mapping[str, Any]) -> bool:
        """Whether an optional decision applies: the $data facts its table requires
        are present. Its optional inputs (a repair date, say) may still be missing."""
        assert self.rules is not None
        required = {i.name for i in self.rules.table(call.decision).inputs if not i.optional}
        return all(
            k not in required or not isinstance(v, Ref) or v.path[0] != "data"
            or has_path(data, v.path[1:])
            for k, v in call.inputs.items()
        )

    @staticmethod
    def _inputs_known(call: DecisionCall, data: Mapping[str, Any]) -> bool:
        return all(
            not isinstance(v, Ref) or v.path[0] != "data" or has_path(data, v.path[1:])
            for v in call.inputs.values()
        )

    def _idempotent_result(self, key: str, case_id: str | None, trigger: str) -> Case | None:
        found = self.store.find_idempotency_key(key)
        if found is None:
            return None
        cid, seq = found
        events = self.store.load_events(cid, 1, seq)
        last = events[-1]
        if (case_id is not None and cid != case_id) or last.trigger != trigger:
            raise IdempotencyKeyReused(key, f"{last.trigger!r} on case {cid}")
        return replay(self.workflow(last.workflow, last.workflow_version), events)


class _Batch:
    """What one append will write, built up step by step from a case as loaded.

    ``case`` is the case after the events added so far. ``timers`` is the
    case's timers as the batch has changed them (None until something needs
    them, so most fires never read them); ``loaded`` is how they were read,
    and the difference is what the append writes.
    """

    __slots__ = ("base", "case", "events", "loaded", "now", "outbox", "timers")

    def __init__(self, case: Case, now: datetime) -> None:
        self.base = self.case = case
        self.now = now
        self.events: list[Event] = []
        self.outbox: list[OutboxMessage] = []
        self.timers: dict[str, Timer] | None = None
        self.loaded: dict[str, Timer] = {}

    def add(
        self,
        wf: WorkflowDef,
        *,
        type: str,
        trigger: str,
        dest: str,
        actor: Actor,
        delta: Mapping[str, Any],
        decisions: tuple[Decision, ...] = (),
        key: str | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> Event:
        """Chain one more event (``delta`` in JSON form) and move ``case`` past it.

        ``after`` is ``case.data`` merged with ``delta`` when the caller has it already.
        """
        case, now = self.case, self.now
        pii: dict[str, Any] = {}
        digests: dict[str, str] = {}
        public = delta
        if not wf.pii_roots.isdisjoint(delta):
            public, personal = split_paths(delta, wf.pii)
            pii, digests = seal_pii(personal)
        seq = case.version + 1
        event = Event(
            case_id=case.id,
            seq=seq,
            type=type,
            workflow=wf.name,
            workflow_version=wf.version,
            trigger=trigger,
            source=None if seq == 1 else case.state,
            dest=dest,
            actor=actor,
            data=public,
            decisions=decisions,
            occurred_at=now,
            recorded_at=now,
            idempotency_key=key,
            prev_hash=case.last_hash,
            hash="",
            pii_digests=digests,
            pii=pii,
        )
        # The hash covers every other field, so it is sealed on a copy (a struct
        # copy is a fraction of a microsecond).
        event = msgspec.structs.replace(event, hash=event_hash(event))
        self.events.append(event)
        self.case = Case(
            id=case.id,
            workflow=wf.name,
            workflow_version=wf.version,
            state=dest,
            data=merge(case.data, delta) if after is None else after,
            version=seq,
            created_at=now if seq == 1 else case.created_at,
            updated_at=now,
            last_hash=event.hash,
            terminal=dest in wf.terminal_states,
        )
        return event

    def message(
        self, wf: WorkflowDef, event: Event, index: int, name: str, to: str,
        data: Mapping[str, Any],
    ) -> None:
        """An outbox message caused by ``event``; its id ``case:seq:index`` never changes."""
        payload = orjson.loads(
            canonical_json(
                {
                    "message": name,
                    "to": to,
                    "case_id": event.case_id,
                    "workflow": wf.name,
                    "trigger": event.trigger,
                    "state": event.dest,
                    "data": data,
                }
            )
        )
        self.outbox.append(
            OutboxMessage(
                id=f"{event.case_id}:{event.seq}:{index}",
                case_id=event.case_id,
                seq=event.seq,
                message=name,
                to=to,
                payload=payload,
                created_at=self.now,
            )
        )

    def timer_changes(self) -> TimerChanges:
        if self.timers is None:
            return NO_CHANGES
        put = tuple(t for i, t in self.timers.items() if self.loaded.get(i) != t)
        drop = tuple(i for i in self.loaded if i not in self.timers)
        return TimerChanges(put, drop)


@dataclass(frozen=True)
class DueReport:
    """What one :meth:`Engine.run_due` pass did: timers claimed, fired, no longer
    applicable (stopped or moved since), and failed (retried after their lease)."""

    claimed: int
    fired: int
    skipped: int
    failed: tuple[str, ...] = ()


def _meets(decision: Decision, expect: Mapping[str, Any]) -> bool:
    return all(decision.outputs.get(k) == v for k, v in expect.items())


__all__: Sequence[str] = ["Allowed", "DueReport", "Engine"]
