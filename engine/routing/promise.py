"""Delivery promise: the earliest date a basket can arrive, per service level, with a confidence.

Pure: the caller reads available-to-promise, nodes and lanes (see `engine/services/promise.py`) and
this module does the calendar and the choice of nodes.

Calendar assumptions (all in `PromiseCalendar`, so a deployment can change them):
- A node ships today when now, in the node's own time zone, is before its cutoff and today is a pickup
  day; otherwise on the next pickup day. Carriers pick up Monday to Saturday by default (no Sunday).
- A node whose pick capacity for today is used up (`capacity_left == 0`) ships on the next pickup day.
- Transit days are carrier days after the ship date: each counted day must be a delivery day (Monday to
  Saturday by default) and not a holiday. Holidays stop pickups and deliveries alike.

The basket's date for a service level is the latest delivery of its shipments; nodes may split the
basket. Among the plans that reach the earliest date, the fewest shipments win, then the highest
confidence (the product of the shipments' on-time probabilities), so one node is used whenever one node
gives the same date.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Exact search over node combinations up to this many shipments; a greedy cover beyond.
EXACT_SPLIT_LIMIT = 4
MAX_CALENDAR_STEPS = 400


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PromiseCalendar(_Frozen):
    """Which days carriers pick up and deliver (0 = Monday ... 6 = Sunday), and holidays (neither)."""

    pickup_weekdays: frozenset[int] = Field(default=frozenset(range(6)), min_length=1)
    delivery_weekdays: frozenset[int] = Field(default=frozenset(range(6)), min_length=1)
    holidays: frozenset[date] = frozenset()

    @field_validator("pickup_weekdays", "delivery_weekdays")
    @classmethod
    def _weekdays(cls, value: frozenset[int]) -> frozenset[int]:
        if not value <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    def is_pickup_day(self, day: date) -> bool:
        return day.weekday() in self.pickup_weekdays and day not in self.holidays

    def is_delivery_day(self, day: date) -> bool:
        return day.weekday() in self.delivery_weekdays and day not in self.holidays

    def next_pickup_day(self, after: date) -> date:
        day = after
        for _ in range(MAX_CALENDAR_STEPS):
            day += timedelta(days=1)
            if self.is_pickup_day(day):
                return day
        raise ValueError("the calendar has no pickup day within a year")

    def add_transit(self, ship: date, transit_days: int) -> date:
        """The delivery date of a parcel handed over on `ship` with `transit_days` carrier days."""
        day, left = ship, transit_days
        for _ in range(MAX_CALENDAR_STEPS):
            if left <= 0:
                return day
            day += timedelta(days=1)
            if self.is_delivery_day(day):
                left -= 1
        raise ValueError("the calendar has no delivery day within a year")


class PromiseLine(_Frozen):
    line_no: int
    sku: str
    quantity: int = Field(gt=0)
    hazmat: bool = False
    active: bool = True


class PromiseNode(_Frozen):
    """An active node with what decides whether and when it ships."""

    code: str
    timezone: str
    cutoff_local: time
    ship_from_enabled: bool = True
    hazmat_capable: bool = False
    b2b_only: bool = False
    capacity_left: int | None = Field(default=None, description="units it can still pick today; None: no limit")


class PromiseLane(_Frozen):
    """A carrier service from one node into the destination's region."""

    node: str
    carrier: str
    service_level: str
    transit_days: int = Field(ge=0)
    on_time_probability: float = Field(ge=0, le=1)


class PromiseStock(_Frozen):
    """Units of a SKU the caller's channel could reserve at a node now."""

    node: str
    sku: str
    available: int = Field(ge=0)


class PromiseRequest(_Frozen):
    now: datetime
    destination: str = Field(description="the destination's region (US ZIP3)")
    b2b: bool = False
    lines: list[PromiseLine] = Field(min_length=1)
    nodes: list[PromiseNode]
    lanes: list[PromiseLane] = Field(default_factory=list)
    stock: list[PromiseStock] = Field(default_factory=list)
    sku_limits: dict[str, int] = Field(default_factory=dict, description="channel cap units left per SKU")
    service_levels: list[str] = Field(min_length=1)
    calendar: PromiseCalendar = Field(default_factory=PromiseCalendar)

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("now must carry a time zone")
        return value


class ShipmentLine(_Frozen):
    line_no: int
    sku: str
    quantity: int


class PromiseShipment(_Frozen):
    node: str
    carrier: str
    ship_date: date
    delivery_date: date
    transit_days: int
    on_time_probability: float
    lines: list[ShipmentLine]


