"""A simulated working week of a service desk, for ``csflow demo`` and for trying csflow.

Complaints arrive through the week on several channels and business areas and
take the paths real ones do: resolved at first contact, investigated and
resolved, escalated when the agent lacks the authority to approve the
remedy (the authority table decides, the engine refuses, the agent escalates
to the level the decision names), reopened when the customer is not
satisfied, withdrawn, or still open at the end of the week. Everything runs
through the public Engine API on a FixedClock, so the history is real.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from csflow.calendars import BusinessCalendar, CalendarRegistry
from csflow.clock import FixedClock
from csflow.engine import Engine
from csflow.errors import GuardFailed
from csflow.model import Actor, Case

LEVELS = ("agent", "team_leader", "manager", "director")
PRODUCTS = {
    "retail": ["kettle", "headphones", "sofa", "washing machine", "laptop"],
    "subscriptions": ["broadband", "streaming plan", "gym membership", "mobile contract"],
    "delivery": ["next-day parcel", "furniture delivery", "click and collect"],
}
TYPES = [
    "product_fault",
    "service_failure",
    "delivery",
    "billing",
    "staff_conduct",
    "policy",
    "data_privacy",
]
WANTS = [
    "a refund",
    "a replacement",
    "an apology",
    "compensation for the wasted time",
    "the repair done properly",
    "the charge reversed",
]
FIRST = ["Ann", "Bilal", "Chen", "Dara", "Ewa", "Femi", "Gita", "Hugo", "Ines", "Jon"]
LAST = ["Smith", "Khan", "Jones", "Okafor", "Nowak", "Brown", "Silva", "Taylor"]

_POLL = timedelta(minutes=15)

# A Step waits, then acts: (hours to wait, trigger, data, role).
Step = tuple[float, str, dict[str, Any], str]


@dataclass(frozen=True)
class DemoResult:
    case_ids: tuple[str, ...]
    fires: int
    refusals: int
    started: datetime
    ended: datetime
    timers_fired: int = 0


def run_demo(
    engine: Engine,
    clock: FixedClock,
    *,
    cases: int = 300,
    weeks: int = 1,
    seed: int = 7,
    calendar: BusinessCalendar | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Simulate ``cases`` complaints arriving over ``weeks`` working weeks from
    ``clock.now()``. Staff act only in the business hours of ``calendar``
    (default: England and Wales, 09:00-17:30), and the simulation stops at the
    close of the last day, so the latest complaints are still open."""
    rng = random.Random(seed)
    # Purchase and regulatory facts come from their own stream, so adding them
    # left every complaint's path (drawn from `rng`) as it was.
    facts = random.Random(seed + 1)
    cal = calendar or CalendarRegistry.bundled()["uk-england-wales"]
    start = clock.now()
    end = cal.add_business_hours(start, timedelta(hours=weeks * 5 * 8.5))
    span = cal.business_time_between(start, end)
    # (when, tie-break, case id ("" before it is opened), the step due then, the rest)
    queue: list[tuple[datetime, int, str, Step | None, Iterator[Step]]] = []
    ids: list[str] = []
    for n in range(cases):
        arrival = cal.add_business_hours(start, span * rng.random())
        heapq.heappush(queue, (arrival, n, "", None, iter(())))
    fires = refusals = 0
    timers_fired = 0
    next_poll = start
    while queue and queue[0][0] <= end:
        when, order, case_id, step, steps = heapq.heappop(queue)
        # A timer worker polls every few minutes, as `csflow worker` would, so
        # SLA warnings and breaches fire during the week, not only at its end.
        while next_poll <= when:
            clock.set(next_poll)
            timers_fired += engine.run_due(limit=1000).fired
            next_poll += _POLL
        clock.set(when)
        if step is None:
            case = _open(engine, rng, facts, order)
            ids.append(case.id)
            case_id, steps = case.id, _path(rng, case)
        else:
            refusals += _act(engine, rng, case_id, step)
        fires += 1
        if progress:
            progress(1)
        following = next(steps, None)
        if following is not None:
            due = cal.add_business_hours(when, timedelta(hours=following[0]))
            heapq.heappush(queue, (due, order, case_id, following, steps))
    clock.set(max(end, clock.now()))
    timers_fired += engine.run_due(limit=10_000).fired
    return DemoResult(tuple(ids), fires, refusals, start, clock.now(), timers_fired)


