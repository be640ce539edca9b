"""Read-only lookups the intake agent uses: who sent it, which SKUs exist, list prices, address checks.

Every function reads through a read-only unit of work; none changes state (the intake agent has no tool
that does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Protocol

from engine.domain.catalog import Sku, is_valid_sku_code
from engine.intake.matching import CatalogMatcher, DraftLine, MatchResult, SemanticIndex, index_by_buyer_part
from engine.services.handlers.orders import list_price
from engine.services.unit_of_work import AbstractUnitOfWork


class UowFactory(Protocol):
    def __call__(self, *, readonly: bool = ...) -> AbstractUnitOfWork: ...


class _CatalogView(Mapping[str, Sku]):
    """The catalog as the matcher sees it, read on demand (only the SKUs a line may become)."""

    def __init__(self, uow: AbstractUnitOfWork) -> None:
        self.uow = uow
        self.seen: dict[str, Sku | None] = {}

    def __getitem__(self, code: str) -> Sku:
        if code not in self.seen:
            self.seen[code] = self.uow.master.get_sku(code) if is_valid_sku_code(code) else None
        item = self.seen[code]
        if item is None or not item.active:
            raise KeyError(code)
        return item

    def __contains__(self, code: object) -> bool:
        try:
            self[str(code)]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, v in self.seen.items() if v is not None)

    def __len__(self) -> int:
        return sum(v is not None for v in self.seen.values())


class IntakeLookups:
    """`index` is the semantic catalog index (None: lines without a SKU or buyer part stay unmatched)."""

    def __init__(self, uow_factory: UowFactory | Callable[..., AbstractUnitOfWork],
                 index: SemanticIndex | None = None) -> None:
        self.uow_factory = uow_factory
        self.index = index

    def match(self, account_code: str | None, line: DraftLine) -> MatchResult:
        """Exact SKU, then the account's buyer part number, then the description's nearest SKUs."""
        with self.uow_factory(readonly=True) as uow:
            xref = index_by_buyer_part(uow.buyer_parts.for_account(account_code)) if account_code else {}
            # Prices are checked by the caller against the account's list once the SKU is known.
            return CatalogMatcher(_CatalogView(uow), self.index).match(line, xref=xref)

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
                price = list_price(uow, account.price_list_code if account else None, sku)
                if price is not None:
                    out[sku] = price
        return out
