"""The seeded scenario generators: determinism, shape and sanity of the network and the day of orders."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from engine.domain.geo import ZIP3_BY_PREFIX
from engine.domain.network import ServiceLevel
from evals.scenarios.network import MAX_PACKAGE_LB, ZONES, Network, generate_network
from evals.scenarios.orders import (
    B2B_CHANNELS,
    CHANNEL_SHARES,
    EASTERN,
    FLASH_MINUTES,
    Order,
    flash_sale,
    generate_day,
    promised_by,
)

SEED = 7


@pytest.fixture(scope="module")
def network() -> Network:
    return generate_network(SEED)


@pytest.fixture(scope="module")
def day(network: Network) -> list[Order]:
    return generate_day(network, SEED, orders=5000)


# -- determinism -----------------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_network_and_day(network: Network, day: list[Order]) -> None:
    again = generate_network(SEED)
    assert again == network
    assert generate_day(again, SEED, orders=5000) == day


def test_another_seed_gives_another_network_and_day(network: Network, day: list[Order]) -> None:
    other = generate_network(SEED + 1)
    assert other.stock != network.stock
    assert generate_day(network, SEED + 1, orders=5000) != day


# -- the network -----------------------------------------------------------------------------------

def test_the_network_mixes_dcs_stores_a_3pl_and_one_b2b_only_dc(network: Network) -> None:
    kinds = Counter(n.kind for n in network.nodes)
    assert len(network.nodes) == 22
    assert kinds["dc"] >= 7 and kinds["store"] >= 10 and kinds["3pl"] == 1
    assert sum(n.b2b_only for n in network.nodes) == 1
    assert any(n.hazmat_capable for n in network.nodes)
    assert not any(n.hazmat_capable for n in network.nodes if n.kind == "store")
    assert len({n.code for n in network.nodes}) == 22
    assert all(n.zip3 in ZIP3_BY_PREFIX for n in network.nodes)


def test_dcs_pick_thousands_and_stores_tens_to_hundreds(network: Network) -> None:
    for n in network.nodes:
        if n.kind == "store":
            assert 30 <= n.daily_pick_capacity <= 200
            assert n.handling_per_unit > max(x.handling_per_unit for x in network.nodes if x.kind == "dc")
        else:
            assert 1000 <= n.daily_pick_capacity <= 20_000
        assert n.handling_per_shipment > 0 and n.handling_per_unit > 0


@pytest.mark.parametrize("size", [10, 20, 27])
def test_the_node_count_is_a_parameter(size: int) -> None:
    assert len(generate_network(1, nodes=size).nodes) == size


def test_too_few_or_too_many_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="nodes"):
        generate_network(1, nodes=9)
    with pytest.raises(ValueError, match="nodes"):
        generate_network(1, nodes=28)


def test_rates_rise_with_zone_and_weight(network: Network) -> None:
    for carrier in network.carriers:
        for service in ServiceLevel:
            for zone in ZONES:
                row = [network.rates[(carrier.code, service, zone, w)] for w in range(1, MAX_PACKAGE_LB + 1)]
                assert row == sorted(row) and row[0] < row[-1]
            for w in (1, 5, 20, 70):
                column = [network.rates[(carrier.code, service, z, w)] for z in ZONES]
                assert column == sorted(column) and column[0] < column[-1]


def test_faster_services_cost_more_and_prices_look_like_list_rates(network: Network) -> None:
    for carrier in network.carriers:
        for zone in ZONES:
            ground, two_day, next_day = (network.rate(carrier.code, s, zone, 3) for s in ServiceLevel)
            assert ground < two_day < next_day
        assert 8 < network.rate(carrier.code, ServiceLevel.GROUND, 2, 1) < 14
        assert 100 < network.rate(carrier.code, ServiceLevel.GROUND, 8, 70) < 170


def test_shipments_over_70_lb_are_billed_as_several_packages(network: Network) -> None:
    rate = network.rate
    g = ServiceLevel.GROUND
    assert rate("NPX", g, 5, 0.2) == rate("NPX", g, 5, 1)
    assert rate("NPX", g, 5, 2.01) == rate("NPX", g, 5, 3)
    assert rate("NPX", g, 5, 100) == pytest.approx(rate("NPX", g, 5, 70) + rate("NPX", g, 5, 30))


def test_transit_grows_with_zone_and_air_services_are_fixed(network: Network) -> None:
    for carrier in network.carriers:
        ground = [network.transit[(carrier.code, ServiceLevel.GROUND, z)] for z in ZONES]
        assert ground == sorted(ground) and ground[0] == 1 and ground[-1] == 5
        assert {network.transit[(carrier.code, ServiceLevel.EXPEDITED, z)] for z in ZONES} == {2}
        assert {network.transit[(carrier.code, ServiceLevel.NEXT_DAY, z)] for z in ZONES} == {1}


def test_zones_follow_distance_from_each_node(network: Network) -> None:
    for n in network.nodes:
        assert network.zone(n.code, n.zip3) == 2
    assert network.zone("DC-ABE", "100") == 2 and network.zone("DC-ABE", "900") == 8
    assert network.zone("DC-RNO", "958") <= 3 and network.zone("DC-RNO", "021") == 8


def test_on_time_is_lower_for_long_zones_and_the_weaker_carrier(network: Network) -> None:
    values = network.lane_on_time.values()
    assert min(values) >= 0.85 and max(values) <= 0.99

    def mean(carrier: str, zones: set[int]) -> float:
        ps = [p for (c, node, z3), p in network.lane_on_time.items()
              if c == carrier and network.zone(node, z3) in zones]
        return sum(ps) / len(ps)

    for carrier in ("NPX", "SWF", "RDG"):
        assert mean(carrier, {2, 3}) > mean(carrier, {7, 8})
    assert mean("RDG", set(ZONES)) < mean("SWF", set(ZONES)) < mean("NPX", set(ZONES))
    assert network.on_time("NPX", ServiceLevel.NEXT_DAY, "DC-ABE", "100") < network.on_time(
        "NPX", ServiceLevel.GROUND, "DC-ABE", "100")


def test_skus_have_weights_hazmat_markdown_risk_and_skewed_popularity(network: Network) -> None:
    skus = network.skus
    assert len(skus) == 300
    assert all(0.1 <= s.weight_lb <= 60 for s in skus)
    assert 0.03 < sum(s.hazmat for s in skus) / len(skus) < 0.15
    assert 0.05 < sum(s.markdown_risk for s in skus) / len(skus) < 0.30
    ranked = sorted((s.popularity for s in skus), reverse=True)
    assert sum(ranked[:60]) / sum(ranked) > 0.65  # the top fifth sells most


def test_dcs_stock_deep_stores_shallow_and_hazmat_only_where_allowed(network: Network) -> None:
    kind = {n.code: n for n in network.nodes}
    hazmat = {s.code for s in network.skus if s.hazmat}
    store_units = [q for (_, node), q in network.stock.items() if kind[node].kind == "store"]
    dc_units = [q for (_, node), q in network.stock.items() if kind[node].kind == "dc"]
    assert max(store_units) <= 60 and sum(dc_units) / len(dc_units) > 10 * sum(store_units) / len(store_units)
    assert all(kind[node].hazmat_capable for (sku, node) in network.stock if sku in hazmat)
    assert all(q >= 0 for q in network.stock.values()) and 0 in network.stock.values()
    b2b_dc = next(n for n in network.nodes if n.b2b_only)
    case = {s.code: s.case_pack for s in network.skus}
    assert all(q % case[sku] == 0 for (sku, node), q in network.stock.items() if node == b2b_dc.code)


# -- the day of orders -----------------------------------------------------------------------------

def test_the_day_has_the_requested_orders_with_1_to_15_distinct_lines(day: list[Order]) -> None:
    assert len(day) == 5000
    assert len({o.order_id for o in day}) == 5000
    assert all(1 <= len(o.lines) <= 15 for o in day)
    assert all(len({line.sku for line in o.lines}) == len(o.lines) for o in day)
    assert [o.placed_at for o in day] == sorted(o.placed_at for o in day)
    assert all(o.placed_at.date() == date(2026, 3, 10) for o in day)


def test_most_consumer_orders_have_few_lines_with_a_long_tail(day: list[Order]) -> None:
    b2c = [len(o.lines) for o in day if o.channel not in B2B_CHANNELS]
    assert 0.45 < b2c.count(1) / len(b2c) < 0.65
    assert sum(n <= 3 for n in b2c) / len(b2c) > 0.8
    assert max(b2c) >= 10
    b2b = [len(o.lines) for o in day if o.channel in B2B_CHANNELS]
    assert sum(b2b) / len(b2b) > 2 * sum(b2c) / len(b2c)


def test_channel_shares_are_within_tolerance(day: list[Order]) -> None:
    counts = Counter(o.channel for o in day)
    assert set(counts) == set(CHANNEL_SHARES)
    for channel, share in CHANNEL_SHARES.items():
        assert counts[channel] / len(day) == pytest.approx(share, abs=0.02)


def test_quantities_are_single_units_for_consumers_and_cases_for_b2b(network: Network, day: list[Order]) -> None:
    case = {s.code: s.case_pack for s in network.skus}
    for o in day:
        if o.channel in B2B_CHANNELS:
            assert o.account is not None
            assert all(line.quantity % case[line.sku] == 0 and line.quantity > 0 for line in o.lines)
        else:
            assert o.account is None and not o.ship_complete
            assert all(line.quantity in (1, 2) for line in o.lines)
    b2b = [o for o in day if o.channel in B2B_CHANNELS]
    assert 0 < sum(o.ship_complete for o in b2b) < len(b2b)


def test_destinations_follow_population_and_pos_orders_stay_near_their_store(
        network: Network, day: list[Order]) -> None:
    assert all(o.dest_zip3 in ZIP3_BY_PREFIX for o in day)
    b2c = Counter(o.dest_zip3 for o in day if o.channel in ("web", "mobile", "marketplace"))
    assert b2c["900"] > b2c["830"]  # Los Angeles over Jackson, WY
    pos = [o for o in day if o.channel == "pos"]
    assert pos and all(o.store is not None and network.zone(o.store, o.dest_zip3) == 2 for o in pos)


def test_promises_follow_the_service_level(day: list[Order]) -> None:
    services = Counter(o.service for o in day)
    assert services[ServiceLevel.GROUND] / len(day) > 0.7
    assert services[ServiceLevel.EXPEDITED] > services[ServiceLevel.NEXT_DAY] > 0
    for o in day:
        days = (o.promised_by - o.placed_at.date()).days
        assert {ServiceLevel.NEXT_DAY: 1 <= days <= 4, ServiceLevel.EXPEDITED: 2 <= days <= 5,
                ServiceLevel.GROUND: 5 <= days <= 9}[o.service]


def test_promise_dates_skip_weekends_and_roll_after_the_order_by_time() -> None:
    tuesday_morning = datetime(2026, 3, 10, 9, 0, tzinfo=EASTERN)
    assert promised_by(tuesday_morning, ServiceLevel.NEXT_DAY) == date(2026, 3, 11)
    assert promised_by(tuesday_morning + timedelta(hours=8), ServiceLevel.NEXT_DAY) == date(2026, 3, 12)
    assert promised_by(tuesday_morning, ServiceLevel.GROUND) == date(2026, 3, 17)
    friday_evening = datetime(2026, 3, 13, 20, 0, tzinfo=EASTERN)
    assert promised_by(friday_evening, ServiceLevel.NEXT_DAY) == date(2026, 3, 17)


def test_arrivals_peak_in_the_evening(day: list[Order]) -> None:
    regular = Counter(o.placed_at.hour for o in day if not o.flash_sale and o.channel not in B2B_CHANNELS)
    evening = sum(regular[h] for h in (19, 20, 21)) / 3
    assert evening > 1.2 * sum(regular[h] for h in (9, 10, 11)) / 3
    assert evening > 5 * sum(regular[h] for h in (2, 3, 4)) / 3
    b2b = Counter(o.placed_at.hour for o in day if o.channel in B2B_CHANNELS)
    assert sum(b2b[h] for h in range(8, 18)) / sum(b2b.values()) > 0.8


def test_a_flash_sale_brings_ten_times_the_marketplace_traffic_for_thirty_minutes(
        network: Network, day: list[Order]) -> None:
    flash = flash_sale(network, SEED)
    flagged = [o for o in day if o.flash_sale]
    assert flagged and all(o.channel == "marketplace" for o in flagged)
    assert all(flash.starts_at <= o.placed_at < flash.ends_at for o in flagged)
    assert all(o.lines[0].sku in flash.skus for o in flagged)
    hazmat = {s.code for s in network.skus if s.hazmat}
    assert not set(flash.skus) & hazmat
    in_window = sum(1 for o in day if o.channel == "marketplace" and flash.starts_at <= o.placed_at < flash.ends_at)
    normal = sum(1 for o in day if o.channel == "marketplace" and not o.flash_sale) / (24 * 60 / FLASH_MINUTES)
    assert in_window > 5 * normal
    flash_units = sum(line.quantity for o in day for line in o.lines if line.sku in flash.skus)
    assert flash_units > 0.8 * sum(o.lines[0].quantity for o in flagged)


def test_a_days_units_are_about_what_the_stock_was_sized_for(network: Network, day: list[Order]) -> None:
    units = sum(o.units for o in day)
    assert 0.6 * network.daily_units < units < 1.5 * network.daily_units
