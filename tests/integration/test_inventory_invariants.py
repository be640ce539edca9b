"""Random sequences of inventory and order commands keep every stock invariant, on both backends.

A Hypothesis state machine drives the message bus with receipts, adjustments, cycle counts, transfers,
checkout holds (a priority channel, protected stock and a channel cap are set up), hold releases and
expiry, orders (multi-line, all-or-nothing allocation, from a plan or from a hold), deallocation,
release, partial and full shipments, delivery, holds, exceptions, resumes and cancellations.

The test keeps its own model of what the engine must do. Every command's outcome is predicted: it
either succeeds or fails with one exact error code (any other exception fails the test). After every
step the database is compared with the model and with itself: balances within their bounds, the
ledger explains on-hand, the live reservations explain reserved, reconciliation finds no drift,
every reservation, order, line and channel cap is what the model says it is.
"""

from __future__ import annotations

import abc
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text

from engine.adapters import tables as t
from engine.adapters.database import READ_ONLY
from engine.adapters.tables import metadata
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.errors import OrderloomError
from engine.domain.orders import PAUSED, can_transition
from engine.domain.orders import OrderStatus as S
from tests.integration.helpers import ADDRESS, StepClock, build_network

SKUS = ("A", "B", "C")
NODES = ("N1", "N2", "N3")
CHANNELS = {"web": False, "vip": True}  # code -> priority
POLICIES = {("A", "N1"): (1, 4), ("B", "N2"): (0, 3)}  # (sku, node) -> (safety stock, protected for priority)
CAPS = {("web", "C"): 5}  # (channel, sku) -> cap
# Orders in these states must hold a live reservation for every open unit.
LIVE = (S.ALLOCATED, S.RELEASED, S.PARTIALLY_SHIPPED)
NO_STOCK = (S.RECEIVED, S.VALIDATED, S.SHIPPED, S.DELIVERED, S.CANCELLED)

skus = st.sampled_from(SKUS)
nodes = st.sampled_from(NODES)
channels = st.sampled_from(sorted(CHANNELS))
picks = st.integers(min_value=0, max_value=10_000)
rarely = st.sampled_from([False] * 7 + [True])  # integers(0, 9) == 0 would come up far more than 1 in 10


# -- the model -------------------------------------------------------------------------------------

@dataclass
class MBalance:
    on_hand: int = 0
    reserved: int = 0
    priority_reserved: int = 0
    safety_stock: int = 0
    protected_qty: int = 0

    def available(self, priority: bool) -> int:
        free = self.on_hand - self.reserved - self.safety_stock
        if not priority:
            free -= max(0, self.protected_qty - self.priority_reserved)
        return max(0, free)

    def row(self) -> tuple[int, int, int, int, int]:
        return (self.on_hand, self.reserved, self.priority_reserved, self.safety_stock, self.protected_qty)


@dataclass
class MReservation:
    sku: str
    node: str
    quantity: int
    channel: str
    priority: bool
    created: int  # the command that made it; later commands are newer
    order_id: str | None = None
    line_no: int | None = None
    hold_id: str | None = None
    expires: int | None = None  # clock seconds
    consumed: int = 0
    status: str = "active"

    @property
    def outstanding(self) -> int:
        return self.quantity - self.consumed if self.status == "active" else 0

    def row(self) -> tuple[Any, ...]:
        return (self.sku, self.node, self.quantity, self.consumed, self.priority, self.channel, self.order_id,
                self.line_no, self.hold_id, self.status)


@dataclass
class MLine:
    sku: str
    quantity: int
    allocated: int = 0
    shipped: int = 0
    cancelled: int = 0

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass
class MOrder:
    order_id: str
    channel: str
    external_id: str
    lines: list[MLine]
    status: S = S.VALIDATED
    paused_from: S | None = None

    def line(self, line_no: int) -> MLine:
        return self.lines[line_no - 1]

    def move(self, target: S) -> None:
        if target in PAUSED:
            if self.status not in PAUSED:
                self.paused_from = self.status
        elif self.status in PAUSED:
            self.paused_from = None
        self.status = target


@dataclass
class MHold:
    hold_id: str
    channel: str
    reservations: list[MReservation] = field(default_factory=list)


