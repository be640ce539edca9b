"""The CP-SAT sourcing model: order lines x eligible nodes x carrier service, with a greedy fallback.

Why CP-SAT and not the MIP interface: measured on 40 random 10-line x 20-node orders with one thread
(the same linear model built through `pywraplp`), CP-SAT needed a median 84 ms of CPU to prove the
optimum, SCIP 170 ms, CBC 145 ms and HiGHS 1.7 s; the objectives agreed. Every cost is an integer
(`engine/routing/costing.py`), so CP-SAT's optimum is exact, with no MIP tolerances.

Rate card: per used node the shipping cost is a step function of the shipment weight (whole grams).
`rate_segments` cuts the weight range into segments inside which every SLA-meeting service has a
constant price, priced at the cheapest service, with equal-priced neighbours merged; each segment is a
boolean plus its share of the weight, with `lower * chosen <= share <= upper * chosen` (the convex-hull
formulation of the disjunction, much tighter than big-M "weight <= limit if chosen"). Segments that no
shipment from the node can weigh (a bounded subset sum of the lines' unit weights, `reachable_weights`)
are dropped and the others narrowed to the weights they can hold: exact, it only removes impossible
choices. Above all brackets there is one segment per service, charged per started kilogram through an
integer variable, leaving out a service that costs no less at the last bracket and per kilogram than
another with the same last bracket. The service itself is then read back as the cheapest one for the
shipped weight (`choose_services`).

Solving: the pre-check returns named reasons for orders that cannot be served; the greedy plan
(`engine/routing/greedy.py`) is computed first. With `RoutingConfig.candidate_nodes` set (the default),
the model only holds the greedy plan's nodes, each line's two cheapest nodes and the best few others by a
whole-order estimate (`candidate_nodes`): a heuristic cut, so "optimal" then means optimal over those
nodes and no bound is reported; it never makes a feasible order infeasible (the greedy plan is inside),
and tests check it reaches the full model's optimum on seeded random orders. `candidate_nodes=None`
builds the full, exact model. The greedy plan is given to CP-SAT as a complete hint. `time_limit_s` is
the whole decision's budget: when the greedy plan and the model building have used it up the greedy plan
is returned (status `fallback`), else CP-SAT gets what is left less a small reserve for pricing the plan.
Without a proof of optimality the cheaper of CP-SAT's and the greedy plan is returned (status
`fallback` when it is the greedy one).

Measured on the eval day's B2B orders of up to 10 lines (`python -m evals.routing`, 22 nodes): building
the model took a median 31 ms before these changes (the bracket prices were recomputed per segment and
service), most of a 45 ms budget, and the decision overran the budget; the full optimum of 191 such orders
lay inside the candidate set every time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from engine.routing.costing import (
    COST_SCALE,
    bracket_limits_g,
    build_solution,
    capacity_cost_per_unit_scaled,
    choose_services,
    kg_beyond,
    markdown_credit_per_unit_scaled,
    quick_cost,
    rate_segments,
    reachable_weights,
    scaled,
    service_cost_scaled,
    shipment_cost,
    shipping_cost_scaled,
    sla_cost_scaled,
    unit_grams,
)
from engine.routing.eligibility import eligible_nodes, max_shipments, precheck
from engine.routing.greedy import Plan, greedy_plan
from engine.routing.instance import (
    Assignment,
    InfeasibilityReason,
    RoutingConfig,
    RoutingInstance,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
    ServiceOption,
)

# Each line's cheapest nodes (shipped alone, per unit) kept besides the whole-order ranking: with 2 and four
# ranked nodes, every optimum of 55 random 10 x 20 orders and 191 B2B orders of the eval day lay inside the set.
_CANDIDATES_PER_LINE = 2
# Left of the budget for reading the plan back and pricing it once CP-SAT stops (measured under 1 ms).
_FINISH_RESERVE_S = 0.002


@dataclass(frozen=True)
class _Segment:
    """One piece of a node's shipping-cost step function and the variables that select it."""

    chosen: cp_model.IntVar
    share: cp_model.IntVar
    lower: int
    upper: int
    extra_kg: cp_model.IntVar | None
    service: ServiceOption | None


