"""The form the language model fills for one email (grammar-constrained JSON schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EmailKind = Literal["order", "change", "cancellation", "question", "other"]


class ExtractedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    buyer_part: str = Field(default="", max_length=64)
    sku: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=200)
    quantity: float = Field(default=0, ge=0, le=1_000_000)
    unit: str = Field(default="", max_length=16)
    unit_price: float | None = Field(default=None, ge=0, le=10_000_000)


class ExtractedAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)
    line1: str = Field(default="", max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=50)
    postal_code: str = Field(default="", max_length=16)
    country: str = Field(default="", max_length=2)


class EmailExtraction(BaseModel):
    """Classification and extraction in one call (one generation per email on a small local model)."""

    model_config = ConfigDict(extra="forbid")
    kind: EmailKind
    summary: str = Field(default="", max_length=300)
    po_number: str = Field(default="", max_length=64)
    order_reference: str = Field(default="", max_length=64)
    lines: list[ExtractedLine] = Field(default_factory=list, max_length=60)
    ship_to: ExtractedAddress = Field(default_factory=ExtractedAddress)
    requested_date: str = Field(default="", max_length=10)
