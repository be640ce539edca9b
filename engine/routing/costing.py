"""The one cost function that prices a plan, shared by the solver, the greedy fallback and the baselines.

Every term is an integer in units of 1/`COST_SCALE` of the currency, built from the same rounded
coefficients the CP-SAT model uses, so the solver's objective and `cost_of` agree exactly and comparisons
with the baselines are fair. Weights become whole grams; beyond the last rate bracket the carrier bills
every started kilogram. Bracket prices are found by bisection and their weighted, scaled values cached per
service object (`_scaled_prices`); `rate_segments` is the cheapest-service step function the solver models.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.routing.instance import (
    Assignment,
    CostBreakdown,
    RoutingInstance,
    RoutingLine,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
    ServiceOption,
    Shipment,
)

COST_SCALE = 10_000


def scaled(amount: float) -> int:
    return round(amount * COST_SCALE)


def unscaled(amount: int) -> float:
    return round(amount / COST_SCALE, 4)


def unit_grams(line: RoutingLine) -> int:
    return round(line.unit_weight_kg * 1000)


def bracket_limits_g(service: ServiceOption) -> list[int]:
    return service.limits_g


def kg_beyond(service: ServiceOption, weight_g: int) -> int:
    """Started kilograms above the last bracket (0 inside the brackets)."""
    return max(0, math.ceil((weight_g - bracket_limits_g(service)[-1]) / 1000))


def carrier_price(service: ServiceOption, weight_g: int) -> float:
    """Unweighted price of one shipment of `weight_g` grams with this service."""
    index = bisect_left(bracket_limits_g(service), weight_g)
    if index < len(service.brackets):
        return service.brackets[index].price
    return service.brackets[-1].price + service.price_per_kg_beyond * kg_beyond(service, weight_g)


def shipping_cost_scaled(service: ServiceOption, weight_g: int, policy: RoutingPolicy) -> int:
    w = policy.weights.shipping_cost
    # The first bracket whose limit is >= the weight (limits ascend strictly).
    index = bisect_left(bracket_limits_g(service), weight_g)
    if index < len(service.brackets):
        return _scaled_prices(service, policy)[index]
    extra = kg_beyond(service, weight_g)
    return scaled(w * service.brackets[-1].price) + extra * scaled(w * service.price_per_kg_beyond)


def sla_cost_scaled(service: ServiceOption, policy: RoutingPolicy) -> int:
    return scaled(policy.weights.sla_risk * (1 - service.on_time_probability))


def service_cost_scaled(service: ServiceOption, weight_g: int, policy: RoutingPolicy) -> int:
    """The part of a shipment's cost that depends on the chosen service."""
    return shipping_cost_scaled(service, weight_g, policy) + sla_cost_scaled(service, policy)


def capacity_cost_per_unit_scaled(capacity_left: int, policy: RoutingPolicy) -> int:
    return scaled(policy.weights.capacity_balance / capacity_left) if capacity_left > 0 else 0


def markdown_credit_per_unit_scaled(instance: RoutingInstance, node: str, sku: str, policy: RoutingPolicy) -> int:
    return scaled(policy.weights.markdown_credit * instance.markdown_credit(node, sku))


def step_breakpoints(services: Sequence[ServiceOption], most_g: int) -> list[int]:
    """Upper ends (grams) of the weight segments inside which every service's price is constant.

    The union of all bracket limits, plus whole-kilogram steps for a service already beyond its last
    bracket while others still have brackets; segments above `most_g` are dropped.
    """
    if not services:
        return []
    top = max(bracket_limits_g(s)[-1] for s in services)
    points = {limit for s in services for limit in bracket_limits_g(s)}
    for service in services:
        points.update(range(bracket_limits_g(service)[-1] + 1000, top, 1000))
    ordered = sorted(points)
    kept = [p for p in ordered if p < most_g]
    return kept + [p for p in ordered if p >= most_g][:1]


@dataclass(frozen=True)
class RateSegment:
    """Shipment weights [lower, upper] (grams) inside which the cheapest SLA-meeting service costs `cost` (scaled)."""

    lower: int
    upper: int
    cost: int


_PRICE_TABLES: dict[tuple[int, float], tuple[ServiceOption, list[int]]] = {}
_ENVELOPES: dict[tuple[tuple[int, ...], float, float], tuple[list[ServiceOption], list[RateSegment]]] = {}
_CACHE_SIZE = 20_000


