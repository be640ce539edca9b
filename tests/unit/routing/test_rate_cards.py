"""The step-function rate model prices every weight exactly as the carrier's rate card does."""

from __future__ import annotations

import pytest

from engine.routing.check import check_solution
from engine.routing.costing import carrier_price
from engine.routing.instance import RateBracket, ServiceOption
from engine.routing.solver import SourcingSolver

from .builders import instance, line, node, policy, stock

SHORT_CARD = ServiceOption(
    node="N1",
    carrier="UPS",
    service_level="ground",
    zone=4,
    transit_days=2,
    on_time_probability=0.9,
    brackets=[RateBracket(max_weight_kg=1, price=5), RateBracket(max_weight_kg=3, price=7)],
    price_per_kg_beyond=2.0,
)
LONG_CARD = ServiceOption(
    node="N1",
    carrier="FDX",
    service_level="ground",
    zone=4,
    transit_days=2,
    on_time_probability=0.9,
    brackets=[RateBracket(max_weight_kg=1, price=6), RateBracket(max_weight_kg=10, price=9)],
    price_per_kg_beyond=0.5,
)


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0, 1.001, 2.5, 3.0, 3.2, 4.0, 4.5, 9.9, 10.0, 12.3, 31.0])
def test_a_shipment_pays_the_cheaper_carriers_bracket_price_for_its_weight(weight: float) -> None:
    inst = instance(
        lines=[line(1, "A", weight=weight)],
        nodes=[node("N1")],
        stock=[stock("N1", "A", 1)],
        services=[SHORT_CARD, LONG_CARD],
    )
    pol = policy()
    solution = SourcingSolver(inst, pol).solve()
    assert check_solution(inst, solution, pol) == []
    grams = round(weight * 1000)
    expected = min(carrier_price(SHORT_CARD, grams), carrier_price(LONG_CARD, grams))
    assert solution.cost.total == pytest.approx(expected)
    assert solution.best_bound == pytest.approx(expected)


def test_beyond_the_last_bracket_every_started_kilogram_is_charged() -> None:
    assert carrier_price(SHORT_CARD, 3000) == 7
    assert carrier_price(SHORT_CARD, 3001) == 9
    assert carrier_price(SHORT_CARD, 5000) == 11
    assert carrier_price(SHORT_CARD, 5001) == 13
