"""SQL side of notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.notifications import Notification, NotificationKind, NotificationStatus
from engine.services.ports import NotificationRepository

_N = t.notifications.c


def _int(value: str | None) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) <= 18 else None


def _row(r: Any) -> Notification:
    return Notification(
        notification_id=str(r["id"]), dedupe_key=r["dedupe_key"], kind=NotificationKind(r["kind"]),
        audience=r["audience"], recipient=r["recipient"], subject=r["subject"], body=r["body"],
        status=NotificationStatus(r["status"]), created_at=aware(r["created_at"]),  # type: ignore[arg-type]
        send_after=aware(r["send_after"]), message_id=r["message_id"],  # type: ignore[arg-type]
        order_id=str(r["order_id"]) if r["order_id"] is not None else None, event_id=r["event_id"],
        facts=dict(r["facts"] or {}), sent_at=aware(r["sent_at"]), attempts=r["attempts"],
        last_error=r["last_error"], decided_by=r["decided_by"])


class SqlNotificationRepository(NotificationRepository):
    def __init__(self, conn: Connection, *, lock_rows: bool = False) -> None:
        self.conn = conn
        self.lock_rows = lock_rows

    def add(self, notification: Notification) -> str | None:
        n = notification
        if self.conn.execute(select(_N.id).where(_N.dedupe_key == n.dedupe_key)).first() is not None:
            return None
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(insert(t.notifications).values(
                    dedupe_key=n.dedupe_key, kind=n.kind.value, audience=n.audience, recipient=n.recipient,
                    subject=n.subject, body=n.body, status=n.status.value, order_id=_int(n.order_id),
                    event_id=n.event_id, facts=n.facts, created_at=n.created_at, send_after=n.send_after,
                    sent_at=None, attempts=0, last_error=None, decided_by=None, message_id=n.message_id,
                ).returning(_N.id)).scalar_one()
        except IntegrityError:  # a concurrent writer stored the same key first
            return None
        n.notification_id = str(new_id)
        return n.notification_id

    def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None:
        key = _int(notification_id)
        if key is None:
            return None
        q = select(t.notifications).where(_N.id == key)
        if for_update and self.lock_rows:
            q = q.with_for_update()
        row = self.conn.execute(q).mappings().first()
        return None if row is None else _row(row)

    def claim(self, notification_id: str, attempts: int, lease_until: datetime) -> bool:
        done = self.conn.execute(update(t.notifications).where(
            _N.id == _int(notification_id), _N.status == NotificationStatus.PENDING.value, _N.attempts == attempts
        ).values(attempts=attempts + 1, send_after=lease_until))
        return done.rowcount == 1

    def search(self, *, status: str | None = None, order_id: str | None = None, recipient: str | None = None,
             limit: int = 100) -> list[Notification]:
        q = select(t.notifications)
        if status is not None:
            q = q.where(_N.status == status)
        if order_id is not None:
            q = q.where(_N.order_id == (_int(order_id) if _int(order_id) is not None else -1))
        if recipient is not None:
            q = q.where(_N.recipient == recipient)
        rows = self.conn.execute(q.order_by(_N.id.desc()).limit(limit)).mappings().all()
        return [_row(r) for r in rows]

    def due(self, now: datetime, limit: int) -> list[Notification]:
        rows = self.conn.execute(select(t.notifications).where(
            _N.status == NotificationStatus.PENDING.value, _N.send_after <= now).order_by(_N.id).limit(limit)
        ).mappings().all()
        return [_row(r) for r in rows]

    def sent_since(self, recipient: str, since: datetime) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.notifications).where(
            _N.recipient == recipient, _N.status == NotificationStatus.SENT.value, _N.sent_at >= since)
        ).scalar_one())

    def update(self, notification: Notification) -> None:
        n = notification
        key = _int(n.notification_id)
        self.conn.execute(update(t.notifications).where(_N.id == key).values(
            status=n.status.value, subject=n.subject, body=n.body, send_after=n.send_after, sent_at=n.sent_at,
            attempts=n.attempts, last_error=n.last_error, decided_by=n.decided_by))
