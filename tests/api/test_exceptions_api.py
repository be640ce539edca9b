"""The exception desk over HTTP against the seeded demo on SQLite: the queue, decisions, proposals, policy,
signals from other systems, and hostile input that must change nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.http import create_api
from engine.bootstrap import App, bootstrap
from engine.services.demo import seed_demo
from tests.auth import headers
from tests.integration.helpers import StepClock, snapshot

SKU = "HOM-0001"
RENO = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
        "country": "US"}
Client = tuple[TestClient, App]


@pytest.fixture(scope="module")
def demo_db(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated database seeded with the demo network once for the module."""
    path = tmp_path_factory.mktemp("exceptions-api") / "demo.db"
    shutil.copy(sqlite_template, path)
    app = bootstrap(database_url=f"sqlite:///{path}", migrate=False)
    seed_demo(app.bus)
    app.close()
    return path


@pytest.fixture
def client(demo_db: Path, tmp_path: Path) -> Iterator[Client]:
    path = tmp_path / "orderloom.db"
    shutil.copy(demo_db, path)
    app = bootstrap(database_url=f"sqlite:///{path}", migrate=False, clock=StepClock())
    with TestClient(create_api(app, background_seconds=0), headers=headers(app, "ana")) as http:
        yield http, app
    app.close()


def place(http: TestClient, ext: str, quantity: int = 2, route: bool = True, **ship_to: str) -> str:
    body = {"channel": "web", "external_id": ext, "ship_to": {**RENO, **ship_to},
            "lines": [{"sku": SKU, "quantity": quantity}]}
    placed = http.post("/orders", json=body, params={"route": route})
    assert placed.status_code == 201, placed.text
    return str(placed.json()["order_id"])


def open_case(http: TestClient, ext: str = "W-1") -> tuple[str, str]:
    """An order whose ZIP does not exist: it waits in the queue with an address case."""
    order_id = place(http, ext, postal_code="00000")
    cases = http.get("/exceptions", params={"order_id": order_id}).json()
    assert len(cases) == 1 and cases[0]["type"] == "address", cases
    return order_id, str(cases[0]["case_id"])


def order_status(http: TestClient, order_id: str) -> str:
    return str(http.get(f"/orders/{order_id}").json()["status"])


# -- the queue and people's decisions ----------------------------------------------------------------

