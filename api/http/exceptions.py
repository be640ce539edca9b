"""The exception desk over HTTP: the queue, people's decisions, agents' proposals, the audit trail, the
resolution policy, and the signals other systems send (payments, short picks, carrier incidents, sweeps).

Every handler calls `app.exceptions` (engine/services/exceptions.py), which runs engine commands; errors are
the engine's typed errors (errors.py). The recorded actor is the authenticated caller; an `actor` in the
body is accepted for older clients and ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from api.http.auth import check_order, requires
from api.http.deps import engine_app
from engine.bootstrap import App
from engine.domain import errors as e
from engine.domain.access import Permission, Principal, Role
from engine.domain.exceptions import Action, CaseStatus, ExceptionType, ProposalStatus

exceptions_router = APIRouter(prefix="/exceptions", tags=["exceptions"])
proposals_router = APIRouter(prefix="/proposals", tags=["proposals"])
audit_router = APIRouter(tags=["audit"])
signals_router = APIRouter(tags=["exceptions"])
routers = (exceptions_router, proposals_router, audit_router, signals_router)

EngineApp = Annotated[App, Depends(engine_app)]
Reader = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]
Actor_ = Annotated[Principal, Depends(requires(Permission.EXCEPTIONS_ACT))]
PolicyAdmin = Annotated[Principal, Depends(requires(Permission.POLICY_WRITE))]
MAX_PARAMS_BYTES = 16_000


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    """Action parameters and policy settings are small documents; a huge one is refused, not stored."""
    if len(json.dumps(value, default=str)) > MAX_PARAMS_BYTES:
        raise ValueError(f"at most {MAX_PARAMS_BYTES:,} bytes of JSON")
    return value


Params = Annotated[dict[str, Any], AfterValidator(_bounded)]
Actor = Annotated[str | None, Field(default=None, max_length=100, description="ignored: the caller is recorded")]
Note = Annotated[str, Field(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=500)]
Id = Annotated[str | None, Query(max_length=64)]
Name = Annotated[str | None, Query(max_length=100)]
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # ids become idempotency keys and log lines: no control characters
CaseId = Annotated[str, Path(max_length=64, pattern=PRINTABLE)]
ProposalId = Annotated[str, Path(max_length=64, pattern=PRINTABLE)]
OrderId = Annotated[str, Path(max_length=64, pattern=PRINTABLE)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
CaseStatusFilter = Literal["open", "auto_resolved", "resolved", "dismissed", "cleared", "all"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResolveIn(Strict):
    action: Action
    params: Params = Field(default_factory=dict)
    actor: Actor = None
    note: Note = ""


class NoteIn(Strict):
    actor: Actor = None
    note: Note = ""


class AssignIn(Strict):
    assignee: str | None = Field(max_length=100)
    actor: Actor = None


class EditIn(Strict):
    actor: Actor = None
    params: Params
    note: Note = ""


class PolicyIn(Strict):
    settings: Annotated[dict[str, Any], Field(min_length=1, max_length=100), AfterValidator(_bounded)]
    actor: Actor = None
    note: Note = ""


class PaymentSignalIn(Strict):
    status: str = Field(max_length=32)
    fraud_score: float = Field(default=0.0, ge=0, le=1, strict=True)
    reference: str = Field(default="", max_length=128)
    detail: Note = ""
    instrument: str = Field(default="", max_length=128, description="a fingerprint, never the card number")


class ShortPickIn(Strict):
    node: str = Field(max_length=32)
    line_no: StrictInt = Field(ge=1, le=10_000)
    short: StrictInt = Field(ge=1, le=1_000_000)
    reference: str = Field(default="", max_length=128)


class CarrierIncidentIn(Strict):
    kind: Literal["outage", "delay", "cleared"]
    reason: Note
    delay_days: StrictInt = Field(default=0, ge=0, le=60)
    dest_prefixes: list[Annotated[str, Field(pattern=r"^[0-9]{3}$")]] = Field(default_factory=list,
                                                                              max_length=1000)


# -- the queue ---------------------------------------------------------------------------------------

@exceptions_router.get("")
def list_cases(app: EngineApp, who: Reader, status: CaseStatusFilter = "open", type: ExceptionType | None = None,
               channel: Annotated[str | None, Query(max_length=32)] = None, order_id: Id = None,
               assignee: Name = None, since: datetime | None = None, limit: Limit = 100) -> list[dict[str, Any]]:
    """Cases, highest priority first; `status=all` for every status."""
    return app.exceptions.cases(status=None if status == "all" else CaseStatus(status).value,
                                type=type.value if type else None,
                                channel=channel, order_id=order_id, assignee=assignee, since=since, limit=limit)


@exceptions_router.get("/stats")
def stats(app: EngineApp, who: Reader) -> dict[str, Any]:
    """Open, breached and unassigned counts, the share resolved automatically, counts per type and status."""
    return app.exceptions.queue_stats()


@exceptions_router.get("/policy")
def get_policy(app: EngineApp, who: Reader) -> dict[str, Any]:
    return app.exceptions.policy()


@exceptions_router.put("/policy")
def set_policy(body: PolicyIn, app: EngineApp, who: PolicyAdmin) -> dict[str, Any]:
    """A new resolution policy version from the active one changed by `settings`; unknown settings are refused."""
    return app.exceptions.set_policy(body.settings, who.name, body.note)


@exceptions_router.post("/sweep")
def sweep(app: EngineApp, who: Actor_) -> dict[str, Any]:
    """Open a milestone case for each order not progressing as expected (the scheduler calls this)."""
    return app.exceptions.sweep_milestones()


@exceptions_router.get("/{case_id}")
def get_case(case_id: CaseId, app: EngineApp, who: Reader) -> dict[str, Any]:
    """The case with its order snapshot, proposals and audit trail."""
    return app.exceptions.case(case_id)


@exceptions_router.post("/{case_id}/resolve")
def resolve(case_id: CaseId, body: ResolveIn, app: EngineApp, who: Actor_, idempotency_key: IdempotencyKey = None
            ) -> dict[str, Any]:
    """Run an action on the case's order (re-validated against its present state) and close the case."""
    return app.exceptions.resolve(case_id, body.action.value, body.params, who.name, body.note,
                                  idempotency_key=idempotency_key)


