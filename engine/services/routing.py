"""Route orders: build the sourcing instance from the database, solve, and commit the plan atomically.

The decision is made outside any write transaction (a read-only snapshot, then the solver), and
committed by `CommitRouting`, which reserves every line with conditional updates and takes node pick
capacity: if stock or capacity went in the meantime the commit fails as a whole and the router decides
again on fresh data, at most `max_attempts` times, then sends the order to exception with the reasons.
Nothing is oversold (the reservation is the only write that matters and it is conditional) and no line
is dropped (a plan covers every open unit or the order goes to exception).

Every attempt is stored as a `RoutingDecision`: the plan, its explanation (nodes considered, cost
breakdown, best alternative per line, binding constraints, policy version) and, in shadow mode, what the
fixed-priority and nearest-with-stock rules would have done and cost on the same instance.

Mapping from the database to a `RoutingInstance`:
- lines: open units of every line (quantity - shipped - cancelled); weight and hazmat from the SKU.
- nodes: active nodes; `capacity_left` = daily pick capacity - units committed today (node local day, the
  `node_day_usage` counter); `days_to_ship` = carrier delivery days until the node's ship date (today
  before its local cutoff on a pickup day, else the next pickup day: the delivery promise's calendar,
  `engine.routing.promise.PromiseCalendar`); handling cost per shipment from the node.
- stock: what a reservation by this channel could take now (`StockBalance.available_for(priority)`: on
  hand - reserved - safety stock, and protected units for non-priority channels). A channel cap on a SKU
  is a total across nodes; a cap too small for the order is an infeasibility reason before solving.
- services: the lanes from each node to the destination's ZIP3 with their rate card for the lane's zone
  and their on-time probability. A lane without a rate card is left out and named in the explanation.
- deadline: carrier delivery days from today to the order's requested delivery date, else the policy's
  default (in the same unit: transit times count delivery days, so ship day + transit <= deadline is the
  promise's own "delivered by" test).
- b2b: EDI and email channels, or an order with a B2B account; ship-complete from the account.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import ChannelKind
from engine.domain.inventory import ReservationStatus
from engine.domain.network import incident_effects
from engine.domain.orders import Order, OrderStatus
from engine.domain.routing import DecisionKind, DecisionOutcome, RoutingDecision
from engine.routing.baselines import fixed_priority, nearest_with_stock
from engine.routing.costing import build_solution, choose_services
from engine.routing.explain import explain
from engine.routing.instance import (
    Assignment,
    InfeasibilityReason,
    MarkdownRisk,
    RateBracket,
    RoutingConfig,
    RoutingInstance,
    RoutingLine,
    RoutingNode,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
    ServiceOption,
    StockPosition,
)
from engine.routing.promise import PromiseCalendar
from engine.routing.solver import SourcingSolver
from engine.services.delivery_dates import DEFAULT_CALENDAR
from engine.services.handlers.checks import new_id
from engine.services.handlers.routing import policy_from_record
from engine.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)

B2B_KINDS = (ChannelKind.B2B_EDI, ChannelKind.EMAIL)
NODE_TYPE_PRIORITY = {"warehouse": 0, "3pl": 1, "store": 2}
# Commit failures that mean "the world moved under the decision": decide again on fresh data.
RACE_CODES = frozenset({e.InsufficientStock.code, e.ChannelCapExceeded.code, e.NodeCapacityExceeded.code,
                        e.StaleDecision.code})


@dataclass
class RoutingContext:
    """An order's sourcing instance as read in one snapshot, and what the mapping had to leave out."""

    order: Order
    instance: RoutingInstance
    policy: RoutingPolicy
    days: dict[str, str]
    blockers: list[InfeasibilityReason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def active_policy(uow: AbstractUnitOfWork) -> RoutingPolicy:
    record = uow.routing.active_policy()
    if record is None:
        raise e.UnknownRoutingPolicy("no routing policy is active: create one with `orderloom routing policy "
                                     "create` (the demo seed creates one)")
    return policy_from_record(record)


def fixed_priority_order(instance: RoutingInstance) -> list[str]:
    """The rule the fixed-priority baseline follows: warehouses by code, then 3PLs, then stores."""
    return [n.code for n in sorted(instance.nodes, key=lambda n: (NODE_TYPE_PRIORITY.get(n.node_type, 9), n.code))]


def destination_prefix(order: Order) -> str | None:
    country = (order.ship_to.country or "").strip().upper()
    digits = "".join(ch for ch in order.ship_to.postal_code if ch.isdigit())
    if country not in ("US", "USA") or len(digits) not in (5, 9):
        return None
    return digits[:3]


def delivery_days_between(calendar: PromiseCalendar, start: date, end: date) -> int:
    """Carrier delivery days after `start` up to and including `end` (0 when `end` <= `start`)."""
    days, day = 0, start
    while day < end and days < 366:
        day += timedelta(days=1)
        days += calendar.is_delivery_day(day)
    return days


def build_context(uow: AbstractUnitOfWork, order: Order, policy: RoutingPolicy, *,
                  include_own_reservations: bool = False,
                  calendar: PromiseCalendar = DEFAULT_CALENDAR, avoid_nodes: frozenset[str] = frozenset(),
                  avoid_carriers: frozenset[str] = frozenset(), allow_split: bool = False) -> RoutingContext:
    """Read everything one decision needs. `include_own_reservations` counts the order's active
    reservations (and the pick capacity they took) as available again, for re-optimisation.

    Carriers with an active outage to the destination are left out, a reported delay lengthens their transit;
    `avoid_nodes` / `avoid_carriers` leave out what a person or the exception desk asked to avoid;
    `allow_split` lets a ship-complete account's order ship in parts (a person decided so for this order)."""
    now = uow.now()
    channel, caps = uow.channel_and_caps(order.channel, {ln.sku for ln in order.lines})
    if channel is None:
        raise e.UnknownChannel(f"channel {order.channel!r} does not exist", channel=order.channel)
    blockers: list[InfeasibilityReason] = []
    notes: list[str] = []
    lines: list[RoutingLine] = []
    for line in order.lines:
        if line.open_quantity <= 0:
            continue
        sku = uow.master.get_sku(line.sku)
        if sku is None:  # pragma: no cover - order lines reference existing SKUs (foreign key)
            raise e.UnknownSku(f"SKU {line.sku!r} does not exist", sku=line.sku)
        lines.append(RoutingLine(line_no=line.line_no, sku=line.sku, quantity=line.open_quantity,
                                 unit_weight_kg=float(sku.weight_kg), hazmat=sku.hazmat))
    if not lines:
        raise e.IllegalTransition(f"order {order.order_id} has no open units to route", order_id=order.order_id)
    own: dict[tuple[str, str], int] = {}
    own_units: dict[str, int] = {}
    if include_own_reservations:
        for r in uow.inventory.reservations(order_id=order.order_id):
            if r.status is ReservationStatus.ACTIVE and r.outstanding > 0:
                own[r.node, r.sku] = own.get((r.node, r.sku), 0) + r.outstanding
                own_units[r.node] = own_units.get(r.node, 0) + r.outstanding
    nodes = [n for n in uow.master.list_nodes() if n.active and n.code not in avoid_nodes]
    if avoid_nodes:
        notes.append(f"asked to avoid node(s) {', '.join(sorted(avoid_nodes))}")
    days: dict[str, str] = {}
    days_to_ship: dict[str, int] = {}
    today = now.date()
    for n in nodes:
        local = now.astimezone(ZoneInfo(n.timezone))
        days[n.code] = local.date().isoformat()
        # The delivery promise's own rule (cutoff in the node's zone, next pickup day after it), counted in
        # carrier delivery days from today, the unit of transit times and of the deadline below.
        ships = local.date() if calendar.is_pickup_day(local.date()) and local.time() < n.cutoff_local \
            else calendar.next_pickup_day(local.date())
        days_to_ship[n.code] = delivery_days_between(calendar, today, ships)
    used = uow.routing.capacity_used(days)
    routing_nodes = [RoutingNode(code=n.code, node_type=n.node_type.value, ship_from_enabled=n.ship_from_enabled,
                                 hazmat_capable=n.hazmat_capable, b2b_only=n.b2b_only,
                                 capacity_left=max(0, n.daily_pick_capacity - used.get(n.code, 0)
                                                   + own_units.get(n.code, 0)),
                                 handling_cost_per_shipment=float(n.handling_cost), days_to_ship=days_to_ship[n.code])
                     for n in nodes]
    active_codes = set(days)
    stock: list[StockPosition] = []
    for b in uow.routing.balances_for_skus({ln.sku for ln in lines}):
        if b.node not in active_codes:
            continue
        available = b.available_for(channel.priority) + own.get((b.node, b.sku), 0)
        if available > 0:
            stock.append(StockPosition(node=b.node, sku=b.sku, available=available))
    needed: dict[str, int] = {}
    for ln in lines:
        needed[ln.sku] = needed.get(ln.sku, 0) + ln.quantity
    for code, cap in caps.items():
        if cap.active_at(now):
            room = cap.remaining + sum(q for (_n, s), q in own.items() if s == code)
            if room < needed.get(code, 0):
                line_no = next(ln.line_no for ln in lines if ln.sku == code)
                blockers.append(InfeasibilityReason(
                    line_no=line_no, constraint="channel_cap",
                    detail=f"{channel.code} may commit {room} more of {code}, the order needs {needed[code]}"))
    services: list[ServiceOption] = []
    prefix = destination_prefix(order)
    if prefix is None:
        blockers.append(InfeasibilityReason(
            line_no=None, constraint="destination",
            detail=f"no carrier lanes for {order.ship_to.country} postal code {order.ship_to.postal_code!r}"))
    else:
        effects = incident_effects(uow.exceptions.active_incidents(), prefix)
        out = set(effects.out) | set(avoid_carriers)
        delay = effects.delay_days
        for carrier in sorted(out):
            notes.append(f"carrier {carrier} left out: "
                         f"{'asked to avoid' if carrier in avoid_carriers else 'outage reported'}")
        for carrier, days_late in sorted(delay.items()):
            notes.append(f"carrier {carrier}: transit lengthened by {days_late} day(s) for a reported delay")
        for lane in uow.routing.lane_services_to(prefix):
            if lane.origin_node not in active_codes or lane.carrier in out:
                continue
            if not lane.brackets:
                notes.append(f"{lane.carrier}/{lane.service} from {lane.origin_node} to {prefix}: "
                             f"no rate card for zone {lane.zone}, left out")
                continue
            services.append(ServiceOption(
                node=lane.origin_node, carrier=lane.carrier, service_level=lane.service, zone=lane.zone,
                transit_days=lane.transit_days + delay.get(lane.carrier, 0),
                on_time_probability=lane.on_time_probability,
                brackets=[RateBracket(max_weight_kg=w, price=p) for w, p in lane.brackets],
                price_per_kg_beyond=lane.price_per_kg_beyond))
        if not services:
            blockers.append(InfeasibilityReason(line_no=None, constraint="destination",
                                                detail=f"no priced carrier lane reaches ZIP3 {prefix}"))
    markdown = [MarkdownRisk(node=n, sku=s, credit_per_unit=credit)
                for s, n, credit in uow.routing.markdown_risks({ln.sku for ln in lines}, now) if n in active_codes]
    account = uow.master.get_account(order.account_code) if order.account_code else None
    if order.requested_delivery is not None:
        deadline = delivery_days_between(calendar, today, order.requested_delivery.date())
    else:
        deadline = policy.default_deadline_days
    instance = RoutingInstance(
        order_id=order.order_id, channel=channel.code,
        b2b=channel.kind in B2B_KINDS or order.account_code is not None,
        ship_complete=bool(account and account.ship_complete) and not allow_split, deadline_days=deadline, lines=lines,
        nodes=routing_nodes, stock=stock, services=services, markdown=markdown)
    return RoutingContext(order=order, instance=instance, policy=policy, days=days, blockers=blockers, notes=notes)


def shadow_baselines(instance: RoutingInstance, policy: RoutingPolicy) -> dict[str, Any]:
    """What the rules Orderloom replaces would have done on the same instance, priced the same way."""
    out: dict[str, Any] = {}
    for name, solution in (("fixed-priority", fixed_priority(instance, policy, fixed_priority_order(instance))),
                           ("nearest-with-stock", nearest_with_stock(instance, policy))):
        out[name] = {
            "status": solution.status.value,
            "cost": solution.cost.total if solution.is_feasible else None,
            "shipments": len(solution.shipments) if solution.is_feasible else None,
            "nodes": sorted({s.node for s in solution.shipments}),
            "on_time": _on_time(solution) if solution.is_feasible else None,
            "reasons": [r.detail for r in solution.reasons],
        }
    return out


def _on_time(solution: RoutingSolution) -> float:
    p = 1.0
    for s in solution.shipments:
        p *= s.on_time_probability
    return round(p, 4)


def plan_of(context: RoutingContext, solution: RoutingSolution) -> list[dict[str, Any]]:
    skus = {ln.line_no: ln.sku for ln in context.instance.lines}
    return [{"line_no": a.line_no, "sku": skus[a.line_no], "node": a.node, "quantity": a.quantity,
             "day": context.days[a.node]} for a in solution.assignments]


def current_solution(context: RoutingContext, reservations: Sequence[tuple[int, str, int]]) -> RoutingSolution | None:
    """The order's current plan priced on `context` (for re-optimisation), or None if it does not fit it."""
    per: dict[tuple[int, str], int] = {}
    for line_no, node, qty in reservations:
        per[line_no, node] = per.get((line_no, node), 0) + qty
    assignments = [Assignment(line_no=ln, node=n, quantity=q) for (ln, n), q in per.items()]
    try:
        services = choose_services(context.instance, context.policy, assignments)
        return build_solution(context.instance, context.policy, assignments, services, RoutingStatus.FEASIBLE,
                              "current")
    except (KeyError, ValueError):
        return None


@dataclass
class RouteOutcome:
    order_id: str
    routed: bool
    status: str
    decision_id: str
    attempts: int
    cost: float | None = None
    nodes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    baselines: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "routed": self.routed, "status": self.status,
                "decision_id": self.decision_id, "attempts": self.attempts, "cost": self.cost,
                "nodes": self.nodes, "reasons": self.reasons, "baselines": self.baselines}


