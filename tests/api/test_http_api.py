"""The HTTP API over SQLite and PostgreSQL: orders, channel adapters, routing, errors as typed JSON."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http import create_api
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.channels import ChannelKind
from tests.auth import headers
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import NYC, build


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[TestClient, App]]:
    app = bootstrap(database_url=database_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 10, ("SKU-A", "DC-WEST"): 10, ("SKU-B", "ST-NYC"): 4})
    for code, kind in (("marketplace", ChannelKind.MARKETPLACE), ("pos", ChannelKind.POS)):
        app.bus.handle(c.UpsertChannel(code=code, name=code, kind=kind, priority=False))
    with TestClient(create_api(app, background_seconds=0), headers=headers(app)) as http:
        yield http, app
    app.close()


def order(ext: str = "API-1", **extra: Any) -> dict[str, Any]:
    return {"channel": "web", "external_id": ext, "ship_to": NYC,
            "lines": [{"sku": "SKU-A", "quantity": 2}], **extra}


def test_an_order_is_placed_routed_and_explained(client: tuple[TestClient, App]) -> None:
    http, _ = client
    placed = http.post("/orders", json=order(), headers={"Idempotency-Key": "k-1"})
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["status"] == "allocated" and body["routing"]["nodes"] == ["DC-EAST"]
    again = http.post("/orders", json=order(), headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == body
    other = http.post("/orders", json=order("API-2"), headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency.key_reused"  # IETF draft: 422
    shown = http.get(f"/orders/{body['order_id']}").json()
    assert shown["status"] == "allocated" and shown["reservations"][0]["node"] == "DC-EAST"
    decisions = http.get(f"/orders/{body['order_id']}/decisions", params={"text": True}).json()
    assert decisions[0]["outcome"] == "committed" and "DC-EAST" in decisions[0]["explanation"]["text"]
    assert set(decisions[0]["baselines"]) == {"fixed-priority", "nearest-with-stock"}
    assert http.get("/routing/shadow").json()["decisions"] == 1


def test_unrouted_placement_then_route_and_the_lifecycle(client: tuple[TestClient, App]) -> None:
    http, _ = client
    body = http.post("/orders", json=order("API-3"), params={"route": False}).json()
    assert body["status"] == "validated" and body["routing"] is None
    routed = http.post(f"/orders/{body['order_id']}/route").json()
    assert routed["routed"] and routed["status"] == "allocated"
    again = http.post(f"/orders/{body['order_id']}/route")
    assert again.status_code == 409 and again.json()["code"] == "state.illegal_transition"
    assert http.post(f"/orders/{body['order_id']}/hold", json={"reason": "fraud check"}).json()["status"] == "on_hold"
    resumed = http.post(f"/orders/{body['order_id']}/resume", json={"reason": "cleared"}).json()
    assert resumed["status"] == "allocated"
    assert http.post(f"/orders/{body['order_id']}/release").json()["status"] == "released"
    cancelled = http.post(f"/orders/{body['order_id']}/cancel", json={"reason": "customer"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_an_unservable_order_is_accepted_into_exception_with_the_reason(client: tuple[TestClient, App]) -> None:
    http, _ = client
    body = http.post("/orders", json={**order("API-4"), "lines": [{"sku": "SKU-B", "quantity": 9}]}).json()
    assert body["status"] == "exception" and "line 1: stock" in body["status_reason"]
    assert body["routing"]["outcome"] == "failed"


@pytest.mark.parametrize(("payload", "field", "status"), [
    ({**order(), "lines": [{"sku": "NOPE-1", "quantity": 1}]}, "lines[0].sku", 404),
    ({**order(), "lines": [{"sku": "SKU-A", "quantity": 0}]}, "lines[0].quantity", 422),
    ({**order(), "lines": [{"sku": "SKU-A", "quantity": "2"}]}, "lines[0].quantity", 422),
    ({**order(), "lines": [{"sku": "SKU-A", "quantity": 1, "discount": 5}]}, "lines[0].discount", 422),
    ({**order(), "ship_to": {"name": "A"}}, "ship_to.line1", 422),
    ({**order(), "channel": "telepathy"}, "channel", 404),
    ({**order(), "lines": []}, "lines", 422),
    ({**order(), "currency": "usd"}, "currency", 422),
    ({**order(), "external_id": "x" * 500}, "external_id", 422),
])
def test_bad_orders_get_the_field_and_reason_and_change_nothing(client: tuple[TestClient, App], payload: Any,
                                                                 field: str, status: int) -> None:
    http, _ = client
    response = http.post("/orders", json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert field in [p["field"] for p in body["problems"]], body
    assert all(p["message"] and p["fix"] for p in body["problems"])
    assert http.get("/routing/shadow").json()["decisions"] == 0


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"channel": null}', b"\xff\xfe", b'{"a":' * 50])
def test_malformed_bodies_are_422_not_500(client: tuple[TestClient, App], raw: bytes) -> None:
    http, _ = client
    response = http.post("/orders", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "validation.failed"


@pytest.mark.parametrize("order_id", ["999999", "x'; DROP TABLE orders;--", "%00", "1" * 300])
def test_unknown_or_hostile_order_ids_are_404(client: tuple[TestClient, App], order_id: str) -> None:
    http, _ = client
    for path in (f"/orders/{order_id}", f"/orders/{order_id}/decisions"):
        response = http.get(path)
        assert response.status_code == 404 and response.json()["code"] == "order.unknown"
    assert http.post(f"/orders/{order_id}/route").status_code == 404


MARKETPLACE = {"AmazonOrderId": "112-5550001-1234567", "LatestDeliveryDate": "2030-01-09T23:59:59Z",
               "ShippingAddress": {"Name": "Grace Hopper", "AddressLine1": "10 Hudson Yards", "City": "New York",
                                   "StateOrRegion": "NY", "PostalCode": "10001", "CountryCode": "US"},
               "OrderItems": [{"SellerSKU": "SKU-A", "QuantityOrdered": 3,
                               "ItemPrice": {"CurrencyCode": "USD", "Amount": "59.97"}}]}


def test_marketplace_feed_orders_become_routed_orders_once(client: tuple[TestClient, App]) -> None:
    http, _ = client
    body = http.post("/intake/marketplace", json=MARKETPLACE).json()
    assert body["status"] == "allocated"
    shown = http.get(f"/orders/{body['order_id']}").json()
    assert shown["channel"] == "marketplace" and Decimal(shown["lines"][0]["unit_price"]) == Decimal("19.99")
    assert shown["external_id"] == "112-5550001-1234567"
    duplicate = http.post("/intake/marketplace", json=MARKETPLACE)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "order.duplicate_external_id"
    bad = {**MARKETPLACE, "AmazonOrderId": "2", "OrderItems": [{"SellerSKU": "SKU-A", "QuantityOrdered": -1,
                                                                 "ItemPrice": {"Amount": "abc"}}]}
    refused = http.post("/intake/marketplace", json=bad)
    assert refused.status_code == 422
    assert {p["field"] for p in refused.json()["problems"]} >= {"OrderItems[0].QuantityOrdered",
                                                                "OrderItems[0].ItemPrice.Amount"}


def test_pos_pickup_reserves_in_the_store_and_ship_is_routed(client: tuple[TestClient, App]) -> None:
    http, _ = client
    pickup = {"store": "ST-NYC", "register": "2", "receipt": "0042", "fulfilment": "pickup",
              "customer": {"name": "Alan Turing"}, "lines": [{"sku": "SKU-B", "qty": 1, "price": "25.00"}]}
    body = http.post("/intake/pos", json=pickup).json()
    shown = http.get(f"/orders/{body['order_id']}").json()
    assert body["status"] == "allocated" and shown["reservations"][0]["node"] == "ST-NYC"
    assert shown["ship_to"]["city"] == "New York" and shown["external_id"] == "ST-NYC-2-0042"
    ship = {**pickup, "receipt": "0043", "fulfilment": "ship", "ship_to": {k: NYC[k] for k in
                                                                             ("line1", "city", "state",
                                                                              "postal_code", "country")},
            "lines": [{"sku": "SKU-A", "qty": 1}]}
    shipped = http.post("/intake/pos", json=ship).json()
    assert shipped["status"] == "allocated" and shipped["routing"]["nodes"] == ["DC-EAST"]
    unknown = http.post("/intake/pos", json={**pickup, "store": "ST-MARS", "receipt": "1"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["field"] == "store"
    wrong = http.post("/intake/pos", json={**pickup, "fulfilment": "drone"})
    assert wrong.status_code == 422 and wrong.json()["problems"][0]["field"] == "fulfilment"


def test_policies_through_the_api_are_audited(client: tuple[TestClient, App]) -> None:
    http, _ = client
    made = http.post("/routing/policies", json={"name": "speed", "weights": {"sla_risk": 100}, "actor": "maria",
                                                "activate": True})
    assert made.status_code == 201 and made.json()["version"] == 2
    assert http.post("/routing/policies/1/activate", json={"actor": "maria", "reason": "peak over"}).status_code == 200
    assert [p["active"] for p in http.get("/routing/policies").json()] == [True, False]
    audit = http.get("/routing/audit").json()
    # The recorded actor is the authenticated caller, whatever the body says.
    assert audit[0]["action"] == "routing_policy.activated" and audit[0]["actor"] == "ops"
    bad = http.post("/routing/policies", json={"name": "x", "weights": {"sla_risk": -5}, "actor": "m"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "weights.sla_risk"
    assert http.post("/routing/policies/77/activate", json={"actor": "m"}).status_code == 404
    assert http.post("/routing/reoptimise").json()["considered"] >= 0
