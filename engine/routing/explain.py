"""Why a plan was chosen: nodes considered, cost breakdown, best alternative per line, binding constraints.

Alternatives and binding constraints move one line at a time (whole line to another node, every other
line kept) and price the result with `quick_cost`, so the deltas are in the objective's own units.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from engine.routing.costing import COST_SCALE, UNSERVABLE, quick_cost
from engine.routing.eligibility import max_shipments, node_rule_violations
from engine.routing.greedy import fits
from engine.routing.instance import CostBreakdown, RoutingInstance, RoutingPolicy, RoutingSolution, Shipment

_MAX_BINDING_PER_LINE = 3


class NodeConsidered(BaseModel):
    node: str
    eligible_lines: list[int]
    ineligible: dict[int, list[str]]
    whole_order_cost: float | None = None  # objective if this node alone shipped everything (None: it cannot)


class Alternative(BaseModel):
    line_no: int
    chosen_nodes: list[str]
    node: str | None
    cost_delta: float | None
    note: str


class BindingConstraint(BaseModel):
    line_no: int
    node: str
    constraints: list[str]
    saving: float
    detail: str


class Explanation(BaseModel):
    order_id: str
    status: str
    policy_version: int
    solver: str
    objective: float | None
    cost: CostBreakdown
    shipments: list[Shipment]
    nodes: list[NodeConsidered]
    alternatives: list[Alternative]
    binding: list[BindingConstraint]
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_text(self) -> str:
        out = [f"Order {self.order_id}: {self.status} by {self.solver} under policy v{self.policy_version}"]
        out += [f"  reason: {r}" for r in self.reasons]
        for s in self.shipments:
            out.append(
                f"  ship from {s.node} via {s.carrier} {s.service_level}: {s.units} units, {s.weight_kg:g} kg, "
                f"price {s.price:.2f}, {s.transit_days} d transit, on time {s.on_time_probability:.0%}, "
                f"cost {s.cost.total:.2f}"
            )
        c = self.cost
        out.append(
            f"  cost {c.total:.2f} = shipping {c.shipping:.2f} + handling {c.handling:.2f} + split {c.split:.2f}"
            f" + SLA risk {c.sla_risk:.2f} + markdown {c.markdown:.2f} + capacity {c.capacity_balance:.2f}"
        )
        for n in self.nodes:
            why = "; ".join(f"line {ln}: {', '.join(rs)}" for ln, rs in n.ineligible.items())
            alone = f"; alone it would cost {n.whole_order_cost:.2f}" if n.whole_order_cost is not None else ""
            out.append(f"  node {n.node}: eligible for lines {n.eligible_lines or '-'}" + (f" ({why})" if why else "")
                       + alone)
        for a in self.alternatives:
            out.append(f"  line {a.line_no} from {', '.join(a.chosen_nodes)}: {a.note}")
        for b in self.binding:
            out.append(f"  binding for line {b.line_no}: {b.detail}")
        return "\n".join(out)


def explain(instance: RoutingInstance, policy: RoutingPolicy, solution: RoutingSolution) -> Explanation:
    """Build the explanation stored with a routing decision."""
    plan = {(a.line_no, a.node): a.quantity for a in solution.assignments}
    nodes = [_node_considered(instance, policy, code) for code in (n.code for n in instance.nodes)]
    alternatives: list[Alternative] = []
    binding: list[BindingConstraint] = []
    if solution.is_feasible:
        current = quick_cost(instance, policy, plan)
        for line in instance.lines:
            alternatives.append(_best_alternative(instance, policy, plan, line.line_no, current))
            binding += _binding_for_line(instance, policy, plan, line.line_no, current)
    return Explanation(
        order_id=instance.order_id,
        status=solution.status.value,
        policy_version=solution.policy_version,
        solver=solution.solver,
        objective=solution.objective,
        cost=solution.cost,
        shipments=solution.shipments,
        nodes=nodes,
        alternatives=alternatives,
        binding=binding,
        reasons=[f"line {r.line_no or '-'}: {r.constraint}: {r.detail}" for r in solution.reasons],
    )


def _node_considered(instance: RoutingInstance, policy: RoutingPolicy, code: str) -> NodeConsidered:
    node = instance.node(code)
    eligible: list[int] = []
    ineligible: dict[int, list[str]] = {}
    for line in instance.lines:
        found = node_rule_violations(instance, node, line)
        if found:
            ineligible[line.line_no] = [f"{constraint}: {detail}" for constraint, detail in found]
        else:
            eligible.append(line.line_no)
    whole: float | None = None
    if not ineligible:
        plan = {(line.line_no, code): line.quantity for line in instance.lines}
        cost = quick_cost(instance, policy, plan) if fits(instance, plan) else UNSERVABLE
        whole = round(cost / COST_SCALE, 4) if cost < UNSERVABLE else None
    return NodeConsidered(node=code, eligible_lines=eligible, ineligible=ineligible, whole_order_cost=whole)


def _moved(plan: dict[tuple[int, str], int], line_no: int, node: str, quantity: int) -> dict[tuple[int, str], int]:
    moved = {key: q for key, q in plan.items() if key[0] != line_no}
    moved[line_no, node] = quantity
    return moved


def _within_limit(instance: RoutingInstance, policy: RoutingPolicy, plan: dict[tuple[int, str], int]) -> bool:
    limit = max_shipments(instance, policy)
    return limit is None or len({node for _, node in plan}) <= limit


def _best_alternative(
    instance: RoutingInstance, policy: RoutingPolicy, plan: dict[tuple[int, str], int], line_no: int, current: int
) -> Alternative:
    line = instance.line(line_no)
    chosen = sorted(node for ln, node in plan if ln == line_no)
    options: list[tuple[int, str]] = []
    for node in instance.nodes:
        if chosen == [node.code] or node_rule_violations(instance, node, line):
            continue
        moved = _moved(plan, line_no, node.code, line.quantity)
        if fits(instance, moved) and _within_limit(instance, policy, moved):
            cost = quick_cost(instance, policy, moved)
            if cost < UNSERVABLE:
                options.append((cost, node.code))
    if not options:
        return Alternative(
            line_no=line_no, chosen_nodes=chosen, node=None, cost_delta=None, note="no other node could ship it"
        )
    cost, node_code = min(options)
    delta = (cost - current) / COST_SCALE
    note = f"best alternative {node_code} would cost {delta:+.2f}"
    return Alternative(line_no=line_no, chosen_nodes=chosen, node=node_code, cost_delta=round(delta, 4), note=note)


def _binding_for_line(
    instance: RoutingInstance, policy: RoutingPolicy, plan: dict[tuple[int, str], int], line_no: int, current: int
) -> list[BindingConstraint]:
    """Nodes that would have served the whole line more cheaply but for a hard constraint."""
    line = instance.line(line_no)
    relaxed = instance.model_copy(update={"deadline_days": 10**6})
    found: list[BindingConstraint] = []
    for node in instance.nodes:
        if sorted(n for ln, n in plan if ln == line_no) == [node.code]:
            continue
        moved = _moved(plan, line_no, node.code, line.quantity)
        violated = [c for c, _ in node_rule_violations(instance, node, line) if c not in ("stock", "capacity")]
        if not fits(instance, moved):
            violated += _stock_or_capacity(instance, moved, node.code)
        if not _within_limit(instance, policy, moved):
            violated.append("max_shipments")
        if not violated or ("stock" in violated and instance.available(node.code, line.sku) == 0):
            continue
        cost = quick_cost(relaxed if "sla" in violated else instance, policy, moved)
        if cost >= current:
            continue
        saving = (current - cost) / COST_SCALE
        detail = f"{node.code} would save {saving:.2f} but {', '.join(violated)} rule(s) it out"
        found.append(
            BindingConstraint(
                line_no=line_no, node=node.code, constraints=violated, saving=round(saving, 4), detail=detail
            )
        )
    found.sort(key=lambda b: -b.saving)
    return found[:_MAX_BINDING_PER_LINE]


def _stock_or_capacity(instance: RoutingInstance, plan: dict[tuple[int, str], int], node: str) -> list[str]:
    units = sum(q for (_, n), q in plan.items() if n == node)
    found = ["capacity"] if units > instance.node(node).capacity_left else []
    per_sku: dict[str, int] = {}
    for (ln, n), q in plan.items():
        if n == node:
            sku = instance.line(ln).sku
            per_sku[sku] = per_sku.get(sku, 0) + q
    if any(q > instance.available(node, sku) for sku, q in per_sku.items()):
        found.append("stock")
    return found
