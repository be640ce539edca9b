"""Carrier tracking webhooks (signed, one per carrier) and the checkout delivery promise for storefronts."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.auth import requires
from api.http.deps import engine_app, read_body
from engine.bootstrap import App
from engine.domain.access import Permission, Principal, Role
from engine.services.tracking import MAX_BODY, SIGNATURE_HEADER

router = APIRouter(tags=["tracking"])
EngineApp = Annotated[App, Depends(engine_app)]
CarrierCode = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("/carriers/{carrier}/tracking")
async def tracking_webhook(carrier: CarrierCode, request: Request) -> dict[str, Any]:
    """A carrier's scan events in its own format, signed (header X-Orderloom-Signature: t=<unix>,v1=<HMAC-SHA256
    of "<t>.<body>" with the carrier's webhook secret>). Events are recorded once each; a redelivered webhook
    answers with `duplicates` and changes nothing. No API key: the signature is the credential."""
    from starlette.concurrency import run_in_threadpool

    app: App = request.app.state.engine_app
    body = await read_body(request, MAX_BODY)
    result: dict[str, Any] = await run_in_threadpool(app.tracking.webhook, carrier, body,
                                                     request.headers.get(SIGNATURE_HEADER))
    return {k: result[k] for k in ("recorded", "duplicates", "unmatched")} | {"delays": len(result["delays"])}


class PromiseLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(max_length=64)
    quantity: StrictInt


class PromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[PromiseLineIn] = Field(min_length=1, max_length=100)
    postal_code: str = Field(max_length=16)
    country: str = Field(default="US", max_length=2)
    channel: str | None = Field(default=None, max_length=32)


class PromiseCache:
    """Identical baskets to one destination within `ttl` seconds share one answer (checkout pages ask a lot)."""

    def __init__(self, ttl: float = 10.0, size: int = 2048) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or time.monotonic() - found[0] > self.ttl:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@router.post("/promise", tags=["promise"])
def checkout_promise(body: PromiseIn, request: Request, response: Response, app: EngineApp,
                     who: Annotated[Principal, Depends(requires(Permission.PROMISE_READ))]) -> dict[str, Any]:
    """Earliest delivery per service level for a basket to a postal code: the engine's own promise
    calculation (stock, cut-offs, pick capacity, carrier calendars, channel caps, carrier incidents),
    cached for a few seconds. A channel integration is answered for its own channel."""
    channel = body.channel
    if who.role is Role.INTEGRATION:
        channel = who.scope_value
    cache: PromiseCache = request.app.state.promise_cache
    key = hashlib.sha256(json.dumps([channel, body.postal_code, body.country,
                                     sorted((ln.sku, ln.quantity) for ln in body.lines)]).encode()).hexdigest()
    found = cache.get(key)
    response.headers["Cache-Control"] = f"private, max-age={int(cache.ttl)}"
    if found is not None:
        response.headers["X-Cache"] = "hit"
        return found
    promise = app.promiser.promise([{"sku": ln.sku, "quantity": ln.quantity} for ln in body.lines],
                                   body.postal_code, body.country, channel)
    answer: dict[str, Any] = promise.model_dump(mode="json")
    cache.put(key, answer)
    response.headers["X-Cache"] = "miss"
    return answer
