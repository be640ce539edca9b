"""Publish the outbox to NATS JetStream: one subject per event type, de-duplicated by event id.

The relay marks a message published only after this returns, so a crash may publish it twice;
JetStream drops the repeat because `Nats-Msg-Id` is the event id (within the stream's duplicate
window), and consumers still de-duplicate by `event_id` for redeliveries beyond it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import Future
from typing import Any

from engine.adapters.outbox import OutboxMessage

try:  # the `nats` extra
    import nats
    from nats.js.api import StorageType, StreamConfig
except ImportError:  # pragma: no cover - exercised only without the extra
    nats = None  # type: ignore[assignment]


def subject_for(prefix: str, event_type: str) -> str:
    return f"{prefix}.{event_type}"


def encode(message: OutboxMessage) -> bytes:
    return json.dumps({
        "event_id": message.event_id, "event_type": message.event_type, "version": message.version,
        "aggregate": message.aggregate, "aggregate_id": message.aggregate_id,
        "occurred_at": message.occurred_at.isoformat(), "payload": message.payload,
    }, separators=(",", ":"), sort_keys=True).encode()


class JetStreamPublisher:
    """A relay subscriber (`relay.subscribe("*", publisher)`) that publishes to JetStream."""

    def __init__(self, url: str, *, stream: str = "ORDERLOOM", subject_prefix: str = "orderloom.events",
                 duplicate_window_s: float = 600.0, timeout_s: float = 5.0) -> None:
        if nats is None:
            raise RuntimeError("NATS support needs the `nats` extra: pip install 'orderloom[nats]'")
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.duplicate_window_s = duplicate_window_s
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="orderloom-nats", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._run(self._connect())

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=self.timeout_s * 2)

    async def _connect(self) -> None:
        self._nc = await nats.connect(self.url, connect_timeout=self.timeout_s, max_reconnect_attempts=3)
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        config = StreamConfig(name=self.stream, subjects=[f"{self.subject_prefix}.>"],
                              storage=StorageType.FILE, duplicate_window=self.duplicate_window_s)
        try:
            await self._js.stream_info(self.stream)
            await self._js.update_stream(config)
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(config)

    def __call__(self, message: OutboxMessage) -> None:
        self._run(self._js.publish(subject_for(self.subject_prefix, message.event_type), encode(message),
                                   headers={"Nats-Msg-Id": message.event_id}))

    def close(self) -> None:
        if self._nc is not None:
            self._run(self._nc.drain())
            self._nc = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self.timeout_s)
