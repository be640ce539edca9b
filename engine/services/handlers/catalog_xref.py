"""Handler for the buyer part cross-reference used by catalog matching."""

from __future__ import annotations

from typing import Any

from engine.domain import commands as c
from engine.domain.errors import Problem
from engine.domain.events import MasterDataChanged
from engine.intake.matching import FIXED_UNITS, PACK_UNITS, BuyerPart
from engine.services.handlers.checks import code_problem, is_lookup_key, raise_if_any, sku_problem, text_problem
from engine.services.ports import BuyerPartRepository
from engine.services.unit_of_work import AbstractUnitOfWork

MAX_PARTS = 5000
KNOWN_UNITS = frozenset(FIXED_UNITS) | PACK_UNITS


def buyer_parts(uow: AbstractUnitOfWork) -> BuyerPartRepository:
    """The unit of work's cross-reference repository."""
    return uow.buyer_parts


def _entry_problems(i: int, part: object, uow: AbstractUnitOfWork, known: set[str]) -> list[Problem]:
    where = f"parts[{i}]"
    if not isinstance(part, c.BuyerPartEntry):
        return [Problem("validation.type", where, "each part must be a BuyerPartEntry", "send an object")]
    problems = [p for p in (
        text_problem(f"{where}.buyer_part", part.buyer_part, max_length=64),
        sku_problem(uow, f"{where}.sku", part.sku, known=known),
        text_problem(f"{where}.description", part.description, max_length=300, required=False),
    ) if p]
    if not isinstance(part.buyer_uom, str) or part.buyer_uom.upper() not in KNOWN_UNITS:
        problems.append(Problem("matching.unknown_unit", f"{where}.buyer_uom", f"unit {part.buyer_uom!r} is unknown",
                                f"send one of {', '.join(sorted(KNOWN_UNITS))}"))
    units = part.units_per_buyer_uom
    if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= 100_000:
        problems.append(Problem("validation.quantity", f"{where}.units_per_buyer_uom",
                                f"units per buyer unit must be a whole number from 1 to 100000, got {units!r}",
                                "send e.g. 12 for a case of 12"))
    elif isinstance(part.buyer_uom, str) and FIXED_UNITS.get(part.buyer_uom.upper()) not in (None, units):
        problems.append(Problem("matching.unit_conflict", f"{where}.units_per_buyer_uom",
                                f"{part.buyer_uom} always holds {FIXED_UNITS[part.buyer_uom.upper()]}",
                                "fix the unit or the count"))
    return problems


def upsert_buyer_parts(cmd: c.UpsertBuyerParts, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (code_problem("account_code", cmd.account_code),) if p]
    if not problems and uow.master.get_account(cmd.account_code) is None:
        problems.append(Problem("account.unknown", "account_code", f"account {cmd.account_code!r} does not exist",
                                "create the account first"))
    if not isinstance(cmd.parts, tuple) or not 0 < len(cmd.parts) <= MAX_PARTS:
        problems.append(Problem("validation.parts", "parts", f"send 1 to {MAX_PARTS} parts", "split the upload"))
        raise_if_any(problems)
    known = uow.master.existing_skus(p.sku for p in cmd.parts
                                     if isinstance(p, c.BuyerPartEntry) and is_lookup_key(p.sku))
    seen: set[str] = set()
    for i, part in enumerate(cmd.parts):
        problems.extend(_entry_problems(i, part, uow, known))
        if isinstance(part, c.BuyerPartEntry) and isinstance(part.buyer_part, str):
            if part.buyer_part.strip() in seen:
                problems.append(Problem("validation.duplicate", f"parts[{i}].buyer_part",
                                        f"buyer part {part.buyer_part!r} appears twice", "send it once"))
            seen.add(part.buyer_part.strip())
    raise_if_any(problems)
    parts = [BuyerPart(cmd.account_code, p.buyer_part.strip(), p.sku, p.buyer_uom.upper(), p.units_per_buyer_uom,
                       p.description.strip()) for p in cmd.parts]
    created = buyer_parts(uow).upsert(parts, uow.now())
    uow.emit(MasterDataChanged(entity="buyer_parts", key=cmd.account_code, change="updated", occurred_at=uow.now()))
    return {"account_code": cmd.account_code, "created": created, "updated": len(parts) - created}
