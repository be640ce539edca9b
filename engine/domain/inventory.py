"""Inventory truth: balances per SKU x node, the movement ledger, reservations."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class MovementKind(enum.StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    CYCLE_COUNT = "cycle_count"
    PICK = "pick"
    SHIP = "ship"
    RETURN = "return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"


@dataclass(frozen=True)
class StockMovement:
    """One line of the append-only ledger: a signed change of on-hand units."""

    movement_id: str
    sku: str
    node: str
    kind: MovementKind
    quantity: int
    occurred_at: datetime
    reference: str = ""
    reason: str = ""


@dataclass(frozen=True)
class StockBalance:
    """Units at one node. `protected_qty` is withheld from non-priority channels until priority
    channels have reserved that much here (`priority_reserved`)."""

    sku: str
    node: str
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    protected_qty: int = 0
    priority_reserved: int = 0

    @property
    def protected_remaining(self) -> int:
        return max(0, self.protected_qty - self.priority_reserved)

    def available_for(self, priority: bool) -> int:
        free = self.on_hand - self.reserved - self.safety_stock
        if not priority:
            free -= self.protected_remaining
        return max(0, free)

    def can_reserve(self, quantity: int, priority: bool) -> bool:
        return self.available_for(priority) >= quantity


class ReservationStatus(enum.StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CONSUMED = "consumed"
    EXPIRED = "expired"


@dataclass
class Reservation:
    """Units of one SKU at one node promised to an order line or to a checkout hold."""

    reservation_id: str
    sku: str
    node: str
    quantity: int
    channel: str
    priority: bool
    created_at: datetime
    order_id: str | None = None
    line_no: int | None = None
    hold_id: str | None = None
    expires_at: datetime | None = None
    consumed: int = 0
    status: ReservationStatus = ReservationStatus.ACTIVE

    @property
    def outstanding(self) -> int:
        return self.quantity - self.consumed if self.status == ReservationStatus.ACTIVE else 0


@dataclass(frozen=True)
class Drift:
    """A balance that disagrees with what the ledger and the reservations say it must be."""

    sku: str
    node: str
    field: str
    recorded: int
    expected: int

    @property
    def difference(self) -> int:
        return self.recorded - self.expected
