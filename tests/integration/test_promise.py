"""The delivery promise against a real database (SQLite and PostgreSQL): the reservation path's ATP, the
router's lanes and cutoffs, the cache and its invalidation, and hostile input.

The clock is fixed at Wednesday 2026-11-25 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.adapters.unit_of_work import SqlUnitOfWork
from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import ChannelKind
from engine.domain.network import NodeType
from engine.services.promise import MAX_LINES, DeliveryPromiser

from .helpers import add_sku, snapshot

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
EAST, WEST, WHOLESALE = "DC-EAST", "DC-WEST", "DC-WHOLE"
A, B, C = "HOM-0001", "HOM-0002", "HOM-0003"


def _node(app: App, code: str, tz: str, cutoff: time, **kwargs: Any) -> None:
    app.bus.handle(c.UpsertNode(code=code, name=code, node_type=NodeType.WAREHOUSE, city="X", state="NY",
                                postal_code="10001", latitude=40.7, longitude=-74.0, timezone=tz,
                                daily_pick_capacity=1000, cutoff_local=cutoff, **kwargs))


@pytest.fixture
def network(app: App) -> App:
    """Three nodes, three channels, two carriers' lanes into ZIP3 100, stock with safety and protection."""
    _node(app, EAST, "America/New_York", time(16, 0))
    _node(app, WEST, "America/Los_Angeles", time(15, 0))
    _node(app, WHOLESALE, "America/Chicago", time(14, 0), b2b_only=True)
    for code, kind, priority in (("web", ChannelKind.WEB, False), ("edi", ChannelKind.B2B_EDI, True),
                                 ("marketplace", ChannelKind.MARKETPLACE, False)):
        app.bus.handle(c.UpsertChannel(code=code, name=code, kind=kind, priority=priority))
    for carrier in ("UPX", "FDX"):
        app.bus.handle(c.UpsertCarrier(code=carrier, name=carrier, services=("ground", "next_day")))
    app.bus.handle(c.UpsertLanes(lanes=(
        ("UPX", "ground", EAST, "100", 2, 2, 0.97), ("FDX", "ground", EAST, "100", 2, 3, 0.99),
        ("UPX", "next_day", EAST, "100", 2, 1, 0.9),
        ("UPX", "ground", WEST, "100", 8, 5, 0.95), ("UPX", "next_day", WEST, "100", 8, 1, 0.92),
        ("UPX", "ground", WHOLESALE, "100", 5, 3, 0.96),
        ("UPX", "ground", EAST, "900", 8, 5, 0.9))))
    for sku in (A, B, C):
        add_sku(app.bus, sku)
    for sku, node, qty in ((A, EAST, 5), (A, WEST, 10), (B, WEST, 3), (C, WHOLESALE, 24)):
        app.bus.handle(c.ReceiveStock(sku=sku, node=node, quantity=qty, reference="PO-1"))
    app.bus.handle(c.SetStockPolicy(sku=A, node=EAST, safety_stock=1))
    app.bus.handle(c.SetStockPolicy(sku=B, node=WEST, safety_stock=0, protected_qty=2))
    return app


