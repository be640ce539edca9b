"""SQL repositories: explicit row <-> domain mapping over SQLAlchemy Core.

The hot paths (reserve, release, consume) are single conditional UPDATE statements, so they are
correct under concurrency on both SQLite and PostgreSQL without application-level locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.adapters import tables as t
from engine.domain.catalog import Sku, Substitute
from engine.domain.channels import Channel, ChannelCap, ChannelKind
from engine.domain.customers import B2BAccount, Customer, PriceList, Tier
from engine.domain.inventory import (
    MovementKind,
    Reservation,
    ReservationStatus,
    StockBalance,
    StockMovement,
)
from engine.domain.network import Carrier, FulfillmentNode, Lane, NodeType, ServiceLevel
from engine.domain.orders import Address, Order, OrderLine, OrderStatus, StatusChange
from engine.services.ports import (
    IdempotencyRepository,
    InventoryRepository,
    LedgerTotals,
    MasterDataRepository,
    OrderRepository,
    ShipmentRecord,
    StoredResponse,
)


def postal_key(code: str) -> str:
    """A postal code as look-ups compare it: upper case, no spaces, at most 16 characters."""
    return "".join(code.split()).upper()[:16]


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time in the engine is UTC-aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _upsert(conn: Connection, table: Any, values: dict[str, Any] | list[dict[str, Any]],
            keys: Sequence[str]) -> None:
    rows = values if isinstance(values, list) else [values]
    if not rows:
        return
    dialect = conn.dialect.name
    stmt: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    update_cols = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=update_cols) if update_cols \
        else stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, rows)


def _exists(conn: Connection, table: Any, **where: Any) -> bool:
    cond = and_(*(table.c[k] == v for k, v in where.items()))
    return conn.execute(select(1).select_from(table).where(cond).limit(1)).first() is not None


def _sku(row: RowMapping, substitutes: list[Substitute] | None = None) -> Sku:
    return Sku(sku=row["sku"], name=row["name"], category=row["category"], unit_price=Decimal(row["unit_price"]),
               weight_kg=Decimal(row["weight_kg"]), hazmat=row["hazmat"], is_new=row["is_new"],
               unit_of_measure=row["unit_of_measure"], attributes=dict(row["attributes"] or {}), active=row["active"],
               substitutes=substitutes or [])


class SqlMasterDataRepository(MasterDataRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- SKUs
    def get_sku(self, sku: str) -> Sku | None:
        row = self.conn.execute(select(t.skus).where(t.skus.c.sku == sku)).mappings().first()
        if row is None:
            return None
        subs = self.conn.execute(select(t.sku_substitutes).where(t.sku_substitutes.c.sku == sku)).mappings()
        return _sku(row, [Substitute(s["substitute_sku"], Decimal(s["min_price_ratio"]), Decimal(s["max_price_ratio"]),
                                     s["valid_from"].date() if s["valid_from"] else None,
                                     s["valid_until"].date() if s["valid_until"] else None) for s in subs])

    def variants_of(self, item: Sku, limit: int = 50) -> list[Sku]:
        if item.product_key is None:
            return []
        k = t.skus.c
        rows = self.conn.execute(select(t.skus).where(
            k.category == item.category, k.unit_price == item.unit_price, k.active.is_(True), k.sku != item.sku)
            .order_by(k.sku).limit(1000)).mappings()
        # substitutes are not needed to offer a variant
        return [v for v in (_sku(row) for row in rows) if v.is_variant_of(item)][:limit]

    def existing_skus(self, codes: Iterable[str]) -> set[str]:
        wanted = sorted(set(codes))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            found.update(self.conn.execute(select(t.skus.c.sku).where(t.skus.c.sku.in_(chunk))).scalars())
        return found

    def upsert_sku(self, item: Sku) -> bool:
        created = not _exists(self.conn, t.skus, sku=item.sku)
        _upsert(self.conn, t.skus, {
            "sku": item.sku, "name": item.name, "category": item.category, "unit_price": item.unit_price,
            "weight_kg": item.weight_kg, "hazmat": item.hazmat, "is_new": item.is_new,
            "unit_of_measure": item.unit_of_measure, "attributes": item.attributes, "active": item.active,
        }, ["sku"])
        self.conn.execute(t.sku_substitutes.delete().where(t.sku_substitutes.c.sku == item.sku))
        if item.substitutes:
            self.conn.execute(insert(t.sku_substitutes), [{
                "sku": item.sku, "substitute_sku": s.sku, "min_price_ratio": s.min_price_ratio,
                "max_price_ratio": s.max_price_ratio,
                "valid_from": datetime.combine(s.valid_from, time()) if s.valid_from else None,
                "valid_until": datetime.combine(s.valid_until, time()) if s.valid_until else None,
            } for s in item.substitutes])
        return created

    # -- nodes
    @staticmethod
    def _node(row: Any) -> FulfillmentNode:
        hh, mm = row["cutoff_local"].split(":")
        return FulfillmentNode(
            code=row["code"], name=row["name"], node_type=NodeType(row["node_type"]), city=row["city"],
            state=row["state"], postal_code=row["postal_code"], latitude=float(row["latitude"]),
            longitude=float(row["longitude"]), timezone=row["timezone"],
            daily_pick_capacity=row["daily_pick_capacity"], cutoff_local=time(int(hh), int(mm)),
            ship_from_enabled=row["ship_from_enabled"], hazmat_capable=row["hazmat_capable"],
            b2b_only=row["b2b_only"], handling_cost=str(row["handling_cost"]), active=row["active"])

    def get_node(self, code: str) -> FulfillmentNode | None:
        row = self.conn.execute(select(t.nodes).where(t.nodes.c.code == code)).mappings().first()
        return self._node(row) if row else None

    def list_nodes(self) -> list[FulfillmentNode]:
        return [self._node(r) for r in self.conn.execute(select(t.nodes).order_by(t.nodes.c.code)).mappings()]

    def upsert_node(self, node: FulfillmentNode) -> bool:
        created = not _exists(self.conn, t.nodes, code=node.code)
        _upsert(self.conn, t.nodes, {
            "code": node.code, "name": node.name, "node_type": node.node_type.value, "city": node.city,
            "state": node.state, "postal_code": node.postal_code, "latitude": Decimal(str(node.latitude)),
            "longitude": Decimal(str(node.longitude)), "timezone": node.timezone,
            "daily_pick_capacity": node.daily_pick_capacity, "cutoff_local": node.cutoff_local.strftime("%H:%M"),
            "ship_from_enabled": node.ship_from_enabled, "hazmat_capable": node.hazmat_capable,
            "b2b_only": node.b2b_only, "handling_cost": Decimal(node.handling_cost), "active": node.active,
        }, ["code"])
        return created

    # -- channels
    def get_channel(self, code: str) -> Channel | None:
        row = self.conn.execute(_GET_CHANNEL, {"k_code": code}).mappings().first()
        if row is None:
            return None
        return Channel(row["code"], row["name"], ChannelKind(row["kind"]), row["priority"], row["active"])

    def list_channels(self) -> list[Channel]:
        rows = self.conn.execute(select(t.channels).order_by(t.channels.c.code)).mappings()
        return [Channel(r["code"], r["name"], ChannelKind(r["kind"]), r["priority"], r["active"]) for r in rows]

    def upsert_channel(self, channel: Channel) -> bool:
        created = not _exists(self.conn, t.channels, code=channel.code)
        _upsert(self.conn, t.channels, {"code": channel.code, "name": channel.name, "kind": channel.kind.value,
                                        "priority": channel.priority, "active": channel.active}, ["code"])
        return created

    # -- prices, accounts, customers
    def upsert_price_list(self, price_list: PriceList) -> bool:
        created = not self.price_list_exists(price_list.code)
        _upsert(self.conn, t.price_lists, {"code": price_list.code, "currency": price_list.currency}, ["code"])
        _upsert(self.conn, t.price_list_items, [
            {"price_list_code": price_list.code, "sku": sku, "price": price}
            for sku, price in sorted(price_list.prices.items())], ["price_list_code", "sku"])
        return created

    def price_list_exists(self, code: str) -> bool:
        return _exists(self.conn, t.price_lists, code=code)

    def get_price(self, price_list_code: str, sku: str) -> Decimal | None:
        value = self.conn.execute(select(t.price_list_items.c.price).where(
            t.price_list_items.c.price_list_code == price_list_code, t.price_list_items.c.sku == sku)).scalar()
        return Decimal(value) if value is not None else None

    def get_account(self, code: str) -> B2BAccount | None:
        r = self.conn.execute(select(t.accounts).where(t.accounts.c.code == code)).mappings().first()
        if r is None:
            return None
        return B2BAccount(r["code"], r["name"], Tier(r["tier"]), r["price_list_code"], Decimal(r["credit_limit"]),
                          r["ship_complete"], r["edi_partner_id"], tuple(r["email_domains"] or ()))

    def upsert_account(self, account: B2BAccount) -> bool:
        created = not _exists(self.conn, t.accounts, code=account.code)
        _upsert(self.conn, t.accounts, {
            "code": account.code, "name": account.name, "tier": account.tier.value,
            "price_list_code": account.price_list_code, "credit_limit": account.credit_limit,
            "ship_complete": account.ship_complete, "edi_partner_id": account.edi_partner_id,
            "email_domains": list(account.email_domains)}, ["code"])
        return created

    def account_code_by_edi_partner(self, partner_id: str) -> str | None:
        code: str | None = self.conn.execute(select(t.accounts.c.code).where(
            t.accounts.c.edi_partner_id == partner_id).limit(1)).scalar()
        return code

    def get_customer(self, customer_id: str) -> Customer | None:
        r = self.conn.execute(select(t.customers).where(t.customers.c.customer_id == customer_id)).mappings().first()
        if r is None:
            return None
        return Customer(r["customer_id"], r["email"], r["name"], Tier(r["tier"]), r["account_code"])

    def upsert_customer(self, customer: Customer) -> bool:
        created = not _exists(self.conn, t.customers, customer_id=customer.customer_id)
        _upsert(self.conn, t.customers, {
            "customer_id": customer.customer_id, "email": customer.email, "name": customer.name,
            "tier": customer.tier.value, "account_code": customer.account_code}, ["customer_id"])
        return created

    def customer_id_by_email(self, email: str) -> str | None:
        customer_id: str | None = self.conn.execute(select(t.customers.c.customer_id).where(
            t.customers.c.email == email).limit(1)).scalar()
        return customer_id

    def account_codes_by_email_domain(self, domain: str) -> list[str]:
        # Accounts are few (B2B customers); their domain lists are JSON, compared here on both databases.
        wanted = domain.strip().lower()
        rows = self.conn.execute(select(t.accounts.c.code, t.accounts.c.email_domains).order_by(t.accounts.c.code))
        return [code for code, domains in rows if wanted in {str(d).lower() for d in domains or []}]

    # -- carriers and lanes
    def upsert_carrier(self, carrier: Carrier) -> bool:
        created = not self.carrier_exists(carrier.code)
        _upsert(self.conn, t.carriers, {"code": carrier.code, "name": carrier.name,
                                        "services": [s.value for s in carrier.services]}, ["code"])
        return created

    def carrier_exists(self, code: str) -> bool:
        return _exists(self.conn, t.carriers, code=code)

    def upsert_lanes(self, lanes: Sequence[Lane]) -> int:
        keys = ["carrier", "service", "origin_node", "dest_prefix"]
        rows = [{"carrier": x.carrier, "service": x.service.value, "origin_node": x.origin_node,
                 "dest_prefix": x.dest_prefix, "zone": x.zone, "transit_days": x.transit_days} for x in lanes]
        # Lanes that carry an on-time figure write it; the others keep what is stored (one statement shape each).
        measured = [{**row, "on_time_probability": Decimal(str(round(x.on_time_probability, 4)))}
                    for row, x in zip(rows, lanes, strict=True) if x.on_time_probability is not None]
        plain = [row for row, x in zip(rows, lanes, strict=True) if x.on_time_probability is None]
        for batch in (measured, plain):
            for i in range(0, len(batch), 1000):
                _upsert(self.conn, t.lanes, batch[i:i + 1000], keys)
        return len(rows)

    def lanes_from(self, origin_node: str) -> list[Lane]:
        rows = self.conn.execute(select(t.lanes).where(t.lanes.c.origin_node == origin_node)).mappings()
        return [Lane(r["carrier"], ServiceLevel(r["service"]), r["origin_node"], r["dest_prefix"], r["zone"],
                     r["transit_days"]) for r in rows]

    # Delivery promise
    def sku_flags(self, codes: Iterable[str]) -> dict[str, tuple[bool, bool]]:
        rows = self.conn.execute(_PROMISE_SKU_FLAGS, {"k_skus": sorted(set(codes))})
        return {r[0]: (bool(r[1]), bool(r[2])) for r in rows}


_B = t.stock_balances
_R = t.reservations


def _balance(row: Any) -> StockBalance:
    return StockBalance(row["sku"], row["node"], row["on_hand"], row["reserved"], row["safety_stock"],
                        row["protected_qty"], row["priority_reserved"])


def _reservation(row: Any) -> Reservation:
    return Reservation(
        reservation_id=row["reservation_id"], sku=row["sku"], node=row["node"], quantity=row["quantity"],
        channel=row["channel"], priority=row["priority"], created_at=aware(row["created_at"]),  # type: ignore[arg-type]
        order_id=row["order_id"], line_no=row["line_no"], hold_id=row["hold_id"],
        expires_at=aware(row["expires_at"]), consumed=row["consumed"], status=ReservationStatus(row["status"]))


def _reserve_statement(priority: bool) -> Any:
    """The reservation itself: one conditional UPDATE; zero rows means the units are not available."""
    free = _B.c.on_hand - _B.c.reserved - _B.c.safety_stock
    if not priority:
        # Units protected for priority channels stay out of reach until those channels used them.
        free = free - case((_B.c.protected_qty > _B.c.priority_reserved,
                            _B.c.protected_qty - _B.c.priority_reserved), else_=0)
    values: dict[str, Any] = {"reserved": _B.c.reserved + bindparam("k_qty")}
    if priority:
        values["priority_reserved"] = _B.c.priority_reserved + bindparam("k_qty")
    return (update(_B).where(_B.c.sku == bindparam("k_sku"), _B.c.node == bindparam("k_node"),
                             free >= bindparam("k_qty")).values(**values))


# Hot-path statements are built once: constructing Core expressions per call costs more than
# running them on SQLite.
_RESERVE = {True: _reserve_statement(True), False: _reserve_statement(False)}
_GET_CAP = select(t.channel_caps).where(t.channel_caps.c.channel == bindparam("k_channel"),
                                        t.channel_caps.c.sku == bindparam("k_sku"))
_INSERT_RESERVATION = insert(_R)
_CAPS = t.channel_caps.c
_CHANNEL_AND_CAPS = (
    select(t.channels, _CAPS.sku.label("cap_sku"), _CAPS.cap, _CAPS.used, _CAPS.starts_at, _CAPS.ends_at)
    .select_from(t.channels.outerjoin(t.channel_caps, and_(_CAPS.channel == t.channels.c.code,
                                                           _CAPS.sku.in_(bindparam("k_skus", expanding=True)))))
    .where(t.channels.c.code == bindparam("k_code")))
_GET_CHANNEL = select(t.channels).where(t.channels.c.code == bindparam("k_code"))


class SqlInventoryRepository(InventoryRepository):
    def __init__(self, conn: Connection, *, lock_rows: bool = False) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        # Row locks (SELECT ... FOR UPDATE) only matter on PostgreSQL: SQLite writers already hold
        # the database write lock. Read-only units of work take none.
        self.lock_rows = lock_rows and self.postgres

    def _key(self, sku: str, node: str) -> Any:
        return and_(_B.c.sku == sku, _B.c.node == node)

    def get_balance(self, sku: str, node: str) -> StockBalance | None:
        row = self.conn.execute(select(_B).where(self._key(sku, node))).mappings().first()
        return _balance(row) if row else None

    def balances_for_sku(self, sku: str) -> list[StockBalance]:
        rows = self.conn.execute(select(_B).where(_B.c.sku == sku).order_by(_B.c.node)).mappings()
        return [_balance(r) for r in rows]

    def all_balances(self) -> list[StockBalance]:
        rows = self.conn.execute(select(_B).order_by(_B.c.sku, _B.c.node)).mappings()
        return [_balance(r) for r in rows]

    def balances_at_node(self, node: str) -> list[StockBalance]:
        rows = self.conn.execute(select(_B).where(_B.c.node == node).order_by(_B.c.sku)).mappings()
        return [_balance(r) for r in rows]

    def ensure_balance(self, sku: str, node: str) -> None:
        stmt: Any = (postgresql.insert(_B) if self.postgres else sqlite.insert(_B)).values(
            sku=sku, node=node, on_hand=0, reserved=0, safety_stock=0, protected_qty=0, priority_reserved=0)
        self.conn.execute(stmt.on_conflict_do_nothing(index_elements=["sku", "node"]))

    def try_reserve(self, sku: str, node: str, quantity: int, priority: bool) -> bool:
        result = self.conn.execute(_RESERVE[priority], {"k_sku": sku, "k_node": node, "k_qty": quantity})
        return result.rowcount == 1

    def unreserve(self, sku: str, node: str, quantity: int, priority: bool) -> None:
        values: dict[str, Any] = {"reserved": _B.c.reserved - quantity}
        if priority:
            values["priority_reserved"] = _B.c.priority_reserved - quantity
        result = self.conn.execute(update(_B).where(self._key(sku, node), _B.c.reserved >= quantity)
                                   .values(**values))
        if result.rowcount != 1:
            raise RuntimeError(f"releasing {quantity} of {sku}@{node} found fewer units reserved")

    def apply_movement(self, movement: StockMovement, *, consume_reserved: int = 0,
                       consume_priority: int = 0) -> int | None:
        q = movement.quantity
        stmt = (update(_B)
                .where(self._key(movement.sku, movement.node),
                       _B.c.on_hand + q >= 0,
                       _B.c.on_hand + q >= _B.c.reserved - consume_reserved,
                       _B.c.reserved >= consume_reserved,
                       _B.c.priority_reserved >= consume_priority)
                .values(on_hand=_B.c.on_hand + q, reserved=_B.c.reserved - consume_reserved,
                        priority_reserved=_B.c.priority_reserved - consume_priority)
                .returning(_B.c.on_hand))
        on_hand = self.conn.execute(stmt).scalar()
        if on_hand is None:
            return None
        self.conn.execute(insert(t.stock_movements).values(
            movement_id=movement.movement_id, sku=movement.sku, node=movement.node, kind=movement.kind.value,
            quantity=q, reference=movement.reference, reason=movement.reason, occurred_at=movement.occurred_at))
        return int(on_hand)

    def set_policy(self, sku: str, node: str, safety_stock: int, protected_qty: int) -> None:
        self.conn.execute(update(_B).where(self._key(sku, node))
                          .values(safety_stock=safety_stock, protected_qty=protected_qty))

    def overwrite_balance(self, balance: StockBalance) -> None:
        self.conn.execute(update(_B).where(self._key(balance.sku, balance.node)).values(
            on_hand=balance.on_hand, reserved=balance.reserved, safety_stock=balance.safety_stock,
            protected_qty=balance.protected_qty, priority_reserved=balance.priority_reserved))

    # -- reservations
    def add_reservations(self, items: Sequence[Reservation]) -> None:
        if not items:
            return
        rows = [{
            "reservation_id": r.reservation_id, "sku": r.sku, "node": r.node, "quantity": r.quantity,
            "consumed": r.consumed, "channel": r.channel, "priority": r.priority, "order_id": r.order_id,
            "line_no": r.line_no, "hold_id": r.hold_id, "status": r.status.value, "created_at": r.created_at,
            "expires_at": r.expires_at, "ended_at": None} for r in items]
        # One row (the common checkout hold) skips the executemany machinery.
        self.conn.execute(_INSERT_RESERVATION, rows[0] if len(rows) == 1 else rows)

    def update_reservation(self, item: Reservation, ended_at: datetime | None) -> None:
        self.conn.execute(update(_R).where(_R.c.reservation_id == item.reservation_id).values(
            status=item.status.value, consumed=item.consumed, order_id=item.order_id, line_no=item.line_no,
            expires_at=item.expires_at, ended_at=ended_at))

    def reservations(self, *, order_id: str | None = None, hold_id: str | None = None,
                     active_only: bool = True) -> list[Reservation]:
        stmt = select(_R)
        if order_id is not None:
            stmt = stmt.where(_R.c.order_id == order_id)
        if hold_id is not None:
            stmt = stmt.where(_R.c.hold_id == hold_id)
        if order_id is None and hold_id is None:
            raise ValueError("give an order id or a hold id")
        if active_only:
            stmt = stmt.where(_R.c.status == ReservationStatus.ACTIVE.value)
        if self.lock_rows:
            stmt = stmt.with_for_update()
        return [_reservation(r) for r in self.conn.execute(stmt.order_by(_R.c.created_at,
                                                                         _R.c.reservation_id)).mappings()]

    def active_reservations_at(self, sku: str, node: str) -> list[Reservation]:
        stmt = select(_R).where(_R.c.sku == sku, _R.c.node == node, _R.c.status == ReservationStatus.ACTIVE.value)
        if self.lock_rows:
            stmt = stmt.with_for_update()
        return [_reservation(r) for r in self.conn.execute(stmt).mappings()]

    def expired_hold_ids(self, now: datetime, limit: int) -> list[str]:
        stmt = (select(_R.c.hold_id).where(_R.c.status == ReservationStatus.ACTIVE.value,
                                           _R.c.hold_id.is_not(None), _R.c.order_id.is_(None),
                                           _R.c.expires_at <= now)
                .group_by(_R.c.hold_id).order_by(_R.c.hold_id).limit(limit))
        return [h for h in self.conn.execute(stmt).scalars() if h]

    # -- channel caps
    def get_cap(self, channel: str, sku: str) -> ChannelCap | None:
        row = self.conn.execute(_GET_CAP, {"k_channel": channel, "k_sku": sku}).mappings().first()
        if row is None:
            return None
        return ChannelCap(row["channel"], row["sku"], row["cap"], row["used"], aware(row["starts_at"]),
                          aware(row["ends_at"]))

    def channel_and_caps(self, code: str, skus: Iterable[str]) -> tuple[Channel | None, dict[str, ChannelCap]]:
        rows = self.conn.execute(_CHANNEL_AND_CAPS, {"k_code": code, "k_skus": sorted(set(skus))}).mappings().all()
        if not rows:
            return None, {}
        first = rows[0]
        channel = Channel(first["code"], first["name"], ChannelKind(first["kind"]), first["priority"], first["active"])
        caps = {r["cap_sku"]: ChannelCap(code, r["cap_sku"], r["cap"], r["used"], aware(r["starts_at"]),
                                         aware(r["ends_at"])) for r in rows if r["cap_sku"] is not None}
        return channel, caps

    def set_cap(self, cap: ChannelCap) -> None:
        _upsert(self.conn, t.channel_caps, {"channel": cap.channel, "sku": cap.sku, "cap": cap.cap,
                                            "used": cap.used, "starts_at": cap.starts_at,
                                            "ends_at": cap.ends_at}, ["channel", "sku"])

    def try_take_cap(self, channel: str, sku: str, quantity: int) -> bool:
        c = t.channel_caps.c
        result = self.conn.execute(update(t.channel_caps).where(
            c.channel == channel, c.sku == sku, c.used + quantity <= c.cap).values(used=c.used + quantity))
        return result.rowcount == 1

    def give_back_cap(self, channel: str, sku: str, quantity: int) -> None:
        c = t.channel_caps.c
        self.conn.execute(update(t.channel_caps).where(c.channel == channel, c.sku == sku)
                          .values(used=case((c.used > quantity, c.used - quantity), else_=0)))

    # -- ledger
    def expected_totals(self) -> dict[tuple[str, str], LedgerTotals]:
        m = t.stock_movements.c
        ledger = {(r[0], r[1]): int(r[2]) for r in self.conn.execute(
            select(m.sku, m.node, func.sum(m.quantity)).group_by(m.sku, m.node))}
        outstanding = _R.c.quantity - _R.c.consumed
        held = {(r[0], r[1]): (int(r[2] or 0), int(r[3] or 0)) for r in self.conn.execute(
            select(_R.c.sku, _R.c.node, func.sum(outstanding),
                   func.sum(case((_R.c.priority.is_(True), outstanding), else_=0)))
            .where(_R.c.status == ReservationStatus.ACTIVE.value).group_by(_R.c.sku, _R.c.node))}
        keys = set(ledger) | set(held)
        return {k: LedgerTotals(ledger.get(k, 0), *held.get(k, (0, 0))) for k in keys}

    def movements(self, sku: str, node: str, limit: int = 100) -> list[StockMovement]:
        m = t.stock_movements.c
        rows = self.conn.execute(select(t.stock_movements).where(m.sku == sku, m.node == node)
                                 .order_by(m.id.desc()).limit(limit)).mappings()
        return [StockMovement(r["movement_id"], r["sku"], r["node"], MovementKind(r["kind"]), r["quantity"],
                              aware(r["occurred_at"]), r["reference"], r["reason"])  # type: ignore[arg-type]
                for r in rows]

    # Delivery promise
    def balances_for_basket(self, skus: Iterable[str]) -> list[StockBalance]:
        rows = self.conn.execute(_PROMISE_BALANCES, {"k_skus": sorted(set(skus))}).mappings()
        return [_balance(r) for r in rows]

    def pick_units_committed(self, days: dict[str, str]) -> dict[str, int]:
        if not days:
            return {}
        rows = self.conn.execute(_PROMISE_PICKS, {"k_nodes": sorted(days), "k_days": sorted(set(days.values()))})
        return {r[0]: int(r[2]) for r in rows if days.get(r[0]) == r[1]}


class SqlOrderRepository(OrderRepository):
    def __init__(self, conn: Connection, *, lock_rows: bool = False) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        # Row locks (SELECT ... FOR UPDATE) only matter on PostgreSQL: SQLite writers already hold
        # the database write lock. Read-only units of work take none.
        self.lock_rows = lock_rows and self.postgres
        self._stored_history: dict[str, int] = {}

    def add(self, order: Order) -> str:
        row_id = self.conn.execute(insert(t.orders).values(
            channel=order.channel, external_id=order.external_id, customer_id=order.customer_id,
            account_code=order.account_code, ship_to=order.ship_to.to_dict(),
            ship_postal=postal_key(order.ship_to.postal_code), status=order.status.value,
            paused_from=None, status_reason=order.status_reason, currency=order.currency,
            requested_delivery=order.requested_delivery, notes=order.notes, placed_at=order.placed_at,
            updated_at=order.placed_at, version=0).returning(t.orders.c.id)).scalar_one()
        order.order_id = str(row_id)
        self.conn.execute(insert(t.order_lines), [{
            "order_id": row_id, "line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity,
            "unit_price": ln.unit_price, "allocated": ln.allocated, "shipped": ln.shipped,
            "cancelled": ln.cancelled} for ln in order.lines])
        self._stored_history[order.order_id] = 0
        self._write_history(order)
        return order.order_id

    @staticmethod
    def _row_id(order_id: str) -> int | None:
        return int(order_id) if order_id.isdigit() and len(order_id) < 19 else None

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        row_id = self._row_id(order_id)
        if row_id is None:
            return None
        stmt = select(t.orders).where(t.orders.c.id == row_id)
        if for_update and self.lock_rows:
            stmt = stmt.with_for_update()
        r = self.conn.execute(stmt).mappings().first()
        if r is None:
            return None
        lines = [OrderLine(x["line_no"], x["sku"], x["quantity"], Decimal(x["unit_price"]), x["allocated"],
                           x["shipped"], x["cancelled"]) for x in self.conn.execute(
            select(t.order_lines).where(t.order_lines.c.order_id == row_id)
            .order_by(t.order_lines.c.line_no)).mappings()]
        h = t.order_status_history.c
        history = [StatusChange(aware(x["at"]), OrderStatus(x["from_status"]) if x["from_status"] else None,  # type: ignore[arg-type]
                                OrderStatus(x["to_status"]), x["reason"]) for x in self.conn.execute(
            select(t.order_status_history).where(h.order_id == row_id).order_by(h.id)).mappings()]
        order = Order(
            order_id=str(r["id"]), channel=r["channel"], external_id=r["external_id"],
            customer_id=r["customer_id"], account_code=r["account_code"], ship_to=Address.from_dict(r["ship_to"]),
            lines=lines, placed_at=aware(r["placed_at"]),  # type: ignore[arg-type]
            status=OrderStatus(r["status"]), paused_from=OrderStatus(r["paused_from"]) if r["paused_from"] else None,
            status_reason=r["status_reason"], currency=r["currency"],
            requested_delivery=aware(r["requested_delivery"]), notes=r["notes"], version=r["version"],
            history=history)
        self._stored_history[order.order_id] = len(history)
        return order

    def find_by_external_id(self, channel: str, external_id: str) -> str | None:
        value = self.conn.execute(select(t.orders.c.id).where(
            t.orders.c.channel == channel, t.orders.c.external_id == external_id)).scalar()
        return str(value) if value is not None else None

    def save(self, order: Order, *, amended: bool = False) -> None:
        row_id = int(order.order_id)
        last = order.history[-1].at if order.history else order.placed_at
        extra: dict[str, Any] = {"ship_to": order.ship_to.to_dict(),
                                 "ship_postal": postal_key(order.ship_to.postal_code)} if amended else {}
        result = self.conn.execute(update(t.orders).where(t.orders.c.id == row_id,
                                                          t.orders.c.version == order.version).values(
            status=order.status.value, paused_from=order.paused_from.value if order.paused_from else None,
            status_reason=order.status_reason, updated_at=last, version=order.version + 1, **extra))
        if result.rowcount != 1:
            raise RuntimeError(f"order {order.order_id} was changed by someone else")
        order.version += 1
        for ln in order.lines:
            line_extra: dict[str, Any] = {"sku": ln.sku, "unit_price": ln.unit_price} if amended else {}
            self.conn.execute(update(t.order_lines).where(
                t.order_lines.c.order_id == row_id, t.order_lines.c.line_no == ln.line_no).values(
                allocated=ln.allocated, shipped=ln.shipped, cancelled=ln.cancelled, **line_extra))
        self._write_history(order)

    def _write_history(self, order: Order) -> None:
        stored = self._stored_history.get(order.order_id, 0)
        new = order.history[stored:]
        if new:
            self.conn.execute(insert(t.order_status_history), [{
                "order_id": int(order.order_id), "at": ch.at,
                "from_status": ch.from_status.value if ch.from_status else None,
                "to_status": ch.to_status.value, "reason": ch.reason[:500]} for ch in new])
        self._stored_history[order.order_id] = len(order.history)

    def add_shipment(self, shipment_id: str, order_id: str, node: str, carrier: str, tracking_number: str,
                     lines: Sequence[tuple[int, int]], shipped_at: datetime) -> None:
        self.conn.execute(insert(t.shipments).values(
            shipment_id=shipment_id, order_id=int(order_id), node=node, carrier=carrier,
            tracking_number=tracking_number, lines=[list(x) for x in lines], shipped_at=shipped_at))

    def shipment_exists(self, shipment_id: str) -> bool:
        return _exists(self.conn, t.shipments, shipment_id=shipment_id)

    def list_ids(self, *, customer_id: str | None = None, account_code: str | None = None,
                 channel: str | None = None, status: str | None = None, limit: int = 50) -> list[str]:
        o = t.orders.c
        q = select(o.id)
        for column, value in ((o.customer_id, customer_id), (o.account_code, account_code), (o.channel, channel),
                              (o.status, status)):
            if value is not None:
                q = q.where(column == value)
        return [str(r) for r in self.conn.execute(q.order_by(o.placed_at.desc(), o.id.desc()).limit(limit)).scalars()]

    def shipments(self, order_id: str) -> list[ShipmentRecord]:
        if not order_id.isdigit() or len(order_id) > 18:
            return []
        s = t.shipments.c
        rows = self.conn.execute(select(t.shipments).where(s.order_id == int(order_id))
                                 .order_by(s.shipped_at, s.shipment_id)).mappings()
        return [ShipmentRecord(r["shipment_id"], str(r["order_id"]), r["node"], r["carrier"], r["tracking_number"],
                               tuple((int(a), int(b)) for a, b in r["lines"]),
                               aware(r["shipped_at"])) for r in rows]  # type: ignore[arg-type]


class SqlIdempotencyRepository(IdempotencyRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> StoredResponse | None:
        row = self.conn.execute(select(t.idempotency_keys).where(t.idempotency_keys.c.key == key)).mappings().first()
        return StoredResponse(row["command"], row["request_hash"], row["response"]) if row else None

    def add(self, key: str, stored: StoredResponse, at: datetime) -> None:
        self.conn.execute(insert(t.idempotency_keys).values(
            key=key, command=stored.command, request_hash=stored.request_hash, response=stored.response,
            created_at=at))


# Delivery promise: a checkout asks for a basket's SKUs at once; the statements are built once.
_PROMISE_SKU_FLAGS = select(t.skus.c.sku, t.skus.c.hazmat, t.skus.c.active).where(
    t.skus.c.sku.in_(bindparam("k_skus", expanding=True)))
_PROMISE_BALANCES = select(_B).where(_B.c.sku.in_(bindparam("k_skus", expanding=True)))
_PROMISE_PICKS = select(t.node_day_usage.c.node, t.node_day_usage.c.day, t.node_day_usage.c.used).where(
    t.node_day_usage.c.node.in_(bindparam("k_nodes", expanding=True)),
    t.node_day_usage.c.day.in_(bindparam("k_days", expanding=True)))
