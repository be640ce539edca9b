"""The return-abuse features and model, and restock routing, on small hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.domain.geo import ZIP3_BY_PREFIX
from engine.returns.abuse import (
    FEATURES,
    AbuseModel,
    PastOrder,
    PastReturn,
    ReturnHistory,
    ReturnRequestFacts,
    features,
)
from engine.returns.restock import NodeOption, choose_restock_node, origin_cost

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def history(returns: int, *, used: bool = False, elsewhere: bool = False) -> ReturnHistory:
    orders = [PastOrder(NOW - timedelta(days=10 * i + 5), 2, 100.0, "60606") for i in range(10)]
    backs = [PastReturn(NOW - timedelta(days=3 * i + 1), 2, 100.0, "changed_mind",
                        "10001" if elsewhere else "60606", "60606", True, used) for i in range(returns)]
    return ReturnHistory(orders, backs)


def request(from_postal: str = "60606") -> ReturnRequestFacts:
    return ReturnRequestFacts(NOW, 1, 50.0, from_postal, "60606")


def test_features_read_the_customers_own_history() -> None:
    quiet = features(history(0), request())
    assert quiet["return_rate"] == pytest.approx(1 / 20) and quiet["serial"] == 1 and quiet["velocity"] == 0
    assert quiet["address_mismatch"] == 0 and quiet["wardrobing"] == 0 and quiet["kept_nothing"] == 0
    busy = features(history(8, used=True, elsewhere=True), request("10001"))
    assert busy["return_rate"] == pytest.approx(17 / 20) and busy["velocity"] == 3 and busy["wardrobing"] == 1
    assert busy["address_mismatch"] == 2 and busy["kept_nothing"] == pytest.approx(8 / 10)
    future = ReturnHistory(history(0).orders, [PastReturn(NOW + timedelta(days=1), 1, 1.0, "defective", "1",
                                                          "1", False)])
    assert features(future, request())["serial"] == 1  # nothing after the request counts


def test_the_model_learns_a_planted_pattern_and_says_why() -> None:
    rows = [features(history(0), request()) for _ in range(40)] + \
        [features(history(1), request()) for _ in range(40)] + \
        [features(history(9, used=True, elsewhere=True), request("10001")) for _ in range(10)]
    labels = [False] * 80 + [True] * 10
    model = AbuseModel().fit(rows, labels)
    model.calibrate(rows, labels, min_precision=0.9)
    assert model.score(rows[-1]) >= model.threshold > model.score(rows[0])
    evidence = model.evidence(rows[-1])
    assert evidence[0]["push"] >= evidence[-1]["push"] and {e["feature"] for e in evidence} >= {"velocity"}
    with pytest.raises(ValueError):
        AbuseModel().fit([], [])
    with pytest.raises(ValueError):
        AbuseModel().fit(rows, labels[:-1])


def rate(zone: int, pounds: int) -> float:
    return 10 + 2 * zone + pounds


def test_restock_goes_where_the_sku_sells_unless_nothing_takes_returns() -> None:
    chicago, newark, reno, seattle = (ZIP3_BY_PREFIX[p] for p in ("606", "070", "895", "981"))
    nodes = [NodeOption("DC-EAST", newark, 60.0), NodeOption("DC-WEST", reno, 60.0)]
    west_demand = {seattle: 1.0}
    pick = choose_restock_node(nodes, chicago, west_demand, 2, rate)
    assert pick.node == "DC-WEST" and [n for n, _ in pick.alternatives] == ["DC-WEST", "DC-EAST"]
    assert pick.cost == pytest.approx(origin_cost(nodes[1], chicago, west_demand, 2, rate))
    assert pick.cost < origin_cost(nodes[0], chicago, west_demand, 2, rate)
    short_east = [NodeOption("DC-EAST", newark, 0.0), NodeOption("DC-WEST", reno, 90.0)]
    east_demand = {newark: 1.0, seattle: 1.0}
    assert choose_restock_node(short_east, chicago, east_demand, 2, rate).node == "DC-EAST"
    assert choose_restock_node(short_east, chicago, east_demand, 2, rate, shortage_credit=0.0).credit == 0
    with pytest.raises(ValueError):
        choose_restock_node([NodeOption("X", reno, 1.0, accepts_returns=False)], chicago, west_demand, 1, rate)


def _decisions(customers: int, seed: int = 3) -> list[Any]:
    from datetime import UTC, datetime, timedelta

    from engine.returns.abuse import Decision, features
    from evals.returns.generate import population

    start = datetime(2030, 1, 1, tzinfo=UTC)
    return [Decision(start + timedelta(minutes=i), features(x.history, x.request), x.abuser)
            for i, x in enumerate(population(seed, customers))]


def test_the_score_refits_on_a_stores_own_decisions_and_is_measured_on_the_newest() -> None:
    from engine.returns.abuse import refit

    report = refit(_decisions(1500))
    assert report.fitted_on + report.measured_on == report.decided == 1500
    assert report.measured_on == 450 and report.refused > 50
    assert report.precision >= 0.8 and report.recall >= 0.6 and report.meets_targets, report.to_dict()
    assert report.model is not None and 0 < report.threshold < 1


def test_too_little_history_is_refused_with_the_counts() -> None:
    from engine.returns.abuse import NotEnoughHistory, evidence_features, refit

    with pytest.raises(NotEnoughHistory, match=r"150 decided returns with their scores, \d+ refused"):
        refit(_decisions(150))
    assert evidence_features(None) == {} and evidence_features("x") == {}
    assert evidence_features([{"feature": "return_rate", "value": 0.2}]) == {}  # not every feature: unusable
    every = [{"feature": f, "value": 1} for f in FEATURES]
    assert evidence_features(every) == dict.fromkeys(FEATURES, 1.0)
    assert evidence_features([*every[:-1], {"feature": FEATURES[-1], "value": "NaN'; DROP"}]) == {}
    assert evidence_features([*every[:-1], {"feature": FEATURES[-1], "value": "nan"}]) == {}