@exceptions_router.post("/{case_id}/dismiss")
def dismiss(case_id: CaseId, body: NoteIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    return app.exceptions.dismiss(case_id, who.name, body.note)


@exceptions_router.post("/{case_id}/reverse")
def reverse(case_id: CaseId, body: NoteIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    """Undo an automatic resolution while the order is not yet released; the case opens again."""
    return app.exceptions.reverse(case_id, who.name, body.note)


@exceptions_router.post("/{case_id}/assign")
def assign(case_id: CaseId, body: AssignIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    return app.exceptions.assign(case_id, body.assignee, who.name)


# -- proposals -----------------------------------------------------------------------------------------

@proposals_router.get("")
def list_proposals(app: EngineApp, who: Reader, status: ProposalStatus | None = None, order_id: Id = None,
                   case_id: Id = None, thread_id: Annotated[str | None, Query(max_length=128)] = None,
                   limit: Limit = 100) -> list[dict[str, Any]]:
    return app.exceptions.proposals(status=status.value if status else None, order_id=order_id, case_id=case_id,
                                    thread_id=thread_id, limit=limit)


@proposals_router.get("/{proposal_id}")
def get_proposal(proposal_id: ProposalId, app: EngineApp, who: Reader) -> dict[str, Any]:
    return app.exceptions.proposal(proposal_id)


@proposals_router.post("/{proposal_id}/approve")
def approve(proposal_id: ProposalId, body: NoteIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    """Run the proposed action now (re-validated); asked again by the same person, answers the recorded outcome."""
    return app.exceptions.decide(proposal_id, "approve", who.name, note=body.note)


@proposals_router.post("/{proposal_id}/edit")
def edit(proposal_id: ProposalId, body: EditIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    """Approve with the person's parameters instead of the proposed ones."""
    return app.exceptions.decide(proposal_id, "edit", who.name, params=body.params, note=body.note)


@proposals_router.post("/{proposal_id}/reject")
def reject(proposal_id: ProposalId, body: NoteIn, app: EngineApp, who: Actor_) -> dict[str, Any]:
    return app.exceptions.decide(proposal_id, "reject", who.name, note=body.note)


# -- audit ---------------------------------------------------------------------------------------------

@audit_router.get("/audit")
def audit(app: EngineApp, who: Reader, entity: Annotated[str | None, Query(max_length=32)] = None, entity_id: Id = None,
          actor: Name = None, limit: Limit = 100) -> list[dict[str, Any]]:
    """Who decided what: exception, proposal, order and policy changes, newest first."""
    return app.exceptions.audit(entity=entity, entity_id=entity_id, actor=actor, limit=limit)


# -- signals from other systems ------------------------------------------------------------------------

@signals_router.post("/orders/{order_id}/payment-signal")
def payment_signal(order_id: OrderId, body: PaymentSignalIn, app: EngineApp,
                   who: Annotated[Principal, Depends(requires(Permission.ORDERS_PLACE))]) -> dict[str, Any]:
    """The payment gateway or fraud screen: hold the order, or release a payment hold whose cause cleared.

    Ops, or the integration of the channel the order came through."""
    if not who.sees_every_order:
        if who.role is not Role.INTEGRATION:
            raise e.Forbidden("not permitted")
        check_order(app, who, order_id)
    return app.exceptions.record_payment(order_id, body.status, body.fraud_score, body.reference,
                                         body.detail, instrument=body.instrument)


@signals_router.post("/orders/{order_id}/short-pick")
def short_pick(order_id: OrderId, body: ShortPickIn, app: EngineApp,
               who: Annotated[Principal, Depends(requires(Permission.FULFILMENT_REPORT))]) -> dict[str, Any]:
    """The warehouse could not pick a line: written off, then re-routed within policy or queued.

    Ops, or the warehouse integration of that node."""
    if who.role is Role.INTEGRATION and who.scope_value != body.node:
        raise e.Forbidden("not permitted")
    return app.exceptions.record_short_pick(order_id, body.node, body.line_no, body.short, body.reference)


@signals_router.post("/carriers/{carrier}/incidents", tags=["carriers"])
def carrier_incident(carrier: Annotated[str, Path(max_length=32, pattern=PRINTABLE)], body: CarrierIncidentIn,
                     app: EngineApp,
                     who: Annotated[Principal, Depends(requires(Permission.CARRIER_REPORT))]) -> dict[str, Any]:
    """An outage, delay or all-clear; orders whose promise is at risk swap carrier within policy or queue.

    Ops, or that carrier's integration."""
    if who.role is Role.INTEGRATION and who.scope_value != carrier:
        raise e.Forbidden("not permitted")
    return app.exceptions.carrier_incident(carrier, body.kind, body.reason, body.delay_days,
                                           tuple(body.dest_prefixes))