def test_a_case_is_listed_filtered_shown_assigned_and_resolved(client: Client) -> None:
    http, app = client
    order_id, case_id = open_case(http)
    place(http, "W-2")  # a clean order opens nothing
    assert order_status(http, order_id) == "exception"
    assert [x["case_id"] for x in http.get("/exceptions").json()] == [case_id]
    for params in ({"type": "address"}, {"channel": "web"}, {"status": "open"}, {"since": "2029-12-31T00:00:00Z"}):
        assert len(http.get("/exceptions", params=params).json()) == 1, params
    for params in ({"type": "payment"}, {"channel": "pos"}, {"status": "resolved"}, {"assignee": "ana"},
                   {"since": "2031-01-01T00:00:00+00:00"}):
        assert http.get("/exceptions", params=params).json() == [], params
    stats = http.get("/exceptions/stats").json()
    assert stats["open"] == 1 and stats["unassigned"] == 1 and stats["by_type"]["address"]["open"] == 1
    shown = http.get(f"/exceptions/{case_id}").json()
    assert shown["order"]["order_id"] == order_id and shown["recommendation"]["action"] and shown["audit"]

    assigned = http.post(f"/exceptions/{case_id}/assign", json={"assignee": "ana", "actor": "lead"},
                     headers=headers(app, "lead"))
    assert assigned.status_code == 200, assigned.text
    assert [x["case_id"] for x in http.get("/exceptions", params={"assignee": "ana"}).json()] == [case_id]

    resolved = http.post(f"/exceptions/{case_id}/resolve", json={
        "action": "correct_address", "params": {"ship_to": RENO}, "actor": "ana", "note": "confirmed by phone"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and order_status(http, order_id) == "allocated"
    assert http.get("/exceptions").json() == []
    assert http.get("/exceptions", params={"status": "all"}).json()[0]["resolved_by"] == "ana"
    trail = http.get("/audit", params={"entity": "exception", "entity_id": case_id}).json()
    assert {"ana", "lead"} <= {a["actor"] for a in trail}
    assert http.get("/audit", params={"actor": "ana"}).json()

    again = http.post(f"/exceptions/{case_id}/resolve", json={"action": "accept", "actor": "bob"},
                     headers=headers(app, "bob"))
    assert again.status_code == 409 and again.json()["code"] == "exception.closed"
    assert order_status(http, order_id) == "allocated"


def test_a_dismissed_case_stays_dismissed(client: Client) -> None:
    http, app = client
    _, case_id = open_case(http)
    dismissed = http.post(f"/exceptions/{case_id}/dismiss", json={"actor": "ana", "note": "false alarm"})
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    twice = http.post(f"/exceptions/{case_id}/dismiss", json={"actor": "bob", "note": "me too"},
                     headers=headers(app, "bob"))
    assert twice.status_code == 409 and twice.json()["code"] == "exception.closed"
    assert http.get(f"/exceptions/{case_id}").json()["resolved_by"] == "ana"


def test_an_automatic_address_correction_is_reversed_once(client: Client) -> None:
    http, _app = client
    order_id = place(http, "W-1", city="Renoo")
    case = http.get("/exceptions", params={"status": "auto_resolved", "order_id": order_id}).json()
    assert len(case) == 1 and case[0]["type"] == "address", case
    reversed_ = http.post(f"/exceptions/{case[0]['case_id']}/reverse", json={"actor": "ana", "note": "it is Renoo"})
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["reversed"] and http.get(f"/orders/{order_id}").json()["ship_to"]["city"] == "Renoo"
    reopened = http.get(f"/exceptions/{reversed_.json()['reopened']}").json()
    assert reopened["status"] == "open"
    refused = http.post(f"/exceptions/{reopened['case_id']}/reverse", json={"actor": "ana", "note": "again"})
    assert refused.status_code == 409 and refused.json()["code"] == "exception.action_not_allowed"


# -- proposals -------------------------------------------------------------------------------------

def test_a_proposal_is_approved_once_and_cannot_be_decided_again(client: Client) -> None:
    http, app = client
    order_id, case_id = open_case(http)
    proposal = app.exceptions.propose("correct_address", {"ship_to": RENO}, "the ZIP of Reno", "ops-agent",
                                      case_id=case_id, thread_id="t-1")
    pid = proposal["proposal_id"]
    assert [p["proposal_id"] for p in http.get("/proposals", params={"status": "pending"}).json()] == [pid]
    assert http.get("/proposals", params={"thread_id": "t-1"}).json()[0]["case_id"] == case_id
    assert http.get(f"/proposals/{pid}").json()["status"] == "pending"
    assert order_status(http, order_id) == "exception"  # nothing happens until a person decides

    approved = http.post(f"/proposals/{pid}/approve", json={"actor": "ana"})
    assert approved.status_code == 200 and approved.json()["status"] == "executed", approved.text
    assert order_status(http, order_id) == "allocated"
    retried = http.post(f"/proposals/{pid}/approve", json={"actor": "ana"})
    assert retried.status_code == 200 and retried.json()["status"] == "executed"
    other = http.post(f"/proposals/{pid}/reject", json={"actor": "bob", "note": "no"},
                     headers=headers(app, "bob"))
    assert other.status_code == 409 and other.json()["code"] == "proposal.already_decided"
    trail = [a["action"] for a in http.get("/audit", params={"entity": "proposal", "entity_id": pid}).json()]
    assert "proposal.executed" in trail


def test_an_edited_proposal_runs_with_the_person_s_params_and_a_rejected_one_changes_nothing(client: Client) -> None:
    http, app = client
    order_id, case_id = open_case(http)
    wrong = app.exceptions.propose("correct_address", {"ship_to": {**RENO, "postal_code": "89509"}}, "guess",
                                   "ops-agent", case_id=case_id)
    edited = http.post(f"/proposals/{wrong['proposal_id']}/edit",
                       json={"actor": "ana", "params": {"ship_to": RENO}, "note": "customer said 89501"})
    assert edited.status_code == 200 and edited.json()["status"] == "executed", edited.text
    assert http.get(f"/orders/{order_id}").json()["ship_to"]["postal_code"] == "89501"
    assert http.get(f"/proposals/{wrong['proposal_id']}").json()["edited"]

    cancel = app.exceptions.propose("cancel", {"reason": "asked"}, "customer email", "ops-agent", order_id=order_id)
    rejected = http.post(f"/proposals/{cancel['proposal_id']}/reject", json={"actor": "ana", "note": "not asked"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert order_status(http, order_id) == "allocated"
    late = http.post(f"/proposals/{cancel['proposal_id']}/approve", json={"actor": "bob"},
                     headers=headers(app, "bob"))
    assert late.status_code == 409 and late.json()["code"] == "proposal.already_decided"
    assert order_status(http, order_id) == "allocated"


# -- policy and signals ------------------------------------------------------------------------------

def test_the_policy_is_read_changed_and_a_bad_one_refused(client: Client) -> None:
    http, app = client
    before = http.get("/exceptions/policy").json()
    changed = http.put("/exceptions/policy", json={"settings": {"price_tolerance_pct": 3}, "actor": "lead",
                                                    "note": "peak"})
    assert changed.status_code == 200, changed.text
    now = http.get("/exceptions/policy").json()
    assert now["price_tolerance_pct"] == 3 and now["version"] > before["version"]
    refused = http.put("/exceptions/policy", json={"settings": {"price_tolerance_pct": -1}, "actor": "lead"},
                     headers=headers(app, "lead"))
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"].startswith("settings")
    unknown = http.put("/exceptions/policy", json={"settings": {"launch": True}, "actor": "lead"},
                     headers=headers(app, "lead"))
    assert unknown.status_code == 422
    assert http.get("/exceptions/policy").json() == now


def test_a_declined_payment_holds_the_order_and_an_authorisation_releases_it(client: Client) -> None:
    http, _app = client
    order_id = place(http, "W-1")
    declined = http.post(f"/orders/{order_id}/payment-signal",
                         json={"status": "declined", "fraud_score": 0.1, "reference": "pay-1"})
    assert declined.status_code == 200, declined.text
    assert order_status(http, order_id) == "on_hold"
    case = http.get("/exceptions", params={"type": "payment"}).json()
    assert [x["order_id"] for x in case] == [order_id]
    released = http.post(f"/orders/{order_id}/payment-signal", json={"status": "authorized", "reference": "pay-2"})
    assert released.status_code == 200 and released.json()["released_cases"] == [case[0]["case_id"]]
    assert order_status(http, order_id) == "allocated"


def test_a_short_pick_re_routes_the_order(client: Client) -> None:
    http, _app = client
    order_id = place(http, "W-1")
    node = http.get(f"/orders/{order_id}").json()["reservations"][0]["node"]
    picked = http.post(f"/orders/{order_id}/short-pick", json={"node": node, "line_no": 1, "short": 2,
                                                                "reference": "wms-1"})
    assert picked.status_code == 200, picked.text
    shown = http.get(f"/orders/{order_id}").json()
    assert shown["status"] == "allocated"
    assert {r["node"] for r in shown["reservations"] if r["status"] == "active"} != {node}


def test_a_carrier_incident_and_the_milestone_sweep(client: Client) -> None:
    http, app = client
    incident = http.post("/carriers/NPX/incidents", json={"kind": "delay", "reason": "storm", "delay_days": 1,
                                                           "dest_prefixes": ["895"]})
    assert incident.status_code == 200, incident.text
    cleared = http.post("/carriers/NPX/incidents", json={"kind": "cleared", "reason": "storm over"})
    assert cleared.status_code == 200, cleared.text
    order_id = place(http, "W-1", route=False)
    clock = app.clock
    assert isinstance(clock, StepClock)
    clock.advance(3600)
    swept = http.post("/exceptions/sweep")
    assert swept.status_code == 200 and len(swept.json()["opened"]) == 1
    case = http.get(f"/exceptions/{swept.json()['opened'][0]}").json()
    assert (case["type"], case["subtype"], case["order_id"]) == ("milestone", "unrouted", order_id)


# -- hostile input: the right refusal, and nothing changed -------------------------------------------

HOSTILE_IDS = ["999999", "abc", "1; DROP TABLE exception_cases;--", "x' OR '1'='1", "9" * 300, "\x00", "-1",
               "\x1b[2J"]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_unknown_or_hostile_ids_are_404_and_change_nothing(client: Client, bad_id: str) -> None:
    http, app = client
    open_case(http)
    before = snapshot(app.engine)
    bad_id, raw_id = quote(bad_id, safe=""), bad_id
    calls: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("GET", f"/exceptions/{bad_id}", None, "exception.unknown"),
        ("POST", f"/exceptions/{bad_id}/resolve", {"action": "accept", "actor": "ana"}, "exception.unknown"),
        ("POST", f"/exceptions/{bad_id}/dismiss", {"actor": "ana", "note": "x"}, "exception.unknown"),
        ("POST", f"/exceptions/{bad_id}/reverse", {"actor": "ana", "note": "x"}, "exception.unknown"),
        ("POST", f"/exceptions/{bad_id}/assign", {"assignee": "ana", "actor": "lead"}, "exception.unknown"),
        ("GET", f"/proposals/{bad_id}", None, "proposal.unknown"),
        ("POST", f"/proposals/{bad_id}/approve", {"actor": "ana"}, "proposal.unknown"),
        ("POST", f"/proposals/{bad_id}/edit", {"actor": "ana", "params": {}}, "proposal.unknown"),
        ("POST", f"/proposals/{bad_id}/reject", {"actor": "ana"}, "proposal.unknown"),
        ("POST", f"/orders/{bad_id}/payment-signal", {"status": "declined"}, "order.unknown"),
        ("POST", f"/orders/{bad_id}/short-pick", {"node": "DC-RNO", "line_no": 1, "short": 1}, "order.unknown"),
    ]
    for method, path, body, code in calls:
        response = http.request(method, path, json=body)
        if len(raw_id) > 64 or not raw_id.isprintable():  # refused before the engine, naming the parameter
            assert response.status_code == 422, (path, response.text)
            assert response.json()["problems"][0]["field"] in ("case_id", "proposal_id", "order_id")
            continue
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == code, (path, response.json())
    assert http.post(f"/carriers/{bad_id}/incidents", json={"kind": "outage", "reason": "x"}).status_code in (404,
                                                                                                              422)
    assert snapshot(app.engine) == before


BIG = "x" * 20_000


@pytest.mark.parametrize(("path", "body", "field"), [
    ("resolve", {"action": "launch_rockets", "actor": "ana"}, "action"),
    ("resolve", {"action": "accept", "actor": "a" * 101}, "actor"),
    ("resolve", {"action": "accept", "actor": "ana", "note": BIG}, "note"),
    ("resolve", {"action": "accept", "actor": "ana", "params": "ship_to"}, "params"),
    ("resolve", {"action": "accept", "actor": "ana", "params": {"blob": BIG}}, "params"),
    ("resolve", {"action": "accept", "actor": "ana", "admin": True}, "admin"),
    ("resolve", {"action": 7, "actor": "ana"}, "action"),
    ("resolve", {"action": "accept", "actor": ["ana"]}, "actor"),
    ("resolve", {"action": "correct_address", "actor": "ana", "params": {"ship_to": "Reno"}}, "params.ship_to"),
    ("resolve", {"action": "DROP TABLE orders; --", "actor": "ana"}, "action"),
    ("dismiss", {"actor": "ana", "note": "x", "status": "resolved"}, "status"),
    ("reverse", {"actor": 5, "note": "x"}, "actor"),
    ("assign", {"actor": "lead"}, "assignee"),
    ("assign", {"assignee": "a" * 500, "actor": "lead"}, "assignee"),
])
def test_bad_decisions_are_422_naming_the_field_and_change_nothing(client: Client, path: str, body: Any,
                                                                   field: str) -> None:
    http, app = client
    order_id, case_id = open_case(http)
    before = snapshot(app.engine)
    response = http.post(f"/exceptions/{case_id}/{path}", json=body)
    assert response.status_code == 422, response.text
    assert field in [p["field"] for p in response.json()["problems"]], response.json()
    assert snapshot(app.engine) == before
    assert order_status(http, order_id) == "exception"


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/exceptions", {"limit": -1}, "limit"),
    ("/exceptions", {"limit": 0}, "limit"),
    ("/exceptions", {"limit": 501}, "limit"),
    ("/exceptions", {"limit": "ten"}, "limit"),
    ("/exceptions", {"status": "pending"}, "status"),
    ("/exceptions", {"status": "open' OR 1=1 --"}, "status"),
    ("/exceptions", {"type": "weather"}, "type"),
    ("/exceptions", {"since": "yesterday"}, "since"),
    ("/exceptions", {"channel": "c" * 33}, "channel"),
    ("/exceptions", {"order_id": "1" * 65}, "order_id"),
    ("/proposals", {"status": "maybe"}, "status"),
    ("/proposals", {"limit": 100_000}, "limit"),
    ("/audit", {"limit": -5}, "limit"),
    ("/audit", {"actor": "a" * 101}, "actor"),
])
def test_bad_filters_are_422_naming_the_parameter(client: Client, path: str, params: dict[str, Any],
                                                  field: str) -> None:
    http, _app = client
    response = http.get(path, params=params)
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["problems"]] == [field]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/exceptions/policy", {"settings": {}, "actor": "lead"}, "settings"),
    ("/exceptions/policy", {"settings": {"x": BIG}, "actor": "lead"}, "settings"),
    ("/exceptions/policy", {"settings": [1, 2], "actor": "lead"}, "settings"),
    ("/exceptions/policy", {"settings": {"auto_reroute": "yes"}, "actor": "lead"}, "settings.auto_reroute"),
    ("/exceptions/policy", {"settings": {"no_such": 1}, "actor": "lead"}, "settings"),
    ("payment-signal", {"status": "declined", "fraud_score": 7}, "fraud_score"),
    ("payment-signal", {"status": "declined", "fraud_score": "0.9"}, "fraud_score"),
    ("payment-signal", {"status": "declined", "card_number": "4111111111111111"}, "card_number"),
    ("payment-signal", {"status": "s" * 100}, "status"),
    ("short-pick", {"node": "DC-RNO", "line_no": 1, "short": -3}, "short"),
    ("short-pick", {"node": "DC-RNO", "line_no": "1", "short": 1}, "line_no"),
    ("short-pick", {"node": "DC-RNO", "line_no": 0, "short": 1}, "line_no"),
    ("/carriers/NPX/incidents", {"kind": "meteor", "reason": "x"}, "kind"),
    ("/carriers/NPX/incidents", {"kind": "delay", "reason": "x", "delay_days": -1}, "delay_days"),
    ("/carriers/NPX/incidents", {"kind": "delay", "reason": "x", "dest_prefixes": ["89; --"]}, "dest_prefixes[0]"),
])
def test_bad_policies_and_signals_are_refused_naming_the_field_and_change_nothing(
        client: Client, path: str, body: Any, field: str) -> None:
    http, app = client
    order_id = place(http, "W-1")
    if not path.startswith("/"):
        path = f"/orders/{order_id}/{path}"
    before = snapshot(app.engine)
    response = (http.put if path.endswith("policy") else http.post)(path, json=body)
    assert response.status_code == 422, response.text
    assert any(p["field"].startswith(field) for p in response.json()["problems"]), response.json()
    assert snapshot(app.engine) == before
    assert order_status(http, order_id) == "allocated"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"action": null}', b"\xff\xfe", b'{"a":' * 50])
def test_malformed_bodies_are_422_not_500(client: Client, raw: bytes) -> None:
    http, app = client
    _, case_id = open_case(http)
    before = snapshot(app.engine)
    response = http.post(f"/exceptions/{case_id}/resolve", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "validation.failed"
    assert snapshot(app.engine) == before


def test_a_body_nested_past_the_parser_s_depth_is_a_client_error_not_500(client: Client) -> None:
    http, app = client
    _, case_id = open_case(http)
    before = snapshot(app.engine)
    raw = b'{"action": "accept", "actor": "ana", "params": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    response = http.post(f"/exceptions/{case_id}/resolve", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text  # FastAPI answers 400 when json.loads gives up
    assert snapshot(app.engine) == before


def test_an_action_the_case_s_order_no_longer_allows_is_409_and_changes_nothing(client: Client) -> None:
    http, app = client
    order_id, case_id = open_case(http)
    assert http.post(f"/orders/{order_id}/cancel", json={"reason": "customer"}).status_code == 200
    open_ = http.get("/exceptions", params={"order_id": order_id}).json()
    if open_:  # the cancellation may have cleared the case already; if not, acting on it must be refused
        before = snapshot(app.engine)
        refused = http.post(f"/exceptions/{case_id}/resolve", json={"action": "reroute", "actor": "ana"})
        assert refused.status_code == 409, refused.text
        assert snapshot(app.engine) == before
    assert order_status(http, order_id) == "cancelled"
