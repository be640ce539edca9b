"""The catalog: sellable SKUs, their physical attributes and their approved substitutes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Substitute:
    """A SKU that may replace another, within an approved price range and date window.

    `min_price_ratio`/`max_price_ratio` bound the substitute's price relative to the original
    (1.00 = same price); outside them a person has to approve.
    """

    sku: str
    min_price_ratio: Decimal = Decimal("0.90")
    max_price_ratio: Decimal = Decimal("1.10")
    valid_from: date | None = None
    valid_until: date | None = None

    def allows(self, original_price: Decimal, substitute_price: Decimal, on: date) -> bool:
        if self.valid_from and on < self.valid_from:
            return False
        if self.valid_until and on > self.valid_until:
            return False
        if original_price <= 0:
            return substitute_price <= 0
        ratio = substitute_price / original_price
        return self.min_price_ratio <= ratio <= self.max_price_ratio


VARIANT_OF = ("brand", "product")   # attributes a product's sizes and colours share
VARIANT_BY = ("color", "size")      # attributes that set them apart


@dataclass
class Sku:
    sku: str
    name: str
    category: str
    unit_price: Decimal
    weight_kg: Decimal
    hazmat: bool = False
    is_new: bool = False
    unit_of_measure: str = "EA"
    attributes: dict[str, str] = field(default_factory=dict)
    substitutes: list[Substitute] = field(default_factory=list)
    active: bool = True

    def approved_substitute(self, candidate: str) -> Substitute | None:
        return next((s for s in self.substitutes if s.sku == candidate), None)

    @property
    def product_key(self) -> tuple[str, ...] | None:
        """The product this SKU is a size or colour of (its brand and product attributes), when the catalog
        says; None when it does not."""
        values = tuple(str(self.attributes.get(k) or "") for k in VARIANT_OF)
        return values if any(values) else None

    @property
    def variant_label(self) -> str:
        """What sets this variant apart from its siblings, e.g. "Heather Grey, M"; the name when unknown."""
        parts = [str(self.attributes[k]) for k in VARIANT_BY if self.attributes.get(k)]
        return ", ".join(parts) or self.name

    def is_variant_of(self, other: Sku) -> bool:
        """Another size or colour of the same product at the same price (what an exchange may send)."""
        return (self.sku != other.sku and self.category == other.category and self.unit_price == other.unit_price
                and self.product_key is not None and self.product_key == other.product_key)


def is_valid_sku_code(code: str) -> bool:
    return bool(SKU_PATTERN.match(code))
