"""The SQL unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from engine.adapters.access_repository import SqlAccessRepository
from engine.adapters.buyer_parts import SqlBuyerPartRepository
from engine.adapters.database import READ_ONLY
from engine.adapters.exception_repository import SqlExceptionRepository
from engine.adapters.intake_repository import SqlIntakeRepository
from engine.adapters.notification_repository import SqlNotificationRepository
from engine.adapters.outbox import SqlOutboxWriter
from engine.adapters.repositories import (
    SqlIdempotencyRepository,
    SqlInventoryRepository,
    SqlMasterDataRepository,
    SqlOrderRepository,
)
from engine.adapters.return_repository import SqlReturnRepository
from engine.adapters.routing_repository import SqlRoutingRepository
from engine.adapters.tracking_repository import SqlTrackingRepository
from engine.domain.channels import Channel, ChannelCap
from engine.services.unit_of_work import AbstractUnitOfWork, Clock, utc_now


class SqlUnitOfWork(AbstractUnitOfWork):
    def __init__(self, engine: Engine, clock: Clock = utc_now, *, readonly: bool = False) -> None:
        super().__init__(clock)
        self.engine = engine
        self.readonly = readonly
        self._conn: Connection | None = None

    def _begin(self) -> None:
        self._conn = self.engine.connect()
        postgres = self.engine.dialect.name == "postgresql"
        if self.readonly:
            # SQLite: a deferred transaction that never takes the write lock; PostgreSQL: READ ONLY,
            # and repositories skip row locks.
            self._conn.execution_options(**{READ_ONLY: True})
        self._conn.begin()
        if self.readonly and postgres:
            self._conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        self.master = SqlMasterDataRepository(self._conn)
        self._sql_inventory = SqlInventoryRepository(self._conn, lock_rows=not self.readonly)
        self.inventory = self._sql_inventory
        self.orders = SqlOrderRepository(self._conn, lock_rows=not self.readonly)
        self.idempotency = SqlIdempotencyRepository(self._conn)
        self.outbox = SqlOutboxWriter(self._conn)
        self.routing = SqlRoutingRepository(self._conn)
        self.intake = SqlIntakeRepository(self._conn)
        self.buyer_parts = SqlBuyerPartRepository(self._conn)
        self.exceptions = SqlExceptionRepository(self._conn, lock_rows=not self.readonly)
        self.access = SqlAccessRepository(self._conn)
        self.tracking = SqlTrackingRepository(self._conn)
        self.notifications = SqlNotificationRepository(self._conn, lock_rows=not self.readonly)
        self.returns = SqlReturnRepository(self._conn, lock_rows=not self.readonly)

    def _commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    def channel_and_caps(self, code: str, skus: Iterable[str]) -> tuple[Channel | None, dict[str, ChannelCap]]:
        # One round trip instead of two on every reservation.
        return self._sql_inventory.channel_and_caps(code, skus)

    def is_retryable(self, exc: BaseException) -> bool:
        # Unique-key races (two writers, one idempotency key or external id), PostgreSQL deadlock
        # and serialization aborts, and SQLite's lock timeout: a fresh transaction sees the winner.
        if isinstance(exc, IntegrityError):
            text = str(exc.orig).lower()
            return "unique" in text or "duplicate key" in text
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True  # the server dropped the connection; the pool hands out a new one
        if isinstance(exc, OperationalError):
            text = str(exc.orig).lower()
            return "deadlock" in text or "could not serialize" in text or "database is locked" in text
        return False

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "the unit of work is not open"
        return self._conn