def promiser_for(app: App, **kwargs: Any) -> DeliveryPromiser:
    def uow(*, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(app.engine, lambda: NOW, readonly=readonly)

    # This network's lanes have no rate cards; the tests of priced-lanes-only (the default) say so.
    kwargs.setdefault("priced_lanes_only", False)
    return DeliveryPromiser(uow, **kwargs)


def option(result: Any, service: str = "ground") -> Any:
    return next(o for o in result.options if o.service_level == service)


# -- the same numbers as the reservation path and the router ----------------------------------------

def test_a_basket_ships_from_the_node_that_delivers_first_after_safety_stock(network: App) -> None:
    result = promiser_for(network).promise([(A, 4)], "10001")
    ground = option(result)
    assert (ground.nodes, ground.delivery_date) == ([EAST], date(2026, 11, 27))
    assert ground.shipments[0].carrier == "UPX" and ground.confidence == 0.97
    assert option(result, "next_day").delivery_date == date(2026, 11, 26)
    assert option(result, "expedited").reasons[0].code == "no_lane"
    assert result.earliest == option(result, "next_day")


def test_one_unit_beyond_what_a_reservation_could_take_moves_the_basket_to_one_other_node(network: App) -> None:
    ground = option(promiser_for(network).promise([(A, 5)], "10001"))
    # EAST holds 5 but keeps 1 as safety stock; WEST alone gives the same date as EAST + WEST.
    assert (ground.nodes, ground.delivery_date) == ([WEST], date(2026, 12, 1))


def test_a_checkout_hold_takes_exactly_the_units_the_promise_counted(network: App) -> None:
    with pytest.raises(e.InsufficientStock):
        network.bus.handle(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine(sku=A, node=EAST, quantity=5),)))
    network.bus.handle(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine(sku=A, node=EAST, quantity=4),)))
    ground = option(promiser_for(network).promise([(A, 1)], "10001", channel="web"))
    assert ground.nodes == [WEST]


def test_protected_units_are_promised_to_priority_channels_only(network: App) -> None:
    promiser = promiser_for(network)
    web = option(promiser.promise([(B, 2)], "10001", channel="web"))
    assert (web.reasons[0].code, web.reasons[0].available) == ("insufficient_stock", 1)
    edi = option(promiser.promise([(B, 2)], "10001", channel="edi"))
    assert edi.nodes == [WEST]


def test_b2b_only_nodes_serve_b2b_channels_only(network: App) -> None:
    promiser = promiser_for(network)
    assert option(promiser.promise([(C, 1)], "10001")).reasons[0].code == "no_stock"
    assert option(promiser.promise([(C, 1)], "10001", channel="edi")).nodes == [WHOLESALE]


def test_a_channel_cap_limits_the_promise(network: App) -> None:
    network.bus.handle(c.SetChannelCap(channel="marketplace", sku=A, cap=2))
    promiser = promiser_for(network)
    capped = option(promiser.promise([(A, 3)], "10001", channel="marketplace"))
    assert (capped.possible, capped.reasons[0].code) == (False, "channel_cap")
    assert option(promiser.promise([(A, 3)], "10001", channel="web")).possible


def test_a_region_without_lanes_is_unreachable_and_other_regions_use_their_own_lanes(network: App) -> None:
    promiser = promiser_for(network)
    nowhere = promiser.promise([(A, 1)], "59001")
    assert all(o.reasons[0].code == "no_lane" for o in nowhere.options)
    west_coast = option(promiser.promise([(A, 1)], "90001-1234"))
    assert (west_coast.nodes, west_coast.delivery_date) == ([EAST], date(2026, 12, 1))


def test_a_new_stock_level_is_seen_at_once_without_touching_the_cache(network: App) -> None:
    promiser = promiser_for(network)
    assert not option(promiser.promise([(B, 5)], "10001", channel="edi")).possible
    network.bus.handle(c.ReceiveStock(sku=B, node=WEST, quantity=2, reference="PO-2"))
    assert option(promiser.promise([(B, 5)], "10001", channel="edi")).possible
    assert promiser.loads == 1


def test_a_node_whose_pick_capacity_today_is_committed_ships_the_next_day(network: App) -> None:
    with SqlUnitOfWork(network.engine, lambda: NOW) as uow:
        assert uow.routing.try_take_capacity(EAST, "2026-11-25", 1000, 1000)
        assert uow.routing.try_take_capacity(WEST, "2026-11-24", 1000, 1000)  # another day: no effect
        uow.commit()
    result = promiser_for(network).promise([(A, 1)], "10001")
    assert option(result).shipments[0].ship_date == date(2026, 11, 26)
    assert option(result, "next_day").nodes == [WEST]  # ships today, arrives a day before EAST's parcel


