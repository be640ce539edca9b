"""Handlers for the order lifecycle: place, allocate, release, ship, deliver, cancel, hold."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import Channel
from engine.domain.errors import Problem
from engine.domain.events import (
    OrderAllocated,
    OrderCancelled,
    OrderReceived,
    OrderShipped,
    OrderStatusChanged,
    ReservedLine,
)
from engine.domain.inventory import MovementKind, Reservation, ReservationStatus
from engine.domain.orders import Address, Order, OrderLine, OrderStatus
from engine.services.handlers.checks import (
    code_problem,
    is_lookup_key,
    new_id,
    quantity_problem,
    raise_if_any,
    sku_problem,
    text_problem,
)
from engine.services.handlers.inventory import (
    _move,
    release_reservations,
    require_channel,
    require_channel_with_caps,
    reserve_lines,
)
from engine.services.unit_of_work import AbstractUnitOfWork

ADDRESS_REQUIRED = ("name", "line1", "city", "state", "postal_code", "country")


def _order(uow: AbstractUnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id, for_update=True) if isinstance(order_id, str) else None
    if order is None:
        raise e.UnknownOrder(f"order {order_id!r} does not exist", order_id=str(order_id))
    return order


def _transition(uow: AbstractUnitOfWork, order: Order, target: OrderStatus, reason: str = "") -> None:
    change = order.transition(target, uow.now(), reason)
    uow.emit(OrderStatusChanged(order_id=order.order_id, from_status=change.from_status,
                                to_status=change.to_status, reason=reason, occurred_at=change.at))


def _require_not_paused(order: Order, target: OrderStatus) -> None:
    """Only ResumeOrder takes an order out of a pause: it checks the order still holds its stock.

    Otherwise allocating an order paused from `allocated` would reserve its lines a second time, and
    releasing one paused from `released` would skip the check that its reservations survived.
    """
    if order.status in (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION):
        raise e.IllegalTransition(
            f"order {order.order_id} is {order.status.value}; resume it before moving it to {target.value}",
            entity="order", order_id=order.order_id, from_status=order.status.value, to_status=target.value)


def _address_problems(ship_to: object) -> list[Problem]:
    if not isinstance(ship_to, dict):
        return [Problem("address.missing", "ship_to", "ship_to must be an address object",
                        "send name, line1, city, state, postal_code, country")]
    problems = [p for k in ADDRESS_REQUIRED
                if (p := text_problem(f"ship_to.{k}", ship_to.get(k, ""), max_length=200))]
    problems += [p for k, v in ship_to.items() if k not in ADDRESS_REQUIRED
                 and (p := text_problem(f"ship_to.{k}", v, max_length=200, required=False))]
    return problems


def place_order(cmd: c.PlaceOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Accept a new order from a channel. Unique by (channel, external id); checks every line."""
    problems: list[Problem] = []
    channel: Channel | None = None
    try:
        channel = require_channel(uow, cmd.channel)
    except e.UnknownChannel as unknown:  # listed with every other problem of the order, not alone
        problems += unknown.problems
    problems += [p for p in (code_problem("external_id", cmd.external_id, max_length=128),
                             text_problem("notes", cmd.notes, max_length=4000, required=False)) if p]
    problems += _address_problems(cmd.ship_to)
    if not (isinstance(cmd.currency, str) and len(cmd.currency) == 3 and cmd.currency.isascii()
            and cmd.currency.isalpha() and cmd.currency.isupper()):
        problems.append(Problem("validation.currency", "currency", f"{cmd.currency!r} is not an ISO 4217 code",
                                "send three capital letters such as USD"))
    if not cmd.lines:
        problems.append(Problem("validation.required", "lines", "an order needs at least one line",
                                "send one or more lines"))
    if len(cmd.lines) > 500:
        problems.append(Problem("validation.too_many_lines", "lines", "an order may have at most 500 lines",
                                "split the order"))
    account = None
    if cmd.account_code is not None:
        account = uow.master.get_account(cmd.account_code) if is_lookup_key(cmd.account_code) else None
        if account is None:
            problems.append(Problem(e.UnknownAccount.code, "account_code",
                                    f"account {cmd.account_code!r} does not exist", "check the account code"))
    if cmd.customer_id is not None and (not is_lookup_key(cmd.customer_id)
                                        or uow.master.get_customer(cmd.customer_id) is None):
        problems.append(Problem(e.UnknownCustomer.code, "customer_id",
                                f"customer {cmd.customer_id!r} does not exist", "check the customer id"))
    known = uow.master.existing_skus(ln.sku for ln in cmd.lines if is_lookup_key(ln.sku))
    lines: list[OrderLine] = []
    for i, ln in enumerate(cmd.lines):
        line_problems = [p for p in (sku_problem(uow, f"lines[{i}].sku", ln.sku, known=known),
                                     quantity_problem(f"lines[{i}].quantity", ln.quantity)) if p]
        price = ln.unit_price
        if price is None and not line_problems:
            price = list_price(uow, account.price_list_code if account else None, ln.sku)
        try:
            bad_price = price is None or not Decimal(price).is_finite() or Decimal(price) < 0
        except (InvalidOperation, TypeError, ValueError):
            bad_price = True
        if bad_price and not line_problems:
            line_problems.append(Problem("pricing.invalid", f"lines[{i}].unit_price",
                                         f"unit price {price!r} is not a non-negative amount",
                                         "send the price or leave it out to use the price list"))
        problems += line_problems
        if not line_problems:
            lines.append(OrderLine(line_no=i + 1, sku=ln.sku, quantity=ln.quantity,
                                   unit_price=Decimal(price)))  # type: ignore[arg-type]
    raise_if_any(problems)
    assert channel is not None  # an unknown channel is one of the problems raised above
    existing = uow.orders.find_by_external_id(channel.code, cmd.external_id)
    if existing is not None:
        raise e.DuplicateOrder(f"{channel.code} order {cmd.external_id!r} already exists as order {existing}",
                               order_id=existing, channel=channel.code, external_id=cmd.external_id)
    now = uow.now()
    order = Order(order_id="", channel=channel.code, external_id=cmd.external_id, customer_id=cmd.customer_id,
                  account_code=cmd.account_code, ship_to=Address.from_dict(cmd.ship_to), lines=lines,
                  placed_at=now, currency=cmd.currency, requested_delivery=cmd.requested_delivery,
                  notes=cmd.notes)
    order.history.append(_initial_change(order))
    order_id = uow.orders.add(order)
    uow.emit(OrderReceived(order_id=order_id, channel=channel.code, external_id=cmd.external_id,
                           customer_id=cmd.customer_id, account_code=cmd.account_code,
                           line_count=len(lines), total=str(order.total), occurred_at=now))
    _transition(uow, order, OrderStatus.VALIDATED, "all lines known, quantities and address complete")
    uow.orders.save(order)
    return {"order_id": order_id, "status": order.status.value}


