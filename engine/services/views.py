"""Read views over the unit of work's repositories: available to promise, node stock, ledger, orders.

Views never change state. The caller opens the unit of work (`with app.uow(readonly=True) as uow: ...`); a view
reads what it needs and returns frozen dataclasses with a `to_dict()` for JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.domain import errors as e
from engine.domain.catalog import Sku
from engine.domain.channels import Channel, ChannelCap, ChannelKind
from engine.domain.errors import Problem
from engine.domain.inventory import StockBalance
from engine.domain.network import FulfillmentNode
from engine.domain.serialize import to_plain
from engine.services.handlers.checks import node_problem, raise_if_any, sku_problem
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_LIMIT = 1000
# Channels whose orders come from business buyers: only they may be served from b2b-only nodes.
B2B_CHANNEL_KINDS = frozenset({ChannelKind.B2B_EDI, ChannelKind.EMAIL})


class _View:
    def to_dict(self) -> dict[str, Any]:
        plain = to_plain(self)
        assert isinstance(plain, dict)
        return plain


# -- available to promise --------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeAtp(_View):
    """One ship-from node's units of a SKU. `available` is what a non-priority channel can take;
    `available_priority` adds the protected units a priority channel may still use."""

    node: str
    name: str
    node_type: str
    b2b_only: bool
    on_hand: int
    reserved: int
    safety_stock: int
    protected_remaining: int
    available: int
    available_priority: int


@dataclass(frozen=True)
class ChannelAtp(_View):
    """What one channel can promise: its eligible nodes' units, limited by an active channel cap."""

    channel: str
    name: str
    priority: bool
    available: int
    uncapped: int
    cap: int | None = None
    cap_remaining: int | None = None


@dataclass(frozen=True)
class AvailableToPromise(_View):
    sku: str
    name: str
    hazmat: bool
    as_of: datetime
    nodes: tuple[NodeAtp, ...]
    total: NodeAtp
    channels: tuple[ChannelAtp, ...]

    def for_channel(self, code: str) -> ChannelAtp | None:
        return next((c for c in self.channels if c.channel == code), None)


def available_to_promise(uow: AbstractUnitOfWork, sku: str, channel: str | None = None) -> AvailableToPromise:
    """ATP of one SKU over the active ship-from nodes (hazmat SKUs: hazmat-capable nodes only),
    the network total, and per active channel (or only `channel`)."""
    raise_if_any([p for p in (sku_problem(uow, "sku", sku),) if p])
    item = uow.master.get_sku(sku)
    assert item is not None
    if channel is not None:
        found = uow.master.get_channel(channel) if isinstance(channel, str) else None
        if found is None or not found.active:
            raise e.UnknownChannel(f"channel {channel!r} does not exist", problems=[Problem(
                e.UnknownChannel.code, "channel", f"channel {channel!r} does not exist",
                "use the code of a configured channel", {"channel": str(channel)})])
        channels = [found]
    else:
        channels = [c for c in uow.master.list_channels() if c.active]
    caps = {c.code: cap for c in channels if (cap := uow.inventory.get_cap(c.code, sku)) is not None}
    return compute_atp(item, uow.master.list_nodes(), uow.inventory.balances_for_sku(sku), channels, caps,
                       uow.now())


def compute_atp(item: Sku, nodes: Iterable[FulfillmentNode], balances: Iterable[StockBalance],
                channels: Sequence[Channel], caps: dict[str, ChannelCap], now: datetime) -> AvailableToPromise:
    """The ATP arithmetic, without storage: which nodes count, what protection and caps take away."""
    by_node = {b.node: b for b in balances if b.sku == item.sku}
    eligible = sorted((n for n in nodes if n.active and n.ship_from_enabled
                       and (n.hazmat_capable or not item.hazmat)), key=lambda n: n.code)
    rows = tuple(_node_row(n, by_node.get(n.code, StockBalance(item.sku, n.code))) for n in eligible)
    per_channel: list[ChannelAtp] = []
    for ch in channels:
        usable = [r for r in rows if not r.b2b_only or ch.kind in B2B_CHANNEL_KINDS]
        uncapped = sum(r.available_priority if ch.priority else r.available for r in usable)
        if not item.active:
            uncapped = 0
        cap = caps.get(ch.code)
        if cap is not None and cap.active_at(now):
            per_channel.append(ChannelAtp(ch.code, ch.name, ch.priority, min(uncapped, cap.remaining), uncapped,
                                          cap.cap, cap.remaining))
        else:
            per_channel.append(ChannelAtp(ch.code, ch.name, ch.priority, uncapped, uncapped))
    return AvailableToPromise(item.sku, item.name, item.hazmat, now, rows, _sum_rows(rows), tuple(per_channel))


def _node_row(node: FulfillmentNode, b: StockBalance) -> NodeAtp:
    return NodeAtp(node.code, node.name, node.node_type.value, node.b2b_only, b.on_hand, b.reserved,
                   b.safety_stock, b.protected_remaining, b.available_for(priority=False),
                   b.available_for(priority=True))


def _sum_rows(rows: Sequence[NodeAtp]) -> NodeAtp:
    def total(name: str) -> int:
        return sum(int(getattr(r, name)) for r in rows)

    return NodeAtp("TOTAL", "network", "network", False, total("on_hand"), total("reserved"),
                   total("safety_stock"), total("protected_remaining"), total("available"),
                   total("available_priority"))


# -- stock at one node -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StockRow(_View):
    sku: str
    name: str
    on_hand: int
    reserved: int
    safety_stock: int
    protected_remaining: int
    available: int