def _scaled_prices(service: ServiceOption, policy: RoutingPolicy) -> list[int]:
    """Weighted bracket prices, cached per service object (the entry keeps the object alive, so ids stay unique)."""
    key = (id(service), policy.weights.shipping_cost)
    found = _PRICE_TABLES.get(key)
    if found is None:
        if len(_PRICE_TABLES) >= _CACHE_SIZE:
            _PRICE_TABLES.clear()
        found = (service, [scaled(policy.weights.shipping_cost * b.price) for b in service.brackets])
        _PRICE_TABLES[key] = found
    return found[1]


def rate_segments(services: Sequence[ServiceOption], most_g: int, policy: RoutingPolicy) -> list[RateSegment]:
    """The node's shipping + SLA cost step function from 0 g to the longest rate card (or `most_g`).

    One segment per `step_breakpoints` piece, priced at its cheapest service, with neighbours of equal
    cost merged (exact: the cost is the same for every weight of both). The full function of a set of
    service objects is cached, so repeated destinations cost a lookup; segments above `most_g` are dropped.
    """
    if not services:
        return []
    top = max(bracket_limits_g(s)[-1] for s in services)
    key = (tuple(id(s) for s in services), policy.weights.shipping_cost, policy.weights.sla_risk)
    cached = _ENVELOPES.get(key)
    if cached is not None:
        full = cached[1]
    elif most_g < top:
        return _envelope(services, step_breakpoints(services, most_g), policy)
    else:
        if len(_ENVELOPES) >= _CACHE_SIZE:
            _ENVELOPES.clear()
        full = _envelope(services, step_breakpoints(services, top), policy)
        _ENVELOPES[key] = (list(services), full)
    return [segment for segment in full if segment.lower <= most_g]


def _envelope(services: Sequence[ServiceOption], points: Sequence[int], policy: RoutingPolicy) -> list[RateSegment]:
    tables = [(bracket_limits_g(s), _scaled_prices(s, policy), sla_cost_scaled(s, policy), s) for s in services]
    positions = [0] * len(tables)
    segments: list[RateSegment] = []
    lower = 0
    for upper in points:
        cost = UNSERVABLE
        for k, (limits, prices, sla, service) in enumerate(tables):
            i = positions[k]
            while i < len(limits) and limits[i] < upper:
                i += 1
            positions[k] = i
            price = prices[i] if i < len(limits) else shipping_cost_scaled(service, upper, policy)
            cost = min(cost, price + sla)
        if segments and segments[-1].cost == cost:
            segments[-1] = RateSegment(segments[-1].lower, upper, cost)
        else:
            segments.append(RateSegment(lower, upper, cost))
        lower = upper + 1
    return segments


