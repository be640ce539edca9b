"""Screening rules, pure: each flag fires on its case and stays quiet on the near miss."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.domain.exceptions import Action, ExceptionType, ResolutionPolicy, priority_score
from engine.domain.orders import Address, Order, OrderLine
from engine.exceptions.detect import (
    PastOrder,
    Screening,
    address_flags,
    anomaly_flags,
    cold_start_flags,
    customer_key,
    duplicate_flags,
    high_value_flags,
    payment_flags,
    price_flags,
    screen,
    ship_to_key,
)

NOW = datetime(2030, 3, 4, 12, tzinfo=UTC)
RENO = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
        "country": "US"}


def order(lines: dict[str, tuple[int, str]] | None = None, ship_to: dict[str, str] | None = None,
          channel: str = "web", customer: str | None = "C-1", account: str | None = None) -> Order:
    lines = lines or {"SKU-A": (1, "20")}
    return Order(order_id="9", channel=channel, external_id="W-9", customer_id=customer, account_code=account,
                 ship_to=Address.from_dict(ship_to or RENO), placed_at=NOW,
                 lines=[OrderLine(i + 1, sku, q, Decimal(p)) for i, (sku, (q, p)) in enumerate(lines.items())])


def screening(o: Order, **kw: Any) -> Screening:
    kw.setdefault("policy", ResolutionPolicy())
    kw.setdefault("total_history", 10_000)
    kw.setdefault("channel_history", 10_000)
    kw.setdefault("sku_history", {ln.sku: 1000 for ln in o.lines})
    return Screening(order=o, now=NOW, **kw)


def test_a_clean_order_raises_nothing() -> None:
    o = order()
    assert screen(screening(o, list_prices={1: Decimal("20")})) == []


# -- address

def test_a_misspelt_city_is_one_confident_correction() -> None:
    [flag] = address_flags(screening(order(ship_to={**RENO, "city": "Renoo"})))
    assert (flag.type, flag.subtype) == (ExceptionType.ADDRESS, "correctable")
    assert flag.recommendation.action is Action.CORRECT_ADDRESS
    assert flag.recommendation.params["ship_to"]["city"].lower() == "reno"
    assert flag.recommendation.confidence >= 0.9


def test_an_address_with_no_candidate_recommends_asking_the_customer() -> None:
    [flag] = address_flags(screening(order(ship_to={**RENO, "postal_code": "00000", "city": "Nowhere"})))
    assert flag.subtype == "unverifiable" and flag.recommendation.action in (Action.HOLD, Action.CORRECT_ADDRESS)
    assert flag.recommendation.summary and flag.recommendation.expected_effect


def test_a_stricter_policy_turns_a_correction_into_a_question() -> None:
    strict = ResolutionPolicy(address_min_confidence=0.99)
    [flag] = address_flags(screening(order(ship_to={**RENO, "city": "Renoo"}), policy=strict))
    assert flag.subtype == "unverifiable"


# -- payment

@pytest.mark.parametrize(("signal", "expected"), [
    ({"status": "declined", "fraud_score": 0.0}, ("declined", Action.HOLD)),
    ({"status": "fraud_review", "fraud_score": 0.5}, ("fraud_flag", Action.RELEASE_HOLD)),
    ({"status": "authorized", "fraud_score": 0.95}, ("fraud_flag", Action.CANCEL)),
])
def test_payment_signals_hold_the_order(signal: dict[str, Any], expected: tuple[str, Action]) -> None:
    [flag] = payment_flags(screening(order(), payment=signal))
    assert (flag.subtype, flag.recommendation.action) == expected and flag.hold


def test_an_authorised_payment_below_the_threshold_raises_nothing() -> None:
    assert payment_flags(screening(order(), payment={"status": "authorized", "fraud_score": 0.69})) == []


# -- price

def test_a_price_outside_the_tolerance_is_flagged_with_its_impact() -> None:
    o = order({"SKU-A": (10, "18.00"), "SKU-B": (1, "5.05")})
    [flag] = price_flags(screening(o, list_prices={1: Decimal("20"), 2: Decimal("5")}))
    assert flag.evidence["lines"][0]["line_no"] == 1 and len(flag.evidence["lines"]) == 1
    assert flag.evidence["impact"] == "20.00"
    assert flag.recommendation.params == {"lines": [{"line_no": 1, "unit_price": "20"}]}


def test_no_list_price_means_nothing_to_compare() -> None:
    assert price_flags(screening(order({"SKU-A": (1, "1")}), list_prices={1: None})) == []


# -- high value

def test_high_value_uses_the_account_then_channel_then_b2b_default() -> None:
    policy = ResolutionPolicy(high_value_by_account={"ACME": Decimal("50")},
                              high_value_by_channel={"web": Decimal("100")})
    o = order({"SKU-A": (3, "20")})
    assert high_value_flags(screening(o, policy=policy)) == []
    assert high_value_flags(screening(order({"SKU-A": (3, "20")}, account="ACME"), policy=policy))
    assert high_value_flags(screening(order({"SKU-A": (6, "20")}), policy=policy))
    b2b = order({"SKU-A": (300, "20")}, channel="edi", account="OTHER")  # 6,000: below the B2B default
    assert high_value_flags(screening(b2b, b2b=True)) == []
    assert high_value_flags(screening(b2b, b2b=False))


# -- cold start

def test_cold_start_needs_an_established_business_and_a_new_sku() -> None:
    o = order({"SKU-NEW": (11, "5")})
    assert cold_start_flags(screening(o, sku_history={"SKU-NEW": 0}, total_history=50)) == []
    [flag] = cold_start_flags(screening(o, sku_history={"SKU-NEW": 3}))
    assert flag.subtype == "new_sku" and flag.evidence["lines"][0]["orders_seen"] == 3
    assert cold_start_flags(screening(order({"SKU-NEW": (10, "5")}), sku_history={"SKU-NEW": 0})) == []
    assert cold_start_flags(screening(o, sku_history={"SKU-NEW": 0}, b2b=True)) == []  # case quantities


def test_a_new_channel_gets_a_value_limit() -> None:
    o = order({"SKU-A": (200, "20")}, channel="tiktok")
    [flag] = cold_start_flags(screening(o, channel_history=2))
    assert flag.subtype == "new_channel"


# -- duplicates

def past(minutes: int, lines: tuple[tuple[str, int], ...] = (("SKU-A", 1),), customer: str = "customer:C-1",
         address: str = "", status: str = "allocated", external: str = "W-1") -> PastOrder:
    return PastOrder("1", external, "web", NOW - timedelta(minutes=minutes), status, lines,
                     address or ship_to_key(RENO), customer)


def test_the_same_lines_for_the_same_customer_soon_after_is_a_suspected_duplicate() -> None:
    [flag] = duplicate_flags(screening(order(), recent=[past(5)]))
    assert flag.type is ExceptionType.DUPLICATE and flag.recommendation.action is Action.CANCEL
    assert flag.evidence["original_order"] == "1" and flag.evidence["minutes_apart"] == 5


@pytest.mark.parametrize("other", [
    past(5, lines=(("SKU-A", 2),)),  # different quantity
    past(5, status="cancelled"),  # the first was cancelled: this is the replacement
    past(60 * 72),  # outside the window
    past(5, external="W-9"),  # the same order seen again (idempotent re-submission), not a second order
    past(5, customer="customer:C-2", address="2 other st 89501 us"),  # someone else
])
def test_near_misses_are_not_duplicates(other: PastOrder) -> None:
    assert duplicate_flags(screening(order(), recent=[other])) == []


def test_the_same_address_without_a_customer_id_is_enough() -> None:
    o = order(customer=None)
    assert customer_key(o) == ""
    assert duplicate_flags(screening(o, recent=[past(5, customer="")]))


# -- anomalies

@dataclass(frozen=True)
class FakeSignal:
    kind: str
    score: float
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


def test_fraud_patterns_hold_the_order_and_quantity_outliers_ask_for_confirmation() -> None:
    flags = anomaly_flags(screening(order(), anomalies=[
        FakeSignal("payment_shared", 4.0, "card used by 5 customers"),
        FakeSignal("quantity_outlier", 9.0, "quantity 40 of SKU-A", {"sku": "SKU-A"})]))
    assert [(f.type, f.hold) for f in flags] == [(ExceptionType.PAYMENT, True), (ExceptionType.ANOMALY, False)]
    assert flags[0].subtype == "fraud_payment_shared" and flags[1].evidence["sku"] == "SKU-A"
    off = ResolutionPolicy(anomaly_enabled=False)
    assert anomaly_flags(screening(order(), policy=off, anomalies=[FakeSignal("payment_shared", 4, "x")])) == []


# -- the policy and priority

def test_policy_round_trips_and_refuses_nonsense() -> None:
    policy = ResolutionPolicy(substitutions=(), high_value_by_channel={"web": Decimal("10")})
    assert ResolutionPolicy.from_dict(policy.to_dict()) == policy
    for bad in ({"price_tolerance_pct": 500}, {"auto_reroute": 1}, {"cold_start_min_orders": -1},
                {"sla_minutes": {"address": 0}}, {"whatever": 1}, {"high_value_default": [1]}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ResolutionPolicy.from_dict(bad)


def test_priority_rises_with_value_and_as_the_deadline_nears() -> None:
    cheap_far = priority_score(Decimal("20"), NOW + timedelta(days=5), NOW)
    dear_far = priority_score(Decimal("5000"), NOW + timedelta(days=5), NOW)
    cheap_soon = priority_score(Decimal("20"), NOW + timedelta(hours=2), NOW)
    late = priority_score(Decimal("20"), NOW - timedelta(hours=1), NOW)
    assert cheap_far < dear_far and cheap_far < cheap_soon < late
    assert priority_score(Decimal("20"), None, NOW, blocking=False) < priority_score(Decimal("20"), None, NOW)
