"""Consumers, B2B accounts and the price lists they buy from."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Tier(enum.StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


@dataclass
class Customer:
    customer_id: str
    email: str
    name: str
    tier: Tier = Tier.STANDARD
    account_code: str | None = None


@dataclass
class PriceList:
    code: str
    currency: str
    prices: dict[str, Decimal] = field(default_factory=dict)

    def price_for(self, sku: str) -> Decimal | None:
        return self.prices.get(sku)


@dataclass
class B2BAccount:
    code: str
    name: str
    tier: Tier
    price_list_code: str
    credit_limit: Decimal
    ship_complete: bool = False
    edi_partner_id: str | None = None
    email_domains: tuple[str, ...] = ()
