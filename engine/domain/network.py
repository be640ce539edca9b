"""The fulfillment network: nodes that hold stock, carriers and the lanes they serve."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import time


class NodeType(enum.StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"
    THIRD_PARTY = "3pl"


@dataclass
class FulfillmentNode:
    code: str
    name: str
    node_type: NodeType
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float
    timezone: str
    daily_pick_capacity: int
    cutoff_local: time
    ship_from_enabled: bool = True
    hazmat_capable: bool = False
    b2b_only: bool = False
    handling_cost: str = "1.50"
    active: bool = True


class ServiceLevel(enum.StrEnum):
    GROUND = "ground"
    EXPEDITED = "expedited"
    NEXT_DAY = "next_day"


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    services: tuple[ServiceLevel, ...]


@dataclass(frozen=True)
class Lane:
    """Published transit for one carrier service from one node into one destination region.

    `dest_prefix` is the first three digits of a US ZIP code (the carriers' own zoning unit).
    """

    carrier: str
    service: ServiceLevel
    origin_node: str
    dest_prefix: str
    zone: int
    transit_days: int
    on_time_probability: float | None = None  # None keeps the stored value (0.95 for a new lane)
