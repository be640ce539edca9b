"""Handlers for intake documents: store once per reference, then record what each became."""

from __future__ import annotations

from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.errors import Problem
from engine.domain.events import IntakeDocumentSettled
from engine.domain.intake import IntakeDocument, IntakeStatus
from engine.services.handlers.checks import raise_if_any, text_problem
from engine.services.unit_of_work import AbstractUnitOfWork

SOURCES = ("email", "x12", "edifact", "api", "marketplace", "pos")
MAX_RAW_BYTES = 16 * 1024 * 1024
SETTLED = {IntakeStatus.ACCEPTED, IntakeStatus.NOT_AN_ORDER, IntakeStatus.REJECTED}


def _summary(doc: IntakeDocument, duplicate: bool) -> dict[str, Any]:
    return {"document_id": doc.document_id, "source": doc.source, "reference": doc.reference,
            "status": doc.status.value, "kind": doc.kind, "order_id": doc.order_id, "duplicate": duplicate,
            "problems": doc.problems, "draft": doc.draft}


def receive_intake_document(cmd: c.ReceiveIntakeDocument, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("reference", cmd.reference, max_length=200),
                            text_problem("sender", cmd.sender, max_length=254, required=False),
                            text_problem("subject", cmd.subject, max_length=300, required=False)) if p]
    if cmd.source not in SOURCES:
        problems.append(Problem("intake.source", "source", f"unknown intake source {cmd.source!r}",
                                f"use one of {', '.join(SOURCES)}"))
    if not isinstance(cmd.raw, bytes | bytearray) or len(cmd.raw) > MAX_RAW_BYTES:
        problems.append(Problem("intake.raw", "raw", f"the document must be bytes of at most {MAX_RAW_BYTES:,}",
                                "send the original document"))
    raise_if_any(problems)
    existing = uow.intake.find(cmd.source, cmd.reference)
    if existing is not None:
        return _summary(existing, duplicate=True)
    now = uow.now()
    doc = IntakeDocument(document_id="", source=cmd.source, reference=cmd.reference, received_at=now,
                         status=IntakeStatus.RECEIVED, sender=cmd.sender, subject=cmd.subject, updated_at=now)
    doc.document_id = uow.intake.add(doc, bytes(cmd.raw))
    return _summary(doc, duplicate=False)


def settle_intake_document(cmd: c.SettleIntakeDocument, uow: AbstractUnitOfWork) -> dict[str, Any]:
    doc = uow.intake.get(cmd.document_id) if isinstance(cmd.document_id, str) else None
    if doc is None:
        raise e.NotFound(f"intake document {cmd.document_id!r} does not exist",
                         problems=[Problem("intake.unknown_document", "document_id", "no such document",
                                           "use the id intake returned")])
    try:
        status = IntakeStatus(cmd.status)
    except ValueError:
        raise e.ValidationFailed(f"unknown intake status {cmd.status!r}", problems=[
            Problem("intake.status", "status", f"unknown status {cmd.status!r}",
                    f"use one of {', '.join(s.value for s in IntakeStatus)}")]) from None
    if doc.status in SETTLED:
        raise e.IllegalTransition(f"intake document {doc.document_id} is already {doc.status.value}",
                                  entity="intake_document", from_status=doc.status.value, to_status=status.value)
    if status is IntakeStatus.ACCEPTED and not cmd.order_id:
        raise e.ValidationFailed("an accepted document names its order", problems=[
            Problem("validation.required", "order_id", "accepted without an order", "send the order id")])
    doc.status, doc.kind, doc.draft = status, cmd.kind[:16], cmd.draft
    doc.problems, doc.order_id, doc.updated_at = [dict(p) for p in cmd.problems][:200], cmd.order_id, uow.now()
    uow.intake.save(doc)
    uow.emit(IntakeDocumentSettled(document_id=doc.document_id, source=doc.source, status=status.value,
                                   kind=doc.kind, order_id=doc.order_id,
                                   problem_codes=tuple(str(p.get("code", "")) for p in doc.problems),
                                   occurred_at=uow.now()))
    return _summary(doc, duplicate=False)
