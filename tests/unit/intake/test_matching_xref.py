"""The buyer part cross-reference command: stored per account, every field checked, typed problems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import pytest

from engine.domain import commands as c
from engine.domain.customers import Tier
from engine.domain.errors import OrderloomError
from engine.intake.matching import BuyerPart
from engine.services.ports import BuyerPartRepository
from tests import fakes
from tests.fakes import World, add_sku, make_world, problem_fields


class FakeBuyerParts(BuyerPartRepository):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], BuyerPart] = {}

    def upsert(self, parts: Sequence[BuyerPart], at: datetime) -> int:
        created = sum((p.account_code, p.buyer_part) not in self.rows for p in parts)
        self.rows.update({(p.account_code, p.buyer_part): p for p in parts})
        return created

    def for_account(self, account_code: str) -> list[BuyerPart]:
        return [p for (a, _), p in sorted(self.rows.items()) if a == account_code]


@pytest.fixture
def w(monkeypatch: pytest.MonkeyPatch) -> tuple[World, FakeBuyerParts]:
    repo = FakeBuyerParts()
    begin = fakes.FakeUnitOfWork._begin

    def _begin(self: fakes.FakeUnitOfWork) -> None:
        begin(self)
        self.buyer_parts = repo  # type: ignore[attr-defined]

    monkeypatch.setattr(fakes.FakeUnitOfWork, "_begin", _begin)
    world = make_world(seed=False)
    add_sku(world.bus, "GLV-L")
    world.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"GLV-L": Decimal("2")}))
    world.handle(c.UpsertAccount(code="ACME", name="Acme", tier=Tier.GOLD, price_list_code="PL-1",
                                 credit_limit=Decimal("100")))
    return world, repo


def test_parts_are_stored_per_account_with_units_upper_cased(w: tuple[World, FakeBuyerParts]) -> None:
    world, repo = w
    part = c.BuyerPartEntry(buyer_part=" AC-1 ", sku="GLV-L", buyer_uom="cs", units_per_buyer_uom=12)
    assert world.handle(c.UpsertBuyerParts(account_code="ACME", parts=(part,)))["created"] == 1
    assert repo.for_account("ACME") == [BuyerPart("ACME", "AC-1", "GLV-L", "CS", 12, "")]


@pytest.mark.parametrize(("entry", "field", "code"), [
    (c.BuyerPartEntry(buyer_part="", sku="GLV-L"), "parts[0].buyer_part", "validation.required"),
    (c.BuyerPartEntry(buyer_part="A", sku="NOPE"), "parts[0].sku", "catalog.unknown_sku"),
    (c.BuyerPartEntry(buyer_part="A", sku="GLV-L", buyer_uom="XX"), "parts[0].buyer_uom", "matching.unknown_unit"),
    (c.BuyerPartEntry(buyer_part="A", sku="GLV-L", units_per_buyer_uom=0), "parts[0].units_per_buyer_uom",
     "validation.quantity"),
    (c.BuyerPartEntry(buyer_part="A", sku="GLV-L", units_per_buyer_uom=True), "parts[0].units_per_buyer_uom",
     "validation.quantity"),
    (c.BuyerPartEntry(buyer_part="A", sku="GLV-L", buyer_uom="DZ", units_per_buyer_uom=10),
     "parts[0].units_per_buyer_uom", "matching.unit_conflict"),
])
def test_each_bad_field_is_named(w: tuple[World, FakeBuyerParts], entry: c.BuyerPartEntry, field: str,
                                 code: str) -> None:
    world, repo = w
    with pytest.raises(OrderloomError) as caught:
        world.handle(c.UpsertBuyerParts(account_code="ACME", parts=(entry,)))
    assert field in problem_fields(caught.value) and repo.rows == {}
    assert problem_fields(caught.value)[field] == code


def test_an_unknown_account_duplicates_and_empty_uploads_are_refused(w: tuple[World, FakeBuyerParts]) -> None:
    world, repo = w
    part = c.BuyerPartEntry(buyer_part="A", sku="GLV-L")
    for cmd, field in ((c.UpsertBuyerParts(account_code="GHOST", parts=(part,)), "account_code"),
                       (c.UpsertBuyerParts(account_code="ACME", parts=(part, part)), "parts[1].buyer_part"),
                       (c.UpsertBuyerParts(account_code="ACME", parts=()), "parts")):
        with pytest.raises(OrderloomError) as caught:
            world.handle(cmd)
        assert field in problem_fields(caught.value)
    assert repo.rows == {}