def _initial_change(order: Order) -> Any:
    from engine.domain.orders import StatusChange

    return StatusChange(order.placed_at, None, OrderStatus.RECEIVED, f"received from {order.channel}")


def list_price(uow: AbstractUnitOfWork, price_list: str | None, sku: str) -> Decimal | None:
    """The price an order line gets when it names none: the account's price list, else the catalog."""
    if price_list:
        price = uow.master.get_price(price_list, sku)
        if price is not None:
            return price
    item = uow.master.get_sku(sku)
    return item.unit_price if item else None


def allocate_order(cmd: c.AllocateOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Reserve every open unit of the order, all lines or none."""
    order = _order(uow, cmd.order_id)
    _require_not_paused(order, OrderStatus.ALLOCATED)
    order.require_transition(OrderStatus.ALLOCATED)
    if cmd.from_hold:
        items = _adopt_hold(uow, order, cmd.from_hold)
    else:
        items = _reserve_plan(uow, order, cmd.allocations)
    for line in order.lines:
        line.allocated = sum(r.quantity for r in items if r.line_no == line.line_no)
    _transition(uow, order, OrderStatus.ALLOCATED,
                f"reserved at {', '.join(sorted({r.node for r in items}))}")
    uow.orders.save(order)
    reserved = tuple(ReservedLine(reservation_id=r.reservation_id, sku=r.sku, node=r.node,
                                  quantity=r.quantity, line_no=r.line_no) for r in items)
    uow.emit(OrderAllocated(order_id=order.order_id, lines=reserved, occurred_at=uow.now()))
    return {"order_id": order.order_id, "status": order.status.value,
            "reservations": [{"line_no": r.line_no, "sku": r.sku, "node": r.node, "quantity": r.quantity}
                             for r in items]}


def _reserve_plan(uow: AbstractUnitOfWork, order: Order,
                  plan: tuple[c.LineAllocation, ...]) -> list[Reservation]:
    problems: list[Problem] = []
    if not plan:
        problems.append(Problem("allocation.empty", "allocations", "no allocation plan was given",
                                "send a node and quantity for every line"))
    planned: dict[int, int] = defaultdict(int)
    wanted: list[tuple[str, str, int]] = []
    lines = {ln.line_no: ln for ln in order.lines}
    nodes: dict[str, bool] = {}
    for i, a in enumerate(plan):
        line = lines.get(a.line_no)
        if line is None:
            problems.append(Problem("allocation.unknown_line", f"allocations[{i}].line_no",
                                    f"order {order.order_id} has no line {a.line_no}", "use the order's lines"))
            continue
        if (p := quantity_problem(f"allocations[{i}].quantity", a.quantity)) is not None:
            problems.append(p)
            continue
        if a.node not in nodes:
            node = uow.master.get_node(a.node) if is_lookup_key(a.node) else None
            nodes[a.node] = node is not None and node.active
        if not nodes[a.node]:
            problems.append(Problem(e.UnknownNode.code, f"allocations[{i}].node",
                                    f"fulfillment node {a.node!r} does not exist", "use a configured node"))
            continue
        planned[a.line_no] += a.quantity
        wanted.append((line.sku, a.node, a.quantity))
    for line in order.lines:
        need = line.open_quantity
        if planned.get(line.line_no, 0) != need:
            problems.append(Problem("allocation.incomplete", f"lines[{line.line_no}]",
                                    f"line {line.line_no} ({line.sku}) needs {need} units, "
                                    f"the plan covers {planned.get(line.line_no, 0)}",
                                    "allocate every open unit of every line"))
    raise_if_any(problems)
    channel, caps = require_channel_with_caps(uow, order.channel, {sku for sku, _node, _qty in wanted})
    now = uow.now()
    line_of = [a.line_no for a in plan]
    items = [Reservation(new_id(), sku, node, qty, channel.code, channel.priority, now,
                         order_id=order.order_id, line_no=line_of[i]) for i, (sku, node, qty) in enumerate(wanted)]
    # Rows first, balances last: the balance row locks are then held for as little as possible
    # (see place_checkout_hold). A refused line rolls the whole transaction back.
    uow.inventory.add_reservations(items)
    reserve_lines(uow, channel, wanted, f"order {order.order_id}", caps)
    return items


def _adopt_hold(uow: AbstractUnitOfWork, order: Order, hold_id: str) -> list[Reservation]:
    held = uow.inventory.reservations(hold_id=hold_id, active_only=False) if is_lookup_key(hold_id) else []
    if not held:
        raise e.UnknownReservation(f"hold {hold_id!r} does not exist", hold_id=hold_id)
    active = [r for r in held if r.status == ReservationStatus.ACTIVE and r.order_id is None]
    now = uow.now()
    if not active or any(r.expires_at is not None and r.expires_at <= now for r in active):
        raise e.HoldExpired(f"hold {hold_id} has expired or was already used", hold_id=hold_id)
    if any(r.channel != order.channel for r in active):
        raise e.ValidationFailed("the hold was placed by another channel", hold_id=hold_id,
                                 problems=[Problem("allocation.hold_channel", "from_hold",
                                                   "hold and order come from different channels",
                                                   "use a hold from the order's channel")])
    unmatched = list(active)
    problems: list[Problem] = []
    for line in order.lines:
        need = line.open_quantity
        for r in list(unmatched):
            if r.sku == line.sku and need >= r.quantity:
                r.order_id, r.line_no, r.expires_at = order.order_id, line.line_no, None
                need -= r.quantity
                unmatched.remove(r)
        if need:
            problems.append(Problem("allocation.hold_mismatch", f"lines[{line.line_no}]",
                                    f"the hold does not cover line {line.line_no} ({line.sku}) exactly",
                                    "place the order with the quantities held"))
    if unmatched:
        problems.append(Problem("allocation.hold_mismatch", "from_hold",
                                f"the hold has {len(unmatched)} reservation(s) the order does not use",
                                "release the hold or change the order"))
    raise_if_any(problems)
    for r in active:
        uow.inventory.update_reservation(r, ended_at=None)
    return active


def deallocate_order(cmd: c.DeallocateOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    order = _order(uow, cmd.order_id)
    raise_if_any([p for p in (text_problem("reason", cmd.reason, max_length=500, required=False),) if p])
    order.require_transition(OrderStatus.VALIDATED)
    units = _release_order_stock(uow, order, cmd.reason)
    _transition(uow, order, OrderStatus.VALIDATED, cmd.reason)
    uow.orders.save(order)
    return {"order_id": order.order_id, "status": order.status.value, "released_units": units}


def _release_order_stock(uow: AbstractUnitOfWork, order: Order, reason: str) -> int:
    if OrderStatus.ALLOCATED in (order.status, order.paused_from):
        _give_back_pick_capacity(uow, order)
    released = release_reservations(uow, uow.inventory.reservations(order_id=order.order_id),
                                    ReservationStatus.RELEASED, reason)
    for line in order.lines:
        line.allocated = 0
    return sum(x.quantity for x in released)


def _give_back_pick_capacity(uow: AbstractUnitOfWork, order: Order) -> None:
    """An order allocated by routing but not released to a warehouse gives its pick capacity back.

    Released orders keep it: picking may have started. The units and days come from the routing
    decision that is in force (orders allocated by hand with AllocateOrder took no capacity)."""
    from engine.domain.routing import DecisionOutcome

    decision = next((d for d in reversed(uow.routing.decisions(order.order_id))
                     if d.outcome is DecisionOutcome.COMMITTED), None)
    if decision is None:
        return
    for (node, day), qty in sorted(decision.units_per_node_day().items()):
        uow.routing.give_back_capacity(node, day, qty)


def release_to_fulfillment(cmd: c.ReleaseOrderToFulfillment, uow: AbstractUnitOfWork) -> dict[str, Any]:
    order = _order(uow, cmd.order_id)
    _require_not_paused(order, OrderStatus.RELEASED)
    _transition(uow, order, OrderStatus.RELEASED, "released to the fulfillment nodes for picking")
    uow.orders.save(order)
    return {"order_id": order.order_id, "status": order.status.value}


def record_shipment(cmd: c.RecordShipment, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Consume reservations for what left the building. A repeated shipment id changes nothing."""
    raise_if_any([p for p in (text_problem("shipment_id", cmd.shipment_id or "", max_length=64, required=False),
                              text_problem("carrier", cmd.carrier, max_length=32, required=False),
                              text_problem("tracking_number", cmd.tracking_number, max_length=64, required=False))
                  if p])
    if cmd.shipment_id and uow.orders.shipment_exists(cmd.shipment_id):
        order = _order(uow, cmd.order_id)
        return {"order_id": order.order_id, "status": order.status.value, "shipment_id": cmd.shipment_id,
                "duplicate": True}
    order = _order(uow, cmd.order_id)
    if order.status not in (OrderStatus.RELEASED, OrderStatus.PARTIALLY_SHIPPED):
        order.require_transition(OrderStatus.SHIPPED)
    live = [r for r in uow.inventory.reservations(order_id=order.order_id) if r.node == cmd.node]
    problems: list[Problem] = []
    if not cmd.lines:
        problems.append(Problem("validation.required", "lines", "a shipment needs lines", "send shipped lines"))
    asked: dict[int, int] = defaultdict(int)  # a line may appear more than once: check the sum
    for i, sl in enumerate(cmd.lines):
        if (p := quantity_problem(f"lines[{i}].quantity", sl.quantity)) is not None:
            problems.append(p)
            continue
        held = sum(r.outstanding for r in live if r.line_no == sl.line_no)
        if sl.line_no not in {ln.line_no for ln in order.lines}:
            problems.append(Problem("shipment.unknown_line", f"lines[{i}].line_no",
                                    f"order {order.order_id} has no line {sl.line_no}", "use the order's lines"))
            continue
        asked[sl.line_no] += sl.quantity
        if asked[sl.line_no] > held:
            problems.append(Problem("shipment.exceeds_reservation", f"lines[{i}].quantity",
                                    f"line {sl.line_no} has {held} units reserved at {cmd.node}, "
                                    f"shipment says {asked[sl.line_no]}",
                                    "ship what was reserved there, or record a short pick as an exception"))
    raise_if_any(problems)
    shipment_id = cmd.shipment_id or new_id()
    for sl in sorted(cmd.lines, key=lambda x: x.line_no):
        line = order.line(sl.line_no)
        remaining = sl.quantity
        for r in sorted((r for r in live if r.line_no == sl.line_no), key=lambda r: r.created_at):
            take = min(remaining, r.outstanding)
            if take <= 0:
                continue
            moved = _move(uow, r.sku, r.node, MovementKind.SHIP, -take, reference=f"shipment:{shipment_id}",
                          consume_reserved=take, consume_priority=take if r.priority else 0)
            if moved is None:  # pragma: no cover - reserved units are always on hand (DB check)
                raise e.StockInvariantViolation(f"could not consume {take} of {r.sku}@{r.node}")
            r.consumed += take
            if r.consumed == r.quantity:
                r.status = ReservationStatus.CONSUMED
            uow.inventory.update_reservation(r, ended_at=uow.now() if r.status != "active" else None)
            remaining -= take
        line.shipped += sl.quantity
        line.allocated -= sl.quantity
    uow.orders.add_shipment(shipment_id, order.order_id, cmd.node, cmd.carrier, cmd.tracking_number,
                            [(x.line_no, x.quantity) for x in cmd.lines], uow.now())
    if cmd.carrier and cmd.tracking_number:  # the carrier often scans the label before the warehouse reports
        uow.tracking.link(cmd.carrier, cmd.tracking_number, order.order_id, shipment_id)
    target = OrderStatus.SHIPPED if order.fully_shipped else OrderStatus.PARTIALLY_SHIPPED
    if order.status != target:
        _transition(uow, order, target, f"shipment {shipment_id} from {cmd.node}")
    uow.orders.save(order)
    uow.emit(OrderShipped(order_id=order.order_id, shipment_id=shipment_id, node=cmd.node,
                          carrier=cmd.carrier, tracking_number=cmd.tracking_number,
                          lines=tuple((x.line_no, x.quantity) for x in cmd.lines),
                          complete=order.fully_shipped, occurred_at=uow.now()))
    return {"order_id": order.order_id, "status": order.status.value, "shipment_id": shipment_id,
            "duplicate": False}


def mark_delivered(cmd: c.MarkDelivered, uow: AbstractUnitOfWork) -> dict[str, Any]:
    order = _order(uow, cmd.order_id)
    _transition(uow, order, OrderStatus.DELIVERED, "carrier confirmed delivery")
    uow.orders.save(order)
    return {"order_id": order.order_id, "status": order.status.value}


def cancel_order(cmd: c.CancelOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    order = _order(uow, cmd.order_id)
    raise_if_any([p for p in (text_problem("reason", cmd.reason, max_length=500),) if p])
    order.require_transition(OrderStatus.CANCELLED)
    units = _release_order_stock(uow, order, f"cancelled: {cmd.reason}")
    for line in order.lines:
        line.cancelled = line.quantity - line.shipped
    _transition(uow, order, OrderStatus.CANCELLED, cmd.reason)
    uow.orders.save(order)
    uow.emit(OrderCancelled(order_id=order.order_id, reason=cmd.reason, released_units=units,
                            occurred_at=uow.now()))
    return {"order_id": order.order_id, "status": order.status.value, "released_units": units}


def hold_order(cmd: c.HoldOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    return _pause(uow, cmd.order_id, OrderStatus.ON_HOLD, cmd.reason)


def flag_exception(cmd: c.FlagOrderException, uow: AbstractUnitOfWork) -> dict[str, Any]:
    return _pause(uow, cmd.order_id, OrderStatus.EXCEPTION, cmd.reason)


def _pause(uow: AbstractUnitOfWork, order_id: str, target: OrderStatus, reason: str) -> dict[str, Any]:
    order = _order(uow, order_id)
    raise_if_any([p for p in (text_problem("reason", reason, max_length=500),) if p])
    _transition(uow, order, target, reason)
    uow.orders.save(order)
    return {"order_id": order.order_id, "status": order.status.value, "paused_from": order.paused_from}


def resume_order(cmd: c.ResumeOrder, uow: AbstractUnitOfWork) -> dict[str, Any]:
    """Back to where the order was paused from; or, after an exception, back to validated (stock given
    back) so it can be allocated again."""
    order = _order(uow, cmd.order_id)
    raise_if_any([p for p in (text_problem("reason", cmd.reason, max_length=500, required=False),) if p])
    if order.status not in (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION) or order.paused_from is None:
        raise e.IllegalTransition(f"order {order.order_id} is {order.status.value}, not on hold or in exception",
                                  order_id=order.order_id, from_status=order.status.value)
    target = OrderStatus.VALIDATED if cmd.to_validated else order.paused_from
    order.require_transition(target)
    if cmd.to_validated and order.any_shipped:
        raise e.IllegalTransition(f"order {order.order_id} has shipped units; it cannot be allocated again",
                                  order_id=order.order_id, from_status=order.status.value, to_status=target.value)
    if cmd.to_validated:
        _release_order_stock(uow, order, f"re-allocating: {cmd.reason}")
    elif target in (OrderStatus.ALLOCATED, OrderStatus.RELEASED, OrderStatus.PARTIALLY_SHIPPED):
        short = [ln.line_no for ln in order.lines if ln.allocated + ln.shipped + ln.cancelled < ln.quantity]
        if short:
            raise e.InsufficientStock(
                f"order {order.order_id} lost reservations on lines {short}; resume it to validated",
                order_id=order.order_id, lines=short,
                problems=[Problem(e.InsufficientStock.code, f"lines[{n}]", "line is no longer reserved",
                                  "resume with to_validated and allocate again") for n in short])
    _transition(uow, order, target, cmd.reason)
    uow.orders.save(order)
    return {"order_id": order.order_id, "status": order.status.value}
