"""Orders, their lines and the order state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.domain.errors import IllegalTransition


class OrderStatus(enum.StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    ALLOCATED = "allocated"
    RELEASED = "released"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ON_HOLD = "on_hold"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


S = OrderStatus
PAUSED = frozenset({S.ON_HOLD, S.EXCEPTION})
TERMINAL = frozenset({S.DELIVERED, S.CANCELLED})
REVALIDATE_FROM = frozenset({S.RECEIVED, S.VALIDATED, S.ALLOCATED, S.RELEASED})

# The forward path and the ways off it. Leaving ON_HOLD / EXCEPTION is checked separately: an order
# goes back to the state it was paused from (or, after an exception, back to VALIDATED to be
# allocated again), never to a state it had not reached. An order that went to exception after release
# (a short pick: the warehouse gives the pick back) may be re-validated too, as long as nothing shipped
# (ResumeOrder checks that).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.ON_HOLD, S.EXCEPTION, S.CANCELLED}),
    S.VALIDATED: frozenset({S.ALLOCATED, S.ON_HOLD, S.EXCEPTION, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.RELEASED, S.VALIDATED, S.ON_HOLD, S.EXCEPTION, S.CANCELLED}),
    S.RELEASED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.ON_HOLD, S.EXCEPTION, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.EXCEPTION}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.ON_HOLD: frozenset({S.CANCELLED}),
    S.EXCEPTION: frozenset({S.VALIDATED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus, paused_from: OrderStatus | None) -> bool:
    if target in TRANSITIONS[current]:
        return not (current == S.EXCEPTION and target == S.VALIDATED and paused_from is not None
                    and paused_from not in REVALIDATE_FROM)
    return current in PAUSED and paused_from is not None and target == paused_from


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    state: str
    postal_code: str
    country: str = "US"
    line2: str = ""
    company: str = ""
    phone: str = ""
    email: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address:
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class OrderLine:
    line_no: int
    sku: str
    quantity: int
    unit_price: Decimal
    allocated: int = 0
    shipped: int = 0
    cancelled: int = 0

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str


@dataclass
class Order:
    order_id: str
    channel: str
    external_id: str
    customer_id: str | None
    account_code: str | None
    ship_to: Address
    lines: list[OrderLine]
    placed_at: datetime
    status: OrderStatus = S.RECEIVED
    paused_from: OrderStatus | None = None
    status_reason: str = ""
    currency: str = "USD"
    requested_delivery: datetime | None = None
    notes: str = ""
    version: int = 0
    history: list[StatusChange] = field(default_factory=list)

    def line(self, line_no: int) -> OrderLine:
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise KeyError(line_no)

    @property
    def total(self) -> Decimal:
        return sum((ln.unit_price * ln.quantity for ln in self.lines), Decimal("0"))

    def require_transition(self, target: OrderStatus) -> None:
        """Raise IllegalTransition (code state.illegal_transition) unless `target` is allowed now."""
        if not can_transition(self.status, target, self.paused_from):
            raise IllegalTransition(
                f"order {self.order_id} cannot go from {self.status.value} to {target.value}",
                entity="order", order_id=self.order_id, from_status=self.status.value,
                to_status=target.value,
                allowed=sorted(s.value for s in self.allowed_targets()),
            )

    def transition(self, target: OrderStatus, at: datetime, reason: str = "") -> StatusChange:
        """Move to `target` or raise IllegalTransition (code state.illegal_transition)."""
        self.require_transition(target)
        change = StatusChange(at=at, from_status=self.status, to_status=target, reason=reason)
        if target in PAUSED:
            if self.status not in PAUSED:
                self.paused_from = self.status
        elif self.status in PAUSED:
            self.paused_from = None
        self.status = target
        self.status_reason = reason
        self.history.append(change)
        return change

    def allowed_targets(self) -> set[OrderStatus]:
        targets = set(TRANSITIONS[self.status])
        if self.status in PAUSED and self.paused_from is not None:
            targets.add(self.paused_from)
        return {t for t in targets if can_transition(self.status, t, self.paused_from)}

    @property
    def fully_shipped(self) -> bool:
        return all(ln.shipped + ln.cancelled >= ln.quantity for ln in self.lines)

    @property
    def any_shipped(self) -> bool:
        return any(ln.shipped > 0 for ln in self.lines)