@dataclass
class Model:
    balances: dict[tuple[str, str], MBalance] = field(default_factory=lambda: defaultdict(MBalance))
    reservations: list[MReservation] = field(default_factory=list)
    orders: dict[str, MOrder] = field(default_factory=dict)
    holds: dict[str, MHold] = field(default_factory=dict)
    caps: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # -> [cap, used]
    commands: int = 0

    def bal(self, sku: str, node: str) -> MBalance:
        return self.balances[(sku, node)]

    def reserve_outcome(self, channel: str, wanted: Iterable[tuple[str, str, int]]) -> str | None:
        """The error code reserve_lines must raise for these lines, or None when all fit."""
        priority = CHANNELS[channel]
        codes: set[str] = set()
        per_sku: dict[str, int] = defaultdict(int)
        for sku, node, qty in wanted:
            per_sku[sku] += qty
            if self.bal(sku, node).available(priority) < qty:
                codes.add("inventory.insufficient")
        for sku, qty in per_sku.items():
            cap = self.caps.get((channel, sku))
            if cap is not None and cap[1] + qty > cap[0]:
                codes.add("inventory.channel_cap_exceeded")
        if not codes:
            return None
        return codes.pop() if len(codes) == 1 else "validation.failed"

    def reserve(self, channel: str, wanted: Iterable[tuple[str, str, int]], **links: Any) -> list[MReservation]:
        priority = CHANNELS[channel]
        made = []
        for sku, node, qty in wanted:
            b = self.bal(sku, node)
            b.reserved += qty
            if priority:
                b.priority_reserved += qty
            cap = self.caps.get((channel, sku))
            if cap is not None:
                cap[1] += qty
            made.append(MReservation(sku, node, qty, channel, priority, self.commands, **links))
        self.reservations.extend(made)
        return made

    def release(self, r: MReservation, status: str) -> int:
        qty = r.outstanding
        if qty <= 0:
            return 0
        b = self.bal(r.sku, r.node)
        b.reserved -= qty
        if r.priority:
            b.priority_reserved -= qty
        cap = self.caps.get((r.channel, r.sku))
        if cap is not None:
            cap[1] = max(0, cap[1] - qty)
        r.status = status
        return qty

    def consume(self, r: MReservation, qty: int) -> None:
        b = self.bal(r.sku, r.node)
        b.on_hand -= qty
        b.reserved -= qty
        if r.priority:
            b.priority_reserved -= qty
        r.consumed += qty
        if r.consumed == r.quantity:
            r.status = "consumed"

    def live(self, *, order_id: str | None = None, hold_id: str | None = None) -> list[MReservation]:
        return [r for r in self.reservations if r.status == "active"
                and (order_id is None or r.order_id == order_id)
                and (hold_id is None or (r.hold_id == hold_id and r.order_id is None))]

    def release_order(self, order: MOrder) -> int:
        units = sum(self.release(r, "released") for r in self.live(order_id=order.order_id))
        for line in order.lines:
            line.allocated = 0
        return units


# -- backends --------------------------------------------------------------------------------------

class Backend(abc.ABC):
    """Gives each Hypothesis example an App over an empty, migrated database."""

    def __init__(self) -> None:
        self.clock = StepClock()

    @abc.abstractmethod
    def open(self) -> App: ...

    @abc.abstractmethod
    def close(self, app: App) -> None: ...


class SqliteBackend(Backend):
    def __init__(self, template: Path, folder: Path) -> None:
        super().__init__()
        self.template = template
        self.folder = folder
        self.examples = 0

    def open(self) -> App:
        self.examples += 1
        path = self.folder / f"example-{self.examples}.db"
        shutil.copy(self.template, path)
        return bootstrap(database_url=f"sqlite:///{path}", clock=self.clock, migrate=False)

    def close(self, app: App) -> None:
        database = app.engine.url.database
        app.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)


class PostgresBackend(Backend):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.app = bootstrap(database_url=url, clock=self.clock, migrate=False, pool_size=2)
        self.truncate = "TRUNCATE " + ", ".join(f'"{tb.name}"' for tb in metadata.sorted_tables) \
            + " RESTART IDENTITY CASCADE"

    def open(self) -> App:
        with self.app.engine.begin() as conn:
            conn.execute(text(self.truncate))
        return self.app

    def close(self, app: App) -> None:
        pass

    def dispose(self) -> None:
        self.app.close()


# -- the machine -----------------------------------------------------------------------------------

