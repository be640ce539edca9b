"""Input checks shared by handlers: collect every problem, then raise once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeGuard

from engine.domain import errors as e
from engine.domain.catalog import is_valid_sku_code
from engine.domain.errors import Problem
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_QUANTITY = 1_000_000

_BY_CODE: dict[str, type[e.OrderloomError]] = {
    cls.code: cls
    for cls in (e.UnknownSku, e.UnknownNode, e.UnknownChannel, e.UnknownCustomer, e.UnknownAccount,
                e.UnknownOrder, e.InvalidQuantity, e.InsufficientStock, e.ChannelCapExceeded)
}


def new_id() -> str:
    return uuid.uuid4().hex


def raise_if_any(problems: Sequence[Problem], summary: str = "") -> None:
    """Raise one error for all problems: the specific class when they share a code."""
    if not problems:
        return
    codes = {p.code for p in problems}
    cls = _BY_CODE.get(next(iter(codes)), e.ValidationFailed) if len(codes) == 1 else e.ValidationFailed
    message = summary or "; ".join(p.message for p in problems[:5])
    if len(problems) > 5:
        message += f" (and {len(problems) - 5} more)"
    raise cls(message, problems=problems)


def quantity_problem(field: str, value: object, *, allow_zero: bool = False) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return Problem(e.InvalidQuantity.code, field, f"{field} must be a whole number, got {value!r}",
                       "send an integer number of units")
    low = 0 if allow_zero else 1
    if value < low or value > MAX_QUANTITY:
        bound = "zero or more" if allow_zero else "at least 1"
        return Problem(e.InvalidQuantity.code, field,
                       f"{field} must be {bound} and at most {MAX_QUANTITY:,}, got {value}",
                       f"send a quantity between {low} and {MAX_QUANTITY:,}", {"value": value})
    return None


def require_quantity(field: str, value: object, *, allow_zero: bool = False) -> None:
    p = quantity_problem(field, value, allow_zero=allow_zero)
    raise_if_any([p] if p else [])


def sku_problem(uow: AbstractUnitOfWork, field: str, sku: object, known: set[str] | None = None) -> Problem | None:
    if not isinstance(sku, str) or not is_valid_sku_code(sku):
        return Problem(e.UnknownSku.code, field, f"{sku!r} is not a valid SKU code",
                       "use an upper-case SKU code from the catalog")
    exists = sku in known if known is not None else uow.master.get_sku(sku) is not None
    if not exists:
        return Problem(e.UnknownSku.code, field, f"SKU {sku} is not in the catalog",
                       "check the SKU or add it to the catalog first", {"sku": sku})
    return None


def is_lookup_key(value: object) -> TypeGuard[str]:
    """Whether `value` could name something stored. Codes are never created with control characters,
    and PostgreSQL cannot even compare text holding NUL (the driver raises), so such values are
    answered as unknown without asking the database."""
    return isinstance(value, str) and value.isprintable()


def key_problems(field: str, sku: object, node: object) -> list[Problem]:
    """Checks on a (sku, node) pair that need no database: malformed codes can name nothing stored.

    Hot paths use these up front and ask the database only when a reservation fails.
    """
    problems: list[Problem] = []
    if not isinstance(sku, str) or not is_valid_sku_code(sku):
        problems.append(Problem(e.UnknownSku.code, f"{field}.sku", f"{sku!r} is not a valid SKU code",
                                "use an upper-case SKU code from the catalog"))
    if not is_lookup_key(node):
        problems.append(Problem(e.UnknownNode.code, f"{field}.node", f"fulfillment node {node!r} does not exist",
                                "use the code of a configured node", {"node": str(node)}))
    return problems


def node_problem(uow: AbstractUnitOfWork, field: str, node: object) -> Problem | None:
    if not is_lookup_key(node) or uow.master.get_node(node) is None:
        return Problem(e.UnknownNode.code, field, f"fulfillment node {node!r} does not exist",
                       "use the code of a configured node", {"node": str(node)})
    return None


def text_problem(field: str, value: object, *, max_length: int, required: bool = True) -> Problem | None:
    if not isinstance(value, str):
        return Problem("validation.type", field, f"{field} must be text", "send a string")
    if required and not value.strip():
        return Problem("validation.required", field, f"{field} is required", f"send a non-empty {field}")
    if len(value) > max_length:
        return Problem("validation.too_long", field, f"{field} is longer than {max_length} characters",
                       f"shorten {field}")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        return Problem("validation.control_characters", field, f"{field} contains control characters",
                       "remove control characters")
    return None


def code_problem(field: str, value: object, *, max_length: int = 32) -> Problem | None:
    p = text_problem(field, value, max_length=max_length)
    if p:
        return p
    assert isinstance(value, str)
    if not all(ch.isalnum() or ch in "-_." for ch in value):
        return Problem("validation.code_format", field,
                       f"{field} may use letters, digits, '-', '_' and '.', got {value!r}",
                       "use a simple code such as DC-RENO")
    return None
