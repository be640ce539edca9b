"""The exception desk against a real database: each exception type, each automatic resolution (and the cases
where it must not act), people's decisions, proposals, reversal and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.channels import ChannelKind
from engine.domain.network import NodeType
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import NYC, TRANSIT, ZONES, _card, assert_no_oversell, build

RENO_ZONES = {"DC-EAST": 8, "DC-WEST": 2, "ST-NYC": 8}
RENO = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
        "country": "US"}


@pytest.fixture
def desk_app(database_url: str) -> Iterator[App]:
    application = bootstrap(database_url=database_url, migrate=False, clock=StepClock())
    build(application.bus, stock={("SKU-A", "DC-EAST"): 20, ("SKU-A", "DC-WEST"): 20, ("SKU-B", "DC-EAST"): 5,
                                  ("SKU-C", "DC-WEST"): 30})
    application.bus.handle(c.UpsertChannel(code="edi", name="EDI", kind=ChannelKind.B2B_EDI, priority=False))
    # Reno (ZIP3 895) too: near the west warehouse, far from the east.
    application.bus.handle(c.UpsertLanes(lanes=tuple(("CAR", "ground", node, "895", zone, TRANSIT[zone], 0.96)
                                                     for node, zone in RENO_ZONES.items())))
    yield application
    application.close()


def add_alt_carrier(app: App) -> None:
    app.bus.handle(c.UpsertCarrier(code="ALT", name="Alternative", services=("ground",)))
    app.bus.handle(c.UpsertLanes(lanes=tuple(("ALT", "ground", node, "100", zone, 2 if zone == 2 else 6, 0.9)
                                             for node, zone in ZONES.items())))
    for zone in (2, 8):
        app.bus.handle(c.SetRateCard(carrier="ALT", service="ground", zone=zone,
                                     brackets=tuple((w, p * 2) for w, p in _card(zone)),
                                     price_per_kg_beyond=Decimal("5")))


def place(app: App, ext: str, lines: dict[str, int], ship_to: dict[str, str] | None = None,
          prices: dict[str, str] | None = None, customer: str | None = None, channel: str = "web",
          account: str | None = None) -> str:
    result = app.bus.handle(c.PlaceOrder(
        channel=channel, external_id=ext, ship_to=ship_to or NYC, customer_id=customer, account_code=account,
        lines=tuple(c.NewOrderLine(sku=s, quantity=q, unit_price=Decimal(prices[s]) if prices and s in prices
                                   else None) for s, q in lines.items())))
    return str(result["order_id"])


def status(app: App, order_id: str) -> str:
    with app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        assert order is not None
        return order.status.value


def ship_to(app: App, order_id: str) -> dict[str, str]:
    with app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        assert order is not None
        return order.ship_to.to_dict()


def only_case(app: App, order_id: str, status_: str | None = None) -> dict[str, Any]:
    cases = app.exceptions.cases(status=status_, order_id=order_id)
    assert len(cases) == 1, cases
    return cases[0]


# -- clean orders ------------------------------------------------------------------------------------

def test_a_clean_order_is_routed_without_a_case(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 2})
    result = desk_app.exceptions.process(order_id)
    assert result["status"] == "allocated" and result["routed"] and result["opened"] == []
    assert desk_app.exceptions.cases(status=None) == []


# -- address ---------------------------------------------------------------------------------------

def test_an_address_with_one_confident_correction_is_fixed_audited_and_reversible(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "city": "Renoo"})
    result = desk_app.exceptions.process(order_id)
    assert result["status"] == "allocated" and result["opened"] == [] and len(result["auto_resolved"]) == 1
    assert ship_to(desk_app, order_id)["city"].lower() == "reno"
    case = only_case(desk_app, order_id)
    assert case["status"] == "auto_resolved" and case["resolved_by"] == "engine"
    assert case["resolution"]["undo"]["ship_to"]["city"] == "Renoo"
    audit = desk_app.exceptions.audit(entity="order", entity_id=order_id)
    assert any(a["action"] == "order.address_corrected" and a["detail"]["before"]["city"] == "Renoo" for a in audit)

    reversed_ = desk_app.exceptions.reverse(case["case_id"], "ops-ana", "the customer says Renoo is right")
    assert reversed_["reversed"] and ship_to(desk_app, order_id)["city"] == "Renoo"
    assert status(desk_app, order_id) == "exception"  # waiting for a person again, stock given back
    reopened = desk_app.exceptions.case(reversed_["reopened"])
    assert reopened["status"] == "open" and reopened["recommendation"]["action"] == "correct_address"
    assert_no_oversell(desk_app)


def test_an_unverifiable_address_waits_for_a_person_and_is_not_touched(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "postal_code": "00000"})
    result = desk_app.exceptions.process(order_id)
    assert result["status"] == "exception" and len(result["opened"]) == 1
    case = only_case(desk_app, order_id)
    assert case["type"] == "address" and case["status"] == "open" and case["blocking"]
    assert case["recommendation"]["action"] and case["recommendation"]["summary"]
    assert case["recommendation"]["expected_effect"]
    assert ship_to(desk_app, order_id)["postal_code"] == "00000"
    fixed = desk_app.exceptions.resolve(case["case_id"], "correct_address", {"ship_to": {**RENO}}, "ops-ana",
                                        "confirmed by phone")
    assert fixed["status"] == "resolved" and status(desk_app, order_id) == "allocated"


def test_the_policy_can_switch_address_correction_off(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"auto_correct_address": False}, "ops-admin", "pilot")
    order_id = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "city": "Renoo"})
    result = desk_app.exceptions.process(order_id)
    assert result["status"] == "exception" and result["auto_resolved"] == []
    assert ship_to(desk_app, order_id)["city"] == "Renoo"
    assert only_case(desk_app, order_id)["recommendation"]["action"] == "correct_address"


# -- payment -----------------------------------------------------------------------------------------

def test_a_declined_payment_holds_the_order_and_an_authorisation_releases_it(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.record_payment(order_id, "declined", 0.1, "pay-1", "insufficient funds")
    assert desk_app.exceptions.process(order_id)["status"] == "on_hold"
    case = only_case(desk_app, order_id, "open")
    assert (case["type"], case["subtype"]) == ("payment", "declined")
    released = desk_app.exceptions.record_payment(order_id, "authorized", 0.05, "pay-2")
    assert released["released_cases"] == [case["case_id"]]
    assert status(desk_app, order_id) == "allocated"
    assert desk_app.exceptions.case(case["case_id"])["status"] == "auto_resolved"


def test_hold_release_is_left_to_people_when_the_policy_says_so(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"auto_release_hold": False}, "ops-admin")
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.record_payment(order_id, "fraud_review", 0.75)
    desk_app.exceptions.process(order_id)
    desk_app.exceptions.record_payment(order_id, "cleared", 0.1)
    assert status(desk_app, order_id) == "on_hold"
    assert only_case(desk_app, order_id, "open")["recommendation"]["action"] == "release_hold"


def test_a_very_high_fraud_score_recommends_cancelling(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.record_payment(order_id, "fraud_review", 0.95)
    desk_app.exceptions.process(order_id)
    case = only_case(desk_app, order_id, "open")
    assert case["recommendation"]["action"] == "cancel" and status(desk_app, order_id) == "on_hold"
    desk_app.exceptions.resolve(case["case_id"], "cancel", {"reason": "confirmed fraud"}, "ops-ana")
    assert status(desk_app, order_id) == "cancelled"


# -- price, high value, cold start, duplicates ---------------------------------------------------------

def test_a_price_off_the_list_is_flagged_and_repriced_on_decision(desk_app: App) -> None:
    order_id = place(desk_app, "E-1", {"SKU-A": 3}, prices={"SKU-A": "15.00"}, channel="edi")
    assert desk_app.exceptions.process(order_id)["status"] == "exception"
    case = only_case(desk_app, order_id)
    assert case["type"] == "price" and case["recommendation"]["params"]["lines"][0]["unit_price"] == "20.0000"
    desk_app.exceptions.resolve(case["case_id"], "reprice", case["recommendation"]["params"], "ops-ana")
    with desk_app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        assert order is not None and order.lines[0].unit_price == Decimal("20")
    assert status(desk_app, order_id) == "allocated"


def test_a_price_within_tolerance_is_not_flagged(desk_app: App) -> None:
    order_id = place(desk_app, "E-1", {"SKU-A": 3}, prices={"SKU-A": "19.80"}, channel="edi")
    assert desk_app.exceptions.process(order_id)["status"] == "allocated"


def test_high_value_thresholds_come_from_the_policy_per_channel(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"high_value_by_channel": {"web": "100"}}, "ops-admin")
    big = place(desk_app, "W-1", {"SKU-A": 6})  # 120.00
    small = place(desk_app, "W-2", {"SKU-A": 4})  # 80.00
    assert desk_app.exceptions.process(big)["status"] == "exception"
    assert desk_app.exceptions.process(small)["status"] == "allocated"
    case = only_case(desk_app, big)
    assert case["type"] == "high_value" and case["priority"] > 0
    desk_app.exceptions.resolve(case["case_id"], "accept", {}, "ops-ana", "known customer")
    assert status(desk_app, big) == "allocated"


def test_a_resubmitted_order_is_a_suspected_duplicate_and_a_different_one_is_not(desk_app: App) -> None:
    first = place(desk_app, "W-1", {"SKU-A": 2, "SKU-C": 1})
    desk_app.exceptions.process(first)
    again = place(desk_app, "W-2", {"SKU-C": 1, "SKU-A": 2})
    other = place(desk_app, "W-3", {"SKU-A": 3})
    assert desk_app.exceptions.process(again)["status"] == "exception"
    assert desk_app.exceptions.process(other)["status"] == "allocated"
    case = only_case(desk_app, again)
    assert case["type"] == "duplicate" and case["evidence"]["original_order"] == first
    assert case["recommendation"]["action"] == "cancel"
    desk_app.exceptions.resolve(case["case_id"], "cancel", case["recommendation"]["params"], "ops-ana")
    assert status(desk_app, again) == "cancelled" and status(desk_app, first) == "allocated"


def test_cold_start_limits_apply_to_a_new_sku_only_once_the_business_has_history(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"cold_start_min_orders": 1}, "ops-admin")
    early = place(desk_app, "W-0", {"SKU-B": 12}, ship_to=RENO)
    desk_app.bus.handle(c.ReceiveStock(sku="SKU-B", node="DC-EAST", quantity=100, reference="po"))
    assert desk_app.exceptions.process(early)["status"] == "allocated"  # a fresh install: no cold-start flood
    for n in range(10):
        desk_app.exceptions.process(place(desk_app, f"W-{n + 1}", {"SKU-A": 1}, ship_to={**RENO, "name": f"C{n}"}))
    new_sku = place(desk_app, "W-99", {"SKU-C": 11}, ship_to={**RENO, "name": "Zed"})
    assert desk_app.exceptions.process(new_sku)["status"] == "exception"
    case = only_case(desk_app, new_sku)
    assert (case["type"], case["subtype"]) == ("cold_start", "new_sku")


# -- inventory -------------------------------------------------------------------------------------

def test_no_stock_escalates_with_a_backorder_recommendation(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-B": 9})
    assert desk_app.exceptions.process(order_id)["status"] == "exception"
    case = only_case(desk_app, order_id)
    assert (case["type"], case["subtype"]) == ("inventory", "no_stock")
    assert case["recommendation"]["action"] == "hold"


def test_an_approved_substitute_within_the_price_range_is_used_automatically(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"substitutions": [{"for_sku": "SKU-B", "sku": "SKU-A",
                                                       "max_price_delta_pct": 5}]}, "ops-admin")
    order_id = place(desk_app, "W-1", {"SKU-B": 9})
    result = desk_app.exceptions.process(order_id)
    assert result["status"] == "allocated" and len(result["auto_resolved"]) == 1
    with desk_app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        assert order is not None and order.lines[0].sku == "SKU-A" and order.lines[0].unit_price == Decimal("20")
    assert_no_oversell(desk_app)


def test_a_substitute_outside_the_price_range_is_not_used(desk_app: App) -> None:
    desk_app.bus.handle(c.UpsertSku(sku="SKU-P", name="Premium", category="home", unit_price=Decimal("30"),
                                    weight_kg=Decimal("1")))
    desk_app.bus.handle(c.ReceiveStock(sku="SKU-P", node="DC-EAST", quantity=50, reference="po"))
    desk_app.exceptions.set_policy({"substitutions": [{"for_sku": "SKU-B", "sku": "SKU-P",
                                                       "max_price_delta_pct": 10}]}, "ops-admin")
    order_id = place(desk_app, "W-1", {"SKU-B": 9})
    assert desk_app.exceptions.process(order_id)["status"] == "exception"
    with desk_app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        assert order is not None and order.lines[0].sku == "SKU-B"


def test_a_short_pick_reroutes_the_order_to_the_other_warehouse(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 3})
    desk_app.exceptions.process(order_id)
    desk_app.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id))
    result = desk_app.exceptions.record_short_pick(order_id, "DC-EAST", 1, 3, "wms-1")
    assert result["auto_resolved"] and status(desk_app, order_id) == "allocated"
    with desk_app.uow(readonly=True) as uow:
        east = uow.inventory.get_balance("SKU-A", "DC-EAST")
        live = uow.inventory.reservations(order_id=order_id)
    assert east is not None and east.on_hand == 17  # the three missing units were written off
    assert {r.node for r in live} == {"DC-WEST"}
    assert_no_oversell(desk_app)


def test_a_short_pick_waits_for_a_person_when_re_routing_is_off(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"auto_reroute": False}, "ops-admin")
    order_id = place(desk_app, "W-1", {"SKU-A": 3})
    desk_app.exceptions.process(order_id)
    result = desk_app.exceptions.record_short_pick(order_id, "DC-EAST", 1, 1)
    assert "case_id" in result and status(desk_app, order_id) == "exception"
    assert desk_app.exceptions.case(result["case_id"])["recommendation"]["action"] == "reroute"


def test_a_cycle_count_below_reservations_reroutes_the_orders_it_broke(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 5})
    desk_app.exceptions.process(order_id)
    result = desk_app.exceptions.record_cycle_count("SKU-A", "DC-EAST", 2, "count-1")
    assert result["orders_affected"] == [order_id]
    assert result["exceptions"][0]["auto_resolved"] and status(desk_app, order_id) == "allocated"
    assert_no_oversell(desk_app)


# -- carriers ------------------------------------------------------------------------------------

def test_a_carrier_outage_swaps_allocated_orders_to_another_carrier(desk_app: App) -> None:
    add_alt_carrier(desk_app)
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    before = desk_app.exceptions.order_summary(order_id)["routing"]["shipments"][0]["carrier"]
    assert before == "CAR"
    result = desk_app.exceptions.carrier_incident("CAR", "outage", "hub closed by storm")
    assert result["orders"][0]["auto_resolved"]
    assert desk_app.exceptions.order_summary(order_id)["routing"]["shipments"][0]["carrier"] == "ALT"
    new_order = place(desk_app, "W-2", {"SKU-A": 2}, ship_to={**NYC, "name": "Other"})
    desk_app.exceptions.process(new_order)  # routing itself avoids the carrier while the outage lasts
    assert desk_app.exceptions.order_summary(new_order)["routing"]["shipments"][0]["carrier"] == "ALT"


def test_a_carrier_outage_with_no_alternative_escalates_with_a_recommendation(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    result = desk_app.exceptions.carrier_incident("CAR", "outage", "network down")
    case = desk_app.exceptions.case(result["orders"][0]["case_id"])
    assert case["type"] in ("carrier", "inventory") and case["recommendation"]["action"]
    assert status(desk_app, order_id) == "exception"


def test_a_delay_that_still_meets_the_promise_opens_nothing(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    assert desk_app.exceptions.carrier_incident("CAR", "delay", "weather", delay_days=1)["orders"] == []
    assert desk_app.exceptions.cases(status=None) == []


def test_a_released_order_on_a_carrier_in_outage_waits_for_a_person(desk_app: App) -> None:
    add_alt_carrier(desk_app)
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    desk_app.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id))
    result = desk_app.exceptions.carrier_incident("CAR", "outage", "hub closed")
    case = desk_app.exceptions.case(result["orders"][0]["case_id"])
    assert case["recommendation"] == {**case["recommendation"], "action": "swap_carrier"}
    assert status(desk_app, order_id) == "exception"
    desk_app.exceptions.resolve(case["case_id"], "swap_carrier", case["recommendation"]["params"], "ops-ana")
    assert status(desk_app, order_id) == "allocated"
    assert desk_app.exceptions.order_summary(order_id)["routing"]["shipments"][0]["carrier"] == "ALT"


# -- milestones ----------------------------------------------------------------------------------

def test_an_order_left_validated_is_found_by_the_milestone_sweep(desk_app: App) -> None:
    clock = desk_app.clock
    assert isinstance(clock, StepClock)
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    clock.advance(3600)
    opened = desk_app.exceptions.sweep_milestones()["opened"]
    assert len(opened) == 1
    case = desk_app.exceptions.case(opened[0])
    assert (case["type"], case["subtype"], case["order_id"]) == ("milestone", "unrouted", order_id)
    assert desk_app.exceptions.sweep_milestones()["opened"] == opened  # the same case, not a second one


# -- proposals -------------------------------------------------------------------------------------

def test_a_proposal_changes_nothing_until_approved_and_runs_once(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    proposal = desk_app.exceptions.propose("reroute", {"avoid_nodes": ["DC-EAST"]}, "customer asked for Reno",
                                           "ops-agent", order_id=order_id, thread_id="t-1")
    assert proposal["status"] == "pending"
    assert desk_app.exceptions.order_summary(order_id)["routing"]["nodes"] == ["DC-EAST"]
    done = desk_app.exceptions.decide(proposal["proposal_id"], "approve", "ops-ana")
    assert done["status"] == "executed"
    assert desk_app.exceptions.order_summary(order_id)["routing"]["nodes"] == ["DC-WEST"]
    again = desk_app.exceptions.decide(proposal["proposal_id"], "approve", "ops-ana")  # a retried request
    assert again["status"] == "executed"
    assert desk_app.exceptions.order_summary(order_id)["routing"]["nodes"] == ["DC-WEST"]
    with pytest.raises(e.ProposalDecided):
        desk_app.exceptions.decide(proposal["proposal_id"], "reject", "ops-bob")
    trail = [a["action"] for a in desk_app.exceptions.audit(entity="proposal", entity_id=proposal["proposal_id"])]
    assert trail[::-1] == ["proposal.created", "proposal.approve", "proposal.executed"]
    assert_no_oversell(desk_app)


def test_an_edited_proposal_runs_with_the_person_s_parameters(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "postal_code": "00000"})
    case_id = desk_app.exceptions.process(order_id)["opened"][0]
    proposal = desk_app.exceptions.propose("correct_address", {"ship_to": {**RENO, "postal_code": "89509"}},
                                           "likely ZIP", "ops-agent", case_id=case_id)
    result = desk_app.exceptions.decide(proposal["proposal_id"], "edit", "ops-ana",
                                        params={"ship_to": RENO}, note="customer confirmed 89501")
    assert result["status"] == "executed" and ship_to(desk_app, order_id)["postal_code"] == "89501"
    assert desk_app.exceptions.proposal(proposal["proposal_id"])["edited"]
    assert desk_app.exceptions.case(case_id)["status"] == "resolved"


def test_a_rejected_proposal_changes_nothing(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    proposal = desk_app.exceptions.propose("cancel", {"reason": "asked"}, "r", "ops-agent", order_id=order_id)
    assert desk_app.exceptions.decide(proposal["proposal_id"], "reject", "ops-ana")["status"] == "rejected"
    assert status(desk_app, order_id) == "allocated"


def test_an_approved_proposal_is_re_validated_when_it_runs(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    desk_app.exceptions.process(order_id)
    proposal = desk_app.exceptions.propose("reroute", {}, "r", "ops-agent", order_id=order_id)
    desk_app.bus.handle(c.CancelOrder(order_id=order_id, reason="customer cancelled meanwhile"))
    result = desk_app.exceptions.decide(proposal["proposal_id"], "approve", "ops-ana")
    assert result["status"] == "failed" and result["result"]["code"] == "exception.action_not_allowed"
    assert status(desk_app, order_id) == "cancelled"


# -- bad input ---------------------------------------------------------------------------------------

def test_a_bad_policy_is_refused_naming_the_setting_and_the_old_one_stays(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"price_tolerance_pct": 3}, "ops-admin")
    for bad in ({"price_tolerance_pct": -1}, {"no_such": 1}, {"auto_reroute": "yes"},
                {"substitutions": [{"sku": "X"}]}, {"sla_minutes": {"nonsense": 5}}, {"high_value_default": "NaN"}):
        with pytest.raises(e.ValidationFailed) as refused:
            desk_app.exceptions.set_policy(bad, "ops-admin")
        assert refused.value.problems[0].field == f"settings.{next(iter(bad))}"
    assert desk_app.exceptions.policy()["price_tolerance_pct"] == 3


@pytest.mark.parametrize("case_id", ["999", "abc", "", "1; DROP TABLE orders", "9" * 40])
def test_unknown_cases_are_not_found(desk_app: App, case_id: str) -> None:
    with pytest.raises(e.UnknownException):
        desk_app.exceptions.case(case_id)
    with pytest.raises(e.UnknownException):
        desk_app.exceptions.resolve(case_id, "accept", {}, "ops-ana")


def test_a_closed_case_cannot_be_resolved_again_and_bad_actions_are_refused(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "postal_code": "00000"})
    case_id = desk_app.exceptions.process(order_id)["opened"][0]
    with pytest.raises(e.ValidationFailed):
        desk_app.exceptions.resolve(case_id, "launch_rockets", {}, "ops-ana")
    with pytest.raises(e.ValidationFailed):
        desk_app.exceptions.resolve(case_id, "correct_address", {"ship_to": "Reno"}, "ops-ana")
    assert desk_app.exceptions.case(case_id)["status"] == "open"
    desk_app.exceptions.dismiss(case_id, "ops-ana", "checked")
    with pytest.raises(e.CaseClosed):
        desk_app.exceptions.resolve(case_id, "accept", {}, "ops-ana")


def test_opening_a_case_validates_its_fields(desk_app: App) -> None:
    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    with pytest.raises(e.ValidationFailed) as refused:
        desk_app.bus.handle(c.OpenException(type="weather", subtype="", reason="", order_id=order_id,
                                            recommendation={"action": "pray"}))
    fields = {p.field for p in refused.value.problems}
    assert {"type", "subtype", "reason", "recommendation"} <= fields
    assert status(desk_app, order_id) == "validated"


def test_open_cases_are_ordered_by_priority_with_sla_timers(desk_app: App) -> None:
    cheap = place(desk_app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "postal_code": "00000"})
    dear = place(desk_app, "W-2", {"SKU-A": 15}, ship_to={**RENO, "postal_code": "00000", "name": "B"})
    desk_app.exceptions.process(cheap)
    desk_app.exceptions.process(dear)
    queue = desk_app.exceptions.cases()
    assert [q["order_id"] for q in queue] == [dear, cheap]
    due = datetime.fromisoformat(queue[0]["sla_due_at"])
    created = datetime.fromisoformat(queue[0]["created_at"])
    assert due - created == timedelta(minutes=60) and not queue[0]["sla_breached"]
    stats = desk_app.exceptions.queue_stats()
    assert stats["open"] == 2 and stats["by_type"]["address"]["open"] == 2
    assert datetime(2030, 1, 1, tzinfo=UTC) < created and time(0) is not None


def test_a_large_order_routed_to_a_node_without_history_waits_for_a_check_keeping_its_stock(desk_app: App) -> None:
    desk_app.exceptions.set_policy({"cold_start_min_orders": 1}, "ops-admin")
    for n in range(10):
        desk_app.exceptions.process(place(desk_app, f"W-{n}", {"SKU-A": 1}, ship_to={**RENO, "name": f"C{n}"}))
    desk_app.bus.handle(c.UpsertNode(code="DC-NEW", name="New", node_type=NodeType.WAREHOUSE, city="Newark",
                                     state="NJ", postal_code="07102", latitude=40.73, longitude=-74.17,
                                     timezone="America/New_York", daily_pick_capacity=1000, cutoff_local=time(17),
                                     handling_cost=Decimal("0.50")))
    desk_app.bus.handle(c.UpsertLanes(lanes=(("CAR", "ground", "DC-NEW", "100", 2, 1, 0.97),)))
    desk_app.bus.handle(c.ReceiveStock(sku="SKU-A", node="DC-NEW", quantity=500, reference="opening"))
    big = place(desk_app, "W-BIG", {"SKU-A": 120})  # 2,400 > the 2,000 cold-start limit
    result = desk_app.exceptions.process(big)
    assert result["routed"] and result["status"] == "exception", (result, desk_app.exceptions.cases(status=None))
    case = only_case(desk_app, big)
    assert (case["type"], case["subtype"]) == ("cold_start", "new_node") and "DC-NEW" in case["evidence"]["nodes"]
    with desk_app.uow(readonly=True) as uow:
        assert sum(r.quantity for r in uow.inventory.reservations(order_id=big)) == 120
    desk_app.exceptions.resolve(case["case_id"], "accept", {}, "ops-ana", "node checked")
    assert status(desk_app, big) == "allocated"


def test_the_anomaly_model_learns_from_history_and_holds_card_testing(desk_app: App) -> None:
    from engine.services.anomaly import HistoryAnomalyScorer
    from engine.services.exceptions import ExceptionDesk

    desk_app.bus.handle(c.ReceiveStock(sku="SKU-C", node="DC-WEST", quantity=500, reference="po"))
    desk = ExceptionDesk(desk_app.uow, desk_app.bus.handle, desk_app.router,
                         anomaly=HistoryAnomalyScorer(desk_app.uow, min_history=20))
    for n in range(30):
        order_id = place(desk_app, f"H-{n}", {"SKU-C": 1 + n // 10}, ship_to={**RENO, "name": f"C{n % 10}",
                                                                    "line1": f"{n % 10} Elm St"})
        desk.record_payment(order_id, "authorized", 0.01, f"p-{n}", instrument=f"card-{n % 10}")
        result = desk.process(order_id)
        assert result["status"] == "allocated", desk.cases(order_id=order_id)
    clock = desk_app.clock
    assert isinstance(clock, StepClock)
    clock.advance(7 * 3600)  # the model refits after six hours, on the history above
    outcomes = []
    for n in range(3):
        order_id = place(desk_app, f"T-{n}", {"SKU-C": 1}, ship_to={**RENO, "name": f"Victim {n}",
                                                                    "line1": f"{n + 50} Oak St"})
        desk.record_payment(order_id, "authorized", 0.01, f"t-{n}", instrument="stolen-card")
        outcomes.append(desk.process(order_id))
    assert [o["status"] for o in outcomes] == ["allocated", "allocated", "on_hold"]
    case = desk.case(outcomes[2]["opened"][0])
    assert (case["type"], case["subtype"]) == ("payment", "fraud_payment_shared")
    assert case["evidence"]["signals"][0]["customers"] == 3


def test_a_ship_complete_order_no_single_node_can_fill_is_recommended_to_ship_in_parts(desk_app: App) -> None:
    from engine.domain.customers import Tier

    desk_app.bus.handle(c.UpsertPriceList(code="PL-1", currency="USD",
                                          prices={"SKU-B": Decimal("20"), "SKU-C": Decimal("20")}))
    desk_app.bus.handle(c.UpsertAccount(code="ACC-1", name="Buyer", tier=Tier.GOLD, price_list_code="PL-1",
                                        credit_limit=Decimal("100000"), ship_complete=True))
    # SKU-B only in the east, SKU-C only in the west: no single node holds both.
    order_id = place(desk_app, "E-1", {"SKU-B": 2, "SKU-C": 2}, channel="edi", account="ACC-1")
    assert desk_app.exceptions.process(order_id)["status"] == "exception"
    case = only_case(desk_app, order_id)
    assert (case["type"], case["subtype"]) == ("inventory", "ship_complete")
    assert case["recommendation"]["action"] == "split_shipment"
    done = desk_app.exceptions.resolve(case["case_id"], "split_shipment", {}, "ops-ana", "buyer agreed")
    assert done["status"] == "resolved" and status(desk_app, order_id) == "allocated"
    assert sorted(desk_app.exceptions.order_summary(order_id)["routing"]["nodes"]) == ["DC-EAST", "DC-WEST"]


def test_the_same_finding_raised_by_two_writers_at_once_opens_one_case(desk_app: App) -> None:
    from concurrent.futures import ThreadPoolExecutor

    order_id = place(desk_app, "W-1", {"SKU-A": 1})
    flag = c.OpenException(type="carrier", subtype="tracking_delay", reason="late parcel", order_id=order_id,
                           blocking=False, recommendation={"action": "notify_customer", "summary": "tell them",
                                                           "expected_effect": "fewer calls"})
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _n: desk_app.bus.handle(flag), range(6)))
    assert len({r["case_id"] for r in results}) == 1
    assert len(desk_app.exceptions.cases(order_id=order_id)) == 1