# -- the cached network and its invalidation ---------------------------------------------------------

def test_a_lane_change_committed_in_this_process_drops_the_cached_network(network: App) -> None:
    promiser = promiser_for(network)
    promiser.watch(network.bus)
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 27)
    network.bus.handle(c.UpsertLanes(lanes=(("UPX", "ground", EAST, "100", 2, 4, 0.97),)))
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 28)
    _node(network, EAST, "America/New_York", time(9, 0))  # the cutoff moves before 10:00 local
    ground = option(promiser.promise([(A, 1)], "10001"))
    assert ground.shipments[0].ship_date == date(2026, 11, 26)
    assert promiser.loads == 3


def test_changes_from_elsewhere_are_seen_after_the_ttl_or_an_explicit_invalidation(network: App) -> None:
    ticks = [0.0]
    promiser = promiser_for(network, ttl_seconds=30, monotonic=lambda: ticks[0])
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 27)
    network.bus.handle(c.UpsertLanes(lanes=(("UPX", "ground", EAST, "100", 2, 4, 0.97),)))
    ticks[0] = 29.0
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 27)  # still cached
    ticks[0] = 31.0
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 28)
    network.bus.handle(c.UpsertLanes(lanes=(("UPX", "ground", EAST, "100", 2, 1, 0.97),)))
    promiser.invalidate()
    assert option(promiser.promise([(A, 1)], "10001")).delivery_date == date(2026, 11, 26)


def test_lanes_without_a_rate_card_can_be_left_out_like_the_router_does(network: App) -> None:
    unpriced = option(promiser_for(network, priced_lanes_only=True).promise([(A, 1)], "10001"))
    assert unpriced.reasons[0].code == "no_lane"
    network.bus.handle(c.SetRateCard(carrier="UPX", service="ground", zone=2,
                                     brackets=((Decimal("5"), Decimal("7.50")),), price_per_kg_beyond=Decimal("1"),
                                     currency="USD"))
    priced = option(promiser_for(network, priced_lanes_only=True).promise([(A, 1)], "10001"))
    assert priced.nodes == [EAST] and priced.shipments[0].carrier == "UPX"


# -- malformed and hostile input ---------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"lines": "HOM-0001:1"}, "lines", id="lines-not-a-list"),
    pytest.param({"lines": []}, "lines", id="no-lines"),
    pytest.param({"lines": [(A, 1)] * (MAX_LINES + 1)}, "lines", id="too-many-lines"),
    pytest.param({"lines": [(A, 1, 2)]}, "lines[0]", id="line-of-three"),
    pytest.param({"lines": [{"sku": A, "quantity": 1, "node": EAST}]}, "lines[0]", id="line-extra-key"),
    pytest.param({"lines": [None]}, "lines[0]", id="line-none"),
    pytest.param({"lines": [(7, 1)]}, "lines[0].sku", id="sku-int"),
    pytest.param({"lines": [("HOM-0001\x00", 1)]}, "lines[0].sku", id="sku-nul"),
    pytest.param({"lines": [("hom-0001'; DROP TABLE skus;--", 1)]}, "lines[0].sku", id="sku-injection"),
    pytest.param({"lines": [("X" * 10_000, 1)]}, "lines[0].sku", id="sku-huge"),
    pytest.param({"lines": [("ZZZ-9999", 1)]}, "lines[0].sku", id="sku-unknown"),
    pytest.param({"lines": [(A, 0)]}, "lines[0].quantity", id="quantity-zero"),
    pytest.param({"lines": [(A, -3)]}, "lines[0].quantity", id="quantity-negative"),
    pytest.param({"lines": [(A, 10**12)]}, "lines[0].quantity", id="quantity-huge"),
    pytest.param({"lines": [(A, "2")]}, "lines[0].quantity", id="quantity-text"),
    pytest.param({"lines": [(A, 2.5)]}, "lines[0].quantity", id="quantity-float"),
    pytest.param({"lines": [(A, True)]}, "lines[0].quantity", id="quantity-bool"),
    pytest.param({"postal_code": "1000"}, "postal_code", id="zip-short"),
    pytest.param({"postal_code": "ABCDE"}, "postal_code", id="zip-letters"),
    pytest.param({"postal_code": "10001\n"}, None, id="zip-trailing-newline-is-trimmed"),
    pytest.param({"postal_code": "\uff11\uff10\uff10\uff10\uff11"}, "postal_code", id="zip-fullwidth-digits"),
    pytest.param({"postal_code": "1" * 100_000}, "postal_code", id="zip-huge"),
    pytest.param({"postal_code": 10001}, "postal_code", id="zip-int"),
    pytest.param({"postal_code": None}, "postal_code", id="zip-none"),
    pytest.param({"country": "CA"}, "country", id="country-unsupported"),
    pytest.param({"country": ["US"]}, "country", id="country-list"),
    pytest.param({"channel": "nope"}, "channel", id="channel-unknown"),
    pytest.param({"channel": "web\x00"}, "channel", id="channel-nul"),
    pytest.param({"channel": 3}, "channel", id="channel-int"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUT)
