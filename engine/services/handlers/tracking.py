"""Carrier scans: record each once, move the order to delivered when every parcel is, detect delays.

A delay is a scan whose expected delivery is after the date the engine promised (the last committed
routing decision's), or a trouble status (failed attempt, exception, returned, carrier-reported delay).
Such a scan is stored as `delayed` when the carrier still calls it "in transit" (its own code is kept),
and `OrderDelayed` is emitted once per later date, so a redelivered webhook changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.domain import commands as c
from engine.domain.events import (
    OrderDelayed,
    OrderDelivered,
    OrderStatusChanged,
    ReturnStatusChanged,
    TrackingRecorded,
)
from engine.domain.orders import OrderStatus
from engine.domain.returns import RmaStatus
from engine.domain.tracking import TROUBLE, TrackingStatus, TrackingUpdate
from engine.services.delivery_dates import promised_delivery
from engine.services.unit_of_work import AbstractUnitOfWork

MOVING = frozenset({TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY,
                    TrackingStatus.LABEL_CREATED})


def record_tracking(cmd: c.RecordTracking, uow: AbstractUnitOfWork) -> dict[str, Any]:
    recorded: list[dict[str, Any]] = []
    delays: list[dict[str, Any]] = []
    duplicates, unmatched, returns = 0, [], []
    promised: dict[str, Any] = {}
    for update in cmd.updates:
        if uow.tracking.seen(update.carrier, update.event_key):
            duplicates += 1
            continue
        found = uow.tracking.shipment_for(update.carrier, update.tracking_number)
        if found is None:  # kept: the shipment may be recorded after the carrier's first scan
            uow.tracking.add(update, None, None, uow.now())
            if _return_parcel_moving(uow, update):
                returns.append(update.tracking_number)
            else:
                unmatched.append(update.tracking_number)
            continue
        order_id, shipment_id = found
        if order_id not in promised:
            promised[order_id] = promised_delivery(uow, order_id)
        promise = promised[order_id]
        history = uow.tracking.for_order(order_id)
        before = [h.estimated_delivery for h in history if h.shipment_id == shipment_id and h.estimated_delivery]
        latest_eta = max(before) if before else None
        slipped = (update.estimated_delivery is not None and promise is not None
                   and update.estimated_delivery > promise
                   and (latest_eta is None or update.estimated_delivery > latest_eta))
        if slipped and update.status in MOVING:
            update = replace(update, status=TrackingStatus.DELAYED)
        uow.tracking.add(update, order_id, shipment_id, uow.now())
        eta = update.estimated_delivery.isoformat() if update.estimated_delivery else None
        uow.emit(TrackingRecorded(order_id=order_id, shipment_id=shipment_id, carrier=update.carrier,
                                  tracking_number=update.tracking_number, status=update.status.value,
                                  estimated_delivery=eta, description=update.description,
                                  occurred_at=update.occurred_at))
        recorded.append({"order_id": order_id, "shipment_id": shipment_id, "status": update.status.value})
        trouble = update.status in TROUBLE and not any(
            h.shipment_id == shipment_id and h.status == update.status.value for h in history)
        if slipped or trouble:
            reason = (f"{update.carrier} now expects {eta}, after the promised {promise.isoformat()}" if slipped
                      and promise else f"{update.carrier}: {update.status.value}"
                      + (f" ({update.description})" if update.description else ""))
            delay = {"order_id": order_id, "shipment_id": shipment_id, "carrier": update.carrier,
                     "tracking_number": update.tracking_number, "status": update.status.value,
                     "promised": promise.isoformat() if promise else None, "new_date": eta, "reason": reason}
            delays.append(delay)
            uow.emit(OrderDelayed(order_id=order_id, shipment_id=shipment_id, carrier=update.carrier,
                                  tracking_number=update.tracking_number, promised=delay["promised"],
                                  new_date=eta, reason=reason, occurred_at=uow.now()))
        if update.status is TrackingStatus.DELIVERED:
            _maybe_delivered(uow, order_id, shipment_id, update.carrier, update.tracking_number,
                             {h.shipment_id for h in history if h.status == TrackingStatus.DELIVERED.value})
    return {"recorded": len(recorded), "duplicates": duplicates, "unmatched": unmatched, "events": recorded,
            "delays": delays, "returns": returns}


def _return_parcel_moving(uow: AbstractUnitOfWork, update: TrackingUpdate) -> bool:
    """A scan of a return label: the first one that shows the parcel moving puts the return in transit."""
    rma = uow.returns.by_label(update.carrier, update.tracking_number)
    if rma is None:
        return False
    if rma.status is RmaStatus.LABEL_ISSUED and update.status in (
            TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY,
            TrackingStatus.DELAYED, TrackingStatus.DELIVERED):
        change = rma.in_transit(uow.now())
        uow.returns.save(rma)
        uow.emit(ReturnStatusChanged(rma_id=rma.rma_id, order_id=rma.order_id, from_status=RmaStatus.LABEL_ISSUED.value,
                                     to_status=change.to_status.value, reason=f"{update.carrier} scan: "
                                     f"{update.status.value}", occurred_at=change.at))
    return True


def _maybe_delivered(uow: AbstractUnitOfWork, order_id: str, shipment_id: str, carrier: str, tracking: str,
                     delivered_before: set[str | None]) -> None:
    order = uow.orders.get(order_id)
    if order is None:
        return
    uow.emit(OrderDelivered(order_id=order_id, shipment_id=shipment_id, carrier=carrier, tracking_number=tracking,
                            occurred_at=uow.now()))
    shipments = {s.shipment_id for s in uow.orders.shipments(order_id)}
    if order.status is OrderStatus.SHIPPED and shipments <= (delivered_before | {shipment_id}):
        change = order.transition(OrderStatus.DELIVERED, uow.now(), "the carrier delivered every parcel")
        uow.emit(OrderStatusChanged(order_id=order_id, from_status=change.from_status, to_status=change.to_status,
                                    reason=change.reason, occurred_at=change.at))
        uow.orders.save(order)
