"""Every refused command answers with a stable error code (and the offending field) and changes nothing.

Each case starts from the same small world (stock, orders in several states, checkout holds, a used
idempotency key), snapshots every table, sends one bad command, checks the error and compares every
table again. Runs on SQLite and PostgreSQL.

The world is built once per backend and reused: before each case the database is compared with the
world's pristine snapshot and rebuilt from empty if anything changed it (a failing case, or another
test module sharing this worker's PostgreSQL database), so every case sees exactly the same world.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from engine.adapters.tables import metadata
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.errors import OrderloomError
from engine.domain.orders import Address, Order, OrderLine, OrderStatus, StatusChange
from tests.integration.helpers import ADDRESS, build_network, snapshot

Snapshot = dict[str, list[tuple[Any, ...]]]

HUGE_TEXT = "x" * 10_000
SQL = "'; DROP TABLE orders;--"


@dataclass(frozen=True)
class World:
    validated: str  # web W-V: SKU-1 x2, SKU-2 x4
    allocated: str  # web W-A: SKU-1 x3 at DC-1
    released: str  # web W-R: SKU-2 x2 at DC-1, released
    shipped: str  # web W-S: SKU-1 x1, shipped
    received: str  # W-RCV, still received (stored directly, as an intake adapter would)
    on_hold: str  # web W-OH: SKU-1 x2 at DC-2, put on hold when allocated
    exception: str  # web W-EX: SKU-2 x1 at DC-1, flagged when released
    hold: str  # web checkout hold H-1: SKU-1 x1 at DC-1
    vip_hold: str  # vip checkout hold H-VIP: SKU-2 x1 at DC-1


def build_world(app: App) -> World:
    bus = app.bus
    build_network(bus, skus=["SKU-1", "SKU-2"], nodes=["DC-1", "DC-2"], channels={"web": False, "vip": True})
    for sku, node, qty in (("SKU-1", "DC-1", 20), ("SKU-2", "DC-1", 10), ("SKU-1", "DC-2", 5)):
        bus.handle(c.ReceiveStock(sku=sku, node=node, quantity=qty))
    bus.handle(c.ReceiveStock(sku="SKU-2", node="DC-2", quantity=3, idempotency_key="key-1"))

    def order(external_id: str, *lines: tuple[str, int], plan: tuple[tuple[int, str, int], ...] = ()) -> str:
        oid: str = bus.handle(c.PlaceOrder(channel="web", external_id=external_id, ship_to=ADDRESS,
                                           lines=tuple(c.NewOrderLine(s, q) for s, q in lines)))["order_id"]
        if plan:
            bus.handle(c.AllocateOrder(order_id=oid, allocations=tuple(c.LineAllocation(*p) for p in plan)))
        return oid

    validated = order("W-V", ("SKU-1", 2), ("SKU-2", 4))
    allocated = order("W-A", ("SKU-1", 3), plan=((1, "DC-1", 3),))
    released = order("W-R", ("SKU-2", 2), plan=((1, "DC-1", 2),))
    bus.handle(c.ReleaseOrderToFulfillment(order_id=released))
    shipped = order("W-S", ("SKU-1", 1), plan=((1, "DC-1", 1),))
    bus.handle(c.ReleaseOrderToFulfillment(order_id=shipped))
    bus.handle(c.RecordShipment(order_id=shipped, node="DC-1", lines=(c.ShipmentLine(1, 1),), shipment_id="S-1"))
    on_hold = order("W-OH", ("SKU-1", 2), plan=((1, "DC-2", 2),))
    bus.handle(c.HoldOrder(order_id=on_hold, reason="fraud check"))
    exception = order("W-EX", ("SKU-2", 1), plan=((1, "DC-1", 1),))
    bus.handle(c.ReleaseOrderToFulfillment(order_id=exception))
    bus.handle(c.FlagOrderException(order_id=exception, reason="address unclear"))
    bus.handle(c.PlaceCheckoutHold(channel="web", hold_id="H-1", lines=(c.HoldLine("SKU-1", "DC-1", 1),)))
    bus.handle(c.PlaceCheckoutHold(channel="vip", hold_id="H-VIP", lines=(c.HoldLine("SKU-2", "DC-1", 1),)))

    with app.uow() as uow:
        placed = uow.now()
        received = Order(order_id="", channel="web", external_id="W-RCV", customer_id=None, account_code=None,
                         ship_to=Address.from_dict(ADDRESS), lines=[OrderLine(1, "SKU-1", 1, Decimal("9.99"))],
                         placed_at=placed, history=[StatusChange(placed, None, OrderStatus.RECEIVED, "intake")])
        received_id = uow.orders.add(received)
        uow.commit()
    return World(validated, allocated, released, shipped, received_id, on_hold, exception, "H-1", "H-VIP")


Build = Callable[[World], c.Command]


def case(case_id: str, build: Build, code: str, field: str | None = None) -> Any:
    return pytest.param(build, code, field, id=case_id)


def receive(**kw: Any) -> Build:
    args = {"sku": "SKU-1", "node": "DC-1", "quantity": 1, **kw}
    return lambda w: c.ReceiveStock(**args)


def place(**kw: Any) -> Build:
    args: dict[str, Any] = {"channel": "web", "external_id": "W-NEW", "ship_to": ADDRESS,
                            "lines": (c.NewOrderLine("SKU-1", 1),), **kw}
    return lambda w: c.PlaceOrder(**args)


def hold(*lines: tuple[Any, Any, Any], **kw: Any) -> Build:
    args: dict[str, Any] = {"channel": "web", "lines": tuple(c.HoldLine(*x) for x in lines)
                            or (c.HoldLine("SKU-1", "DC-1", 1),), **kw}
    return lambda w: c.PlaceCheckoutHold(**args)


def adjust(**kw: Any) -> Build:
    args = {"sku": "SKU-1", "node": "DC-1", "delta": 1, "reason": "found in aisle 3", **kw}
    return lambda w: c.AdjustStock(**args)


def plan(*entries: tuple[int, Any, Any]) -> Build:
    return lambda w: c.AllocateOrder(order_id=w.validated,
                                     allocations=tuple(c.LineAllocation(*e) for e in entries))


def ship(order: str, node: str, *lines: tuple[int, Any]) -> Build:
    return lambda w: c.RecordShipment(order_id=getattr(w, order), node=node,
                                      lines=tuple(c.ShipmentLine(*x) for x in lines))


def address(**kw: Any) -> dict[str, Any]:
    return {**ADDRESS, **kw}


def ret(order: str = "shipped", *lines: tuple[Any, Any, Any], **kw: Any) -> Build:
    """A return request for one of the world's orders (`lines`: line_no, quantity, reason)."""
    return lambda w: c.RequestReturn(order_id=getattr(w, order) if hasattr(w, order) else order,
                                     lines=tuple(c.ReturnLineRequest(line_no=a, quantity=b, reason=r)
                                                 for a, b, r in lines) or (
                                         c.ReturnLineRequest(line_no=1, quantity=1, reason="defective"),), **kw)


