"""HTTP API over the engine: orders, routing, inventory reads and channel intake adapters.

Handlers are plain (sync) functions: FastAPI runs them in its thread pool, each command in its own unit
of work through the message bus. Every error is the engine's typed error as JSON (see errors.py).
Binds to 127.0.0.1 by default. Every endpoint but /health, /oauth/token, the docs and the signed carrier
webhooks needs an API key or bearer token, and declares the permission it needs (api/http/auth.py);
reads and writes of one order also check that it is the caller's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from agents.notifier import Notifier
from api.http import (
    auth,
    customer,
    dashboard,
    exceptions,
    intake,
    notifications,
    observability,
    ops_chat,
    orders,
    returns,
    routing,
    tracking,
)
from api.http.errors import install_error_handlers
from engine.bootstrap import App, bootstrap

log = logging.getLogger(__name__)


def attach_notifier(app: App) -> None:
    """Subscribe the notifier to the engine's outbox once per engine."""
    if not getattr(app, "_notifier_attached", False):
        Notifier(app).attach(app.relay)
        app._notifier_attached = True  # type: ignore[attr-defined]


def _background(app: App, stop: threading.Event, every: float, settle_every: float = 60.0) -> None:
    """Deliver outbox events (to the notifier and any other subscriber) and send due notifications; once a
    minute, settle the returns a stop left graded but unsettled."""
    last_settle = time.monotonic()
    while not stop.wait(every):
        try:
            app.relay.pump()
            app.notifications.deliver_due()
        except Exception:  # the loop stays up; each failure is logged and retried next round
            log.exception("background delivery failed")
        if time.monotonic() - last_settle >= settle_every:
            last_settle = time.monotonic()
            try:
                for settled in app.returns.settle_stalled():
                    log.info("settled a stalled return", extra={"rma_id": settled["rma_id"],
                                                                 "status": settled["status"]})
            except Exception:
                log.exception("settling stalled returns failed")


def create_api(app: App | None = None, *, intake_model: Any = None, ops_model: Any = None,
               ops_checkpointer: Any = None, customer_model: Any = None, returns_model: Any = None,
               promise_ttl: float = 10.0,
               background_seconds: float = 2.0) -> FastAPI:
    """An API over `app`, or over an engine bootstrapped from the settings for the API's lifetime.

    `intake_model` is the chat model of the intake agent, `ops_model` the ops assistant's (default: the
    configured one, started on first use); `ops_checkpointer` where ops conversations are kept (default:
    agents.ops.checkpoint.make_checkpointer); `customer_model` the customer assistant's; `returns_model` the one
    that reads inspectors' notes.
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        owned = app is None
        api.state.engine_app = app or bootstrap()
        api.state.metrics.app = api.state.engine_app
        attach_notifier(api.state.engine_app)
        stop = threading.Event()
        worker = None
        if background_seconds:
            worker = threading.Thread(target=_background, args=(api.state.engine_app, stop, background_seconds),
                                      name="orderloom-delivery", daemon=True)
            worker.start()
        api.state.background_worker = worker
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)
            if owned:
                api.state.engine_app.close()

    api = FastAPI(title="Orderloom", version="0.1.0", lifespan=lifespan,
                  description="Order management with inventory truth and optimised routing.")
    api.state.metrics = observability.Metrics()
    if app is not None:
        api.state.engine_app = app
        api.state.metrics.app = app
    api.state.intake_model = intake_model
    api.state.ops_model = ops_model
    api.state.ops_checkpointer = ops_checkpointer
    api.state.customer_model = customer_model
    api.state.returns_model = returns_model
    api.state.promise_cache = tracking.PromiseCache(ttl=promise_ttl)
    install_error_handlers(api)

    api.add_middleware(observability.ObservabilityMiddleware, metrics=api.state.metrics)

    @api.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """The process is up (liveness); /ready says whether it can serve."""
        return {"status": "ok"}

    @api.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    api.include_router(observability.router)
    api.include_router(auth.router)
    api.include_router(orders.router)
    api.include_router(tracking.router)
    api.include_router(returns.router)
    api.include_router(customer.router)
    api.include_router(notifications.router)
    api.include_router(routing.router)
    api.include_router(intake.router)
    for router in exceptions.routers:
        api.include_router(router)
    api.include_router(ops_chat.router)
    dashboard.mount(api)
    return api