def _open(engine: Engine, rng: random.Random, facts: random.Random, n: int) -> Case:
    area = rng.choice(list(PRODUCTS))
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    data: dict[str, Any] = {
        "customer": {
            "id": f"cust-{rng.randrange(220):04d}",
            "name": name,
            "email": f"{name.lower().replace(' ', '.')}@example.com",
        },
        "channel": rng.choices(
            ["phone", "email", "web", "in_person", "social"], [35, 30, 20, 10, 5]
        )[0],
        "business_area": area,
        "product": rng.choice(PRODUCTS[area]),
        "description": f"My {rng.choice(PRODUCTS[area])} order went wrong.",
        "desired_outcome": rng.choice(WANTS),
        "amount_claimed": str(Decimal(rng.choice([0, 15, 40, 75, 120, 300, 800, 2500]))),
    }
    today = engine.clock.now().date()
    if area == "retail" and facts.random() < 0.6:
        # Faulty goods: the solution review is offered the remedy the law requires.
        delivered = today - timedelta(days=facts.choice([3, 12, 25, 40, 90, 200]))
        data["purchase"] = {
            "delivered_on": delivered.isoformat(),
            "reported_on": today.isoformat(),
            "price": str(Decimal(facts.choice([25, 80, 240, 650]))),
            "failed_repairs_or_replacements": facts.choice([0, 0, 1]),
        }
    elif area == "subscriptions" and facts.random() < 0.25:
        # Credit and payment plans are regulated: FCA DISP deadlines apply.
        data["regulated"] = {
            "region": facts.choice(["england_wales", "scotland", "northern_ireland"]),
            "kind": facts.choice(["standard", "payment_services"]),
            "received_on": today.isoformat(),
        }
    return engine.start(
        "complaint",
        data,
        actor=Actor(f"agent-{n % 12}", "agent"),
        idempotency_key=f"demo-intake-{n}",
    )


def _classification(rng: random.Random) -> dict[str, Any]:
    return {
        "type": rng.choice(TYPES),
        "severity": rng.choices(["low", "medium", "high", "critical"], [40, 40, 15, 5])[0],
        "vulnerable": rng.random() < 0.08,
        "regulated": rng.random() < 0.1,
        "repeat": rng.random() < 0.12,
    }