CASES = [
    # -- returns -----------------------------------------------------------------------------------
    case("return-unknown-order", ret("999999"), "order.unknown"),
    case("return-nul-order", ret("\x00"), "order.unknown"),
    case("return-not-delivered-change-of-mind", ret("shipped", (1, 1, "changed_mind")), "return.not_eligible",
         "lines.1"),
    case("return-more-than-shipped", ret("shipped", (1, 5, "defective")), "return.not_eligible", "lines.1"),
    case("return-unknown-line", ret("shipped", (7, 1, "defective")), "return.not_eligible", "lines.7"),
    case("return-nothing-shipped", ret("validated", (1, 1, "defective")), "return.not_eligible", "lines.1"),
    case("return-bad-reason", ret("shipped", (1, 1, SQL)), "validation.failed", "lines[0].reason"),
    case("return-bool-line", ret("shipped", (True, 1, "defective")), "validation.failed", "lines[0]"),
    case("return-bad-resolution", ret("shipped", resolution="store_credit"), "validation.failed",
         "resolution"),
    case("return-huge-text", ret("shipped", customer_text=HUGE_TEXT), "validation.failed", "customer_text"),
    case("return-no-lines", lambda w: c.RequestReturn(order_id=w.shipped, lines=()), "validation.failed", "lines"),
    case("return-refund-with-exchange-sku", lambda w: c.RequestReturn(order_id=w.shipped, lines=(
        c.ReturnLineRequest(line_no=1, quantity=1, reason="defective", exchange_sku="SKU-1"),)),
        "validation.failed", "lines[0].exchange_sku"),
    case("return-exchange-hostile-sku", lambda w: c.RequestReturn(order_id=w.shipped, resolution="exchange", lines=(
        c.ReturnLineRequest(line_no=1, quantity=1, reason="defective", exchange_sku=SQL),)),
        "catalog.unknown_sku", "lines[0].exchange_sku"),
    case("return-unknown-restock-node", ret("shipped", restock_node="NOPE"), "network.unknown_node",
         "restock_node"),
    case("receive-unknown-return", lambda w: c.ReceiveReturn(rma_id="RMA-NOPE", node="DC-1", reference="R",
                                                             quantities=((1, 1),)), "return.unknown"),
    case("grade-unknown-return", lambda w: c.GradeReturnLine(rma_id="\x00", line_no=1, grade="new", reference="G"),
         "return.unknown"),
    case("authorise-unknown-return", lambda w: c.AuthoriseReturn(rma_id=SQL, actor="ana"), "return.unknown"),
    case("settle-unknown-return", lambda w: c.SettleReturn(rma_id="RMA-" + "9" * 40), "return.unknown"),
    # -- unknown SKUs ------------------------------------------------------------------------------
    case("receive-unknown-sku", receive(sku="NOPE-9"), "catalog.unknown_sku", "sku"),
    case("receive-lower-case-sku", receive(sku="sku-1"), "catalog.unknown_sku", "sku"),
    case("order-line-unknown-sku", place(lines=(c.NewOrderLine("NOPE-9", 1),)), "catalog.unknown_sku",
         "lines[0].sku"),
    case("hold-unknown-sku", hold(("NOPE-9", "DC-1", 1)), "catalog.unknown_sku", "lines[0].sku"),
    case("adjust-unknown-sku", adjust(sku="NOPE-9"), "catalog.unknown_sku", "sku"),
    case("transfer-unknown-sku", lambda w: c.TransferStock(sku="NOPE-9", from_node="DC-1", to_node="DC-2",
                                                           quantity=1), "catalog.unknown_sku", "sku"),
    case("count-unknown-sku", lambda w: c.RecordCycleCount(sku="NOPE-9", node="DC-1", counted=3),
         "catalog.unknown_sku", "sku"),
    case("policy-unknown-sku", lambda w: c.SetStockPolicy(sku="NOPE-9", node="DC-1", safety_stock=1),
         "catalog.unknown_sku", "sku"),
    case("cap-unknown-sku", lambda w: c.SetChannelCap(channel="web", sku="NOPE-9", cap=5),
         "catalog.unknown_sku", "sku"),
    # -- unknown nodes -----------------------------------------------------------------------------
    case("receive-unknown-node", receive(node="DC-9"), "network.unknown_node", "node"),
    case("count-unknown-node", lambda w: c.RecordCycleCount(sku="SKU-1", node="DC-9", counted=3),
         "network.unknown_node", "node"),
    case("transfer-to-unknown-node", lambda w: c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-9",
                                                               quantity=1), "network.unknown_node", "to_node"),
    case("transfer-from-unknown-node", lambda w: c.TransferStock(sku="SKU-1", from_node="DC-9", to_node="DC-1",
                                                                 quantity=1), "network.unknown_node", "from_node"),
    case("hold-at-unknown-node", hold(("SKU-1", "DC-9", 1)), "network.unknown_node", "lines[0].node"),
    case("plan-at-unknown-node", plan((1, "DC-9", 2), (2, "DC-1", 4)), "validation.failed",
         "allocations[0].node"),
    # -- quantities --------------------------------------------------------------------------------
    *[case(f"receive-quantity-{name}", receive(quantity=value), "quantity.invalid", "quantity")
      for name, value in (("zero", 0), ("negative", -1), ("float", 2.5), ("true", True), ("false", False),
                          ("text", "3"), ("none", None), ("decimal", Decimal("2")), ("nan", float("nan")),
                          ("over-limit", 1_000_001), ("int64", 2**63), ("googol", 10**100))],
    *[case(f"adjust-delta-{name}", adjust(delta=value), "quantity.invalid", "delta")
      for name, value in (("zero", 0), ("true", True), ("float", -1.5), ("huge", 2_000_000),
                          ("huge-negative", -2_000_000))],
    *[case(f"order-line-quantity-{name}", place(lines=(c.NewOrderLine("SKU-1", value),)), "quantity.invalid",
           "lines[0].quantity") for name, value in (("zero", 0), ("negative", -3), ("true", True),
                                                    ("huge", 10**9))],
    case("hold-quantity-zero", hold(("SKU-1", "DC-1", 0)), "quantity.invalid", "lines[0].quantity"),
    case("hold-quantity-huge", hold(("SKU-1", "DC-1", 10**12)), "quantity.invalid", "lines[0].quantity"),
    case("hold-ttl-zero", hold(ttl_seconds=0), "validation.failed", "ttl_seconds"),
    case("hold-ttl-true", hold(ttl_seconds=True), "validation.failed", "ttl_seconds"),
    case("transfer-quantity-zero", lambda w: c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-2",
                                                             quantity=0), "quantity.invalid", "quantity"),
    case("count-negative", lambda w: c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=-1),
         "quantity.invalid", "counted"),
    case("count-true", lambda w: c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=True),
         "quantity.invalid", "counted"),
    case("plan-quantity-negative", plan((1, "DC-1", -1), (2, "DC-1", 4)), "validation.failed",
         "allocations[0].quantity"),
    case("ship-quantity-zero", ship("released", "DC-1", (1, 0)), "quantity.invalid", "lines[0].quantity"),
    case("policy-negative-safety-stock", lambda w: c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=-1),
         "quantity.invalid", "safety_stock"),
    case("cap-negative", lambda w: c.SetChannelCap(channel="web", sku="SKU-1", cap=-1), "quantity.invalid",
         "cap"),
    # -- illegal transitions -----------------------------------------------------------------------
    case("ship-validated-order", ship("validated", "DC-1", (1, 1)), "state.illegal_transition"),
    case("ship-on-hold-order", ship("on_hold", "DC-2", (1, 1)), "state.illegal_transition"),
    case("cancel-shipped-order", lambda w: c.CancelOrder(order_id=w.shipped, reason="too late"),
         "state.illegal_transition"),
    case("deliver-received-order", lambda w: c.MarkDelivered(order_id=w.received), "state.illegal_transition"),
    case("deliver-validated-order", lambda w: c.MarkDelivered(order_id=w.validated), "state.illegal_transition"),
    case("deliver-released-order", lambda w: c.MarkDelivered(order_id=w.released), "state.illegal_transition"),
    case("release-validated-order", lambda w: c.ReleaseOrderToFulfillment(order_id=w.validated),
         "state.illegal_transition"),
    case("release-order-in-exception", lambda w: c.ReleaseOrderToFulfillment(order_id=w.exception),
         "state.illegal_transition"),
    case("allocate-allocated-order", lambda w: c.AllocateOrder(
        order_id=w.allocated, allocations=(c.LineAllocation(1, "DC-1", 3),)), "state.illegal_transition"),
    case("allocate-on-hold-order", lambda w: c.AllocateOrder(
        order_id=w.on_hold, allocations=(c.LineAllocation(1, "DC-1", 2),)), "state.illegal_transition"),
    case("allocate-shipped-order", lambda w: c.AllocateOrder(
        order_id=w.shipped, allocations=(c.LineAllocation(1, "DC-1", 1),)), "state.illegal_transition"),
    case("deallocate-shipped-order", lambda w: c.DeallocateOrder(order_id=w.shipped, reason="oops"),
         "state.illegal_transition"),
    case("deallocate-validated-order", lambda w: c.DeallocateOrder(order_id=w.validated, reason="oops"),
         "state.illegal_transition"),
    case("resume-validated-order", lambda w: c.ResumeOrder(order_id=w.validated, reason="go"),
         "state.illegal_transition"),
    case("resume-on-hold-order-to-validated", lambda w: c.ResumeOrder(order_id=w.on_hold, reason="go",
                                                                      to_validated=True),
         "state.illegal_transition"),
    case("hold-shipped-order", lambda w: c.HoldOrder(order_id=w.shipped, reason="fraud check"),
         "state.illegal_transition"),
    case("flag-order-already-in-exception", lambda w: c.FlagOrderException(order_id=w.exception, reason="again"),
         "state.illegal_transition"),
    # -- unknown orders and holds ------------------------------------------------------------------
    case("cancel-unknown-order", lambda w: c.CancelOrder(order_id="999999", reason="x"), "order.unknown"),
    case("cancel-order-id-sql", lambda w: c.CancelOrder(order_id="1; DROP TABLE orders", reason="x"),
         "order.unknown"),
    case("cancel-order-id-overflow", lambda w: c.CancelOrder(order_id="9" * 40, reason="x"), "order.unknown"),
    case("release-unknown-hold", lambda w: c.ReleaseCheckoutHold(hold_id="NO-SUCH-HOLD"), "reservation.unknown"),
    case("allocate-from-unknown-hold", lambda w: c.AllocateOrder(order_id=w.validated, from_hold="NO-SUCH-HOLD"),
         "reservation.unknown"),
    # -- duplicates and idempotency ----------------------------------------------------------------
    case("duplicate-external-id", place(external_id="W-V"), "order.duplicate_external_id"),
    case("duplicate-external-id-same-lines", place(
        external_id="W-V", lines=(c.NewOrderLine("SKU-1", 2), c.NewOrderLine("SKU-2", 4))),
        "order.duplicate_external_id"),
    case("hold-id-reused", hold(hold_id="H-1"), "already_exists"),
    case("idempotency-key-reused-other-payload", lambda w: c.ReceiveStock(
        sku="SKU-2", node="DC-2", quantity=4, idempotency_key="key-1"), "idempotency.key_reused", "idempotency_key"),
    case("idempotency-key-reused-other-command", adjust(idempotency_key="key-1"), "idempotency.key_reused",
         "idempotency_key"),
    case("idempotency-key-control-character", receive(idempotency_key="key\x00"), "validation.failed",
         "idempotency_key"),
    case("idempotency-key-10kB", receive(idempotency_key=HUGE_TEXT), "validation.failed", "idempotency_key"),
    # -- unknown channels --------------------------------------------------------------------------
    case("hold-unknown-channel", hold(channel="nope"), "channel.unknown", "channel"),
    case("order-unknown-channel", place(channel="nope"), "channel.unknown", "channel"),
    case("cap-unknown-channel", lambda w: c.SetChannelCap(channel="nope", sku="SKU-1", cap=5), "channel.unknown",
         "channel"),
    # -- allocation plans --------------------------------------------------------------------------
    case("plan-missing-a-line", plan((1, "DC-1", 2)), "validation.failed", "lines[2]"),
    case("plan-short-on-a-line", plan((1, "DC-1", 1), (2, "DC-1", 1)), "validation.failed", "lines[1]"),
    case("plan-over-a-line", plan((1, "DC-1", 3), (2, "DC-1", 4)), "validation.failed", "lines[1]"),
    case("plan-unknown-line", plan((1, "DC-1", 2), (2, "DC-1", 4), (9, "DC-1", 1)), "validation.failed",
         "allocations[2].line_no"),
    case("plan-empty", plan(), "validation.failed", "allocations"),
    # SKU-1 fits at DC-2, SKU-2 does not: all or nothing, so the SKU-1 reservation is undone too.
    case("plan-one-line-short-of-stock", plan((1, "DC-2", 2), (2, "DC-2", 4)), "inventory.insufficient",
         "lines[1]"),
    case("hold-one-line-short-of-stock", hold(("SKU-1", "DC-1", 1), ("SKU-2", "DC-2", 4)),
         "inventory.insufficient", "lines[1]"),
    case("allocate-from-other-channels-hold", lambda w: c.AllocateOrder(order_id=w.validated, from_hold=w.vip_hold),
         "validation.failed", "from_hold"),
    # -- shipments ---------------------------------------------------------------------------------
    case("ship-more-than-reserved", ship("released", "DC-1", (1, 3)), "validation.failed", "lines[0].quantity"),
    case("ship-from-the-wrong-node", ship("released", "DC-2", (1, 1)), "validation.failed", "lines[0].quantity"),
    case("ship-same-line-twice-past-reservation", ship("released", "DC-1", (1, 2), (1, 1)), "validation.failed",
         "lines[1].quantity"),
    case("ship-unknown-line", ship("released", "DC-1", (7, 1)), "validation.failed", "lines[0].line_no"),
    case("ship-no-lines", ship("released", "DC-1"), "validation.failed", "lines"),
    case("ship-tracking-number-10kB", lambda w: c.RecordShipment(
        order_id=w.released, node="DC-1", lines=(c.ShipmentLine(1, 1),), tracking_number=HUGE_TEXT),
        "validation.failed", "tracking_number"),
    case("ship-carrier-10kB", lambda w: c.RecordShipment(
        order_id=w.released, node="DC-1", lines=(c.ShipmentLine(1, 1),), carrier=HUGE_TEXT),
        "validation.failed", "carrier"),
    case("ship-shipment-id-nul", lambda w: c.RecordShipment(
        order_id=w.released, node="DC-1", lines=(c.ShipmentLine(1, 1),), shipment_id="S-2\x00"),
        "validation.failed", "shipment_id"),
    case("ship-shipment-id-10kB", lambda w: c.RecordShipment(
        order_id=w.released, node="DC-1", lines=(c.ShipmentLine(1, 1),), shipment_id=HUGE_TEXT),
        "validation.failed", "shipment_id"),
    # -- stock below what is reserved --------------------------------------------------------------
    # SKU-1 at DC-1: 19 on hand, 4 reserved (order W-A 3, hold H-1 1).
    case("adjust-below-reserved", adjust(delta=-16), "inventory.invariant", "quantity"),
    case("adjust-below-zero", adjust(sku="SKU-2", node="DC-2", delta=-4), "inventory.invariant", "quantity"),
    case("transfer-reserved-stock", lambda w: c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-2",
                                                              quantity=16), "inventory.invariant", "quantity"),
    case("transfer-to-same-node", lambda w: c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-1",
                                                            quantity=1), "validation.failed", "to_node"),
    case("adjust-without-reason", adjust(reason="  "), "validation.failed", "reason"),
    # -- hostile text: external ids ----------------------------------------------------------------
    *[case(f"external-id-{name}", place(external_id=value), "validation.failed", "external_id")
      for name, value in (("nul", "W\x00X"), ("escape", "W\x1b[2JX"), ("10kB", HUGE_TEXT), ("sql", SQL),
                          ("rtl-override", "W-1\u202e"), ("emoji", "\U0001f6d2-1"), ("empty", ""),
                          ("newline", "W-1\nW-2"))],
    # -- hostile text: addresses -------------------------------------------------------------------
    case("address-name-nul", place(ship_to=address(name="Ada\x00Byron")), "validation.failed", "ship_to.name"),
    case("address-line1-10kB", place(ship_to=address(line1=HUGE_TEXT)), "validation.failed", "ship_to.line1"),
    case("address-city-bell", place(ship_to=address(city="Reno\x07")), "validation.failed", "ship_to.city"),
    case("address-phone-escape", place(ship_to=address(phone="\x1b]0;pwned\x07")), "validation.failed",
         "ship_to.phone"),
    case("address-missing-postal-code", place(ship_to={k: v for k, v in ADDRESS.items() if k != "postal_code"}),
         "validation.failed", "ship_to.postal_code"),
    case("address-not-an-object", place(ship_to="1 Main St, Reno"), "validation.failed", "ship_to"),
    case("order-notes-too-long", place(notes=HUGE_TEXT), "validation.failed", "notes"),
    case("order-currency-not-iso", place(currency="EURO"), "validation.failed", "currency"),
    case("order-customer-id-nul", place(customer_id="C-1\x00"), "customer.unknown", "customer_id"),
    case("order-account-code-nul", place(account_code="ACME\x00"), "account.unknown", "account_code"),
    # -- hostile text: reasons ---------------------------------------------------------------------
    case("adjust-reason-nul", adjust(reason="damaged\x00"), "validation.failed", "reason"),
    case("adjust-reason-10kB", adjust(reason=HUGE_TEXT), "validation.failed", "reason"),
    case("cancel-reason-10kB", lambda w: c.CancelOrder(order_id=w.validated, reason=HUGE_TEXT),
         "validation.failed", "reason"),
    case("cancel-reason-escape", lambda w: c.CancelOrder(order_id=w.validated, reason="\x1b[31mred"),
         "validation.failed", "reason"),
    case("hold-order-reason-nul", lambda w: c.HoldOrder(order_id=w.validated, reason="\x00"), "validation.failed",
         "reason"),
    case("flag-reason-10kB", lambda w: c.FlagOrderException(order_id=w.validated, reason=HUGE_TEXT),
         "validation.failed", "reason"),
    case("deallocate-reason-10kB", lambda w: c.DeallocateOrder(order_id=w.allocated, reason=HUGE_TEXT),
         "validation.failed", "reason"),
    case("resume-reason-10kB", lambda w: c.ResumeOrder(order_id=w.on_hold, reason=HUGE_TEXT),
         "validation.failed", "reason"),
    case("resume-reason-nul", lambda w: c.ResumeOrder(order_id=w.on_hold, reason="ok\x00"),
         "validation.failed", "reason"),
    case("receipt-reference-10kB", receive(reference=HUGE_TEXT), "validation.failed", "reference"),
    case("receipt-reference-nul", receive(reference="PO\x00-1"), "validation.failed", "reference"),
    # -- hostile text: SKU, node, channel and hold codes -------------------------------------------
    *[case(f"receive-sku-{name}", receive(sku=value), "catalog.unknown_sku", "sku")
      for name, value in (("sql", "'; DROP TABLE skus;--"), ("nul", "SKU-1\x00"), ("10kB", "S" * 10_000),
                          ("accented", "\u0160KU-1"), ("space", "SKU 1"), ("empty", ""))],
    case("order-line-sku-sql", place(lines=(c.NewOrderLine(SQL, 1),)), "catalog.unknown_sku", "lines[0].sku"),
    case("hold-sku-nul", hold(("SKU-1\x00", "DC-1", 1)), "catalog.unknown_sku", "lines[0].sku"),
    case("upsert-sku-code-sql", lambda w: c.UpsertSku(sku=SQL, name="x", category="x", unit_price=Decimal(1),
                                                      weight_kg=Decimal(1)), "catalog.unknown_sku", "sku"),
    *[case(f"receive-node-{name}", receive(node=value), "network.unknown_node", "node")
      for name, value in (("sql", "DC-1'; DROP TABLE nodes;--"), ("nul", "DC\x00-1"), ("10kB", "D" * 10_000))],
    case("plan-node-nul", plan((1, "DC\x00-1", 2), (2, "DC-1", 4)), "validation.failed", "allocations[0].node"),
    case("hold-node-nul", hold(("SKU-1", "DC\x00-1", 1)), "network.unknown_node", "lines[0].node"),
    case("hold-channel-nul", hold(channel="web\x00"), "channel.unknown", "channel"),
    case("order-channel-sql", place(channel="web'; DROP TABLE channels;--"), "channel.unknown", "channel"),
    case("order-channel-nul", place(channel="web\x00"), "channel.unknown", "channel"),
    case("hold-id-sql", hold(hold_id="H-2'; DROP TABLE reservations;--"), "validation.failed", "hold_id"),
    case("release-hold-id-nul", lambda w: c.ReleaseCheckoutHold(hold_id="H-1\x00"), "reservation.unknown"),
    case("allocate-from-hold-id-nul", lambda w: c.AllocateOrder(order_id=w.validated, from_hold="H-1\x00"),
         "reservation.unknown"),
]