def test_bad_input_is_refused_with_a_problem_naming_the_field(network: App, overrides: dict[str, Any],
                                                              field: str | None) -> None:
    request: dict[str, Any] = {"lines": [(A, 1)], "postal_code": "10001", **overrides}
    promiser = promiser_for(network)
    if field is None:
        assert promiser.promise(**request).options
        return
    before = snapshot(network.engine)
    with pytest.raises(e.OrderloomError) as caught:
        promiser.promise(**request)
    assert [p.field for p in caught.value.problems] == [field]
    assert caught.value.http_status in (400, 404, 422)
    assert snapshot(network.engine) == before


def test_every_problem_is_reported_in_one_error(network: App) -> None:
    with pytest.raises(e.ValidationFailed) as caught:
        promiser_for(network).promise([(A, 0), ("ZZZ-9999", 1), ("lower", 1)], "nope", country="FR",
                                      channel="ghost")
    assert sorted(p.field for p in caught.value.problems) == [
        "channel", "country", "lines[0].quantity", "lines[1].sku", "lines[2].sku", "postal_code"]


def test_unknown_skus_alone_raise_the_catalog_error(network: App) -> None:
    with pytest.raises(e.UnknownSku):
        promiser_for(network).promise([("ZZZ-9999", 1)], "10001")


# -- the command line --------------------------------------------------------------------------------

def test_the_cli_prints_a_table_and_refuses_bad_lines(network: App, database_url: str) -> None:
    from api.cli import app as cli

    # The CLI promises like the router routes: over lanes with a rate card only.
    for carrier, service, zone in (("UPX", "ground", 2), ("FDX", "ground", 2), ("UPX", "next_day", 2),
                                   ("UPX", "ground", 8), ("UPX", "next_day", 8), ("UPX", "ground", 5)):
        network.bus.handle(c.SetRateCard(carrier=carrier, service=service, zone=zone,
                                         brackets=((Decimal("5"), Decimal("9.50")),), price_per_kg_beyond=Decimal(1)))
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    shown = runner.invoke(cli, ["--database-url", database_url, "promise", "--to", "10001", f"{A}:2", f"{B}:1"],
                          env=env)
    assert shown.exit_code == 0, shown.output
    assert "ground" in shown.output and "next_day" in shown.output and WEST in shown.output
    as_json = runner.invoke(cli, ["--database-url", database_url, "promise", "--to", "10001", f"{A}:1", "--json"],
                            env=env)
    assert as_json.exit_code == 0 and '"service_level": "ground"' in as_json.output
    refused = runner.invoke(cli, ["--database-url", database_url, "promise", "--to", "1", f"{A}:x", "junk"],
                            env=env)
    assert refused.exit_code == 2
    for field in ("lines[0].quantity", "lines[1]", "postal_code"):
        assert field in refused.output
