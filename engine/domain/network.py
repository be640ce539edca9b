"""The fulfillment network: nodes that hold stock, carriers and the lanes they serve."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any


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


@dataclass(frozen=True)
class CarrierEffects:
    """What active carrier incidents do to one destination: carriers left out, extra transit days."""

    out: frozenset[str]
    delay_days: dict[str, int]


def incident_effects(incidents: Iterable[Mapping[str, Any]], dest_prefix: str) -> CarrierEffects:
    """The one reading of carrier incidents that routing and the checkout promise share: an outage into the
    destination (or everywhere) leaves the carrier out; a delay adds its days, the largest one counting."""
    here = [i for i in incidents if not i["dest_prefixes"] or dest_prefix in i["dest_prefixes"]]
    delay: dict[str, int] = {}
    for i in here:
        if i["kind"] == "delay":
            delay[i["carrier"]] = max(delay.get(i["carrier"], 0), int(i["delay_days"]))
    return CarrierEffects(frozenset(i["carrier"] for i in here if i["kind"] == "outage"), delay)
