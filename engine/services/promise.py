"""Delivery promise at checkout: read ATP, nodes and lanes, and let `engine/routing/promise.py` decide.

The same numbers the engine commits with:
- stock per node is `StockBalance.available_for(priority)`, the reservation's own condition (on hand -
  reserved - safety stock, minus units protected for priority channels unless the channel is one); nodes
  are the active ones, ship-from enabled, hazmat-capable for hazmat SKUs, b2b-only nodes for B2B channels
  only; an inactive SKU has nothing to promise; an active channel cap limits the SKU's total;
- cutoffs, time zones, pick capacity used today and lanes (transit days, on-time probability) are what
  the router reads (`uow.routing.lane_services_to`; the `node_day_usage` counter of units committed today).

Without a channel the promise is for a non-priority, non-B2B channel without caps (a storefront guest).

Caching. Stock, caps and capacity are read on every call (two to four statements, built once). Nodes and
the lanes into each destination ZIP3 change only with master data, so they are kept per `DeliveryPromiser`
and dropped (a) at once when this process commits a `master_data.changed` event for a node, lane, carrier,
or rate card (`watch(bus)` hooks the bus's after-commit), (b) on `invalidate()`, and (c) after
`ttl_seconds` (default 30 s), which bounds how long a change made by another process can go unseen.
"""

from __future__ import annotations

import re
import threading
import time as clock
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.domain import errors as e
from engine.domain.catalog import is_valid_sku_code
from engine.domain.channels import ChannelCap, ChannelKind
from engine.domain.errors import Problem
from engine.domain.events import Event, MasterDataChanged
from engine.domain.network import FulfillmentNode, ServiceLevel, incident_effects
from engine.routing.promise import (
    Promise,
    PromiseCalendar,
    PromiseLane,
    PromiseLine,
    PromiseNode,
    PromiseRequest,
    PromiseStock,
    promise,
)
from engine.services.handlers.checks import is_lookup_key, quantity_problem, raise_if_any
from engine.services.messagebus import MessageBus
from engine.services.ports import LaneService
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_LINES = 50
US_COUNTRIES = frozenset({"US", "USA"})
ZIP_CODE = re.compile(r"^[0-9]{5}(?:-?[0-9]{4})?$")
B2B_KINDS = frozenset({ChannelKind.B2B_EDI, ChannelKind.EMAIL})
# Master data whose change can move a promise: drop the cached network when one of these is committed.
NETWORK_ENTITIES = frozenset({"node", "lane", "lanes", "carrier", "rate_card"})
DEFAULT_TTL_SECONDS = 30.0

UowFactory = Callable[..., AbstractUnitOfWork]


@dataclass(frozen=True)
class BasketLine:
    """One checked line of a promise request."""

    line_no: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class PromiseInput:
    lines: tuple[BasketLine, ...]
    postal_code: str
    prefix: str
    channel: str | None


def check_input(lines: object, postal_code: object, country: object = "US",
                channel: object = None) -> tuple[PromiseInput, list[Problem]]:
    """Shape, types and bounds of a promise request (no database): the well-formed part and the problems."""
    problems: list[Problem] = []
    parsed: list[BasketLine] = []
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
        problems.append(Problem("validation.type", "lines", "lines must be a list of (sku, quantity)",
                                "send e.g. [[\"HOM-0001\", 2]]"))
    elif not lines:
        problems.append(Problem("validation.required", "lines", "a promise needs at least one line",
                                "send the basket's lines"))
    elif len(lines) > MAX_LINES:
        problems.append(Problem("validation.too_many", "lines", f"at most {MAX_LINES} lines, got {len(lines)}",
                                f"split the basket into requests of {MAX_LINES} lines"))
    else:
        for i, raw in enumerate(lines):
            sku, qty = _line_parts(raw)
            if sku is _MISSING:
                problems.append(Problem("validation.type", f"lines[{i}]", "a line is [sku, quantity] or "
                                        "{\"sku\": ..., \"quantity\": ...}", "send the SKU and the quantity"))
                continue
            found = [p for p in (_sku_format_problem(f"lines[{i}].sku", sku),
                                 quantity_problem(f"lines[{i}].quantity", qty)) if p]
            problems.extend(found)
            if not found:
                assert isinstance(sku, str) and isinstance(qty, int)
                parsed.append(BasketLine(i + 1, sku, qty))
    prefix = ""
    if not isinstance(postal_code, str):
        problems.append(Problem("validation.type", "postal_code", "postal_code must be text",
                                "send a US ZIP code such as 10001"))
    elif not ZIP_CODE.match(postal_code.strip()):
        problems.append(Problem("address.postal_code", "postal_code",
                                f"{postal_code[:20]!r} is not a US ZIP code", "send 5 digits, or ZIP+4",
                                {"postal_code": postal_code[:20]}))
    else:
        prefix = postal_code.strip()[:3]
    if not isinstance(country, str):
        problems.append(Problem("validation.type", "country", "country must be text", "send US"))
    elif country.strip().upper() not in US_COUNTRIES:
        problems.append(Problem("address.unsupported_country", "country",
                                f"promises cover US destinations, got {country[:20]!r}", "send US",
                                {"country": country[:20]}))
    if channel is not None and not is_lookup_key(channel):
        problems.append(_channel_problem(channel))
    zip_code = postal_code.strip() if isinstance(postal_code, str) else ""
    return PromiseInput(tuple(parsed), zip_code, prefix, channel if is_lookup_key(channel) else None), problems


