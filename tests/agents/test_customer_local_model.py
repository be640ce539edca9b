"""The customer chat on the real bundled local model (marker `llm`): a swap for another size is an exchange for
that size, not an address change; "it's too small" alone is a refund."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from agents.customer.graph import CustomerAssistant
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.access import Principal, Role
from tests.integration.test_returns import delivered_order
from tests.integration.test_routing_service import build

pytestmark = pytest.mark.llm


@pytest.fixture
def shop(sqlite_url: str) -> Iterator[tuple[App, Principal]]:
    app = bootstrap(database_url=sqlite_url, migrate=False)
    build(app.bus, stock={("SKU-A", "DC-EAST"): 10})
    for size in ("S", "M", "L"):
        app.bus.handle(c.UpsertSku(sku=f"TEE-{size}", name=f"Crew Tee, Grey, {size}", category="apparel",
                                   unit_price=Decimal("15"), weight_kg=Decimal("0.2"),
                                   attributes={"brand": "Northwind", "product": "Crew Tee", "color": "Grey",
                                               "size": size}))
        app.bus.handle(c.ReceiveStock(sku=f"TEE-{size}", node="DC-EAST", quantity=20, reference="opening"))
    app.bus.handle(c.UpsertCustomer(customer_id="cust-a", email="a@example.com", name="Ann Able"))
    app.access.create_principal(name="ann", role="customer", customer_id="cust-a", created_by="test")
    principal = app.access.find_principal("ann", Role.CUSTOMER)
    assert principal is not None
    yield app, principal
    app.close()


def test_the_local_model_tells_a_swap_for_a_size_from_a_refund(local_model: Any,
                                                                shop: tuple[App, Principal]) -> None:
    app, ann = shop
    bot = CustomerAssistant(app, local_model)
    first, second = (delivered_order(app, f"W-T{n}", {"TEE-S": n}) for n in (1, 2))
    swap = bot.ask(ann, "t1", f"can I swap order {first} for a medium?")
    [rma] = app.returns.for_order(first)
    assert rma["resolution"] == "exchange" and rma["lines"][0]["exchange_sku"] == "TEE-M", (swap, rma)
    assert rma["reason"] == "size_or_fit" and "Grey, M" in swap.answer
    refund = bot.ask(ann, "t2", f"I want to return order {second}, it's too small")
    [back] = app.returns.for_order(second)
    assert back["resolution"] == "refund" and back["reason"] == "size_or_fit", (refund, back)
