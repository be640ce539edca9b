"""Intake over HTTP: raw order emails through the intake agent, and the documents' outcomes."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from api.http.auth import check_order, current_principal, requires
from api.http.deps import engine_app, read_body
from engine.bootstrap import App
from engine.domain import errors as e
from engine.domain.access import Permission, Principal, Role
from engine.domain.errors import Problem
from engine.domain.intake import IntakeStatus
from engine.intake.mail import MAX_EMAIL_BYTES, EmailUnreadable, parse_email
from engine.intake.x12_reader import MAX_INPUT_BYTES

router = APIRouter(prefix="/intake", tags=["intake"])
log = logging.getLogger(__name__)
EngineApp = Annotated[App, Depends(engine_app)]
Placer = Annotated[Principal, Depends(requires(Permission.ORDERS_PLACE))]
Reader = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]


def _channel_only(who: Principal, channel: str) -> None:
    """Raw documents come from ops or from the integration of that channel; buyers place structured orders."""
    if who.sees_every_order:
        return
    if who.role is not Role.INTEGRATION or who.scope_value != channel:
        raise e.Forbidden("not permitted")


def _agent(request: Request) -> Any:
    return intake_agent(request.app)


def intake_agent(api: Any) -> Any:
    """The intake agent, built on first use with the configured model (the local model starts then)."""
    agent = getattr(api.state, "intake_agent", None)
    if agent is None:
        from agents.intake.graph import IntakeAgent
        from agents.llm import chat_model
        from engine.adapters.catalog_index import open_catalog_index
        from tools.intake import IntakeLookups

        engine_app = api.state.engine_app
        model = getattr(api.state, "intake_model", None)
        if model is None and engine_app.settings.llm == "fake":  # no model: the deterministic rules baseline
            from agents.intake.rules import rules_handler

            model = chat_model("fake", handler=rules_handler)
        model = model or chat_model(engine_app.settings.llm, engine_app.settings)
        index = None if getattr(api.state, "intake_model", None) else open_catalog_index(engine_app.engine)
        agent = IntakeAgent(model, IntakeLookups(engine_app.uow, index))
        api.state.intake_agent = agent
    return agent


def resume_unread_emails(api: Any, older_than: timedelta = timedelta(minutes=10)) -> list[dict[str, Any]]:
    """Read the emails that were stored but never settled (the process stopped while the model read them).

    Only those stored more than `older_than` ago: a younger one may still be in another worker's hands
    (the model's own time limit is well inside ten minutes)."""
    app: App = api.state.engine_app
    with app.uow(readonly=True) as uow:
        cutoff = uow.now() - older_than
        waiting = [d for d in uow.intake.list(IntakeStatus.RECEIVED.value, 1000)
                   if d.source == "email" and d.received_at <= cutoff]
    out = []
    for doc in waiting:
        with app.uow(readonly=True) as uow:
            raw = uow.intake.raw(doc.document_id)
            current = uow.intake.get(doc.document_id)
        if raw is None or current is None or current.status is not IntakeStatus.RECEIVED:
            continue
        try:
            result = intake_agent(api).run(raw)
        except EmailUnreadable as err:
            out.append(app.intake.reject(doc.document_id, err).to_dict())
            continue
        out.append(app.intake.settle(doc.document_id, result.draft).to_dict())
        log.info("resumed an unread email", extra={"document_id": doc.document_id})
    return out


@router.post("/email", status_code=status.HTTP_201_CREATED)
async def intake_email(request: Request, response: Response, who: Placer) -> dict[str, Any]:
    """A raw RFC 822 message (body as sent, any content type). The same Message-ID twice answers the first
    outcome (200) and never creates a second order. Unreadable input is stored as rejected (422)."""
    _channel_only(who, "email")
    app: App = request.app.state.engine_app
    raw = await read_body(request, MAX_EMAIL_BYTES)
    try:
        parsed = parse_email(raw)
        reference, sender, subject = parsed.message_id or _digest(raw), parsed.sender, parsed.subject
    except EmailUnreadable as err:
        stored = app.intake.receive("email", _digest(raw), raw)
        if not stored["duplicate"]:
            app.intake.reject(stored["document_id"], err)
        raise
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_settle, request, response, raw, reference, sender, subject)


