"""A pure validator of routing solutions, independent of how they were found; every test uses it."""

from __future__ import annotations

from collections import defaultdict

from engine.routing.costing import cost_of
from engine.routing.eligibility import max_shipments, node_rule_violations
from engine.routing.instance import RoutingInstance, RoutingPolicy, RoutingSolution, RoutingStatus

_COST_TOLERANCE = 1e-6


def check_solution(
    instance: RoutingInstance, solution: RoutingSolution, policy: RoutingPolicy | None = None
) -> list[str]:
    """Every rule the solution breaks (empty = valid); costs are recomputed when `policy` is given."""
    if solution.status is RoutingStatus.INFEASIBLE:
        empty = [] if solution.reasons else ["infeasible without reasons"]
        return empty + (["infeasible solution carries assignments"] if solution.assignments else [])
    problems: list[str] = []
    line_nos = {line.line_no for line in instance.lines}
    node_codes = {n.code for n in instance.nodes}
    assigned: dict[int, int] = defaultdict(int)
    per_stock: dict[tuple[str, str], int] = defaultdict(int)
    per_node: dict[str, int] = defaultdict(int)
    for a in solution.assignments:
        if a.line_no not in line_nos or a.node not in node_codes:
            problems.append(f"unknown line {a.line_no} or node {a.node}")
            continue
        line = instance.line(a.line_no)
        assigned[a.line_no] += a.quantity
        per_stock[a.node, line.sku] += a.quantity
        per_node[a.node] += a.quantity
        for constraint, detail in node_rule_violations(instance, instance.node(a.node), line):
            problems.append(f"line {a.line_no} at {a.node} breaks {constraint}: {detail}")
    for line in instance.lines:
        if assigned[line.line_no] != line.quantity:
            problems.append(f"line {line.line_no}: {assigned[line.line_no]} of {line.quantity} units assigned")
    for (node, sku), quantity in per_stock.items():
        if quantity > instance.available(node, sku):
            problems.append(f"stock: {quantity} {sku} from {node}, only {instance.available(node, sku)} available")
    for node, quantity in per_node.items():
        if node in node_codes and quantity > instance.node(node).capacity_left:
            problems.append(f"capacity: {quantity} units from {node}, only {instance.node(node).capacity_left} left")
    used = set(per_node)
    shipped_from = [s.node for s in solution.shipments]
    if sorted(shipped_from) != sorted(used):
        problems.append(f"shipments {sorted(shipped_from)} do not match the nodes used {sorted(used)}")
    services: dict[str, str] = {}
    for shipment in solution.shipments:
        service = instance.service(shipment.node, f"{shipment.carrier}/{shipment.service_level}")
        if service is None:
            problems.append(f"{shipment.node}: unknown service {shipment.carrier}/{shipment.service_level}")
            continue
        services[shipment.node] = service.key
        if not instance.meets_sla(service):
            problems.append(f"SLA: {shipment.node} via {service.key} misses the {instance.deadline_days}-day deadline")
    limit = max_shipments(instance, policy) if policy else (1 if instance.ship_complete else instance.max_shipments)
    if limit is not None and len(used) > limit:
        problems.append(f"{len(used)} shipments exceed the limit of {limit}")
    if policy is not None and not problems:
        plan = cost_of(instance, policy, solution.assignments, services)
        if abs(plan.breakdown.total - solution.cost.total) > _COST_TOLERANCE or plan.breakdown != solution.cost:
            problems.append(f"cost breakdown {solution.cost} differs from recomputed {plan.breakdown}")
        if solution.objective is not None and abs(solution.objective - plan.breakdown.total) > _COST_TOLERANCE:
            problems.append(f"objective {solution.objective} differs from recomputed total {plan.breakdown.total}")
        if solution.policy_version != policy.version:
            problems.append(f"policy version {solution.policy_version} is not {policy.version}")
    return problems
