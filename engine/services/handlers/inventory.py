"""Handlers that move stock: receipts, adjustments, counts, transfers, holds, reconciliation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import Channel, ChannelCap
from engine.domain.errors import Problem
from engine.domain.events import (
    ChannelCapSet,
    CheckoutHoldEnded,
    CheckoutHoldPlaced,
    InventoryDiscrepancyDetected,
    OrderStatusChanged,
    ReservationsReleased,
    ReservedLine,
    SafetyStockChanged,
    StockMoved,
)
from engine.domain.inventory import (
    Drift,
    MovementKind,
    Reservation,
    ReservationStatus,
    StockBalance,
    StockMovement,
)
from engine.domain.orders import OrderStatus
from engine.services.handlers.checks import (
    code_problem,
    is_lookup_key,
    key_problems,
    new_id,
    node_problem,
    quantity_problem,
    raise_if_any,
    require_quantity,
    sku_problem,
    text_problem,
)
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_HOLD_SECONDS = 7 * 24 * 3600


def _require_sku_node(uow: AbstractUnitOfWork, sku: str, node: str, *extra: Problem | None) -> None:
    raise_if_any([p for p in (*extra, sku_problem(uow, "sku", sku), node_problem(uow, "node", node)) if p])


def _reference_problem(reference: object) -> Problem | None:
    # The ledger stores at most 200 characters; PostgreSQL would refuse more with a database error.
    return text_problem("reference", reference, max_length=200, required=False)


def _move(uow: AbstractUnitOfWork, sku: str, node: str, kind: MovementKind, quantity: int, *,
          reference: str = "", reason: str = "", consume_reserved: int = 0,
          consume_priority: int = 0) -> int | None:
    movement = StockMovement(new_id(), sku, node, kind, quantity, uow.now(), reference, reason)
    on_hand = uow.inventory.apply_movement(movement, consume_reserved=consume_reserved,
                                           consume_priority=consume_priority)
    if on_hand is not None:
        uow.emit(StockMoved(movement_id=movement.movement_id, sku=sku, node=node, kind=kind.value,
                            quantity=quantity, on_hand_after=on_hand, reference=reference,
                            occurred_at=movement.occurred_at))
    return on_hand


def _refuse_move(sku: str, node: str, delta: int, balance: StockBalance | None, what: str) -> e.OrderloomError:
    on_hand = balance.on_hand if balance else 0
    reserved = balance.reserved if balance else 0
    return e.StockInvariantViolation(
        f"{what} of {delta:+d} at {sku}@{node} would leave on-hand {on_hand + delta} with {reserved} reserved",
        sku=sku, node=node, on_hand=on_hand, reserved=reserved, delta=delta,
        problems=[Problem(e.StockInvariantViolation.code, "quantity",
                          f"only {max(0, on_hand - reserved)} unreserved units are at {node}",
                          "release or ship reservations first, or record a cycle count")])


def _simple_move(uow: AbstractUnitOfWork, sku: str, node: str, quantity: int, reference: str,
                 kind: MovementKind, sign: int) -> dict[str, Any]:
    """A movement of `quantity` units in (sign +1) or out (sign -1) of one node, with its reference."""
    _require_sku_node(uow, sku, node, quantity_problem("quantity", quantity), _reference_problem(reference))
    uow.inventory.ensure_balance(sku, node)
    on_hand = _move(uow, sku, node, kind, sign * quantity, reference=reference)
    if on_hand is None:
        raise _refuse_move(sku, node, sign * quantity, uow.inventory.get_balance(sku, node), kind.value)
    return {"sku": sku, "node": node, "on_hand": on_hand}


def receive_stock(cmd: c.ReceiveStock, uow: AbstractUnitOfWork) -> dict[str, Any]:
    return _simple_move(uow, cmd.sku, cmd.node, cmd.quantity, cmd.reference, MovementKind.RECEIPT, +1)


def record_return_receipt(cmd: c.RecordReturnReceipt, uow: AbstractUnitOfWork) -> dict[str, Any]:
    return _simple_move(uow, cmd.sku, cmd.node, cmd.quantity, cmd.reference, MovementKind.RETURN, +1)


def record_pick(cmd: c.RecordPick, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Take unreserved units off the shelf (a POS sale at a store). Reserved units are never taken."""
    return _simple_move(uow, cmd.sku, cmd.node, cmd.quantity, cmd.reference, MovementKind.PICK, -1)


