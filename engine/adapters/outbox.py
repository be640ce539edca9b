"""The transactional outbox and the relay that delivers it to subscribers (at least once)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.adapters import tables as t
from engine.adapters.database import READ_ONLY
from engine.adapters.repositories import aware
from engine.domain.events import Event
from engine.services.unit_of_work import OutboxWriter

log = logging.getLogger(__name__)


_INSERT = insert(t.outbox)


class SqlOutboxWriter(OutboxWriter):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, events: Sequence[Event]) -> None:
        rows = [{
            "event_id": ev.event_id, "event_type": ev.event_type, "version": ev.version,
            "aggregate": ev.aggregate, "aggregate_id": ev.aggregate_id[:128], "payload": ev.payload(),
            "occurred_at": ev.occurred_at, "published_at": None, "attempts": 0} for ev in events]
        self.conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)


@dataclass(frozen=True)
class OutboxMessage:
    """What subscribers receive: the event's identity, version and payload."""

    position: int
    event_id: str
    event_type: str
    version: int
    aggregate: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime


Subscriber = Callable[[OutboxMessage], None]


class OutboxRelay:
    """Reads unpublished outbox rows in order and hands each to the subscribers of its type.

    A message is marked published only after every subscriber returned, so a crash in between
    delivers it again: consumers use `event_id` (see `ProcessedEvents`) to act once. A message that
    keeps failing is parked after `max_attempts` with its last error, so it cannot block the rest.
    """

    def __init__(self, engine: Engine, *, batch_size: int = 200, max_attempts: int = 5) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: str, subscriber: Subscriber) -> None:
        """Subscribe to one event type, or to every type with '*'."""
        self._subscribers[event_type].append(subscriber)

    def pump(self, max_batches: int = 100) -> int:
        """Deliver what is pending now; returns the number of messages delivered.

        With no subscriber registered nothing is read or marked: the messages wait in the outbox for
        a relay that has subscribers (another process, or this one after `subscribe`).
        """
        if not self._subscribers:
            return 0
        delivered = 0
        with self._lock:
            for _ in range(max_batches):
                batch = self._pending()
                if not batch:
                    break
                done: list[int] = []
                failed: tuple[OutboxMessage, str] | None = None
                for message in batch:
                    error = self._deliver(message)
                    if error is not None:
                        failed = (message, error)
                        break  # keep order: the rest waits for the next pump
                    done.append(message.position)
                self._mark_published(done)
                delivered += len(done)
                if failed is not None:
                    self._mark_failed(*failed)
                    break
        return delivered

    def _pending(self) -> list[OutboxMessage]:
        o = t.outbox.c
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            rows = conn.execute(select(t.outbox).where(o.published_at.is_(None)).order_by(o.id)
                                .limit(self.batch_size)).mappings().all()
        return [OutboxMessage(r["id"], r["event_id"], r["event_type"], r["version"], r["aggregate"],
                              r["aggregate_id"], dict(r["payload"]), aware(r["occurred_at"]))  # type: ignore[arg-type]
                for r in rows]

    def _deliver(self, message: OutboxMessage) -> str | None:
        for subscriber in [*self._subscribers.get(message.event_type, ()), *self._subscribers.get("*", ())]:
            try:
                subscriber(message)
            except Exception as exc:
                log.exception("subscriber failed on %s %s", message.event_type, message.event_id)
                return f"{type(exc).__name__}: {exc}"
        return None

    def _mark_published(self, positions: list[int]) -> None:
        if not positions:
            return
        with self.engine.begin() as conn:
            conn.execute(update(t.outbox).where(t.outbox.c.id.in_(positions)).values(published_at=datetime.now(UTC)))

    def _mark_failed(self, message: OutboxMessage, error: str) -> None:
        o = t.outbox.c
        with self.engine.begin() as conn:
            attempts = conn.execute(update(t.outbox).where(o.id == message.position)
                                    .values(attempts=o.attempts + 1, last_error=error[:2000])
                                    .returning(o.attempts)).scalar_one()
            if attempts >= self.max_attempts:
                log.error("parking outbox message %s after %d attempts", message.event_id, attempts)
                conn.execute(update(t.outbox).where(o.id == message.position)
                             .values(published_at=datetime.now(UTC)))

    def __call__(self, events: list[Event]) -> None:
        """Use as the bus's after-commit hook: deliver right after each command."""
        self.pump()


class ProcessedEvents:
    """The consumer side of idempotency: remember which event ids a consumer has acted on."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer

    def first_time(self, conn: Connection, event_id: str) -> bool:
        """Record the event for this consumer inside the consumer's own transaction.

        False means it was processed before and must be skipped.
        """
        try:
            with conn.begin_nested():
                conn.execute(insert(t.processed_events).values(
                    consumer=self.consumer, event_id=event_id, processed_at=datetime.now(UTC)))
        except IntegrityError:
            return False
        return True
