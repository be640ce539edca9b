"""Seeded random routing instances for property tests and latency measurements (not a realistic network)."""

from __future__ import annotations

import random

from engine.routing.instance import (
    MarkdownRisk,
    RateBracket,
    RoutingInstance,
    RoutingLine,
    RoutingNode,
    ServiceOption,
    StockPosition,
)

_SERVICES = (("UPS", "ground", 0), ("UPS", "expedited", -2), ("FDX", "next_day", -9))


def rate_card(zone: int, speed_premium: float) -> list[RateBracket]:
    base = 6.0 + 0.9 * zone + speed_premium
    return [
        RateBracket(max_weight_kg=kg, price=round(base + 1.1 * i * (1 + zone / 8), 2))
        for i, kg in enumerate((1, 2, 5, 10, 20))
    ]


def random_instance(rng: random.Random, lines: int = 10, nodes: int = 20, order_id: str = "R") -> RoutingInstance:
    """An order of `lines` lines over `nodes` nodes with random stock, capacity, zones and rate cards."""
    skus = [f"SKU-{i}" for i in range(lines)]
    routing_nodes = [
        RoutingNode(
            code=f"N{i:02d}",
            node_type=rng.choice(["warehouse", "store"]),
            ship_from_enabled=rng.random() > 0.05,
            hazmat_capable=rng.random() < 0.3,
            b2b_only=rng.random() < 0.1,
            capacity_left=rng.randint(0, 60),
            handling_cost_per_shipment=round(rng.uniform(0.5, 3.0), 2),
            handling_cost_per_unit=round(rng.uniform(0.1, 0.6), 2),
            days_to_ship=rng.choice([0, 0, 1]),
        )
        for i in range(nodes)
    ]
    routing_lines = [
        RoutingLine(
            line_no=i + 1,
            sku=sku,
            quantity=rng.randint(1, 4),
            unit_weight_kg=round(rng.uniform(0.1, 3.0), 3),
            hazmat=rng.random() < 0.03,
        )
        for i, sku in enumerate(skus)
    ]
    stock = [
        StockPosition(node=n.code, sku=sku, available=rng.randint(1, 8))
        for n in routing_nodes
        for sku in skus
        if rng.random() < 0.6
    ]
    services: list[ServiceOption] = []
    for n in routing_nodes:
        zone = rng.randint(2, 8)
        for carrier, level, premium in _SERVICES:
            transit = max(1, {"ground": zone - 1, "expedited": 2, "next_day": 1}[level])
            services.append(
                ServiceOption(
                    node=n.code,
                    carrier=carrier,
                    service_level=level,
                    zone=zone,
                    transit_days=transit,
                    on_time_probability=round(rng.uniform(0.85, 0.99), 3),
                    brackets=rate_card(zone, -premium),
                    price_per_kg_beyond=round(0.4 + 0.1 * zone, 2),
                )
            )
    markdown = [
        MarkdownRisk(node=s.node, sku=s.sku, credit_per_unit=round(rng.uniform(0.1, 2.0), 2))
        for s in stock
        if rng.random() < 0.1
    ]
    return RoutingInstance(
        order_id=f"{order_id}-{rng.randint(0, 10**6)}",
        b2b=rng.random() < 0.2,
        ship_complete=rng.random() < 0.05,
        max_shipments=rng.choice([None, None, None, 3]),
        deadline_days=rng.randint(2, 6),
        lines=routing_lines,
        nodes=routing_nodes,
        stock=stock,
        services=services,
        markdown=markdown,
    )