class InventoryMachine(RuleBasedStateMachine):
    backend: ClassVar[Backend]

    def __init__(self) -> None:
        super().__init__()
        self.clock = self.backend.clock
        self.clock.reset()
        self.app = self.backend.open()
        self.bus = self.app.bus
        self.m = Model()
        self.external_ids = 0
        build_network(self.bus, skus=SKUS, nodes=NODES, channels=CHANNELS)
        for (sku, node), (safety, protected) in POLICIES.items():
            self.bus.handle(c.SetStockPolicy(sku=sku, node=node, safety_stock=safety, protected_qty=protected))
            b = self.m.bal(sku, node)
            b.safety_stock, b.protected_qty = safety, protected
        for (channel, sku), cap in CAPS.items():
            self.bus.handle(c.SetChannelCap(channel=channel, sku=sku, cap=cap))
            self.m.caps[(channel, sku)] = [cap, 0]

    def teardown(self) -> None:
        self.backend.close(self.app)

    # -- helpers
    def expect(self, cmd: c.Command, code: str | None) -> Any:
        """Run a command; it must succeed (code None) or raise an OrderloomError with exactly `code`."""
        self.m.commands += 1
        name = type(cmd).__name__
        event(f"{name} -> {code or 'ok'}")
        try:
            result = self.bus.handle(cmd)
        except OrderloomError as exc:
            refused: OrderloomError | None = exc
        else:
            refused = None
        if refused is not None:
            if code is None:
                raise AssertionError(f"{name} was refused ({refused.code}: {refused.message}); the model "
                                     f"expected success: {cmd}") from refused
            assert refused.code == code, f"{name}: expected {code}, got {refused.code}: {refused.message}"
            return None
        assert code is None, f"{name} succeeded but the model expected {code}: {cmd} -> {result}"
        return result

    def order(self, pick: int, *statuses: S) -> MOrder:
        """An order in one of `statuses` when there is one (any order one time in eight, or with none
        given): mostly commands that can succeed, sometimes ones that must be refused."""
        orders = list(self.m.orders.values())
        fitting = [o for o in orders if o.status in statuses]
        if fitting and pick % 8:
            orders = fitting
        return orders[(pick // 8) % len(orders)]

    def hold(self, pick: int) -> MHold:
        """Mostly a hold that still has live reservations."""
        holds = list(self.m.holds.values())
        live = [h for h in holds if self.m.live(hold_id=h.hold_id)]
        if live and pick % 8:
            holds = live
        return holds[(pick // 8) % len(holds)]

    def place(self, channel: str, lines: list[tuple[str, int]]) -> MOrder:
        self.external_ids += 1
        external_id = f"X-{self.external_ids}"
        result = self.expect(c.PlaceOrder(channel=channel, external_id=external_id, ship_to=ADDRESS,
                                          lines=tuple(c.NewOrderLine(sku, qty) for sku, qty in lines)), None)
        assert result["status"] == "validated"
        order = MOrder(result["order_id"], channel, external_id, [MLine(sku, qty) for sku, qty in lines])
        assert order.order_id not in self.m.orders
        self.m.orders[order.order_id] = order
        return order

    # -- stock
    @initialize(quantities=st.lists(st.integers(4, 25), min_size=len(SKUS) * len(NODES),
                                    max_size=len(SKUS) * len(NODES)))
    def stock_up(self, quantities: list[int]) -> None:
        places = [(sku, node) for sku in SKUS for node in NODES]
        for (sku, node), qty in zip(places, quantities, strict=True):
            self.receive(sku, node, qty)

    @initialize(orders=st.lists(st.tuples(channels, st.lists(st.tuples(skus, st.integers(1, 5)), min_size=1,
                                                              max_size=3, unique_by=lambda x: x[0])), max_size=4))
    def first_orders(self, orders: list[tuple[str, list[tuple[str, int]]]]) -> None:
        for channel, lines in orders:
            self.place(channel, lines)

    @rule(sku=skus, node=nodes, qty=st.integers(1, 12))
    def receive(self, sku: str, node: str, qty: int) -> None:
        result = self.expect(c.ReceiveStock(sku=sku, node=node, quantity=qty, reference="PO-1"), None)
        b = self.m.bal(sku, node)
        b.on_hand += qty
        assert result["on_hand"] == b.on_hand

    @rule(sku=skus, node=nodes, delta=st.integers(-10, 10))
    def adjust(self, sku: str, node: str, delta: int) -> None:
        b = self.m.bal(sku, node)
        if delta == 0:
            code: str | None = "quantity.invalid"
        elif b.on_hand + delta < max(0, b.reserved):
            code = "inventory.invariant"
        else:
            code = None
        if self.expect(c.AdjustStock(sku=sku, node=node, delta=delta, reason="damaged in storage"), code):
            b.on_hand += delta

    @rule(sku=skus, node=nodes, relative=st.booleans(), counted=st.integers(0, 12), offset=st.integers(-3, 1),
          pick=picks)
    def cycle_count(self, sku: str, node: str, relative: bool, counted: int, offset: int, pick: int) -> None:
        if relative:  # count at or below what is reserved, where something is
            reserved = sorted({(r.sku, r.node) for r in self.m.live()})
            if reserved:
                sku, node = reserved[pick % len(reserved)]
            counted = max(0, self.m.bal(sku, node).reserved + offset)
        b = self.m.bal(sku, node)
        result = self.expect(c.RecordCycleCount(sku=sku, node=node, counted=counted), None)
        affected: list[str] = []
        if counted < b.reserved:
            excess = b.reserved - counted
            live = [r for r in self.m.live() if (r.sku, r.node) == (sku, node)]
            holds = sorted((r for r in live if r.order_id is None), key=lambda r: r.created, reverse=True)
            orders = sorted((r for r in live if r.order_id is not None), key=lambda r: r.created, reverse=True)
            for r in [*holds, *orders]:
                if excess <= 0:
                    break
                excess -= r.outstanding
                self.m.release(r, "released")
                if r.order_id is not None and r.order_id not in affected:
                    affected.append(r.order_id)
            for order_id in affected:
                order = self.m.orders[order_id]
                live_now = self.m.live(order_id=order_id)
                for n, line in enumerate(order.lines, 1):
                    line.allocated = sum(r.outstanding for r in live_now if r.line_no == n)
                if order.status != S.EXCEPTION and can_transition(order.status, S.EXCEPTION, order.paused_from):
                    order.move(S.EXCEPTION)
        assert result["difference"] == counted - b.on_hand
        b.on_hand = counted
        assert sorted(result["orders_affected"]) == sorted(affected)

    @precondition(lambda self: any(r.order_id for r in self.m.live()))
    @rule(pick=picks, short_by=st.integers(1, 3), wipe_out=st.booleans())
    def shortage_under_an_order(self, pick: int, short_by: int, wipe_out: bool) -> None:
        """A count comes up short exactly where a live order (preferably a shipping one) holds stock."""
        order = self.order(pick, S.PARTIALLY_SHIPPED, S.RELEASED, S.ALLOCATED, S.ON_HOLD)
        live = self.m.live(order_id=order.order_id) or [r for r in self.m.live() if r.order_id]
        r = live[pick % len(live)]
        counted = 0 if wipe_out else max(0, self.m.bal(r.sku, r.node).reserved - short_by)
        self.cycle_count(r.sku, r.node, relative=False, counted=counted, offset=0, pick=0)

    @rule(sku=skus, source=nodes, destination=nodes, qty=st.integers(1, 8))
    def transfer(self, sku: str, source: str, destination: str, qty: int) -> None:
        src, dst = self.m.bal(sku, source), self.m.bal(sku, destination)
        if source == destination:
            code: str | None = "validation.failed"
        elif src.on_hand - qty < src.reserved:
            code = "inventory.invariant"
        else:
            code = None
        if self.expect(c.TransferStock(sku=sku, from_node=source, to_node=destination, quantity=qty), code):
            src.on_hand -= qty
            dst.on_hand += qty

    @rule(sku=skus, node=nodes, safety=st.integers(0, 3), protected=st.integers(0, 5))
    def set_policy(self, sku: str, node: str, safety: int, protected: int) -> None:
        self.expect(c.SetStockPolicy(sku=sku, node=node, safety_stock=safety, protected_qty=protected), None)
        b = self.m.bal(sku, node)
        b.safety_stock, b.protected_qty = safety, protected

    # -- checkout holds
    @rule(channel=channels, where=st.lists(st.tuples(skus, nodes), min_size=1, max_size=3, unique=True),
          qtys=st.lists(st.integers(1, 4), min_size=3, max_size=3), ttl=st.sampled_from([60, 300, 900]),
          naming=st.sampled_from(["generated", "given", "reused"]), pick=picks)
    def place_hold(self, channel: str, where: list[tuple[str, str]], qtys: list[int], ttl: int, naming: str,
                   pick: int) -> None:
        wanted = [(sku, node, qty) for (sku, node), qty in zip(where, qtys, strict=False)]
        hold_id: str | None = None
        if naming == "given":
            hold_id = f"H-{self.m.commands}"
        elif naming == "reused" and self.m.holds:
            hold_id = self.hold(pick).hold_id
        code = "already_exists" if hold_id in self.m.holds else self.m.reserve_outcome(channel, wanted)
        cmd = c.PlaceCheckoutHold(channel=channel, ttl_seconds=ttl, hold_id=hold_id,
                                  lines=tuple(c.HoldLine(sku, node, qty) for sku, node, qty in wanted))
        result = self.expect(cmd, code)
        if result is None:
            return
        assert hold_id is None or result["hold_id"] == hold_id
        hold = MHold(result["hold_id"], channel)
        hold.reservations = self.m.reserve(channel, wanted, hold_id=hold.hold_id, expires=self.clock.seconds + ttl)
        self.m.holds[hold.hold_id] = hold
        assert len(result["reservations"]) == len(wanted)

    @precondition(lambda self: self.m.holds)
    @rule(pick=picks)
    def release_hold(self, pick: int) -> None:
        if pick % 16 == 0:
            self.expect(c.ReleaseCheckoutHold(hold_id="NO-SUCH-HOLD"), "reservation.unknown")
            return
        hold = self.hold(pick)
        result = self.expect(c.ReleaseCheckoutHold(hold_id=hold.hold_id), None)
        units = sum(self.m.release(r, "released") for r in self.m.live(hold_id=hold.hold_id))
        assert result["released_units"] == units

    @rule(seconds=st.sampled_from([0, 30, 120, 600, 1200]), run_expiry=st.booleans())
    def advance_clock(self, seconds: int, run_expiry: bool) -> None:
        self.clock.advance(seconds)
        if run_expiry:
            self.expire_holds()

    def expire_holds(self) -> None:
        now = self.clock.seconds
        due = {r.hold_id for r in self.m.live() if r.order_id is None and r.hold_id is not None
               and r.expires is not None and r.expires <= now}
        result = self.expect(c.ExpireCheckoutHolds(), None)
        units = sum(self.m.release(r, "expired") for h in due for r in self.m.live(hold_id=h))
        assert (result["expired_holds"], result["released_units"]) == (len(due), units)

    # -- orders
    @rule(channel=channels, lines=st.lists(st.tuples(skus, st.integers(1, 5)), min_size=1, max_size=3,
                                           unique_by=lambda x: x[0]))
    def place_order(self, channel: str, lines: list[tuple[str, int]]) -> None:
        self.place(channel, lines)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks)
    def place_duplicate(self, pick: int) -> None:
        order = self.order(pick)
        self.expect(c.PlaceOrder(channel=order.channel, external_id=order.external_id, ship_to=ADDRESS,
                                 lines=(c.NewOrderLine("A", 1),)), "order.duplicate_external_id")

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks, data=st.data())
    def allocate(self, pick: int, data: st.DataObject) -> None:
        order = self.order(pick, S.VALIDATED)
        if order.status != S.VALIDATED:
            # A paused order goes back to where it was only through ResumeOrder.
            self.expect(c.AllocateOrder(order_id=order.order_id, allocations=(c.LineAllocation(1, "N1", 1),)),
                        "state.illegal_transition")
            return
        plan: list[tuple[int, str, int]] = []
        for n, line in enumerate(order.lines, 1):
            need = line.open_quantity
            where = data.draw(st.lists(nodes, min_size=1, max_size=2, unique=True), label=f"nodes for line {n}")
            if len(where) == 2 and need >= 2:
                first = data.draw(st.integers(1, need - 1), label="split")
                plan += [(n, where[0], first), (n, where[1], need - first)]
            else:
                plan.append((n, where[0], need))
        incomplete = data.draw(rarely, label="incomplete plan")
        if incomplete:
            n, node, qty = plan.pop()
            if qty > 1:
                plan.append((n, node, qty - 1))
        wanted = [(order.line(n).sku, node, qty) for n, node, qty in plan]
        code = "validation.failed" if incomplete else self.m.reserve_outcome(order.channel, wanted)
        cmd = c.AllocateOrder(order_id=order.order_id, allocations=tuple(c.LineAllocation(*p) for p in plan))
        result = self.expect(cmd, code)
        if result is None:
            return
        for (n, _node, _qty), w in zip(plan, wanted, strict=True):
            self.m.reserve(order.channel, [w], order_id=order.order_id, line_no=n)
        for n, line in enumerate(order.lines, 1):
            line.allocated = sum(q for ln, _node, q in plan if ln == n)
        order.move(S.ALLOCATED)
        assert result["status"] == "allocated"

    @precondition(lambda self: self.m.holds)
    @rule(pick=picks)
    def allocate_from_hold(self, pick: int) -> None:
        hold = self.hold(pick)
        live = self.m.live(hold_id=hold.hold_id)
        per_sku: dict[str, int] = defaultdict(int)
        for r in live or hold.reservations:
            per_sku[r.sku] += r.quantity
        order = self.place(hold.channel, sorted(per_sku.items()))
        expired = not live or any(r.expires is not None and r.expires <= self.clock.seconds for r in live)
        result = self.expect(c.AllocateOrder(order_id=order.order_id, from_hold=hold.hold_id),
                             "reservation.hold_expired" if expired else None)
        if result is None:
            return
        line_of = {line.sku: n for n, line in enumerate(order.lines, 1)}
        for r in live:
            r.order_id, r.line_no, r.expires = order.order_id, line_of[r.sku], None
            order.line(line_of[r.sku]).allocated += r.quantity
        order.move(S.ALLOCATED)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks)
    def deallocate(self, pick: int) -> None:
        order = self.order(pick, S.ALLOCATED, S.EXCEPTION)
        legal = can_transition(order.status, S.VALIDATED, order.paused_from)
        result = self.expect(c.DeallocateOrder(order_id=order.order_id, reason="re-plan"),
                             None if legal else "state.illegal_transition")
        if result is not None:
            assert result["released_units"] == self.m.release_order(order)
            order.move(S.VALIDATED)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks)
    def release_to_fulfillment(self, pick: int) -> None:
        order = self.order(pick, S.ALLOCATED)
        legal = order.status == S.ALLOCATED  # not from a pause: that is ResumeOrder's job
        if self.expect(c.ReleaseOrderToFulfillment(order_id=order.order_id),
                       None if legal else "state.illegal_transition"):
            order.move(S.RELEASED)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks, data=st.data())
    def ship(self, pick: int, data: st.DataObject) -> None:
        order = self.order(pick, S.RELEASED, S.PARTIALLY_SHIPPED)
        if order.status not in (S.RELEASED, S.PARTIALLY_SHIPPED):
            self.expect(c.RecordShipment(order_id=order.order_id, node="N1", lines=(c.ShipmentLine(1, 1),)),
                        "state.illegal_transition")
            return
        live = self.m.live(order_id=order.order_id)
        at = sorted({r.node for r in live})
        node = data.draw(st.sampled_from(at), label="node") if at else "N1"
        here = {r.line_no: r for r in live if r.node == node}
        assert all(sum(1 for r in live if r.node == node and r.line_no == n) == 1 for n in here)
        if not here:
            self.expect(c.RecordShipment(order_id=order.order_id, node=node, lines=(c.ShipmentLine(1, 1),)),
                        "validation.failed")
            return
        chosen = data.draw(st.lists(st.sampled_from(sorted(here)), min_size=1, unique=True), label="lines")
        lines = [(n, data.draw(st.integers(1, here[n].outstanding), label=f"qty line {n}")) for n in chosen]
        too_many = data.draw(rarely, label="ship more than reserved")
        if too_many:
            lines[0] = (lines[0][0], here[lines[0][0]].outstanding + 1)
        result = self.expect(c.RecordShipment(order_id=order.order_id, node=node,
                                              lines=tuple(c.ShipmentLine(n, q) for n, q in lines)),
                             "validation.failed" if too_many else None)
        if result is None:
            return
        for n, q in lines:
            self.m.consume(here[n], q)
            line = order.line(n)
            line.shipped += q
            line.allocated -= q
        target = S.SHIPPED if all(ln.shipped + ln.cancelled >= ln.quantity for ln in order.lines) \
            else S.PARTIALLY_SHIPPED
        if order.status != target:
            order.move(target)
        assert result["status"] == target.value

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks)
    def deliver(self, pick: int) -> None:
        order = self.order(pick, S.SHIPPED)
        if self.expect(c.MarkDelivered(order_id=order.order_id),
                       None if order.status == S.SHIPPED else "state.illegal_transition"):
            order.move(S.DELIVERED)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks)
    def cancel(self, pick: int) -> None:
        order = self.order(pick, S.VALIDATED, S.ALLOCATED, S.RELEASED, S.ON_HOLD, S.EXCEPTION)
        legal = can_transition(order.status, S.CANCELLED, order.paused_from)
        result = self.expect(c.CancelOrder(order_id=order.order_id, reason="customer asked"),
                             None if legal else "state.illegal_transition")
        if result is None:
            return
        assert result["released_units"] == self.m.release_order(order)
        for line in order.lines:
            line.cancelled = line.quantity - line.shipped
        order.move(S.CANCELLED)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks, pause_to=st.sampled_from([S.ON_HOLD, S.EXCEPTION]))
    def pause(self, pick: int, pause_to: S) -> None:
        order = self.order(pick, S.VALIDATED, S.ALLOCATED, S.RELEASED, S.PARTIALLY_SHIPPED)
        legal = can_transition(order.status, pause_to, order.paused_from)
        cmd: c.Command = c.HoldOrder(order_id=order.order_id, reason="fraud check") if pause_to == S.ON_HOLD \
            else c.FlagOrderException(order_id=order.order_id, reason="address unclear")
        if self.expect(cmd, None if legal else "state.illegal_transition"):
            order.move(pause_to)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks, to_validated=st.booleans())
    def resume(self, pick: int, to_validated: bool) -> None:
        order = self.order(pick, *PAUSED)
        cmd = c.ResumeOrder(order_id=order.order_id, reason="checked", to_validated=to_validated)
        if order.status not in PAUSED or order.paused_from is None:
            self.expect(cmd, "state.illegal_transition")
            return
        target = S.VALIDATED if to_validated else order.paused_from
        short = any(ln.allocated + ln.shipped + ln.cancelled < ln.quantity for ln in order.lines)
        if not can_transition(order.status, target, order.paused_from):
            code: str | None = "state.illegal_transition"
        elif not to_validated and target in LIVE and short:
            code = "inventory.insufficient"  # it lost stock while paused: re-allocate instead
        else:
            code = None
        if self.expect(cmd, code) is None:
            return
        if to_validated:
            self.m.release_order(order)
        order.move(target)

    @precondition(lambda self: self.m.orders)
    @rule(pick=picks, steps=st.sampled_from([4, 3, 2, 1]), data=st.data())
    def advance_order(self, pick: int, steps: int, data: st.DataObject) -> None:
        """Take one order a few steps along its usual path (checking everything after each), so that
        lifecycles get somewhere even when Hypothesis switches some of the rules above off."""
        order = self.order(pick, S.VALIDATED, S.ALLOCATED, S.RELEASED, S.PARTIALLY_SHIPPED, S.SHIPPED, *PAUSED)
        pick = 8 * list(self.m.orders.values()).index(order)  # order(pick) picks this very order again
        for step in range(steps):
            if step:
                self.database_agrees_with_itself_and_the_model()
            if order.status == S.VALIDATED:
                self.allocate(pick, data)
            elif order.status == S.ALLOCATED:
                self.release_to_fulfillment(pick)
            elif order.status in (S.RELEASED, S.PARTIALLY_SHIPPED):
                self.ship(pick, data)
            elif order.status == S.SHIPPED:
                self.deliver(pick)
            elif order.status in PAUSED:
                self.resume(pick, data.draw(st.booleans(), label="to_validated"))
            else:
                return

    # -- invariants
    @invariant()
    def database_agrees_with_itself_and_the_model(self) -> None:
        observed = observe(self.app)
        active: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for sku, node, qty, consumed, priority, _ch, _o, _ln, _h, status in observed["reservations"]:
            if status == "active":
                active[(sku, node)][0] += qty - consumed
                active[(sku, node)][1] += (qty - consumed) if priority else 0
        for key, (on_hand, reserved, prio, _safety, _protected) in observed["balances"].items():
            assert 0 <= reserved <= on_hand, f"{key}: reserved {reserved}, on hand {on_hand}"
            assert 0 <= prio <= reserved, f"{key}: priority reserved {prio}, reserved {reserved}"
            assert observed["ledger"].get(key, 0) == on_hand, f"{key}: ledger disagrees with on-hand"
            assert active.get(key, [0, 0]) == [reserved, prio], f"{key}: reservations disagree with balance"
        assert set(observed["ledger"]) <= set(observed["balances"]), "ledger rows without a balance"
        assert set(active) <= set(observed["balances"]), "reservations without a balance"
        assert self.bus.handle(c.ReconcileInventory())["drift"] == []

        # Each order line's allocation is what its live reservations say; allocated, released and
        # partially shipped orders hold every open unit; the rest (an order whose all-or-nothing
        # allocation failed is still validated) hold nothing.
        per_line: dict[tuple[str, int], int] = defaultdict(int)
        for _s, _n, qty, consumed, _p, _ch, order_id, line_no, _h, status in observed["reservations"]:
            if status == "active" and order_id is not None:
                per_line[(order_id, line_no)] += qty - consumed
        for (order_id, line_no), (_sku, qty, allocated, shipped, cancelled) in observed["lines"].items():
            status = S(observed["orders"][order_id][0])
            assert per_line.get((order_id, line_no), 0) == allocated, f"order {order_id} line {line_no}"
            if status in LIVE:
                assert allocated + shipped + cancelled == qty, f"{status} order {order_id} line {line_no} short"
            if status in NO_STOCK:
                assert allocated == 0, f"{status} order {order_id} holds stock"

        # And the model agrees with all of it.
        model_balances = {k: b.row() for k, b in self.m.balances.items() if any(b.row())}
        db_balances = {k: v for k, v in observed["balances"].items() if any(v)}
        assert db_balances == model_balances
        assert observed["reservations"] == sorted((r.row() for r in self.m.reservations), key=repr)
        assert observed["orders"] == {o.order_id: (o.status.value, o.paused_from.value if o.paused_from else None)
                                      for o in self.m.orders.values()}
        assert observed["lines"] == {(o.order_id, n): (ln.sku, ln.quantity, ln.allocated, ln.shipped,
                                                       ln.cancelled)
                                     for o in self.m.orders.values() for n, ln in enumerate(o.lines, 1)}
        assert observed["caps"] == {k: tuple(v) for k, v in self.m.caps.items()}