class LineReason(_Frozen):
    """Why a line keeps the basket from a service level: no_stock, insufficient_stock, channel_cap, no_lane."""

    line_no: int
    sku: str
    quantity: int
    code: str
    detail: str
    available: int


class ServicePromise(_Frozen):
    service_level: str
    possible: bool
    delivery_date: date | None = None
    confidence: float | None = None
    nodes: list[str] = Field(default_factory=list)
    shipments: list[PromiseShipment] = Field(default_factory=list)
    reasons: list[LineReason] = Field(default_factory=list)


class Promise(_Frozen):
    destination: str
    as_of: datetime
    options: list[ServicePromise]

    @property
    def earliest(self) -> ServicePromise | None:
        possible = [o for o in self.options if o.possible and o.delivery_date is not None]
        return min(possible, key=lambda o: (o.delivery_date, -(o.confidence or 0.0)), default=None)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def ship_date(node: PromiseNode, now: datetime, calendar: PromiseCalendar) -> date:
    """The day `node` hands parcels to the carrier for an order placed `now`."""
    local = now.astimezone(_zone(node.timezone))
    today = local.date()
    has_capacity = node.capacity_left is None or node.capacity_left > 0
    if calendar.is_pickup_day(today) and local.time() < node.cutoff_local and has_capacity:
        return today
    return calendar.next_pickup_day(today)


def _may_ship(node: PromiseNode, line: PromiseLine, b2b: bool) -> bool:
    return (node.ship_from_enabled and line.active and (node.hazmat_capable or not line.hazmat)
            and (b2b or not node.b2b_only))


@dataclass(frozen=True, slots=True)
class _Reach:
    """The best lane of one service from one node: when it ships and delivers, and how reliably."""

    node: str
    carrier: str
    ship: date
    delivery: date
    transit: int
    p: float


def promise(request: PromiseRequest) -> Promise:
    """The earliest delivery per service level for the whole basket, or the reason per line why not."""
    cal = request.calendar
    ships = {n.code: ship_date(n, request.now, cal) for n in request.nodes}
    skus = sorted({ln.sku for ln in request.lines})
    needed = {s: sum(ln.quantity for ln in request.lines if ln.sku == s) for s in skus}
    # Units per (node, sku) the basket may take: stock at nodes allowed to ship every line of that SKU.
    first_line = {ln.sku: ln for ln in reversed(request.lines)}
    nodes = {n.code: n for n in request.nodes}
    avail: dict[str, dict[str, int]] = {}
    for s in request.stock:
        node, line = nodes.get(s.node), first_line.get(s.sku)
        if s.available > 0 and node is not None and line is not None and _may_ship(node, line, request.b2b):
            units = avail.setdefault(s.node, {})
            units[s.sku] = units.get(s.sku, 0) + s.available
    options = [_service_promise(request, service, ships, skus, needed, avail) for service in request.service_levels]
    return Promise(destination=request.destination, as_of=request.now, options=options)


def _service_promise(request: PromiseRequest, service: str, ships: dict[str, date], skus: list[str],
                     needed: dict[str, int], avail: dict[str, dict[str, int]]) -> ServicePromise:
    reach: dict[str, _Reach] = {}
    arrivals: dict[tuple[date, int], date] = {}
    for lane in request.lanes:
        if lane.service_level != service or lane.node not in ships:
            continue
        ship = ships[lane.node]
        arrival = arrivals.get((ship, lane.transit_days))
        if arrival is None:
            arrival = arrivals[ship, lane.transit_days] = request.calendar.add_transit(ship, lane.transit_days)
        found = _Reach(lane.node, lane.carrier, ship, arrival, lane.transit_days, lane.on_time_probability)
        best = reach.get(lane.node)
        if best is None or (found.delivery, -found.p, found.carrier) < (best.delivery, -best.p, best.carrier):
            reach[lane.node] = found
    capped = {s for s in skus if s in request.sku_limits and request.sku_limits[s] < needed[s]}
    stocked = [r for r in reach.values() if r.node in avail]
    if not capped:
        for day in sorted({r.delivery for r in stocked}):
            usable = [r for r in stocked if r.delivery <= day]
            if all(sum(avail[r.node].get(s, 0) for r in usable) >= needed[s] for s in skus):
                return _plan(request, service, usable, skus, needed, avail)
    return ServicePromise(service_level=service, possible=False,
                          reasons=_reasons(request, service, reach, capped, needed, avail))


