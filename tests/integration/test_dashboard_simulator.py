"""The channel simulator through the whole API, and the dashboard's read models against what it did, on
SQLite and PostgreSQL: every figure on the dashboard recomputed from the tables another way."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.http import create_api
from engine.adapters import tables as t
from engine.adapters.dashboard_queries import DashboardQueries
from engine.bootstrap import App, bootstrap
from engine.services.demo import seed_demo
from evals.simulator import ChannelSimulator
from tests.auth import headers

pytestmark = pytest.mark.slow


@pytest.fixture
def fed(database_url: str) -> Iterator[tuple[App, TestClient, ChannelSimulator]]:
    app = bootstrap(database_url=database_url, migrate=False)
    seed_demo(app.bus)
    with TestClient(create_api(app, background_seconds=0, intake_model=_rules(), returns_model=_grader()),
                    headers=headers(app, "sim", "ops")) as client:
        sim = ChannelSimulator(client, app.tracking.secret_for, seed=3, speed=50, fault_rate=0.2,
                               short_pick_rate=0.1, late_rate=0.3, emails=False, return_rate=0.6)
        sim.rng.seed(3)
        sim.return_rng.seed(3)
        for _ in range(12):
            sim.step(arrivals=4)
            time.sleep(0.15)
        yield app, client, sim
    app.close()


def _grader():  # type: ignore[no-untyped-def]
    from agents.llm import chat_model
    from agents.returns.grader import rules_handler

    return chat_model("fake", handler=rules_handler)


def _rules():  # type: ignore[no-untyped-def]
    from agents.intake.rules import rules_handler
    from agents.llm import chat_model

    return chat_model("fake", handler=rules_handler)


def test_the_simulator_drives_every_stage_and_the_dashboard_agrees_with_the_tables(
        fed: tuple[App, TestClient, ChannelSimulator]) -> None:
    app, client, sim = fed
    stats = sim.stats
    assert sum(stats.placed.values()) >= 40 and stats.errors == 0
    assert {"web", "marketplace", "b2b_edi"} <= set(stats.placed), stats.placed
    assert stats.released and stats.shipped and stats.delivered and stats.scans >= stats.delivered
    with app.engine.connect() as conn:
        by_channel = Counter(dict(conn.execute(  # the engine's own replacement orders (exchanges) aside
            select(t.orders.c.channel, func.count()).where(t.orders.c.external_id.not_like("EXCHANGE-%"))
            .group_by(t.orders.c.channel)).all()))
        delivered_scans = conn.execute(select(func.count()).select_from(t.tracking_events)
                                       .where(t.tracking_events.c.status == "delivered")).scalar_one()
        receipts = conn.execute(select(func.coalesce(func.sum(t.stock_movements.c.quantity), 0))
                                .where(t.stock_movements.c.kind == "receipt",
                                       t.stock_movements.c.reference.like("SIM-ASN-%"))).scalar_one()
    for channel, n in stats.placed.items():  # every order the API accepted is stored, once
        assert by_channel[channel] == n, (channel, by_channel, stats.placed)
    assert delivered_scans == stats.delivered
    assert receipts == stats.received_units
    # Customers sent things back; every graded sellable unit is back in the ledger at its restock node, once.
    assert stats.returns_requested and stats.returns_received and stats.returns_graded, stats
    with app.engine.connect() as conn:
        lines = t.return_lines.c
        restocked = conn.execute(select(func.coalesce(func.sum(lines.received), 0)).where(
            lines.disposition.in_(["restock_new", "open_box"]))).scalar_one()
        returned = conn.execute(select(func.coalesce(func.sum(t.stock_movements.c.quantity), 0))
                                .where(t.stock_movements.c.kind == "return")).scalar_one()
        graded = conn.execute(select(func.count()).select_from(t.return_lines)
                              .where(lines.grade.is_not(None))).scalar_one()
    assert returned == restocked and graded == stats.returns_graded
    # A "too small" return of a tee comes back as an exchange for the next size: its replacement sends that size.
    swaps = [rma for rma in app.returns.search(("closed",), limit=500) if rma["resolution"] == "exchange"]
    for rma in swaps:
        sent = {ln["exchange_sku"] or ln["sku"] for ln in rma["lines"] if ln["received"]}
        with app.uow(readonly=True) as uow:
            replacement = uow.orders.get(rma["exchange_order_id"])
        assert replacement is not None and {ln.sku for ln in replacement.lines} == sent, rma
    # Replaying the same receipt changes nothing (a warehouse that reports twice).
    body = {"sku": "HOM-0001", "node": "DC-RNO", "quantity": 5, "reference": "ASN-REPLAY-1"}
    atp = client.get("/inventory/atp/HOM-0001").json()
    assert client.post("/inventory/receipts", json=body).status_code == 201
    assert client.post("/inventory/receipts", json=body).status_code == 201
    after = client.get("/inventory/atp/HOM-0001").json()
    assert after["total"]["on_hand"] == atp["total"]["on_hand"] + 5
    dashboard_figures_match_the_tables(app, sim)


def dashboard_figures_match_the_tables(app: App, sim: ChannelSimulator) -> None:
    q = DashboardQueries(app.engine)
    with app.engine.connect() as conn:
        orders = conn.execute(select(t.orders.c.id, t.orders.c.channel, t.orders.c.status)).all()
        cases = conn.execute(select(t.exception_cases.c.order_id, t.exception_cases.c.status)).all()
        balances = conn.execute(select(t.stock_balances)).mappings().all()
    assert q.status_counts() == dict(Counter(o.status for o in orders))
    touched = {str(c.order_id) for c in cases if c.order_id is not None and c.status != "auto_resolved"}
    committed = {"allocated", "released", "shipped", "partially_shipped", "delivered"}
    kpis = {k["channel"]: k for k in q.channel_kpis()}
    for channel in {o.channel for o in orders}:
        mine = [o for o in orders if o.channel == channel]
        assert kpis[channel]["orders"] == len(mine)
        assert kpis[channel]["touchless"] == sum(1 for o in mine if o.status in committed
                                                 and str(o.id) not in touched)
        assert kpis[channel]["touched"] == sum(1 for o in mine if str(o.id) in touched)
        if kpis[channel]["routed"]:
            assert kpis[channel]["cost_per_order"] > 0
    assert q.oversell_check()["oversold_positions"] == 0
    assert q.oversell_check()["short_pick_cases"] == sim.stats.short_picks
    matrix = q.inventory(limit=500)
    cells = {(r["sku"], n): c for r in matrix["rows"] for n, c in r["cells"].items()}
    for b in balances:
        if (b["sku"], b["node"]) in cells:
            assert cells[(b["sku"], b["node"])]["on_hand"] == b["on_hand"]
            assert cells[(b["sku"], b["node"])]["reserved"] == b["reserved"]
    carriers = q.carrier_performance()
    assert sum(r["delivered"] for r in carriers) >= 1
    for r in carriers:
        assert r["on_time"] + r["late"] == r["delivered"] and r["delivered"] + r["moving"] == r["shipped"]
    positions = [e.position for e in q.events_after(0, 500)]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {e.event_type for e in q.events_after(0, 5000)} >= {"order.received", "order.routed",
                                                               "order.shipment_recorded", "order.delivered"}
    flow = q.orders_per_minute(app.clock(), 5)
    assert sum(n for _, n in flow) == len(orders)
