"""In-memory implementations of the storage ports, for unit tests of the handlers (no I/O).

They mirror the SQL adapters in engine/adapters/ statement by statement:

* the conditional updates (`try_reserve`, `apply_movement`, `unreserve`, `try_take_cap`, `give_back_cap`)
  use the same WHERE clauses and change nothing when the condition fails;
* the database's constraints are checked when a row is written: CHECK constraints, primary keys and
  unique columns, foreign keys, VARCHAR lengths and NUMERIC precision (PostgreSQL's behaviour, the
  stricter of the two backends), and PostgreSQL's refusal of NUL characters in any text parameter,
  including lookups. A violation raises `FakeIntegrityError` (unique/check/foreign key, like
  SQLAlchemy's IntegrityError) or `FakeDataError` (too long, out of range, NUL);
* JSON columns (idempotency responses, outbox payloads) are stored as JSON and read back from it;
* every read returns a copy, so a handler only changes stored state through the repository;
* a unit of work snapshots the whole state when it begins and restores it unless it committed.

`FakeStore` holds the state shared by every unit of work of one factory; `fake_bus` wires a
`MessageBus` to it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from engine.domain import commands as c
from engine.domain.catalog import Sku, Substitute
from engine.domain.channels import Channel, ChannelCap, ChannelKind
from engine.domain.customers import B2BAccount, Customer, PriceList
from engine.domain.errors import OrderloomError
from engine.domain.events import Event
from engine.domain.inventory import Reservation, ReservationStatus, StockBalance, StockMovement
from engine.domain.network import Carrier, FulfillmentNode, Lane, NodeType
from engine.domain.orders import Order, OrderLine, OrderStatus, StatusChange
from engine.domain.returns import ReturnPolicy, Rma, RmaStatus
from engine.domain.routing import AuditEntry, DecisionOutcome, RoutingDecision
from engine.domain.tracking import TROUBLE, TrackingUpdate
from engine.returns.abuse import Decision, PastOrder, PastReturn, ReturnHistory, evidence_features
from engine.services.messagebus import MessageBus
from engine.services.ports import (
    IdempotencyRepository,
    InventoryRepository,
    LaneService,
    LedgerTotals,
    MasterDataRepository,
    OrderRepository,
    PolicyRecord,
    ReturnRepository,
    RoutingRepository,
    ShipmentRecord,
    StoredResponse,
    TrackingRecord,
    TrackingRepository,
)
from engine.services.unit_of_work import AbstractUnitOfWork, OutboxWriter

# -- errors the database would raise ---------------------------------------------------------------


class FakeIntegrityError(Exception):
    """What sqlalchemy.exc.IntegrityError stands for: a unique, check or foreign-key violation."""

    def __init__(self, kind: str, constraint: str, detail: str = "") -> None:
        super().__init__(f"{kind} constraint {constraint} violated{': ' + detail if detail else ''}")
        self.kind = kind  # "unique" | "check" | "foreign_key"
        self.constraint = constraint


class FakeDataError(Exception):
    """What sqlalchemy.exc.DataError stands for: a value the column cannot hold (PostgreSQL)."""


# -- column rules ----------------------------------------------------------------------------------


def _no_nul(*values: object) -> None:
    """PostgreSQL refuses text holding NUL anywhere, even in a WHERE clause."""
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise FakeDataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")


def _varchar(column: str, value: str | None, length: int) -> None:
    if value is None:
        return
    _no_nul(value)
    if len(value) > length:
        raise FakeDataError(f"value too long for type character varying({length}) in {column}")


def _text(column: str, value: str | None) -> None:
    _no_nul(value)


def _numeric(column: str, value: Decimal, precision: int, scale: int) -> Decimal:
    """NUMERIC(precision, scale): rounded to `scale` places; too many integer digits overflow."""
    stored = Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if abs(stored) >= Decimal(10) ** (precision - scale):
        raise FakeDataError(f"numeric field overflow in {column}: NUMERIC({precision},{scale})")
    return stored


def _money(column: str, value: Decimal) -> Decimal:
    return _numeric(column, value, 14, 4)


def _json(column: str, value: Any) -> Any:
    """Store as JSON and read back, as the JSON columns do (tuples become lists, enums strings)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise FakeDataError(f"{column} is not JSON serializable: {exc}") from exc


def _check(ok: bool, constraint: str, detail: str = "") -> None:
    if not ok:
        raise FakeIntegrityError("check", constraint, detail)


def _check_balance(b: StockBalance) -> None:
    _check(b.reserved >= 0, "reserved_not_negative", repr(b))
    _check(b.reserved <= b.on_hand, "reserved_within_on_hand", repr(b))
    _check(b.safety_stock >= 0, "safety_not_negative", repr(b))
    _check(b.protected_qty >= 0, "protected_not_negative", repr(b))
    _check(0 <= b.priority_reserved <= b.reserved, "priority_reserved_within_reserved", repr(b))


def _check_reservation(r: Reservation) -> None:
    _check(r.quantity > 0, "reservations.quantity_positive", repr(r))
    _check(0 <= r.consumed <= r.quantity, "consumed_within_quantity", repr(r))


def _check_line(ln: OrderLine) -> None:
    _check(ln.quantity > 0, "order_lines.quantity_positive", repr(ln))
    _check(ln.shipped + ln.cancelled <= ln.quantity, "shipped_within_quantity", repr(ln))


# -- the state -------------------------------------------------------------------------------------


@dataclass
class StoredShipment:
    shipment_id: str
    order_id: str
    node: str
    carrier: str
    tracking_number: str
    lines: list[list[int]]
    shipped_at: datetime


@dataclass
class OutboxRecord:
    """One outbox row; `event` is kept as well so tests can look at the typed event."""

    event_id: str
    event_type: str
    version: int
    aggregate: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime
    event: Event


@dataclass
class StoredKey:
    command: str
    request_hash: str
    response_json: str
    created_at: datetime


@dataclass
class FakeState:
    """Every table, as plain dictionaries and lists. Compared with == to prove nothing changed."""

    skus: dict[str, Sku] = field(default_factory=dict)
    nodes: dict[str, FulfillmentNode] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    price_lists: dict[str, str] = field(default_factory=dict)  # code -> currency
    prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (price list, sku) -> price
    accounts: dict[str, B2BAccount] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    carriers: dict[str, Carrier] = field(default_factory=dict)
    lanes: dict[tuple[str, str, str, str], Lane] = field(default_factory=dict)
    balances: dict[tuple[str, str], StockBalance] = field(default_factory=dict)
    movements: list[StockMovement] = field(default_factory=list)  # the ledger, in insertion (id) order
    reservations: dict[str, Reservation] = field(default_factory=dict)
    reservation_ended_at: dict[str, datetime | None] = field(default_factory=dict)
    caps: dict[tuple[str, str], ChannelCap] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    last_order_id: int = 0
    shipments: dict[str, StoredShipment] = field(default_factory=dict)
    idempotency: dict[str, StoredKey] = field(default_factory=dict)
    outbox: list[OutboxRecord] = field(default_factory=list)
    rate_cards: dict[tuple[str, str, int], tuple[tuple[tuple[Decimal, Decimal], ...], Decimal]] = field(
        default_factory=dict)
    lane_on_time: dict[tuple[str, str, str, str], Decimal] = field(default_factory=dict)
    markdown: dict[tuple[str, str], tuple[Decimal, datetime | None]] = field(default_factory=dict)
    capacity: dict[tuple[str, str], int] = field(default_factory=dict)
    policies: dict[int, PolicyRecord] = field(default_factory=dict)
    decisions: list[RoutingDecision] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    scans: list[TrackingRecord] = field(default_factory=list)
    scan_keys: set[tuple[str, str]] = field(default_factory=set)
    scan_received: list[datetime] = field(default_factory=list)
    rmas: dict[str, Rma] = field(default_factory=dict)
    return_policies: dict[int, ReturnPolicy] = field(default_factory=dict)


