"""Turn a generated day of orders into routing instances against the current stock and capacity.

One `DayState` per routing method: each method consumes its own copy of the network's stock and pick
capacity, so the n-th order of the day is routed against what that method's earlier decisions left.

Mapping from the scenario network (evals/scenarios) to a `RoutingInstance`:
- lines: unit weight in kg from the SKU's pounds; hazmat from the SKU.
- nodes: every node of the network; `capacity_left` is the daily pick capacity less the units this
  method has already assigned; `days_to_ship` is 0 when the order arrives before the node's local
  cutoff and 1 otherwise; hazmat and B2B-only flags from the node.
- stock: units on hand per (node, SKU) less this method's earlier assignments (positions at zero are left out).
- services: every carrier x service of the network from the node (its own coordinates) to the order's
  destination ZIP3: the zone, transit days and on-time probability of that lane, and the rate card as
  one bracket per billable pound (1-70 lb, in kg). Above 70 lb the network bills whole 70 lb packages
  plus the rest; here that is approximated by the 70 lb price per started kilogram beyond 70 lb
  (`rate(70 lb) / 31.75 kg`), the same average price per kilogram.
- deadline_days: business days from the order date to the promised date (transit is in business days,
  weekends skipped, as in the promise of evals/scenarios/orders.py).
- b2b from the channel (EDI or email), ship_complete from the account.
- markdown: a stated assumption, not in the network: a SKU flagged `markdown_risk` (seasonal) earns a
  credit of `MARKDOWN_CREDIT_PER_UNIT` per unit shipped from a store, where seasonal stock is marked
  down if it stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.routing.instance import (
    Assignment,
    MarkdownRisk,
    RateBracket,
    RoutingInstance,
    RoutingLine,
    RoutingNode,
    ServiceOption,
    StockPosition,
)
from evals.scenarios.network import MAX_PACKAGE_LB, Network, Node
from evals.scenarios.orders import B2B_CHANNELS, Order

KG_PER_LB = 0.45359237
MARKDOWN_CREDIT_PER_UNIT = 0.50


def business_days_between(start: date, end: date) -> int:
    """Business days after `start` up to and including `end` (0 when `end` <= `start`)."""
    days, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days


def days_to_ship(node: Node, placed_at: datetime) -> int:
    """0 when the order reaches the node before its local cutoff today, else 1."""
    local = placed_at.astimezone(ZoneInfo(node.timezone))
    return 0 if local.time() < node.cutoff_local else 1


class ServiceCatalog:
    """Service options per (node, destination ZIP3), built once and shared (they are immutable)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._cache: dict[tuple[str, str], list[ServiceOption]] = {}
        self._cards: dict[tuple[str, str, int], list[RateBracket]] = {}

    def services(self, node: str, zip3: str) -> list[ServiceOption]:
        key = (node, zip3)
        found = self._cache.get(key)
        if found is None:
            found = self._build(node, zip3)
            self._cache[key] = found
        return found

    def _build(self, node: str, zip3: str) -> list[ServiceOption]:
        net = self.network
        zone = net.zone(node, zip3)
        out: list[ServiceOption] = []
        for carrier in net.carriers:
            for service in carrier.services:
                card = (carrier.code, service.value, zone)
                brackets = self._cards.get(card)
                if brackets is None:
                    brackets = [
                        RateBracket(max_weight_kg=lb * KG_PER_LB, price=net.rates[(carrier.code, service, zone, lb)])
                        for lb in range(1, MAX_PACKAGE_LB + 1)
                    ]
                    self._cards[card] = brackets
                per_kg = net.rates[(carrier.code, service, zone, MAX_PACKAGE_LB)] / (MAX_PACKAGE_LB * KG_PER_LB)
                out.append(
                    ServiceOption(
                        node=node,
                        carrier=carrier.code,
                        service_level=service.value,
                        zone=zone,
                        transit_days=net.transit[(carrier.code, service, zone)],
                        on_time_probability=net.on_time(carrier.code, service, node, zip3),
                        brackets=brackets,
                        price_per_kg_beyond=round(per_kg, 4),
                    )
                )
        return out


