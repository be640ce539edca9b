"""The ops dashboard and the customer page: server-rendered HTML (Jinja2), a little JavaScript, no build.

Pages read the engine's read models (engine/adapters/dashboard_queries.py, the exception desk, the order
views); every change a person makes from a page goes through the same JSON API as any other client (the
browser sends its session cookie and the `X-Requested-With: orderloom` header, see auth.py). Live updates
come over server-sent events from the outbox (`/ui/events`), resumable with Last-Event-ID.

Signing in: paste an API key into /ui/login (it becomes an 8-hour session token in an HttpOnly,
SameSite=Strict cookie; the key itself is not kept), or open the one-time link `orderloom serve` prints.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.http.auth import SESSION_COOKIE, optional_principal, requires
from api.http.deps import engine_app, read_body
from engine.adapters.dashboard_queries import DashboardQueries
from engine.bootstrap import App
from engine.domain import errors as e
from engine.domain.access import Permission, Principal, Role
from engine.domain.exceptions import Action
from engine.domain.geo import ZIP3_BY_PREFIX
from engine.domain.returns import CUSTOMER_WORDS as RETURN_CUSTOMER_WORDS
from engine.services import views

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)
EngineApp = Annotated[App, Depends(engine_app)]
Ops = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]
LOGIN_CODE_TTL = 15 * 60
SSE_POLL_SECONDS = 1.0
SSE_HEARTBEAT_SECONDS = 15.0
KPI_WINDOW = timedelta(days=30)  # channel KPIs and carrier performance cover orders and parcels of the last 30 days


def mount(api: FastAPI) -> None:
    api.include_router(router)
    api.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    api.state.login_codes = {}


# -- signing in ----------------------------------------------------------------------------------------

def issue_login_code(api: FastAPI, principal_id: str, ttl: float = LOGIN_CODE_TTL) -> str:
    """A one-time code for /ui/login?code=... (kept in this process only; it ends at first use or after ttl)."""
    code = secrets.token_urlsafe(24)
    codes: dict[str, tuple[str, float]] = api.state.login_codes
    now = time.monotonic()
    for old in [k for k, (_, until) in codes.items() if until < now]:
        codes.pop(old, None)
    codes[code] = (principal_id, now + ttl)
    return code


def _safe_next(value: str | None, principal: Principal | None = None) -> str:
    default = "/ui/shop" if principal is not None and not principal.sees_every_order else "/ui/"
    if not value or not value.startswith("/ui/") or value.startswith("//") or "\\" in value or len(value) > 300:
        return default
    return value


def _signed_in(request: Request, token: str, expires_in: int, principal: Principal, nxt: str | None) -> Response:
    response = RedirectResponse(_safe_next(nxt, principal), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=expires_in, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


def _login_page(request: Request, error: str = "", nxt: str = "", status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": error, "next": nxt},
                                      status_code=status_code)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, app: EngineApp, code: Annotated[str | None, Query(max_length=100)] = None,
               next: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    if code is not None:
        found = request.app.state.login_codes.pop(code, None)
        if found is None or found[1] < time.monotonic():
            return _login_page(request, "That sign-in link was used already or has expired. Paste an API key, "
                                        "or restart `orderloom serve` for a new link.", status_code=401)
        try:
            issued = app.access.session_for(found[0])
        except e.NotAuthenticated:
            return _login_page(request, "That account has been revoked.", status_code=401)
        return _signed_in(request, issued.access_token, issued.expires_in, issued.principal, next)
    return _login_page(request, nxt=next or "")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, app: EngineApp) -> Response:
    try:
        form = {k: v[0] for k, v in parse_qs((await read_body(request, 4096)).decode("utf-8")).items()}
    except (e.PayloadTooLarge, UnicodeDecodeError):
        return _login_page(request, "The sign-in form could not be read.", status_code=400)
    key = form.get("api_key", "").strip()
    try:
        issued = await run_in_threadpool(app.access.session_for_key, key)
    except e.NotAuthenticated:
        return _login_page(request, "That key is not valid (unknown, revoked or expired).", form.get("next", ""),
                           status_code=401)
    return _signed_in(request, issued.access_token, issued.expires_in, issued.principal, form.get("next"))


@router.post("/logout")
def logout(request: Request, app: EngineApp) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.headers.get("x-requested-with", "").lower() == "orderloom":
        app.access.revoke_token(token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _page(request: Request, app: App, *, ops: bool = True) -> Principal | Response:
    """The signed-in caller of a page, or where to send the browser instead."""
    principal = optional_principal(request, app)
    if principal is None:
        return RedirectResponse(f"/ui/login?next={quote(request.url.path)}", status_code=303)
    if ops and not principal.sees_every_order:
        return RedirectResponse("/ui/shop", status_code=303)
    return principal


def _render(request: Request, name: str, principal: Principal, status_code: int = 200, **context: Any
            ) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"me": principal, "now": datetime.now(UTC), **context},
                                      status_code=status_code)


# -- the ops pages --------------------------------------------------------------------------------------

def overview_context(app: App) -> dict[str, Any]:
    q = DashboardQueries(app.engine)
    now = datetime.now(UTC)
    since = now - KPI_WINDOW
    statuses = q.status_counts()
    channels = q.channel_kpis(since)
    orders = sum(statuses.values())
    touchless = sum(c["touchless"] for c in channels)
    recent = sum(c["orders"] for c in channels)
    routed = sum(c["routed"] for c in channels)
    cost = sum((c["cost_per_order"] or 0) * c["routed"] for c in channels)
    nearest = [c for c in channels if c["baseline_cost_per_order"]["nearest-with-stock"] is not None]
    carriers = q.carrier_performance(since)
    delivered = sum(c["delivered"] for c in carriers)
    on_time = sum(c["on_time"] for c in carriers)
    flow = q.orders_per_minute(now, 30)
    saving = None
    if nearest:
        ours = sum(c["cost_per_order"] * c["routed"] for c in nearest if c["cost_per_order"] is not None)
        base = sum(c["baseline_cost_per_order"]["nearest-with-stock"] * c["routed"] for c in nearest)
        saving = 100 * (base - ours) / base if base else None
    return {
        "kpis": {"orders": orders, "touchless_rate": touchless / recent if recent else None,
                 "open_exceptions": sum(q.open_case_counts().values()), "oversell": q.oversell_check(),
                 "cost_per_order": cost / routed if routed else None, "saving_vs_nearest": saving,
                 "on_time_rate": on_time / delivered if delivered else None, "delivered": delivered},
        "statuses": sorted(statuses.items(), key=lambda kv: -kv[1]), "status_max": max(statuses.values(), default=1),
        "channels": channels, "flow": flow, "flow_max": max((n for _, n in flow), default=1) or 1,
        "orders": q.recent_orders(20), "last_position": q.last_position(),
    }


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    return _render(request, "overview.html", who, page="overview", **overview_context(app))


@router.get("/fragments/overview", response_class=HTMLResponse)
def overview_fragment(request: Request, app: EngineApp, who: Ops) -> HTMLResponse:
    return _render(request, "_overview_body.html", who, **overview_context(app))


def exceptions_context(app: App) -> dict[str, Any]:
    cases = app.exceptions.cases(status="open", limit=200)
    for case in cases:
        rec = case["recommendation"]
        case["params_json"] = json.dumps(rec.get("params") or {}, indent=1, default=str)
    return {"cases": cases, "stats": app.exceptions.queue_stats(),
            "proposals": app.exceptions.proposals(status="pending"),
            "actions": [a.value for a in Action if a not in (Action.DISMISS, Action.START_RETURN)]}


@router.get("/exceptions", response_class=HTMLResponse)
def exceptions_page(request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    return _render(request, "exceptions.html", who, page="exceptions", **exceptions_context(app))


@router.get("/fragments/exceptions", response_class=HTMLResponse)
def exceptions_fragment(request: Request, app: EngineApp, who: Ops) -> HTMLResponse:
    return _render(request, "_exceptions_body.html", who, **exceptions_context(app))


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, app: EngineApp, status: Annotated[str | None, Query(max_length=24)] = None,
                channel: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    q = DashboardQueries(app.engine)
    return _render(request, "orders.html", who, page="orders", orders=q.recent_orders(100, status or None,
                                                                                      channel or None),
                   status=status or "", channel=channel or "", statuses=sorted(q.status_counts()))


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: str, request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    with app.uow(readonly=True) as uow:
        if not isinstance(order_id, str) or len(order_id) > 64 or uow.orders.get(order_id) is None:
            return _render(request, "missing.html", who, 404, page="orders", what=f"order {order_id[:64]}")
        view = views.order_view(uow, order_id).to_dict()
        decisions = uow.routing.decisions(order_id)
        tracking = app.tracking.order_tracking(uow, order_id)
        nodes = {n.code: n for n in uow.master.list_nodes()}
    cases = app.exceptions.cases(status="all", order_id=order_id, limit=50)
    committed = [d for d in decisions if d.outcome.value in ("committed", "failed")]
    decision = committed[-1] if committed else (decisions[-1] if decisions else None)
    return _render(request, "order.html", who, page="orders", order=view, decision=decision, decisions=decisions,
                   tracking=tracking, cases=cases, returns=app.returns.for_order(order_id),
                   routing_map=routing_map(decision, nodes, view["ship_to"]) if decision else None)


def routing_map(decision: Any, nodes: dict[str, Any], ship_to: dict[str, str]) -> dict[str, Any]:
    """Points on an equirectangular map of the contiguous US: every node considered (cost, chosen or why
    not), and the destination's ZIP3 point."""
    west, east, south, north, width, height = -125.0, -66.0, 24.0, 50.0, 640.0, 330.0

    def xy(lat: float, lon: float) -> tuple[float, float]:
        x = (lon - west) / (east - west) * width
        y = (north - lat) / (north - south) * height
        return round(min(max(x, 0), width), 1), round(min(max(y, 0), height), 1)

    explanation = decision.explanation or {}
    chosen = {s["node"] for s in explanation.get("shipments", [])}
    considered = explanation.get("nodes", [])
    costs = [n["whole_order_cost"] for n in considered if n.get("whole_order_cost") is not None]
    lo, hi = (min(costs), max(costs)) if costs else (0.0, 1.0)
    points = []
    for n in considered:
        node = nodes.get(n["node"])
        if node is None:
            continue
        x, y = xy(float(node.latitude), float(node.longitude))
        cost = n.get("whole_order_cost")
        share = 0.0 if cost is None or hi == lo else (cost - lo) / (hi - lo)
        points.append({"code": n["node"], "x": x, "y": y, "cost": cost, "chosen": n["node"] in chosen,
                       "eligible": bool(n.get("eligible_lines")), "share": share,
                       "why_not": "; ".join(r for rs in (n.get("ineligible") or {}).values() for r in rs)})
    region = ZIP3_BY_PREFIX.get(str(ship_to.get("postal_code", ""))[:3])
    destination = None
    if region is not None:
        dx, dy = xy(region.latitude, region.longitude)
        destination = {"x": dx, "y": dy, "label": f"{region.city}, {region.state}"}
    return {"width": width, "height": height, "points": points, "destination": destination}


