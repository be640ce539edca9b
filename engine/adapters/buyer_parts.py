"""SQL side of the buyer part-number cross-reference (no embedding dependencies: part of the core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from engine.adapters import tables as t
from engine.intake.matching import BuyerPart
from engine.services.ports import BuyerPartRepository


class SqlBuyerPartRepository(BuyerPartRepository):
    """The `buyer_part_xref` table."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def upsert(self, parts: Sequence[BuyerPart], at: datetime) -> int:
        created = 0
        xref = t.buyer_part_xref
        for part in parts:
            values = {"sku": part.sku, "buyer_uom": part.buyer_uom, "units_per_buyer_uom": part.units_per_buyer_uom,
                      "description": part.description, "updated_at": at}
            key = (xref.c.account_code == part.account_code) & (xref.c.buyer_part == part.buyer_part)
            if self._conn.execute(update(xref).where(key).values(**values)).rowcount == 0:
                self._conn.execute(insert(xref).values(account_code=part.account_code, buyer_part=part.buyer_part,
                                                       **values))
                created += 1
        return created

    def for_account(self, account_code: str) -> list[BuyerPart]:
        xref = t.buyer_part_xref
        rows = self._conn.execute(select(xref).where(xref.c.account_code == account_code)
                                  .order_by(xref.c.buyer_part))
        return [BuyerPart(r.account_code, r.buyer_part, r.sku, r.buyer_uom, r.units_per_buyer_uom, r.description)
                for r in rows]