def reachable_weights(items: Sequence[tuple[int, int]], cap: int) -> int:
    """Bit w is set when some choice of 0..`upper` units of each (grams, upper) item weighs w grams (w <= cap).

    Bounded subset sum on a Python int used as a bitset; multiplicities are split into 1, 2, 4, ... units.
    """
    mask = (1 << (cap + 1)) - 1
    reach = 1
    for grams, upper in items:
        if grams <= 0:
            continue
        left, chunk = min(upper, cap // grams), 1
        while left > 0:
            take = min(chunk, left)
            reach |= (reach << (grams * take)) & mask
            left -= take
            chunk *= 2
    return reach


def shipment_weight_g(instance: RoutingInstance, assignments: Sequence[Assignment], node: str) -> int:
    return sum(a.quantity * unit_grams(instance.line(a.line_no)) for a in assignments if a.node == node)


def best_service(instance: RoutingInstance, policy: RoutingPolicy, node: str, weight_g: int) -> ServiceOption | None:
    """The cheapest service from `node` that meets the deadline, for a shipment of `weight_g` grams."""
    options = [s for s in instance.services_from(node) if instance.meets_sla(s)]
    if not options:
        return None
    return min(options, key=lambda s: (service_cost_scaled(s, weight_g, policy), s.key))


def choose_services(
    instance: RoutingInstance, policy: RoutingPolicy, assignments: Sequence[Assignment]
) -> dict[str, str]:
    """The cheapest SLA-meeting service per used node (nodes without one are left out)."""
    chosen: dict[str, str] = {}
    for node in sorted({a.node for a in assignments}):
        service = best_service(instance, policy, node, shipment_weight_g(instance, assignments, node))
        if service is not None:
            chosen[node] = service.key
    return chosen


@dataclass(frozen=True)
class PlanCost:
    breakdown: CostBreakdown
    shipments: list[Shipment]
    total_scaled: int


def _breakdown(terms: Mapping[str, int]) -> CostBreakdown:
    return CostBreakdown(**{k: unscaled(v) for k, v in terms.items()}, total=unscaled(sum(terms.values())))


def _shipment_terms(
    instance: RoutingInstance,
    policy: RoutingPolicy,
    node_code: str,
    service: ServiceOption,
    items: Sequence[tuple[int, int]],
    weight_g: int,
) -> dict[str, int]:
    """Scaled cost terms of one shipment of `items` (line_no, quantity) from `node_code` via `service`."""
    weights = policy.weights
    node = instance.node(node_code)
    units = sum(q for _, q in items)
    return {
        "shipping": shipping_cost_scaled(service, weight_g, policy),
        "handling": scaled(weights.handling_cost * node.handling_cost_per_shipment)
        + units * scaled(weights.handling_cost * node.handling_cost_per_unit),
        "sla_risk": sla_cost_scaled(service, policy),
        "markdown": -sum(
            q * markdown_credit_per_unit_scaled(instance, node_code, instance.line(ln).sku, policy) for ln, q in items
        ),
        "capacity_balance": units * capacity_cost_per_unit_scaled(node.capacity_left, policy),
    }


UNSERVABLE = 1 << 62


def quick_cost(instance: RoutingInstance, policy: RoutingPolicy, plan: Mapping[tuple[int, str], int]) -> int:
    """Scaled total of a plan {(line_no, node): quantity} with the cheapest services, without building models.

    Equal to `cost_of(..., choose_services(...)).total_scaled`; `UNSERVABLE` if a node has no SLA-meeting service.
    """
    by_node: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (line_no, node), quantity in plan.items():
        if quantity > 0:
            by_node[node].append((line_no, quantity))
    total = scaled(policy.weights.split_penalty) * max(0, len(by_node) - 1)
    for node_code, items in by_node.items():
        cost = shipment_cost(instance, policy, node_code, items)
        if cost >= UNSERVABLE:
            return UNSERVABLE
        total += cost
    return total


def shipment_cost(
    instance: RoutingInstance, policy: RoutingPolicy, node_code: str, items: Sequence[tuple[int, int]]
) -> int:
    """Scaled cost of one shipment of `items` (line_no, quantity) with the cheapest service (split penalty aside)."""
    if not items:
        return 0
    weight_g = sum(q * unit_grams(instance.line(ln)) for ln, q in items)
    service = best_service(instance, policy, node_code, weight_g)
    if service is None:
        return UNSERVABLE
    return sum(_shipment_terms(instance, policy, node_code, service, items, weight_g).values())


def cost_of(
    instance: RoutingInstance, policy: RoutingPolicy, assignments: Sequence[Assignment], services: Mapping[str, str]
) -> PlanCost:
    """Price a plan: one shipment per used node with the service named in `services` (carrier/level)."""
    by_node: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in assignments:
        by_node[a.node].append((a.line_no, a.quantity))
    totals: dict[str, int] = defaultdict(int)
    shipments: list[Shipment] = []
    for node_code in sorted(by_node):
        service = instance.service(node_code, services[node_code])
        if service is None:
            raise ValueError(f"no service {services[node_code]!r} from node {node_code}")
        items = by_node[node_code]
        weight_g = sum(q * unit_grams(instance.line(ln)) for ln, q in items)
        terms = _shipment_terms(instance, policy, node_code, service, items, weight_g)
        for key, value in terms.items():
            totals[key] += value
        shipments.append(
            Shipment(
                node=node_code,
                carrier=service.carrier,
                service_level=service.service_level,
                units=sum(q for _, q in items),
                weight_kg=weight_g / 1000,
                price=round(carrier_price(service, weight_g), 4),
                transit_days=service.transit_days,
                on_time_probability=service.on_time_probability,
                cost=_breakdown(terms),
            )
        )
    totals["split"] = scaled(policy.weights.split_penalty) * max(0, len(shipments) - 1)
    return PlanCost(breakdown=_breakdown(totals), shipments=shipments, total_scaled=sum(totals.values()))


def build_solution(
    instance: RoutingInstance,
    policy: RoutingPolicy,
    assignments: Sequence[Assignment],
    services: Mapping[str, str],
    status: RoutingStatus,
    solver: str,
    solve_time_ms: float = 0.0,
    best_bound: float | None = None,
) -> RoutingSolution:
    """A solution priced with `cost_of`, assignments in (line, node) order."""
    ordered = sorted(assignments, key=lambda a: (a.line_no, a.node))
    plan = cost_of(instance, policy, ordered, services)
    return RoutingSolution(
        status=status,
        assignments=ordered,
        shipments=plan.shipments,
        cost=plan.breakdown,
        objective=plan.breakdown.total,
        best_bound=best_bound,
        solve_time_ms=solve_time_ms,
        policy_version=policy.version,
        solver=solver,
    )
