"""The same request sent many times at once yields one order, and every sender gets its result."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.bootstrap import bootstrap
from engine.domain import commands as c
from engine.domain import errors as e
from evals.perf.load import ADDRESS, build_network, sku_code

pytestmark = pytest.mark.slow


def _send_together(url: str, commands: list[c.PlaceOrder]) -> list[object]:
    app = bootstrap(database_url=url, migrate=False, deliver_events=False, pool_size=len(commands))
    gate = threading.Barrier(len(commands))

    def send(cmd: c.PlaceOrder) -> object:
        gate.wait()
        try:
            return app.bus.handle(cmd)
        except e.OrderloomError as exc:
            return exc.code

    with ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(send, commands))
    app.close()
    return results


def _order(key: str | None, external_id: str = "RACE-1") -> c.PlaceOrder:
    return c.PlaceOrder(channel="web", external_id=external_id, lines=(c.NewOrderLine(sku_code(0), 1),),
                        ship_to=ADDRESS, idempotency_key=key)


def test_one_idempotency_key_sent_eight_times_at_once_makes_one_order(database_url: str) -> None:
    app = bootstrap(database_url=database_url, migrate=False)
    build_network(app, skus=1, nodes=1, units=10)

    results = _send_together(database_url, [_order("key-1")] * 8)

    assert all(isinstance(r, dict) for r in results), results
    assert len({r["order_id"] for r in results if isinstance(r, dict)}) == 1
    with app.uow(readonly=True) as uow:
        assert uow.orders.find_by_external_id("web", "RACE-1") is not None
        assert uow.orders.get("2") is None
    app.close()


def test_one_external_id_sent_eight_times_at_once_is_accepted_once(database_url: str) -> None:
    app = bootstrap(database_url=database_url, migrate=False)
    build_network(app, skus=1, nodes=1, units=10)

    results = _send_together(database_url, [_order(None)] * 8)

    accepted = [r for r in results if isinstance(r, dict)]
    assert len(accepted) == 1
    assert sorted(r for r in results if not isinstance(r, dict)) == ["order.duplicate_external_id"] * 7
    app.close()
