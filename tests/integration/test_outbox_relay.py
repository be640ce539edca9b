"""The outbox: events are stored with the change, delivered at least once, in order, and parked
when a subscriber keeps failing; consumers act once per event id."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.adapters import tables as t
from engine.adapters.outbox import OutboxMessage, ProcessedEvents
from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.network import NodeType


def _network(app: App) -> None:
    app.bus.handle(c.UpsertSku(sku="SKU-1", name="Lamp", category="home", unit_price=Decimal("5"),
                               weight_kg=Decimal("1")))
    app.bus.handle(c.UpsertNode(code="DC-1", name="DC", node_type=NodeType.WAREHOUSE, city="Reno", state="NV",
                                postal_code="89502", latitude=39.5, longitude=-119.8,
                                timezone="America/Los_Angeles", daily_pick_capacity=100, cutoff_local=time(15)))


def _outbox(app: App) -> list[dict[str, object]]:
    with app.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t.outbox).order_by(t.outbox.c.id)).mappings()]


def test_events_are_written_in_the_same_transaction_and_not_at_all_when_the_command_fails(app: App) -> None:
    _network(app)
    before = len(_outbox(app))
    app.bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=3))
    with pytest.raises(e.StockInvariantViolation):
        app.bus.handle(c.AdjustStock(sku="SKU-1", node="DC-1", delta=-10, reason="damaged"))
    rows = _outbox(app)
    assert [r["event_type"] for r in rows[before:]] == ["inventory.stock_moved"]
    assert rows[-1]["version"] == 1
    assert len({r["event_id"] for r in rows}) == len(rows)


def test_the_relay_delivers_in_order_and_retries_a_failing_subscriber(app: App) -> None:
    seen: list[str] = []
    failures = {"left": 2}

    def flaky(message: OutboxMessage) -> None:
        if message.event_type == "inventory.stock_moved" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("downstream unavailable")
        seen.append(message.event_type)

    app.relay.subscribe("*", flaky)
    _network(app)
    app.bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=3))  # fails once (first pump)
    assert seen == ["master_data.changed", "master_data.changed"]
    app.relay.pump()  # fails again
    app.relay.pump()  # delivered
    assert seen[-1] == "inventory.stock_moved"
    row = _outbox(app)[-1]
    assert row["published_at"] is not None
    assert row["attempts"] == 2
    assert "downstream unavailable" in str(row["last_error"])


def test_a_message_that_keeps_failing_is_parked_so_it_cannot_block_the_rest(app: App) -> None:
    def broken(message: OutboxMessage) -> None:
        if message.event_type == "master_data.changed":
            raise ValueError("poison")

    app.relay.subscribe("master_data.changed", broken)
    _network(app)
    for _ in range(2 * app.relay.max_attempts):  # two poisoned messages, each parked after its attempts
        app.relay.pump()
    rows = _outbox(app)
    assert all(r["published_at"] is not None for r in rows)
    assert rows[0]["attempts"] == app.relay.max_attempts


def test_a_consumer_acts_once_per_event_id_even_when_the_event_is_delivered_twice(app: App) -> None:
    applied: list[str] = []
    inbox = ProcessedEvents("test-consumer")

    def consumer(message: OutboxMessage) -> None:
        with app.engine.begin() as conn:
            if inbox.first_time(conn, message.event_id):
                applied.append(message.event_id)

    app.relay.subscribe("*", consumer)
    _network(app)
    first = _outbox(app)[0]
    replay = OutboxMessage(int(str(first["id"])), str(first["event_id"]), str(first["event_type"]), 1,
                           str(first["aggregate"]), str(first["aggregate_id"]), {}, first["occurred_at"])  # type: ignore[arg-type]
    consumer(replay)
    assert len(applied) == len(set(applied)) == 2
