"""Which node may serve which line, and the cheap pre-check that names why an order cannot be served."""

from __future__ import annotations

from engine.routing.instance import InfeasibilityReason, RoutingInstance, RoutingLine, RoutingNode, RoutingPolicy


def node_rule_violations(instance: RoutingInstance, node: RoutingNode, line: RoutingLine) -> list[tuple[str, str]]:
    """(constraint, detail) for every hard rule that keeps `node` from shipping any unit of `line`."""
    found: list[tuple[str, str]] = []
    if not node.ship_from_enabled:
        found.append(("ship_from", f"{node.code} is not enabled to ship"))
    if line.hazmat and not node.hazmat_capable:
        found.append(("hazmat", f"{node.code} cannot ship hazmat"))
    if node.b2b_only and not instance.b2b:
        found.append(("b2b_only", f"{node.code} ships B2B orders only"))
    if node.capacity_left <= 0:
        found.append(("capacity", f"{node.code} has no pick capacity left today"))
    if not any(instance.meets_sla(s) for s in instance.services_from(node.code)):
        found.append(("sla", f"no service from {node.code} arrives within {instance.deadline_days} days"))
    if instance.available(node.code, line.sku) <= 0:
        found.append(("stock", f"{node.code} holds no {line.sku}"))
    return found


def eligible_nodes(instance: RoutingInstance, line: RoutingLine) -> list[str]:
    """Nodes that may ship at least one unit of `line`."""
    return [n.code for n in instance.nodes if not node_rule_violations(instance, n, line)]


def max_shipments(instance: RoutingInstance, policy: RoutingPolicy) -> int | None:
    """The binding shipment limit: one for ship-complete, else the tighter of the order's and the policy's."""
    if instance.ship_complete:
        return 1
    limits = [m for m in (instance.max_shipments, policy.max_shipments) if m is not None]
    return min(limits) if limits else None


def precheck(instance: RoutingInstance, policy: RoutingPolicy) -> list[InfeasibilityReason]:
    """Reasons why no plan can exist, found without the solver (empty does not prove feasibility)."""
    reasons: list[InfeasibilityReason] = []
    for line in instance.lines:
        violations = {n.code: node_rule_violations(instance, n, line) for n in instance.nodes}
        eligible = [code for code, found in violations.items() if not found]
        reach = sum(min(instance.available(code, line.sku), instance.node(code).capacity_left) for code in eligible)
        if reach >= line.quantity:
            continue
        stocked = [n.code for n in instance.nodes if instance.available(n.code, line.sku) > 0]
        if not stocked:
            reasons.append(
                InfeasibilityReason(line_no=line.line_no, constraint="stock", detail=f"no node holds {line.sku}")
            )
            continue
        # Name the rule that removed the most stock, so the reason points at what to change.
        blocked: dict[str, int] = {}
        for code in stocked:
            for constraint, _ in violations[code]:
                blocked[constraint] = blocked.get(constraint, 0) + instance.available(code, line.sku)
        if not eligible and blocked:
            constraint = max(blocked, key=lambda c: blocked[c])
            details = "; ".join(d for code in stocked for c, d in violations[code] if c == constraint)
            if constraint == "sla":
                details = f"no service from any stocked node arrives within {instance.deadline_days} days"
            reasons.append(InfeasibilityReason(line_no=line.line_no, constraint=constraint, detail=details))
            continue
        best = max(eligible, key=lambda c: instance.available(c, line.sku), default=None)
        best_text = f"{best} {instance.available(best, line.sku)}" if best else "none"
        reasons.append(
            InfeasibilityReason(
                line_no=line.line_no,
                constraint="stock",
                detail=f"no eligible nodes hold {line.quantity} units of {line.sku} together "
                f"(they can give {reach}; best: {best_text})",
            )
        )
    if reasons or not instance.ship_complete:
        return reasons
    whole = [n.code for n in instance.nodes if _serves_whole_order(instance, n)]
    if not whole:
        reasons.append(
            InfeasibilityReason(
                line_no=None, constraint="ship_complete", detail="no single eligible node can ship every line"
            )
        )
    return reasons


def _serves_whole_order(instance: RoutingInstance, node: RoutingNode) -> bool:
    if any(node_rule_violations(instance, node, line) for line in instance.lines):
        return False
    need: dict[str, int] = {}
    for line in instance.lines:
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    units = sum(need.values())
    return units <= node.capacity_left and all(instance.available(node.code, sku) >= q for sku, q in need.items())