def _path(rng: random.Random, case: Case) -> Iterator[Step]:
    """The steps one complaint will take, chosen up front like a scenario."""
    roll = rng.random()
    if roll < 0.28:
        yield (
            0.2,
            "resolve_on_first_contact",
            {
                "classification": _classification(rng),
                "action_taken": "Explained and fixed on the call",
            },
            "agent",
        )
        yield from _confirm(rng, reopen_chance=0.03)
        return
    # A backlog: most complaints are picked up within hours, some wait days
    # (the 1-business-day acknowledgement SLA then warns or breaches).
    pickup = rng.choices([1, 3, 7, 12, 20], [50, 25, 12, 8, 5])[0]
    yield (pickup, "start_investigation", {"classification": _classification(rng)}, "agent")
    if roll < 0.33:
        yield (3, "withdraw", {"withdrawal_reason": "Customer sorted it out themselves"}, "agent")
        return
    if rng.random() < 0.25:
        yield (2, "request_information", {"question": "Can you send a photo of the item?"}, "agent")
        yield (8, "information_received", {"response": "Photo attached"}, "agent")
    if rng.random() < 0.1:
        yield (
            1,
            "refer",
            {
                "referral_reason": "Needs a specialist view",
                "referred_to": rng.choice(["technical", "billing", "supplier"]),
            },
            "agent",
        )
    digging = rng.choices([4, 12, 25, 36], [60, 25, 10, 5])[0]  # 5-business-day SLA
    yield (digging, "record_findings", {"findings": "Order and contact history reviewed"}, "agent")
    yield (
        3,
        "complete_analysis",
        {
            "root_cause": rng.choice(
                [
                    "product_defect",
                    "process_failure",
                    "staff_error",
                    "system_error",
                    "third_party",
                    "communication",
                ]
            ),
            "responsibility": rng.choice(["business", "business", "third_party", "shared"]),
        },
        "agent",
    )
    category = rng.choice(["refund", "compensation", "goodwill"])
    amount = rng.choices([10, 25, 45, 80, 150, 400, 900, 3000], [25, 25, 20, 12, 8, 5, 3, 2])[0]
    yield (
        2,
        "propose_solutions",
        {
            "solutions": [
                {
                    "option": "refund" if category == "refund" else "compensation",
                    "cost": str(amount),
                    "customer_impact": "high",
                },
                {"option": "apology", "cost": "0", "customer_impact": "low"},
            ]
        },
        "agent",
    )
    yield (
        2,
        "approve_solution",
        {
            "agreed_solution": {
                "option": "refund" if category == "refund" else "compensation",
                "category": category,
                "amount": str(amount),
            }
        },
        "agent",
    )
    yield (
        0.5,
        "inform_customer",
        {"message": "We have agreed the following remedy...", "via": "email"},
        "agent",
    )
    yield (4, "complete_action", {"action_taken": f"Paid {amount} GBP"}, "agent")
    if rng.random() < 0.15:
        yield from _confirm(rng, reopen_chance=1.0)
        yield (
            6,
            "record_findings",
            {"findings": "Looked again at the customer's concerns"},
            "team_leader",
        )
        yield (
            2,
            "complete_analysis",
            {"root_cause": "communication", "responsibility": "business"},
            "team_leader",
        )
        yield (
            1,
            "approve_solution",
            {"agreed_solution": {"option": "goodwill", "category": "goodwill", "amount": "20"}},
            "team_leader",
        )
        yield (4, "complete_action", {"action_taken": "Goodwill gesture paid"}, "team_leader")
    if rng.random() < 0.85:
        yield from _confirm(rng, reopen_chance=0.0)


def _confirm(rng: random.Random, reopen_chance: float) -> Iterator[Step]:
    if rng.random() < reopen_chance:
        yield (6, "reopen", {"reopen_reason": "Not happy with the outcome", "csat": 2}, "customer")
    else:
        yield (
            6,
            "confirm_resolved",
            {"csat": rng.choices([5, 4, 3, 2, 1], [45, 30, 12, 8, 5])[0]},
            "customer",
        )


def _act(engine: Engine, rng: random.Random, case_id: str, step: Step) -> int:
    """Fire one step and react as a desk would: escalate when the escalation
    table recommends it, or when the approver lacks the authority (then the
    level the authority table names approves). Returns refusals met."""
    _, trigger, data, role = step
    case = engine.get(case_id)
    actor = Actor(f"{role}-{rng.randrange(4)}", role)
    if trigger != "approve_solution":
        case = engine.fire(case_id, trigger, actor=actor, data=data, expected_version=case.version)
        level = case.data.get("recommended_level")
        if level and case.data.get("handling_level") == "agent" and not case.terminal:
            engine.fire(
                case_id,
                "escalate",
                actor=actor,
                data={
                    "escalation_reason": f"Escalation policy: {case.data.get('priority')} priority",
                    "to_level": level,
                },
            )
        return 0
    try:
        engine.fire(case_id, trigger, actor=actor, data=data, expected_version=case.version)
    except GuardFailed as refused:
        to = str(refused.decision.outputs.get("escalate_to") or "director")
        engine.fire(
            case_id,
            "escalate",
            actor=actor,
            data={
                "escalation_reason": f"{data['agreed_solution']['amount']} is over my authority",
                "to_level": to,
            },
        )
        engine.fire(case_id, trigger, actor=Actor(f"{to}-1", to), data=data)
        return 1
    return 0
