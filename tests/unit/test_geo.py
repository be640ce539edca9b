"""Great-circle distance, carrier zones and the ZIP3 region table."""

from __future__ import annotations

import pytest

from engine.domain.geo import (
    PRINCIPAL_ZIP3,
    ZIP3_BY_PREFIX,
    ZIP3_REGIONS,
    ZONE_BANDS,
    great_circle_miles,
    miles_between,
    region,
    zone_between,
    zone_for,
)
from engine.services import demo

NYC, LA, CHICAGO, BOSTON = (40.7128, -74.0060), (34.0522, -118.2437), (41.8781, -87.6298), (42.3601, -71.0589)


@pytest.mark.parametrize(("a", "b", "low", "high"), [
    (NYC, LA, 2420, 2480),
    (NYC, CHICAGO, 700, 730),
    (NYC, BOSTON, 180, 200),
    (CHICAGO, LA, 1730, 1760),
])
def test_great_circle_distance_matches_known_city_pairs(
        a: tuple[float, float], b: tuple[float, float], low: float, high: float) -> None:
    assert low < great_circle_miles(*a, *b) < high
    assert great_circle_miles(*a, *b) == pytest.approx(great_circle_miles(*b, *a))


def test_a_point_is_no_distance_from_itself() -> None:
    assert great_circle_miles(*NYC, *NYC) == 0


@pytest.mark.parametrize(("miles", "zone"), [
    (0, 2), (150, 2), (150.1, 3), (300, 3), (450, 4), (600, 4), (601, 5), (1000, 5), (1200, 6), (1400, 6),
    (1600, 7), (1800, 7), (1801, 8), (3000, 8),
])
def test_zones_follow_the_distance_bands(miles: float, zone: int) -> None:
    assert zone_for(miles) == zone


def test_zones_never_fall_as_distance_grows() -> None:
    zones = [zone_for(m) for m in range(0, 3200, 5)]
    assert zones == sorted(zones)
    assert set(zones) == set(range(2, 9))
    assert [limit for limit, _ in ZONE_BANDS] == sorted(limit for limit, _ in ZONE_BANDS)


def test_known_lanes_land_in_the_expected_zones() -> None:
    assert zone_between(region("100"), region("112")) == 2  # Manhattan to Brooklyn
    assert zone_between(region("100"), region("606")) == 5  # New York to Chicago
    assert zone_between(region("100"), region("900")) == 8  # New York to Los Angeles
    assert 2400 < miles_between(region("100"), region("900")) < 2500


def test_the_table_covers_every_contiguous_state_with_hundreds_of_regions() -> None:
    states = {r.state for r in ZIP3_REGIONS}
    assert len(states) == 49  # 48 contiguous states and DC
    assert not states & {"AK", "HI", "PR"}
    assert len(ZIP3_REGIONS) >= 300
    prefixes = [r.prefix for r in ZIP3_REGIONS]
    assert prefixes == sorted(prefixes)
    assert len(set(prefixes)) == len(prefixes) == len(ZIP3_BY_PREFIX)
    assert all(len(p) == 3 and p.isdigit() for p in prefixes)


def test_regions_lie_in_the_contiguous_us_with_positive_populations() -> None:
    assert all(24.5 < r.latitude < 49.5 and -125 < r.longitude < -66.9 for r in ZIP3_REGIONS)
    assert all(r.population_k > 0 for r in ZIP3_REGIONS)
    assert 200_000 < sum(r.population_k for r in ZIP3_REGIONS) < 335_000


def test_big_metros_outweigh_small_towns() -> None:
    assert region("112").population_k > 10 * region("830").population_k  # Brooklyn vs Jackson, WY


def test_a_full_zip_code_finds_its_region() -> None:
    assert region("10001").city == "New York"
    with pytest.raises(KeyError):
        region("995")  # Alaska is outside the ground zones


def test_the_demo_network_keeps_its_116_principal_regions() -> None:
    assert len(PRINCIPAL_ZIP3) == 116
    assert demo.ZIP3[0] == ("010", "Springfield", "MA", 42.10, -72.59)
    assert [z[0] for z in demo.ZIP3] == [r.prefix for r in PRINCIPAL_ZIP3]
