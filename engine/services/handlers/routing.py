"""Handlers for routing: commit a decision (route and reserve atomically), record one, policies, rate data."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.errors import Problem
from engine.domain.events import (
    MasterDataChanged,
    OrderAllocated,
    OrderRouted,
    ReservedLine,
    RoutingFailed,
    RoutingPolicyChanged,
)
from engine.domain.inventory import ReservationStatus
from engine.domain.network import ServiceLevel
from engine.domain.orders import OrderStatus
from engine.domain.routing import AuditEntry, DecisionKind, DecisionOutcome, RoutingDecision
from engine.routing.instance import PolicyWeights, RoutingPolicy
from engine.services.handlers.checks import is_lookup_key, node_problem, raise_if_any, sku_problem, text_problem
from engine.services.handlers.inventory import release_reservations
from engine.services.handlers.orders import _order, _pause, _require_not_paused, _reserve_plan, _transition
from engine.services.ports import PolicyRecord
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_BRACKETS = 200
MAX_MONEY = Decimal("100000")


def _decision(obj: object) -> RoutingDecision:
    if not isinstance(obj, RoutingDecision):
        raise e.ValidationFailed("decision must be a RoutingDecision",
                                 problems=[Problem("validation.type", "decision", "not a routing decision",
                                                   "send the decision OrderRouter built")])
    return obj


def commit_routing(cmd: c.CommitRouting, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Reserve the decision's plan and take node pick capacity, all or nothing, then store the decision.

    Raises `StaleDecision` when the order changed since the decision was made, the reservation errors
    (`inventory.insufficient`, `inventory.channel_cap_exceeded`) when stock went meanwhile, and
    `NodeCapacityExceeded` when a node's pick capacity went: the caller decides again on fresh data.
    """
    decision = _decision(cmd.decision)
    order = _order(uow, cmd.order_id)
    if order.version != cmd.expected_version:
        raise e.StaleDecision(f"order {order.order_id} changed since it was routed (version {order.version}, "
                              f"decided on {cmd.expected_version})", order_id=order.order_id)
    placement = decision.kind is DecisionKind.PLACEMENT
    previous: RoutingDecision | None = None
    if placement:
        _require_not_paused(order, OrderStatus.ALLOCATED)
        order.require_transition(OrderStatus.ALLOCATED)
    else:
        if order.status is not OrderStatus.ALLOCATED:
            raise e.IllegalTransition(f"order {order.order_id} is {order.status.value}: only allocated orders not "
                                      "yet released to a warehouse are re-optimised",
                                      order_id=order.order_id, from_status=order.status.value)
        previous = next((d for d in reversed(uow.routing.decisions(order.order_id))
                         if d.outcome is DecisionOutcome.COMMITTED), None)
        old = [r for r in uow.inventory.reservations(order_id=order.order_id)
               if r.status is ReservationStatus.ACTIVE]
        release_reservations(uow, old, ReservationStatus.RELEASED,
                             f"re-optimised: replaced by routing decision {decision.decision_id}")
        if previous is not None:
            for (node, day), units in previous.units_per_node_day().items():
                uow.routing.give_back_capacity(node, day, units)
    allocations = tuple(c.LineAllocation(line_no=int(p["line_no"]), node=str(p["node"]), quantity=int(p["quantity"]))
                        for p in decision.plan)
    items = _reserve_plan(uow, order, allocations)
    for (node, day), units in sorted(decision.units_per_node_day().items()):
        stored = uow.master.get_node(node)
        capacity = stored.daily_pick_capacity if stored else 0
        if not uow.routing.try_take_capacity(node, day, units, capacity):
            raise e.NodeCapacityExceeded(f"{node} has no pick capacity left on {day} for {units} more units",
                                         node=node, day=day, units=units)
    for line in order.lines:
        line.allocated = sum(r.quantity for r in items if r.line_no == line.line_no)
    nodes = ", ".join(decision.nodes)
    if placement:
        _transition(uow, order, OrderStatus.ALLOCATED,
                    f"routed to {nodes} by {decision.solver} under policy v{decision.policy_version}")
    uow.orders.save(order)
    committed = dataclasses.replace(decision, outcome=DecisionOutcome.COMMITTED, created_at=uow.now())
    uow.routing.add_decision(committed)
    now = uow.now()
    reserved = tuple(ReservedLine(reservation_id=r.reservation_id, sku=r.sku, node=r.node, quantity=r.quantity,
                                  line_no=r.line_no) for r in items)
    uow.emit(OrderAllocated(order_id=order.order_id, lines=reserved, occurred_at=now))
    uow.emit(OrderRouted(order_id=order.order_id, decision_id=decision.decision_id, kind=decision.kind.value,
                         policy_version=decision.policy_version, solver=decision.solver,
                         cost=decision.cost or 0.0, shipments=decision.shipments, nodes=tuple(decision.nodes),
                         baseline_costs={k: v.get("cost") for k, v in decision.baselines.items()},
                         occurred_at=now))
    result: dict[str, Any] = {"order_id": order.order_id, "status": order.status.value,
                              "decision_id": decision.decision_id, "kind": decision.kind.value,
                              "cost": decision.cost, "nodes": decision.nodes,
                              "reservations": [{"line_no": r.line_no, "sku": r.sku, "node": r.node,
                                                "quantity": r.quantity} for r in items]}
    if previous is not None:
        result["replaced_decision_id"] = previous.decision_id
    return result