@dataclass
class ReoptimiseReport:
    considered: int = 0
    changed: int = 0
    kept: int = 0
    skipped: int = 0
    saving: float = 0.0
    shipments_before: int = 0
    shipments_after: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


class OrderRouter:
    """Decides with a read-only snapshot and the solver, commits with `CommitRouting` through the bus."""

    def __init__(self, uow_factory: Callable[..., AbstractUnitOfWork], handle: Callable[[c.Command], Any], *,
                 config: RoutingConfig | None = None, max_attempts: int = 3, store_instances: bool = False,
                 on_decision: Callable[[RoutingContext, RoutingSolution], None] | None = None) -> None:
        self.uow_factory = uow_factory
        self.handle = handle
        self.config = config or RoutingConfig(time_limit_s=0.25)
        self.max_attempts = max_attempts
        self.store_instances = store_instances
        self.on_decision = on_decision

    def _read(self, order_id: str, *, reopt: bool, avoid_nodes: frozenset[str] = frozenset(),
              avoid_carriers: frozenset[str] = frozenset(), allow_split: bool = False) -> RoutingContext:
        with self.uow_factory(readonly=True) as uow:
            order = uow.orders.get(order_id) if isinstance(order_id, str) else None
            if order is None:
                raise e.UnknownOrder(f"order {order_id!r} does not exist", order_id=str(order_id))
            policy = active_policy(uow)
            context = build_context(uow, order, policy, include_own_reservations=reopt, avoid_nodes=avoid_nodes,
                                    avoid_carriers=avoid_carriers, allow_split=allow_split)
            if allow_split:
                context.notes.append("ship-complete waived for this order: it may ship in parts")
            return context

    def _solve(self, context: RoutingContext) -> RoutingSolution:
        if context.blockers:
            return RoutingSolution(status=RoutingStatus.INFEASIBLE, reasons=context.blockers,
                                   policy_version=context.policy.version, solver="precheck")
        solution = SourcingSolver(context.instance, context.policy, self.config).solve()
        if self.on_decision is not None:
            self.on_decision(context, solution)
        return solution

    def _decision(self, context: RoutingContext, solution: RoutingSolution, kind: DecisionKind, attempt: int,
                  outcome: DecisionOutcome, baselines: dict[str, Any], notes: Sequence[str] = ()) -> RoutingDecision:
        explained = explain(context.instance, context.policy, solution)
        explanation = explained.to_dict()
        explanation["notes"] = [*context.notes, *notes]
        explanation["text"] = explained.to_text()
        keep_instance = self.store_instances or outcome is not DecisionOutcome.COMMITTED
        return RoutingDecision(
            decision_id=new_id(), order_id=context.order.order_id, kind=kind, attempt=attempt, outcome=outcome,
            status=solution.status.value, solver=solution.solver, policy_version=solution.policy_version,
            cost=solution.cost.total if solution.is_feasible else None, shipments=len(solution.shipments),
            solve_time_ms=solution.solve_time_ms, plan=plan_of(context, solution) if solution.is_feasible else [],
            explanation=explanation, baselines=baselines, created_at=datetime.now().astimezone(),
            instance=context.instance.model_dump(mode="json") if keep_instance else None)

    def route(self, order_id: str, *, avoid_nodes: Sequence[str] = (), avoid_carriers: Sequence[str] = (),
              allow_split: bool = False) -> RouteOutcome:
        """Route one validated order: commit the best plan, or send the order to exception with reasons."""
        last_error: e.OrderloomError | None = None
        avoid: dict[str, Any] = {"avoid_nodes": frozenset(avoid_nodes), "avoid_carriers": frozenset(avoid_carriers),
                                 "allow_split": allow_split}
        for attempt in range(1, self.max_attempts + 1):
            context = self._read(order_id, reopt=False, **avoid)
            order = context.order
            if order.status is not OrderStatus.VALIDATED:
                raise e.IllegalTransition(f"order {order.order_id} is {order.status.value}; only validated orders "
                                          "are routed", order_id=order.order_id, from_status=order.status.value)
            solution = self._solve(context)
            baselines = shadow_baselines(context.instance, context.policy) if not context.blockers else {}
            if not solution.is_feasible:
                decision = self._decision(context, solution, DecisionKind.PLACEMENT, attempt, DecisionOutcome.FAILED,
                                          baselines)
                reasons = [f"line {r.line_no or '-'}: {r.constraint}: {r.detail}" for r in solution.reasons]
                flag = "routing: no plan meets the constraints: " + "; ".join(reasons)
                self.handle(c.RecordRoutingDecision(order_id=order.order_id, decision=decision, flag_reason=flag))
                return RouteOutcome(order.order_id, False, OrderStatus.EXCEPTION.value, decision.decision_id,
                                    attempt, reasons=reasons, baselines=baselines)
            decision = self._decision(context, solution, DecisionKind.PLACEMENT, attempt, DecisionOutcome.COMMITTED,
                                      baselines)
            try:
                result = self.handle(c.CommitRouting(order_id=order.order_id, expected_version=order.version,
                                                     decision=decision))
            except e.OrderloomError as exc:
                if not _is_race(exc):
                    raise
                last_error = exc
                notes = [*decision.explanation.get("notes", []), f"commit failed: {exc.code}: {exc.message}"]
                lost = dataclasses.replace(decision, decision_id=new_id(), outcome=DecisionOutcome.LOST_RACE,
                                           explanation={**decision.explanation, "notes": notes},
                                           instance=context.instance.model_dump(mode="json"))
                self.handle(c.RecordRoutingDecision(order_id=order.order_id, decision=lost))
                log.info("order %s: routing attempt %d lost a race (%s); deciding again", order_id, attempt,
                         exc.code)
                continue
            return RouteOutcome(order.order_id, True, result["status"], decision.decision_id, attempt,
                                cost=decision.cost, nodes=decision.nodes, baselines=baselines)
        assert last_error is not None
        context = self._read(order_id, reopt=False, **avoid)
        failed = RoutingSolution(status=RoutingStatus.INFEASIBLE, policy_version=context.policy.version,
                                 solver="router", reasons=[InfeasibilityReason(
                                     line_no=None, constraint="inventory_race",
                                     detail=f"stock or capacity changed under {self.max_attempts} decisions in a "
                                            f"row; last: {last_error.message}")])
        decision = self._decision(context, failed, DecisionKind.PLACEMENT, self.max_attempts + 1,
                                  DecisionOutcome.FAILED, {})
        flag = (f"inventory: could not reserve a routing plan after {self.max_attempts} attempts "
                f"({last_error.code}: {last_error.message})")
        self.handle(c.RecordRoutingDecision(order_id=order_id, decision=decision, flag_reason=flag))
        return RouteOutcome(order_id, False, OrderStatus.EXCEPTION.value, decision.decision_id, self.max_attempts,
                            reasons=[flag])

    def reoptimise(self, *, window: timedelta = timedelta(minutes=15), min_saving: float = 0.50,
                   limit: int = 500, now: datetime | None = None) -> ReoptimiseReport:
        """Re-solve orders allocated within `window` and not yet released, heaviest first; switch an order
        to the new plan only when it saves at least `min_saving` under the active policy. Released orders
        are never touched: the commit re-checks the status under the order's row lock."""
        report = ReoptimiseReport()
        with self.uow_factory(readonly=True) as uow:
            since = (now or uow.now()) - window
            candidates = uow.routing.allocated_since(since, limit)
            weights: dict[str, int] = {}
            for order_id in candidates:
                order = uow.orders.get(order_id)
                weights[order_id] = sum(ln.open_quantity for ln in order.lines) if order else 0
        for order_id in sorted(candidates, key=lambda o: (-weights.get(o, 0), int(o))):
            report.considered += 1
            try:
                detail = self._reoptimise_one(order_id, min_saving)
            except e.OrderloomError as exc:
                report.skipped += 1
                report.details.append({"order_id": order_id, "outcome": "skipped", "reason": f"{exc.code}: "
                                                                                            f"{exc.message}"})
                continue
            report.details.append(detail)
            if detail["outcome"] == "changed":
                report.changed += 1
                report.saving += detail["saving"]
                report.shipments_before += detail["shipments_before"]
                report.shipments_after += detail["shipments_after"]
            else:
                report.kept += 1
        report.saving = round(report.saving, 2)
        return report

    def _reoptimise_one(self, order_id: str, min_saving: float) -> dict[str, Any]:
        context = self._read(order_id, reopt=True)
        order = context.order
        if order.status is not OrderStatus.ALLOCATED:
            return {"order_id": order_id, "outcome": "kept", "reason": f"order is {order.status.value}"}
        with self.uow_factory(readonly=True) as uow:
            held = [(r.line_no or 0, r.node, r.outstanding) for r in uow.inventory.reservations(order_id=order_id)
                    if r.status is ReservationStatus.ACTIVE]
        current = current_solution(context, held)
        solution = self._solve(context)
        if current is None or not solution.is_feasible:
            return {"order_id": order_id, "outcome": "kept", "reason": "no comparable plan"}
        saving = round(current.cost.total - solution.cost.total, 4)
        baselines = {"current": {"status": "committed", "cost": current.cost.total,
                                 "shipments": len(current.shipments),
                                 "nodes": sorted({s.node for s in current.shipments})}}
        if saving < min_saving:
            decision = self._decision(context, solution, DecisionKind.REOPTIMISATION, 1, DecisionOutcome.KEPT,
                                      baselines, [f"saves {saving:.2f}, below the {min_saving:.2f} threshold"])
            decision.instance = None  # a kept plan needs no instance: the committed decision explains it
            self.handle(c.RecordRoutingDecision(order_id=order_id, decision=decision))
            return {"order_id": order_id, "outcome": "kept", "saving": saving}
        decision = self._decision(context, solution, DecisionKind.REOPTIMISATION, 1, DecisionOutcome.COMMITTED,
                                  baselines, [f"replaces a plan costing {current.cost.total:.2f}"])
        self.handle(c.CommitRouting(order_id=order_id, expected_version=order.version, decision=decision))
        return {"order_id": order_id, "outcome": "changed", "saving": saving,
                "shipments_before": len(current.shipments), "shipments_after": len(solution.shipments),
                "decision_id": decision.decision_id}


