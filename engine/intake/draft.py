"""The one shape every intake path produces: an `OrderDraft` with a confidence per field.

EDI (X12 850, EDIFACT ORDERS), email read by the intake agent, and structured API payloads all become an
`OrderDraft`. Each field carries where it came from (segment, header, sentence) and a confidence in [0, 1]:
1.0 for values read from a structured, checked source (an EDI element, an exact SKU match), less for values
an LLM extracted or a fuzzy match proposed. `touchless` says whether the draft may become an order with no
person looking at it: every field at or above the policy's threshold, no problem, no suspicious content.
Otherwise the draft reaches a person with the exact field and reason (`problems`).
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.domain import commands as c

TOUCHLESS_CONFIDENCE = 0.9


class DraftSource(enum.StrEnum):
    X12 = "x12"
    EDIFACT = "edifact"
    EMAIL = "email"
    API = "api"


class DraftProblem(BaseModel):
    """Why a field needs a person: stable code, the field's path, a message and a suggested fix."""

    model_config = ConfigDict(frozen=True)
    code: str
    field: str
    message: str
    fix: str = ""


class Sourced(BaseModel):
    """A value with its confidence and where it came from."""

    model_config = ConfigDict(frozen=True)
    value: Any = None
    confidence: float = Field(default=1.0, ge=0, le=1)
    source: str = ""


class DraftAddress(BaseModel):
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = "US"
    confidence: float = Field(default=1.0, ge=0, le=1)
    source: str = ""

    def as_ship_to(self) -> dict[str, str]:
        out = {"name": self.name, "line1": self.line1, "city": self.city, "state": self.state,
               "postal_code": self.postal_code, "country": self.country}
        if self.line2:
            out["line2"] = self.line2
        return out


class DraftLine(BaseModel):
    line_no: int
    buyer_part: str | None = None
    sku: str | None = None
    description: str = ""
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    requested_date: date | None = None
    confidence: dict[str, float] = Field(default_factory=dict, description="per field name")
    source: str = ""
    matched_by: str = ""

    def weakest(self) -> float:
        return min(self.confidence.values(), default=1.0)


class OrderDraft(BaseModel):
    source: DraftSource
    reference: str = Field(description="idempotency reference: Message-ID, ISA13/GS06/ST02, request key")
    kind: str = Field(default="order", description="order, question, cancellation, change, other")
    account_code: str | None = None
    customer_id: str | None = None
    sender: str = ""
    po_number: Sourced = Field(default_factory=Sourced)
    currency: str = "USD"
    ship_to: DraftAddress | None = None
    requested_date: Sourced = Field(default_factory=Sourced)
    notes: str = ""
    lines: list[DraftLine] = Field(default_factory=list)
    problems: list[DraftProblem] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="e.g. suspicious_instructions")
    warnings: list[str] = Field(default_factory=list)

    @property
    def touchless(self) -> bool:
        if self.kind != "order" or self.problems or self.flags or not self.lines or self.ship_to is None:
            return False
        confidences = [self.po_number.confidence, self.ship_to.confidence, self.requested_date.confidence,
                       *(line.weakest() for line in self.lines)]
        return min(confidences) >= TOUCHLESS_CONFIDENCE and all(ln.sku and ln.quantity for ln in self.lines)

    def to_place_order(self, channel: str) -> c.PlaceOrder:
        """The engine command for this draft; only for drafts whose lines all name a SKU and a whole quantity."""
        lines = []
        for line in self.lines:
            if not line.sku or line.quantity is None or line.quantity != line.quantity.to_integral_value():
                raise ValueError(f"line {line.line_no} has no SKU or no whole quantity")
            lines.append(c.NewOrderLine(sku=line.sku, quantity=int(line.quantity), unit_price=line.unit_price))
        requested = self.requested_date.value
        from datetime import UTC, datetime, time

        when = datetime.combine(requested, time(23, 59), tzinfo=UTC) if isinstance(requested, date) else None
        return c.PlaceOrder(channel=channel, external_id=str(self.po_number.value or self.reference)[:128],
                            lines=tuple(lines), ship_to=self.ship_to.as_ship_to() if self.ship_to else {},
                            customer_id=self.customer_id, account_code=self.account_code, currency=self.currency,
                            requested_delivery=when, notes=self.notes[:4000],
                            idempotency_key=f"intake:{self.source.value}:{self.reference}"[:200])
