"""SQL side of intake documents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.intake import IntakeDocument, IntakeStatus
from engine.services.ports import IntakeRepository

_I = t.intake_documents.c
_COLUMNS = [c for c in t.intake_documents.c if c.name != "raw"]


def _document(row: Any) -> IntakeDocument:
    return IntakeDocument(
        document_id=str(row["id"]), source=row["source"], reference=row["reference"],
        received_at=aware(row["received_at"]), status=IntakeStatus(row["status"]),  # type: ignore[arg-type]
        sender=row["sender"], subject=row["subject"], kind=row["kind"], draft=row["draft"],
        problems=list(row["problems"] or []), order_id=str(row["order_id"]) if row["order_id"] is not None else None,
        updated_at=aware(row["updated_at"]))


class SqlIntakeRepository(IntakeRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, source: str, reference: str) -> IntakeDocument | None:
        row = self.conn.execute(select(*_COLUMNS).where(_I.source == source, _I.reference == reference)
                                ).mappings().first()
        return _document(row) if row else None

    def get(self, document_id: str) -> IntakeDocument | None:
        if not document_id.isdigit() or len(document_id) > 18:
            return None
        row = self.conn.execute(select(*_COLUMNS).where(_I.id == int(document_id))).mappings().first()
        return _document(row) if row else None

    def add(self, document: IntakeDocument, raw: bytes) -> str:
        result = self.conn.execute(insert(t.intake_documents).values(
            source=document.source, reference=document.reference, received_at=document.received_at,
            sender=document.sender, subject=document.subject, raw=raw, kind=document.kind,
            status=document.status.value, draft=document.draft, problems=document.problems,
            order_id=int(document.order_id) if document.order_id else None,
            updated_at=document.updated_at or document.received_at).returning(_I.id))
        return str(result.scalar_one())

    def save(self, document: IntakeDocument) -> None:
        self.conn.execute(update(t.intake_documents).where(_I.id == int(document.document_id)).values(
            kind=document.kind, status=document.status.value, draft=document.draft, problems=document.problems,
            order_id=int(document.order_id) if document.order_id else None, updated_at=document.updated_at))

    def raw(self, document_id: str) -> bytes | None:
        if not document_id.isdigit() or len(document_id) > 18:
            return None
        value = self.conn.execute(select(_I.raw).where(_I.id == int(document_id))).scalar()
        return bytes(value) if value is not None else None

    def for_order(self, order_id: str) -> IntakeDocument | None:
        if not order_id.isdigit() or len(order_id) > 18:
            return None
        row = self.conn.execute(select(*_COLUMNS).where(_I.order_id == int(order_id)).order_by(_I.id).limit(1)
                                ).mappings().first()
        return _document(row) if row else None

    def list(self, status: str | None = None, limit: int = 100) -> list[IntakeDocument]:
        query = select(*_COLUMNS)
        if status is not None:
            query = query.where(_I.status == status)
        rows = self.conn.execute(query.order_by(_I.received_at.desc(), _I.id.desc()).limit(limit)).mappings()
        return [_document(r) for r in rows]
