"""Catalog matching against real storage: the buyer part cross-reference through the bus (SQLite and
PostgreSQL), and the real embedding model with Chroma on the demo catalog.

The model test needs the `matching` extra and scripts/fetch-embedding-model; it skips without them,
and fails instead when ORDERLOOM_REQUIRE_EMBEDDINGS=1 (CI sets it).
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest

from engine.adapters.buyer_parts import SqlBuyerPartRepository
from engine.adapters.catalog_index import embedding_model_available, model_files
from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain.catalog import Sku
from engine.domain.customers import PriceList, Tier
from engine.domain.errors import OrderloomError
from engine.intake.matching import CatalogMatcher, DraftLine, index_by_buyer_part
from engine.services.demo import _build_catalog
from tests.integration.helpers import add_sku, snapshot


@pytest.fixture
def xref_app(app: App) -> App:
    add_sku(app.bus, "GLV-L")
    app.bus.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"GLV-L": Decimal("2")}))
    app.bus.handle(c.UpsertAccount(code="ACME", name="Acme", tier=Tier.GOLD, price_list_code="PL-1",
                                   credit_limit=Decimal("5000")))
    return app


def _parts(app: App) -> list[tuple[str, str, str, int]]:
    with app.engine.connect() as conn:
        return [(p.buyer_part, p.sku, p.buyer_uom, p.units_per_buyer_uom)
                for p in SqlBuyerPartRepository(conn).for_account("ACME")]


def test_buyer_parts_are_stored_then_updated_in_place(xref_app: App) -> None:
    entry = c.BuyerPartEntry(buyer_part="AC-777", sku="GLV-L", buyer_uom="cs", units_per_buyer_uom=12)
    assert xref_app.bus.handle(c.UpsertBuyerParts(account_code="ACME", parts=(entry,)))["created"] == 1
    moved = c.BuyerPartEntry(buyer_part="AC-777", sku="GLV-L", buyer_uom="BX", units_per_buyer_uom=6)
    assert xref_app.bus.handle(c.UpsertBuyerParts(account_code="ACME", parts=(moved,)))["updated"] == 1
    assert _parts(xref_app) == [("AC-777", "GLV-L", "BX", 6)]


def test_bad_buyer_parts_are_refused_with_every_problem_and_nothing_is_stored(xref_app: App) -> None:
    before = snapshot(xref_app.engine)
    bad = (c.BuyerPartEntry(buyer_part="", sku="NOPE", buyer_uom="XX", units_per_buyer_uom=0),
           c.BuyerPartEntry(buyer_part="P-2", sku="GLV-L", buyer_uom="DZ", units_per_buyer_uom=10))
    with pytest.raises(OrderloomError) as caught:
        xref_app.bus.handle(c.UpsertBuyerParts(account_code="ACME", parts=bad))
    fields = {p.field for p in caught.value.problems}
    assert {"parts[0].buyer_part", "parts[0].sku", "parts[0].buyer_uom", "parts[0].units_per_buyer_uom",
            "parts[1].units_per_buyer_uom"} <= fields
    with pytest.raises(OrderloomError) as unknown:
        xref_app.bus.handle(c.UpsertBuyerParts(account_code="GHOST", parts=bad[1:]))
    assert "account_code" in {p.field for p in unknown.value.problems}
    assert snapshot(xref_app.engine) == before


def _require_model() -> None:
    if embedding_model_available():
        return
    if os.environ.get("ORDERLOOM_REQUIRE_EMBEDDINGS") == "1":
        model_files()  # raises EmbeddingModelMissing naming the install command
        pytest.fail("chromadb, onnxruntime or tokenizers is missing: pip install -e '.[matching]'")
    pytest.skip("embedding model not installed (scripts/fetch-embedding-model)")


def test_the_real_model_matches_demo_descriptions_and_reindexes_only_changes(tmp_path: Path) -> None:
    _require_model()
    from engine.adapters.catalog_index import ChromaCatalogIndex

    catalog = {s.sku: Sku(sku=s.sku, name=s.name, category=s.category, unit_price=s.unit_price,
                          weight_kg=s.weight_kg, attributes=dict(s.attributes)) for s in _build_catalog(7)}
    index = ChromaCatalogIndex(tmp_path / "chroma")
    assert index.sync(catalog.values())["indexed"] == len(catalog)
    reopened = ChromaCatalogIndex(tmp_path / "chroma")
    first = next(iter(catalog.values()))
    first.name += " (new label)"
    assert reopened.sync(catalog.values()) == {"indexed": 1, "deleted": 0, "unchanged": len(catalog) - 1}

    matcher = CatalogMatcher(catalog, reopened)
    target = catalog[sorted(catalog)[40]]
    started = time.perf_counter()
    result = matcher.match(DraftLine(description=target.name.lower().replace(",", ""), quantity=2, unit="DZ",
                                     unit_price=str(target.unit_price * 12)),
                           price_list=PriceList("PL", "USD", {target.sku: target.unit_price}))
    assert time.perf_counter() - started < 2.0
    assert (result.sku, result.method, result.quantity) == (target.sku, "semantic", 24)
    assert result.price_check.status == "ok"
    # Sizes of one product sit close together: such a line is either confident or flagged ambiguous, never silent.
    assert result.confident or [p.code for p in result.problems] == ["matching.ambiguous"]
    assert reopened.query("zzqx qqqq", 3)  # nonsense still answers candidates; the matcher's thresholds judge them
    assert index_by_buyer_part([]) == {}
