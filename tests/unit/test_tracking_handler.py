"""Recording carrier scans over the in-memory store: once per event, early scans joined, delivery."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.domain import commands as c
from engine.domain.events import OrderDelivered, TrackingRecorded
from engine.domain.orders import OrderStatus
from engine.domain.tracking import TrackingStatus, TrackingUpdate
from tests.fakes import make_world

AT = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)


def scan(key: str, status: TrackingStatus, tracking: str = "T-1") -> TrackingUpdate:
    return TrackingUpdate(carrier="CAR", tracking_number=tracking, event_key=key, status=status,
                          carrier_code=status.value, occurred_at=AT)


def test_scans_are_recorded_once_joined_to_their_shipment_and_deliver_the_order() -> None:
    w = make_world()
    w.receive("SKU-1", "DC-1", 10)
    oid = w.place("W-1", ("SKU-1", 2))
    w.allocate(oid, (1, "DC-1", 2))
    w.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    early = w.handle(c.RecordTracking(carrier="CAR", updates=(scan("e1", TrackingStatus.LABEL_CREATED),)))
    assert early["unmatched"] == ["T-1"] and early["recorded"] == 0
    w.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, 2),), carrier="CAR",
                              tracking_number="T-1", shipment_id="S-1"))
    done = w.handle(c.RecordTracking(carrier="CAR", updates=(scan("e1", TrackingStatus.LABEL_CREATED),
                                                             scan("e2", TrackingStatus.DELIVERED))))
    assert done["duplicates"] == 1 and done["recorded"] == 1
    scans = sorted((x for x in w.store.state.scans if x.order_id == oid), key=lambda x: x.status != "label_created")
    assert [(x.shipment_id, x.status) for x in scans] == [("S-1", "label_created"), ("S-1", "delivered")]
    assert w.store.order(oid).status is OrderStatus.DELIVERED  # type: ignore[union-attr]
    kinds = [type(ev) for ev in w.store.events()]
    assert kinds.count(OrderDelivered) == 1 and kinds.count(TrackingRecorded) == 1
