"""Request-scoped access to the running engine, and bounded reads of raw request bodies."""

from __future__ import annotations

from fastapi import Request

from engine.bootstrap import App
from engine.domain import errors as e


def engine_app(request: Request) -> App:
    app: App = request.app.state.engine_app
    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed `limit` bytes: from Content-Length
    when the client sends one, else while streaming. Memory never holds more than `limit` (plus one chunk)."""

    def too_large() -> e.PayloadTooLarge:
        return e.PayloadTooLarge(f"the request body is over {limit:,} bytes", problems=[e.Problem(
            e.PayloadTooLarge.code, "body", f"at most {limit:,} bytes", "send a smaller body")], limit=limit)

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)