def record_routing_decision(cmd: c.RecordRoutingDecision, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Store a decision that reserved nothing; with `flag_reason` the order goes to exception with it."""
    decision = _decision(cmd.decision)
    order = _order(uow, cmd.order_id)
    uow.routing.add_decision(dataclasses.replace(decision, created_at=uow.now()))
    result: dict[str, Any] = {"order_id": order.order_id, "status": order.status.value,
                              "decision_id": decision.decision_id, "outcome": decision.outcome.value}
    if cmd.flag_reason is not None:
        reason = cmd.flag_reason[:500]
        result.update(_pause(uow, order.order_id, OrderStatus.EXCEPTION, reason))
        reasons = tuple(str(r) for r in decision.explanation.get("reasons", []))[:20]
        uow.emit(RoutingFailed(order_id=order.order_id, decision_id=decision.decision_id, reason=reason,
                               reasons=reasons, occurred_at=uow.now()))
    return result


# -- policies --------------------------------------------------------------------------------------

def policy_from_record(record: PolicyRecord) -> RoutingPolicy:
    return RoutingPolicy(version=record.version, name=record.name, weights=PolicyWeights(**record.weights),
                         max_shipments=record.max_shipments, default_deadline_days=record.default_deadline_days)


def _actor_problem(actor: object) -> Problem | None:
    return text_problem("actor", actor, max_length=100)


def create_routing_policy(cmd: c.CreateRoutingPolicy, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("name", cmd.name, max_length=100), _actor_problem(cmd.actor),
                            text_problem("note", cmd.note, max_length=500, required=False)) if p]
    weights: PolicyWeights | None = None
    if not isinstance(cmd.weights, dict):
        problems.append(Problem("validation.type", "weights", "weights must be an object of numbers",
                                "send e.g. {\"split_penalty\": 3}"))
    else:
        known = set(PolicyWeights.model_fields)
        for key, value in cmd.weights.items():
            field = f"weights.{key}"
            if key not in known:
                problems.append(Problem("routing.unknown_weight", field, f"unknown weight {key!r}",
                                        f"use one of {', '.join(sorted(known))}"))
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or not 0 <= value <= 1_000_000:
                problems.append(Problem("routing.weight_range", field, f"{field} must be a number 0-1,000,000, "
                                        f"got {value!r}", "send a non-negative number"))
        if not problems:
            weights = PolicyWeights(**cmd.weights)
    limit = cmd.max_shipments
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50):
        problems.append(Problem("routing.max_shipments", "max_shipments", "max_shipments must be 1-50 or empty",
                                "send a whole number of shipments"))
    if isinstance(cmd.default_deadline_days, bool) or not isinstance(cmd.default_deadline_days, int) \
            or not 0 <= cmd.default_deadline_days <= 60:
        problems.append(Problem("routing.deadline", "default_deadline_days", "default_deadline_days must be 0-60",
                                "send a whole number of days"))
    raise_if_any(problems)
    assert weights is not None
    existing = uow.routing.policies()
    version = max((p.version for p in existing), default=0) + 1
    now = uow.now()
    record = PolicyRecord(version=version, name=cmd.name.strip(), weights=weights.model_dump(),
                          max_shipments=cmd.max_shipments, default_deadline_days=cmd.default_deadline_days,
                          note=cmd.note, created_by=cmd.actor, created_at=now, active=False)
    uow.routing.add_policy(record)
    uow.routing.add_audit(AuditEntry(at=now, actor=cmd.actor, action="routing_policy.created",
                                     entity="routing_policy", entity_id=str(version),
                                     detail={"name": record.name, "weights": record.weights,
                                             "max_shipments": record.max_shipments,
                                             "default_deadline_days": record.default_deadline_days,
                                             "note": cmd.note}))
    uow.emit(RoutingPolicyChanged(policy_version=version, change="created", actor=cmd.actor, occurred_at=now))
    if cmd.activate or not existing:
        _activate(uow, version, cmd.actor, "first policy" if not existing and not cmd.activate else cmd.note)
    return {"version": version, "name": record.name, "active": cmd.activate or not existing}


def activate_routing_policy(cmd: c.ActivateRoutingPolicy, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("reason", cmd.reason, max_length=500,
                                                                     required=False)) if p]
    if isinstance(cmd.version, bool) or not isinstance(cmd.version, int):
        problems.append(Problem("validation.type", "version", "version must be a whole number",
                                "send a policy version"))
    raise_if_any(problems)
    if uow.routing.get_policy(cmd.version) is None:
        raise e.UnknownRoutingPolicy(f"routing policy version {cmd.version} does not exist", version=cmd.version)
    _activate(uow, cmd.version, cmd.actor, cmd.reason)
    return {"version": cmd.version, "active": True}


def _activate(uow: AbstractUnitOfWork, version: int, actor: str, reason: str) -> None:
    before = uow.routing.active_policy()
    uow.routing.activate_policy(version)
    now = uow.now()
    uow.routing.add_audit(AuditEntry(at=now, actor=actor, action="routing_policy.activated",
                                     entity="routing_policy", entity_id=str(version),
                                     detail={"previous": before.version if before else None, "reason": reason}))
    uow.emit(RoutingPolicyChanged(policy_version=version, change="activated", actor=actor, occurred_at=now))


# -- rate cards, lane performance, markdown risk ---------------------------------------------------

def _money_problem(field: str, value: object, *, positive: bool = False) -> Problem | None:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or (positive and amount == 0) or amount > MAX_MONEY:
        return Problem("validation.amount", field, f"{field} must be a number 0-{MAX_MONEY}, got {value!r}",
                       "send a decimal amount")
    return None


def set_rate_card(cmd: c.SetRateCard, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems: list[Problem] = []
    if not (is_lookup_key(cmd.carrier) and uow.master.carrier_exists(cmd.carrier)):
        problems.append(Problem("carrier.unknown", "carrier", f"carrier {cmd.carrier!r} unknown",
                                "create the carrier first"))
    if cmd.service not in {s.value for s in ServiceLevel}:
        problems.append(Problem("carrier.unknown_service", "service", f"unknown service {cmd.service!r}",
                                "use ground, expedited or next_day"))
    if isinstance(cmd.zone, bool) or not isinstance(cmd.zone, int) or not 1 <= cmd.zone <= 99:
        problems.append(Problem("lane.zone", "zone", f"zone must be 1-99, got {cmd.zone!r}", "send the zone number"))
    if not cmd.brackets or len(cmd.brackets) > MAX_BRACKETS:
        problems.append(Problem("rate_card.brackets", "brackets", f"a rate card needs 1-{MAX_BRACKETS} brackets",
                                "send (max weight kg, price) pairs"))
    last = Decimal(0)
    for i, bracket in enumerate(cmd.brackets or ()):
        if not isinstance(bracket, tuple | list) or len(bracket) != 2:
            problems.append(Problem("rate_card.bracket", f"brackets[{i}]", "a bracket is (max weight kg, price)",
                                    "send two numbers"))
            continue
        weight, price = bracket
        if (p := _money_problem(f"brackets[{i}].max_weight_kg", weight, positive=True)) is not None:
            problems.append(p)
        elif Decimal(str(weight)) <= last:
            problems.append(Problem("rate_card.order", f"brackets[{i}].max_weight_kg",
                                    "bracket weights must strictly ascend", "sort the brackets by weight"))
        else:
            last = Decimal(str(weight))
        if (p := _money_problem(f"brackets[{i}].price", price)) is not None:
            problems.append(p)
    if (p := _money_problem("price_per_kg_beyond", cmd.price_per_kg_beyond)) is not None:
        problems.append(p)
    if not (isinstance(cmd.currency, str) and len(cmd.currency) == 3 and cmd.currency.isalpha()
            and cmd.currency.isascii() and cmd.currency.isupper()):
        problems.append(Problem("validation.currency", "currency", f"{cmd.currency!r} is not an ISO 4217 code",
                                "send three capital letters such as USD"))
    raise_if_any(problems)
    brackets = [(Decimal(str(w)), Decimal(str(p))) for w, p in cmd.brackets]
    uow.routing.set_rate_card(cmd.carrier, cmd.service, cmd.zone, brackets, Decimal(str(cmd.price_per_kg_beyond)),
                              cmd.currency, uow.now())
    uow.emit(MasterDataChanged(entity="rate_card", key=f"{cmd.carrier}/{cmd.service}/{cmd.zone}",
                               change="upserted", occurred_at=uow.now()))
    return {"carrier": cmd.carrier, "service": cmd.service, "zone": cmd.zone, "brackets": len(brackets)}


def set_lane_on_time(cmd: c.SetLaneOnTime, uow: AbstractUnitOfWork) -> dict[str, Any]:
    try:
        probability = Decimal(str(cmd.on_time_probability)) if not isinstance(cmd.on_time_probability, bool) \
            else Decimal("NaN")
    except (InvalidOperation, ValueError):
        probability = Decimal("NaN")
    problems = [p for p in (text_problem("carrier", cmd.carrier, max_length=32),
                            text_problem("service", cmd.service, max_length=16),
                            text_problem("origin_node", cmd.origin_node, max_length=32),
                            text_problem("dest_prefix", cmd.dest_prefix, max_length=3)) if p]
    if not probability.is_finite() or not 0 <= probability <= 1:
        problems.append(Problem("lane.on_time", "on_time_probability",
                                f"on_time_probability must be between 0 and 1, got {cmd.on_time_probability!r}",
                                "send a share such as 0.96"))
    raise_if_any(problems)
    if not uow.routing.set_lane_on_time(cmd.carrier, cmd.service, cmd.origin_node, cmd.dest_prefix,
                                        probability.quantize(Decimal("0.0001"))):
        raise e.NotFound(f"no lane {cmd.carrier}/{cmd.service} from {cmd.origin_node} to {cmd.dest_prefix}",
                         problems=[Problem("lane.unknown", "lane", "the lane does not exist",
                                           "create it with the lanes first")])
    uow.emit(MasterDataChanged(entity="lane", key=f"{cmd.carrier}/{cmd.service}/{cmd.origin_node}/"
                               f"{cmd.dest_prefix}", change="on_time", occurred_at=uow.now()))
    return {"lane": [cmd.carrier, cmd.service, cmd.origin_node, cmd.dest_prefix],
            "on_time_probability": float(probability)}


def set_markdown_risk(cmd: c.SetMarkdownRisk, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (sku_problem(uow, "sku", cmd.sku), node_problem(uow, "node", cmd.node),
                            _money_problem("credit_per_unit", cmd.credit_per_unit)) if p]
    raise_if_any(problems)
    credit = Decimal(str(cmd.credit_per_unit))
    uow.routing.set_markdown_risk(cmd.sku, cmd.node, credit, cmd.until)
    uow.emit(MasterDataChanged(entity="markdown_risk", key=f"{cmd.sku}@{cmd.node}",
                               change="removed" if credit == 0 else "upserted", occurred_at=uow.now()))
    return {"sku": cmd.sku, "node": cmd.node, "credit_per_unit": str(credit)}