class Stage:
    """One backend's database and the world built in it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.world: World | None = None
        self.pristine: Snapshot = {}

    def fresh_world(self) -> tuple[World, Snapshot]:
        current = snapshot(self.app.engine)
        if self.world is None or current != self.pristine:
            self._empty()
            self.world = build_world(self.app)
            self.pristine = current = snapshot(self.app.engine)
        return self.world, current

    def _empty(self) -> None:
        with self.app.engine.begin() as conn:
            if self.app.engine.dialect.name == "postgresql":
                names = ", ".join(f'"{tb.name}"' for tb in metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(metadata.sorted_tables):
                    conn.execute(table.delete())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("bad-input") / "orderloom.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    app = bootstrap(database_url=url, migrate=False)
    yield Stage(app)
    app.close()


@pytest.mark.parametrize(("build", "code", "field"), CASES)
def test_bad_input_is_refused_with_a_stable_code_and_changes_nothing(stage: Stage, build: Build, code: str,
                                                                     field: str | None) -> None:
    world, before = stage.fresh_world()
    app = stage.app
    command = build(world)
    with pytest.raises(OrderloomError) as refused:
        app.bus.handle(command)
    error = refused.value
    assert error.code == code, f"{error.code}: {error.message}"
    if field is not None:
        assert field in {p.field for p in error.problems}, [p.to_dict() for p in error.problems]
    json.dumps(error.to_dict())  # what the API sends back must be serialisable
    after = snapshot(app.engine)
    for table, rows in before.items():
        assert after[table] == rows, f"{table} changed"


def test_hostile_but_legal_text_is_stored_verbatim(app: App) -> None:
    """SQL-looking and non-ASCII text where free text is allowed is data, not a problem: stored as sent."""
    build_world(app)
    ship_to = address(name="Robert'); DROP TABLE orders;--", line1="Stra\u00dfe 1 \u2014 \u4e1c\u4eac",
                      city="S\u00e3o Paulo", company="\U0001f6d2 Shop")
    placed = app.bus.handle(c.PlaceOrder(channel="web", external_id="\u8ba2\u5355-1", ship_to=ship_to,
                                         lines=(c.NewOrderLine("SKU-1", 1),), notes=SQL))
    with app.uow() as uow:
        order = uow.orders.get(placed["order_id"])
    assert order is not None
    assert order.external_id == "\u8ba2\u5355-1"
    assert order.notes == SQL
    assert {k: getattr(order.ship_to, k) for k in ship_to} == ship_to
    assert app.bus.handle(c.ReconcileInventory())["drift"] == []