class SourcingSolver:
    """Builds the model in named steps and solves it; `solve()` never raises for an infeasible order."""

    def __init__(self, instance: RoutingInstance, policy: RoutingPolicy, config: RoutingConfig | None = None) -> None:
        self.instance = instance
        self.policy = policy
        self.config = config or RoutingConfig()
        self.model = cp_model.CpModel()
        self._x: dict[tuple[int, str], cp_model.IntVar] = {}
        self._upper: dict[tuple[int, str], int] = {}
        self._used: dict[str, cp_model.IntVar] = {}
        self._weight: dict[str, cp_model.IntVar] = {}
        self._most: dict[str, int] = {}
        self._segment_weight: list[cp_model.IntVar] = []
        self._segments: dict[str, list[_Segment]] = defaultdict(list)
        self._objective: list[cp_model.LinearExprT] = []
        self._pruned = False

    def solve(self) -> RoutingSolution:
        started = time.perf_counter()
        reasons = precheck(self.instance, self.policy)
        if reasons:
            return self._infeasible(reasons, started)
        greedy = greedy_plan(self.instance, self.policy)
        deadline = started + self.config.time_limit_s
        if greedy is not None and self.config.greedy_fallback and _past(deadline):
            return self._solution(greedy, RoutingStatus.FALLBACK, "greedy", started, None)
        self._add_variables(self._allowed_nodes(greedy))
        self._add_demand_constraints()
        self._add_stock_and_capacity_constraints()
        self._add_shipment_constraints()
        self._add_service_and_rate_constraints()
        self._add_objective()
        if greedy is not None:
            self._add_hint(greedy)
        if greedy is not None and self.config.greedy_fallback and _past(deadline):
            return self._solution(greedy, RoutingStatus.FALLBACK, "greedy", started, None)
        solver = cp_model.CpSolver()
        # The greedy plan and the model building took part of the budget; CP-SAT gets the rest.
        solver.parameters.max_time_in_seconds = max(0.001, deadline - _FINISH_RESERVE_S - time.perf_counter())
        solver.parameters.num_workers = self.config.workers
        solver.parameters.random_seed = self.config.seed
        # Full linearisation into the LP: on 60 random 10 x 20 orders it cut the median CPU time to prove
        # the optimum by about a third and the worst case by half (the gap is in the fixed shipment costs).
        solver.parameters.linearization_level = 2
        # CP-SAT would install its own SIGINT handler for the solve and put back what it found; solves run in
        # several threads of a server at once, so the one put back can be another solve's, and Ctrl-C then
        # kills the process instead of stopping it cleanly. The process keeps its own handler.
        solver.parameters.catch_sigint_signal = False
        status = solver.solve(self.model)
        if status == cp_model.INFEASIBLE:
            # Only the full model proves infeasibility: a pruned one always holds the greedy plan.
            return self._infeasible([self._combined_reason()], started)
        found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        bound = round(solver.best_objective_bound / COST_SCALE, 4) if found and not self._pruned else None
        if greedy is not None and self.config.greedy_fallback and status != cp_model.OPTIMAL:
            # Without a proof CP-SAT may not have improved on (or even reached) the hinted plan.
            plan = self._plan(solver) if found else None
            if plan is None or quick_cost(self.instance, self.policy, greedy) < quick_cost(
                self.instance, self.policy, plan
            ):
                return self._solution(greedy, RoutingStatus.FALLBACK, "greedy", started, bound)
        if found:
            status_out = RoutingStatus.OPTIMAL if status == cp_model.OPTIMAL else RoutingStatus.FEASIBLE
            return self._solution(self._plan(solver), status_out, "cp-sat", started, bound)
        reason = InfeasibilityReason(line_no=None, constraint="time_limit", detail="no plan found in time")
        return self._infeasible([reason], started)

    def _allowed_nodes(self, greedy: Plan | None) -> set[str] | None:
        """The nodes the model may use: all (None) without a greedy plan or pruning, else `candidate_nodes`."""
        if greedy is None or self.config.candidate_nodes is None:
            return None
        allowed = candidate_nodes(
            self.instance, self.policy, greedy, self.config.candidate_nodes, per_line=_CANDIDATES_PER_LINE
        )
        self._pruned = any(
            code not in allowed for line in self.instance.lines for code in eligible_nodes(self.instance, line)
        )
        return allowed

    def _add_variables(self, allowed: set[str] | None = None) -> None:
        for line in self.instance.lines:
            for code in eligible_nodes(self.instance, line):
                if allowed is not None and code not in allowed:
                    continue
                upper = min(
                    line.quantity, self.instance.available(code, line.sku), self.instance.node(code).capacity_left
                )
                self._x[line.line_no, code] = self.model.new_int_var(0, upper, f"x_{line.line_no}_{code}")
                self._upper[line.line_no, code] = upper
        for code in sorted({code for _, code in self._x}):
            self._used[code] = self.model.new_bool_var(f"used_{code}")
            most = sum(unit_grams(self.instance.line(ln)) * u for (ln, c), u in self._upper.items() if c == code)
            self._weight[code] = self.model.new_int_var(0, most, f"weight_g_{code}")
            self._most[code] = most

    def _add_demand_constraints(self) -> None:
        for line in self.instance.lines:
            self.model.add(sum(v for (ln, _), v in self._x.items() if ln == line.line_no) == line.quantity)

    def _add_stock_and_capacity_constraints(self) -> None:
        by_stock: dict[tuple[str, str], list[cp_model.IntVar]] = defaultdict(list)
        by_node: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        for (line_no, code), var in self._x.items():
            by_stock[code, self.instance.line(line_no).sku].append(var)
            by_node[code].append(var)
        for (code, sku), variables in by_stock.items():
            if len(variables) > 1:
                self.model.add(sum(variables) <= self.instance.available(code, sku))
        for code, variables in by_node.items():
            if len(variables) > 1:
                self.model.add(sum(variables) <= self.instance.node(code).capacity_left)

    def _add_shipment_constraints(self) -> None:
        for code, used in self._used.items():
            variables = [v for (_, c), v in self._x.items() if c == code]
            for key, var in self._x.items():
                if key[1] == code:
                    self.model.add(var <= self._upper[key] * used)
            self.model.add(sum(variables) >= used)
            self.model.add(
                self._weight[code]
                == sum(unit_grams(self.instance.line(ln)) * v for (ln, c), v in self._x.items() if c == code)
            )
        limit = max_shipments(self.instance, self.policy)
        if limit is not None:
            self.model.add(sum(self._used.values()) <= limit)

    def _add_service_and_rate_constraints(self) -> None:
        for code, used in self._used.items():
            services = [s for s in self.instance.services_from(code) if self.instance.meets_sla(s)]
            most = self._most[code]
            segments: list[cp_model.IntVar] = []
            parts: list[cp_model.IntVar] = []
            lower = most + 1
            for index, (low, high, cost) in enumerate(self._reachable_segments(code, services, most)):
                # Inside a segment every service's price is constant, so the node pays the cheapest one.
                segments.append(self._weight_segment(code, f"seg{index}", low, high, cost))
                parts.append(self._segment_weight[-1])
                self._segments[code].append(_Segment(segments[-1], parts[-1], low, high, None, None))
            if services:
                lower = max(bracket_limits_g(s)[-1] for s in services) + 1
            if services and lower <= most:
                for service in _undominated_beyond(services, self.policy):
                    beyond = self._weight_segment(code, f"beyond_{service.key}", lower, most, 0)
                    share = self._segment_weight[-1]
                    last = bracket_limits_g(service)[-1]
                    extra_kg = self.model.new_int_var(0, (most - last) // 1000 + 1, f"kg_{code}_{service.key}")
                    self.model.add(1000 * extra_kg >= share - last * beyond)
                    fixed = shipping_cost_scaled(service, last, self.policy) + sla_cost_scaled(service, self.policy)
                    per_kg = scaled(self.policy.weights.shipping_cost * service.price_per_kg_beyond)
                    self._objective.append(fixed * beyond + per_kg * extra_kg)
                    segments.append(beyond)
                    parts.append(share)
                    self._segments[code].append(_Segment(beyond, share, lower, most, extra_kg, service))
            self.model.add(sum(segments) == used)
            self.model.add(sum(parts) == self._weight[code])

    def _reachable_segments(
        self, code: str, services: list[ServiceOption], most: int
    ) -> list[tuple[int, int, int]]:
        """The node's rate segments that some shipment can weigh, each narrowed to the weights it can reach.

        Exact: a shipment's weight is a sum of whole units within each variable's bounds, so a segment
        without such a weight can never be chosen, and narrowing its bounds cuts no plan (it only tightens
        the LP). Weight 0 counts only when a weightless line may ship from the node.
        """
        segments = rate_segments(services, most, self.policy)
        if not segments:
            return []
        items = [(unit_grams(self.instance.line(ln)), u) for (ln, c), u in self._upper.items() if c == code]
        cap = min(most, segments[-1].upper)
        reach = reachable_weights(items, cap)
        if all(grams > 0 for grams, _ in items):
            reach &= ~1
        kept = []
        for segment in segments:
            window = (reach >> segment.lower) & ((1 << (segment.upper - segment.lower + 1)) - 1)
            if window:
                low = segment.lower + (window & -window).bit_length() - 1
                kept.append((low, segment.lower + window.bit_length() - 1, segment.cost))
        return kept

    def _weight_segment(self, code: str, name: str, lower: int, upper: int, cost: int) -> cp_model.IntVar:
        """A boolean for "the shipment weighs within [lower, upper]" and its share of the weight (convex hull)."""
        chosen = self.model.new_bool_var(f"{name}_{code}")
        share = self.model.new_int_var(0, upper, f"{name}_{code}_g")
        self.model.add(share >= lower * chosen)
        self.model.add(share <= upper * chosen)
        self._segment_weight.append(share)
        if cost:
            self._objective.append(cost * chosen)
        return chosen

    def _add_objective(self) -> None:
        weights = self.policy.weights
        for code, used in self._used.items():
            node = self.instance.node(code)
            self._objective.append(
                (scaled(weights.handling_cost * node.handling_cost_per_shipment) + scaled(weights.split_penalty)) * used
            )
        for (line_no, code), var in self._x.items():
            node = self.instance.node(code)
            sku = self.instance.line(line_no).sku
            per_unit = (
                scaled(weights.handling_cost * node.handling_cost_per_unit)
                + capacity_cost_per_unit_scaled(node.capacity_left, self.policy)
                - markdown_credit_per_unit_scaled(self.instance, code, sku, self.policy)
            )
            self._objective.append(per_unit * var)
        # The first shipment is free of the split penalty.
        self.model.minimize(sum(self._objective) - scaled(weights.split_penalty))

    def _add_hint(self, plan: Plan) -> None:
        """Start from the greedy plan: one worker then only has to improve and prove it."""
        for key, var in self._x.items():
            self.model.add_hint(var, plan.get(key, 0))
        for code, var in self._used.items():
            weight = sum(unit_grams(self.instance.line(ln)) * q for (ln, c), q in plan.items() if c == code)
            used = any(c == code and q > 0 for (_, c), q in plan.items())
            self.model.add_hint(var, used)
            self.model.add_hint(self._weight[code], weight)
            # The segment holding the weight; above the brackets, the beyond segment of the cheapest service.
            holding = [seg for seg in self._segments[code] if used and seg.lower <= weight <= seg.upper]
            chosen = min(
                holding,
                key=lambda seg: 0 if seg.service is None else service_cost_scaled(seg.service, weight, self.policy),
                default=None,
            )
            for seg in self._segments[code]:
                self.model.add_hint(seg.chosen, seg is chosen)
                self.model.add_hint(seg.share, weight if seg is chosen else 0)
                if seg.extra_kg is not None and seg.service is not None:
                    self.model.add_hint(seg.extra_kg, kg_beyond(seg.service, weight) if seg is chosen else 0)

    def _plan(self, solver: cp_model.CpSolver) -> Plan:
        return {key: solver.value(var) for key, var in self._x.items() if solver.value(var) > 0}

    def _solution(
        self, plan: Plan, status: RoutingStatus, name: str, started: float, bound: float | None
    ) -> RoutingSolution:
        assignments = [Assignment(line_no=ln, node=code, quantity=q) for (ln, code), q in plan.items()]
        services = choose_services(self.instance, self.policy, assignments)
        return build_solution(
            self.instance,
            self.policy,
            assignments,
            services,
            status,
            solver=name,
            solve_time_ms=_elapsed_ms(started),
            best_bound=bound,
        )

    def _combined_reason(self) -> InfeasibilityReason:
        limit = max_shipments(self.instance, self.policy)
        if limit is not None:
            detail = f"no plan covers every line within {limit} shipment(s) given stock and capacity"
            return InfeasibilityReason(line_no=None, constraint="max_shipments", detail=detail)
        detail = "lines compete for the same stock or pick capacity and cannot all be covered"
        return InfeasibilityReason(line_no=None, constraint="stock_or_capacity", detail=detail)

    def _infeasible(self, reasons: list[InfeasibilityReason], started: float) -> RoutingSolution:
        return RoutingSolution(
            status=RoutingStatus.INFEASIBLE,
            reasons=reasons,
            solve_time_ms=_elapsed_ms(started),
            policy_version=self.policy.version,
            solver="cp-sat",
        )


def _undominated_beyond(services: list[ServiceOption], policy: RoutingPolicy) -> list[ServiceOption]:
    """Services that may be the cheapest above the brackets: drop one whose card ends at the same weight
    as another's that costs no more at the last bracket and no more per kilogram beyond (ties keep the first)."""
    terms = [
        (
            bracket_limits_g(s)[-1],
            shipping_cost_scaled(s, bracket_limits_g(s)[-1], policy) + sla_cost_scaled(s, policy),
            scaled(policy.weights.shipping_cost * s.price_per_kg_beyond),
        )
        for s in services
    ]
    kept = []
    for i, (last, fixed, per_kg) in enumerate(terms):
        dominated = any(
            other_last == last
            and other_fixed <= fixed
            and other_per_kg <= per_kg
            and ((other_fixed, other_per_kg) != (fixed, per_kg) or j < i)
            for j, (other_last, other_fixed, other_per_kg) in enumerate(terms)
            if j != i
        )
        if not dominated:
            kept.append(services[i])
    return kept


def candidate_nodes(
    instance: RoutingInstance, policy: RoutingPolicy, greedy: Plan, extra: int, per_line: int = 0
) -> set[str]:
    """The greedy plan's nodes, each line's `per_line` cheapest and the `extra` best others by a whole-order estimate.

    A node's estimate is the cost of one shipment of everything it could ship of the order, plus the rest
    of the order at each line's cheapest cost per unit when shipped alone: it rewards nodes that can
    consolidate, which is what per-line rankings miss. The greedy plan stays inside the set, so a pruned
    model is never infeasible and its optimum never costs more than the greedy plan (tests compare it
    with the full model's optimum on seeded random orders).
    """
    kept = {code for (_, code), q in greedy.items() if q > 0}
    eligible = {line.line_no: eligible_nodes(instance, line) for line in instance.lines}
    per_unit: dict[int, float] = {}
    for line in instance.lines:
        costs = []
        for code in eligible[line.line_no]:
            room = min(line.quantity, instance.available(code, line.sku), instance.node(code).capacity_left)
            costs.append((shipment_cost(instance, policy, code, [(line.line_no, room)]) / room, code))
        costs.sort()
        per_unit[line.line_no] = costs[0][0] if costs else 0.0
        kept.update(code for _, code in costs[:per_line])
    estimates: list[tuple[float, str]] = []
    for code in sorted({c for codes in eligible.values() for c in codes} - kept):
        items: list[tuple[int, int]] = []
        capacity = instance.node(code).capacity_left
        for line in instance.lines:
            room = min(line.quantity, instance.available(code, line.sku), capacity)
            if code in eligible[line.line_no] and room > 0:
                items.append((line.line_no, room))
                capacity -= room
        covered = dict(items)
        rest = sum((line.quantity - covered.get(line.line_no, 0)) * per_unit[line.line_no] for line in instance.lines)
        estimates.append((shipment_cost(instance, policy, code, items) + rest, code))
    return kept | {code for _, code in sorted(estimates)[:extra]}


def _past(deadline: float) -> bool:
    return time.perf_counter() >= deadline


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
