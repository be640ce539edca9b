"""A fast heuristic for when CP-SAT finds nothing in time: cheapest node per line, then merge shipments.

Plans are dicts {(line_no, node): quantity} priced with `quick_cost`, which equals `cost_of`. A line's
node is chosen by the change in its shipment's cost (`_marginal`), the same order as re-pricing the plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from engine.routing.costing import build_solution, choose_services, quick_cost, scaled, shipment_cost, unit_grams
from engine.routing.eligibility import eligible_nodes, max_shipments, precheck
from engine.routing.instance import (
    Assignment,
    InfeasibilityReason,
    RoutingInstance,
    RoutingLine,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
)

Plan = dict[tuple[int, str], int]


class Ledger:
    """Stock and capacity left while a plan is built."""

    def __init__(self, instance: RoutingInstance) -> None:
        self.instance = instance
        self.taken_stock: dict[tuple[str, str], int] = defaultdict(int)
        self.taken_capacity: dict[str, int] = defaultdict(int)

    def room(self, node: str, sku: str) -> int:
        stock_left = self.instance.available(node, sku) - self.taken_stock[node, sku]
        return min(stock_left, self.instance.node(node).capacity_left - self.taken_capacity[node])

    def take(self, node: str, sku: str, quantity: int) -> None:
        self.taken_stock[node, sku] += quantity
        self.taken_capacity[node] += quantity


def fits(instance: RoutingInstance, plan: Mapping[tuple[int, str], int]) -> bool:
    """Stock and capacity hold for the plan."""
    per_stock: dict[tuple[str, str], int] = defaultdict(int)
    per_node: dict[str, int] = defaultdict(int)
    for (line_no, node), quantity in plan.items():
        per_stock[node, instance.line(line_no).sku] += quantity
        per_node[node] += quantity
    return all(q <= instance.available(n, sku) for (n, sku), q in per_stock.items()) and all(
        q <= instance.node(n).capacity_left for n, q in per_node.items()
    )


def _assign_lines(instance: RoutingInstance, policy: RoutingPolicy, eligible: dict[int, list[str]]) -> Plan | None:
    ledger = Ledger(instance)
    plan: Plan = {}
    heaviest_first = sorted(instance.lines, key=lambda line: (-line.quantity * unit_grams(line), line.line_no))
    for line in heaviest_first:
        candidates = eligible[line.line_no]
        whole = [c for c in candidates if ledger.room(c, line.sku) >= line.quantity]
        if whole:
            # The same order as pricing the whole plan with each candidate: only that node's shipment changes.
            best = min(whole, key=lambda c: (_marginal(instance, policy, plan, line.line_no, c, line.quantity), c))
            plan[line.line_no, best] = line.quantity
            ledger.take(best, line.sku, line.quantity)
            continue
        if not _fill(plan, ledger, line, sorted(candidates, key=lambda c: (-ledger.room(c, line.sku), c))):
            return None
    return plan


def _marginal(
    instance: RoutingInstance, policy: RoutingPolicy, plan: Plan, line_no: int, node: str, quantity: int
) -> int:
    """Extra cost of adding `quantity` units of a line to the shipment from `node` (split penalty included)."""
    items = [(ln, q) for (ln, n), q in plan.items() if n == node]
    before = shipment_cost(instance, policy, node, items) if items else -scaled(policy.weights.split_penalty)
    return shipment_cost(instance, policy, node, [*items, (line_no, quantity)]) - before


def _merge(
    instance: RoutingInstance, policy: RoutingPolicy, plan: Plan, limit: int | None, eligible: dict[int, list[str]]
) -> Plan:
    """Move whole shipments onto other used nodes while that lowers cost or the shipment limit demands it."""
    while True:
        nodes = sorted({node for _, node in plan})
        over_limit = limit is not None and len(nodes) > limit
        current = quick_cost(instance, policy, plan)
        best: tuple[int, Plan] | None = None
        for source in nodes:
            lines = [ln for ln, node in plan if node == source]
            for target in nodes:
                if source == target or any(target not in eligible[ln] for ln in lines):
                    continue
                moved = _move_shipment(plan, source, target)
                if not fits(instance, moved):
                    continue
                cost = quick_cost(instance, policy, moved)
                if best is None or cost < best[0]:
                    best = (cost, moved)
        if best is None or (best[0] >= current and not over_limit):
            return plan
        plan = best[1]


class _LocalSearch:
    """Best-improvement local search: relocate a whole line, or merge one shipment into another.

    Costs are kept per shipment, so a move is priced from the two or three shipments it touches.
    """

    def __init__(
        self,
        instance: RoutingInstance,
        policy: RoutingPolicy,
        plan: Plan,
        limit: int | None,
        eligible: dict[int, list[str]],
    ) -> None:
        self.instance = instance
        self.policy = policy
        self.limit = limit
        self.eligible = eligible
        self.split = scaled(policy.weights.split_penalty)
        self.memo: dict[tuple[str, tuple[tuple[int, int], ...]], int] = {}
        self.by_node: dict[str, dict[int, int]] = defaultdict(dict)
        for (line_no, node), quantity in plan.items():
            self.by_node[node][line_no] = quantity
        self.cost = {node: self._cost(node, items) for node, items in self.by_node.items()}

    def _cost(self, node: str, items: Mapping[int, int]) -> int:
        key = (node, tuple(sorted(items.items())))
        if key not in self.memo:
            self.memo[key] = shipment_cost(self.instance, self.policy, node, list(items.items()))
        return self.memo[key]

    def _fits(self, node: str, items: Mapping[int, int]) -> bool:
        if sum(items.values()) > self.instance.node(node).capacity_left:
            return False
        per_sku: dict[str, int] = defaultdict(int)
        for line_no, quantity in items.items():
            per_sku[self.instance.line(line_no).sku] += quantity
        return all(q <= self.instance.available(node, sku) for sku, q in per_sku.items())

    def _split_delta(self, before: int, after: int) -> int:
        return self.split * (max(0, after - 1) - max(0, before - 1))

    def run(self) -> Plan:
        while (move := self._best_move()) is not None:
            for node, items in move.items():
                if items:
                    self.by_node[node] = dict(items)
                    self.cost[node] = self._cost(node, items)
                else:
                    self.by_node.pop(node, None)
                    self.cost.pop(node, None)
        return {(ln, node): q for node, items in self.by_node.items() for ln, q in items.items()}

    def _best_move(self) -> dict[str, dict[int, int]] | None:
        best: tuple[int, dict[str, dict[int, int]]] | None = None
        for change in [*self._relocations(), *self._merges()]:
            count = len(self.by_node)
            new_count = len({n for n in self.by_node if n not in change} | {n for n, items in change.items() if items})
            if self.limit is not None and new_count > self.limit:
                continue
            delta = self._split_delta(count, new_count) + sum(
                self._cost(node, items) - self.cost.get(node, 0) for node, items in change.items()
            )
            if delta < 0 and (best is None or delta < best[0]):
                best = (delta, change)
        return best[1] if best else None

    def _relocations(self) -> list[dict[str, dict[int, int]]]:
        changes = []
        for line in self.instance.lines:
            sources = [n for n, items in self.by_node.items() if line.line_no in items]
            for target in self.eligible[line.line_no]:
                if sources == [target]:
                    continue
                moved = {k: v for k, v in self.by_node.get(target, {}).items() if k != line.line_no}
                moved[line.line_no] = line.quantity
                if not self._fits(target, moved):
                    continue
                change = {s: {k: v for k, v in self.by_node[s].items() if k != line.line_no} for s in sources}
                change[target] = moved
                changes.append(change)
        return changes

    def _merges(self) -> list[dict[str, dict[int, int]]]:
        changes = []
        for source, items in self.by_node.items():
            for target, existing in self.by_node.items():
                if source == target or any(target not in self.eligible[ln] for ln in items):
                    continue
                merged = dict(existing)
                for line_no, quantity in items.items():
                    merged[line_no] = merged.get(line_no, 0) + quantity
                if self._fits(target, merged):
                    changes.append({source: {}, target: merged})
        return changes


def _move_shipment(plan: Plan, source: str, target: str) -> Plan:
    moved: Plan = defaultdict(int)
    for (line_no, node), quantity in plan.items():
        moved[line_no, target if node == source else node] += quantity
    return dict(moved)


def _single_node_plan(instance: RoutingInstance, policy: RoutingPolicy, eligible: dict[int, list[str]]) -> Plan | None:
    options: list[tuple[int, str, Plan]] = []
    for node in instance.nodes:
        if any(node.code not in eligible[line.line_no] for line in instance.lines):
            continue
        plan = {(line.line_no, node.code): line.quantity for line in instance.lines}
        if fits(instance, plan):
            options.append((quick_cost(instance, policy, plan), node.code, plan))
    return min(options)[2] if options else None


def greedy_plan(instance: RoutingInstance, policy: RoutingPolicy) -> Plan | None:
    """A plan that meets every hard constraint, or None when the heuristic finds none."""
    if precheck(instance, policy):
        return None
    eligible = {line.line_no: eligible_nodes(instance, line) for line in instance.lines}
    limit = max_shipments(instance, policy)
    plan = _assign_lines(instance, policy, eligible)
    if plan is not None:
        plan = _merge(instance, policy, plan, limit, eligible)
        if limit is not None and len({node for _, node in plan}) > limit:
            plan = None
    candidates = [p for p in [plan, *_few_node_plans(instance, eligible, limit)] if p is not None]
    if not candidates:
        return None
    best = min(candidates, key=lambda p: quick_cost(instance, policy, p))
    return _LocalSearch(instance, policy, best, limit, eligible).run()


def _few_node_plans(instance: RoutingInstance, eligible: dict[int, list[str]], limit: int | None) -> list[Plan]:
    """Plans that use one node or a pair of nodes, each line from the node that would ship it alone cheapest.

    Most good plans have one to three shipments; starting the local search from the best one- or
    two-node plan lets it escape the per-line greedy's choice of nodes.
    """
    codes = sorted({code for nodes in eligible.values() for code in nodes})
    subsets: list[tuple[str, ...]] = [(c,) for c in codes]
    if limit is None or limit >= 2:
        subsets += [(a, b) for i, a in enumerate(codes) for b in codes[i + 1 :]]
    plans = []
    for subset in subsets:
        plan = _plan_within(instance, eligible, subset)
        if plan is not None:
            plans.append(plan)
    return plans


def _plan_within(instance: RoutingInstance, eligible: dict[int, list[str]], subset: tuple[str, ...]) -> Plan | None:
    ledger = Ledger(instance)
    plan: Plan = {}
    for line in instance.lines:
        allowed = [c for c in subset if c in eligible[line.line_no]]
        whole = [c for c in allowed if ledger.room(c, line.sku) >= line.quantity]
        if not _fill(plan, ledger, line, whole[:1] or sorted(allowed, key=lambda c: -ledger.room(c, line.sku))):
            return None
    return plan


def _fill(plan: Plan, ledger: Ledger, line: RoutingLine, codes: list[str]) -> bool:
    """Take the line's units from `codes` in order, as much as each has room for; True when covered."""
    left = line.quantity
    for code in codes:
        take = min(left, ledger.room(code, line.sku))
        if take > 0:
            plan[line.line_no, code] = take
            ledger.take(code, line.sku, take)
            left -= take
    return left == 0


def greedy_solution(instance: RoutingInstance, policy: RoutingPolicy) -> RoutingSolution:
    """A feasible plan with status `fallback`, or `infeasible` with reasons when the heuristic finds none."""
    plan = greedy_plan(instance, policy)
    if plan is None:
        reasons = precheck(instance, policy) or [
            InfeasibilityReason(
                line_no=None,
                constraint="heuristic",
                detail="the greedy heuristic found no plan that meets stock, capacity and the shipment limit",
            )
        ]
        return RoutingSolution(
            status=RoutingStatus.INFEASIBLE, reasons=reasons, policy_version=policy.version, solver="greedy"
        )
    assignments = [Assignment(line_no=ln, node=node, quantity=q) for (ln, node), q in plan.items() if q > 0]
    services = choose_services(instance, policy, assignments)
    return build_solution(instance, policy, assignments, services, RoutingStatus.FALLBACK, "greedy")
