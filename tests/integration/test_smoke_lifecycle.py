from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import ChannelKind
from engine.domain.network import NodeType

ADDRESS = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
           "country": "US"}


def test_an_order_goes_from_placement_to_delivery_and_the_ledger_explains_every_unit(app: App) -> None:
    bus = app.bus
    bus.handle(c.UpsertSku(sku="SKU-1", name="Lamp", category="home", unit_price=Decimal("9.99"),
                           weight_kg=Decimal("1.2")))
    bus.handle(c.UpsertNode(code="DC-RNO", name="Reno DC", node_type=NodeType.WAREHOUSE, city="Reno", state="NV",
                            postal_code="89502", latitude=39.5, longitude=-119.8, timezone="America/Los_Angeles",
                            daily_pick_capacity=5000, cutoff_local=time(15, 0)))
    bus.handle(c.UpsertChannel(code="web", name="Web", kind=ChannelKind.WEB))
    bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-RNO", quantity=10))
    placed = bus.handle(c.PlaceOrder(channel="web", external_id="W1", lines=(c.NewOrderLine("SKU-1", 3),),
                                     ship_to=ADDRESS))
    oid = placed["order_id"]
    bus.handle(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-RNO", 3),)))
    bus.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    shipped = bus.handle(c.RecordShipment(order_id=oid, node="DC-RNO", lines=(c.ShipmentLine(1, 3),),
                                          shipment_id="S1"))
    assert shipped["status"] == "shipped"
    assert bus.handle(c.MarkDelivered(order_id=oid))["status"] == "delivered"
    with app.uow() as uow:
        balance = uow.inventory.get_balance("SKU-1", "DC-RNO")
        assert balance is not None
        assert (balance.on_hand, balance.reserved) == (7, 0)
        assert sum(m.quantity for m in uow.inventory.movements("SKU-1", "DC-RNO")) == 7
    assert bus.handle(c.ReconcileInventory())["drift"] == []


def test_a_store_pick_takes_only_unreserved_units_and_is_in_the_ledger(app: App) -> None:
    test_an_order_goes_from_placement_to_delivery_and_the_ledger_explains_every_unit(app)
    bus = app.bus
    bus.handle(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("SKU-1", "DC-RNO", 5),)))
    with pytest.raises(e.StockInvariantViolation) as refused:
        bus.handle(c.RecordPick(sku="SKU-1", node="DC-RNO", quantity=3, reference="POS-1"))
    assert refused.value.code == "inventory.invariant"
    assert bus.handle(c.RecordPick(sku="SKU-1", node="DC-RNO", quantity=2, reference="POS-2"))["on_hand"] == 5
    with app.uow(readonly=True) as uow:
        kinds = [m.kind.value for m in uow.inventory.movements("SKU-1", "DC-RNO")]
    assert kinds[0] == "pick"
    assert bus.handle(c.ReconcileInventory())["drift"] == []
