"""Access control: every endpoint declares what it needs; nobody sees an order that is not theirs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.http import create_api
from api.http.auth import PUBLIC_PATHS, current_principal
from engine.adapters import tables as t
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from tests.auth import headers
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import NYC, build

SIGNED = {"/carriers/{carrier}/tracking"}  # the signature is the credential


def _customer(app: App, cid: str, email: str, name: str) -> None:
    app.bus.handle(c.UpsertCustomer(customer_id=cid, email=email, name=name))


def _order(app: App, ext: str, customer: str, name: str, email: str) -> str:
    result = app.bus.handle(c.PlaceOrder(channel="web", external_id=ext, customer_id=customer,
                                         ship_to={**NYC, "name": name, "email": email},
                                         lines=(c.NewOrderLine(sku="SKU-A", quantity=1),)))
    order_id = str(result["order_id"])
    app.exceptions.process(order_id)
    return order_id


@pytest.fixture
def world(sqlite_url: str) -> Iterator[tuple[TestClient, App, dict[str, str]]]:
    app = bootstrap(database_url=sqlite_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 50})
    _customer(app, "cust-a", "ann@example.com", "Ann Able")
    _customer(app, "cust-b", "bea@example.com", "Bea Secret")
    ids = {"a": _order(app, "W-A1", "cust-a", "Ann Able", "ann@example.com"),
           "b": _order(app, "W-B1", "cust-b", "Bea Secret", "bea@example.com")}
    with TestClient(create_api(app, background_seconds=0)) as http:
        yield http, app, ids
    app.close()


def _routes(api: Any) -> list[Any]:
    """Every API route with its full path (routers included lazily are expanded)."""
    out: list[Any] = []
    for r in api.routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "effective_route_contexts"):
            out.extend(x for x in r.effective_route_contexts() if getattr(x, "dependant", None) is not None)
    return out


def _needs_principal(route: Any) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is current_principal or getattr(dep.call, "required", None):
            return True
        stack.extend(dep.dependencies)
    return False


def _concrete(path: str) -> str:
    return (path.replace("{order_id}", "1").replace("{case_id}", "1").replace("{proposal_id}", "1")
            .replace("{carrier}", "CAR").replace("{thread_id}", "t").replace("{document_id}", "1")
            .replace("{shipment_id}", "s").replace("{sku}", "SKU-A").replace("{version}", "1")
            .replace("{principal_id}", "p").replace("{key_id}", "k").replace("{notification_id}", "1"))


def _pages(routes: list[Any]) -> list[Any]:
    """The dashboard's HTML pages: they check the session themselves and send a stranger to the sign-in form."""
    return [r for r in routes if r.path.startswith("/ui/") and r.path not in PUBLIC_PATHS and not _needs_principal(r)]


def test_every_endpoint_declares_who_may_call_it() -> None:
    api = create_api(bootstrap(database_url="sqlite://", migrate=True), background_seconds=0)
    routes = _routes(api)
    pages = _pages(routes)
    undeclared = [r.path for r in routes
                  if r.path not in PUBLIC_PATHS | SIGNED and not _needs_principal(r) and r not in pages]
    assert len(routes) > 50 and undeclared == []
    assert {p.path for p in pages} == {"/ui/", "/ui/exceptions", "/ui/orders", "/ui/orders/{order_id}",
                                       "/ui/inventory", "/ui/carriers", "/ui/assistant", "/ui/shop", "/ui/returns"}


