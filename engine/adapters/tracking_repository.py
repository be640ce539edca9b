"""SQL side of tracking: scan events, once per carrier event id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.tracking import TROUBLE, TrackingUpdate
from engine.services.ports import TrackingRecord, TrackingRepository

_E = t.tracking_events.c
_S = t.shipments.c
_O = t.orders.c


def _int(order_id: str | None) -> int | None:
    return int(order_id) if isinstance(order_id, str) and order_id.isdigit() and len(order_id) <= 18 else None


class SqlTrackingRepository(TrackingRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def seen(self, carrier: str, event_key: str) -> bool:
        return self.conn.execute(select(_E.id).where(_E.carrier == carrier, _E.event_key == event_key)
                                 ).first() is not None

    def shipment_for(self, carrier: str, tracking_number: str) -> tuple[str, str] | None:
        row = self.conn.execute(select(_S.order_id, _S.shipment_id).where(
            _S.carrier == carrier, _S.tracking_number == tracking_number).order_by(_S.shipped_at.desc())).first()
        return None if row is None else (str(row.order_id), str(row.shipment_id))

    def add(self, update: TrackingUpdate, order_id: str | None, shipment_id: str | None, at: datetime) -> None:
        self.conn.execute(insert(t.tracking_events).values(
            carrier=update.carrier, tracking_number=update.tracking_number, event_key=update.event_key,
            order_id=_int(order_id), shipment_id=shipment_id, status=update.status.value,
            carrier_code=update.carrier_code, description=update.description, location=update.location,
            occurred_at=update.occurred_at, estimated_delivery=update.estimated_delivery, received_at=at))

    def for_order(self, order_id: str) -> list[TrackingRecord]:
        key = _int(order_id)
        if key is None:
            return []
        rows = self.conn.execute(select(t.tracking_events).where(_E.order_id == key)
                                 .order_by(_E.occurred_at, _E.id)).mappings().all()
        return [TrackingRecord(carrier=r["carrier"], tracking_number=r["tracking_number"],
                               shipment_id=r["shipment_id"], order_id=order_id, status=r["status"],
                               carrier_code=r["carrier_code"], description=r["description"], location=r["location"],
                               occurred_at=aware(r["occurred_at"]),  # type: ignore[arg-type]
                               estimated_delivery=r["estimated_delivery"]) for r in rows]

    def link(self, carrier: str, tracking_number: str, order_id: str, shipment_id: str) -> int:
        done = self.conn.execute(update(t.tracking_events).where(
            _E.carrier == carrier, _E.tracking_number == tracking_number, _E.order_id.is_(None)
        ).values(order_id=_int(order_id), shipment_id=shipment_id))
        return int(done.rowcount)

    def delayed_orders(self, carrier: str, since: datetime) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            select(_E.order_id, _O.ship_postal).distinct().join(t.orders, _O.id == _E.order_id)
            .where(_E.carrier == carrier, _E.received_at >= since,
                   _E.status.in_([s.value for s in TROUBLE]))).all()
        return [(str(r.order_id), r.ship_postal) for r in rows]
