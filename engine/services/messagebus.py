"""The message bus: runs each command in its own unit of work, with idempotency keys."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from engine.domain import errors as e
from engine.domain.commands import Command
from engine.domain.events import Event
from engine.services.handlers import COMMAND_HANDLERS, Handler
from engine.services.ports import StoredResponse
from engine.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200


class AfterCommit(Protocol):
    def __call__(self, events: list[Event]) -> None: ...


def request_hash(cmd: Command) -> str:
    """A stable fingerprint of a command's payload, without its idempotency key."""
    skip = {"idempotency_key", *cmd.derived}
    body = {k: v for k, v in dataclasses.asdict(cmd).items() if k not in skip}
    canonical = json.dumps({"command": type(cmd).__name__, "body": body}, sort_keys=True, default=str,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class MessageBus:
    """Handles commands one at a time; each gets a fresh unit of work that commits once."""

    def __init__(self, uow_factory: Callable[[], AbstractUnitOfWork],
                 handlers: dict[type[Command], Handler] | None = None,
                 after_commit: AfterCommit | None = None, conflict_retries: int = 2) -> None:
        self.uow_factory = uow_factory
        self.handlers = handlers if handlers is not None else COMMAND_HANDLERS
        self.after_commit = after_commit
        self.conflict_retries = conflict_retries

    def handle(self, cmd: Command) -> Any:
        handler = self.handlers.get(type(cmd))
        if handler is None:
            raise e.OrderloomError(f"no handler for {type(cmd).__name__}")
        key = cmd.idempotency_key
        if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH
                                or not key.isprintable()):
            raise e.ValidationFailed("the idempotency key must be 1-200 printable characters",
                                     problems=[e.Problem("idempotency.key_invalid", "idempotency_key",
                                                         "invalid idempotency key",
                                                         "send a UUID or similar token")])
        attempt = 0
        while True:
            uow = self.uow_factory()
            try:
                result, events = self._run(uow, handler, cmd)
            except Exception as exc:
                if key is not None and isinstance(exc, e.OrderloomError):
                    # The same request may have committed between our key check and the handler's own
                    # uniqueness check (e.g. the order's external id): answer what it answered.
                    stored = self._stored_response(key, cmd)
                    if stored is not None:
                        return stored.response
                if not uow.is_retryable(exc):
                    raise
                # A concurrent writer inserted the same key (idempotency key, external id, ...).
                # Run again: the second pass sees the committed row and answers accordingly.
                attempt += 1
                if attempt > self.conflict_retries:
                    raise e.OrderloomError("the change conflicted with a concurrent one; try again",
                                           reason=str(exc.__class__.__name__)) from exc
                continue
            if events and self.after_commit is not None:
                try:
                    self.after_commit(events)
                except Exception:  # delivery is at-least-once: the relay picks it up again
                    log.exception("after-commit delivery failed; events stay in the outbox")
            return result

    def _stored_response(self, key: str, cmd: Command) -> StoredResponse | None:
        with self.uow_factory() as uow:
            stored = uow.idempotency.get(key)
        return stored if stored is not None and stored.request_hash == request_hash(cmd) else None

    @staticmethod
    def _run(uow: AbstractUnitOfWork, handler: Handler, cmd: Command) -> tuple[Any, list[Event]]:
        with uow:
            key = cmd.idempotency_key
            digest = request_hash(cmd) if key else ""
            if key:
                stored = uow.idempotency.get(key)
                if stored is not None:
                    if stored.request_hash != digest:
                        raise e.IdempotencyKeyReused(
                            f"idempotency key {key!r} was already used for a different "
                            f"{stored.command} request",
                            key=key, first_command=stored.command,
                            problems=[e.Problem(e.IdempotencyKeyReused.code, "idempotency_key",
                                                "this key belongs to another request",
                                                "use a new key for a new request, or resend the "
                                                "original payload unchanged")])
                    return stored.response, []
            result = handler(cmd, uow)
            if key:
                uow.idempotency.add(key, StoredResponse(type(cmd).__name__, digest, result), uow.now())
            uow.commit()
            return result, list(uow.committed_events)
