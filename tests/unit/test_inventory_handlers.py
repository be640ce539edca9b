"""Stock handlers over the in-memory store: receipts, adjustments, counts, transfers, returns, policies,
channel caps, checkout holds and reconciliation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.domain import commands as c
from engine.domain.events import (
    ChannelCapSet,
    CheckoutHoldEnded,
    CheckoutHoldPlaced,
    InventoryDiscrepancyDetected,
    OrderStatusChanged,
    ReservationsReleased,
    SafetyStockChanged,
    StockMoved,
)
from engine.domain.inventory import MovementKind, ReservationStatus
from engine.domain.orders import OrderStatus
from tests.fakes import World, make_world, problem_fields


@pytest.fixture
def w() -> World:
    return make_world()


def ledger(w: World, sku: str, node: str) -> list[tuple[MovementKind, int]]:
    """The ledger of one balance, oldest first."""
    return [(m.kind, m.quantity) for m in w.store.state.movements if (m.sku, m.node) == (sku, node)]


def hold_reservations(w: World, hold_id: str) -> list[Any]:
    return [r for r in w.store.state.reservations.values() if r.hold_id == hold_id]


# -- receipts --------------------------------------------------------------------------------------

def test_a_receipt_adds_on_hand_writes_the_ledger_and_announces_the_move(w: World) -> None:
    mark = w.mark
    result = w.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=5, reference="PO-1"))
    assert result == {"sku": "SKU-1", "node": "DC-1", "on_hand": 5}
    assert w.stock("SKU-1", "DC-1") == (5, 0)
    [movement] = w.store.state.movements
    assert (movement.kind, movement.quantity, movement.reference) == (MovementKind.RECEIPT, 5, "PO-1")
    [event] = w.events_since(mark)
    assert isinstance(event, StockMoved)
    assert (event.kind, event.quantity, event.on_hand_after, event.movement_id) == ("receipt", 5, 5,
                                                                                       movement.movement_id)


def test_receipts_accumulate(w: World) -> None:
    w.receive("SKU-1", "DC-1", 5)
    w.receive("SKU-1", "DC-1", 7)
    assert w.stock("SKU-1", "DC-1") == (12, 0)
    assert ledger(w, "SKU-1", "DC-1") == [(MovementKind.RECEIPT, 5), (MovementKind.RECEIPT, 7)]


@pytest.mark.parametrize("quantity", [0, -1, 2.5, True, "3", None, 1_000_001])
def test_a_receipt_of_a_quantity_that_is_not_a_positive_whole_number_is_refused(w: World, quantity: Any) -> None:
    error = w.refused(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=quantity), "quantity.invalid")
    assert problem_fields(error) == {"quantity": "quantity.invalid"}


def test_a_receipt_for_an_unknown_sku_at_an_unknown_node_names_both(w: World) -> None:
    error = w.refused(c.ReceiveStock(sku="SKU-404", node="DC-404", quantity=1), "validation.failed")
    assert problem_fields(error) == {"sku": "catalog.unknown_sku", "node": "network.unknown_node"}


# -- adjustments -----------------------------------------------------------------------------------

def test_an_adjustment_moves_on_hand_either_way_with_its_reason_in_the_ledger(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    assert w.handle(c.AdjustStock(sku="SKU-1", node="DC-1", delta=-4, reason="damaged"))["on_hand"] == 6
    assert w.handle(c.AdjustStock(sku="SKU-1", node="DC-1", delta=3, reason="found"))["on_hand"] == 9
    assert ledger(w, "SKU-1", "DC-1")[1:] == [(MovementKind.ADJUSTMENT, -4), (MovementKind.ADJUSTMENT, 3)]
    assert [m.reason for m in w.store.state.movements[1:]] == ["damaged", "found"]


def test_an_adjustment_below_what_is_reserved_is_refused_and_changes_nothing(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    oid = w.place("W-1", ("SKU-1", 6))
    w.allocate(oid, (1, "DC-1", 6))
    w.handle(c.AdjustStock(sku="SKU-1", node="DC-1", delta=-4, reason="damaged"))  # 6 left, 6 reserved
    error = w.refused(c.AdjustStock(sku="SKU-1", node="DC-1", delta=-1, reason="damaged"), "inventory.invariant")
    assert problem_fields(error) == {"quantity": "inventory.invariant"}
    assert (error.data["on_hand"], error.data["reserved"], error.data["delta"]) == (6, 6, -1)
    assert w.stock("SKU-1", "DC-1") == (6, 6)


def test_a_negative_adjustment_where_nothing_was_ever_stocked_is_refused_without_creating_a_balance(w: World) -> None:
    w.refused(c.AdjustStock(sku="SKU-2", node="DC-2", delta=-1, reason="shrink"), "inventory.invariant")
    assert w.store.balance("SKU-2", "DC-2") is None


@pytest.mark.parametrize(("delta", "reason", "fields"), [
    (0, "why", {"delta": "quantity.invalid"}),
    (True, "why", {"delta": "quantity.invalid"}),
    (1.5, "why", {"delta": "quantity.invalid"}),
    (1, "  ", {"reason": "validation.required"}),
    (1, "bad\x00reason", {"reason": "validation.control_characters"}),
    (0, "", {"delta": "quantity.invalid", "reason": "validation.required"}),
])
def test_an_adjustment_needs_a_non_zero_whole_delta_and_a_reason(w: World, delta: Any, reason: str,
                                                                    fields: dict[str, str]) -> None:
    w.receive("SKU-1", "DC-1", 10)
    code = next(iter(fields.values())) if len(fields) == 1 and "delta" in fields else "validation.failed"
    error = w.refused(c.AdjustStock(sku="SKU-1", node="DC-1", delta=delta, reason=reason), code)
    assert problem_fields(error) == fields


# -- cycle counts ----------------------------------------------------------------------------------

def test_a_count_that_matches_the_system_records_nothing_to_investigate(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    mark = w.mark
    result = w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=10))
    assert (result["on_hand"], result["difference"], result["orders_affected"]) == (10, 0, [])
    assert not any(isinstance(e, InventoryDiscrepancyDetected) for e in w.events_since(mark))


def test_a_count_above_what_is_reserved_sets_on_hand_and_reports_the_discrepancy(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    oid = w.place("W-1", ("SKU-1", 3))
    w.allocate(oid, (1, "DC-1", 3))
    mark = w.mark
    result = w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=7, reference="CC-1"))
    assert (result["on_hand"], result["difference"], result["orders_affected"]) == (7, -3, [])
    assert w.stock("SKU-1", "DC-1") == (7, 3)
    assert ledger(w, "SKU-1", "DC-1")[-1] == (MovementKind.CYCLE_COUNT, -3)
    [found] = [e for e in w.events_since(mark) if isinstance(e, InventoryDiscrepancyDetected)]
    assert (found.source, found.expected_on_hand, found.counted_on_hand, found.reserved_before) == (
        "cycle_count", 10, 7, 3)
    assert w.store.order(oid).status == OrderStatus.ALLOCATED  # type: ignore[union-attr]


def test_a_count_below_what_is_reserved_sheds_holds_first_then_the_newest_orders(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    older = w.place("W-OLD", ("SKU-1", 3))
    w.allocate(older, (1, "DC-1", 3))
    newer = w.place("W-NEW", ("SKU-1", 3))
    w.allocate(newer, (1, "DC-1", 3))
    hold = w.hold(("SKU-1", "DC-1", 2))
    assert w.stock("SKU-1", "DC-1") == (10, 8)
    mark = w.mark

    result = w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=4))

    # 4 units too many reserved: the hold gives 2, the newest order 3; the oldest order keeps its units
    assert (result["on_hand"], result["difference"], result["orders_affected"]) == (4, -6, [newer])
    assert w.stock("SKU-1", "DC-1") == (4, 3)
    assert [r.status for r in hold_reservations(w, hold)] == [ReservationStatus.RELEASED]
    shed = w.store.order(newer)
    kept = w.store.order(older)
    assert shed is not None and kept is not None
    assert (shed.status, shed.paused_from, shed.lines[0].allocated) == (OrderStatus.EXCEPTION,
                                                                         OrderStatus.ALLOCATED, 0)
    assert (kept.status, kept.lines[0].allocated) == (OrderStatus.ALLOCATED, 3)
    events = w.events_since(mark)
    released = [e for e in events if isinstance(e, ReservationsReleased)]
    assert [(e.hold_id, e.order_id, sum(x.quantity for x in e.lines)) for e in released] == [
        (hold, None, 2), (None, newer, 3)]
    assert [(e.order_id, e.to_status) for e in events if isinstance(e, OrderStatusChanged)] == [
        (newer, OrderStatus.EXCEPTION)]
    [found] = [e for e in events if isinstance(e, InventoryDiscrepancyDetected)]
    assert (found.expected_on_hand, found.counted_on_hand, found.reserved_before, found.affected_orders) == (
        10, 4, 8, (newer,))
    assert sum(q for _, q in ledger(w, "SKU-1", "DC-1")) == 4
    assert w.handle(c.ReconcileInventory())["drift"] == []


def test_a_small_shortfall_is_covered_by_the_checkout_holds_alone(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    oid = w.place("W-1", ("SKU-1", 6))
    w.allocate(oid, (1, "DC-1", 6))
    w.hold(("SKU-1", "DC-1", 2))
    result = w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=7))
    assert result["orders_affected"] == []
    assert w.stock("SKU-1", "DC-1") == (7, 6)
    assert w.store.order(oid).status == OrderStatus.ALLOCATED  # type: ignore[union-attr]


def test_an_order_that_lost_its_stock_to_a_count_must_be_allocated_again(w: World) -> None:
    w.receive("SKU-1", "DC-1", 5)
    oid = w.place("W-1", ("SKU-1", 5))
    w.allocate(oid, (1, "DC-1", 5))
    w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=2))
    error = w.refused(c.ResumeOrder(order_id=oid, reason="recount"), "inventory.insufficient")
    assert problem_fields(error) == {"lines[1]": "inventory.insufficient"}
    assert w.handle(c.ResumeOrder(order_id=oid, reason="recount", to_validated=True))["status"] == "validated"
    w.receive("SKU-1", "DC-1", 3)
    assert w.allocate(oid, (1, "DC-1", 5))["status"] == "allocated"
    assert w.stock("SKU-1", "DC-1") == (5, 5)


@pytest.mark.parametrize("counted", [-1, 1.5, None])
def test_a_count_must_be_a_whole_number_of_zero_or_more(w: World, counted: Any) -> None:
    w.receive("SKU-1", "DC-1", 3)
    error = w.refused(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=counted), "quantity.invalid")
    assert problem_fields(error) == {"counted": "quantity.invalid"}


def test_a_count_of_zero_empties_the_location(w: World) -> None:
    w.receive("SKU-1", "DC-1", 3)
    assert w.handle(c.RecordCycleCount(sku="SKU-1", node="DC-1", counted=0))["on_hand"] == 0
    assert w.stock("SKU-1", "DC-1") == (0, 0)


# -- transfers and returns -------------------------------------------------------------------------

def test_a_transfer_moves_units_between_nodes_under_one_reference(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    result = w.handle(c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-2", quantity=4, reference="T-1"))
    assert (result["from_on_hand"], result["to_on_hand"], result["reference"]) == (6, 4, "T-1")
    assert w.stock("SKU-1", "DC-1") == (6, 0)
    assert w.stock("SKU-1", "DC-2") == (4, 0)
    assert ledger(w, "SKU-1", "DC-1")[-1] == (MovementKind.TRANSFER_OUT, -4)
    assert ledger(w, "SKU-1", "DC-2") == [(MovementKind.TRANSFER_IN, 4)]
    assert {m.reference for m in w.store.state.movements[-2:]} == {"T-1"}


def test_a_transfer_without_a_reference_gets_one_shared_by_both_legs(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    result = w.handle(c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-2", quantity=1))
    assert result["reference"].startswith("transfer-")
    assert [m.reference for m in w.store.state.movements[-2:]] == [result["reference"]] * 2


def test_a_transfer_of_reserved_units_is_refused_and_changes_nothing(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    oid = w.place("W-1", ("SKU-1", 8))
    w.allocate(oid, (1, "DC-1", 8))
    error = w.refused(c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-2", quantity=3),
                      "inventory.invariant")
    assert (error.data["on_hand"], error.data["reserved"], error.data["delta"]) == (10, 8, -3)
    assert w.store.balance("SKU-1", "DC-2") is None


def test_a_transfer_needs_two_different_nodes_and_a_valid_quantity(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    error = w.refused(c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-1", quantity=0),
                      "validation.failed")
    assert problem_fields(error) == {"to_node": "inventory.transfer_same_node", "quantity": "quantity.invalid"}
    error = w.refused(c.TransferStock(sku="SKU-1", from_node="DC-1", to_node="DC-9", quantity=1),
                      "network.unknown_node")
    assert problem_fields(error) == {"to_node": "network.unknown_node"}


def test_a_return_receipt_puts_units_back_on_hand(w: World) -> None:
    w.receive("SKU-1", "DC-1", 1)
    result = w.handle(c.RecordReturnReceipt(sku="SKU-1", node="DC-1", quantity=2, reference="RMA-1"))
    assert result["on_hand"] == 3
    assert ledger(w, "SKU-1", "DC-1")[-1] == (MovementKind.RETURN, 2)
    assert w.store.state.movements[-1].reference == "RMA-1"


def test_a_return_receipt_of_nothing_is_refused(w: World) -> None:
    w.refused(c.RecordReturnReceipt(sku="SKU-1", node="DC-1", quantity=0), "quantity.invalid")


# -- picks without a reservation -------------------------------------------------------------------

def test_a_store_pick_takes_unreserved_units_off_the_shelf(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    result = w.handle(c.RecordPick(sku="SKU-1", node="DC-1", quantity=2, reference="POS-1"))
    assert result == {"sku": "SKU-1", "node": "DC-1", "on_hand": 8}
    assert ledger(w, "SKU-1", "DC-1")[-1] == (MovementKind.PICK, -2)
    assert w.store.state.movements[-1].reference == "POS-1"


def test_a_pick_never_takes_reserved_units(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.hold(("SKU-1", "DC-1", 8))
    error = w.refused(c.RecordPick(sku="SKU-1", node="DC-1", quantity=3), "inventory.invariant")
    assert (error.data["on_hand"], error.data["reserved"], error.data["delta"]) == (10, 8, -3)
    assert w.handle(c.RecordPick(sku="SKU-1", node="DC-1", quantity=2))["on_hand"] == 8


def test_a_pick_where_nothing_was_ever_stocked_is_refused_without_creating_a_balance(w: World) -> None:
    w.refused(c.RecordPick(sku="SKU-2", node="DC-2", quantity=1), "inventory.invariant")
    assert w.store.balance("SKU-2", "DC-2") is None


@pytest.mark.parametrize("quantity", [0, -2, 1.5])
def test_a_pick_of_a_quantity_that_is_not_a_positive_whole_number_is_refused(w: World, quantity: Any) -> None:
    w.receive("SKU-1", "DC-1", 10)
    error = w.refused(c.RecordPick(sku="SKU-1", node="DC-1", quantity=quantity), "quantity.invalid")
    assert problem_fields(error) == {"quantity": "quantity.invalid"}


# -- stock policy ----------------------------------------------------------------------------------

def test_safety_stock_and_protected_units_are_kept_from_ordinary_channels(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    mark = w.mark
    result = w.handle(c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=3, protected_qty=4))
    assert result == {"sku": "SKU-1", "node": "DC-1", "safety_stock": 3, "protected_qty": 4}
    [event] = w.events_since(mark)
    assert isinstance(event, SafetyStockChanged)
    balance = w.store.balance("SKU-1", "DC-1")
    assert balance is not None and (balance.safety_stock, balance.protected_qty) == (3, 4)

    # web (not priority) may have 10 - 3 safety - 4 protected = 3
    error = w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 4),)),
                      "inventory.insufficient")
    [problem] = error.problems
    assert (problem.field, problem.data["requested"], problem.data["available"]) == ("lines[0]", 4, 3)
    w.hold(("SKU-1", "DC-1", 3))
    # vip (priority) may use the protected units: 10 - 3 reserved - 3 safety = 4
    w.hold(("SKU-1", "DC-1", 4), channel="vip")
    balance = w.store.balance("SKU-1", "DC-1")
    assert balance is not None and (balance.reserved, balance.priority_reserved) == (7, 4)
    w.refused(c.PlaceCheckoutHold(channel="vip", lines=(c.HoldLine("SKU-1", "DC-1", 1),)),
              "inventory.insufficient")


def test_priority_channels_can_reserve_units_protected_from_everyone_else(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.handle(c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=0, protected_qty=10))
    error = w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 1),)),
                      "inventory.insufficient")
    assert error.problems[0].data["available"] == 0
    w.hold(("SKU-1", "DC-1", 6), channel="vip")
    # 6 of the 10 protected units are used by priority channels; 4 stay protected, none are free
    w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 1),)),
              "inventory.insufficient")
    w.hold(("SKU-1", "DC-1", 4), channel="vip")
    assert w.stock("SKU-1", "DC-1") == (10, 10)


def test_protection_stops_counting_once_priority_channels_reserved_that_much(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.handle(c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=0, protected_qty=2))
    w.hold(("SKU-1", "DC-1", 5), channel="vip")
    w.hold(("SKU-1", "DC-1", 5))  # protection is used up: the rest is free for web
    assert w.stock("SKU-1", "DC-1") == (10, 10)


def test_a_policy_for_a_position_with_no_stock_yet_creates_the_balance(w: World) -> None:
    w.handle(c.SetStockPolicy(sku="SKU-2", node="DC-2", safety_stock=1))
    balance = w.store.balance("SKU-2", "DC-2")
    assert balance is not None and (balance.on_hand, balance.safety_stock, balance.protected_qty) == (0, 1, 0)


def test_a_stock_policy_with_negative_quantities_or_unknown_places_is_refused(w: World) -> None:
    error = w.refused(c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=-1, protected_qty=-2),
                      "quantity.invalid")
    assert problem_fields(error) == {"safety_stock": "quantity.invalid", "protected_qty": "quantity.invalid"}
    error = w.refused(c.SetStockPolicy(sku="NOPE", node="DC-1", safety_stock=1), "catalog.unknown_sku")
    assert problem_fields(error) == {"sku": "catalog.unknown_sku"}


# -- channel caps ----------------------------------------------------------------------------------

def cap_used(w: World, channel: str, sku: str) -> int:
    cap = w.store.state.caps.get((channel, sku))
    assert cap is not None
    return cap.used


def test_a_flash_sale_cap_limits_what_one_channel_may_commit(w: World) -> None:
    w.receive("SKU-1", "DC-1", 20)
    mark = w.mark
    assert w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5)) == {"channel": "web", "sku": "SKU-1",
                                                                            "cap": 5, "used": 0}
    assert [type(e) for e in w.events_since(mark)] == [ChannelCapSet]
    first = w.hold(("SKU-1", "DC-1", 3))
    assert cap_used(w, "web", "SKU-1") == 3
    error = w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 3),)),
                      "inventory.channel_cap_exceeded")
    [problem] = error.problems
    assert (problem.field, problem.data["cap"], problem.data["remaining"]) == ("lines[sku=SKU-1]", 5, 2)
    w.hold(("SKU-1", "DC-1", 10), channel="vip")  # the cap is web's alone
    w.handle(c.ReleaseCheckoutHold(hold_id=first))
    assert cap_used(w, "web", "SKU-1") == 0
    w.hold(("SKU-1", "DC-1", 5))
    assert cap_used(w, "web", "SKU-1") == 5


def test_a_cap_counts_the_sum_of_an_orders_lines_of_one_sku(w: World) -> None:
    w.receive("SKU-1", "DC-1", 20)
    w.receive("SKU-1", "DC-2", 20)
    w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5))
    oid = w.place("W-1", ("SKU-1", 6))
    error = w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),
                                                                 c.LineAllocation(1, "DC-2", 3))),
                      "inventory.channel_cap_exceeded")
    assert error.problems[0].data["remaining"] == 5
    assert w.store.order(oid).status == OrderStatus.VALIDATED  # type: ignore[union-attr]


def test_units_shipped_stay_counted_and_a_cancellation_gives_reserved_units_back(w: World) -> None:
    w.receive("SKU-1", "DC-1", 20)
    w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5))
    shipped = w.place("W-1", ("SKU-1", 2))
    w.allocate(shipped, (1, "DC-1", 2))
    w.handle(c.ReleaseOrderToFulfillment(order_id=shipped))
    w.handle(c.RecordShipment(order_id=shipped, node="DC-1", lines=(c.ShipmentLine(1, 2),)))
    cancelled = w.place("W-2", ("SKU-1", 3))
    w.allocate(cancelled, (1, "DC-1", 3))
    assert cap_used(w, "web", "SKU-1") == 5
    w.handle(c.CancelOrder(order_id=cancelled, reason="changed mind"))
    assert cap_used(w, "web", "SKU-1") == 2


def test_setting_a_cap_again_keeps_what_was_already_used(w: World) -> None:
    w.receive("SKU-1", "DC-1", 20)
    w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5))
    w.hold(("SKU-1", "DC-1", 4))
    assert w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=10))["used"] == 4
    w.hold(("SKU-1", "DC-1", 6))
    w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 1),)),
              "inventory.channel_cap_exceeded")


def test_a_cap_applies_only_inside_its_window(w: World) -> None:
    w.receive("SKU-1", "DC-1", 100)
    now = w.clock()
    w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5, starts_at=now + timedelta(hours=1),
                             ends_at=now + timedelta(hours=2)))
    w.hold(("SKU-1", "DC-1", 8))  # before the sale: no cap, and nothing counted against it
    assert cap_used(w, "web", "SKU-1") == 0
    w.clock.advance(3600)
    w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 6),)),
              "inventory.channel_cap_exceeded")
    w.hold(("SKU-1", "DC-1", 5))
    assert cap_used(w, "web", "SKU-1") == 5
    w.clock.advance(3600)  # the sale is over
    w.hold(("SKU-1", "DC-1", 6))
    assert cap_used(w, "web", "SKU-1") == 5


def test_releasing_more_than_the_cap_counted_floors_its_use_at_zero(w: World) -> None:
    w.receive("SKU-1", "DC-1", 20)
    early = w.hold(("SKU-1", "DC-1", 8))  # placed before any cap existed
    w.handle(c.SetChannelCap(channel="web", sku="SKU-1", cap=5))
    w.hold(("SKU-1", "DC-1", 2))
    w.handle(c.ReleaseCheckoutHold(hold_id=early))
    assert cap_used(w, "web", "SKU-1") == 0


def test_a_cap_window_that_ends_before_it_starts_is_refused(w: World) -> None:
    now = w.clock()
    error = w.refused(c.SetChannelCap(channel="web", sku="SKU-1", cap=5, starts_at=now, ends_at=now),
                      "validation.failed")
    assert problem_fields(error) == {"ends_at": "validation.window"}


def test_a_cap_for_an_unknown_channel_and_sku_with_a_negative_cap_lists_every_problem(w: World) -> None:
    error = w.refused(c.SetChannelCap(channel="nope", sku="SKU-404", cap=-1), "validation.failed")
    assert problem_fields(error) == {"cap": "quantity.invalid", "sku": "catalog.unknown_sku",
                                     "channel": "channel.unknown"}


# -- checkout holds --------------------------------------------------------------------------------

def test_a_checkout_hold_reserves_until_its_ttl(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.receive("SKU-2", "DC-2", 10)
    mark = w.mark
    result = w.handle(c.PlaceCheckoutHold(channel="web", ttl_seconds=600, hold_id="H-1",
                                          lines=(c.HoldLine("SKU-1", "DC-1", 2), c.HoldLine("SKU-2", "DC-2", 1))))
    assert result["hold_id"] == "H-1"
    assert w.stock("SKU-1", "DC-1") == (10, 2)
    assert w.stock("SKU-2", "DC-2") == (10, 1)
    held = hold_reservations(w, "H-1")
    assert {(r.sku, r.node, r.quantity, r.status, r.order_id) for r in held} == {
        ("SKU-1", "DC-1", 2, ReservationStatus.ACTIVE, None), ("SKU-2", "DC-2", 1, ReservationStatus.ACTIVE, None)}
    assert all(r.expires_at == r.created_at + timedelta(seconds=600) for r in held)
    assert result["expires_at"] == held[0].expires_at.isoformat()
    [placed] = w.events_since(mark)
    assert isinstance(placed, CheckoutHoldPlaced)
    assert sorted((x.sku, x.quantity) for x in placed.lines) == [("SKU-1", 2), ("SKU-2", 1)]


def test_a_hold_with_one_short_line_reserves_nothing(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.receive("SKU-2", "DC-1", 1)
    error = w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-1", 2),
                                                                c.HoldLine("SKU-2", "DC-1", 2))),
                      "inventory.insufficient")
    [problem] = error.problems
    assert (problem.field, problem.data["sku"], problem.data["requested"], problem.data["available"]) == (
        "lines[1]", "SKU-2", 2, 1)


def test_a_hold_id_cannot_be_used_twice(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.hold(("SKU-1", "DC-1", 1), hold_id="H-1")
    w.refused(c.PlaceCheckoutHold(channel="web", hold_id="H-1", lines=(c.HoldLine("SKU-1", "DC-1", 1),)),
              "already_exists")


@pytest.mark.parametrize(("kw", "fields"), [
    ({"ttl_seconds": 0}, {"ttl_seconds": "validation.ttl"}),
    ({"ttl_seconds": 8 * 24 * 3600}, {"ttl_seconds": "validation.ttl"}),
    ({"lines": ()}, {"lines": "validation.required"}),
    ({"lines": (c.HoldLine("SKU-1", "DC-1", 0), c.HoldLine("sku-404", "DC\x009", 1))},
     {"lines[0].quantity": "quantity.invalid", "lines[1].sku": "catalog.unknown_sku",
      "lines[1].node": "network.unknown_node"}),
    ({"hold_id": "H 1"}, {"hold_id": "validation.code_format"}),
])
def test_a_hold_with_bad_input_is_refused_with_every_problem(w: World, kw: dict[str, Any],
                                                             fields: dict[str, str]) -> None:
    w.receive("SKU-1", "DC-1", 10)
    args: dict[str, Any] = {"channel": "web", "lines": (c.HoldLine("SKU-1", "DC-1", 1),), **kw}
    error = w.refused(c.PlaceCheckoutHold(**args), "validation.failed")
    assert problem_fields(error) == fields


def test_every_well_formed_but_unknown_sku_or_node_of_a_hold_is_named(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    error = w.refused(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-404", "DC-1", 1),
                                                                c.HoldLine("SKU-1", "DC-9", 1),
                                                                c.HoldLine("SKU-1", "DC-1", 1))),
                      "validation.failed")
    assert problem_fields(error) == {"lines[0].sku": "catalog.unknown_sku", "lines[1].node": "network.unknown_node"}


def test_a_hold_from_an_unknown_channel_is_refused(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    w.refused(c.PlaceCheckoutHold(channel="pos", lines=(c.HoldLine("SKU-1", "DC-1", 1),)), "channel.unknown")


def test_releasing_a_hold_gives_its_units_back_once(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    hold = w.hold(("SKU-1", "DC-1", 2))
    mark = w.mark
    assert w.handle(c.ReleaseCheckoutHold(hold_id=hold)) == {"hold_id": hold, "released_units": 2}
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    assert [r.status for r in hold_reservations(w, hold)] == [ReservationStatus.RELEASED]
    ended = [e for e in w.events_since(mark) if isinstance(e, CheckoutHoldEnded)]
    assert [(e.hold_id, e.outcome) for e in ended] == [(hold, "released")]
    before = w.store.dump()
    assert w.handle(c.ReleaseCheckoutHold(hold_id=hold))["released_units"] == 0
    assert w.store.dump() == before


def test_releasing_an_unknown_hold_is_refused(w: World) -> None:
    w.refused(c.ReleaseCheckoutHold(hold_id="H-404"), "reservation.unknown")


def test_holds_expire_only_after_their_ttl_has_passed(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    hold = w.hold(("SKU-1", "DC-1", 2), ttl_seconds=900)
    w.clock.advance(899)
    assert w.handle(c.ExpireCheckoutHolds()) == {"expired_holds": 0, "released_units": 0}
    assert w.stock("SKU-1", "DC-1") == (10, 2)
    w.clock.advance(1)
    mark = w.mark
    assert w.handle(c.ExpireCheckoutHolds()) == {"expired_holds": 1, "released_units": 2}
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    assert [r.status for r in hold_reservations(w, hold)] == [ReservationStatus.EXPIRED]
    assert [(e.hold_id, e.outcome) for e in w.events_since(mark) if isinstance(e, CheckoutHoldEnded)] == [
        (hold, "expired")]
    assert w.handle(c.ExpireCheckoutHolds()) == {"expired_holds": 0, "released_units": 0}


def test_the_expiry_job_takes_at_most_its_limit_per_run(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    for n in range(3):
        w.hold(("SKU-1", "DC-1", 1), hold_id=f"H-{n}", ttl_seconds=60)
    w.clock.advance(61)
    assert w.handle(c.ExpireCheckoutHolds(limit=2))["expired_holds"] == 2
    assert w.handle(c.ExpireCheckoutHolds(limit=2))["expired_holds"] == 1
    assert w.stock("SKU-1", "DC-1") == (10, 0)


def test_an_expired_hold_cannot_be_adopted_by_an_order(w: World) -> None:
    w.receive("SKU-1", "DC-1", 10)
    hold = w.hold(("SKU-1", "DC-1", 2), ttl_seconds=60)
    oid = w.place("W-1", ("SKU-1", 2))
    w.clock.advance(60)
    # past its TTL but not yet swept by the expiry job: already too late
    w.refused(c.AllocateOrder(order_id=oid, from_hold=hold), "reservation.hold_expired")
    w.handle(c.ExpireCheckoutHolds())
    w.refused(c.AllocateOrder(order_id=oid, from_hold=hold), "reservation.hold_expired")
    assert w.store.order(oid).status == OrderStatus.VALIDATED  # type: ignore[union-attr]
    assert w.stock("SKU-1", "DC-1") == (10, 0)


# -- reconciliation --------------------------------------------------------------------------------

def busy_world(w: World) -> str:
    """Receipts, a hold, a priority hold, an allocated order and a partial shipment."""
    w.receive("SKU-1", "DC-1", 10)
    w.receive("SKU-2", "DC-2", 5)
    w.hold(("SKU-1", "DC-1", 1))
    w.hold(("SKU-2", "DC-2", 2), channel="vip")
    oid = w.place("W-1", ("SKU-1", 4))
    w.allocate(oid, (1, "DC-1", 4))
    w.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 1),)))
    return oid


def test_reconciliation_finds_no_drift_when_everything_went_through_the_handlers(w: World) -> None:
    busy_world(w)
    before = w.store.dump()
    result = w.handle(c.ReconcileInventory())
    assert (result["checked"], result["drift"], result["repaired"]) == (2, [], 0)
    assert w.store.dump() == before


def test_reconciliation_reports_a_tampered_balance_without_repairing_it(w: World) -> None:
    busy_world(w)
    w.store.tamper_balance("SKU-1", "DC-1", on_hand=15)  # the ledger says 9
    w.store.tamper_balance("SKU-2", "DC-2", priority_reserved=0)  # the vip hold says 2
    before = w.store.dump()
    result = w.handle(c.ReconcileInventory())
    assert result["drift"] == [
        {"sku": "SKU-1", "node": "DC-1", "field": "on_hand", "recorded": 15, "expected": 9, "difference": 6},
        {"sku": "SKU-2", "node": "DC-2", "field": "priority_reserved", "recorded": 0, "expected": 2,
         "difference": -2}]
    assert result["repaired"] == 0
    assert w.store.dump() == before


def test_repairing_sets_balances_to_what_the_ledger_proves_and_keeps_the_policy(w: World) -> None:
    busy_world(w)
    w.handle(c.SetStockPolicy(sku="SKU-1", node="DC-1", safety_stock=2, protected_qty=1))
    w.store.tamper_balance("SKU-1", "DC-1", on_hand=4, reserved=0)
    mark = w.mark
    result = w.handle(c.ReconcileInventory(repair=True))
    assert result["repaired"] == 1
    assert {d["field"] for d in result["drift"]} == {"on_hand", "reserved"}
    balance = w.store.balance("SKU-1", "DC-1")
    assert balance is not None
    assert (balance.on_hand, balance.reserved, balance.safety_stock, balance.protected_qty) == (9, 4, 2, 1)
    [event] = w.events_since(mark)
    assert isinstance(event, InventoryDiscrepancyDetected)
    assert (event.source, event.expected_on_hand, event.counted_on_hand, event.reserved_before) == (
        "reconciliation", 9, 4, 0)
    assert w.handle(c.ReconcileInventory())["drift"] == []


def test_a_balance_row_that_disappeared_is_reported_as_missing(w: World) -> None:
    w.receive("SKU-1", "DC-1", 3)
    del w.store.state.balances[("SKU-1", "DC-1")]
    result = w.handle(c.ReconcileInventory(repair=True))
    assert result["drift"] == [{"sku": "SKU-1", "node": "DC-1", "field": "missing_balance", "recorded": 0,
                                "expected": 3, "difference": -3}]
    assert result["repaired"] == 1
    assert w.stock("SKU-1", "DC-1") == (3, 0)
    assert w.handle(c.ReconcileInventory())["drift"] == []
