"""The dashboard's HTTP side: signing in (keys and one-time links), sessions and CSRF, the event stream,
hostile input in pages, and the operations endpoints (readiness, metrics, JSON logs, request ids)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http import create_api
from api.http.auth import SESSION_COOKIE
from api.http.dashboard import issue_login_code
from api.http.observability import JsonFormatter, configure_logging
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from tests.auth import headers
from tests.e2e.browser import running_server
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import NYC, build

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def world(sqlite_url: str) -> Iterator[tuple[TestClient, App]]:
    app = bootstrap(database_url=sqlite_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 50})
    with TestClient(create_api(app, background_seconds=0)) as http:
        yield http, app
    app.close()


def _place(http: TestClient, app: App, external_id: str) -> str:
    response = http.post("/orders", headers=headers(app), json={
        "channel": "web", "external_id": external_id,
        "ship_to": {**NYC, "name": HOSTILE},
        "lines": [{"sku": "SKU-A", "quantity": 1}]})
    assert response.status_code == 201, response.text
    return str(response.json()["order_id"])


def _key(app: App, role: str = "ops", **binding: str) -> str:
    return app.access.create_principal(name=f"p-{role}", role=role, created_by="test", **binding).key


def test_signing_in_with_a_key_sets_a_session_cookie_that_is_not_the_key(world: tuple[TestClient, App]) -> None:
    http, app = world
    key = _key(app)
    response = http.post("/ui/login", data={"api_key": key, "next": "/ui/inventory"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/inventory"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=olt_") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert key not in cookie
    assert http.get("/ui/", follow_redirects=False).status_code == 200  # the client keeps the cookie
    assert http.get("/auth/me").json()["role"] == "ops"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/ui/\\evil", "/docs", "javascript:x"])
def test_sign_in_never_redirects_off_the_dashboard(world: tuple[TestClient, App], target: str) -> None:
    http, app = world
    response = http.post("/ui/login", data={"api_key": _key(app), "next": target}, follow_redirects=False)
    assert response.headers["location"] == "/ui/"


@pytest.mark.parametrize("form", [{"api_key": "nonsense"}, {"api_key": ""}, {}, {"api_key": "olk_" + "0" * 500},
                                  {"api_key": "' OR 1=1 --"}])
def test_a_bad_sign_in_is_refused_without_a_session(world: tuple[TestClient, App], form: dict[str, str]) -> None:
    http, _ = world
    response = http.post("/ui/login", data=form, follow_redirects=False)
    assert response.status_code == 401 and "not valid" in response.text
    assert "set-cookie" not in response.headers
    too_big = http.post("/ui/login", content=b"api_key=" + b"x" * 10_000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 400


def test_a_sign_in_link_works_once_and_not_after_the_principal_is_revoked(world: tuple[TestClient, App]) -> None:
    http, app = world
    issued = app.access.create_principal(name="demo-admin", role="ops_admin", created_by="test")
    code = issue_login_code(http.app, issued.principal.principal_id)
    first = http.get(f"/ui/login?code={code}", follow_redirects=False)
    assert first.status_code == 303 and SESSION_COOKIE in first.headers["set-cookie"]
    http.cookies.clear()
    again = http.get(f"/ui/login?code={code}", follow_redirects=False)
    assert again.status_code == 401 and "set-cookie" not in again.headers
    expired = issue_login_code(http.app, issued.principal.principal_id, ttl=-1)
    assert http.get(f"/ui/login?code={expired}", follow_redirects=False).status_code == 401
    later = issue_login_code(http.app, issued.principal.principal_id)
    app.access.revoke_principal(issued.principal.principal_id)
    assert http.get(f"/ui/login?code={later}", follow_redirects=False).status_code == 401


def test_a_cookie_session_changes_nothing_without_the_header_and_ends_at_sign_out(
        world: tuple[TestClient, App]) -> None:
    http, app = world
    http.post("/ui/login", data={"api_key": _key(app, "ops_admin")})
    assert http.post("/exceptions/sweep").status_code == 403  # a cross-site form could send just this
    assert http.post("/exceptions/sweep", headers={"X-Requested-With": "orderloom"}).status_code == 200
    token = http.cookies.get(SESSION_COOKIE)
    assert http.post("/ui/logout", headers={"X-Requested-With": "orderloom"}, follow_redirects=False
                     ).status_code == 303
    http.cookies.clear()
    http.cookies.set(SESSION_COOKIE, str(token))
    assert http.get("/auth/me").status_code == 401  # revoked, not just forgotten


def test_pages_escape_what_customers_and_partners_send(world: tuple[TestClient, App]) -> None:
    http, app = world
    order_id = _place(http, app, "HOSTILE-1")
    ops = headers(app)
    for path in ("/ui/", "/ui/orders", f"/ui/orders/{order_id}", "/ui/fragments/overview"):
        page = http.get(path, headers=ops)
        assert page.status_code == 200, path
        assert HOSTILE not in page.text, path
    assert "&lt;script&gt;" in http.get(f"/ui/orders/{order_id}", headers=ops).text  # shown, as text
    missing = http.get("/ui/orders/99999", headers=ops)
    assert missing.status_code == 404 and "There is no order 99999" in missing.text
    for hostile in ("%", "_", "\\", "' OR 1=1 --", "x" * 64):
        assert http.get("/ui/inventory", params={"sku": hostile}, headers=ops).status_code == 200
    assert http.get("/ui/inventory", params={"sku": "x" * 65}, headers=ops).status_code == 422
    assert "SKU-A" in http.get("/ui/inventory", params={"sku": "sku-a"}, headers=ops).text


def test_the_event_stream_sends_each_event_once_and_resumes_after_a_position(world: tuple[TestClient, App]) -> None:
    http, app = world
    ops = headers(app)
    first = _place(http, app, "SSE-1")
    # A real server: the stream is endless, and a client that goes away must not keep it running.
    with running_server(create_api(app, background_seconds=0)) as base, httpx.Client(base_url=base) as client:
        events = _read_events(client, "/ui/events?after=0", ops, until="order.routed")
        positions = [int(ev["id"]) for ev in events if "id" in ev]
        assert positions == sorted(set(positions))
        routed = [json.loads(ev["data"]) for ev in events if ev.get("event") == "order.routed"]
        assert routed and routed[-1]["order_id"] == first and routed[-1]["what"] == "routed"
        assert all(HOSTILE not in ev.get("data", "") for ev in events)  # the feed never carries addresses
        last = max(app_positions(app))
        second = _place(http, app, "SSE-2")
        resumed = _read_events(client, "/ui/events", {**ops, "Last-Event-ID": str(last)}, until="order.received")
        again = [json.loads(ev["data"]) for ev in resumed if "id" in ev]
        assert again and all(int(ev["position"]) > last for ev in again)
        assert {ev["order_id"] for ev in again} == {second}
        live = _read_events(client, "/ui/events", ops, until="hello")  # a new stream starts at the present
        assert json.loads(live[0]["data"])["position"] >= max(app_positions(app))
        assert client.get("/ui/events?after=-1", headers=ops).status_code == 422
        app.bus.handle(c.UpsertCustomer(customer_id="cust-1", email="ann@example.com", name="Ann"))
        assert client.get("/ui/events", headers=headers(app, "ann", "customer", customer_id="cust-1")
                          ).status_code == 403


def app_positions(app: App) -> list[int]:
    from engine.adapters.dashboard_queries import DashboardQueries

    return [e.position for e in DashboardQueries(app.engine).events_after(0, 10_000)]


def _read_events(client: httpx.Client, url: str, hdrs: dict[str, str], until: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    with client.stream("GET", url, headers=hdrs, timeout=20) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if current:
                    out.append(current)
                    if current.get("event") == until:
                        break
                current = {}
                continue
            name, _, value = line.partition(": ")
            current[name] = value
    return out


def test_readiness_says_what_is_wrong(world: tuple[TestClient, App], tmp_path: Path) -> None:
    http, _ = world
    ready = http.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {"database": "ok",
                                                                                      "schema": "ok"}}
    behind = bootstrap(database_url=f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    with TestClient(create_api(behind, background_seconds=0)) as other:
        answer = other.get("/ready")
    behind.close()
    assert answer.status_code == 503 and answer.json()["checks"]["schema"].startswith("at None")


def test_metrics_count_requests_by_route_and_read_the_engine(world: tuple[TestClient, App]) -> None:
    http, app = world
    _place(http, app, "MET-1")
    assert http.get("/metrics").status_code == 401  # business figures need an ops key
    text = http.get("/metrics", headers=headers(app)).text
    assert 'orderloom_http_requests_total{method="POST",route="/orders",status="201"} 1.0' in text
    assert 'orderloom_orders{status="allocated"} 1.0' in text
    assert "orderloom_http_request_duration_seconds_bucket" in text and "orderloom_oversold_positions 0.0" in text
    http.get("/orders/1", headers=headers(app))
    for n in range(5):  # made-up paths and methods do not each make a new series
        http.get(f"/no/such/path/{n}")
        http.request(f"BREW{n}", "/orders")
    text = http.get("/metrics", headers=headers(app)).text
    assert 'route="/orders/{order_id}"' in text and 'route="/orders/1"' not in text  # templates, not raw paths
    assert "/no/such" not in text and "BREW" not in text
    assert 'method="OTHER"' in text and 'route="unmatched"' in text


def test_every_request_is_logged_once_as_json_without_credentials_or_queries(
        world: tuple[TestClient, App], tmp_path: Path) -> None:
    http, app = world
    log_file = tmp_path / "orderloom.log"
    handler = configure_logging("info", "json", log_file)
    try:
        key = _key(app)
        answer = http.get("/orders?status=allocated&secret=s3cr3t", headers={"X-API-Key": key,
                                                                             "X-Request-ID": "req-42"})
        bad = http.get("/orders", headers={"X-API-Key": key, "X-Request-ID": "bad\r\nid injected"})
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert answer.headers["x-request-id"] == "req-42"
    assert bad.headers["x-request-id"] != "bad\r\nid injected" and len(bad.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    requests = [x for x in lines if x["message"] == "request"]
    assert [x["request_id"] for x in requests] == ["req-42", bad.headers["x-request-id"]]
    assert requests[0] | {"ts": "", "duration_ms": 0} == {
        "ts": "", "level": "info", "logger": "orderloom.http", "message": "request", "request_id": "req-42",
        "method": "GET", "route": "/orders", "status": 200, "duration_ms": 0}
    raw = log_file.read_text()
    assert key not in raw and "s3cr3t" not in raw, [x for x in raw.splitlines() if key in x or "s3cr3t" in x]


def test_the_json_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.LogRecord("orderloom.x", logging.ERROR, __file__, 1, "failed %s", ("once",), None)
    record.order_id = "7"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "failed once" and out["order_id"] == "7" and "ValueError: boom" in out["exception"]


def test_receipts_are_counted_once_and_a_warehouse_reports_only_for_itself(world: tuple[TestClient, App]) -> None:
    http, app = world
    ops = headers(app)
    body = {"sku": "SKU-A", "node": "DC-EAST", "quantity": 7, "reference": "ASN-1"}
    before = http.get("/inventory/atp/SKU-A", headers=ops).json()["total"]["on_hand"]
    for _ in range(3):
        assert http.post("/inventory/receipts", json=body, headers=ops).status_code == 201
    assert http.get("/inventory/atp/SKU-A", headers=ops).json()["total"]["on_hand"] == before + 7
    west = headers(app, "west-wms", "integration", scope="node:DC-WEST")
    assert http.post("/inventory/receipts", json={**body, "reference": "ASN-2"}, headers=west).status_code == 403
    for bad, field in (({"quantity": 0}, "quantity"), ({"quantity": "7"}, "quantity"), ({"reference": ""},
                                                                                         "reference"),
                       ({"sku": "NOPE"}, None), ({"extra": 1}, "extra")):
        response = http.post("/inventory/receipts", json={**body, "reference": "ASN-3", **bad}, headers=ops)
        assert response.status_code in (404, 422), (bad, response.text)
        if field:
            assert field in response.text
    assert http.get("/inventory/atp/SKU-A", headers=ops).json()["total"]["on_hand"] == before + 7