class FakeStore:
    """The database: one state object shared by every unit of work made by one factory."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.commits = 0

    def dump(self) -> FakeState:
        """A deep copy of everything stored: compare two dumps to prove a command changed nothing."""
        return copy.deepcopy(self.state)

    # conveniences for assertions
    def balance(self, sku: str, node: str) -> StockBalance | None:
        return self.state.balances.get((sku, node))

    def order(self, order_id: str) -> Order | None:
        return copy.deepcopy(self.state.orders.get(int(order_id)))

    def events(self, event_type: str | None = None) -> list[Event]:
        return [r.event for r in self.state.outbox if event_type is None or r.event_type == event_type]

    def tamper_balance(self, sku: str, node: str, **changes: int) -> None:
        """Change a balance behind the repository's back (a bug, a manual SQL edit) to test reconciliation."""
        self.state.balances[(sku, node)] = replace(self.state.balances[(sku, node)], **changes)  # type: ignore[arg-type]


# -- master data -----------------------------------------------------------------------------------


class FakeMasterDataRepository(MasterDataRepository):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @property
    def s(self) -> FakeState:
        return self.store.state

    # -- SKUs
    def get_sku(self, sku: str) -> Sku | None:
        _no_nul(sku)
        return copy.deepcopy(self.s.skus.get(sku))

    def variants_of(self, item: Sku, limit: int = 50) -> list[Sku]:
        found = [s for s in self.s.skus.values() if s.active and s.is_variant_of(item)]
        return copy.deepcopy(sorted(found, key=lambda s: s.sku)[:limit])

    def existing_skus(self, codes: Iterable[str]) -> set[str]:
        wanted = set(codes)
        _no_nul(*wanted)
        return {code for code in wanted if code in self.s.skus}

    def upsert_sku(self, item: Sku) -> bool:
        _varchar("skus.sku", item.sku, 64)
        _varchar("skus.name", item.name, 300)
        _varchar("skus.category", item.category, 100)
        _varchar("skus.unit_of_measure", item.unit_of_measure, 8)
        attributes = _json("skus.attributes", item.attributes)
        subs: list[Substitute] = []
        for sub in item.substitutes:
            _no_nul(sub.sku)
            if sub.sku not in self.s.skus:
                raise FakeIntegrityError("foreign_key", "sku_substitutes.substitute_sku", sub.sku)
            subs.append(Substitute(sub.sku, _numeric("min_price_ratio", sub.min_price_ratio, 6, 3),
                                   _numeric("max_price_ratio", sub.max_price_ratio, 6, 3),
                                   sub.valid_from, sub.valid_until))
        keys = [s.sku for s in subs]
        if len(keys) != len(set(keys)):
            raise FakeIntegrityError("unique", "pk_sku_substitutes", item.sku)
        created = item.sku not in self.s.skus
        self.s.skus[item.sku] = Sku(
            sku=item.sku, name=item.name, category=item.category,
            unit_price=_money("skus.unit_price", item.unit_price),
            weight_kg=_numeric("skus.weight_kg", item.weight_kg, 10, 3), hazmat=item.hazmat, is_new=item.is_new,
            unit_of_measure=item.unit_of_measure, attributes=attributes, substitutes=subs, active=item.active)
        return created

    # -- nodes
    def get_node(self, code: str) -> FulfillmentNode | None:
        _no_nul(code)
        return copy.deepcopy(self.s.nodes.get(code))

    def list_nodes(self) -> list[FulfillmentNode]:
        return [copy.deepcopy(self.s.nodes[k]) for k in sorted(self.s.nodes)]

    def upsert_node(self, node: FulfillmentNode) -> bool:
        for column, value, length in (("code", node.code, 32), ("name", node.name, 200),
                                      ("node_type", node.node_type.value, 16), ("city", node.city, 100),
                                      ("state", node.state, 8), ("postal_code", node.postal_code, 16),
                                      ("timezone", node.timezone, 64)):
            _varchar(f"nodes.{column}", value, length)
        latitude = _numeric("nodes.latitude", Decimal(str(node.latitude)), 9, 6)
        longitude = _numeric("nodes.longitude", Decimal(str(node.longitude)), 9, 6)
        cost = _money("nodes.handling_cost", Decimal(node.handling_cost))
        created = node.code not in self.s.nodes
        self.s.nodes[node.code] = replace(
            node, latitude=float(latitude), longitude=float(longitude), handling_cost=str(cost),
            cutoff_local=time(node.cutoff_local.hour, node.cutoff_local.minute))
        return created

    # -- channels
    def get_channel(self, code: str) -> Channel | None:
        _no_nul(code)
        return copy.deepcopy(self.s.channels.get(code))

    def list_channels(self) -> list[Channel]:
        return [copy.deepcopy(self.s.channels[k]) for k in sorted(self.s.channels)]

    def upsert_channel(self, channel: Channel) -> bool:
        _varchar("channels.code", channel.code, 32)
        _varchar("channels.name", channel.name, 200)
        _varchar("channels.kind", channel.kind.value, 16)
        created = channel.code not in self.s.channels
        self.s.channels[channel.code] = copy.deepcopy(channel)
        return created

    # -- prices, accounts, customers
    def upsert_price_list(self, price_list: PriceList) -> bool:
        _varchar("price_lists.code", price_list.code, 32)
        _varchar("price_lists.currency", price_list.currency, 3)
        items: dict[tuple[str, str], Decimal] = {}
        for sku, price in sorted(price_list.prices.items()):
            _no_nul(sku)
            if sku not in self.s.skus:
                raise FakeIntegrityError("foreign_key", "price_list_items.sku", sku)
            items[(price_list.code, sku)] = _money("price_list_items.price", price)
        created = not self.price_list_exists(price_list.code)
        self.s.price_lists[price_list.code] = price_list.currency
        self.s.prices.update(items)  # an upsert: prices not mentioned stay
        return created

    def price_list_exists(self, code: str) -> bool:
        _no_nul(code)
        return code in self.s.price_lists

    def get_price(self, price_list_code: str, sku: str) -> Decimal | None:
        _no_nul(price_list_code, sku)
        return self.s.prices.get((price_list_code, sku))

    def get_account(self, code: str) -> B2BAccount | None:
        _no_nul(code)
        return copy.deepcopy(self.s.accounts.get(code))

    def upsert_account(self, account: B2BAccount) -> bool:
        _varchar("accounts.code", account.code, 32)
        _varchar("accounts.name", account.name, 200)
        _varchar("accounts.tier", account.tier.value, 16)
        _varchar("accounts.edi_partner_id", account.edi_partner_id, 64)
        _no_nul(account.price_list_code)
        if account.price_list_code not in self.s.price_lists:
            raise FakeIntegrityError("foreign_key", "accounts.price_list_code", account.price_list_code)
        if account.edi_partner_id is not None and any(
                a.edi_partner_id == account.edi_partner_id and a.code != account.code
                for a in self.s.accounts.values()):
            raise FakeIntegrityError("unique", "uq_accounts_edi_partner_id", account.edi_partner_id)
        domains = tuple(_json("accounts.email_domains", list(account.email_domains)))
        created = account.code not in self.s.accounts
        self.s.accounts[account.code] = replace(
            account, credit_limit=_money("accounts.credit_limit", account.credit_limit), email_domains=domains)
        return created

    def account_code_by_edi_partner(self, partner_id: str) -> str | None:
        _no_nul(partner_id)
        return next((a.code for a in self.s.accounts.values() if a.edi_partner_id == partner_id), None)

    def get_customer(self, customer_id: str) -> Customer | None:
        _no_nul(customer_id)
        return copy.deepcopy(self.s.customers.get(customer_id))

    def upsert_customer(self, customer: Customer) -> bool:
        _varchar("customers.customer_id", customer.customer_id, 64)
        _varchar("customers.email", customer.email, 320)
        _varchar("customers.name", customer.name, 200)
        _varchar("customers.tier", customer.tier.value, 16)
        if customer.account_code is not None and customer.account_code not in self.s.accounts:
            raise FakeIntegrityError("foreign_key", "customers.account_code", customer.account_code)
        if any(c.email == customer.email and c.customer_id != customer.customer_id
               for c in self.s.customers.values()):
            raise FakeIntegrityError("unique", "uq_customers_email", customer.email)
        created = customer.customer_id not in self.s.customers
        self.s.customers[customer.customer_id] = copy.deepcopy(customer)
        return created

    def customer_id_by_email(self, email: str) -> str | None:
        _no_nul(email)
        return next((x.customer_id for x in self.s.customers.values() if x.email == email), None)

    def account_codes_by_email_domain(self, domain: str) -> list[str]:
        wanted = domain.strip().lower()
        return sorted(a.code for a in self.s.accounts.values() if wanted in {d.lower() for d in a.email_domains})

    # -- carriers and lanes
    def upsert_carrier(self, carrier: Carrier) -> bool:
        _varchar("carriers.code", carrier.code, 32)
        _varchar("carriers.name", carrier.name, 200)
        created = not self.carrier_exists(carrier.code)
        self.s.carriers[carrier.code] = carrier
        return created

    def carrier_exists(self, code: str) -> bool:
        _no_nul(code)
        return code in self.s.carriers

    def upsert_lanes(self, lanes: Sequence[Lane]) -> int:
        # One INSERT ... ON CONFLICT DO UPDATE per row (executemany): a repeated key is updated again.
        for x in lanes:
            _varchar("lanes.carrier", x.carrier, 32)
            _varchar("lanes.service", x.service.value, 16)
            _varchar("lanes.origin_node", x.origin_node, 32)
            _varchar("lanes.dest_prefix", x.dest_prefix, 3)
            if x.carrier not in self.s.carriers:
                raise FakeIntegrityError("foreign_key", "lanes.carrier", x.carrier)
            if x.origin_node not in self.s.nodes:
                raise FakeIntegrityError("foreign_key", "lanes.origin_node", x.origin_node)
            self.s.lanes[(x.carrier, x.service.value, x.origin_node, x.dest_prefix)] = x
        return len(lanes)

    def lanes_from(self, origin_node: str) -> list[Lane]:
        _no_nul(origin_node)
        return [x for x in self.s.lanes.values() if x.origin_node == origin_node]