@dataclass(frozen=True)
class NodeStock(_View):
    node: str
    name: str
    node_type: str
    city: str
    state: str
    timezone: str
    cutoff_local: str
    daily_pick_capacity: int
    ship_from_enabled: bool
    hazmat_capable: bool
    b2b_only: bool
    active: bool
    sku_count: int
    on_hand: int
    reserved: int
    available: int
    rows: tuple[StockRow, ...]


def stock_at_node(uow: AbstractUnitOfWork, node: str, limit: int | None = None) -> NodeStock:
    """Every SKU position at one node (the first `limit` by SKU code) with the node's totals."""
    raise_if_any([p for p in (node_problem(uow, "node", node), _limit_problem(limit)) if p])
    found = uow.master.get_node(node)
    assert found is not None
    balances = uow.inventory.balances_at_node(node)
    shown = balances if limit is None else balances[:limit]
    rows = []
    for b in shown:
        item = uow.master.get_sku(b.sku)
        rows.append(StockRow(b.sku, item.name if item else "", b.on_hand, b.reserved, b.safety_stock,
                             b.protected_remaining, b.available_for(priority=False)))
    return NodeStock(
        found.code, found.name, found.node_type.value, found.city, found.state, found.timezone,
        found.cutoff_local.strftime("%H:%M"), found.daily_pick_capacity, found.ship_from_enabled,
        found.hazmat_capable, found.b2b_only, found.active, len(balances), sum(b.on_hand for b in balances),
        sum(b.reserved for b in balances), sum(b.available_for(priority=False) for b in balances), tuple(rows))


def _limit_problem(limit: object) -> Problem | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        return Problem("validation.limit", "limit", f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}",
                       f"send a limit from 1 to {MAX_LIMIT}")
    return None


# -- the ledger ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerEntry(_View):
    movement_id: str
    occurred_at: datetime
    kind: str
    quantity: int
    on_hand_after: int
    reference: str
    reason: str


@dataclass(frozen=True)
class LedgerView(_View):
    """The newest movements of one position. `on_hand_after` is walked back from the balance, so it is
    exact whenever reconciliation reports no drift for the position."""

    sku: str
    node: str
    on_hand: int
    reserved: int
    safety_stock: int
    protected_qty: int
    entries: tuple[LedgerEntry, ...]


def ledger(uow: AbstractUnitOfWork, sku: str, node: str, limit: int = 50) -> LedgerView:
    raise_if_any([p for p in (sku_problem(uow, "sku", sku), node_problem(uow, "node", node),
                              _limit_problem(limit)) if p])
    balance = uow.inventory.get_balance(sku, node) or StockBalance(sku, node)
    after = balance.on_hand
    entries = []
    for m in uow.inventory.movements(sku, node, limit):
        entries.append(LedgerEntry(m.movement_id, m.occurred_at, m.kind.value, m.quantity, after, m.reference,
                                   m.reason))
        after -= m.quantity
    return LedgerView(sku, node, balance.on_hand, balance.reserved, balance.safety_stock, balance.protected_qty,
                      tuple(entries))


# -- one order -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderLineView(_View):
    line_no: int
    sku: str
    quantity: int
    unit_price: str
    allocated: int
    shipped: int
    cancelled: int
    open_quantity: int


@dataclass(frozen=True)
class StatusChangeView(_View):
    at: datetime
    from_status: str | None
    to_status: str
    reason: str


@dataclass(frozen=True)
class ReservationView(_View):
    reservation_id: str
    line_no: int | None
    sku: str
    node: str
    quantity: int
    consumed: int
    outstanding: int
    status: str
    channel: str
    priority: bool
    created_at: datetime
    hold_id: str | None


@dataclass(frozen=True)
class OrderView(_View):
    order_id: str
    channel: str
    external_id: str
    status: str
    status_reason: str
    paused_from: str | None
    customer_id: str | None
    account_code: str | None
    placed_at: datetime
    currency: str
    total: str
    ship_to: dict[str, str]
    lines: tuple[OrderLineView, ...]
    history: tuple[StatusChangeView, ...]
    reservations: tuple[ReservationView, ...]


def order_view(uow: AbstractUnitOfWork, order_id: str) -> OrderView:
    """An order with its lines, status history and every reservation it ever held."""
    order = uow.orders.get(order_id) if isinstance(order_id, str) else None
    if order is None:
        raise e.UnknownOrder(f"order {order_id!r} does not exist", order_id=str(order_id), problems=[Problem(
            e.UnknownOrder.code, "order_id", f"order {order_id!r} does not exist",
            "use the id the order was placed with (orderloom orders show ID)")])
    reservations = uow.inventory.reservations(order_id=order.order_id, active_only=False)
    return OrderView(
        order.order_id, order.channel, order.external_id, order.status.value, order.status_reason,
        order.paused_from.value if order.paused_from else None, order.customer_id, order.account_code,
        order.placed_at, order.currency, str(order.total), order.ship_to.to_dict(),
        tuple(OrderLineView(ln.line_no, ln.sku, ln.quantity, str(ln.unit_price), ln.allocated, ln.shipped,
                            ln.cancelled, ln.open_quantity) for ln in order.lines),
        tuple(StatusChangeView(h.at, h.from_status.value if h.from_status else None, h.to_status.value, h.reason)
              for h in order.history),
        tuple(ReservationView(r.reservation_id, r.line_no, r.sku, r.node, r.quantity, r.consumed, r.outstanding,
                              r.status.value, r.channel, r.priority, r.created_at, r.hold_id)
              for r in reservations))