class DayState:
    """Stock and pick capacity left for one method as the day goes on."""

    def __init__(self, network: Network, catalog: ServiceCatalog | None = None) -> None:
        self.network = network
        self.catalog = catalog or ServiceCatalog(network)
        self.stock: dict[tuple[str, str], int] = {(node, sku): q for (sku, node), q in network.stock.items()}
        self.capacity: dict[str, int] = {n.code: n.daily_pick_capacity for n in network.nodes}
        self._skus = {s.code: s for s in network.skus}

    def copy(self) -> DayState:
        other = DayState.__new__(DayState)
        other.network, other.catalog, other._skus = self.network, self.catalog, self._skus
        other.stock, other.capacity = dict(self.stock), dict(self.capacity)
        return other

    def instance(self, order: Order) -> RoutingInstance:
        """The order as a routing instance against the stock and capacity left now."""
        lines = [
            RoutingLine(
                line_no=i,
                sku=ln.sku,
                quantity=ln.quantity,
                unit_weight_kg=round(self._skus[ln.sku].weight_lb * KG_PER_LB, 4),
                hazmat=self._skus[ln.sku].hazmat,
            )
            for i, ln in enumerate(order.lines, 1)
        ]
        nodes = [
            RoutingNode(
                code=n.code,
                node_type="store" if n.kind == "store" else ("3pl" if n.kind == "3pl" else "warehouse"),
                hazmat_capable=n.hazmat_capable,
                b2b_only=n.b2b_only,
                capacity_left=max(0, self.capacity[n.code]),
                handling_cost_per_shipment=n.handling_per_shipment,
                handling_cost_per_unit=n.handling_per_unit,
                days_to_ship=days_to_ship(n, order.placed_at),
            )
            for n in self.network.nodes
        ]
        skus = {ln.sku for ln in order.lines}
        stock = [
            StockPosition(node=n.code, sku=sku, available=self.stock[(n.code, sku)])
            for n in self.network.nodes
            for sku in sorted(skus)
            if self.stock.get((n.code, sku), 0) > 0
        ]
        markdown = [
            MarkdownRisk(node=s.node, sku=s.sku, credit_per_unit=MARKDOWN_CREDIT_PER_UNIT)
            for s in stock
            if self._skus[s.sku].markdown_risk and self.network.node(s.node).kind == "store"
        ]
        services = [s for n in self.network.nodes for s in self.catalog.services(n.code, order.dest_zip3)]
        return RoutingInstance(
            order_id=order.order_id,
            channel=order.channel,
            b2b=order.channel in B2B_CHANNELS,
            ship_complete=order.ship_complete,
            deadline_days=business_days_between(order.placed_at.date(), order.promised_by),
            lines=lines,
            nodes=nodes,
            stock=stock,
            services=services,
            markdown=markdown,
        )

    def commit(self, instance: RoutingInstance, assignments: Iterable[Assignment]) -> None:
        """Take the assigned units out of stock and pick capacity."""
        for a in assignments:
            sku = instance.line(a.line_no).sku
            self.stock[(a.node, sku)] = self.stock.get((a.node, sku), 0) - a.quantity
            self.capacity[a.node] -= a.quantity

    def release(self, instance: RoutingInstance, assignments: Iterable[Assignment]) -> None:
        """Put units back (an allocation undone before release to the warehouse)."""
        for a in assignments:
            sku = instance.line(a.line_no).sku
            self.stock[(a.node, sku)] = self.stock.get((a.node, sku), 0) + a.quantity
            self.capacity[a.node] += a.quantity

    def min_stock(self) -> int:
        return min(self.stock.values(), default=0)

    def min_capacity(self) -> int:
        return min(self.capacity.values(), default=0)