# -- inventory -------------------------------------------------------------------------------------


class FakeInventoryRepository(InventoryRepository):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @property
    def s(self) -> FakeState:
        return self.store.state

    def _put(self, balance: StockBalance) -> None:
        _check_balance(balance)
        self.s.balances[(balance.sku, balance.node)] = balance

    def get_balance(self, sku: str, node: str) -> StockBalance | None:
        _no_nul(sku, node)
        return self.s.balances.get((sku, node))  # frozen: no copy needed

    def balances_for_sku(self, sku: str) -> list[StockBalance]:
        _no_nul(sku)
        return sorted((b for b in self.s.balances.values() if b.sku == sku), key=lambda b: b.node)

    def all_balances(self) -> list[StockBalance]:
        return sorted(self.s.balances.values(), key=lambda b: (b.sku, b.node))

    def balances_at_node(self, node: str) -> list[StockBalance]:
        _no_nul(node)
        return sorted((b for b in self.s.balances.values() if b.node == node), key=lambda b: b.sku)

    def ensure_balance(self, sku: str, node: str) -> None:
        _no_nul(sku, node)
        if (sku, node) in self.s.balances:
            return  # ON CONFLICT DO NOTHING
        if sku not in self.s.skus:
            raise FakeIntegrityError("foreign_key", "stock_balances.sku", sku)
        if node not in self.s.nodes:
            raise FakeIntegrityError("foreign_key", "stock_balances.node", node)
        self._put(StockBalance(sku, node))

    def try_reserve(self, sku: str, node: str, quantity: int, priority: bool) -> bool:
        _no_nul(sku, node)
        b = self.s.balances.get((sku, node))
        if b is None:
            return False
        free = b.on_hand - b.reserved - b.safety_stock
        if not priority:
            free -= b.protected_qty - b.priority_reserved if b.protected_qty > b.priority_reserved else 0
        if not free >= quantity:
            return False
        self._put(replace(b, reserved=b.reserved + quantity,
                          priority_reserved=b.priority_reserved + quantity if priority else b.priority_reserved))
        return True

    def unreserve(self, sku: str, node: str, quantity: int, priority: bool) -> None:
        _no_nul(sku, node)
        b = self.s.balances.get((sku, node))
        if b is None or not b.reserved >= quantity:
            raise RuntimeError(f"releasing {quantity} of {sku}@{node} found fewer units reserved")
        self._put(replace(b, reserved=b.reserved - quantity,
                          priority_reserved=b.priority_reserved - quantity if priority else b.priority_reserved))

    def apply_movement(self, movement: StockMovement, *, consume_reserved: int = 0,
                       consume_priority: int = 0) -> int | None:
        q = movement.quantity
        _no_nul(movement.sku, movement.node)
        b = self.s.balances.get((movement.sku, movement.node))
        if b is None or not (b.on_hand + q >= 0 and b.on_hand + q >= b.reserved - consume_reserved
                             and b.reserved >= consume_reserved and b.priority_reserved >= consume_priority):
            return None
        _varchar("stock_movements.movement_id", movement.movement_id, 32)
        _varchar("stock_movements.kind", movement.kind.value, 16)
        _varchar("stock_movements.reference", movement.reference, 200)
        _varchar("stock_movements.reason", movement.reason, 500)
        if any(m.movement_id == movement.movement_id for m in self.s.movements):
            raise FakeIntegrityError("unique", "uq_stock_movements_movement_id", movement.movement_id)
        after = replace(b, on_hand=b.on_hand + q, reserved=b.reserved - consume_reserved,
                        priority_reserved=b.priority_reserved - consume_priority)
        self._put(after)
        self.s.movements.append(movement)
        return after.on_hand

    def set_policy(self, sku: str, node: str, safety_stock: int, protected_qty: int) -> None:
        _no_nul(sku, node)
        b = self.s.balances.get((sku, node))
        if b is not None:
            self._put(replace(b, safety_stock=safety_stock, protected_qty=protected_qty))

    def overwrite_balance(self, balance: StockBalance) -> None:
        _no_nul(balance.sku, balance.node)
        if (balance.sku, balance.node) in self.s.balances:
            self._put(balance)

    # -- reservations
    def add_reservations(self, items: Sequence[Reservation]) -> None:
        for r in items:
            _varchar("reservations.reservation_id", r.reservation_id, 32)
            _varchar("reservations.sku", r.sku, 64)
            _varchar("reservations.node", r.node, 32)
            _varchar("reservations.channel", r.channel, 32)
            _varchar("reservations.order_id", r.order_id, 32)
            _varchar("reservations.hold_id", r.hold_id, 64)
            _check_reservation(r)
            if r.reservation_id in self.s.reservations:
                raise FakeIntegrityError("unique", "pk_reservations", r.reservation_id)
            self.s.reservations[r.reservation_id] = copy.deepcopy(r)
            self.s.reservation_ended_at[r.reservation_id] = None

    def update_reservation(self, item: Reservation, ended_at: datetime | None) -> None:
        stored = self.s.reservations.get(item.reservation_id)
        if stored is None:
            return  # UPDATE ... WHERE reservation_id = ...: no row, nothing changes
        _varchar("reservations.order_id", item.order_id, 32)
        updated = replace(stored, status=item.status, consumed=item.consumed, order_id=item.order_id,
                          line_no=item.line_no, expires_at=item.expires_at)
        _check_reservation(updated)
        self.s.reservations[item.reservation_id] = updated
        self.s.reservation_ended_at[item.reservation_id] = ended_at

    def reservations(self, *, order_id: str | None = None, hold_id: str | None = None,
                     active_only: bool = True) -> list[Reservation]:
        if order_id is None and hold_id is None:
            raise ValueError("give an order id or a hold id")
        _no_nul(order_id, hold_id)
        found = [r for r in self.s.reservations.values()
                 if (order_id is None or r.order_id == order_id) and (hold_id is None or r.hold_id == hold_id)
                 and (not active_only or r.status == ReservationStatus.ACTIVE)]
        return [copy.deepcopy(r) for r in sorted(found, key=lambda r: (r.created_at, r.reservation_id))]

    def active_reservations_at(self, sku: str, node: str) -> list[Reservation]:
        _no_nul(sku, node)
        return [copy.deepcopy(r) for r in self.s.reservations.values()
                if r.sku == sku and r.node == node and r.status == ReservationStatus.ACTIVE]

    def expired_hold_ids(self, now: datetime, limit: int) -> list[str]:
        ids = {r.hold_id for r in self.s.reservations.values()
               if r.status == ReservationStatus.ACTIVE and r.hold_id is not None and r.order_id is None
               and r.expires_at is not None and r.expires_at <= now}
        return sorted(i for i in ids if i)[:limit]

    # -- channel caps
    def get_cap(self, channel: str, sku: str) -> ChannelCap | None:
        _no_nul(channel, sku)
        return self.s.caps.get((channel, sku))

    def set_cap(self, cap: ChannelCap) -> None:
        _no_nul(cap.channel, cap.sku)
        if cap.channel not in self.s.channels:
            raise FakeIntegrityError("foreign_key", "channel_caps.channel", cap.channel)
        if cap.sku not in self.s.skus:
            raise FakeIntegrityError("foreign_key", "channel_caps.sku", cap.sku)
        _check(cap.cap >= 0, "cap_not_negative", repr(cap))
        _check(cap.used >= 0, "used_not_negative", repr(cap))
        self.s.caps[(cap.channel, cap.sku)] = cap

    def try_take_cap(self, channel: str, sku: str, quantity: int) -> bool:
        _no_nul(channel, sku)
        cap = self.s.caps.get((channel, sku))
        if cap is None or not cap.used + quantity <= cap.cap:
            return False
        self.s.caps[(channel, sku)] = replace(cap, used=cap.used + quantity)
        return True

    def give_back_cap(self, channel: str, sku: str, quantity: int) -> None:
        _no_nul(channel, sku)
        cap = self.s.caps.get((channel, sku))
        if cap is not None:
            self.s.caps[(channel, sku)] = replace(cap, used=cap.used - quantity if cap.used > quantity else 0)

    # -- ledger
    def expected_totals(self) -> dict[tuple[str, str], LedgerTotals]:
        ledger: dict[tuple[str, str], int] = {}
        for m in self.s.movements:
            ledger[(m.sku, m.node)] = ledger.get((m.sku, m.node), 0) + m.quantity
        held: dict[tuple[str, str], tuple[int, int]] = {}
        for r in self.s.reservations.values():
            if r.status != ReservationStatus.ACTIVE:
                continue
            outstanding = r.quantity - r.consumed
            total, prio = held.get((r.sku, r.node), (0, 0))
            held[(r.sku, r.node)] = (total + outstanding, prio + (outstanding if r.priority else 0))
        keys = set(ledger) | set(held)
        return {k: LedgerTotals(ledger.get(k, 0), *held.get(k, (0, 0))) for k in keys}

    def movements(self, sku: str, node: str, limit: int = 100) -> list[StockMovement]:
        _no_nul(sku, node)
        return [m for m in reversed(self.s.movements) if m.sku == sku and m.node == node][:limit]