def adjust_stock(cmd: c.AdjustStock, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems: list[Problem | None] = []
    if isinstance(cmd.delta, bool) or not isinstance(cmd.delta, int) or cmd.delta == 0 \
            or abs(cmd.delta) > 1_000_000:
        problems.append(Problem(e.InvalidQuantity.code, "delta", f"delta must be a non-zero whole number, "
                                f"got {cmd.delta!r}", "send e.g. -3 or 12"))
    if not isinstance(cmd.reason, str) or not cmd.reason.strip():
        problems.append(Problem("validation.required", "reason", "an adjustment needs a reason",
                                "say why stock changed, e.g. 'damaged in storage'"))
    else:
        problems.append(text_problem("reason", cmd.reason, max_length=500))
    _require_sku_node(uow, cmd.sku, cmd.node, *problems)
    uow.inventory.ensure_balance(cmd.sku, cmd.node)
    on_hand = _move(uow, cmd.sku, cmd.node, MovementKind.ADJUSTMENT, cmd.delta, reason=cmd.reason)
    if on_hand is None:
        raise _refuse_move(cmd.sku, cmd.node, cmd.delta, uow.inventory.get_balance(cmd.sku, cmd.node),
                           "adjustment")
    return {"sku": cmd.sku, "node": cmd.node, "on_hand": on_hand}


def transfer_stock(cmd: c.TransferStock, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (quantity_problem("quantity", cmd.quantity), sku_problem(uow, "sku", cmd.sku),
                            _reference_problem(cmd.reference), node_problem(uow, "from_node", cmd.from_node),
                            node_problem(uow, "to_node", cmd.to_node)) if p]
    if cmd.from_node == cmd.to_node:
        problems.append(Problem("inventory.transfer_same_node", "to_node", "a transfer needs two nodes",
                                "choose a different destination"))
    raise_if_any(problems)
    reference = cmd.reference or f"transfer-{new_id()[:12]}"
    uow.inventory.ensure_balance(cmd.sku, cmd.from_node)
    uow.inventory.ensure_balance(cmd.sku, cmd.to_node)
    out = _move(uow, cmd.sku, cmd.from_node, MovementKind.TRANSFER_OUT, -cmd.quantity, reference=reference)
    if out is None:
        raise _refuse_move(cmd.sku, cmd.from_node, -cmd.quantity,
                           uow.inventory.get_balance(cmd.sku, cmd.from_node), "transfer")
    into = _move(uow, cmd.sku, cmd.to_node, MovementKind.TRANSFER_IN, cmd.quantity, reference=reference)
    return {"sku": cmd.sku, "from_on_hand": out, "to_on_hand": into, "reference": reference}


def record_cycle_count(cmd: c.RecordCycleCount, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """The count is the physical truth. When it is below what is reserved, reservations are released
    (checkout holds first, then the newest orders) and the orders go to the exception queue."""
    _require_sku_node(uow, cmd.sku, cmd.node, quantity_problem("counted", cmd.counted, allow_zero=True),
                      _reference_problem(cmd.reference))
    uow.inventory.ensure_balance(cmd.sku, cmd.node)
    before = uow.inventory.get_balance(cmd.sku, cmd.node)
    assert before is not None
    affected: list[str] = []
    if cmd.counted < before.reserved:
        affected = _shed_reservations(uow, cmd.sku, cmd.node, before.reserved - cmd.counted,
                                      reason=f"cycle count found {cmd.counted} at {cmd.node}")
    delta = cmd.counted - before.on_hand
    on_hand = _move(uow, cmd.sku, cmd.node, MovementKind.CYCLE_COUNT, delta, reference=cmd.reference,
                    reason=f"counted {cmd.counted}, system had {before.on_hand}")
    if on_hand is None:  # pragma: no cover - reservations were shed above, so this cannot refuse
        raise _refuse_move(cmd.sku, cmd.node, delta, before, "cycle count")
    if delta:
        uow.emit(InventoryDiscrepancyDetected(
            sku=cmd.sku, node=cmd.node, source="cycle_count", expected_on_hand=before.on_hand,
            counted_on_hand=cmd.counted, reserved_before=before.reserved, affected_orders=tuple(affected),
            occurred_at=uow.now()))
    return {"sku": cmd.sku, "node": cmd.node, "on_hand": on_hand, "difference": delta,
            "orders_affected": affected}


def _shed_reservations(uow: AbstractUnitOfWork, sku: str, node: str, excess: int, reason: str) -> list[str]:
    active = uow.inventory.active_reservations_at(sku, node)
    # Holds are only a checkout in progress; orders are promises, and the newest are broken first.
    holds = sorted((r for r in active if r.order_id is None), key=lambda r: r.created_at, reverse=True)
    orders = sorted((r for r in active if r.order_id is not None), key=lambda r: r.created_at, reverse=True)
    affected: list[str] = []
    for r in [*holds, *orders]:
        if excess <= 0:
            break
        excess -= r.outstanding
        release_reservations(uow, [r], ReservationStatus.RELEASED, reason)
        if r.order_id and r.order_id not in affected:
            affected.append(r.order_id)
    for order_id in affected:
        order = uow.orders.get(order_id, for_update=True)
        if order is None:
            continue
        live = uow.inventory.reservations(order_id=order_id)
        for line in order.lines:
            line.allocated = sum(r.outstanding for r in live if r.line_no == line.line_no)
        if order.status != OrderStatus.EXCEPTION and OrderStatus.EXCEPTION in order.allowed_targets():
            change = order.transition(OrderStatus.EXCEPTION, uow.now(), f"inventory discrepancy: {reason}")
            uow.emit(OrderStatusChanged(order_id=order_id, from_status=change.from_status,
                                        to_status=change.to_status, reason=change.reason,
                                        occurred_at=change.at))
        uow.orders.save(order)
    return affected


def release_reservations(uow: AbstractUnitOfWork, items: Iterable[Reservation], status: ReservationStatus,
                         reason: str) -> list[ReservedLine]:
    """Give back the outstanding units of each reservation (and its channel-cap units)."""
    released: list[ReservedLine] = []
    now = uow.now()
    for r in sorted(items, key=lambda r: (r.sku, r.node)):
        qty = r.outstanding
        if qty <= 0:
            continue
        uow.inventory.unreserve(r.sku, r.node, qty, r.priority)
        uow.inventory.give_back_cap(r.channel, r.sku, qty)
        r.status = status
        uow.inventory.update_reservation(r, ended_at=now)
        released.append(ReservedLine(reservation_id=r.reservation_id, sku=r.sku, node=r.node,
                                     quantity=qty, line_no=r.line_no))
    if released:
        first = next(iter(items))
        uow.emit(ReservationsReleased(reason=reason, lines=tuple(released), order_id=first.order_id,
                                      hold_id=first.hold_id, occurred_at=now))
    return released


def set_stock_policy(cmd: c.SetStockPolicy, uow: AbstractUnitOfWork) -> dict[str, Any]:
    _require_sku_node(uow, cmd.sku, cmd.node,
                      quantity_problem("safety_stock", cmd.safety_stock, allow_zero=True),
                      quantity_problem("protected_qty", cmd.protected_qty, allow_zero=True))
    uow.inventory.ensure_balance(cmd.sku, cmd.node)
    uow.inventory.set_policy(cmd.sku, cmd.node, cmd.safety_stock, cmd.protected_qty)
    uow.emit(SafetyStockChanged(sku=cmd.sku, node=cmd.node, safety_stock=cmd.safety_stock,
                                protected_qty=cmd.protected_qty, occurred_at=uow.now()))
    return {"sku": cmd.sku, "node": cmd.node, "safety_stock": cmd.safety_stock,
            "protected_qty": cmd.protected_qty}


def set_channel_cap(cmd: c.SetChannelCap, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (quantity_problem("cap", cmd.cap, allow_zero=True),
                            sku_problem(uow, "sku", cmd.sku)) if p]
    if not is_lookup_key(cmd.channel) or uow.master.get_channel(cmd.channel) is None:
        problems.append(_channel_problem(cmd.channel))
    if cmd.starts_at and cmd.ends_at and cmd.ends_at <= cmd.starts_at:
        problems.append(Problem("validation.window", "ends_at", "the cap window ends before it starts",
                                "set ends_at after starts_at"))
    raise_if_any(problems)
    existing = uow.inventory.get_cap(cmd.channel, cmd.sku)
    uow.inventory.set_cap(ChannelCap(cmd.channel, cmd.sku, cmd.cap, existing.used if existing else 0,
                                     cmd.starts_at, cmd.ends_at))
    uow.emit(ChannelCapSet(channel=cmd.channel, sku=cmd.sku, cap=cmd.cap, occurred_at=uow.now()))
    return {"channel": cmd.channel, "sku": cmd.sku, "cap": cmd.cap, "used": existing.used if existing else 0}


def _channel_problem(code: object) -> Problem:
    return Problem(e.UnknownChannel.code, "channel", f"channel {code!r} does not exist",
                   "use the code of a configured channel")


def require_channel(uow: AbstractUnitOfWork, code: str) -> Channel:
    channel = uow.master.get_channel(code) if is_lookup_key(code) else None
    if channel is None or not channel.active:
        raise e.UnknownChannel(f"channel {code!r} does not exist", problems=[_channel_problem(code)])
    return channel


def require_channel_with_caps(uow: AbstractUnitOfWork, code: str,
                              skus: Iterable[str]) -> tuple[Channel, dict[str, ChannelCap]]:
    """The active channel and its caps on `skus`, in one read: what every reservation needs first."""
    channel, caps = uow.channel_and_caps(code, skus) if is_lookup_key(code) else (None, {})
    if channel is None or not channel.active:
        raise e.UnknownChannel(f"channel {code!r} does not exist", problems=[_channel_problem(code)])
    return channel, caps


def reserve_lines(uow: AbstractUnitOfWork, channel: Channel, wanted: Sequence[tuple[str, str, int]],
                  subject: str, caps: dict[str, ChannelCap] | None = None) -> None:
    """Reserve every (sku, node, qty) or raise one error naming each line that could not be had.

    Rows are taken in (sku, node) order so concurrent multi-line reservations never deadlock. The
    caller's transaction is rolled back on error, so a failure reserves nothing. `caps` are the
    channel's caps on these SKUs when the caller already read them (see `channel_and_caps`).
    """
    problems: list[Problem] = []
    per_sku: dict[str, int] = defaultdict(int)
    for sku, _node, qty in wanted:
        per_sku[sku] += qty
    now = uow.now()
    for sku in sorted(per_sku):
        cap = caps.get(sku) if caps is not None else uow.inventory.get_cap(channel.code, sku)
        if cap is not None and cap.active_at(now) and not uow.inventory.try_take_cap(channel.code, sku,
                                                                                       per_sku[sku]):
            current = uow.inventory.get_cap(channel.code, sku) or cap
            problems.append(Problem(e.ChannelCapExceeded.code, f"lines[sku={sku}]",
                                    f"{channel.code} may commit {current.remaining} more of {sku} "
                                    f"(cap {current.cap}), asked for {per_sku[sku]}",
                                    "reduce the quantity or raise the channel cap",
                                    {"sku": sku, "cap": current.cap, "remaining": current.remaining}))
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i][0], wanted[i][1]))
    for i in order:
        sku, node, qty = wanted[i]
        if uow.inventory.try_reserve(sku, node, qty, channel.priority):
            continue
        problems.append(_diagnose_shortage(uow, i, sku, node, qty, channel.priority, subject))
    raise_if_any(problems, summary=f"could not reserve {subject}: "
                 + "; ".join(p.message for p in problems[:3]))


