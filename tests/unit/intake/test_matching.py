"""Catalog matching: every path through the matcher, with a fake semantic index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.domain.catalog import Sku
from engine.domain.customers import PriceList
from engine.intake.matching import BuyerPart, CatalogMatcher, DraftLine, index_by_buyer_part


class FakeIndex:
    def __init__(self, hits: list[tuple[str, float]]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def query(self, text: str, k: int) -> list[tuple[str, float]]:
        self.queries.append(text)
        return self.hits[:k]


def _sku(code: str, name: str) -> Sku:
    return Sku(sku=code, name=name, category="Tools", unit_price=Decimal("10.00"), weight_kg=Decimal("1"))


CATALOG = {s.sku: s for s in (_sku("HAM-16", "Claw hammer 16 oz"), _sku("HAM-20", "Claw hammer 20 oz"),
                              _sku("GLV-L", "Work gloves large"))}
PRICES = PriceList("PL1", "USD", {"HAM-16": Decimal("10.00"), "GLV-L": Decimal("2.00")})
XREF = index_by_buyer_part([BuyerPart("ACME", "AC-777", "GLV-L", "CS", 12)])


def matcher(hits: list[tuple[str, float]] | None = None) -> CatalogMatcher:
    return CatalogMatcher(CATALOG, FakeIndex(hits or []))


def test_an_exact_sku_matches_with_full_confidence_and_a_price_check() -> None:
    result = matcher().match(DraftLine(sku="ham-16", quantity=3, unit_price="10.00"), price_list=PRICES)
    assert (result.sku, result.method, result.confidence, result.quantity) == ("HAM-16", "exact_sku", 1.0, 3)
    assert result.price_check.status == "ok" and result.problems == ()


def test_a_buyer_part_converts_cases_to_eaches_and_prices_per_each() -> None:
    result = matcher().match(DraftLine(buyer_part="AC-777", quantity=2, unit="CS", unit_price="24.00"),
                             xref=XREF, price_list=PRICES)
    assert (result.sku, result.method, result.quantity, result.unit) == ("GLV-L", "xref", 24, "EA")
    assert result.price_check.status == "ok" and result.price_check.got == Decimal("2.00")


@pytest.mark.parametrize(("unit", "expected"), [("DZ", 24), ("CS12", 24), ("cs of 6", 12), ("BX/10", 20), ("EA", 2)])
def test_standard_and_sized_pack_units_convert(unit: str, expected: int) -> None:
    assert matcher().match(DraftLine(sku="HAM-16", quantity=2, unit=unit)).quantity == expected


def test_an_unknown_unit_is_a_problem() -> None:
    result = matcher().match(DraftLine(sku="HAM-16", quantity=2, unit="BX"))
    assert result.quantity is None and [p.code for p in result.problems] == ["matching.unknown_unit"]


def test_a_confident_semantic_match_lists_candidates() -> None:
    m = matcher([("HAM-16", 0.91), ("HAM-20", 0.70)])
    result = m.match(DraftLine(description="claw hamer 16oz", quantity=1))
    assert (result.sku, result.method) == ("HAM-16", "semantic") and result.confident
    assert result.confidence > 0.5 and result.candidates[0] == ("HAM-16", 0.91)


def test_an_ambiguous_semantic_match_is_not_confident_and_lists_both() -> None:
    result = matcher([("HAM-16", 0.88), ("HAM-20", 0.87)]).match(DraftLine(description="claw hammer", quantity=1))
    assert not result.confident and result.confidence < 0.5
    assert [p.code for p in result.problems] == ["matching.ambiguous"]
    assert [s for s, _ in result.candidates[:2]] == ["HAM-16", "HAM-20"]


def test_a_weak_semantic_match_asks_for_confirmation() -> None:
    result = matcher([("GLV-L", 0.6)]).match(DraftLine(description="mittens", quantity=1))
    assert not result.confident and [p.code for p in result.problems] == ["matching.low_confidence"]


def test_nothing_similar_is_no_match() -> None:
    result = matcher([("GLV-L", 0.1)]).match(DraftLine(description="rocket fuel", quantity=1))
    assert (result.sku, result.method, result.confidence) == (None, "none", 0.0)


def test_a_price_off_the_list_is_a_mismatch_with_both_prices() -> None:
    result = matcher().match(DraftLine(sku="HAM-16", quantity=1, unit_price="12.50"), price_list=PRICES)
    assert result.price_check.status == "mismatch"
    assert (result.price_check.expected, result.price_check.got) == (Decimal("10.00"), Decimal("12.50"))


def test_a_sku_missing_from_the_price_list_has_no_price() -> None:
    result = matcher().match(DraftLine(sku="HAM-20", quantity=1, unit_price="9"), price_list=PRICES)
    assert result.price_check.status == "no_price"


def test_a_stale_cross_reference_falls_back_to_the_description() -> None:
    xref = index_by_buyer_part([BuyerPart("ACME", "OLD-1", "GONE-1")])
    result = matcher([("HAM-20", 0.95)]).match(DraftLine(buyer_part="OLD-1", description="hammer 20", quantity=1),
                                               xref=xref)
    assert result.sku == "HAM-20" and "matching.xref_stale" in [p.code for p in result.problems]


@pytest.mark.parametrize("line", [
    DraftLine(), DraftLine(sku="'; DROP TABLE skus;--", quantity="NaN", unit_price="abc"),
    DraftLine(description="\x00\x1b[2J" * 1000, quantity=True), DraftLine(sku="HAM-16", quantity="-5"),
    DraftLine(sku="HAM-16", quantity="1e400", unit="\u202e" * 50), DraftLine(sku="HAM-16", quantity="0.5", unit="EA"),
])
def test_hostile_input_becomes_problems_not_exceptions(line: DraftLine) -> None:
    index = FakeIndex([])
    result = CatalogMatcher(CATALOG, index).match(line, price_list=PRICES)
    assert result.problems and all(len(q) <= 500 for q in index.queries)
