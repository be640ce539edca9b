"""Rule-based routing the optimiser is measured against, priced with the same `cost_of`."""

from __future__ import annotations

from collections.abc import Sequence

from engine.routing.costing import build_solution, choose_services
from engine.routing.eligibility import eligible_nodes, max_shipments
from engine.routing.greedy import Ledger
from engine.routing.instance import (
    Assignment,
    InfeasibilityReason,
    RoutingInstance,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
)


def fixed_priority(instance: RoutingInstance, policy: RoutingPolicy, priority: Sequence[str]) -> RoutingSolution:
    """The first node in `priority` that can ship the whole line; split along the list only when forced."""
    return _allocate(instance, policy, list(priority), whole_line_first=True, name="fixed-priority")


def node_proximity(instance: RoutingInstance, node: str) -> int:
    """The lowest carrier zone of any SLA-meeting service from `node` (zones grow with distance)."""
    return min((s.zone for s in instance.services_from(node) if instance.meets_sla(s)), default=1 << 30)


def nearest_with_stock(instance: RoutingInstance, policy: RoutingPolicy) -> RoutingSolution:
    """Nearest node (lowest zone) with stock first for every line, splitting greedily onto the next nearest."""
    order = sorted((n.code for n in instance.nodes), key=lambda c: (node_proximity(instance, c), c))
    return _allocate(instance, policy, order, whole_line_first=False, name="nearest-with-stock")


def _allocate(
    instance: RoutingInstance, policy: RoutingPolicy, order: list[str], *, whole_line_first: bool, name: str
) -> RoutingSolution:
    ledger = Ledger(instance)
    plan: list[Assignment] = []
    reasons: list[InfeasibilityReason] = []
    for line in instance.lines:
        allowed = set(eligible_nodes(instance, line))
        candidates = [c for c in order if c in allowed]
        whole = [c for c in candidates if ledger.room(c, line.sku) >= line.quantity] if whole_line_first else []
        left = line.quantity
        for code in whole[:1] or candidates:
            take = min(left, ledger.room(code, line.sku))
            if take > 0:
                plan.append(Assignment(line_no=line.line_no, node=code, quantity=take))
                ledger.take(code, line.sku, take)
                left -= take
        if left > 0:
            detail = f"{name}: {left} of {line.quantity} units of {line.sku} left unallocated"
            reasons.append(InfeasibilityReason(line_no=line.line_no, constraint="stock", detail=detail))
    limit = max_shipments(instance, policy)
    if limit is not None and len({a.node for a in plan}) > limit:
        detail = f"{name}: {len({a.node for a in plan})} shipments exceed the limit of {limit}"
        reasons.append(InfeasibilityReason(line_no=None, constraint="max_shipments", detail=detail))
    if reasons:
        return RoutingSolution(
            status=RoutingStatus.INFEASIBLE, reasons=reasons, policy_version=policy.version, solver=name
        )
    services = choose_services(instance, policy, plan)
    return build_solution(instance, policy, plan, services, RoutingStatus.FEASIBLE, name)