@router.get("/inventory", response_class=HTMLResponse)
def inventory_page(request: Request, app: EngineApp, sku: Annotated[str | None, Query(max_length=64)] = None
                   ) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    matrix = DashboardQueries(app.engine).inventory(sku or None, limit=40)
    peak = math.log1p(max((c["available"] for r in matrix["rows"] for c in r["cells"].values()), default=1) or 1)
    for row in matrix["rows"]:
        for cell in row["cells"].values():
            cell["heat"] = round(math.log1p(cell["available"]) / peak, 3)
    return _render(request, "inventory.html", who, page="inventory", matrix=matrix, sku=sku or "")


@router.get("/carriers", response_class=HTMLResponse)
def carriers_page(request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    rows = DashboardQueries(app.engine).carrier_performance(datetime.now(UTC) - KPI_WINDOW)
    carriers = sorted({r["carrier"] for r in rows})
    regions = sorted({r["region"] for r in rows})
    grid = {(r["carrier"], r["region"]): r for r in rows}
    with app.uow(readonly=True) as uow:
        incidents = uow.exceptions.active_incidents()
    return _render(request, "carriers.html", who, page="carriers", carriers=carriers, regions=regions, grid=grid,
                   rows=rows, incidents=incidents)


RETURN_WORDS = {k.value: v for k, v in RETURN_CUSTOMER_WORDS.items()}
RETURNS_IN_FLIGHT = ("authorised", "label_issued", "in_transit", "received", "graded", "disposed")
RETURNS_DONE = ("refunded", "exchanged", "closed", "refused", "cancelled")
RETURNABLE_STATUSES = ("partially_shipped", "shipped", "delivered")


def returns_context(app: App) -> dict[str, Any]:
    """The returns queue: what waits for a person (with the score's evidence), what is on its way or at the
    returns desk, what finished lately, and the return rates of the last 30 days."""
    waiting = [app.returns.get(r["rma_id"]) for r in app.returns.search(("requested",), limit=200)]
    moving = app.returns.search(RETURNS_IN_FLIGHT, limit=200)
    done = app.returns.search(RETURNS_DONE, limit=30)
    report = app.returns.analytics(30)
    sold = sum(r["sold"] for r in report["channel"])
    returned = sum(r["returned"] for r in report["channel"])
    refunds = sum(float(r["refund_amount"] or 0) for r in done if r["status"] in ("refunded", "closed"))
    kpis = {"waiting": len(waiting), "in_flight": len(moving),
            "at_desk": sum(1 for r in moving if r["status"] in ("received", "graded", "disposed")),
            "rate": returned / sold if sold else None, "returned": returned, "refunds": refunds}
    return {"waiting": waiting, "moving": moving, "done": done, "report": report, "kpis": kpis}


@router.get("/returns", response_class=HTMLResponse)
def returns_page(request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    return _render(request, "returns.html", who, page="returns", **returns_context(app))


@router.get("/fragments/returns", response_class=HTMLResponse)
def returns_fragment(request: Request, app: EngineApp, who: Ops) -> HTMLResponse:
    return _render(request, "_returns_body.html", who, **returns_context(app))


@router.get("/assistant", response_class=HTMLResponse)
def assistant_page(request: Request, app: EngineApp) -> Response:
    who = _page(request, app)
    if isinstance(who, Response):
        return who
    return _render(request, "assistant.html", who, page="assistant", thread=f"ui-{secrets.token_hex(4)}")


# -- the customer page ----------------------------------------------------------------------------------

@router.get("/shop", response_class=HTMLResponse)
def shop_page(request: Request, app: EngineApp) -> Response:
    who = _page(request, app, ops=False)
    if isinstance(who, Response):
        return who
    orders: list[dict[str, Any]] = []
    if who.role in (Role.CUSTOMER, Role.BUYER):
        filters = {"customer_id": who.customer_id} if who.role is Role.CUSTOMER else \
            {"account_code": who.account_code}
        with app.uow(readonly=True) as uow:
            for oid in uow.orders.list_ids(status=None, limit=20, channel=None, **filters):
                tracking = app.tracking.order_tracking(uow, oid)
                view = views.order_view(uow, oid).to_dict()
                orders.append({"order": view, "tracking": tracking, "returns": app.returns.for_order(oid)})
        for o in orders:  # what can still come back, and the sizes and colours an exchange may send
            if o["order"]["status"] in RETURNABLE_STATUSES:
                o["return_options"] = app.returns.options(o["order"]["order_id"])
    skus = DashboardQueries(app.engine).popular_skus(12)
    zip_code = orders[0]["order"]["ship_to"].get("postal_code", "10001") if orders else "10001"
    return _render(request, "shop.html", who, page="shop", orders=orders, skus=skus, zip_code=zip_code,
                   return_words=RETURN_WORDS)


# -- live updates ---------------------------------------------------------------------------------------

@router.get("/events")
async def events(request: Request, app: EngineApp, who: Ops,
                 after: Annotated[int | None, Query(ge=0)] = None) -> StreamingResponse:
    """Server-sent events: each domain event the dashboard shows, as it is committed. `Last-Event-ID` (or
    `after`) resumes after a position; a new stream starts at the present."""
    queries = DashboardQueries(app.engine)
    header = request.headers.get("last-event-id", "")
    start = int(header) if header.isdigit() and len(header) < 19 else after
    if start is None:
        start = await run_in_threadpool(queries.last_position)

    async def stream() -> AsyncIterator[str]:
        position = start
        yield f"retry: 3000\nevent: hello\ndata: {json.dumps({'position': position})}\n\n"
        quiet = 0.0
        while not await request.is_disconnected() and not getattr(request.app.state, "stopping", False):
            found = await run_in_threadpool(queries.events_after, position, 200)
            for ev in found:
                position = ev.position
                yield f"id: {ev.position}\nevent: {ev.event_type}\ndata: {json.dumps(_feed(ev), default=str)}\n\n"
            if found:
                quiet = 0.0
                continue
            await asyncio.sleep(SSE_POLL_SECONDS)
            quiet += SSE_POLL_SECONDS
            if quiet >= SSE_HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


FEED_WORDS = {
    "order.received": "received", "order.routed": "routed", "order.status_changed": "now",
    "order.routing_failed": "could not be routed", "order.shipment_recorded": "shipped",
    "order.delayed": "delayed", "order.delivered": "delivered", "order.cancelled": "cancelled",
    "exception.opened": "exception opened", "exception.closed": "exception closed",
    "intake.document_settled": "document read", "proposal.created": "proposal waiting",
    "proposal.decided": "proposal decided", "carrier.incident": "carrier incident",
    "inventory.discrepancy_detected": "stock discrepancy", "return.requested": "return requested",
    "return.status_changed": "return", "return.refunded": "refunded",
}


def _feed(ev: Any) -> dict[str, Any]:
    """What the feed shows of an event: a few plain fields, never the whole payload (addresses stay out)."""
    p = ev.payload
    order_id = p.get("order_id") or (ev.aggregate_id if ev.aggregate == "order" else None)
    detail = ""
    if ev.event_type == "order.status_changed":
        detail = f"{p.get('from_status') or ''} → {p.get('to_status') or ''}"
    elif ev.event_type == "order.received":
        detail = str(p.get("channel") or "")
    elif ev.event_type == "order.routed":
        detail = ", ".join(str(n) for n in p.get("nodes") or []) or str(p.get("solver") or "")
    elif ev.event_type in ("exception.opened", "exception.closed"):
        detail = " ".join(str(p.get(k) or "") for k in ("type", "subtype", "status")).strip()
    elif ev.event_type == "carrier.incident":
        detail = f"{p.get('carrier', '')} {p.get('kind', '')}"
    elif ev.event_type == "return.status_changed":
        detail = f"{p.get('rma_id', '')} {p.get('from_status') or ''} → {p.get('to_status') or ''}"
    elif ev.event_type == "return.requested":
        detail = str(p.get("rma_id") or "")
    elif ev.event_type == "return.refunded":
        detail = f"{p.get('rma_id', '')} {p.get('amount', '')} {p.get('currency', '')}"
    return {"position": ev.position, "type": ev.event_type, "what": FEED_WORDS.get(ev.event_type, ev.event_type),
            "order_id": str(order_id) if order_id is not None else None, "detail": detail[:120],
            "at": ev.occurred_at.isoformat()}
