"""Returns: ask, decide, receive, grade, read, and the return-rate report.

Customers and buyers ask for returns of their own orders and read their own returns; ops authorise, refuse
and read every return; a warehouse (an integration bound to its node, or ops) reports receipts and grades.
A grade is either given, or assessed from the inspection checklist and the inspector's note (the model reads
the note into facts; code decides the grade, see agents/returns/grader.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from agents.returns.schema import Checklist
from api.http.auth import current_principal, forbidden, order_for, requires
from api.http.deps import engine_app
from engine.bootstrap import App
from engine.domain import errors as e
from engine.domain.access import Permission, Principal, Role, may_see_order
from engine.domain.returns import Disposition, Grade, ReturnReason, RmaStatus

router = APIRouter(tags=["returns"])
EngineApp = Annotated[App, Depends(engine_app)]
Caller = Annotated[Principal, Depends(current_principal)]
Reader = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]
Manager = Annotated[Principal, Depends(requires(Permission.ORDERS_MANAGE))]
Warehouse = Annotated[Principal, Depends(requires(Permission.FULFILMENT_REPORT))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
RmaId = Annotated[str, Field(max_length=32)]

ReasonName = Literal[tuple(r.value for r in ReturnReason)]  # type: ignore[valid-type]
GradeName = Literal[tuple(g.value for g in Grade)]  # type: ignore[valid-type]
DispositionName = Literal[tuple(d.value for d in Disposition)]  # type: ignore[valid-type]
StatusName = Literal[tuple(s.value for s in RmaStatus)]  # type: ignore[valid-type]


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: StrictInt = Field(ge=1, le=10_000)
    quantity: StrictInt = Field(ge=1, le=1_000_000)
    reason: ReasonName | None = Field(default=None, description="omit to read it from `reason_text`")
    exchange_sku: str | None = Field(default=None, max_length=64,
                                     description="exchanges only: another size or colour (same category, same "
                                                 "price) to send instead; omit for the same SKU")


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[ReturnLineIn] | None = Field(default=None, min_length=1, max_length=200,
                                             description="omit to return every shipped unit not already on a return")
    reason_text: str = Field(default="", max_length=500, description="the customer's words")
    resolution: Literal["refund", "exchange"] = "refund"
    from_postal: str = Field(default="", max_length=16, description="where the parcel comes from, when not the "
                                                                     "order's ship-to")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str = Field(max_length=32)
    reference: str = Field(min_length=1, max_length=128, description="the receipt or scan id: a receipt reported "
                                                                     "twice is counted once")
    quantities: dict[str, StrictInt] | None = Field(default=None, max_length=200,
                                                    description="{line_no: units}; omit when everything came")
    close_short: StrictBool = Field(default=False, description="nothing more is coming: grade what arrived")


class Inspection(Checklist):
    """The checklist the inspector ticked (each true, false or left out) and their own words."""

    note: str = Field(default="", max_length=2000, description="the inspector's own words")


class GradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: StrictInt = Field(ge=1, le=10_000)
    reference: str = Field(min_length=1, max_length=128, description="the inspection id: reported twice, "
                                                                     "counted once")
    grade: GradeName | None = Field(default=None, description="the grade, or leave it out and send `inspection`")
    inspection: Inspection | None = None
    disposition: DispositionName | None = Field(default=None, description="omit for the disposition rules")
    vendor_returnable: StrictBool = True


def _mine(app: App, who: Principal, rma_id: str) -> dict[str, Any]:
    """The return, if the caller may see it; a stranger gets the same answer whether it exists or not."""
    try:
        rma = app.returns.get(rma_id)
    except e.UnknownReturn:
        if who.sees_every_order:
            raise
        raise forbidden() from None
    if not who.sees_every_order and not may_see_order(who, customer_id=rma["customer_id"],
                                                      account_code=rma["account_code"], channel=rma["channel"]):
        raise forbidden()
    return _customer_view(who, rma)


def _customer_view(who: Principal, rma: dict[str, Any]) -> dict[str, Any]:
    """The score, its evidence and the restock plan are for the person who decides, not the customer."""
    if who.sees_every_order:
        return rma
    return {k: v for k, v in rma.items() if k not in ("abuse_score", "abuse_evidence", "restock_plan", "case_id",
                                                       "review")}


@router.post("/orders/{order_id}/returns", status_code=status.HTTP_201_CREATED)
def request_return(order_id: str, body: ReturnIn, app: EngineApp, who: Caller,
                   idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Ask to send lines of an order back. Eligible lines become a return (refused lines are named with the
    reason); within policy it is authorised at once and carries its label, otherwise a person decides."""
    if not who.can(Permission.ORDERS_MANAGE) and who.role not in (Role.CUSTOMER, Role.BUYER):
        raise forbidden()
    with app.uow(readonly=True) as uow:
        order_for(uow, who, order_id)
    lines = None if body.lines is None else [ln.model_dump(exclude_none=True) for ln in body.lines]
    key = f"return:{who.principal_id}:{idempotency_key}" if idempotency_key else None
    result = app.returns.request(order_id, lines, body.reason_text, requested_by=who.actor,
                                 resolution=body.resolution, from_postal=body.from_postal, idempotency_key=key)
    return _customer_view(who, result)


@router.get("/orders/{order_id}/returns/options")
def return_options(order_id: str, app: EngineApp, who: Caller) -> dict[str, Any]:
    """What a returns form offers for the order: each line with units that can still come back, the other sizes
    and colours an exchange may send instead (`exchange_sku`), and the reasons."""
    if not who.can(Permission.ORDERS_MANAGE) and who.role not in (Role.CUSTOMER, Role.BUYER):
        raise forbidden()
    with app.uow(readonly=True) as uow:
        order_for(uow, who, order_id)
    return app.returns.options(order_id)