def _is_race(exc: e.OrderloomError) -> bool:
    if exc.code in RACE_CODES:
        return True
    return bool(exc.problems) and all(p.code in RACE_CODES for p in exc.problems)


# -- reads -----------------------------------------------------------------------------------------

def order_decisions(uow: AbstractUnitOfWork, order_id: str) -> list[RoutingDecision]:
    """Every routing decision of an order, oldest first; unknown orders raise `UnknownOrder`."""
    if not isinstance(order_id, str) or uow.orders.get(order_id) is None:
        raise e.UnknownOrder(f"order {order_id!r} does not exist", order_id=str(order_id))
    return uow.routing.decisions(order_id)


@dataclass
class ShadowSummary:
    """Committed placement decisions against what each baseline would have done on the same instances."""

    decisions: int
    orderloom_cost: float
    baselines: dict[str, dict[str, float | int]]

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "orderloom_cost": round(self.orderloom_cost, 2),
                "baselines": self.baselines}


def shadow_summary(uow: AbstractUnitOfWork, limit: int = 1000) -> ShadowSummary:
    """Over the latest `limit` committed placements: cost of Orderloom's plans and, on the decisions a
    baseline could also serve, the baseline's cost, Orderloom's cost on the same decisions, and the saving."""
    placed = [d for d in uow.routing.recent_decisions(limit * 3)
              if d.kind is DecisionKind.PLACEMENT and d.outcome is DecisionOutcome.COMMITTED][:limit]
    baselines: dict[str, dict[str, float | int]] = {}
    for name in ("fixed-priority", "nearest-with-stock"):
        both = [(d.cost or 0.0, float(d.baselines[name]["cost"])) for d in placed
                if d.baselines.get(name, {}).get("cost") is not None]
        ours = sum(a for a, _ in both)
        theirs = sum(b for _, b in both)
        baselines[name] = {"comparable": len(both), "baseline_cost": round(theirs, 2),
                           "orderloom_cost": round(ours, 2),
                           "saving_pct": round(100 * (theirs - ours) / theirs, 2) if theirs else 0.0,
                           "unserved_by_baseline": len(placed) - len(both)}
    return ShadowSummary(len(placed), sum(d.cost or 0.0 for d in placed), baselines)
