"""HTTP API over the engine: orders, routing, inventory reads and channel intake adapters.

Handlers are plain (sync) functions: FastAPI runs them in its thread pool, each command in its own unit
of work through the message bus. Every error is the engine's typed error as JSON (see errors.py).
Binds to 127.0.0.1 by default; authentication and per-object access control come with the access
layer (roles for ops, customers, buyers and integrations).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.http import exceptions, intake, ops_chat, orders, routing
from api.http.errors import install_error_handlers
from engine.bootstrap import App, bootstrap


def create_api(app: App | None = None, *, intake_model: Any = None, ops_model: Any = None,
               ops_checkpointer: Any = None) -> FastAPI:
    """An API over `app`, or over an engine bootstrapped from the settings for the API's lifetime.

    `intake_model` is the chat model of the intake agent, `ops_model` the ops assistant's (default: the
    configured one, started on first use); `ops_checkpointer` where ops conversations are kept (default:
    agents.ops.checkpoint.make_checkpointer).
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        owned = app is None
        api.state.engine_app = app or bootstrap()
        try:
            yield
        finally:
            if owned:
                api.state.engine_app.close()

    api = FastAPI(title="Orderloom", version="0.1.0", lifespan=lifespan,
                  description="Order management with inventory truth and optimised routing.")
    if app is not None:
        api.state.engine_app = app
    api.state.intake_model = intake_model
    api.state.ops_model = ops_model
    api.state.ops_checkpointer = ops_checkpointer
    install_error_handlers(api)

    @api.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    api.include_router(orders.router)
    api.include_router(routing.router)
    api.include_router(intake.router)
    for router in exceptions.routers:
        api.include_router(router)
    api.include_router(ops_chat.router)
    return api
