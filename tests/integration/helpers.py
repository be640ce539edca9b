"""Shared setup for the integration tests: a small network, a controllable clock, table snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from engine.adapters.database import READ_ONLY
from engine.adapters.tables import metadata
from engine.domain import commands as c
from engine.domain.channels import ChannelKind
from engine.domain.network import NodeType
from engine.services.messagebus import MessageBus

ADDRESS = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
           "country": "US"}


class StepClock:
    """A clock that only moves when told to, plus one microsecond per reading.

    The microsecond tick keeps every command's timestamps distinct and increasing (so "newest first"
    orderings are well defined) while `advance` moves whole seconds, far larger than all ticks.
    """

    def __init__(self, start: datetime = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.start = start
        self.seconds = 0
        self.ticks = 0

    def reset(self) -> None:
        self.seconds = 0
        self.ticks = 0

    def advance(self, seconds: int) -> None:
        self.seconds += seconds

    def __call__(self) -> datetime:
        self.ticks += 1
        return self.start + timedelta(seconds=self.seconds, microseconds=self.ticks)


def add_node(bus: MessageBus, code: str) -> None:
    bus.handle(c.UpsertNode(code=code, name=f"Node {code}", node_type=NodeType.WAREHOUSE, city="Reno", state="NV",
                            postal_code="89502", latitude=39.5, longitude=-119.8, timezone="America/Los_Angeles",
                            daily_pick_capacity=5000, cutoff_local=time(15, 0)))


def add_sku(bus: MessageBus, sku: str, price: str = "9.99") -> None:
    bus.handle(c.UpsertSku(sku=sku, name=f"Item {sku}", category="home", unit_price=Decimal(price),
                           weight_kg=Decimal("1.2")))


def build_network(bus: MessageBus, *, skus: Iterable[str], nodes: Iterable[str],
                  channels: dict[str, bool]) -> None:
    """Catalog, nodes and channels (code -> priority) in one go."""
    for sku in skus:
        add_sku(bus, sku)
    for node in nodes:
        add_node(bus, node)
    for code, priority in channels.items():
        bus.handle(c.UpsertChannel(code=code, name=code.title(), kind=ChannelKind.WEB, priority=priority))


def _sort_key(row: tuple[Any, ...]) -> str:
    return repr(row)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (sorted here: PostgreSQL cannot ORDER BY json)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        for table in metadata.sorted_tables:
            rows = [tuple(r) for r in conn.execute(select(table))]
            tables[table.name] = sorted(rows, key=_sort_key)
    return tables
