"""Catalog, network, channels, prices, accounts, customers, carriers and lanes: upserts and their checks."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

import pytest

from engine.domain import commands as c
from engine.domain.catalog import Substitute
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from engine.domain.events import MasterDataChanged
from engine.domain.network import NodeType, ServiceLevel
from tests.fakes import World, make_world, problem_fields


@pytest.fixture
def w() -> World:
    return make_world()


@pytest.fixture
def empty() -> World:
    return make_world(seed=False)


def sku_cmd(**kw: Any) -> c.UpsertSku:
    args: dict[str, Any] = {"sku": "SKU-9", "name": "Desk lamp", "category": "home", "unit_price": Decimal("19.90"),
                            "weight_kg": Decimal("1.250"), **kw}
    return c.UpsertSku(**args)


def node_cmd(**kw: Any) -> c.UpsertNode:
    args: dict[str, Any] = {"code": "DC-9", "name": "Node 9", "node_type": NodeType.WAREHOUSE, "city": "Reno",
                            "state": "NV", "postal_code": "89502", "latitude": 39.5, "longitude": -119.8,
                            "timezone": "America/Los_Angeles", "daily_pick_capacity": 100,
                            "cutoff_local": time(15, 0), **kw}
    return c.UpsertNode(**args)


def account_cmd(**kw: Any) -> c.UpsertAccount:
    args: dict[str, Any] = {"code": "ACME", "name": "Acme", "tier": Tier.GOLD, "price_list_code": "PL-1",
                            "credit_limit": Decimal("5000"), **kw}
    return c.UpsertAccount(**args)


def with_price_list(w: World) -> World:
    w.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1": Decimal("8.00")}))
    return w


def with_carrier(w: World) -> World:
    w.handle(c.UpsertCarrier(code="UPS", name="UPS", services=("ground", "next_day")))
    return w


# -- SKUs ------------------------------------------------------------------------------------------

def test_a_sku_is_created_then_updated_and_each_change_is_announced(empty: World) -> None:
    w = empty
    assert w.handle(sku_cmd(name="  Desk lamp ")) == {"sku": "SKU-9", "created": True}
    assert w.handle(sku_cmd(name="Desk lamp XL", unit_price=Decimal("24.50"))) == {"sku": "SKU-9", "created": False}
    stored = w.store.state.skus["SKU-9"]
    assert (stored.name, stored.unit_price, stored.weight_kg) == ("Desk lamp XL", Decimal("24.50"), Decimal("1.25"))
    events = w.events_since(0)
    assert all(isinstance(e, MasterDataChanged) for e in events)
    assert [(e.entity, e.key, e.change) for e in events] == [  # type: ignore[attr-defined]
        ("sku", "SKU-9", "created"), ("sku", "SKU-9", "updated")]


def test_a_sku_may_name_approved_substitutes_from_the_catalog(w: World) -> None:
    w.handle(sku_cmd(substitutes=(Substitute("SKU-1"), Substitute("SKU-2", Decimal("0.5"), Decimal("2")))))
    assert [s.sku for s in w.store.state.skus["SKU-9"].substitutes] == ["SKU-1", "SKU-2"]


@pytest.mark.parametrize("code", ["sku-9", "SKU 9", "", "-SKU", "S" * 65, "SKU-9\x00", "\u0160KU-9", 9])
def test_a_sku_code_must_be_upper_case_letters_digits_and_dashes(w: World, code: Any) -> None:
    error = w.refused(sku_cmd(sku=code), "catalog.unknown_sku")
    assert problem_fields(error) == {"sku": "catalog.unknown_sku"}


def test_every_problem_with_a_sku_is_listed_at_once(w: World) -> None:
    error = w.refused(sku_cmd(name=" ", category="home\x07", unit_price=Decimal("-0.01"),
                              weight_kg=Decimal("NaN")), "validation.failed")
    assert problem_fields(error) == {"name": "validation.required", "category": "validation.control_characters",
                                     "unit_price": "validation.money", "weight_kg": "validation.money"}


@pytest.mark.parametrize("price", [Decimal("-1"), Decimal("Infinity"), Decimal("sNaN"), 9.99, "9.99"])
def test_a_price_must_be_a_non_negative_decimal(w: World, price: Any) -> None:
    error = w.refused(sku_cmd(unit_price=price), "validation.failed")
    assert problem_fields(error) == {"unit_price": "validation.money"}


def test_a_name_with_control_characters_or_too_long_is_refused(w: World) -> None:
    error = w.refused(sku_cmd(name="Lamp\x00"), "validation.failed")
    assert problem_fields(error) == {"name": "validation.control_characters"}
    error = w.refused(sku_cmd(name="L" * 301), "validation.failed")
    assert problem_fields(error) == {"name": "validation.too_long"}


def test_a_sku_cannot_substitute_for_itself_or_for_something_unknown(w: World) -> None:
    error = w.refused(sku_cmd(substitutes=(Substitute("SKU-9"), Substitute("SKU-404"),
                                           Substitute("SKU-1", Decimal("1.2"), Decimal("1.1")))),
                      "validation.failed")
    assert problem_fields(error) == {"substitutes[0]": "catalog.self_substitute",
                                     "substitutes[1].sku": "catalog.unknown_sku",
                                     "substitutes[2]": "catalog.substitute_range"}


# -- nodes and channels ----------------------------------------------------------------------------

def test_a_node_is_created_then_updated(w: World) -> None:
    assert w.handle(node_cmd()) == {"node": "DC-9", "created": True}
    assert w.handle(node_cmd(daily_pick_capacity=0, ship_from_enabled=False)) == {"node": "DC-9", "created": False}
    stored = w.store.state.nodes["DC-9"]
    assert (stored.daily_pick_capacity, stored.ship_from_enabled, stored.cutoff_local) == (0, False, time(15, 0))


def test_every_problem_with_a_node_is_listed_at_once(w: World) -> None:
    error = w.refused(node_cmd(code="DC 9", name="Reno\x1b[31m", postal_code="", daily_pick_capacity=-1,
                               latitude=91.0), "validation.failed")
    assert problem_fields(error) == {"code": "validation.code_format", "name": "validation.control_characters",
                                     "postal_code": "validation.required",
                                     "daily_pick_capacity": "validation.capacity",
                                     "latitude/longitude": "validation.location"}


@pytest.mark.parametrize(("code", "problem"), [("web shop", "validation.code_format"), ("", "validation.required"),
                                               ("w" * 33, "validation.too_long"),
                                               ("web\x00", "validation.control_characters"),
                                               ("web;--", "validation.code_format")])
def test_a_channel_code_is_a_short_simple_code(w: World, code: str, problem: str) -> None:
    error = w.refused(c.UpsertChannel(code=code, name="Web", kind=ChannelKind.WEB), "validation.failed")
    assert problem_fields(error) == {"code": problem}


def test_a_channel_may_become_a_priority_channel(w: World) -> None:
    assert w.handle(c.UpsertChannel(code="web", name="Web", kind=ChannelKind.WEB, priority=True))["created"] is False
    assert w.store.state.channels["web"].priority is True


# -- price lists, accounts, customers --------------------------------------------------------------

def test_a_price_list_is_upserted_price_by_price(w: World) -> None:
    assert w.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1": Decimal("8")}))["created"]
    w.handle(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-2": Decimal("3.5")}))
    assert w.store.state.prices == {("PL-1", "SKU-1"): Decimal("8"), ("PL-1", "SKU-2"): Decimal("3.5")}


def test_a_price_list_with_unknown_skus_and_negative_prices_lists_every_problem(w: World) -> None:
    error = w.refused(c.UpsertPriceList(code="PL-1", currency="USD",
                                        prices={"SKU-404": Decimal("1"), "SKU-1": Decimal("-1")}),
                      "validation.failed")
    assert problem_fields(error) == {"prices[SKU-404]": "catalog.unknown_sku", "prices[SKU-1]": "validation.money"}
    error = w.refused(c.UpsertPriceList(code="PL-1", currency="USD", prices={"SKU-1\x00": Decimal("1")}),
                      "catalog.unknown_sku")
    assert problem_fields(error) == {"prices[SKU-1\x00]": "catalog.unknown_sku"}


@pytest.mark.parametrize("currency", ["EURO", "us", "usd", "", "U$D", 840])
def test_a_price_list_currency_is_a_three_letter_iso_code(w: World, currency: Any) -> None:
    error = w.refused(c.UpsertPriceList(code="PL-1", currency=currency, prices={"SKU-1": Decimal("1")}),
                      "validation.failed")
    assert problem_fields(error) == {"currency": "validation.currency"}


def test_an_account_buys_from_an_existing_price_list(w: World) -> None:
    with_price_list(w)
    assert w.handle(account_cmd()) == {"account": "ACME", "created": True}
    assert w.store.state.accounts["ACME"].price_list_code == "PL-1"


@pytest.mark.parametrize("price_list", ["PL-404", "", "PL-1\x00"])
def test_an_account_on_an_unknown_price_list_is_refused(w: World, price_list: str) -> None:
    with_price_list(w)
    error = w.refused(account_cmd(price_list_code=price_list), "validation.failed")
    assert problem_fields(error) == {"price_list_code": "pricing.unknown_price_list"}


def test_every_problem_with_an_account_is_listed_at_once(w: World) -> None:
    error = w.refused(account_cmd(code="AC ME", name="", credit_limit=Decimal("-5"), price_list_code="PL-404"),
                      "validation.failed")
    assert problem_fields(error) == {"code": "validation.code_format", "name": "validation.required",
                                     "credit_limit": "validation.money",
                                     "price_list_code": "pricing.unknown_price_list"}


def test_a_customer_email_is_stored_trimmed_and_in_lower_case(w: World) -> None:
    with_price_list(w)
    w.handle(account_cmd())
    assert w.handle(c.UpsertCustomer(customer_id="C-1", email=" Ada@Acme.Example ", name="Ada",
                                     account_code="ACME")) == {"customer": "C-1", "created": True}
    assert w.store.state.customers["C-1"].email == "ada@acme.example"


@pytest.mark.parametrize(("kw", "fields"), [
    ({"email": "ada.example.com"}, {"email": "validation.email"}),
    ({"email": "a@" + "x" * 320}, {"email": "validation.email"}),
    ({"customer_id": "C 1"}, {"customer_id": "validation.code_format"}),
    ({"name": "Ada\x00"}, {"name": "validation.control_characters"}),
    ({"account_code": "NOPE"}, {"account_code": "account.unknown"}),
    ({"account_code": ""}, {"account_code": "account.unknown"}),
    ({"account_code": "ACME\x00"}, {"account_code": "account.unknown"}),
])
def test_a_customer_with_a_bad_field_is_refused(w: World, kw: dict[str, Any], fields: dict[str, str]) -> None:
    args: dict[str, Any] = {"customer_id": "C-1", "email": "ada@example.com", "name": "Ada", **kw}
    code = "account.unknown" if set(fields.values()) == {"account.unknown"} else "validation.failed"
    error = w.refused(c.UpsertCustomer(**args), code)
    assert problem_fields(error) == fields


def test_a_second_customer_with_an_email_already_taken_is_refused_with_a_stable_code(w: World) -> None:
    w.handle(c.UpsertCustomer(customer_id="C-1", email="ada@example.com", name="Ada"))
    error = w.refused(c.UpsertCustomer(customer_id="C-2", email="ADA@example.com", name="Ada"), "validation.failed")
    assert problem_fields(error) == {"email": "customer.email_taken"}
    assert "C-1" in error.problems[0].message and error.problems[0].fix


def test_a_customer_is_updated_with_its_own_email(w: World) -> None:
    w.handle(c.UpsertCustomer(customer_id="C-1", email="ada@example.com", name="Ada"))
    assert w.handle(c.UpsertCustomer(customer_id="C-1", email=" ADA@Example.com", name="Ada Lovelace")) == {
        "customer": "C-1", "created": False}
    assert (w.store.state.customers["C-1"].email, w.store.state.customers["C-1"].name) == (
        "ada@example.com", "Ada Lovelace")


def test_a_second_account_with_an_edi_partner_id_already_taken_is_refused_with_a_stable_code(w: World) -> None:
    with_price_list(w)
    w.handle(account_cmd(edi_partner_id="EDI-ACME"))
    error = w.refused(account_cmd(code="GLOBEX", name="Globex", edi_partner_id="EDI-ACME"), "validation.failed")
    assert problem_fields(error) == {"edi_partner_id": "account.edi_partner_taken"}
    assert "ACME" in error.problems[0].message and error.problems[0].fix


def test_an_account_is_updated_with_its_own_edi_partner_id_and_others_may_have_none(w: World) -> None:
    with_price_list(w)
    w.handle(account_cmd(edi_partner_id="EDI-ACME"))
    assert w.handle(account_cmd(name="Acme Corp", edi_partner_id="EDI-ACME")) == {"account": "ACME",
                                                                                  "created": False}
    assert w.store.state.accounts["ACME"].name == "Acme Corp"
    assert w.handle(account_cmd(code="GLOBEX", name="Globex")) == {"account": "GLOBEX", "created": True}
    assert w.handle(account_cmd(code="INITECH", name="Initech")) == {"account": "INITECH", "created": True}


@pytest.mark.parametrize(("partner", "problem"), [("E" * 65, "validation.too_long"),
                                                  ("EDI\x00", "validation.control_characters"),
                                                  ("EDI\x1b", "validation.control_characters"),
                                                  (42, "validation.type")])
def test_an_edi_partner_id_is_short_text_without_control_characters(w: World, partner: Any, problem: str) -> None:
    with_price_list(w)
    error = w.refused(account_cmd(edi_partner_id=partner), "validation.failed")
    assert problem_fields(error) == {"edi_partner_id": problem}


# -- carriers and lanes ----------------------------------------------------------------------------

def test_a_carrier_offers_known_service_levels(w: World) -> None:
    assert w.handle(c.UpsertCarrier(code="UPS", name="UPS", services=("ground", "expedited"))) == {
        "carrier": "UPS", "created": True}
    assert w.store.state.carriers["UPS"].services == (ServiceLevel.GROUND, ServiceLevel.EXPEDITED)


def test_a_carrier_with_an_unknown_service_is_refused(w: World) -> None:
    error = w.refused(c.UpsertCarrier(code="UPS", name="UPS", services=("ground", "teleport")), "validation.failed")
    assert problem_fields(error) == {"services[1]": "carrier.unknown_service"}


def test_lanes_are_upserted_by_carrier_service_origin_and_destination(w: World) -> None:
    with_carrier(w)
    lanes = (("UPS", "ground", "DC-1", "941", 5, 3), ("UPS", "next_day", "DC-1", "941", 5, 1))
    assert w.handle(c.UpsertLanes(lanes=lanes)) == {"lanes": 2}
    w.handle(c.UpsertLanes(lanes=(("UPS", "ground", "DC-1", "941", 5, 2),)))
    assert sorted((k[1], v.transit_days) for k, v in w.store.state.lanes.items()) == [("ground", 2), ("next_day", 1)]


@pytest.mark.parametrize("prefix", ["94", "9410", "ABC", "", "9 1", "\uff19\uff14\uff11", "\u0669\u0664\u0661", 941])
def test_a_lane_destination_must_be_a_three_digit_zip_prefix(w: World, prefix: Any) -> None:
    with_carrier(w)
    error = w.refused(c.UpsertLanes(lanes=(("UPS", "ground", "DC-1", prefix, 5, 3),)), "validation.failed")
    assert problem_fields(error) == {"lanes[0].dest_prefix": "lane.dest_prefix"}


def test_every_problem_with_the_lanes_is_listed_at_once(w: World) -> None:
    with_carrier(w)
    error = w.refused(c.UpsertLanes(lanes=(("FEDEX", "ground", "DC-1", "941", 5, 3),
                                           ("UPS", "ground", "DC-404", "941", 5, 3),
                                           ("UPS", "ground", "DC-1", "941", 0, -1),
                                           ("UPS", "hovercraft", "DC-1", "941", 5, 3),
                                           ("UPS\x00", "ground", "DC-1", "941", 5, 3))),
                      "validation.failed")
    assert problem_fields(error) == {"lanes[0].carrier": "carrier.unknown", "lanes[1].origin_node":
                                     "network.unknown_node", "lanes[2]": "lane.transit",
                                     "lanes[3].service": "carrier.unknown_service",
                                     "lanes[4].carrier": "carrier.unknown"}
    assert w.store.state.lanes == {}