def test_dashboard_pages_send_strangers_to_sign_in_and_customers_to_their_page(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    ops = headers(app, "olga", "ops")
    for route in _pages(_routes(http.app)):
        path = _concrete(route.path)
        for creds in ({}, {"X-API-Key": "nonsense"}, {"Cookie": "orderloom_session=olt_" + "x" * 43}):
            response = http.get(path, headers=creds, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/ui/login"), path
            assert "Bea" not in response.text and "<table" not in response.text
        as_customer = http.get(path, headers=ann, follow_redirects=False)
        if path == "/ui/shop":
            assert as_customer.status_code == 200 and "Bea" not in as_customer.text
        else:
            assert as_customer.status_code == 303 and as_customer.headers["location"] == "/ui/shop", path
        assert http.get(path, headers=ops, follow_redirects=False).status_code == 200, path


def test_without_credentials_every_endpoint_is_401_and_says_nothing(world: tuple[TestClient, App, dict[str, str]],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    http, _, _ = world
    checked = 0
    routes = _routes(http.app)
    for route in routes:
        if route.path in PUBLIC_PATHS | SIGNED or route in _pages(routes):
            continue
        for method in route.methods:
            for creds in ({}, {"Authorization": "Bearer olk_000000000000_" + "x" * 43}, {"X-API-Key": "nonsense"},
                          {"Authorization": "Basic Zm9vOmJhcg=="}):
                response = http.request(method, _concrete(route.path), headers=creds, json={})
                assert response.status_code == 401, (method, route.path, creds, response.text)
                assert response.json()["code"] == "auth.unauthenticated"
                checked += 1
    assert checked > 100


def test_a_customer_is_refused_everything_that_is_not_theirs(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    ops_only = []
    routes = _routes(http.app)
    for route in routes:
        if route in _pages(routes):
            continue
        if route.path in PUBLIC_PATHS | SIGNED or route.path in ("/orders", "/orders/{order_id}", "/auth/me",
                                                                "/orders/{order_id}/tracking", "/customer/chat",
                                                                "/promise", "/intake/orders/{order_id}/invoice",
                                                                "/intake/orders/{order_id}/ship-notice/{shipment_id}",
                                                                # her own returns (tests/api/test_returns_api.py)
                                                                "/orders/{order_id}/returns", "/returns",
                                                                "/orders/{order_id}/returns/options",
                                                                "/returns/{rma_id}", "/returns/{rma_id}/cancel"):
            continue
        for method in route.methods:
            response = http.request(method, _concrete(route.path).replace("/1", f"/{ids['a']}"), headers=ann,
                                    json={})
            assert response.status_code == 403, (method, route.path, response.text)
            ops_only.append(route.path)
    assert len(ops_only) > 30
    # Her own order: yes. Bea's, by id, by guessing every id, and a made-up one: the same 403, no detail.
    assert http.get(f"/orders/{ids['a']}", headers=ann).json()["order_id"] == ids["a"]
    refusals = set()
    for guess in [ids["b"], *map(str, range(40)), "W-B1", "bea@example.com", "1 OR 1=1", "../1"]:
        if guess == ids["a"]:
            continue
        for path in (f"/orders/{guess}", f"/orders/{guess}/tracking", f"/intake/orders/{guess}/invoice"):
            response = http.get(path, headers=ann)
            assert response.status_code in (403, 404), (path, response.text)
            assert "Bea" not in response.text and "bea@" not in response.text
            if response.status_code == 403:
                refusals.add(response.text)
    assert len(refusals) == 1  # existing and non-existing orders are refused alike
    listed = http.get("/orders", headers=ann).json()
    assert [o["order_id"] for o in listed] == [ids["a"]]
    assert "reservations" not in listed[0] and "status_reason" not in listed[0]
    # Bea sees hers and not Ann's.
    bea = headers(app, "bea", "customer", customer_id="cust-b")
    assert [o["order_id"] for o in http.get("/orders", headers=bea).json()] == [ids["b"]]
    assert http.get(f"/orders/{ids['a']}", headers=bea).status_code == 403


def test_buyers_see_their_account_and_integrations_their_scope(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    web = headers(app, "storefront", "integration", scope="channel:web")
    placed = http.post("/orders", headers=web, json={"channel": "web", "external_id": "W-C1", "ship_to": NYC,
                                                     "lines": [{"sku": "SKU-A", "quantity": 1}]})
    assert placed.status_code == 201, placed.text
    assert set(placed.json()) == {"order_id", "status", "promised_delivery"}  # no nodes, costs or reasons
    other = http.post("/orders", headers=web, json={"channel": "marketplace", "external_id": "M-1",
                                                    "ship_to": NYC, "lines": [{"sku": "SKU-A", "quantity": 1}]})
    assert other.status_code == 403
    wms = headers(app, "east-wms", "integration", scope="node:DC-EAST")
    assert http.get(f"/orders/{ids['a']}", headers=wms).status_code == 403
    shipped_elsewhere = http.post(f"/orders/{ids['a']}/shipments", headers=wms, json={
        "node": "DC-WEST", "carrier": "CAR", "tracking_number": "T-1", "lines": [{"line_no": 1, "quantity": 1}]})
    assert shipped_elsewhere.status_code == 403
    from engine.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as bad_scope:
        app.access.create_principal(name="bad", role="integration", scope="warehouse", created_by="t")
    assert bad_scope.value.problems[0].field == "scope"
    with pytest.raises(ValidationFailed) as no_account:
        app.access.create_principal(name="bad", role="buyer", created_by="t")
    assert no_account.value.problems[0].field == "account_code"


def test_keys_and_tokens_are_hashed_revocable_and_never_logged(world: tuple[TestClient, App, dict[str, str]],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    http, app, ids = world
    caplog.set_level(logging.DEBUG)
    issued = app.access.create_principal(name="lead", role="ops", created_by="t")
    secret = issued.key.rsplit("_", 1)[1]
    token = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": issued.key_id,
                                            "client_secret": issued.key})
    assert token.status_code == 200 and token.json()["token_type"] == "bearer", token.text
    bearer = token.json()["access_token"]
    assert http.get(f"/orders/{ids['b']}", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
    assert http.get("/auth/me", headers={"X-API-Key": issued.key}).json()["role"] == "ops"
    wrong = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": issued.key_id,
                                            "client_secret": issued.key[:-1] + ("B" if issued.key[-1] == "A" else "A")})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert http.post("/oauth/token", data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    with app.engine.connect() as conn:
        stored = [str(v) for table in (t.api_keys, t.access_tokens) for row in conn.execute(select(table))
                  for v in row]
    assert not any(secret in v or bearer in v or bearer[4:] in v for v in stored)
    app.access.revoke_key(issued.key_id)
    assert http.get("/auth/me", headers={"X-API-Key": issued.key}).status_code == 401
    assert http.get("/auth/me", headers={"Authorization": f"Bearer {bearer}"}).status_code == 401
    assert secret not in caplog.text and bearer not in caplog.text


def test_a_storefront_signs_a_shopper_in_for_their_own_orders_only(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    web = headers(app, "storefront", "integration", scope="channel:web")
    minted = http.post("/auth/customer-token", headers=web, json={"customer_id": "cust-a"})
    assert minted.status_code == 200, minted.text
    shopper = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    assert [o["order_id"] for o in http.get("/orders", headers=shopper).json()] == [ids["a"]]
    assert http.get(f"/orders/{ids['b']}", headers=shopper).status_code == 403
    assert http.post("/auth/customer-token", headers=shopper, json={"customer_id": "cust-b"}).status_code == 403
    wms = headers(app, "east-wms", "integration", scope="node:DC-EAST")
    assert http.post("/auth/customer-token", headers=wms, json={"customer_id": "cust-b"}).status_code == 403
    unknown = http.post("/auth/customer-token", headers=web, json={"customer_id": "nobody"})
    assert unknown.status_code == 422


def test_the_checkout_promise_is_the_engines_and_is_cached(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    web = headers(app, "storefront", "integration", scope="channel:web")
    basket = {"lines": [{"sku": "SKU-A", "quantity": 2}], "postal_code": "10001"}
    first = http.post("/promise", headers=web, json=basket)
    assert first.status_code == 200, first.text
    assert first.headers["X-Cache"] == "miss"
    again = http.post("/promise", headers=web, json=basket)
    assert again.headers["X-Cache"] == "hit" and again.json() == first.json()
    engine = app.promiser.promise([("SKU-A", 2)], "10001", "US", "web").model_dump(mode="json")
    assert first.json()["options"] == engine["options"]
    # The date shown at checkout is the date the engine commits to when the basket becomes an order.
    quoted = next(o for o in first.json()["options"] if o["possible"])
    placed = http.post("/orders", headers=web, json={"channel": "web", "external_id": "W-PROMISE", "ship_to": NYC,
                                                     "lines": [{"sku": "SKU-A", "quantity": 2}]}).json()
    assert placed["status"] == "allocated" and placed["promised_delivery"] == quoted["delivery_date"]
    bad = http.post("/promise", headers=web, json={"lines": [{"sku": "NOPE", "quantity": 1}], "postal_code": "x"})
    assert bad.status_code in (404, 422) and bad.json()["problems"]


def test_raw_bodies_are_refused_past_their_limit_without_being_read(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    from engine.services.tracking import MAX_BODY

    big = b"x" * (MAX_BODY + 1)
    declared = http.post("/carriers/CAR/tracking", content=big)
    assert declared.status_code == 413 and declared.json()["code"] == "request.too_large"

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"y" * 65536

    streamed = http.post("/carriers/CAR/tracking", content=chunks())
    assert streamed.status_code == 413 and streamed.json()["problems"][0]["field"] == "body"
    token = http.post("/oauth/token", content=b"grant_type=client_credentials&" + b"a" * 5000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert token.status_code == 400 and token.json()["error"] == "invalid_request"
    ops = headers(app)
    from engine.intake.mail import MAX_EMAIL_BYTES

    email = http.post("/intake/email", content=b"z" * (MAX_EMAIL_BYTES + 1), headers=ops)
    assert email.status_code == 413
    with app.uow(readonly=True) as uow:
        assert uow.intake.list() == []  # nothing half-read was stored
