"""Orders routed from several threads at once compete for scarce stock and pick capacity: each ends fully
allocated or in exception with a reason, nothing is oversold, and the ledger reconciles."""

from __future__ import annotations

import random
import threading

import pytest

from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.orders import OrderStatus
from engine.domain.routing import DecisionOutcome
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import assert_no_oversell, build, place

pytestmark = pytest.mark.slow

THREADS = 6
ORDERS_PER_THREAD = 6


def test_concurrent_routing_never_oversells_and_drops_no_line(database_url: str) -> None:
    app: App = bootstrap(database_url=database_url, migrate=False, clock=StepClock(), pool_size=THREADS + 2)
    build(app.bus, stock={("SKU-A", "DC-EAST"): 8, ("SKU-A", "DC-WEST"): 6, ("SKU-A", "ST-NYC"): 4,
                          ("SKU-B", "DC-EAST"): 10, ("SKU-B", "DC-WEST"): 5},
          capacity={"DC-EAST": 20})
    rng = random.Random(5)
    orders = [place(app.bus, f"C-{i}", {"SKU-A": rng.randint(1, 3), **({"SKU-B": rng.randint(1, 4)}
                                                                     if rng.random() < 0.6 else {})})
              for i in range(THREADS * ORDERS_PER_THREAD)]
    errors: list[BaseException] = []

    def work(mine: list[str]) -> None:
        try:
            for order_id in mine:
                app.router.route(order_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(orders[i::THREADS],)) for i in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    allocated = 0
    with app.uow(readonly=True) as uow:
        for order_id in orders:
            order = uow.orders.get(order_id)
            assert order is not None
            live = uow.inventory.reservations(order_id=order_id)
            decisions = uow.routing.decisions(order_id)
            if order.status is OrderStatus.ALLOCATED:
                allocated += 1
                for line in order.lines:
                    assert sum(r.quantity for r in live if r.line_no == line.line_no) == line.quantity
                assert sum(d.outcome is DecisionOutcome.COMMITTED for d in decisions) == 1
            else:
                assert order.status is OrderStatus.EXCEPTION, order.status
                assert live == [] and order.status_reason
                assert decisions[-1].outcome is DecisionOutcome.FAILED
        used = uow.routing.capacity_used({"DC-EAST": "2030-01-01"}).get("DC-EAST", 0)
        east = sum(r.quantity for o in orders for r in uow.inventory.reservations(order_id=o)
                   if r.node == "DC-EAST")
    # 18 units of SKU-A for 36 orders that want 1-3 each: some must fail, and some must succeed.
    assert 5 <= allocated < len(orders)
    assert used == east <= 20
    assert_no_oversell(app)
    assert app.bus.handle(c.ReconcileInventory())["drift"] == []
    app.close()
