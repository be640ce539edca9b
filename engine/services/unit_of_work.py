"""The unit of work: one transaction, its repositories, and the events it will publish."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from engine.domain.channels import Channel, ChannelCap
from engine.domain.events import Event
from engine.services.ports import (
    AccessRepository,
    BuyerPartRepository,
    ExceptionRepository,
    IdempotencyRepository,
    IntakeRepository,
    InventoryRepository,
    MasterDataRepository,
    NotificationRepository,
    OrderRepository,
    ReturnRepository,
    RoutingRepository,
    TrackingRepository,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxWriter(abc.ABC):
    @abc.abstractmethod
    def add(self, events: Sequence[Event]) -> None:
        """Store events in the same transaction as the change that raised them."""


class AbstractUnitOfWork(abc.ABC):
    master: MasterDataRepository
    inventory: InventoryRepository
    orders: OrderRepository
    idempotency: IdempotencyRepository
    routing: RoutingRepository
    intake: IntakeRepository
    buyer_parts: BuyerPartRepository
    exceptions: ExceptionRepository
    access: AccessRepository
    tracking: TrackingRepository
    notifications: NotificationRepository
    returns: ReturnRepository
    outbox: OutboxWriter

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.pending_events: list[Event] = []
        self._flushed: list[Event] = []
        self.committed_events: list[Event] = []

    def channel_and_caps(self, code: str, skus: Iterable[str]) -> tuple[Channel | None, dict[str, ChannelCap]]:
        """A channel and its caps on `skus`, read together: the reservation path needs both.

        Adapters may answer it with one query; this default asks the repositories.
        """
        channel = self.master.get_channel(code)
        if channel is None:
            return None, {}
        return channel, {s: cap for s in skus if (cap := self.inventory.get_cap(code, s)) is not None}

    def is_retryable(self, exc: BaseException) -> bool:
        """True for failures that a fresh transaction may not hit (concurrent unique inserts)."""
        return False

    def now(self) -> datetime:
        return self.clock()

    def emit(self, event: Event) -> None:
        self.pending_events.append(event)

    def __enter__(self) -> AbstractUnitOfWork:
        self.pending_events = []
        self._flushed = []
        self._begin()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Anything not committed explicitly is rolled back: an error never leaves half a change.
        self.rollback()

    def flush_events(self) -> None:
        """Write the events emitted so far to the outbox now (same transaction, still uncommitted)."""
        events, self.pending_events = self.pending_events, []
        if events:
            self.outbox.add(events)
        self._flushed.extend(events)

    def commit(self) -> None:
        """Write pending events to the outbox and commit both with the change."""
        self.flush_events()
        events, self._flushed = self._flushed, []
        self._commit()
        self.committed_events.extend(events)

    def rollback(self) -> None:
        self.pending_events = []
        self._flushed = []
        self._rollback()

    @abc.abstractmethod
    def _begin(self) -> None: ...

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def _rollback(self) -> None: ...