def observe(app: App) -> dict[str, Any]:
    """Everything the invariants look at, read in one read-only transaction."""
    r, m, o, cap = t.reservations.c, t.stock_movements.c, t.orders.c, t.channel_caps.c
    with app.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return {
            "balances": {(x.sku, x.node): (x.on_hand, x.reserved, x.priority_reserved, x.safety_stock,
                                           x.protected_qty) for x in conn.execute(select(t.stock_balances))},
            "ledger": {(x[0], x[1]): int(x[2]) for x in conn.execute(
                select(m.sku, m.node, func.sum(m.quantity)).group_by(m.sku, m.node))},
            "reservations": sorted((tuple(x) for x in conn.execute(select(
                r.sku, r.node, r.quantity, r.consumed, r.priority, r.channel, r.order_id, r.line_no, r.hold_id,
                r.status))), key=repr),
            "orders": {str(x.id): (x.status, x.paused_from) for x in conn.execute(select(o.id, o.status,
                                                                                         o.paused_from))},
            "lines": {(str(x.order_id), x.line_no): (x.sku, x.quantity, x.allocated, x.shipped, x.cancelled)
                      for x in conn.execute(select(t.order_lines))},
            "caps": {(x.channel, x.sku): (x.cap, x.used) for x in conn.execute(select(cap.channel, cap.sku, cap.cap,
                                                                                      cap.used))},
        }


def run_machine(backend: Backend, config: settings) -> None:
    machine = type("InventoryMachineRun", (InventoryMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=config)


SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def test_random_command_sequences_keep_the_stock_invariants_on_sqlite(sqlite_template: Path,
                                                                       tmp_path: Path) -> None:
    run_machine(SqliteBackend(sqlite_template, tmp_path),
                settings(max_examples=100, stateful_step_count=50, deadline=None, suppress_health_check=SLOW_OK))


@pytest.mark.postgres
def test_random_command_sequences_keep_the_stock_invariants_on_postgres(postgres_url: str) -> None:
    backend = PostgresBackend(postgres_url)
    try:
        run_machine(backend, settings(max_examples=25, stateful_step_count=40, deadline=None,
                                      suppress_health_check=SLOW_OK))
    finally:
        backend.dispose()