def _diagnose_shortage(uow: AbstractUnitOfWork, i: int, sku: str, node: str, qty: int, priority: bool,
                       subject: str) -> Problem:
    field = f"lines[{i}]"
    balance = uow.inventory.get_balance(sku, node)
    if balance is None:
        for p in (sku_problem(uow, f"{field}.sku", sku), node_problem(uow, f"{field}.node", node)):
            if p:
                return p
        balance = StockBalance(sku, node)
    available = balance.available_for(priority)
    return Problem(e.InsufficientStock.code, field,
                   f"{sku}@{node}: asked for {qty}, {available} available",
                   "reduce the quantity or source it from another node",
                   {"sku": sku, "node": node, "requested": qty, "available": available})


def place_checkout_hold(cmd: c.PlaceCheckoutHold, uow: AbstractUnitOfWork) -> dict[str, Any]:
    # Malformed SKU and node codes are refused up front (text the database could not even compare);
    # whether well-formed ones exist is asked only when a line cannot be reserved (reserve_lines names
    # every such line), which keeps the common path to the reservation update itself.
    problems = [p for i, line in enumerate(cmd.lines)
                for p in (quantity_problem(f"lines[{i}].quantity", line.quantity),
                          *key_problems(f"lines[{i}]", line.sku, line.node)) if p]
    if not cmd.lines:
        problems.append(Problem("validation.required", "lines", "a hold needs at least one line",
                                "send the cart's lines"))
    if isinstance(cmd.ttl_seconds, bool) or not isinstance(cmd.ttl_seconds, int) \
            or not 1 <= cmd.ttl_seconds <= MAX_HOLD_SECONDS:
        problems.append(Problem("validation.ttl", "ttl_seconds",
                                f"ttl_seconds must be between 1 and {MAX_HOLD_SECONDS}", "send e.g. 900"))
    if cmd.hold_id is not None and (p := code_problem("hold_id", cmd.hold_id, max_length=64)):
        problems.append(p)
    raise_if_any(problems)
    channel, caps = require_channel_with_caps(uow, cmd.channel, {line.sku for line in cmd.lines})
    hold_id = cmd.hold_id or new_id()
    if cmd.hold_id and uow.inventory.reservations(hold_id=hold_id, active_only=False):
        raise e.AlreadyExists(f"hold {hold_id} already exists", hold_id=hold_id)
    wanted = [(line.sku, line.node, line.quantity) for line in cmd.lines]
    now = uow.now()
    expires = now + timedelta(seconds=cmd.ttl_seconds)
    items = [Reservation(new_id(), sku, node, qty, channel.code, channel.priority, now, hold_id=hold_id,
                         expires_at=expires) for sku, node, qty in wanted]
    # The rows and the event are written before the balances are touched: on PostgreSQL the balance
    # row stays locked from the conditional update to the commit, so that window holds nothing else.
    # If a line cannot be reserved, the whole transaction (rows and event included) rolls back.
    uow.inventory.add_reservations(items)
    uow.emit(CheckoutHoldPlaced(hold_id=hold_id, channel=channel.code, expires_at=expires, occurred_at=now,
                                lines=tuple(ReservedLine(reservation_id=r.reservation_id, sku=r.sku,
                                                         node=r.node, quantity=r.quantity) for r in items)))
    uow.flush_events()
    reserve_lines(uow, channel, wanted, f"hold {hold_id}", caps)
    return {"hold_id": hold_id, "expires_at": expires.isoformat(),
            "reservations": [r.reservation_id for r in items]}