def _settle(request: Request, response: Response, raw: bytes, reference: str, sender: str,
            subject: str) -> dict[str, Any]:
    app: App = request.app.state.engine_app
    stored = app.intake.receive("email", reference, raw, sender, subject)
    if stored["duplicate"] or stored["status"] != "received":
        response.status_code = status.HTTP_200_OK
        return {**stored, "duplicate": True}
    result = _agent(request).run(raw)
    outcome = app.intake.settle(stored["document_id"], result.draft)
    return {**outcome.to_dict(), "touchless": result.draft.touchless, "timings": result.timings}


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@router.get("/documents")
def documents(app: EngineApp, who: Reader,
              status_filter: Annotated[str | None, Query(alias="status", max_length=16)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    with app.uow(readonly=True) as uow:
        docs = uow.intake.list(status_filter, limit)
    return [{"document_id": d.document_id, "source": d.source, "reference": d.reference, "status": d.status.value,
             "kind": d.kind, "sender": d.sender, "subject": d.subject, "order_id": d.order_id,
             "received_at": d.received_at.isoformat(), "problems": d.problems} for d in docs]


@router.get("/documents/{document_id}")
def document(document_id: str, app: EngineApp, who: Reader) -> dict[str, Any]:
    with app.uow(readonly=True) as uow:
        doc = uow.intake.get(document_id) if document_id.isdigit() else None
    if doc is None:
        raise e.NotFound(f"intake document {document_id!r} does not exist", problems=[
            Problem("intake.unknown_document", "document_id", "no such document", "use an id from /intake/documents")])
    return {"document_id": doc.document_id, "source": doc.source, "reference": doc.reference,
            "status": doc.status.value, "kind": doc.kind, "sender": doc.sender, "subject": doc.subject,
            "order_id": doc.order_id, "received_at": doc.received_at.isoformat(), "problems": doc.problems,
            "draft": doc.draft}


@router.post("/edi", status_code=status.HTTP_201_CREATED)
async def intake_edi(request: Request, who: Placer) -> dict[str, Any]:
    """A raw X12 interchange (850s) or EDIFACT interchange (ORDERS). Each set/message becomes an order or a
    draft for review, once per reference (ISA13/GS06/ST02; UNB sender/UNB05/UNH01); the answer carries the
    acknowledgements to send back (997 and 855, or ORDRSP). An unusable interchange is 422 with the
    segment index, segment id and reason."""
    from starlette.concurrency import run_in_threadpool

    _channel_only(who, "b2b_edi")
    app: App = request.app.state.engine_app
    raw = await read_body(request, MAX_INPUT_BYTES)
    result = await run_in_threadpool(app.edi.receive, raw)
    return result.to_dict()


@router.get("/orders/{order_id}/ship-notice/{shipment_id}", response_class=PlainTextResponse)
def ship_notice(order_id: str, shipment_id: str, app: EngineApp,
                who: Annotated[Principal, Depends(current_principal)]) -> str:
    """The X12 856 for a recorded shipment of an order that came by X12 (to send to the partner)."""
    check_order(app, who, order_id)
    return app.edi.ship_notice(order_id, shipment_id)


@router.get("/orders/{order_id}/invoice", response_class=PlainTextResponse)
def invoice(order_id: str, app: EngineApp, who: Annotated[Principal, Depends(current_principal)]) -> str:
    """The X12 810 for what has shipped on an order that came by X12, at the order's prices."""
    check_order(app, who, order_id)
    return app.edi.invoice(order_id)
