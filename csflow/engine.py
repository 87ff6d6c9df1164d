"""The Engine: joins workflows, rules, a store and a clock. It owns no I/O itself.

A call is always: load the snapshot, decide everything in memory (role, data,
guard, effects, decisions, next state, event and hash), then one atomic
``store.append``. A refusal raises before anything is written; a lost race
raises :class:`ConcurrencyConflict` from the append, which writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from csflow._canonical import GENESIS, canonical_json, check_json_value, event_hash, seal_pii
from csflow._data import get_path, has_path, merge, nest, split_paths
from csflow._logging import default_logger
from csflow._replay import replay
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
    UnknownDefinition,
    UnknownTrigger,
)
from csflow.model import EMPTY, Actor, Case, Decision, Event
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

POLICIES = Path(__file__).parent / "policies"

if TYPE_CHECKING:
    from csflow.rules import RuleSet


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
    ) -> None:
        self.store: Store = store if isinstance(store, Store) else open_store(store)
        self.clock: Clock = clock or SystemClock()
        self._log = logger if logger is not None else default_logger()
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
        self.rules = self._load_rules(rules, defs)

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
        from csflow.rules import RuleSet

        ruleset = (
            RuleSet.load(POLICIES)
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
            compiled, case, t, actor, data, idempotency_key, compiled.fire(case.state, trigger)
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
        wf = compiled.definition
        now = self.clock.now()
        delta = self._validate(compiled, case, t, data or EMPTY)
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
            if call.optional and not self._inputs_known(call, after):
                continue
            decision = self._decide(call, case, actor, after, now)
            decisions.append(decision)
            for path, output in call.store.items():
                change = nest(path, decision.outputs.get(output))
                delta, after = merge(delta, change), merge(after, change)
        # JSON form ($now, decided Decimals and dates become text) so a case reads
        # the same from every store; the event carries exactly these values.
        delta = orjson.loads(canonical_json(delta))
        after = merge(case.data, delta)
        public, personal = split_paths(delta, wf.pii)
        pii, digests = seal_pii(personal)
        seq = case.version + 1
        event = Event(
            case_id=case.id,
            seq=seq,
            type="start" if seq == 1 else "transition",
            workflow=wf.name,
            workflow_version=wf.version,
            trigger=t.trigger,
            source=None if seq == 1 else case.state,
            dest=dest,
            actor=actor,
            data=public,
            decisions=tuple(decisions),
            occurred_at=now,
            recorded_at=now,
            idempotency_key=idempotency_key,
            prev_hash=case.last_hash,
            hash="",
            pii_digests=digests,
            pii=pii,
        )
        event = _with_hash(event)
        snapshot = Case(
            id=case.id,
            workflow=wf.name,
            workflow_version=wf.version,
            state=dest,
            data=after,
            version=seq,
            created_at=now if seq == 1 else case.created_at,
            updated_at=now,
            last_hash=event.hash,
            terminal=dest in wf.terminal_states,
        )
        try:
            self.store.append(snapshot, [event], case.version)
        except CsflowError:
            # A concurrent retry with the same key may have won the race: give its result.
            if idempotency_key is not None:
                first = self._idempotent_result(idempotency_key, case.id, t.trigger)
                if first is not None:
                    return first
            raise
        self._log.info(
            "csflow.fired",
            case_id=case.id,
            workflow=wf.name,
            trigger=t.trigger,
            source=event.source,
            dest=dest,
            seq=seq,
            actor=actor.id,
            role=actor.role,
        )
        return snapshot

    @staticmethod
    def _validate(
        compiled: CompiledWorkflow, case: Case, t: TransitionDef, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        model = compiled.data_models[t.trigger]
        if model is None:
            if data:
                raise InvalidData(
                    case.id,
                    case.state,
                    t.trigger,
                    dict.fromkeys(data, "this trigger takes no data"),
                )
            return {}
        try:
            validated = model.model_validate(data)
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
        out = validated.model_dump(mode="json", exclude_unset=True)
        problem = check_json_value(out)
        if problem:
            raise InvalidData(case.id, case.state, t.trigger, {"data": problem})
        return out

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


def _meets(decision: Decision, expect: Mapping[str, Any]) -> bool:
    return all(decision.outputs.get(k) == v for k, v in expect.items())


def _with_hash(event: Event) -> Event:
    return replace(event, hash=event_hash(event))


__all__: Sequence[str] = ["Allowed", "Engine"]
