"""Small hand-made routing instances whose optimum can be worked out by hand."""

from __future__ import annotations

from engine.routing.instance import (
    PolicyWeights,
    RateBracket,
    RoutingInstance,
    RoutingLine,
    RoutingNode,
    RoutingPolicy,
    ServiceOption,
    StockPosition,
)


def node(code: str, capacity: int = 100, **kwargs: object) -> RoutingNode:
    return RoutingNode.model_validate({"code": code, "capacity_left": capacity, **kwargs})


def line(line_no: int, sku: str, quantity: int = 1, weight: float = 1.0, hazmat: bool = False) -> RoutingLine:
    return RoutingLine(line_no=line_no, sku=sku, quantity=quantity, unit_weight_kg=weight, hazmat=hazmat)


def flat_service(
    node_code: str,
    price: float,
    transit: int = 1,
    on_time: float = 0.95,
    carrier: str = "UPS",
    level: str = "ground",
    zone: int = 2,
) -> ServiceOption:
    """A service whose price is the same for any weight up to 100 kg."""
    return ServiceOption(
        node=node_code,
        carrier=carrier,
        service_level=level,
        zone=zone,
        transit_days=transit,
        on_time_probability=on_time,
        brackets=[RateBracket(max_weight_kg=100, price=price)],
    )


def stock(node_code: str, sku: str, available: int) -> StockPosition:
    return StockPosition(node=node_code, sku=sku, available=available)


def instance(**fields: object) -> RoutingInstance:
    defaults: dict[str, object] = {"order_id": "O-1", "deadline_days": 3}
    return RoutingInstance.model_validate({**defaults, **fields})


def policy(version: int = 1, **weights: float) -> RoutingPolicy:
    return RoutingPolicy(version=version, name="test", weights=PolicyWeights(**weights))
