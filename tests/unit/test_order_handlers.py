"""The order lifecycle over the in-memory store: place, allocate, release, ship, deliver, cancel, pause."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.domain import commands as c
from engine.domain.customers import Tier
from engine.domain.events import (
    OrderAllocated,
    OrderCancelled,
    OrderReceived,
    OrderShipped,
    OrderStatusChanged,
    ReservationsReleased,
)
from engine.domain.inventory import MovementKind, ReservationStatus
from engine.domain.orders import Order, OrderStatus
from tests.fakes import ADDRESS, World, make_world, problem_fields

S = OrderStatus


@pytest.fixture
def w() -> World:
    world = make_world()
    world.receive("SKU-1", "DC-1", 10)
    world.receive("SKU-2", "DC-1", 2)
    world.receive("SKU-1", "DC-2", 10)
    return world


def order(w: World, order_id: str) -> Order:
    found = w.store.order(order_id)
    assert found is not None
    return found


def reservations_of(w: World, order_id: str) -> list[Any]:
    return [r for r in w.store.state.reservations.values() if r.order_id == order_id]


def released_order(w: World, external_id: str, qty: int = 5, node: str = "DC-1") -> str:
    oid = w.place(external_id, ("SKU-1", qty))
    w.allocate(oid, (1, node, qty))
    w.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    return oid


# -- placing ---------------------------------------------------------------------------------------

def test_a_placed_order_is_stored_validated_with_catalog_prices_and_announced(w: World) -> None:
    mark = w.mark
    result = w.handle(c.PlaceOrder(channel="web", external_id="W-1", ship_to=dict(ADDRESS), notes="gift",
                                   lines=(c.NewOrderLine("SKU-1", 2), c.NewOrderLine("SKU-2", 1))))
    assert result == {"order_id": "1", "status": "validated"}
    stored = order(w, "1")
    assert (stored.channel, stored.external_id, stored.notes, stored.status) == ("web", "W-1", "gift", S.VALIDATED)
    assert [(ln.line_no, ln.sku, ln.quantity, ln.unit_price) for ln in stored.lines] == [
        (1, "SKU-1", 2, Decimal("9.99")), (2, "SKU-2", 1, Decimal("9.99"))]
    assert stored.ship_to.to_dict()["postal_code"] == "89501"
    assert [(h.from_status, h.to_status) for h in stored.history] == [(None, S.RECEIVED), (S.RECEIVED, S.VALIDATED)]
    received, validated = w.events_since(mark)
    assert isinstance(received, OrderReceived)
    assert (received.order_id, received.line_count, Decimal(received.total)) == ("1", 2, Decimal("29.97"))
    assert isinstance(validated, OrderStatusChanged) and validated.to_status == S.VALIDATED
    assert w.stock("SKU-1", "DC-1") == (10, 0)  # placing reserves nothing


def test_order_ids_are_handed_out_in_sequence(w: World) -> None:
    assert [w.place(f"W-{n}", ("SKU-1", 1)) for n in range(3)] == ["1", "2", "3"]


BAD_ADDRESS = {"name": "Ada", "line1": "1 Main St", "state": "NV", "country": "US", "phone": "555\x07"}
BAD_LINES = (c.NewOrderLine("SKU-404", 1), c.NewOrderLine("SKU-1", 0), c.NewOrderLine("SKU-1", -2),
             c.NewOrderLine("SKU-1", 2.5), c.NewOrderLine("SKU-2", 1))  # type: ignore[arg-type]
EVERY_PROBLEM = {
    "ship_to.city": "validation.required", "ship_to.postal_code": "validation.required",
    "ship_to.phone": "validation.control_characters",
    "lines[0].sku": "catalog.unknown_sku", "lines[1].quantity": "quantity.invalid",
    "lines[2].quantity": "quantity.invalid", "lines[3].quantity": "quantity.invalid",
    "customer_id": "customer.unknown", "account_code": "account.unknown",
}


def test_an_order_with_many_problems_lists_them_all_and_stores_nothing(w: World) -> None:
    error = w.refused(c.PlaceOrder(channel="web", external_id="W-1", ship_to=BAD_ADDRESS, lines=BAD_LINES,
                                   customer_id="C-404", account_code="ACME-404"), "validation.failed")
    assert problem_fields(error) == EVERY_PROBLEM
    assert w.store.state.orders == {}


def test_an_unknown_channel_is_listed_with_the_other_problems(w: World) -> None:
    error = w.refused(c.PlaceOrder(channel="nope", external_id="W-1", ship_to=BAD_ADDRESS, lines=BAD_LINES,
                                   customer_id="C-404", account_code="ACME-404"), "validation.failed")
    assert problem_fields(error) == {"channel": "channel.unknown", **EVERY_PROBLEM}


def test_an_order_from_an_unknown_channel_alone_is_answered_with_the_channel_code(w: World) -> None:
    error = w.refused(c.PlaceOrder(channel="nope", external_id="W-1", ship_to=dict(ADDRESS),
                                   lines=(c.NewOrderLine("SKU-1", 1),)), "channel.unknown")
    assert problem_fields(error) == {"channel": "channel.unknown"}


@pytest.mark.parametrize(("quantity", "code"), [(0, "quantity.invalid"), (-1, "quantity.invalid"),
                                                (1.0, "quantity.invalid"), ("2", "quantity.invalid"),
                                                (True, "quantity.invalid")])
def test_a_line_quantity_must_be_a_positive_whole_number(w: World, quantity: Any, code: str) -> None:
    error = w.refused(c.PlaceOrder(channel="web", external_id="W-1", ship_to=dict(ADDRESS),
                                   lines=(c.NewOrderLine("SKU-1", quantity),)), code)
    assert problem_fields(error) == {"lines[0].quantity": "quantity.invalid"}


@pytest.mark.parametrize(("kw", "fields"), [
    ({"lines": ()}, {"lines": "validation.required"}),
    ({"ship_to": "1 Main St"}, {"ship_to": "address.missing"}),
    ({"external_id": ""}, {"external_id": "validation.required"}),
    ({"external_id": "W 1"}, {"external_id": "validation.code_format"}),
    ({"currency": "usd"}, {"currency": "validation.currency"}),
    ({"lines": (c.NewOrderLine("SKU-1", 1, Decimal("-1")),)}, {"lines[0].unit_price": "pricing.invalid"}),
    ({"lines": (c.NewOrderLine("SKU-1", 1, Decimal("NaN")),)}, {"lines[0].unit_price": "pricing.invalid"}),
])
def test_an_order_with_a_bad_field_is_refused(w: World, kw: dict[str, Any], fields: dict[str, str]) -> None:
    args: dict[str, Any] = {"channel": "web", "external_id": "W-1", "ship_to": dict(ADDRESS),
                            "lines": (c.NewOrderLine("SKU-1", 1),), **kw}
    error = w.refused(c.PlaceOrder(**args), "validation.failed")
    assert problem_fields(error) == fields


def test_a_sku_holding_a_nul_character_is_unknown_not_a_database_error(w: World) -> None:
    error = w.refused(c.PlaceOrder(channel="web", external_id="W-1", ship_to=dict(ADDRESS),
                                   lines=(c.NewOrderLine("SKU-1\x00", 1),)), "catalog.unknown_sku")
    assert problem_fields(error) == {"lines[0].sku": "catalog.unknown_sku"}


def test_the_same_external_id_from_the_same_channel_is_a_duplicate(w: World) -> None:
    first = w.place("W-1", ("SKU-1", 1))
    error = w.refused(c.PlaceOrder(channel="web", external_id="W-1", ship_to=dict(ADDRESS),
                                   lines=(c.NewOrderLine("SKU-2", 2),)), "order.duplicate_external_id")
    assert (error.data["order_id"], error.data["channel"], error.data["external_id"]) == (first, "web", "W-1")
    assert w.place("W-1", ("SKU-1", 1), channel="vip") == "2"  # another channel's W-1 is another order


def test_a_price_comes_from_the_accounts_price_list_then_the_catalog(w: World) -> None:
    w.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1": Decimal("7.50")}))
    w.handle(c.UpsertAccount(code="ACME", name="Acme", tier=Tier.GOLD, price_list_code="PL-1",
                             credit_limit=Decimal("1000")))
    w.handle(c.UpsertCustomer(customer_id="C-1", email="ada@acme.example", name="Ada", account_code="ACME"))
    oid = w.place("B-1", ("SKU-1", 2), ("SKU-2", 1), customer_id="C-1", account_code="ACME")
    stored = order(w, oid)
    assert [ln.unit_price for ln in stored.lines] == [Decimal("7.50"), Decimal("9.99")]
    assert (stored.customer_id, stored.account_code, stored.total) == ("C-1", "ACME", Decimal("24.99"))
    retail = order(w, w.place("W-1", ("SKU-1", 2)))
    assert retail.lines[0].unit_price == Decimal("9.99")


def test_a_price_sent_with_the_line_wins_over_every_list(w: World) -> None:
    w.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1": Decimal("7.50")}))
    w.handle(c.UpsertAccount(code="ACME", name="Acme", tier=Tier.GOLD, price_list_code="PL-1",
                             credit_limit=Decimal("1000")))
    oid = w.handle(c.PlaceOrder(channel="web", external_id="B-1", ship_to=dict(ADDRESS), account_code="ACME",
                                lines=(c.NewOrderLine("SKU-1", 1, Decimal("5.00")),)))["order_id"]
    assert order(w, oid).lines[0].unit_price == Decimal("5.00")


# -- allocating ------------------------------------------------------------------------------------

def test_allocating_reserves_every_line_and_announces_the_reservations(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 2))
    mark = w.mark
    result = w.allocate(oid, (1, "DC-1", 3), (2, "DC-1", 2))
    assert result["status"] == "allocated"
    assert sorted((r["line_no"], r["sku"], r["quantity"]) for r in result["reservations"]) == [
        (1, "SKU-1", 3), (2, "SKU-2", 2)]
    assert w.stock("SKU-1", "DC-1") == (10, 3)
    assert w.stock("SKU-2", "DC-1") == (2, 2)
    stored = order(w, oid)
    assert (stored.status, [ln.allocated for ln in stored.lines]) == (S.ALLOCATED, [3, 2])
    assert {(r.line_no, r.status, r.channel, r.priority) for r in reservations_of(w, oid)} == {
        (1, ReservationStatus.ACTIVE, "web", False), (2, ReservationStatus.ACTIVE, "web", False)}
    kinds = [type(e) for e in w.events_since(mark)]
    assert kinds == [OrderStatusChanged, OrderAllocated]


def test_a_line_may_be_split_across_nodes(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 15))
    w.allocate(oid, (1, "DC-1", 8), (1, "DC-2", 7))
    assert (w.stock("SKU-1", "DC-1"), w.stock("SKU-1", "DC-2")) == ((10, 8), (10, 7))
    assert order(w, oid).lines[0].allocated == 15


def test_a_multi_line_order_reserves_nothing_when_one_line_is_short(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 5))
    error = w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),
                                                                 c.LineAllocation(2, "DC-1", 5))),
                      "inventory.insufficient")
    [problem] = error.problems
    assert problem.field == "lines[1]"
    assert {k: problem.data[k] for k in ("sku", "node", "requested", "available")} == {
        "sku": "SKU-2", "node": "DC-1", "requested": 5, "available": 2}
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    assert order(w, oid).status == S.VALIDATED


def test_every_short_line_is_named(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 30), ("SKU-2", 5))
    error = w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-2", 30),
                                                                 c.LineAllocation(2, "DC-1", 5))),
                      "inventory.insufficient")
    assert sorted((p.data["sku"], p.data["requested"], p.data["available"]) for p in error.problems) == [
        ("SKU-1", 30, 10), ("SKU-2", 5, 2)]


@pytest.mark.parametrize(("plan", "fields"), [
    ((), {"allocations": "allocation.empty", "lines[1]": "allocation.incomplete"}),
    (((1, "DC-1", 2),), {"lines[1]": "allocation.incomplete"}),
    (((1, "DC-1", 3), (1, "DC-2", 1)), {"lines[1]": "allocation.incomplete"}),
    (((2, "DC-1", 3),), {"allocations[0].line_no": "allocation.unknown_line", "lines[1]": "allocation.incomplete"}),
    (((1, "DC-9", 3),), {"allocations[0].node": "network.unknown_node", "lines[1]": "allocation.incomplete"}),
    (((1, "DC-1", 0),), {"allocations[0].quantity": "quantity.invalid", "lines[1]": "allocation.incomplete"}),
])
def test_an_allocation_plan_must_cover_every_open_unit_at_known_nodes(w: World, plan: tuple[Any, ...],
                                                                      fields: dict[str, str]) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    error = w.refused(c.AllocateOrder(order_id=oid, allocations=tuple(c.LineAllocation(*p) for p in plan)),
                      "validation.failed")
    assert problem_fields(error) == fields


def test_an_allocated_order_cannot_be_allocated_again(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),)),
              "state.illegal_transition")


def test_an_unknown_order_is_refused(w: World) -> None:
    w.refused(c.AllocateOrder(order_id="404", allocations=(c.LineAllocation(1, "DC-1", 3),)), "order.unknown")
    w.refused(c.CancelOrder(order_id="not-a-number", reason="x"), "order.unknown")


def test_an_order_adopts_its_checkout_hold_without_reserving_twice(w: World) -> None:
    hold = w.hold(("SKU-1", "DC-1", 2), ("SKU-2", "DC-1", 1), ttl_seconds=60)
    oid = w.place("W-1", ("SKU-1", 2), ("SKU-2", 1))
    result = w.handle(c.AllocateOrder(order_id=oid, from_hold=hold))
    assert result["status"] == "allocated"
    assert w.stock("SKU-1", "DC-1") == (10, 2)
    assert w.stock("SKU-2", "DC-1") == (2, 1)
    adopted = reservations_of(w, oid)
    assert {(r.hold_id, r.line_no, r.expires_at) for r in adopted} == {(hold, 1, None), (hold, 2, None)}
    assert [ln.allocated for ln in order(w, oid).lines] == [2, 1]
    # the hold is spent: its TTL and a release no longer touch the order's units
    w.clock.advance(120)
    assert w.handle(c.ExpireCheckoutHolds())["expired_holds"] == 0
    assert w.handle(c.ReleaseCheckoutHold(hold_id=hold))["released_units"] == 0
    assert w.stock("SKU-1", "DC-1") == (10, 2)
    w.refused(c.AllocateOrder(order_id=w.place("W-2", ("SKU-1", 2), ("SKU-2", 1)), from_hold=hold),
              "reservation.hold_expired")


@pytest.mark.parametrize(("held", "ordered", "fields"), [
    (2, 3, {"lines[1]": "allocation.hold_mismatch"}),
    (3, 2, {"lines[1]": "allocation.hold_mismatch", "from_hold": "allocation.hold_mismatch"}),
])
def test_a_hold_that_does_not_match_the_order_exactly_is_not_adopted(w: World, held: int, ordered: int,
                                                                     fields: dict[str, str]) -> None:
    hold = w.hold(("SKU-1", "DC-1", held))
    oid = w.place("W-1", ("SKU-1", ordered))
    error = w.refused(c.AllocateOrder(order_id=oid, from_hold=hold), "validation.failed")
    assert problem_fields(error) == fields


def test_a_hold_from_another_channel_is_not_adopted(w: World) -> None:
    hold = w.hold(("SKU-1", "DC-1", 2), channel="vip")
    oid = w.place("W-1", ("SKU-1", 2))
    error = w.refused(c.AllocateOrder(order_id=oid, from_hold=hold), "validation.failed")
    assert problem_fields(error) == {"from_hold": "allocation.hold_channel"}


def test_allocating_from_an_unknown_hold_is_refused(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 2))
    w.refused(c.AllocateOrder(order_id=oid, from_hold="H-404"), "reservation.unknown")


# -- deallocating and releasing --------------------------------------------------------------------

def test_deallocating_gives_the_stock_back_and_returns_the_order_to_validated(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 2))
    w.allocate(oid, (1, "DC-1", 3), (2, "DC-1", 2))
    mark = w.mark
    result = w.handle(c.DeallocateOrder(order_id=oid, reason="reroute"))
    assert (result["status"], result["released_units"]) == ("validated", 5)
    assert (w.stock("SKU-1", "DC-1"), w.stock("SKU-2", "DC-1")) == ((10, 0), (2, 0))
    assert {r.status for r in reservations_of(w, oid)} == {ReservationStatus.RELEASED}
    assert [ln.allocated for ln in order(w, oid).lines] == [0, 0]
    assert [type(e) for e in w.events_since(mark)] == [ReservationsReleased, OrderStatusChanged]
    w.allocate(oid, (1, "DC-2", 3), (2, "DC-1", 2))
    assert w.stock("SKU-1", "DC-2") == (10, 3)


def test_a_validated_order_cannot_be_deallocated_or_released(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.refused(c.DeallocateOrder(order_id=oid, reason="x"), "state.illegal_transition")
    w.refused(c.ReleaseOrderToFulfillment(order_id=oid), "state.illegal_transition")


def test_releasing_hands_an_allocated_order_to_fulfillment(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    assert w.handle(c.ReleaseOrderToFulfillment(order_id=oid)) == {"order_id": oid, "status": "released"}
    assert w.stock("SKU-1", "DC-1") == (10, 3)


# -- shipping and delivery -------------------------------------------------------------------------

def test_a_partial_then_a_final_shipment_consume_the_reservation_and_write_the_ledger(w: World) -> None:
    oid = released_order(w, "W-1", qty=5)
    mark = w.mark
    first = w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),), shipment_id="S-1",
                                      carrier="UPS", tracking_number="1Z"))
    assert first == {"order_id": oid, "status": "partially_shipped", "shipment_id": "S-1", "duplicate": False}
    assert w.stock("SKU-1", "DC-1") == (8, 3)
    [r] = reservations_of(w, oid)
    assert (r.consumed, r.status) == (2, ReservationStatus.ACTIVE)
    line = order(w, oid).lines[0]
    assert (line.shipped, line.allocated) == (2, 3)
    ship = w.store.state.movements[-1]
    assert (ship.kind, ship.quantity, ship.reference) == (MovementKind.SHIP, -2, "shipment:S-1")
    shipped = [e for e in w.events_since(mark) if isinstance(e, OrderShipped)]
    assert [(e.shipment_id, e.lines, e.complete, e.carrier) for e in shipped] == [("S-1", ((1, 2),), False, "UPS")]

    second = w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 3),), shipment_id="S-2"))
    assert second["status"] == "shipped"
    assert w.stock("SKU-1", "DC-1") == (5, 0)
    [r] = reservations_of(w, oid)
    assert (r.consumed, r.status) == (5, ReservationStatus.CONSUMED)
    assert w.store.state.reservation_ended_at[r.reservation_id] is not None
    assert sorted(w.store.state.shipments) == ["S-1", "S-2"]
    assert w.handle(c.ReconcileInventory())["drift"] == []


def test_a_shipment_from_one_node_consumes_only_that_nodes_reservation(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 6))
    w.allocate(oid, (1, "DC-1", 4), (1, "DC-2", 2))
    w.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    w.refused(c.RecordShipment(order_id=oid, node="DC-2", lines=(c.ShipmentLine(1, 3),)),
              "validation.failed")
    assert w.handle(c.RecordShipment(order_id=oid, node="DC-2", lines=(c.ShipmentLine(1, 2),)))["status"] == (
        "partially_shipped")
    assert (w.stock("SKU-1", "DC-1"), w.stock("SKU-1", "DC-2")) == ((10, 4), (8, 0))
    assert w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 4),)))["status"] == (
        "shipped")


def test_a_multi_line_order_ships_line_by_line(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 2), ("SKU-2", 2))
    w.allocate(oid, (1, "DC-1", 2), (2, "DC-1", 2))
    w.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2), c.ShipmentLine(2, 1))))
    assert order(w, oid).status == S.PARTIALLY_SHIPPED
    assert [(ln.shipped, ln.allocated) for ln in order(w, oid).lines] == [(2, 0), (1, 1)]
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(2, 1),)))
    assert order(w, oid).status == S.SHIPPED


def test_a_repeated_shipment_id_changes_nothing(w: World) -> None:
    oid = released_order(w, "W-1", qty=5)
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),), shipment_id="S-1"))
    before = w.store.dump()
    again = w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),), shipment_id="S-1"))
    assert again == {"order_id": oid, "status": "partially_shipped", "shipment_id": "S-1", "duplicate": True}
    assert w.store.dump() == before


@pytest.mark.parametrize(("lines", "code", "fields"), [
    ((), "validation.failed", {"lines": "validation.required"}),
    (((1, 6),), "validation.failed", {"lines[0].quantity": "shipment.exceeds_reservation"}),
    (((1, 3), (1, 3)), "validation.failed", {"lines[1].quantity": "shipment.exceeds_reservation"}),
    (((2, 1),), "validation.failed", {"lines[0].line_no": "shipment.unknown_line"}),
    (((1, 0),), "quantity.invalid", {"lines[0].quantity": "quantity.invalid"}),
    (((1, 0), (2, 1)), "validation.failed", {"lines[0].quantity": "quantity.invalid",
                                             "lines[1].line_no": "shipment.unknown_line"}),
])
def test_a_shipment_must_match_what_is_reserved_at_the_node(w: World, lines: tuple[Any, ...], code: str,
                                                            fields: dict[str, str]) -> None:
    oid = released_order(w, "W-1", qty=5)
    error = w.refused(c.RecordShipment(order_id=oid, node="DC-1", lines=tuple(c.ShipmentLine(*x) for x in lines)),
                      code)
    assert problem_fields(error) == fields


def test_an_order_ships_only_after_release(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 2))
    w.allocate(oid, (1, "DC-1", 2))
    w.refused(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),)), "state.illegal_transition")


def test_delivery_is_recorded_only_for_a_fully_shipped_order(w: World) -> None:
    oid = released_order(w, "W-1", qty=5)
    w.refused(c.MarkDelivered(order_id=oid), "state.illegal_transition")
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),)))
    w.refused(c.MarkDelivered(order_id=oid), "state.illegal_transition")
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 3),)))
    assert w.handle(c.MarkDelivered(order_id=oid)) == {"order_id": oid, "status": "delivered"}
    w.refused(c.MarkDelivered(order_id=oid), "state.illegal_transition")


# -- cancelling ------------------------------------------------------------------------------------

def test_cancelling_releases_the_stock_and_cancels_every_open_unit(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 2))
    w.allocate(oid, (1, "DC-1", 3), (2, "DC-1", 2))
    mark = w.mark
    result = w.handle(c.CancelOrder(order_id=oid, reason="customer asked"))
    assert (result["status"], result["released_units"]) == ("cancelled", 5)
    assert (w.stock("SKU-1", "DC-1"), w.stock("SKU-2", "DC-1")) == ((10, 0), (2, 0))
    assert [(ln.cancelled, ln.allocated) for ln in order(w, oid).lines] == [(3, 0), (2, 0)]
    [cancelled] = [e for e in w.events_since(mark) if isinstance(e, OrderCancelled)]
    assert (cancelled.reason, cancelled.released_units) == ("customer asked", 5)
    w.refused(c.CancelOrder(order_id=oid, reason="again"), "state.illegal_transition")


def test_a_validated_order_is_cancelled_without_touching_stock(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    assert w.handle(c.CancelOrder(order_id=oid, reason="dup"))["released_units"] == 0


def test_an_order_that_has_started_shipping_cannot_be_cancelled(w: World) -> None:
    oid = released_order(w, "W-1", qty=5)
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),)))
    w.refused(c.CancelOrder(order_id=oid, reason="too late"), "state.illegal_transition")


def test_a_cancellation_needs_a_reason(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    error = w.refused(c.CancelOrder(order_id=oid, reason=" "), "validation.failed")
    assert problem_fields(error) == {"reason": "validation.required"}


# -- holds, exceptions, resuming -------------------------------------------------------------------

def test_an_order_on_hold_keeps_its_stock_and_resumes_where_it_was(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    result = w.handle(c.HoldOrder(order_id=oid, reason="fraud check"))
    assert (result["status"], result["paused_from"]) == ("on_hold", "allocated")
    assert w.stock("SKU-1", "DC-1") == (10, 3)
    w.refused(c.ReleaseOrderToFulfillment(order_id=oid), "state.illegal_transition")
    w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),)),
              "state.illegal_transition")
    assert w.handle(c.ResumeOrder(order_id=oid, reason="cleared"))["status"] == "allocated"
    assert order(w, oid).paused_from is None
    assert w.handle(c.ReleaseOrderToFulfillment(order_id=oid))["status"] == "released"


def test_an_order_held_before_allocation_is_allocated_only_after_resuming(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.handle(c.HoldOrder(order_id=oid, reason="address check"))
    w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),)),
              "state.illegal_transition")
    w.handle(c.ResumeOrder(order_id=oid, reason="ok"))
    assert w.allocate(oid, (1, "DC-1", 3))["status"] == "allocated"


def test_cancelling_an_order_on_hold_releases_its_stock(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    w.handle(c.HoldOrder(order_id=oid, reason="fraud"))
    assert w.handle(c.CancelOrder(order_id=oid, reason="fraud confirmed"))["released_units"] == 3
    assert w.stock("SKU-1", "DC-1") == (10, 0)


def test_an_exception_after_release_resumes_to_released(w: World) -> None:
    oid = released_order(w, "W-1", qty=3)
    assert w.handle(c.FlagOrderException(order_id=oid, reason="label failed"))["paused_from"] == "released"
    assert w.handle(c.ResumeOrder(order_id=oid, reason="label fixed"))["status"] == "released"
    assert w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 3),)))["status"] == "shipped"


def test_a_released_order_in_exception_may_be_given_back_by_the_warehouse_until_something_ships(w: World) -> None:
    oid = released_order(w, "W-1", qty=3)
    w.handle(c.FlagOrderException(order_id=oid, reason="short pick"))
    assert w.handle(c.ResumeOrder(order_id=oid, reason="reroute", to_validated=True))["status"] == "validated"
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    shipped = released_order(w, "W-2", qty=5)
    w.handle(c.RecordShipment(order_id=shipped, node="DC-1", lines=(c.ShipmentLine(1, 2),)))
    w.handle(c.FlagOrderException(order_id=shipped, reason="damaged box"))
    w.refused(c.ResumeOrder(order_id=shipped, reason="redo", to_validated=True), "state.illegal_transition")


def test_an_exception_before_release_may_go_back_to_validated_giving_its_stock_back(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    w.handle(c.FlagOrderException(order_id=oid, reason="wrong node"))
    assert w.handle(c.ResumeOrder(order_id=oid, reason="reroute", to_validated=True))["status"] == "validated"
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    assert order(w, oid).lines[0].allocated == 0
    assert w.allocate(oid, (1, "DC-2", 3))["status"] == "allocated"


def test_a_partially_shipped_order_in_exception_resumes_to_partially_shipped(w: World) -> None:
    oid = released_order(w, "W-1", qty=5)
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),)))
    w.handle(c.FlagOrderException(order_id=oid, reason="damaged box"))
    w.refused(c.HoldOrder(order_id=oid, reason="x"), "state.illegal_transition")
    assert w.handle(c.ResumeOrder(order_id=oid, reason="repacked"))["status"] == "partially_shipped"
    assert w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 3),)))["status"] == "shipped"


def test_only_a_paused_order_can_be_resumed(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    w.refused(c.ResumeOrder(order_id=oid, reason="?"), "state.illegal_transition")


@pytest.mark.parametrize("command", [c.HoldOrder, c.FlagOrderException])
def test_pausing_needs_a_reason_and_a_live_order(w: World, command: Any) -> None:
    oid = w.place("W-1", ("SKU-1", 3))
    error = w.refused(command(order_id=oid, reason=""), "validation.failed")
    assert problem_fields(error) == {"reason": "validation.required"}
    w.handle(c.CancelOrder(order_id=oid, reason="dup"))
    w.refused(command(order_id=oid, reason="late"), "state.illegal_transition")