def _end_hold(uow: AbstractUnitOfWork, hold_id: str, status: ReservationStatus, outcome: str) -> int:
    active = [r for r in uow.inventory.reservations(hold_id=hold_id) if r.order_id is None]
    released = release_reservations(uow, active, status, f"hold {outcome}")
    if released:
        uow.emit(CheckoutHoldEnded(hold_id=hold_id, outcome=outcome, occurred_at=uow.now()))
    return sum(x.quantity for x in released)


def release_checkout_hold(cmd: c.ReleaseCheckoutHold, uow: AbstractUnitOfWork) -> dict[str, Any]:
    if not is_lookup_key(cmd.hold_id) or not uow.inventory.reservations(hold_id=cmd.hold_id, active_only=False):
        raise e.UnknownReservation(f"hold {cmd.hold_id!r} does not exist", hold_id=cmd.hold_id)
    units = _end_hold(uow, cmd.hold_id, ReservationStatus.RELEASED, "released")
    return {"hold_id": cmd.hold_id, "released_units": units}


def expire_checkout_holds(cmd: c.ExpireCheckoutHolds, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """The expiry job: every hold past its TTL gives its units back."""
    hold_ids = uow.inventory.expired_hold_ids(uow.now(), max(1, cmd.limit))
    units = sum(_end_hold(uow, h, ReservationStatus.EXPIRED, "expired") for h in hold_ids)
    return {"expired_holds": len(hold_ids), "released_units": units}


def find_drift(uow: AbstractUnitOfWork) -> list[Drift]:
    expected = uow.inventory.expected_totals()
    drifts: list[Drift] = []
    seen: set[tuple[str, str]] = set()
    for b in uow.inventory.all_balances():
        key = (b.sku, b.node)
        seen.add(key)
        want = expected.get(key)
        on_hand, reserved, prio = (want.on_hand, want.reserved, want.priority_reserved) if want else (0, 0, 0)
        for field, recorded, should in (("on_hand", b.on_hand, on_hand), ("reserved", b.reserved, reserved),
                                        ("priority_reserved", b.priority_reserved, prio)):
            if recorded != should:
                drifts.append(Drift(b.sku, b.node, field, recorded, should))
    for key, want in expected.items():
        if key not in seen and (want.on_hand or want.reserved):
            drifts.append(Drift(key[0], key[1], "missing_balance", 0, want.on_hand))
    return sorted(drifts, key=lambda d: (d.sku, d.node, d.field))


def reconcile_inventory(cmd: c.ReconcileInventory, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Recompute every balance from the ledger and live reservations; report (and optionally repair)."""
    drifts = find_drift(uow)
    repaired = 0
    if cmd.repair and drifts:
        expected = uow.inventory.expected_totals()
        for key in sorted({(d.sku, d.node) for d in drifts}):
            want = expected.get(key)
            current = uow.inventory.get_balance(*key)
            if want is None or want.reserved > want.on_hand:
                continue  # cannot be repaired without a count: left in the report for a person
            uow.inventory.ensure_balance(*key)
            base = current or StockBalance(*key)
            uow.inventory.overwrite_balance(StockBalance(
                key[0], key[1], want.on_hand, want.reserved, base.safety_stock, base.protected_qty,
                want.priority_reserved))
            repaired += 1
            uow.emit(InventoryDiscrepancyDetected(
                sku=key[0], node=key[1], source="reconciliation", expected_on_hand=want.on_hand,
                counted_on_hand=base.on_hand, reserved_before=base.reserved, occurred_at=uow.now()))
    return {"checked": len(uow.inventory.all_balances()), "drift": [_drift_dict(d) for d in drifts],
            "repaired": repaired, "at": _iso(uow.now())}


def _drift_dict(d: Drift) -> dict[str, Any]:
    return {"sku": d.sku, "node": d.node, "field": d.field, "recorded": d.recorded, "expected": d.expected,
            "difference": d.difference}


def _iso(at: datetime) -> str:
    return at.isoformat()


__all__ = ["release_reservations", "require_channel", "require_channel_with_caps", "require_quantity",
           "reserve_lines"]
