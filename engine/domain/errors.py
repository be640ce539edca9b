"""Errors as values with stable codes; every engine failure is an OrderloomError."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, and how to fix it."""

    code: str
    field: str
    message: str
    fix: str = ""
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message, "fix": self.fix,
                "data": dict(self.data)}


class OrderloomError(Exception):
    """Base of every engine error. `code` is stable: API clients and agents branch on it."""

    code: str = "orderloom.error"
    http_status: int = 400

    def __init__(self, message: str, *, problems: Sequence[Problem] = (), **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data:
            body["data"] = {k: _jsonable(v) for k, v in self.data.items()}
        if self.problems:
            body["problems"] = [p.to_dict() for p in self.problems]
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


class ValidationFailed(OrderloomError):
    """The input has one or more problems; all of them are listed, not just the first."""

    code = "validation.failed"
    http_status = 422


class NotFound(OrderloomError):
    code = "not_found"
    http_status = 404


class UnknownSku(NotFound):
    code = "catalog.unknown_sku"


class UnknownNode(NotFound):
    code = "network.unknown_node"


class UnknownChannel(NotFound):
    code = "channel.unknown"


class UnknownCustomer(NotFound):
    code = "customer.unknown"


class UnknownAccount(NotFound):
    code = "account.unknown"


class UnknownOrder(NotFound):
    code = "order.unknown"


class UnknownReturn(NotFound):
    code = "return.unknown"


class ReturnNotEligible(OrderloomError):
    """No requested line may come back under the return policy (each refusal names its line and why)."""

    code = "return.not_eligible"
    http_status = 422


class UnknownReservation(NotFound):
    code = "reservation.unknown"


class InvalidQuantity(OrderloomError):
    code = "quantity.invalid"
    http_status = 422


class IllegalTransition(OrderloomError):
    """A state machine refused a move that its table does not allow."""

    code = "state.illegal_transition"
    http_status = 409


class DuplicateOrder(OrderloomError):
    """An order with this (channel, external id) already exists."""

    code = "order.duplicate_external_id"
    http_status = 409


class IdempotencyKeyReused(OrderloomError):
    """The idempotency key was already used with a different payload."""

    code = "idempotency.key_reused"
    http_status = 422


class AlreadyExists(OrderloomError):
    code = "already_exists"
    http_status = 409


class InsufficientStock(OrderloomError):
    """At least one line could not be reserved; nothing was reserved."""

    code = "inventory.insufficient"
    http_status = 409


class ChannelCapExceeded(OrderloomError):
    code = "inventory.channel_cap_exceeded"
    http_status = 409


class StockInvariantViolation(OrderloomError):
    """A movement would make stock negative or push on-hand below what is reserved."""

    code = "inventory.invariant"
    http_status = 409


class HoldExpired(OrderloomError):
    code = "reservation.hold_expired"
    http_status = 409


class NodeNotShippable(OrderloomError):
    code = "network.node_not_shippable"
    http_status = 409


class StaleDecision(OrderloomError):
    """The order changed between the routing decision and its commit; decide again on fresh data."""

    code = "routing.stale_decision"
    http_status = 409


class NodeCapacityExceeded(OrderloomError):
    """A node has no pick capacity left today for the units a plan sends it."""

    code = "routing.node_capacity"
    http_status = 409


class UnknownRoutingPolicy(NotFound):
    code = "routing.unknown_policy"


class UnknownException(NotFound):
    code = "exception.unknown"


class UnknownProposal(NotFound):
    code = "proposal.unknown"


class CaseClosed(OrderloomError):
    """The case was already closed (by someone else, or because its cause went away)."""

    code = "exception.closed"
    http_status = 409


class ProposalDecided(OrderloomError):
    """A proposal can be decided once."""

    code = "proposal.already_decided"
    http_status = 409


class ActionNotAllowed(OrderloomError):
    """The action does not fit the order's present state (re-validated at execution time)."""

    code = "exception.action_not_allowed"
    http_status = 409


class NotAuthenticated(OrderloomError):
    """No credentials, or credentials that are unknown, revoked or expired (which of these is not said)."""

    code = "auth.unauthenticated"
    http_status = 401


class Forbidden(OrderloomError):
    """The caller may not do this, or the object is not theirs (whether it exists is not said)."""

    code = "auth.forbidden"
    http_status = 403


class BadSignature(OrderloomError):
    """A webhook whose signature does not match its body (or is missing, or too old)."""

    code = "webhook.bad_signature"
    http_status = 401


class PayloadTooLarge(OrderloomError):
    """The request body is over the endpoint's limit; it was not read past the limit."""

    code = "request.too_large"
    http_status = 413
