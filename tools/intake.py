"""Read-only lookups the intake agent uses: who sent it, which SKUs exist, list prices, address checks.

Every function reads through a read-only unit of work; none changes state (the intake agent has no tool
that does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Protocol

from engine.domain.catalog import is_valid_sku_code
from engine.services.unit_of_work import AbstractUnitOfWork


class UowFactory(Protocol):
    def __call__(self, *, readonly: bool = ...) -> AbstractUnitOfWork: ...


class IntakeLookups:
    def __init__(self, uow_factory: UowFactory | Callable[..., AbstractUnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def sender(self, email: str) -> tuple[str | None, str | None]:
        """(customer id, account code) for a sender address: the customer on file, else the account whose
        email domain it is (only when exactly one account claims the domain)."""
        if not email or "@" not in email or not email.isprintable() or len(email) > 254:
            return None, None
        with self.uow_factory(readonly=True) as uow:
            customer_id = uow.master.customer_id_by_email(email.lower())
            if customer_id is not None:
                customer = uow.master.get_customer(customer_id)
                return customer_id, customer.account_code if customer else None
            accounts = uow.master.account_codes_by_email_domain(email.rpartition("@")[2].lower())
        return None, accounts[0] if len(accounts) == 1 else None

    def existing_skus(self, codes: Iterable[str]) -> set[str]:
        valid = {c for c in codes if isinstance(c, str) and is_valid_sku_code(c)}
        if not valid:
            return set()
        with self.uow_factory(readonly=True) as uow:
            return uow.master.existing_skus(valid)

    def prices(self, account_code: str | None, skus: Iterable[str]) -> dict[str, Decimal]:
        """The price each SKU would be ordered at: the account's price list, else the catalog price."""
        out: dict[str, Decimal] = {}
        with self.uow_factory(readonly=True) as uow:
            account = uow.master.get_account(account_code) if account_code else None
            for sku in skus:
                price = uow.master.get_price(account.price_list_code, sku) if account else None
                if price is None:
                    item = uow.master.get_sku(sku)
                    price = item.unit_price if item else None
                if price is not None:
                    out[sku] = price
        return out