_MISSING = object()


def _line_parts(raw: object) -> tuple[object, object]:
    if isinstance(raw, Mapping):
        if set(raw) - {"sku", "quantity"} or "sku" not in raw or "quantity" not in raw:
            return _MISSING, None
        return raw["sku"], raw["quantity"]
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return raw[0], raw[1]
    return _MISSING, None


def _sku_format_problem(field_name: str, sku: object) -> Problem | None:
    if not isinstance(sku, str) or not is_valid_sku_code(sku):
        shown = sku[:40] if isinstance(sku, str) else sku
        return Problem(e.UnknownSku.code, field_name, f"{shown!r} is not a valid SKU code",
                       "use an upper-case SKU code from the catalog")
    return None


def _channel_problem(code: object) -> Problem:
    shown = code[:40] if isinstance(code, str) else code
    return Problem(e.UnknownChannel.code, "channel", f"channel {shown!r} does not exist",
                   "use the code of a configured channel, or leave it out")


@dataclass
class _Network:
    """Static network data: active nodes and, per destination ZIP3, the lanes into it (as the model takes them)."""

    loaded_at: float
    nodes: list[FulfillmentNode]
    lanes: dict[str, tuple[list[PromiseLane], list[str]]] = field(default_factory=dict)


class DeliveryPromiser:
    """Answers `promise(lines, postal_code)`; holds the cached network (see the module docstring)."""

    def __init__(self, uow_factory: UowFactory, *, calendar: PromiseCalendar | None = None,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, priced_lanes_only: bool = True,
                 monotonic: Callable[[], float] = clock.monotonic) -> None:
        self.uow_factory = uow_factory
        self.calendar = calendar or PromiseCalendar()
        self.ttl_seconds = ttl_seconds
        # The router leaves out lanes without a rate card; set this to promise only what it can price.
        self.priced_lanes_only = priced_lanes_only
        self.monotonic = monotonic
        self._network: _Network | None = None
        self._lock = threading.Lock()
        # Bumped by every invalidation, so a load that was under way then is used once but not kept.
        self._generation = 0
        self.loads = 0

    # -- cache
    def invalidate(self) -> None:
        with self._lock:
            self._network = None
            self._generation += 1

    def on_events(self, events: Iterable[Event]) -> None:
        """After-commit hook: drop the cached network when master data that shapes a promise changed."""
        if any(isinstance(ev, MasterDataChanged) and ev.entity in NETWORK_ENTITIES for ev in events):
            self.invalidate()

    def watch(self, bus: MessageBus) -> None:
        """Invalidate on this process's own master-data commits, then run the bus's existing hook."""
        previous = bus.after_commit

        def after_commit(events: list[Event]) -> None:
            self.on_events(events)
            if previous is not None:
                previous(events)

        bus.after_commit = after_commit

    def _network_for(self, uow: AbstractUnitOfWork, prefix: str) -> tuple[list[FulfillmentNode], list[PromiseLane],
                                                                          list[str]]:
        now = self.monotonic()
        with self._lock:
            generation, network = self._generation, self._network
            if network is None or now - network.loaded_at > self.ttl_seconds:
                network = None
        if network is None:
            network = _Network(now, [n for n in uow.master.list_nodes() if n.active])
            self.loads += 1
        cached = network.lanes.get(prefix)
        if cached is None:
            lanes = uow.routing.lane_services_to(prefix)
            cached = ([PromiseLane(node=x.origin_node, carrier=x.carrier, service_level=x.service,
                                   transit_days=x.transit_days, on_time_probability=x.on_time_probability)
                       for x in lanes if x.brackets or not self.priced_lanes_only], _service_levels(lanes))
            network.lanes[prefix] = cached
        with self._lock:
            if generation == self._generation and (self._network is None
                                                   or self._network.loaded_at < network.loaded_at):
                self._network = network
        return network.nodes, *cached

    # -- the promise
    def promise(self, lines: object, postal_code: object, country: object = "US",
                channel: object = None) -> Promise:
        """Earliest delivery per service level for the basket; raises the engine's errors on bad input."""
        request, problems = check_input(lines, postal_code, country, channel)
        skus = {ln.sku for ln in request.lines}
        with self.uow_factory(readonly=True) as uow:
            now = uow.now()
            flags = uow.master.sku_flags(skus) if skus else {}
            problems += [Problem(e.UnknownSku.code, f"lines[{ln.line_no - 1}].sku", f"SKU {ln.sku} is not in the "
                                "catalog", "check the SKU code", {"sku": ln.sku})
                        for ln in request.lines if ln.sku not in flags]
            priority, b2b = False, False
            caps: dict[str, ChannelCap] = {}
            if request.channel is not None:
                found, caps = uow.channel_and_caps(request.channel, skus)
                if found is None or not found.active:
                    problems.append(_channel_problem(request.channel))
                else:
                    priority, b2b = found.priority, found.kind in B2B_KINDS
            raise_if_any(problems)
            balances = uow.inventory.balances_for_basket(skus)
            nodes, lanes, services = self._network_for(uow, request.prefix)
            lanes = _with_incidents(lanes, uow.exceptions.active_incidents(), request.prefix)
            days = {n.code: now.astimezone(ZoneInfo(n.timezone)).date().isoformat() for n in nodes}
            used = uow.inventory.pick_units_committed(days)
        return promise(PromiseRequest(
            now=now, destination=request.prefix, b2b=b2b,
            lines=[PromiseLine(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity, hazmat=flags[ln.sku][0],
                               active=flags[ln.sku][1]) for ln in request.lines],
            nodes=[PromiseNode(code=n.code, timezone=n.timezone, cutoff_local=n.cutoff_local,
                               ship_from_enabled=n.ship_from_enabled, hazmat_capable=n.hazmat_capable,
                               b2b_only=n.b2b_only, capacity_left=max(0, n.daily_pick_capacity - used.get(n.code, 0)))
                   for n in nodes],
            lanes=lanes,
            stock=[PromiseStock(node=b.node, sku=b.sku, available=b.available_for(priority)) for b in balances
                   if b.node in days],
            sku_limits=_cap_limits(caps, now),
            service_levels=services,
            calendar=self.calendar))


def _with_incidents(lanes: list[PromiseLane], incidents: Sequence[Mapping[str, Any]], prefix: str) -> list[PromiseLane]:
    """Carrier incidents into this destination, read as routing reads them (`incident_effects`)."""
    effects = incident_effects(incidents, prefix)
    if not effects.out and not effects.delay_days:
        return lanes
    return [lane.model_copy(update={"transit_days": lane.transit_days + effects.delay_days.get(lane.carrier, 0)})
            for lane in lanes if lane.carrier not in effects.out]


def _cap_limits(caps: Mapping[str, ChannelCap], now: datetime) -> dict[str, int]:
    return {sku: cap.remaining for sku, cap in caps.items() if cap.active_at(now)}


def _service_levels(lanes: Sequence[LaneService]) -> list[str]:
    """The engine's service levels in their order of speed, then any other service a lane names."""
    known = [s.value for s in ServiceLevel]
    return known + sorted({x.service for x in lanes} - set(known))