# -- orders ----------------------------------------------------------------------------------------


def _row_id(order_id: str) -> int | None:
    return int(order_id) if order_id.isdigit() and len(order_id) < 19 else None


class FakeOrderRepository(OrderRepository):
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        # Like the SQL repository: how many history rows of each order this unit of work has seen.
        self._stored_history: dict[str, int] = {}

    @property
    def s(self) -> FakeState:
        return self.store.state

    def add(self, order: Order) -> str:
        _varchar("orders.channel", order.channel, 32)
        _varchar("orders.external_id", order.external_id, 128)
        _varchar("orders.customer_id", order.customer_id, 64)
        _varchar("orders.account_code", order.account_code, 32)
        _varchar("orders.status_reason", order.status_reason, 500)
        _varchar("orders.currency", order.currency, 3)
        _text("orders.notes", order.notes)
        ship_to = _json("orders.ship_to", order.ship_to.to_dict())
        if order.channel not in self.s.channels:
            raise FakeIntegrityError("foreign_key", "orders.channel", order.channel)
        if self.find_by_external_id(order.channel, order.external_id) is not None:
            raise FakeIntegrityError("unique", "uq_orders_channel_external_id",
                                     f"{order.channel}/{order.external_id}")
        for ln in order.lines:
            _varchar("order_lines.sku", ln.sku, 64)
            if ln.sku not in self.s.skus:
                raise FakeIntegrityError("foreign_key", "order_lines.sku", ln.sku)
            _check_line(ln)
        if len({ln.line_no for ln in order.lines}) != len(order.lines):
            raise FakeIntegrityError("unique", "pk_order_lines", "repeated line_no")
        row_id = self.s.last_order_id + 1
        self.s.last_order_id = row_id
        order.order_id = str(row_id)
        stored = copy.deepcopy(order)
        stored.paused_from = None
        stored.version = 0
        stored.ship_to = type(order.ship_to).from_dict(ship_to)
        stored.lines = [replace(ln, unit_price=_money("order_lines.unit_price", ln.unit_price))
                        for ln in stored.lines]
        stored.history = []
        self.s.orders[row_id] = stored
        self._stored_history[order.order_id] = 0
        self._write_history(order)
        return order.order_id

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        row_id = _row_id(order_id)
        if row_id is None:
            return None
        stored = self.s.orders.get(row_id)
        if stored is None:
            return None
        order = copy.deepcopy(stored)
        self._stored_history[order.order_id] = len(order.history)
        return order

    def find_by_external_id(self, channel: str, external_id: str) -> str | None:
        _no_nul(channel, external_id)
        for row_id, o in self.s.orders.items():
            if o.channel == channel and o.external_id == external_id:
                return str(row_id)
        return None

    def save(self, order: Order, *, amended: bool = False) -> None:
        row_id = int(order.order_id)
        stored = self.s.orders.get(row_id)
        if stored is None or stored.version != order.version:
            raise RuntimeError(f"order {order.order_id} was changed by someone else")
        _varchar("orders.status_reason", order.status_reason, 500)
        stored.status = order.status
        stored.paused_from = order.paused_from
        stored.status_reason = order.status_reason
        stored.version = order.version + 1
        order.version += 1
        by_no = {ln.line_no: ln for ln in order.lines}
        for ln in stored.lines:
            mine = by_no.get(ln.line_no)
            if mine is None:
                continue
            updated = replace(ln, allocated=mine.allocated, shipped=mine.shipped, cancelled=mine.cancelled)
            _check_line(updated)
            ln.allocated, ln.shipped, ln.cancelled = updated.allocated, updated.shipped, updated.cancelled
            if amended:
                ln.sku, ln.unit_price = mine.sku, mine.unit_price
        if amended:
            stored.ship_to = order.ship_to
        self._write_history(order)

    def _write_history(self, order: Order) -> None:
        seen = self._stored_history.get(order.order_id, 0)
        new = order.history[seen:]
        stored = self.s.orders[int(order.order_id)]
        for ch in new:
            _text("order_status_history.reason", ch.reason)
            stored.history.append(StatusChange(ch.at, ch.from_status, ch.to_status, ch.reason[:500]))
        self._stored_history[order.order_id] = len(order.history)

    def add_shipment(self, shipment_id: str, order_id: str, node: str, carrier: str, tracking_number: str,
                     lines: Sequence[tuple[int, int]], shipped_at: datetime) -> None:
        _varchar("shipments.shipment_id", shipment_id, 64)
        _varchar("shipments.node", node, 32)
        _varchar("shipments.carrier", carrier, 32)
        _varchar("shipments.tracking_number", tracking_number, 64)
        if shipment_id in self.s.shipments:
            raise FakeIntegrityError("unique", "pk_shipments", shipment_id)
        if int(order_id) not in self.s.orders:
            raise FakeIntegrityError("foreign_key", "shipments.order_id", order_id)
        self.s.shipments[shipment_id] = StoredShipment(shipment_id, order_id, node, carrier, tracking_number,
                                                       _json("shipments.lines", [list(x) for x in lines]),
                                                       shipped_at)

    def shipment_exists(self, shipment_id: str) -> bool:
        _no_nul(shipment_id)
        return shipment_id in self.s.shipments

    def shipments(self, order_id: str) -> list[ShipmentRecord]:
        found = [x for x in self.s.shipments.values() if x.order_id == order_id]
        return [ShipmentRecord(x.shipment_id, x.order_id, x.node, x.carrier, x.tracking_number,
                               tuple((a, b) for a, b in x.lines), x.shipped_at)
                for x in sorted(found, key=lambda x: (x.shipped_at, x.shipment_id))]


