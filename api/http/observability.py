"""Operations: structured JSON logs, a request id on every call, Prometheus metrics, readiness.

- Logs are one JSON object per line (`ts`, `level`, `logger`, `message` and the record's extra fields);
  every request is logged once with its method, route template, status, duration and request id (never the
  query string, headers or body: they carry credentials and personal data).
- `X-Request-ID`: taken from the caller when it is a sane token, else generated; echoed on the answer.
- `/metrics` (Prometheus text format; ops key or token): request counts and latencies by route, and at each
  scrape the orders by status, open exceptions by type, the outbox backlog and notifications waiting.
- `/health` says the process is up; `/ready` says it can serve: the database answers and its schema is the
  one this code expects (503 otherwise).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from api.http.auth import requires
from engine.adapters import tables as t
from engine.adapters.dashboard_queries import DashboardQueries
from engine.bootstrap import App
from engine.domain.access import Permission, Principal

log = logging.getLogger("orderloom.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
QUIET_PATHS = ("/health", "/ready", "/metrics", "/ui/events", "/ui/static/")
# Metric labels stay a bounded set: any other method a client invents is counted as OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields given to the logger call are kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                               "level": record.levelname.lower(), "logger": record.name,
                               "message": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "info", fmt: str = "json", file: str | Path | None = None) -> logging.Handler:
    """Send Orderloom's (and uvicorn's) logs to `file` ('-' or None: stderr) as JSON lines or plain text."""
    handler: logging.Handler
    if file is None or str(file) == "-":
        handler = logging.StreamHandler(sys.stderr)
    else:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(file, encoding="utf-8")
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_orderloom", False)]:
        root.removeHandler(old)
        old.close()
    handler._orderloom = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the middleware logs each request once, as JSON
    for noisy in ("httpx", "httpx2", "httpcore"):  # HTTP clients log whole URLs (query strings) at info
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler


class Metrics:
    """The API's Prometheus registry (one per API instance, so several can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("orderloom_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("orderloom_http_request_duration_seconds", "Time to answer an HTTP request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.app: App | None = None
        self.registry.register(_EngineCollector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    """Engine figures read at scrape time (no counters kept twice)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.metrics.app
        if app is None:
            return
        queries = DashboardQueries(app.engine)
        orders = GaugeMetricFamily("orderloom_orders", "Orders by status", labels=["status"])
        for status, n in sorted(queries.status_counts().items()):
            orders.add_metric([status], n)
        yield orders
        cases = GaugeMetricFamily("orderloom_exceptions_open", "Open exception cases by type", labels=["type"])
        for kind, n in sorted(queries.open_case_counts().items()):
            cases.add_metric([kind], n)
        yield cases
        with app.engine.connect() as conn:
            backlog = conn.execute(select(func.count()).select_from(t.outbox)
                                   .where(t.outbox.c.published_at.is_(None))).scalar_one()
            waiting = conn.execute(select(func.count()).select_from(t.notifications)
                                   .where(t.notifications.c.status.in_(("pending", "awaiting_approval"))))\
                .scalar_one()
            rmas = conn.execute(select(t.returns.c.status, func.count()).group_by(t.returns.c.status)).all()
        returns = GaugeMetricFamily("orderloom_returns", "Returns by status (requested: waiting for a person)",
                                    labels=["status"])
        for status, n in sorted((str(s), int(n)) for s, n in rmas):
            returns.add_metric([status], n)
        yield returns
        yield GaugeMetricFamily("orderloom_outbox_backlog", "Domain events not yet delivered to subscribers",
                                value=int(backlog))
        yield GaugeMetricFamily("orderloom_notifications_waiting", "Notifications waiting to be sent or approved",
                                value=int(waiting))
        oversell = queries.oversell_check()
        yield GaugeMetricFamily("orderloom_oversold_positions", "Stock positions with more reserved than on hand",
                                value=oversell["oversold_positions"])


class ObservabilityMiddleware:
    """Pure ASGI (streaming answers such as the dashboard's event stream pass through untouched)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = [500]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.metrics.requests.labels(method, template, str(status[0])).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            path = str(scope.get("path", ""))
            quiet = path.startswith(QUIET_PATHS) and status[0] < 400
            log.log(logging.DEBUG if quiet else logging.INFO, "request", extra={
                "request_id": request_id, "method": method, "route": template, "status": status[0],
                "duration_ms": round(elapsed * 1000, 2)})


router = APIRouter(tags=["meta"])


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the version this code expects."""
    from engine.adapters.migrate import current_revision, head_revision

    app: App = request.app.state.engine_app
    checks: dict[str, str] = {}
    ok = True
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current, head = current_revision(app.engine), head_revision()
        checks["schema"] = "ok" if current == head else f"at {current}, expected {head}"
        ok = current == head
    except Exception as err:  # any failure to reach the database is "not ready", with its kind
        checks["database"] = f"unavailable ({type(err).__name__})"
        ok = False
    worker = getattr(request.app.state, "background_worker", None)
    if worker is not None:
        checks["delivery"] = "ok" if worker.is_alive() else "stopped"
        ok = ok and worker.is_alive()
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request, who: Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]) -> Response:
    """Prometheus metrics (scrape with an ops key: `authorization: {credentials: olk_...}`)."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
