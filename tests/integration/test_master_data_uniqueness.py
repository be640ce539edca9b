"""Unique master data (a customer's email, an account's EDI partner id) is refused with a stable code
before the write, not left to the database's constraint. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain.customers import Tier
from engine.domain.errors import OrderloomError
from tests.integration.helpers import add_sku, snapshot


def test_a_second_customer_with_a_taken_email_is_refused_and_nothing_is_stored(app: App) -> None:
    app.bus.handle(c.UpsertCustomer(customer_id="C-1", email="ada@example.com", name="Ada"))
    before = snapshot(app.engine)
    with pytest.raises(OrderloomError) as caught:
        app.bus.handle(c.UpsertCustomer(customer_id="C-2", email=" ADA@Example.com ", name="Ada"))
    assert caught.value.code == "validation.failed"
    assert [(p.field, p.code) for p in caught.value.problems] == [("email", "customer.email_taken")]
    assert snapshot(app.engine) == before
    # the customer that owns the email may still be updated with it
    assert app.bus.handle(c.UpsertCustomer(customer_id="C-1", email="ADA@example.com", name="Ada L."))["created"] \
        is False


def test_a_second_account_with_a_taken_edi_partner_id_is_refused_and_nothing_is_stored(app: App) -> None:
    add_sku(app.bus, "SKU-1")
    app.bus.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1": Decimal("8")}))

    def account(code: str, name: str) -> c.UpsertAccount:
        return c.UpsertAccount(code=code, name=name, tier=Tier.GOLD, price_list_code="PL-1",
                               credit_limit=Decimal("5000"), edi_partner_id="EDI-1")

    app.bus.handle(account("ACME", "Acme"))
    before = snapshot(app.engine)
    with pytest.raises(OrderloomError) as caught:
        app.bus.handle(account("GLOBEX", "Globex"))
    assert caught.value.code == "validation.failed"
    assert [(p.field, p.code) for p in caught.value.problems] == [("edi_partner_id", "account.edi_partner_taken")]
    assert snapshot(app.engine) == before
    assert app.bus.handle(account("ACME", "Acme Corp"))["created"] is False