# -- idempotency and outbox ------------------------------------------------------------------------


class FakeIdempotencyRepository(IdempotencyRepository):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, key: str) -> StoredResponse | None:
        _no_nul(key)
        row = self.store.state.idempotency.get(key)
        return StoredResponse(row.command, row.request_hash, json.loads(row.response_json)) if row else None

    def add(self, key: str, stored: StoredResponse, at: datetime) -> None:
        _varchar("idempotency_keys.key", key, 200)
        _varchar("idempotency_keys.command", stored.command, 64)
        _varchar("idempotency_keys.request_hash", stored.request_hash, 64)
        if key in self.store.state.idempotency:
            raise FakeIntegrityError("unique", "pk_idempotency_keys", key)
        try:
            text = json.dumps(stored.response)
        except (TypeError, ValueError) as exc:
            raise FakeDataError(f"the response of {stored.command} is not JSON serializable: {exc}") from exc
        self.store.state.idempotency[key] = StoredKey(stored.command, stored.request_hash, text, at)


class FakeOutboxWriter(OutboxWriter):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def add(self, events: Sequence[Event]) -> None:
        outbox = self.store.state.outbox
        known = {r.event_id for r in outbox}
        for ev in events:
            _varchar("outbox.event_id", ev.event_id, 32)
            _varchar("outbox.event_type", ev.event_type, 64)
            _varchar("outbox.aggregate", ev.aggregate, 32)
            if ev.event_id in known:
                raise FakeIntegrityError("unique", "uq_outbox_event_id", ev.event_id)
            known.add(ev.event_id)
            outbox.append(OutboxRecord(ev.event_id, ev.event_type, ev.version, ev.aggregate,
                                       ev.aggregate_id[:128], _json("outbox.payload", ev.payload()),
                                       ev.occurred_at, ev))


