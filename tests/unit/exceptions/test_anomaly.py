"""The anomaly model: each signal fires on its planted case and stays quiet on a normal order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.exceptions.anomaly import AnomalyConfig, AnomalyModel, OrderFacts, address_key, evaluate

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def facts(n: int, at: datetime, customer: str = "customer:C1", card: str = "card-1", address: str = "",
          name: str = "ada", lines: tuple[tuple[str, int], ...] = (("SKU-1", 1),), total: float = 25.0,
          channel: str = "web") -> OrderFacts:
    return OrderFacts(str(n), at, channel, customer, address or address_key("1 Main St", "89501", "US"), card, name,
                      lines, total)


def history(days: int = 30) -> list[OrderFacts]:
    out, n = [], 0
    for day in range(days):
        for c in range(20):
            n += 1
            qty = 1 + (n % 3 == 0)
            out.append(facts(n, T0 + timedelta(days=day, hours=c % 24), customer=f"customer:C{c}",
                             card=f"card-{c}", address=address_key(f"{c} Elm St", "89501", "US"), name=f"person {c}",
                             lines=(("SKU-1", qty), ("SKU-2", 1)) if n % 2 else (("SKU-2", 1),),
                             total=25.0 * qty))
    return out


@pytest.fixture(scope="module")
def model() -> AnomalyModel:
    return AnomalyModel.fit(history())


DAY = T0 + timedelta(days=31)


def kinds(model: AnomalyModel, order: OrderFacts, recent: list[OrderFacts] | None = None) -> set[str]:
    return {s.kind for s in model.score(order, recent or [])}


def test_a_normal_order_of_a_known_customer_raises_nothing(model: AnomalyModel) -> None:
    order = facts(1, DAY, customer="customer:C3", card="card-3", address=address_key("3 Elm St", "89501", "US"),
                  name="person 3", lines=(("SKU-1", 2),), total=50)
    assert model.score(order, []) == []


def test_a_quantity_far_above_the_sku_s_history_is_an_outlier(model: AnomalyModel) -> None:
    [signal] = model.score(facts(1, DAY, customer="customer:C3", lines=(("SKU-1", 40),)), [])
    assert signal.kind == "quantity_outlier" and signal.evidence == {"sku": "SKU-1", "quantity": 40}
    assert "robust deviations" in signal.detail and signal.score > 6


def test_a_sku_whose_quantity_never_varies_does_not_flag_small_changes(model: AnomalyModel) -> None:
    # SKU-2 is always 1 (MAD 0): the spread floor keeps 3 units from being "infinitely" unusual.
    assert "quantity_outlier" not in kinds(model, facts(1, DAY, customer="customer:C3", lines=(("SKU-2", 3),)))
    assert "quantity_outlier" in kinds(model, facts(1, DAY, customer="customer:C3", lines=(("SKU-2", 30),)))


def test_a_new_sku_without_pooled_history_gets_no_quantity_signal(model: AnomalyModel) -> None:
    assert "quantity_outlier" not in kinds(model, facts(1, DAY, customer="customer:C3", lines=(("NEW", 500),)))


def test_card_testing_across_customers_is_caught_by_the_third_use(model: AnomalyModel) -> None:
    burst = [facts(i, DAY + timedelta(minutes=i), customer=f"customer:C{i}", card="stolen",
                   address=address_key(f"{i} Elm St", "89501", "US")) for i in range(3)]
    assert "payment_shared" not in kinds(model, burst[1], burst[:1])
    assert "payment_shared" in kinds(model, burst[2], burst[:2])


def test_a_reshipping_address_with_many_names_is_caught(model: AnomalyModel) -> None:
    drop = address_key("9 Dock Rd", "19720", "US")
    burst = [facts(i, DAY + timedelta(minutes=i), customer=f"customer:C{i}", card=f"card-{i}", address=drop,
                   name=f"name {i}") for i in range(4)]
    assert "address_shared" in kinds(model, burst[3], burst[:3])
    assert "address_shared" not in kinds(model, burst[2], burst[:2])


def test_a_customer_ordering_far_more_often_than_anyone_in_history_is_caught(model: AnomalyModel) -> None:
    orders = [facts(i, DAY + timedelta(minutes=10 * i), customer="customer:C1", card=f"card-x{i}")
              for i in range(8)]
    assert "customer_velocity" in kinds(model, orders[-1], orders[:-1])
    assert "customer_velocity" not in kinds(model, orders[1], orders[:1])
    old = [facts(100 + i, DAY - timedelta(days=2, minutes=i), customer="customer:C1") for i in range(8)]
    assert "customer_velocity" not in kinds(model, orders[0], old)  # outside the window


def test_a_new_customer_to_a_new_address_with_a_large_basket_is_an_unusual_combination(model: AnomalyModel) -> None:
    order = facts(1, DAY, customer="customer:NEW", card="new", address=address_key("1 Far Rd", "33101", "US"),
                  total=5000)
    assert "unusual_combination" in kinds(model, order)
    known = facts(1, DAY, customer="customer:C3", card="card-3", address=address_key("3 Elm St", "89501", "US"),
                  total=5000)
    assert "unusual_combination" not in kinds(model, known)


def test_an_empty_history_finds_only_what_needs_no_history() -> None:
    empty = AnomalyModel.fit([])
    assert empty.orders == 0
    assert kinds(empty, facts(1, DAY, lines=(("SKU-1", 1000),))) == set()


def test_the_model_round_trips_through_json(model: AnomalyModel) -> None:
    again = AnomalyModel.from_dict(json.loads(json.dumps(model.to_dict())))
    burst = [facts(i, DAY + timedelta(minutes=i), customer=f"customer:C{i}", card="stolen") for i in range(4)]
    probe = facts(9, DAY + timedelta(hours=1), customer="customer:C3", card="stolen", lines=(("SKU-1", 40),))
    assert again.score(probe, burst) == model.score(probe, burst)
    assert again.config == model.config


@pytest.mark.parametrize(("change", "field"), [
    ({"placed_at": datetime(2030, 1, 1)}, "placed_at"),
    ({"lines": (("SKU-1", 0),)}, "lines[0]"),
    ({"lines": (("SKU-1", -3),)}, "lines[0]"),
    ({"lines": (("SKU-1", True),)}, "lines[0]"),
    ({"total": float("nan")}, "total"),
    ({"total": -1.0}, "total"),
])
def test_malformed_facts_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"order_id": "1", "placed_at": DAY, "channel": "web", "customer_key": "",
                                 "address_key": "", "payment_key": "", "recipient_name": "",
                                 "lines": (("SKU-1", 1),), "total": 1.0, **change}
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        OrderFacts(**values)  # type: ignore[arg-type]


def test_anonymous_orders_and_huge_values_are_scored_without_error(model: AnomalyModel) -> None:
    order = facts(1, DAY, customer="", card="", address="", name="", lines=(("SKU-1", 10**9),), total=1e12)
    assert "quantity_outlier" in kinds(model, order)


def test_evaluate_counts_precision_and_recall(model: AnomalyModel) -> None:
    normal = facts(1, DAY, customer="customer:C3", card="card-3", address=address_key("3 Elm St", "89501", "US"),
                   name="person 3")
    spike = facts(2, DAY, customer="customer:C4", lines=(("SKU-1", 50),))
    missed = facts(3, DAY, customer="customer:C5")
    report = evaluate(model, [(normal, False), (spike, True), (missed, True)], lambda _o: [])
    assert (report.true_positives, report.false_positives, report.anomalies) == (1, 0, 2)
    assert report.precision == 1.0 and report.recall == 0.5 and report.by_kind == {"quantity_outlier": 1}


def test_a_custom_config_changes_the_thresholds() -> None:
    strict = AnomalyModel.fit(history(), AnomalyConfig(quantity_z=2.0))
    assert "quantity_outlier" in kinds(strict, facts(1, DAY, customer="customer:C3", lines=(("SKU-1", 6),)))


def test_case_quantities_are_judged_against_their_own_segment() -> None:
    mixed = history()
    mixed += [facts(10_000 + i, T0 + timedelta(days=i % 30, hours=1), customer=f"account:B{i % 5}",
                    lines=(("SKU-1", 12 * (1 + i % 2)),)) for i in range(60)]
    mixed = [OrderFacts(**{**o.__dict__, "segment": "b2b" if o.customer_key.startswith("account:") else "consumer"})
             for o in mixed]
    model = AnomalyModel.fit(mixed)
    case = OrderFacts(**{**facts(1, DAY, customer="account:B1", lines=(("SKU-1", 24),)).__dict__, "segment": "b2b"})
    assert "quantity_outlier" not in kinds(model, case)
    consumer = facts(2, DAY, customer="customer:C3", lines=(("SKU-1", 24),))
    assert "quantity_outlier" in kinds(model, consumer)
