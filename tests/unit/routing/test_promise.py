"""The delivery promise calculation on hand-made networks whose dates can be worked out by hand.

Dates used: 2026-11-25 is a Wednesday, 11-27 a Friday, 11-28 a Saturday, 11-29 a Sunday, 11-30 a Monday.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.routing.promise import (
    EXACT_SPLIT_LIMIT,
    PromiseCalendar,
    PromiseLane,
    PromiseLine,
    PromiseNode,
    PromiseRequest,
    PromiseStock,
    ServicePromise,
    promise,
    ship_date,
)

NY, LA = "America/New_York", "America/Los_Angeles"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def node(code: str, tz: str = NY, cutoff: time = time(16, 0), **kwargs: Any) -> PromiseNode:
    return PromiseNode(code=code, timezone=tz, cutoff_local=cutoff, **kwargs)


def lane(node_code: str, transit: int = 2, service: str = "ground", p: float = 0.95,
         carrier: str = "UPS") -> PromiseLane:
    return PromiseLane(node=node_code, carrier=carrier, service_level=service, transit_days=transit,
                       on_time_probability=p)


def stock(node_code: str, sku: str, units: int) -> PromiseStock:
    return PromiseStock(node=node_code, sku=sku, available=units)


def line(line_no: int, sku: str, quantity: int = 1, **kwargs: Any) -> PromiseLine:
    return PromiseLine(line_no=line_no, sku=sku, quantity=quantity, **kwargs)


def ask(now: str, *, lines: list[PromiseLine] | None = None, nodes: list[PromiseNode], lanes: list[PromiseLane],
        stock_at: list[PromiseStock], services: tuple[str, ...] = ("ground",), **kwargs: Any) -> ServicePromise:
    result = promise(PromiseRequest(now=at(now), destination="100", lines=lines or [line(1, "A")], nodes=nodes,
                                    lanes=lanes, stock=stock_at, service_levels=list(services), **kwargs))
    assert len(result.options) == len(services)
    return result.options[0]


def one_node(now: str, transit: int = 2, **kwargs: Any) -> ServicePromise:
    return ask(now, nodes=[node("N1", **kwargs)], lanes=[lane("N1", transit)], stock_at=[stock("N1", "A", 5)])


# -- cutoffs and time zones --------------------------------------------------------------------------

def test_an_order_before_the_cutoff_ships_today() -> None:
    option = one_node("2026-11-25T20:00:00")  # 15:00 in New York, cutoff 16:00
    assert option.shipments[0].ship_date == date(2026, 11, 25)
    assert option.delivery_date == date(2026, 11, 27)


def test_an_order_after_the_cutoff_ships_the_next_pickup_day() -> None:
    option = one_node("2026-11-25T21:30:00")  # 16:30 in New York
    assert option.shipments[0].ship_date == date(2026, 11, 26)
    assert option.delivery_date == date(2026, 11, 28)


def test_the_cutoff_is_read_in_the_nodes_own_time_zone() -> None:
    # 21:30 UTC is 16:30 in New York (past its 16:00 cutoff) but 13:30 in Los Angeles (before 15:00).
    option = ask("2026-11-25T21:30:00", nodes=[node("EAST"), node("WEST", LA, time(15, 0))],
                 lanes=[lane("EAST", 1), lane("WEST", 1)], stock_at=[stock("EAST", "A", 5), stock("WEST", "A", 5)])
    assert option.nodes == ["WEST"]
    assert option.shipments[0].ship_date == date(2026, 11, 25)
    assert option.delivery_date == date(2026, 11, 26)


def test_the_local_date_not_the_utc_date_decides_today() -> None:
    # 02:00 UTC on Thursday is still Wednesday 18:00 in Los Angeles: after the cutoff, ships Thursday.
    option = one_node("2026-11-26T02:00:00", tz=LA, cutoff=time(15, 0), transit=1)
    assert option.shipments[0].ship_date == date(2026, 11, 26)


# -- weekends and holidays ---------------------------------------------------------------------------

def test_carriers_pick_up_on_saturday_but_not_on_sunday_by_default() -> None:
    friday_late = one_node("2026-11-27T22:00:00", transit=1)
    assert friday_late.shipments[0].ship_date == date(2026, 11, 28)
    assert friday_late.delivery_date == date(2026, 11, 30)  # no Sunday delivery either
    saturday_late = one_node("2026-11-28T22:00:00", transit=1)
    assert saturday_late.shipments[0].ship_date == date(2026, 11, 30)


def test_an_order_on_sunday_ships_on_monday() -> None:
    option = one_node("2026-11-29T15:00:00", transit=2)
    assert option.shipments[0].ship_date == date(2026, 11, 30)
    assert option.delivery_date == date(2026, 12, 2)


def test_a_weekday_only_calendar_moves_friday_evening_orders_to_monday() -> None:
    weekdays = PromiseCalendar(pickup_weekdays=frozenset(range(5)), delivery_weekdays=frozenset(range(5)))
    option = ask("2026-11-27T22:00:00", nodes=[node("N1")], lanes=[lane("N1", 1)], stock_at=[stock("N1", "A", 5)],
                 calendar=weekdays)
    assert option.shipments[0].ship_date == date(2026, 11, 30)
    assert option.delivery_date == date(2026, 12, 1)


def test_holidays_stop_pickups_and_deliveries() -> None:
    thanksgiving = PromiseCalendar(holidays=frozenset({date(2026, 11, 26)}))
    option = ask("2026-11-25T21:30:00", nodes=[node("N1")], lanes=[lane("N1", 1)], stock_at=[stock("N1", "A", 5)],
                 calendar=thanksgiving)
    assert option.shipments[0].ship_date == date(2026, 11, 27)
    assert option.delivery_date == date(2026, 11, 28)
    early = ask("2026-11-25T15:00:00", nodes=[node("N1")], lanes=[lane("N1", 1)], stock_at=[stock("N1", "A", 5)],
                calendar=thanksgiving)
    assert (early.shipments[0].ship_date, early.delivery_date) == (date(2026, 11, 25), date(2026, 11, 27))


def test_a_calendar_needs_a_pickup_day_and_real_weekdays() -> None:
    with pytest.raises(ValidationError):
        PromiseCalendar(pickup_weekdays=frozenset())
    with pytest.raises(ValidationError):
        PromiseCalendar(delivery_weekdays=frozenset({7}))


def test_a_node_out_of_pick_capacity_today_ships_the_next_pickup_day() -> None:
    option = one_node("2026-11-25T15:00:00", capacity_left=0)
    assert option.shipments[0].ship_date == date(2026, 11, 26)


# -- choosing nodes ----------------------------------------------------------------------------------

def test_one_node_is_preferred_when_it_gives_the_same_date_as_a_split() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A"), line(2, "B")],
                 nodes=[node("N1"), node("N2"), node("BOTH")],
                 lanes=[lane("N1", 2, p=0.99), lane("N2", 2, p=0.99), lane("BOTH", 2, p=0.90)],
                 stock_at=[stock("N1", "A", 5), stock("N2", "B", 5), stock("BOTH", "A", 5), stock("BOTH", "B", 5)])
    assert option.nodes == ["BOTH"]
    assert option.confidence == 0.9
    assert [(x.line_no, x.quantity) for x in option.shipments[0].lines] == [(1, 1), (2, 1)]


def test_a_split_wins_when_it_arrives_earlier_and_the_basket_date_is_its_latest_shipment() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A"), line(2, "B")],
                 nodes=[node("N1"), node("N2"), node("BOTH")],
                 lanes=[lane("N1", 1, p=0.9), lane("N2", 2, p=0.8), lane("BOTH", 4)],
                 stock_at=[stock("N1", "A", 5), stock("N2", "B", 5), stock("BOTH", "A", 5), stock("BOTH", "B", 5)])
    assert option.nodes == ["N1", "N2"]
    assert option.delivery_date == date(2026, 11, 27)  # N2's two days; N1's parcel arrives on the 26th
    assert option.confidence == pytest.approx(0.72)


def test_one_line_can_be_split_across_nodes_when_no_node_holds_enough() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", 8)], nodes=[node("N1"), node("N2")],
                 lanes=[lane("N1", p=0.99), lane("N2", p=0.9)], stock_at=[stock("N1", "A", 5), stock("N2", "A", 5)])
    assert {s.node: s.lines[0].quantity for s in option.shipments} == {"N1": 5, "N2": 3}


def test_lines_of_the_same_sku_share_the_nodes_stock() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", 3), line(2, "A", 3)], nodes=[node("N1")],
                 lanes=[lane("N1")], stock_at=[stock("N1", "A", 5)])
    assert not option.possible
    assert [(r.line_no, r.code) for r in option.reasons] == [(1, "insufficient_stock"), (2, "insufficient_stock")]


def test_the_fastest_carrier_of_a_node_is_used_and_reliability_breaks_ties() -> None:
    option = ask("2026-11-25T15:00:00", nodes=[node("N1")],
                 lanes=[lane("N1", 3, carrier="SLOW", p=0.99), lane("N1", 2, carrier="FAST", p=0.9),
                        lane("N1", 2, carrier="SURE", p=0.97)],
                 stock_at=[stock("N1", "A", 5)])
    assert option.shipments[0].carrier == "SURE"
    assert option.confidence == 0.97


def test_each_service_level_gets_its_own_date_and_the_earliest_is_named() -> None:
    result = promise(PromiseRequest(
        now=at("2026-11-25T15:00:00"), destination="100", lines=[line(1, "A")], nodes=[node("N1")],
        lanes=[lane("N1", 4, "ground", 0.97), lane("N1", 1, "next_day", 0.9)], stock=[stock("N1", "A", 5)],
        service_levels=["ground", "expedited", "next_day"]))
    ground, expedited, next_day = result.options
    assert ground.delivery_date == date(2026, 11, 30)
    assert not expedited.possible and expedited.reasons[0].code == "no_lane"
    assert next_day.delivery_date == date(2026, 11, 26)
    assert result.earliest == next_day


# -- what a channel and a node may ship -------------------------------------------------------------

def test_hazmat_lines_ship_only_from_hazmat_capable_nodes() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", hazmat=True)],
                 nodes=[node("PLAIN"), node("HAZ", hazmat_capable=True)], lanes=[lane("PLAIN", 1), lane("HAZ", 3)],
                 stock_at=[stock("PLAIN", "A", 5), stock("HAZ", "A", 5)])
    assert option.nodes == ["HAZ"]


def test_b2b_only_and_disabled_nodes_do_not_ship_a_consumer_basket() -> None:
    nodes = [node("WHOLESALE", b2b_only=True), node("OFF", ship_from_enabled=False)]
    lanes = [lane("WHOLESALE"), lane("OFF")]
    stock_at = [stock("WHOLESALE", "A", 5), stock("OFF", "A", 5)]
    consumer = ask("2026-11-25T15:00:00", nodes=nodes, lanes=lanes, stock_at=stock_at)
    assert consumer.reasons[0].code == "no_stock"
    business = ask("2026-11-25T15:00:00", nodes=nodes, lanes=lanes, stock_at=stock_at, b2b=True)
    assert business.nodes == ["WHOLESALE"]


def test_a_channel_cap_below_the_basket_is_the_lines_reason() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", 4)], nodes=[node("N1")], lanes=[lane("N1")],
                 stock_at=[stock("N1", "A", 10)], sku_limits={"A": 3})
    assert (option.reasons[0].code, option.reasons[0].available) == ("channel_cap", 3)


# -- unreachable lines -------------------------------------------------------------------------------

def test_each_blocking_line_gets_its_own_reason() -> None:
    option = ask("2026-11-25T15:00:00",
                 lines=[line(1, "OK"), line(2, "NONE"), line(3, "FEW", 9), line(4, "FAR"),
                        line(5, "OFF", active=False)],
                 nodes=[node("N1"), node("ISLAND")], lanes=[lane("N1")],
                 stock_at=[stock("N1", "OK", 5), stock("N1", "FEW", 4), stock("ISLAND", "FAR", 5),
                           stock("N1", "OFF", 5)])
    assert not option.possible and option.delivery_date is None
    assert [(r.line_no, r.code, r.available) for r in option.reasons] == [
        (2, "no_stock", 0), (3, "insufficient_stock", 4), (4, "no_lane", 0), (5, "no_stock", 0)]


def test_not_enough_at_reachable_nodes_but_enough_in_the_network_is_a_lane_problem() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", 8)], nodes=[node("N1"), node("ISLAND")],
                 lanes=[lane("N1")], stock_at=[stock("N1", "A", 5), stock("ISLAND", "A", 5)])
    assert (option.reasons[0].code, option.reasons[0].available) == ("no_lane", 5)


def test_a_destination_without_lanes_is_unreachable_for_every_line() -> None:
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A"), line(2, "B")], nodes=[node("N1")], lanes=[],
                 stock_at=[stock("N1", "A", 5), stock("N1", "B", 5)])
    assert [r.code for r in option.reasons] == ["no_lane", "no_lane"]


def test_the_request_needs_an_aware_time_and_positive_quantities() -> None:
    with pytest.raises(ValidationError):
        PromiseRequest(now=datetime(2026, 11, 25, 15), destination="100", lines=[line(1, "A")], nodes=[],
                       service_levels=["ground"])
    with pytest.raises(ValidationError):
        line(1, "A", 0)


def test_many_small_nodes_are_combined_greedily_beyond_the_exact_search() -> None:
    nodes = [node(f"N{i}") for i in range(6)]
    option = ask("2026-11-25T15:00:00", lines=[line(1, "A", 6)], nodes=nodes, lanes=[lane(n.code) for n in nodes],
                 stock_at=[stock(n.code, "A", 1) for n in nodes])
    assert option.possible and len(option.shipments) == 6
    assert sum(s.lines[0].quantity for s in option.shipments) == 6


# -- invariants on random networks -------------------------------------------------------------------

@st.composite
def random_requests(draw: st.DrawFn) -> PromiseRequest:
    codes = [f"N{i}" for i in range(draw(st.integers(1, 6)))]
    skus = ["A", "B", "C"]
    nodes = [node(code, draw(st.sampled_from([NY, LA, "America/Chicago"])), time(draw(st.integers(8, 20)), 0),
                  capacity_left=draw(st.sampled_from([None, 0, 50]))) for code in codes]
    lanes = [lane(code, draw(st.integers(0, 6)), service, draw(st.floats(0.5, 1.0)), carrier)
             for code in codes for service in ("ground", "next_day") for carrier in ("X", "Y")
             if draw(st.booleans())]
    stock_at = [stock(code, sku, draw(st.integers(0, 6))) for code in codes for sku in skus if draw(st.booleans())]
    lines = [line(i + 1, draw(st.sampled_from(skus)), draw(st.integers(1, 8)))
             for i in range(draw(st.integers(1, 5)))]
    now = datetime(2026, 11, draw(st.integers(23, 29)), draw(st.integers(0, 23)), tzinfo=UTC)  # a whole week
    return PromiseRequest(now=now, destination="100", lines=lines,
                          nodes=nodes, lanes=lanes, stock=stock_at, service_levels=["ground", "next_day"])


@settings(max_examples=300, deadline=None)
@given(random_requests())
def test_a_promise_ships_each_line_exactly_from_stock_that_exists(request: PromiseRequest) -> None:
    held = {(s.node, s.sku): s.available for s in request.stock}
    for opt in promise(request).options:
        if not opt.possible:
            assert opt.reasons and opt.delivery_date is None
            continue
        assert not opt.reasons
        shipped: dict[int, int] = {}
        taken: dict[tuple[str, str], int] = {}
        for s in opt.shipments:
            assert s.lines and s.delivery_date >= s.ship_date >= request.now.date() - timedelta(days=1)
            assert request.calendar.is_pickup_day(s.ship_date) and s.ship_date.weekday() != 6
            for x in s.lines:
                shipped[x.line_no] = shipped.get(x.line_no, 0) + x.quantity
                taken[s.node, x.sku] = taken.get((s.node, x.sku), 0) + x.quantity
        assert shipped == {ln.line_no: ln.quantity for ln in request.lines}
        assert all(q <= held.get(key, 0) for key, q in taken.items())
        assert opt.delivery_date == max(s.delivery_date for s in opt.shipments)
        assert opt.confidence == pytest.approx(_product([s.on_time_probability for s in opt.shipments]), abs=1e-4)
        assert opt.nodes == sorted(s.node for s in opt.shipments)
    _check_earliest_and_fewest(request)


def _check_earliest_and_fewest(request: PromiseRequest) -> None:
    """Brute force over every set of nodes: no set delivers the basket earlier, or as early with fewer parcels."""
    needed: dict[str, int] = {}
    for ln in request.lines:
        needed[ln.sku] = needed.get(ln.sku, 0) + ln.quantity
    held = {(s.node, s.sku): s.available for s in request.stock}
    for opt in promise(request).options:
        arrival: dict[str, date] = {}
        for ln in request.lanes:
            if ln.service_level == opt.service_level:
                n = next(x for x in request.nodes if x.code == ln.node)
                day = request.calendar.add_transit(ship_date(n, request.now, request.calendar), ln.transit_days)
                arrival[ln.node] = min(day, arrival.get(ln.node, day))
        best: tuple[date, int] | None = None
        codes = sorted(arrival)
        for size in range(1, len(codes) + 1):
            for group in itertools.combinations(codes, size):
                if all(sum(held.get((n, sku), 0) for n in group) >= q for sku, q in needed.items()):
                    found = (max(arrival[n] for n in group), size)
                    best = found if best is None or found < best else best
        if best is None:
            assert not opt.possible
        else:
            assert opt.possible and opt.delivery_date == best[0]
            if best[1] <= EXACT_SPLIT_LIMIT:  # beyond it the cover is greedy: as early, maybe more parcels
                assert len(opt.shipments) == best[1]


def _product(values: list[float]) -> float:
    result = 1.0
    for v in values:
        result *= v
    return result