# -- unit of work, clock, bus ----------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when told to, plus one microsecond per reading.

    The tick keeps every timestamp distinct and increasing (so "newest first" is well defined);
    `advance` moves whole seconds, far more than all the ticks together.
    """

    def __init__(self, start: datetime = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.start = start
        self.offset = timedelta(0)
        self.ticks = 0

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        self.ticks += 1
        return self.start + self.offset + timedelta(microseconds=self.ticks)


class FakeReturnRepository(ReturnRepository):
    """Returns in memory. Like the table's unique key, a reference stored twice for one return is refused."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store.state

    def add(self, rma: Rma) -> None:
        if rma.rma_id in self.s.rmas:
            raise FakeIntegrityError("unique", "pk_returns", rma.rma_id)
        self.s.rmas[rma.rma_id] = copy.deepcopy(rma)

    def get(self, rma_id: str, *, for_update: bool = False) -> Rma | None:
        found = self.s.rmas.get(rma_id) if isinstance(rma_id, str) else None
        return copy.deepcopy(found) if found is not None else None

    def save(self, rma: Rma) -> None:
        stored = self.s.rmas.get(rma.rma_id)
        if stored is None:
            raise FakeIntegrityError("foreign_key", "fk_returns", rma.rma_id)
        self.s.rmas[rma.rma_id] = copy.deepcopy(rma)

    def for_order(self, order_id: str) -> list[Rma]:
        return [copy.deepcopy(r) for r in self.s.rmas.values() if r.order_id == order_id]

    def search(self, *, status: Sequence[str] = (), customer_id: str | None = None,
               account_code: str | None = None, limit: int = 100) -> list[Rma]:
        found = [r for r in self.s.rmas.values() if (not status or r.status.value in status)
                 and (customer_id is None or r.customer_id == customer_id)
                 and (account_code is None or r.account_code == account_code)]
        return [copy.deepcopy(r) for r in found][::-1][:limit]

    def customer_history(self, customer_id: str, before: datetime) -> ReturnHistory:
        orders = {o.order_id: o for o in self.s.orders.values()
                  if o.customer_id == customer_id and o.placed_at < before and o.status is not OrderStatus.CANCELLED}
        past_orders = [PastOrder(at=o.placed_at, units=sum(ln.quantity - ln.cancelled for ln in o.lines),
                                 value=float(sum((ln.quantity - ln.cancelled) * ln.unit_price for ln in o.lines)),
                                 ship_postal=o.ship_to.postal_code) for o in orders.values()]
        past_returns = []
        for r in self.s.rmas.values():
            order = orders.get(r.order_id)
            if order is None or r.created_at is None or r.created_at >= before or r.status.value in ("refused",
                                                                                                      "cancelled"):
                continue
            graded = [ln for ln in r.lines if ln.grade is not None]
            units = sum(ln.quantity for ln in r.lines)
            past_returns.append(PastReturn(
                at=r.created_at, units=units, value=float(sum(ln.unit_price * ln.quantity for ln in r.lines)),
                reason=r.reason.value, from_postal=r.from_postal or order.ship_to.postal_code,
                order_ship_postal=order.ship_to.postal_code,
                whole_order=units == sum(ln.quantity - ln.cancelled for ln in order.lines),
                graded_used=None if not graded else any(ln.grade.value in ("used", "damaged", "unsaleable")
                                                        for ln in graded if ln.grade is not None)))
        return ReturnHistory(orders=past_orders, returns=past_returns)

    def by_label(self, carrier: str, tracking_number: str) -> Rma | None:
        return next((copy.deepcopy(r) for r in self.s.rmas.values()
                     if r.label == {"carrier": carrier, "tracking_number": tracking_number}), None)

    def active_policy(self) -> tuple[int, ReturnPolicy] | None:
        if not self.s.return_policies:
            return None
        version = max(self.s.return_policies)
        return version, self.s.return_policies[version]

    def add_policy(self, version: int, policy: ReturnPolicy, actor: str, note: str, at: datetime) -> None:
        self.s.return_policies[version] = policy

    def replaced_by(self, order_id: str) -> list[str]:
        return [r.order_id for r in self.s.rmas.values() if r.exchange_order_id == order_id]

    def sku_demand(self, sku: str, since: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.s.orders.values():
            if o.placed_at >= since and o.status is not OrderStatus.CANCELLED and o.ship_to.postal_code[:3]:
                units = sum(ln.quantity for ln in o.lines if ln.sku == sku)
                if units:
                    out[o.ship_to.postal_code[:3]] = out.get(o.ship_to.postal_code[:3], 0) + units
        return out

    def decisions(self, limit: int = 50_000) -> list[Decision]:
        decided = sorted((r for r in self.s.rmas.values()
                          if r.status not in (RmaStatus.REQUESTED, RmaStatus.CANCELLED)),
                         key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.rma_id))
        return [Decision(r.created_at or r.history[0].at, found, r.status is RmaStatus.REFUSED)
                for r in decided[:limit] if (found := evidence_features(r.abuse_evidence))]

    def analytics(self, since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Units shipped and returned by SKU, channel and segment, and returns by reason (as the SQL does)."""
        def segment(o: Order) -> str:
            if o.account_code and o.account_code in self.s.accounts:
                return f"b2b:{self.s.accounts[o.account_code].tier.value}"
            if o.customer_id and o.customer_id in self.s.customers:
                return f"consumer:{self.s.customers[o.customer_id].tier.value}"
            return "guest"

        sold: dict[str, dict[str, int]] = {"sku": {}, "channel": {}, "segment": {}}
        back: dict[str, dict[str, int]] = {"sku": {}, "channel": {}, "segment": {}, "reason": {}}
        for o in self.s.orders.values():
            for ln in o.lines if o.placed_at >= since else []:
                for dim, key in (("sku", ln.sku), ("channel", o.channel), ("segment", segment(o))):
                    sold[dim][key] = sold[dim].get(key, 0) + ln.shipped
        for r in self.s.rmas.values():
            order = self.s.orders.get(int(r.order_id))
            if order is None or r.created_at is None or r.created_at < since or r.status.value in ("refused",
                                                                                                     "cancelled"):
                continue
            arrived = any(h.to_status.value == "received" for h in r.history)
            for ln in r.lines:
                units = ln.received if arrived else ln.quantity
                for dim, key in (("sku", ln.sku), ("channel", r.channel), ("segment", segment(order)),
                                 ("reason", ln.reason.value)):
                    back[dim][key] = back[dim].get(key, 0) + units
        out: dict[str, list[dict[str, Any]]] = {}
        for dim in ("sku", "channel", "segment"):
            rows = [{"key": k, "sold": sold[dim].get(k, 0), "returned": back[dim].get(k, 0),
                     "return_rate": round(back[dim].get(k, 0) / sold[dim][k], 4) if sold[dim].get(k) else None}
                    for k in sorted((set(sold[dim]) | set(back[dim])) - {k for k, v in sold[dim].items()
                                                                          if not v and k not in back[dim]})]
            out[dim] = sorted(rows, key=lambda x: (-(x["return_rate"] or 0), -x["returned"], x["key"]))
        total = sum(back["reason"].values())
        out["reason"] = [{"key": k, "returned": v, "share": round(v / total, 4) if total else None}
                         for k, v in sorted(back["reason"].items(), key=lambda kv: (-kv[1], kv[0]))]
        return out


class FakeTrackingRepository(TrackingRepository):
    def __init__(self, store: FakeStore) -> None:
        self.s = store.state

    def seen(self, carrier: str, event_key: str) -> bool:
        return (carrier, event_key) in self.s.scan_keys

    def shipment_for(self, carrier: str, tracking_number: str) -> tuple[str, str] | None:
        found = [x for x in self.s.shipments.values() if x.carrier == carrier and x.tracking_number == tracking_number]
        latest = max(found, key=lambda x: x.shipped_at, default=None)
        return None if latest is None else (latest.order_id, latest.shipment_id)

    def add(self, update: TrackingUpdate, order_id: str | None, shipment_id: str | None, at: datetime) -> None:
        if (update.carrier, update.event_key) in self.s.scan_keys:
            raise FakeIntegrityError("unique", "uq_tracking_events_carrier_event")
        self.s.scan_keys.add((update.carrier, update.event_key))
        self.s.scans.append(TrackingRecord(
            carrier=update.carrier, tracking_number=update.tracking_number, shipment_id=shipment_id,
            order_id=order_id, status=update.status.value, carrier_code=update.carrier_code,
            description=update.description, location=update.location, occurred_at=update.occurred_at,
            estimated_delivery=update.estimated_delivery))
        self.s.scan_received.append(at)

    def for_order(self, order_id: str) -> list[TrackingRecord]:
        return sorted((x for x in self.s.scans if x.order_id == order_id), key=lambda x: x.occurred_at)

    def link(self, carrier: str, tracking_number: str, order_id: str, shipment_id: str) -> int:
        hits = [i for i, x in enumerate(self.s.scans) if x.order_id is None and x.carrier == carrier
                and x.tracking_number == tracking_number]
        for i in hits:
            self.s.scans[i] = dataclasses.replace(self.s.scans[i], order_id=order_id, shipment_id=shipment_id)
        return len(hits)

    def delayed_orders(self, carrier: str, since: datetime) -> list[tuple[str, str]]:
        trouble = {s.value for s in TROUBLE}
        out = {(x.order_id, self.s.orders[int(x.order_id)].ship_to.postal_code)
               for x, at in zip(self.s.scans, self.s.scan_received, strict=True)
               if x.carrier == carrier and at >= since and x.status in trouble and x.order_id is not None
               and int(x.order_id) in self.s.orders}
        return sorted(out)


class FakeRoutingRepository(RoutingRepository):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @property
    def s(self) -> FakeState:
        return self.store.state

    def lane_services_to(self, dest_prefix: str) -> list[LaneService]:
        out: list[LaneService] = []
        for (carrier, service, origin, prefix), lane in sorted(self.s.lanes.items()):
            node = self.s.nodes.get(origin)
            if prefix != dest_prefix or node is None or not node.active:
                continue
            card = self.s.rate_cards.get((carrier, service, lane.zone))
            on_time = self.s.lane_on_time.get((carrier, service, origin, prefix), Decimal("0.95"))
            out.append(LaneService(carrier, service, origin, lane.zone, lane.transit_days, float(on_time),
                                   tuple((float(w), float(p)) for w, p in card[0]) if card else None,
                                   float(card[1]) if card else 0.0))
        return out

    def set_rate_card(self, carrier: str, service: str, zone: int, brackets: Sequence[tuple[Decimal, Decimal]],
                      price_per_kg_beyond: Decimal, currency: str, at: datetime) -> None:
        self.s.rate_cards[carrier, service, zone] = (tuple(brackets), price_per_kg_beyond)

    def set_lane_on_time(self, carrier: str, service: str, origin_node: str, dest_prefix: str,
                         probability: Decimal) -> bool:
        if (carrier, service, origin_node, dest_prefix) not in self.s.lanes:
            return False
        self.s.lane_on_time[carrier, service, origin_node, dest_prefix] = probability
        return True

    def set_markdown_risk(self, sku: str, node: str, credit: Decimal, until: datetime | None) -> None:
        if credit == 0:
            self.s.markdown.pop((sku, node), None)
        else:
            self.s.markdown[sku, node] = (credit, until)

    def markdown_risks(self, skus: Iterable[str], now: datetime) -> list[tuple[str, str, float]]:
        wanted = set(skus)
        return [(sku, node, float(credit)) for (sku, node), (credit, until) in sorted(self.s.markdown.items())
                if sku in wanted and (until is None or until > now)]

    def balances_for_skus(self, skus: Iterable[str]) -> list[StockBalance]:
        wanted = set(skus)
        return [copy.copy(b) for (sku, _), b in sorted(self.s.balances.items()) if sku in wanted]

    def capacity_used(self, days: dict[str, str]) -> dict[str, int]:
        return {node: self.s.capacity[node, day] for node, day in days.items() if (node, day) in self.s.capacity}

    def try_take_capacity(self, node: str, day: str, units: int, capacity: int) -> bool:
        used = self.s.capacity.get((node, day), 0)
        self.s.capacity[node, day] = used
        if used + units > capacity:
            return False
        self.s.capacity[node, day] = used + units
        return True

    def give_back_capacity(self, node: str, day: str, units: int) -> None:
        if (node, day) in self.s.capacity:
            self.s.capacity[node, day] = max(0, self.s.capacity[node, day] - units)

    def policies(self) -> list[PolicyRecord]:
        return [self.s.policies[v] for v in sorted(self.s.policies)]

    def get_policy(self, version: int) -> PolicyRecord | None:
        return self.s.policies.get(version)

    def active_policy(self) -> PolicyRecord | None:
        return next((p for p in reversed(self.policies()) if p.active), None)

    def add_policy(self, record: PolicyRecord) -> None:
        if record.version in self.s.policies:
            raise FakeIntegrityError("unique", "routing_policies.version")
        self.s.policies[record.version] = replace(record, active=False)

    def activate_policy(self, version: int) -> None:
        self.s.policies = {v: replace(p, active=v == version) for v, p in self.s.policies.items()}

    def add_decision(self, decision: RoutingDecision) -> None:
        self.s.decisions.append(copy.deepcopy(decision))

    def decisions(self, order_id: str) -> list[RoutingDecision]:
        found = [copy.deepcopy(d) for d in self.s.decisions if d.order_id == order_id]
        return sorted(found, key=lambda d: (d.created_at, d.attempt))

    def recent_decisions(self, limit: int = 100) -> list[RoutingDecision]:
        ordered = sorted(self.s.decisions, key=lambda d: d.created_at, reverse=True)[:limit]
        return [replace(copy.deepcopy(d), instance=None) for d in ordered]

    def allocated_since(self, since: datetime, limit: int) -> list[str]:
        last: dict[str, datetime] = {}
        for d in self.s.decisions:
            if d.outcome is DecisionOutcome.COMMITTED:
                last[d.order_id] = max(last.get(d.order_id, d.created_at), d.created_at)
        return sorted((o for o, at in last.items() if at >= since
                       and self.s.orders[int(o)].status is OrderStatus.ALLOCATED), key=int)[:limit]

    def add_audit(self, entry: AuditEntry) -> None:
        self.s.audit.append(entry)

    def audit(self, entity: str, entity_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        found = [a for a in self.s.audit if a.entity == entity and (entity_id is None or a.entity_id == entity_id)]
        return list(reversed(found))[:limit]


class FakeUnitOfWork(AbstractUnitOfWork):
    """One transaction over a FakeStore: a snapshot taken at the start is restored on rollback."""

    def __init__(self, store: FakeStore, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(clock or FakeClock())
        self.store = store
        self._snapshot: FakeState | None = None

    def _begin(self) -> None:
        self._snapshot = copy.deepcopy(self.store.state)
        self.master = FakeMasterDataRepository(self.store)
        self.inventory = FakeInventoryRepository(self.store)
        self.orders = FakeOrderRepository(self.store)
        self.idempotency = FakeIdempotencyRepository(self.store)
        self.outbox = FakeOutboxWriter(self.store)
        self.routing = FakeRoutingRepository(self.store)
        self.tracking = FakeTrackingRepository(self.store)
        self.returns = FakeReturnRepository(self.store)

    def _commit(self) -> None:
        assert self._snapshot is not None, "the unit of work is not open"
        self.store.commits += 1
        # Like a connection after COMMIT: later changes belong to a new transaction, rolled back on exit.
        self._snapshot = copy.deepcopy(self.store.state)

    def _rollback(self) -> None:
        if self._snapshot is None:
            return
        self.store.state = self._snapshot
        self._snapshot = None

    def is_retryable(self, exc: BaseException) -> bool:
        # As the SQL unit of work: a unique-key race may be won by a fresh transaction.
        return isinstance(exc, FakeIntegrityError) and exc.kind == "unique"


def fake_bus(clock: Callable[[], datetime] | None = None, store: FakeStore | None = None,
             **bus_options: Any) -> tuple[MessageBus, FakeStore]:
    """A message bus over a fresh (or the given) in-memory store."""
    store = store if store is not None else FakeStore()
    tick = clock or FakeClock()
    return MessageBus(lambda: FakeUnitOfWork(store, tick), **bus_options), store


# -- helpers for tests -----------------------------------------------------------------------------

ADDRESS = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
           "country": "US"}


def add_sku(bus: MessageBus, sku: str, price: str = "9.99") -> None:
    bus.handle(c.UpsertSku(sku=sku, name=f"Item {sku}", category="home", unit_price=Decimal(price),
                           weight_kg=Decimal("1.2")))


def add_node(bus: MessageBus, code: str) -> None:
    bus.handle(c.UpsertNode(code=code, name=f"Node {code}", node_type=NodeType.WAREHOUSE, city="Reno", state="NV",
                            postal_code="89502", latitude=39.5, longitude=-119.8, timezone="America/Los_Angeles",
                            daily_pick_capacity=5000, cutoff_local=time(15, 0)))


def seed_network(bus: MessageBus, *, skus: Iterable[str] = ("SKU-1", "SKU-2"), nodes: Iterable[str] = ("DC-1", "DC-2"),
                 channels: dict[str, bool] | None = None) -> None:
    """Catalog, nodes and channels (code -> priority); by default a normal `web` and a priority `vip`."""
    for sku in skus:
        add_sku(bus, sku)
    for node in nodes:
        add_node(bus, node)
    for code, priority in (channels if channels is not None else {"web": False, "vip": True}).items():
        bus.handle(c.UpsertChannel(code=code, name=code.title(), kind=ChannelKind.WEB, priority=priority))


def refused(bus: MessageBus, store: FakeStore, cmd: c.Command, code: str) -> OrderloomError:
    """Send `cmd`, expect an OrderloomError with `code`, and prove that nothing stored changed."""
    before = store.dump()
    with pytest.raises(OrderloomError) as caught:
        bus.handle(cmd)
    exc = caught.value
    assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message} {exc.to_dict()}"
    json.dumps(exc.to_dict())  # what the API answers must be serialisable
    assert store.dump() == before, "a refused command changed the store"
    return exc


def problem_fields(exc: OrderloomError) -> dict[str, str]:
    """field -> code of every problem an error lists."""
    return {p.field: p.code for p in exc.problems}


@dataclass
class World:
    """A bus, its store and its clock, with shortcuts for the common steps of a test."""

    bus: MessageBus
    store: FakeStore
    clock: FakeClock

    def handle(self, cmd: c.Command) -> Any:
        return self.bus.handle(cmd)

    def refused(self, cmd: c.Command, code: str) -> OrderloomError:
        return refused(self.bus, self.store, cmd, code)

    def stock(self, sku: str, node: str) -> tuple[int, int]:
        """(on_hand, reserved) of one balance; (0, 0) when there is no row."""
        b = self.store.balance(sku, node)
        return (b.on_hand, b.reserved) if b else (0, 0)

    def receive(self, sku: str, node: str, quantity: int) -> None:
        self.handle(c.ReceiveStock(sku=sku, node=node, quantity=quantity))

    def place(self, external_id: str, *lines: tuple[str, int], channel: str = "web", **kw: Any) -> str:
        result = self.handle(c.PlaceOrder(channel=channel, external_id=external_id, ship_to=dict(ADDRESS),
                                          lines=tuple(c.NewOrderLine(s, q) for s, q in lines), **kw))
        return str(result["order_id"])

    def allocate(self, order_id: str, *plan: tuple[int, str, int]) -> Any:
        return self.handle(c.AllocateOrder(order_id=order_id, allocations=tuple(c.LineAllocation(*p) for p in plan)))

    def hold(self, *lines: tuple[str, str, int], channel: str = "web", **kw: Any) -> str:
        result = self.handle(c.PlaceCheckoutHold(channel=channel, lines=tuple(c.HoldLine(*x) for x in lines), **kw))
        return str(result["hold_id"])

    def events_since(self, mark: int) -> list[Event]:
        return [r.event for r in self.store.state.outbox[mark:]]

    @property
    def mark(self) -> int:
        """Where the outbox ends now; pass to `events_since`."""
        return len(self.store.state.outbox)


def make_world(*, seed: bool = True) -> World:
    clock = FakeClock()
    bus, store = fake_bus(clock=clock)
    if seed:
        seed_network(bus)
    return World(bus, store, clock)
