"""The demo network: what it contains, that it is deterministic, and that seeding again changes nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.adapters import tables as t
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.network import NodeType
from engine.services import demo
from engine.services.demo import demo_plan, great_circle_miles, seed_demo, zone_for
from engine.services.views import available_to_promise, ledger, stock_at_node


@pytest.fixture(scope="module")
def seeded_file(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One database seeded with seed 7, copied by the tests that change it."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    application = bootstrap(database_url=f"sqlite:///{path}", migrate=False)
    summary = seed_demo(application.bus, seed=7)
    application.close()
    return path, summary


@pytest.fixture
def seeded(seeded_file: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[App]:
    path = tmp_path / "copy.db"
    shutil.copy(seeded_file[0], path)
    application = bootstrap(database_url=f"sqlite:///{path}", migrate=False)
    yield application
    application.close()


def snapshot(application: App) -> dict[str, int]:
    """Row counts and unit totals that any change of state would move."""
    with application.engine.connect() as conn:
        counts = {table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                  for table in t.metadata.sorted_tables}
        b = t.stock_balances.c
        counts["on_hand"] = int(conn.execute(select(func.sum(b.on_hand))).scalar_one())
        counts["safety"] = int(conn.execute(select(func.sum(b.safety_stock))).scalar_one())
    return counts


def test_the_seeded_network_has_the_promised_shape(seeded: App) -> None:
    with seeded.uow() as uow:
        nodes = uow.master.list_nodes()
        channels = {ch.code: ch for ch in uow.master.list_channels()}
        stores = [n for n in nodes if n.node_type == NodeType.STORE]
        assert len(nodes) >= 8 and len(stores) >= 4
        assert any(n.node_type == NodeType.THIRD_PARTY for n in nodes)
        assert any(n.b2b_only for n in nodes) and any(n.hazmat_capable for n in nodes)
        assert all(n.postal_code.isdigit() and "/" in n.timezone and n.daily_pick_capacity > 0 for n in nodes)
        assert set(channels) == {"web", "marketplace", "pos", "mobile", "b2b_edi", "email"}
        assert {code for code, ch in channels.items() if ch.priority} == {"b2b_edi", "email"}
        for n in nodes:
            lanes = uow.master.lanes_from(n.code)  # type: ignore[attr-defined]
            assert len({x.dest_prefix for x in lanes}) >= 100
            assert {(x.carrier, x.service.value) for x in lanes} >= {(code, s) for code, _, _ in demo.CARRIERS
                                                                     for s in ("ground", "expedited", "next_day")}
            assert all(2 <= x.zone <= 8 and x.transit_days >= 1 for x in lanes)
        for code, *_ in demo.ACCOUNTS:
            account = uow.master.get_account(code)
            assert account is not None and account.email_domains
            item = uow.master.get_sku("HOM-0001")
            assert item is not None
            price = uow.master.get_price(account.price_list_code, "HOM-0001")
            assert price is not None and price < item.unit_price
        assert uow.master.get_customer("CUST-0100") is not None
        assert len(uow.master.existing_skus(s.sku for s in demo_plan(7).skus)) >= 500
    assert len(demo.ACCOUNTS) >= 12


def test_the_seed_summary_counts_what_is_in_the_database(seeded_file: tuple[Path, dict[str, Any]]) -> None:
    summary = seeded_file[1]
    assert summary["already_seeded"] is False
    assert summary["skus"] >= 500 and summary["nodes"] >= 8 and summary["channels"] == 6
    assert summary["accounts"] >= 12 and summary["customers"] == 100
    assert summary["positions_in_database"] == summary["stock_positions"]
    assert summary["on_hand_in_database"] == summary["units"]


def test_the_seeded_ledger_explains_every_balance(seeded: App) -> None:
    assert seeded.bus.handle(c.ReconcileInventory())["drift"] == []


def test_stock_is_deep_at_dcs_shallow_at_stores_and_hazmat_only_where_allowed(seeded: App) -> None:
    hazmat_ok = {n.code for n in demo.NODES if n.hazmat}
    hazmat_skus = {s.sku for s in demo_plan(7).skus if s.hazmat}
    with seeded.uow() as uow:
        balances = uow.inventory.all_balances()
    per_type: dict[str, list[int]] = {}
    kind = {n.code: n.node_type.value for n in demo.NODES}
    for b in balances:
        per_type.setdefault(kind[b.node], []).append(b.on_hand)
        if b.sku in hazmat_skus:
            assert b.node in hazmat_ok
    mean = {k: sum(v) / len(v) for k, v in per_type.items()}
    assert mean["warehouse"] > 5 * mean["store"]
    assert len(balances) < len(demo.NODES) * 520  # not every SKU everywhere


def test_protected_units_and_the_flash_sale_cap_show_in_available_to_promise(seeded: App) -> None:
    plan = demo_plan(7)
    protected = next(cmd for cmd in plan.policies if cmd.protected_qty > 0)
    capped_sku, cap = plan.caps[0]
    with seeded.uow() as uow:
        guarded = available_to_promise(uow, protected.sku)
        capped = available_to_promise(uow, capped_sku, "marketplace")
    web, edi = guarded.for_channel("web"), guarded.for_channel("b2b_edi")
    assert web is not None and edi is not None and web.available < edi.available
    market = capped.for_channel("marketplace")
    assert market is not None and market.cap == cap and market.available <= cap


def test_seeding_again_with_the_same_seed_changes_nothing(seeded: App) -> None:
    before = snapshot(seeded)
    summary = seed_demo(seeded.bus, seed=7)
    assert summary["already_seeded"] is True and summary["commands_applied"] == 0
    assert snapshot(seeded) == before


def test_an_interrupted_seed_sent_again_in_full_changes_nothing(seeded: App,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the completion marker every command is sent again: idempotency keys make them no-ops.
    monkeypatch.setattr(demo, "_already_applied", lambda bus, plan: False)
    before = snapshot(seeded)
    summary = seed_demo(seeded.bus, seed=7)
    assert summary["receipts_skipped"] == summary["stock_positions"]
    assert summary["caps_skipped"] == summary["channel_caps"]
    assert snapshot(seeded) == before


def test_another_seed_never_adds_stock_to_positions_that_exist(seeded: App) -> None:
    with seeded.uow() as uow:
        first = {(b.sku, b.node): b.on_hand for b in uow.inventory.all_balances()}
    summary = seed_demo(seeded.bus, seed=8)
    assert summary["receipts_skipped"] > 0
    with seeded.uow() as uow:
        after = {(b.sku, b.node): b.on_hand for b in uow.inventory.all_balances()}
    assert {k: after[k] for k in first} == first
    assert seeded.bus.handle(c.ReconcileInventory())["drift"] == []


def test_the_same_seed_gives_the_same_catalog_network_and_stock_plan() -> None:
    a, b = demo_plan(7), demo_plan(7)
    assert a.master == b.master and a.receipts == b.receipts and a.policies == b.policies and a.caps == b.caps
    other = demo_plan(8)
    assert [s.sku for s in other.skus] == [s.sku for s in a.skus]  # codes are stable, contents are not
    assert [s.name for s in other.skus] != [s.name for s in a.skus]
    assert other.receipts != a.receipts


def test_the_catalog_has_variants_substitutes_new_and_hazmat_skus() -> None:
    skus = demo_plan(7).skus
    codes = {s.sku for s in skus}
    assert len(skus) >= 500 and len(codes) == len(skus)
    assert {s.category for s in skus} == {"apparel", "home", "outdoor", "electronics", "beauty", "household"}
    assert any(s.hazmat and "aerosols" in s.attributes["dangerous_goods"] for s in skus)
    assert any(s.hazmat and "lithium" in s.attributes["dangerous_goods"] for s in skus)
    assert 0 < sum(s.is_new for s in skus) < len(skus) // 5
    subs = [(s, sub) for s in skus for sub in s.substitutes]
    assert len(subs) > 50
    assert all(sub.sku in codes and sub.sku != s.sku and sub.min_price_ratio < 1 < sub.max_price_ratio
               for s, sub in subs)
    assert all(s.unit_price > 0 and s.weight_kg > 0 for s in skus)
    assert sum("size" in s.attributes for s in skus) > 200


def test_zones_follow_great_circle_distance() -> None:
    reno, new_york = (39.53, -119.81), (40.75, -73.99)
    assert zone_for(great_circle_miles(*reno, *reno)) == 2
    assert 2350 < great_circle_miles(*reno, *new_york) < 2450
    assert zone_for(great_circle_miles(*reno, *new_york)) == 8
    assert zone_for(450) == 4


@pytest.mark.postgres
def test_the_demo_seeds_idempotently_and_reads_back_on_postgresql(postgres_url: str) -> None:
    application = bootstrap(database_url=postgres_url, migrate=False)
    try:
        first = seed_demo(application.bus, seed=7)
        assert first["positions_in_database"] == first["stock_positions"]
        assert seed_demo(application.bus, seed=7)["already_seeded"] is True
        assert application.bus.handle(c.ReconcileInventory())["drift"] == []
        with application.uow() as uow:
            atp = available_to_promise(uow, "HOM-0001")
            node = stock_at_node(uow, "DC-RNO", limit=5)
            moves = ledger(uow, "HOM-0001", "DC-RNO")
        assert atp.total.on_hand == sum(r.on_hand for r in atp.nodes) > 0
        assert len(node.rows) == 5 and node.sku_count > 100
        assert moves.entries[0].reference == "DEMO-OPENING-S7"
    finally:
        application.close()
