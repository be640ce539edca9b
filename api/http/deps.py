"""Request-scoped access to the running engine."""

from __future__ import annotations

from fastapi import Request

from engine.bootstrap import App


def engine_app(request: Request) -> App:
    app: App = request.app.state.engine_app
    return app