def _plan(request: PromiseRequest, service: str, usable: list[_Reach], skus: list[str], needed: dict[str, int],
          avail: dict[str, dict[str, int]]) -> ServicePromise:
    ordered = sorted(usable, key=lambda r: (-r.p, r.delivery, r.node))

    def covers(group: Sequence[_Reach]) -> bool:
        return all(sum(avail[r.node].get(s, 0) for r in group) >= needed[s] for s in skus)

    chosen: Sequence[_Reach] | None = None
    for size in range(1, min(EXACT_SPLIT_LIMIT, len(ordered)) + 1):
        groups = [g for g in itertools.combinations(ordered, size) if covers(g)]
        if groups:
            chosen = min(groups, key=lambda g: (-_product(r.p for r in g), max(r.delivery for r in g),
                                                [r.node for r in g]))
            break
    if chosen is None:
        chosen = _greedy_cover(ordered, skus, needed, avail)
    shipments = _assign(request.lines, chosen, avail)
    confidence = round(_product(s.on_time_probability for s in shipments), 4)
    return ServicePromise(service_level=service, possible=True,
                          delivery_date=max(s.delivery_date for s in shipments), confidence=confidence,
                          nodes=sorted(s.node for s in shipments), shipments=shipments)


def _greedy_cover(ordered: list[_Reach], skus: list[str], needed: dict[str, int],
                  avail: dict[str, dict[str, int]]) -> list[_Reach]:
    left = dict(needed)
    chosen: list[_Reach] = []
    rest = list(ordered)
    while any(q > 0 for q in left.values()) and rest:
        best = max(rest, key=lambda r: (sum(min(avail[r.node].get(s, 0), left[s]) for s in skus), r.p))
        rest.remove(best)
        chosen.append(best)
        for s in skus:
            left[s] -= min(avail[best.node].get(s, 0), left[s])
    return chosen


def _assign(lines: list[PromiseLine], chosen: Sequence[_Reach], avail: dict[str, dict[str, int]]) -> list[
        PromiseShipment]:
    """Units per line from the chosen nodes, most reliable node first; nodes left with nothing are dropped."""
    left = {r.node: dict(avail[r.node]) for r in chosen}
    per_node: dict[str, list[ShipmentLine]] = {r.node: [] for r in chosen}
    for ln in lines:
        want = ln.quantity
        for r in chosen:
            take = min(want, left[r.node].get(ln.sku, 0))
            if take > 0:
                left[r.node][ln.sku] -= take
                per_node[r.node].append(ShipmentLine(line_no=ln.line_no, sku=ln.sku, quantity=take))
                want -= take
            if want == 0:
                break
    return [PromiseShipment(node=r.node, carrier=r.carrier, ship_date=r.ship, delivery_date=r.delivery,
                            transit_days=r.transit, on_time_probability=r.p, lines=per_node[r.node])
            for r in chosen if per_node[r.node]]


def _reasons(request: PromiseRequest, service: str, reach: dict[str, _Reach], capped: set[str],
             needed: dict[str, int], avail: dict[str, dict[str, int]]) -> list[LineReason]:
    reasons: list[LineReason] = []
    for ln in request.lines:
        total = sum(units.get(ln.sku, 0) for units in avail.values())
        reachable = sum(avail[node].get(ln.sku, 0) for node in reach if node in avail)
        need = needed[ln.sku]
        if ln.sku in capped:
            limit = request.sku_limits[ln.sku]
            code, detail, shown = "channel_cap", f"the channel may sell {limit} more of {ln.sku}, the basket " \
                                                 f"needs {need}", limit
        elif not ln.active:
            code, detail, shown = "no_stock", f"{ln.sku} is not sold (inactive)", 0
        elif total == 0:
            code, detail, shown = "no_stock", f"no node holds {ln.sku} for this basket", 0
        elif reachable >= need:
            continue
        elif total >= need:
            code, shown = "no_lane", reachable
            detail = (f"{reachable} of {need} {ln.sku} at nodes with a {service} lane to ZIP3 "
                      f"{request.destination}; the rest has no {service} lane there")
        else:
            code, shown = "insufficient_stock", total
            detail = f"{total} of {need} {ln.sku} available across the network"
        reasons.append(LineReason(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity, code=code, detail=detail,
                                  available=shown))
    return reasons


def _product(values: Iterable[float]) -> float:
    result = 1.0
    for v in values:
        result *= v
    return result