@router.get("/returns")
def list_returns(app: EngineApp, who: Caller, status_: Annotated[list[StatusName] | None, Query(alias="status")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Returns, newest first: every return for ops, the caller's own for a customer, the account's for a buyer."""
    if who.sees_every_order:
        found = app.returns.search(tuple(status_ or ()), limit=limit)
    elif who.role is Role.CUSTOMER and who.customer_id:
        found = [_customer_view(who, r) for r in app.returns.search(tuple(status_ or ()), customer_id=who.customer_id,
                                                                     limit=limit)]
    elif who.role is Role.BUYER and who.account_code:  # a buyer sees the account's returns
        found = [_customer_view(who, r) for r in app.returns.search(tuple(status_ or ()),
                                                                     account_code=who.account_code, limit=limit)]
    else:
        raise forbidden()
    return {"returns": found}


@router.get("/returns/analytics")
def analytics(app: EngineApp, who: Reader, days: Annotated[int, Query(ge=1, le=730)] = 90) -> dict[str, Any]:
    """Return rate (units returned / units shipped) by SKU, channel and customer segment, and returns by
    reason, over the last `days` days."""
    return app.returns.analytics(days)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    settings: dict[str, Any] = Field(min_length=1, max_length=20,
                                     description="the settings to change, e.g. {\"default_window_days\": 45}")
    note: str = Field(default="", max_length=500)


@router.get("/returns/policy")
def policy(app: EngineApp, who: Reader) -> dict[str, Any]:
    """The return policy in force: windows per channel and category, final sale, B2B terms and fees."""
    return app.returns.policy()


@router.put("/returns/policy")
def set_policy(body: PolicyIn, app: EngineApp, who: Annotated[Principal, Depends(requires(Permission.POLICY_WRITE))]
               ) -> dict[str, Any]:
    """A new version of the return policy (audited; the previous versions are kept)."""
    return app.returns.set_policy(body.settings, who.name, body.note)


@router.get("/returns/{rma_id}")
def get_return(rma_id: str, app: EngineApp, who: Caller) -> dict[str, Any]:
    return _mine(app, who, rma_id)


@router.post("/returns/{rma_id}/authorise")
def authorise(rma_id: str, body: DecisionIn, app: EngineApp, who: Manager) -> dict[str, Any]:
    """A person authorises a return the engine held back (its case closes); the label is issued."""
    return app.returns.authorise(rma_id, who.name, body.reason)


@router.post("/returns/{rma_id}/refuse")
def refuse(rma_id: str, body: DecisionIn, app: EngineApp, who: Manager) -> dict[str, Any]:
    """A person refuses a return, with the reason the customer reads."""
    return app.returns.refuse(rma_id, who.name, body.reason)


@router.post("/returns/{rma_id}/cancel")
def cancel(rma_id: str, body: DecisionIn, app: EngineApp, who: Caller) -> dict[str, Any]:
    """The customer (or ops) withdraws a return before the parcel moves."""
    _mine(app, who, rma_id)
    if not who.can(Permission.ORDERS_MANAGE) and who.role not in (Role.CUSTOMER, Role.BUYER):
        raise forbidden()
    return _customer_view(who, app.returns.cancel(rma_id, who.actor, body.reason))


@router.post("/returns/{rma_id}/receipts")
def receive(rma_id: str, body: ReceiptIn, app: EngineApp, who: Warehouse) -> dict[str, Any]:
    """The parcel (or part of it) arrived. A warehouse integration reports only for its own node."""
    if who.role is Role.INTEGRATION and who.scope_value != body.node:
        raise forbidden()
    quantities = None
    if body.quantities is not None:
        quantities = {}
        for k, v in body.quantities.items():
            if not k.isdigit() or len(k) > 5:
                raise e.ValidationFailed("quantities are keyed by line number", problems=[e.Problem(
                    "return.line_invalid", f"quantities.{k[:10]}", "not a line number",
                    "send {\"1\": 2} for two units of line 1")])
            quantities[int(k)] = v
    return app.returns.receive(rma_id, body.node, body.reference, quantities, close_short=body.close_short)


@router.post("/returns/{rma_id}/grades")
def grade(rma_id: str, body: GradeIn, request: Request, app: EngineApp, who: Warehouse) -> dict[str, Any]:
    """The inspector's grade of a received line: sellable units go back into stock at once, and when every
    line is through, the refund (or the replacement order) follows."""
    rma = app.returns.get(rma_id)
    if who.role is Role.INTEGRATION and who.scope_value != rma["restock_node"]:
        raise forbidden()
    if (body.grade is None) == (body.inspection is None):
        raise e.ValidationFailed("send a grade or an inspection, not both and not neither", problems=[e.Problem(
            "return.grade_missing", "grade", "one of grade and inspection is needed",
            "send grade (new, like_new, ...) or inspection (checklist and note)")])
    assessment = None
    note = ""
    chosen = body.grade
    if body.inspection is not None:
        from agents.returns.grader import ConditionGrader
        from api.http.ops_chat import assistant_model

        grader = getattr(request.app.state, "condition_grader", None)
        if grader is None:
            grader = ConditionGrader(assistant_model(request, "returns_model"))
            request.app.state.condition_grader = grader
        ticks = body.inspection.model_dump(exclude={"note"})
        assessment = grader.assess(Checklist(**ticks) if any(v is not None for v in ticks.values()) else None,
                                   body.inspection.note)
        chosen, note = assessment.grade.value, assessment.note(body.inspection.note)
    out = app.returns.grade(rma_id, body.line_no, str(chosen), body.reference, note=note,
                            disposition=body.disposition, vendor_returnable=body.vendor_returnable, actor=who.name)
    if assessment is not None:
        out["assessment"] = assessment.to_dict()
    return out
