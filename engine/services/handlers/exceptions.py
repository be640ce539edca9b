"""Handlers for exception cases, order amendments, payment and carrier signals, short picks and proposals.

Deciding *whether* to open a case or act automatically is the exception desk's job
(`engine.services.exceptions`); these handlers record, validate and change state, one unit of work each,
and write every decision to the audit trail.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.errors import Problem
from engine.domain.events import (
    CarrierIncidentRecorded,
    ExceptionClosed,
    ExceptionOpened,
    OrderAmended,
    PaymentSignalRecorded,
    ProposalCreated,
    ProposalDecided,
)
from engine.domain.exceptions import (
    CLOSED,
    Action,
    CaseStatus,
    ExceptionCase,
    ExceptionType,
    Proposal,
    ProposalStatus,
    Recommendation,
    ResolutionPolicy,
    priority_score,
)
from engine.domain.inventory import MovementKind, ReservationStatus
from engine.domain.orders import Address, Order, OrderStatus
from engine.domain.routing import AuditEntry
from engine.services.handlers.checks import is_lookup_key, new_id, raise_if_any, sku_problem, text_problem
from engine.services.handlers.inventory import _move, release_reservations
from engine.services.handlers.orders import _address_problems, _order, _transition
from engine.services.unit_of_work import AbstractUnitOfWork

DOCUMENT_CHANNELS = {"email": "email", "x12": "b2b_edi", "edifact": "b2b_edi"}
PAYMENT_STATUSES = ("authorized", "declined", "fraud_review", "cleared")
INCIDENT_KINDS = ("outage", "delay", "cleared")
DECISIONS = ("approve", "edit", "reject")
MAX_JSON = 20_000
# Orders that may still have their ship-to or a line changed: nothing reserved for them yet.
AMENDABLE = (OrderStatus.RECEIVED, OrderStatus.VALIDATED)
PAUSABLE = (OrderStatus.RECEIVED, OrderStatus.VALIDATED, OrderStatus.ALLOCATED, OrderStatus.RELEASED)


def policy(uow: AbstractUnitOfWork) -> ResolutionPolicy:
    """The active resolution policy, or the defaults until someone sets one."""
    return uow.exceptions.active_policy() or ResolutionPolicy()


def audit(uow: AbstractUnitOfWork, actor: str, what: str, entity: str, entity_id: str, **detail: Any) -> None:
    uow.routing.add_audit(AuditEntry(at=uow.now(), actor=actor, action=what, entity=entity, entity_id=entity_id,
                                     detail=json.loads(json.dumps(detail, default=str))))


def _json_problem(field: str, value: object) -> Problem | None:
    if not isinstance(value, dict):
        return Problem("validation.type", field, f"{field} must be an object", "send a JSON object")
    try:
        size = len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return Problem("validation.type", field, f"{field} is not plain JSON", "send strings, numbers and lists")
    if size > MAX_JSON:
        return Problem("validation.too_long", field, f"{field} is {size} characters", f"keep it under {MAX_JSON}")
    return None


def _actor_problem(actor: object) -> Problem | None:
    return text_problem("actor", actor, max_length=100)


def _case(uow: AbstractUnitOfWork, case_id: object) -> ExceptionCase:
    case = uow.exceptions.get_case(case_id, for_update=True) if isinstance(case_id, str) else None
    if case is None:
        raise e.UnknownException(f"exception case {case_id!r} does not exist", case_id=str(case_id))
    return case


def _require_open(case: ExceptionCase) -> None:
    if case.status in CLOSED:
        raise e.CaseClosed(f"case {case.case_id} is already {case.status.value}", case_id=case.case_id,
                           status=case.status.value)


# -- cases -----------------------------------------------------------------------------------------

def open_exception(cmd: c.OpenException, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems: list[Problem] = []
    try:
        type_ = ExceptionType(cmd.type)
    except ValueError:
        type_ = None
        problems.append(Problem("exception.type", "type", f"unknown exception type {cmd.type!r}",
                                f"use one of {', '.join(t.value for t in ExceptionType)}"))
    problems += [p for p in (text_problem("subtype", cmd.subtype, max_length=48),
                             text_problem("reason", cmd.reason, max_length=1000), _actor_problem(cmd.actor),
                             _json_problem("evidence", cmd.evidence),
                             _json_problem("recommendation", cmd.recommendation)) if p]
    recommendation: Recommendation | None = None
    if isinstance(cmd.recommendation, dict):
        try:
            recommendation = Recommendation.from_dict(cmd.recommendation)
        except (KeyError, ValueError, TypeError):
            problems.append(Problem("exception.recommendation", "recommendation",
                                    "a recommendation needs an action from the action list, a summary and an "
                                    "expected effect", f"actions: {', '.join(a.value for a in Action)}"))
    if (cmd.order_id is None) == (cmd.document_id is None):
        problems.append(Problem("validation.required", "order_id", "a case is about one order or one document",
                                "send order_id or document_id"))
    raise_if_any(problems)
    assert type_ is not None and recommendation is not None
    order: Order | None = None
    channel = ""
    if cmd.order_id is not None:
        order = _order(uow, cmd.order_id)
        channel = order.channel
    else:
        document = uow.intake.get(str(cmd.document_id))
        if document is None:
            raise e.NotFound(f"intake document {cmd.document_id!r} does not exist",
                             document_id=str(cmd.document_id))
        channel = DOCUMENT_CHANNELS.get(document.source, document.source)[:32]
    existing = uow.exceptions.open_case(cmd.order_id, cmd.document_id, type_.value, cmd.subtype)
    if existing is not None:  # the same problem seen again: one case, refreshed evidence
        existing.evidence = {**existing.evidence, **cmd.evidence}
        existing.updated_at = uow.now()
        uow.exceptions.save_case(existing)
        return {"case_id": existing.case_id, "status": existing.status.value, "duplicate": True,
                "order_status": order.status.value if order else None}
    now = uow.now()
    rules = policy(uow)
    value = order.total if order else Decimal("0")
    deadline = cmd.deadline or (order.requested_delivery if order else None)
    blocking = cmd.blocking and order is not None and _pausable(order)
    case = ExceptionCase(
        case_id="", type=type_, subtype=cmd.subtype.strip(), status=CaseStatus.OPEN, reason=cmd.reason.strip(),
        evidence=dict(cmd.evidence), recommendation=recommendation, created_at=now,
        sla_due_at=now + rules.sla_for(type_), order_id=order.order_id if order else None,
        document_id=cmd.document_id if order is None else None, channel=channel,
        value=value, deadline=deadline, priority=priority_score(value, deadline, now, blocking), blocking=blocking,
        updated_at=now)
    case_id = uow.exceptions.add_case(case)
    order_status = None
    if order is not None:
        if blocking and order.status not in (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION):
            target = OrderStatus.ON_HOLD if cmd.hold and order.status is not OrderStatus.PARTIALLY_SHIPPED \
                else OrderStatus.EXCEPTION
            _transition(uow, order, target, f"{type_.value}: {case.reason}"[:500])
            uow.orders.save(order)
        order_status = order.status.value
    audit(uow, cmd.actor, "exception.opened", "exception", case_id, type=type_.value, subtype=case.subtype,
          reason=case.reason, order_id=case.order_id, document_id=case.document_id,
          recommended=recommendation.action.value)
    uow.emit(ExceptionOpened(case_id=case_id, order_id=case.order_id, type=type_.value, subtype=case.subtype,
                             reason=case.reason, recommended_action=recommendation.action.value,
                             priority=case.priority, blocking=blocking, occurred_at=now))
    return {"case_id": case_id, "status": case.status.value, "duplicate": False, "order_status": order_status,
            "priority": case.priority, "blocking": blocking}


def _pausable(order: Order) -> bool:
    if order.status in (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION):
        return True
    return order.status in PAUSABLE or order.status is OrderStatus.PARTIALLY_SHIPPED


def close_exception(cmd: c.CloseException, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("note", cmd.note, max_length=1000, required=False),
                            _json_problem("params", cmd.params), _json_problem("result", cmd.result)) if p]
    try:
        status = CaseStatus(cmd.status)
        if status not in CLOSED:
            raise ValueError(status)
    except ValueError:
        status = None
        problems.append(Problem("exception.status", "status", f"{cmd.status!r} does not close a case",
                                f"use one of {', '.join(sorted(s.value for s in CLOSED))}"))
    try:
        action = Action(cmd.action)
    except ValueError:
        action = None
        problems.append(Problem("exception.action", "action", f"unknown action {cmd.action!r}",
                                f"use one of {', '.join(a.value for a in Action)}"))
    if cmd.undo is not None and (p := _json_problem("undo", cmd.undo)):
        problems.append(p)
    raise_if_any(problems)
    assert status is not None and action is not None
    case = _case(uow, cmd.case_id)
    _require_open(case)
    now = uow.now()
    case.status = status
    case.resolution = {"action": action.value, "params": dict(cmd.params), "note": cmd.note,
                       "result": dict(cmd.result), "undo": cmd.undo, "reversible": cmd.undo is not None}
    case.resolved_by, case.resolved_at, case.updated_at = cmd.actor, now, now
    uow.exceptions.save_case(case)
    audit(uow, cmd.actor, f"exception.{status.value}", "exception", case.case_id, action=action.value,
          params=dict(cmd.params), note=cmd.note, order_id=case.order_id)
    uow.emit(ExceptionClosed(case_id=case.case_id, order_id=case.order_id, status=status.value,
                             action=action.value, actor=cmd.actor, note=cmd.note, occurred_at=now))
    return {"case_id": case.case_id, "status": status.value, "action": action.value}


def assign_exception(cmd: c.AssignException, uow: AbstractUnitOfWork) -> dict[str, Any]:
    raise_if_any([p for p in (_actor_problem(cmd.actor),
                              text_problem("assignee", cmd.assignee or "", max_length=100, required=False)) if p])
    case = _case(uow, cmd.case_id)
    _require_open(case)
    before = case.assignee
    case.assignee = cmd.assignee.strip() if cmd.assignee else None
    case.updated_at = uow.now()
    uow.exceptions.save_case(case)
    audit(uow, cmd.actor, "exception.assigned", "exception", case.case_id, before=before, after=case.assignee)
    return {"case_id": case.case_id, "assignee": case.assignee}


def annotate_exception(cmd: c.AnnotateException, uow: AbstractUnitOfWork) -> dict[str, Any]:
    raise_if_any([p for p in (_actor_problem(cmd.actor), text_problem("summary", cmd.summary, max_length=4000))
                  if p])
    case = _case(uow, cmd.case_id)
    case.summary = cmd.summary.strip()
    case.updated_at = uow.now()
    uow.exceptions.save_case(case)
    audit(uow, cmd.actor, "exception.summarised", "exception", case.case_id, length=len(case.summary))
    return {"case_id": case.case_id, "summary": case.summary}


def set_resolution_policy(cmd: c.SetResolutionPolicy, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("note", cmd.note, max_length=500, required=False),
                            _json_problem("settings", cmd.settings)) if p]
    raise_if_any(problems)
    current = uow.exceptions.active_policy()
    base = current.to_dict() if current else ResolutionPolicy().to_dict()
    base.pop("version")
    settings = {k: v for k, v in cmd.settings.items() if k != "version"}
    try:
        merged = ResolutionPolicy.from_dict({**base, **settings})
    except ValueError as exc:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else "settings"
        raise e.ValidationFailed(f"the resolution policy was refused: {exc}", problems=[
            Problem("exception.policy", f"settings.{field}" if field != "settings" else "settings", str(exc),
                    "fix the setting; the previous policy stays active")]) from None
    version = (current.version if current else 0) + 1
    new = ResolutionPolicy.from_dict({**merged.to_dict(), "version": version})
    uow.exceptions.add_policy(new, cmd.actor.strip(), cmd.note, uow.now())
    audit(uow, cmd.actor, "resolution_policy.set", "resolution_policy", str(version), changed=sorted(settings),
          note=cmd.note)
    return {"version": version, "policy": new.to_dict()}


# -- order amendments ------------------------------------------------------------------------------

def _amendable(order: Order, what: str) -> None:
    current = order.paused_from if order.status in (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION) else order.status
    if current not in AMENDABLE or any(ln.allocated or ln.shipped for ln in order.lines):
        raise e.ActionNotAllowed(
            f"order {order.order_id} is {order.status.value}"
            f"{f' (paused from {order.paused_from.value})' if order.paused_from else ''}: its {what} can only be "
            "changed before stock is reserved; re-route it first", order_id=order.order_id,
            status=order.status.value)


def _amended(uow: AbstractUnitOfWork, order: Order, change: str, before: dict[str, Any], after: dict[str, Any],
             actor: str, reason: str) -> None:
    uow.orders.save(order, amended=True)
    audit(uow, actor, f"order.{change}", "order", order.order_id, before=before, after=after, reason=reason)
    uow.emit(OrderAmended(order_id=order.order_id, change=change, before=before, after=after, actor=actor,
                          reason=reason, occurred_at=uow.now()))


def correct_order_address(cmd: c.CorrectOrderAddress, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("reason", cmd.reason, max_length=500)) if p]
    problems += _address_problems(cmd.ship_to)
    raise_if_any(problems)
    order = _order(uow, cmd.order_id)
    _amendable(order, "address")
    before = order.ship_to.to_dict()
    merged = {**before, **{k: str(v).strip() for k, v in cmd.ship_to.items()}}
    order.ship_to = Address.from_dict(merged)
    _amended(uow, order, "address_corrected", before, order.ship_to.to_dict(), cmd.actor, cmd.reason)
    return {"order_id": order.order_id, "status": order.status.value, "ship_to": order.ship_to.to_dict(),
            "undo": {"ship_to": before}}


def substitute_order_line(cmd: c.SubstituteOrderLine, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("reason", cmd.reason, max_length=500),
                            sku_problem(uow, "sku", cmd.sku)) if p]
    raise_if_any(problems)
    order = _order(uow, cmd.order_id)
    _amendable(order, "lines")
    line = _line(order, cmd.line_no)
    before = {"line_no": line.line_no, "sku": line.sku}
    if line.sku == cmd.sku:
        raise e.ActionNotAllowed(f"line {line.line_no} already is {cmd.sku}", order_id=order.order_id)
    line.sku = cmd.sku
    _amended(uow, order, "line_substituted", before, {"line_no": line.line_no, "sku": cmd.sku}, cmd.actor,
             cmd.reason)
    return {"order_id": order.order_id, "line_no": line.line_no, "sku": line.sku, "undo": before}


def reprice_order_line(cmd: c.RepriceOrderLine, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("reason", cmd.reason, max_length=500)) if p]
    try:
        price = Decimal(str(cmd.unit_price))
        if not price.is_finite() or price < 0 or price > Decimal("1e9"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        price = None
        problems.append(Problem("pricing.invalid", "unit_price", f"{cmd.unit_price!r} is not a non-negative amount",
                                "send a price such as 12.50"))
    raise_if_any(problems)
    assert price is not None
    order = _order(uow, cmd.order_id)
    _amendable(order, "prices")
    line = _line(order, cmd.line_no)
    before = {"line_no": line.line_no, "unit_price": str(line.unit_price)}
    line.unit_price = price
    _amended(uow, order, "line_repriced", before, {"line_no": line.line_no, "unit_price": str(price)}, cmd.actor,
             cmd.reason)
    return {"order_id": order.order_id, "line_no": line.line_no, "unit_price": str(price), "undo": before}


def _line(order: Order, line_no: object) -> Any:
    if isinstance(line_no, bool) or not isinstance(line_no, int):
        raise e.ValidationFailed("line_no must be a whole number", problems=[
            Problem("validation.type", "line_no", "line_no must be a whole number", "use the order's line numbers")])
    try:
        return order.line(line_no)
    except KeyError:
        raise e.ValidationFailed(f"order {order.order_id} has no line {line_no}", problems=[
            Problem("order.unknown_line", "line_no", f"order {order.order_id} has no line {line_no}",
                    f"use one of {[ln.line_no for ln in order.lines]}")]) from None


# -- signals from payment, warehouse and carriers ---------------------------------------------------

def record_payment_signal(cmd: c.RecordPaymentSignal, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("reference", cmd.reference, max_length=128, required=False),
                            text_problem("instrument", cmd.instrument, max_length=128, required=False),
                            text_problem("detail", cmd.detail, max_length=500, required=False)) if p]
    if cmd.status not in PAYMENT_STATUSES:
        problems.append(Problem("payment.status", "status", f"unknown payment status {cmd.status!r}",
                                f"use one of {', '.join(PAYMENT_STATUSES)}"))
    score = cmd.fraud_score
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) \
            or not 0 <= score <= 1:
        problems.append(Problem("payment.fraud_score", "fraud_score", f"fraud_score must be 0-1, got {score!r}",
                                "send the screen's score as a fraction"))
    raise_if_any(problems)
    order = _order(uow, cmd.order_id)
    uow.exceptions.add_payment_signal(order.order_id, cmd.status, float(score), cmd.reference, cmd.detail, uow.now(),
                                      instrument=cmd.instrument.strip())
    uow.emit(PaymentSignalRecorded(order_id=order.order_id, status=cmd.status, fraud_score=float(score),
                                   occurred_at=uow.now()))
    return {"order_id": order.order_id, "status": cmd.status, "fraud_score": float(score),
            "order_status": order.status.value}


def record_short_pick(cmd: c.RecordShortPick, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("reference", cmd.reference, max_length=128, required=False),) if p]
    if isinstance(cmd.short, bool) or not isinstance(cmd.short, int) or cmd.short <= 0:
        problems.append(Problem(e.InvalidQuantity.code, "short", f"short must be a positive whole number, "
                                f"got {cmd.short!r}", "send how many units could not be picked"))
    if not is_lookup_key(cmd.node):
        problems.append(Problem(e.UnknownNode.code, "node", f"node {cmd.node!r} is not a node code", "send the node"))
    raise_if_any(problems)
    order = _order(uow, cmd.order_id)
    line = _line(order, cmd.line_no)
    live = [r for r in uow.inventory.reservations(order_id=order.order_id)
            if r.node == cmd.node and r.line_no == line.line_no]
    held = sum(r.outstanding for r in live)
    if order.status not in (OrderStatus.ALLOCATED, OrderStatus.RELEASED, OrderStatus.PARTIALLY_SHIPPED) \
            or held < cmd.short:
        raise e.ActionNotAllowed(
            f"order {order.order_id} line {line.line_no} has {held} units reserved at {cmd.node} "
            f"({order.status.value}); a short pick of {cmd.short} does not fit", order_id=order.order_id,
            problems=[Problem("inventory.short_pick", "short", f"{held} reserved at {cmd.node}",
                              "record short picks against the node and line that were picked")])
    # The shelf did not have them: give back the line's reservation there, then write the units off.
    release_reservations(uow, live, ReservationStatus.RELEASED, f"short pick at {cmd.node}")
    line.allocated = max(0, line.allocated - held)
    balance = uow.inventory.get_balance(line.sku, cmd.node)
    write_off = min(cmd.short, (balance.on_hand - balance.reserved) if balance else 0)
    if write_off > 0:
        _move(uow, line.sku, cmd.node, MovementKind.ADJUSTMENT, -write_off, reference=cmd.reference or "short-pick",
              reason=f"short pick for order {order.order_id} line {line.line_no}")
    reason = f"inventory: short pick of {cmd.short} x {line.sku} at {cmd.node}"
    _transition(uow, order, OrderStatus.EXCEPTION, reason)
    uow.orders.save(order)
    audit(uow, "wms", "order.short_pick", "order", order.order_id, node=cmd.node, line_no=line.line_no,
          sku=line.sku, short=cmd.short, released=held, written_off=write_off)
    return {"order_id": order.order_id, "status": order.status.value, "sku": line.sku, "released": held,
            "written_off": write_off}


def record_carrier_incident(cmd: c.RecordCarrierIncident, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("reason", cmd.reason, max_length=500),) if p]
    if cmd.kind not in INCIDENT_KINDS:
        problems.append(Problem("carrier.incident_kind", "kind", f"unknown incident kind {cmd.kind!r}",
                                f"use one of {', '.join(INCIDENT_KINDS)}"))
    if isinstance(cmd.delay_days, bool) or not isinstance(cmd.delay_days, int) or not 0 <= cmd.delay_days <= 30:
        problems.append(Problem("carrier.delay_days", "delay_days", "delay_days must be 0-30", "send whole days"))
    bad = [x for x in cmd.dest_prefixes if not (isinstance(x, str) and len(x) == 3 and x.isdigit())]
    if bad or len(cmd.dest_prefixes) > 1000:
        problems.append(Problem("carrier.dest_prefixes", "dest_prefixes", f"not ZIP3 prefixes: {bad[:5]}",
                                "send three-digit ZIP prefixes, or none for everywhere"))
    if not (is_lookup_key(cmd.carrier) and uow.master.carrier_exists(cmd.carrier)):
        problems.append(Problem("carrier.unknown", "carrier", f"carrier {cmd.carrier!r} does not exist",
                                "use a configured carrier code"))
    raise_if_any(problems)
    now = uow.now()
    if cmd.kind == "cleared":
        ended = uow.exceptions.end_incidents(cmd.carrier, now)
        result: dict[str, Any] = {"carrier": cmd.carrier, "kind": "cleared", "ended": ended}
    else:
        incident = uow.exceptions.add_incident(cmd.carrier, cmd.kind, cmd.delay_days, cmd.dest_prefixes,
                                               cmd.reason, now)
        result = {"carrier": cmd.carrier, "kind": cmd.kind, "incident_id": incident}
    audit(uow, "carrier", f"carrier.{cmd.kind}", "carrier", cmd.carrier, reason=cmd.reason,
          delay_days=cmd.delay_days, dest_prefixes=list(cmd.dest_prefixes))
    uow.emit(CarrierIncidentRecorded(carrier=cmd.carrier, kind=cmd.kind, delay_days=cmd.delay_days,
                                     reason=cmd.reason, dest_prefixes=tuple(cmd.dest_prefixes), occurred_at=now))
    return result


# -- proposals -------------------------------------------------------------------------------------

def create_proposal(cmd: c.CreateProposal, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("rationale", cmd.rationale, max_length=2000),
                            text_problem("proposed_by", cmd.proposed_by, max_length=100),
                            text_problem("thread_id", cmd.thread_id or "", max_length=100, required=False),
                            _json_problem("params", cmd.params)) if p]
    try:
        action = Action(cmd.action)
    except ValueError:
        action = None
        problems.append(Problem("proposal.action", "action", f"unknown action {cmd.action!r}",
                                f"use one of {', '.join(a.value for a in Action)}"))
    if action is Action.CORRECT_ADDRESS and isinstance(cmd.params, dict) and "ship_to" in cmd.params:
        # A malformed address is refused now; none at all is fine (the person supplies it with an edit).
        problems += [dataclasses.replace(p, field=f"params.{p.field}") for p in _address_problems(
            cmd.params["ship_to"])]
    raise_if_any(problems)
    assert action is not None
    order = _order(uow, cmd.order_id) if cmd.order_id is not None else None
    case = _case(uow, cmd.case_id) if cmd.case_id is not None else None
    if case is not None:
        _require_open(case)
    if order is None and case is not None and case.order_id is not None:
        order = _order(uow, case.order_id)
    now = uow.now()
    proposal = Proposal(proposal_id=new_id(), action=action, params=dict(cmd.params), rationale=cmd.rationale,
                        proposed_by=cmd.proposed_by, created_at=now, order_id=order.order_id if order else None,
                        case_id=case.case_id if case else None, thread_id=cmd.thread_id)
    uow.exceptions.add_proposal(proposal)
    audit(uow, cmd.proposed_by, "proposal.created", "proposal", proposal.proposal_id, action=action.value,
          params=proposal.params, order_id=proposal.order_id, case_id=proposal.case_id, rationale=cmd.rationale)
    uow.emit(ProposalCreated(proposal_id=proposal.proposal_id, action=action.value, order_id=proposal.order_id,
                             case_id=proposal.case_id, proposed_by=cmd.proposed_by, occurred_at=now))
    return {"proposal_id": proposal.proposal_id, "status": proposal.status.value, "action": action.value,
            "params": proposal.params, "order_id": proposal.order_id, "case_id": proposal.case_id}


def decide_proposal(cmd: c.DecideProposal, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (_actor_problem(cmd.actor), text_problem("note", cmd.note, max_length=1000,
                                                                     required=False)) if p]
    if cmd.decision not in DECISIONS:
        problems.append(Problem("proposal.decision", "decision", f"unknown decision {cmd.decision!r}",
                                "use approve, edit or reject"))
    if cmd.decision == "edit" and (cmd.params is None or _json_problem("params", cmd.params) is not None):
        problems.append(Problem("validation.required", "params", "an edit needs the changed parameters",
                                "send params with the values to use"))
    raise_if_any(problems)
    proposal = uow.exceptions.get_proposal(cmd.proposal_id, for_update=True) \
        if isinstance(cmd.proposal_id, str) else None
    if proposal is None:
        raise e.UnknownProposal(f"proposal {cmd.proposal_id!r} does not exist", proposal_id=str(cmd.proposal_id))
    if proposal.status is not ProposalStatus.PENDING:
        raise e.ProposalDecided(f"proposal {proposal.proposal_id} was already {proposal.status.value}",
                                proposal_id=proposal.proposal_id, status=proposal.status.value)
    now = uow.now()
    if cmd.decision == "reject":
        proposal.status = ProposalStatus.REJECTED
    else:
        proposal.status = ProposalStatus.APPROVED
        if cmd.decision == "edit":
            assert cmd.params is not None
            proposal.params = {**proposal.params, **cmd.params}
            proposal.edited = True
    proposal.decided_by, proposal.decided_at, proposal.decision_note = cmd.actor.strip(), now, cmd.note
    uow.exceptions.save_proposal(proposal)
    audit(uow, cmd.actor, f"proposal.{cmd.decision}", "proposal", proposal.proposal_id, action=proposal.action.value,
          params=proposal.params, note=cmd.note, order_id=proposal.order_id, case_id=proposal.case_id)
    uow.emit(ProposalDecided(proposal_id=proposal.proposal_id, action=proposal.action.value,
                             order_id=proposal.order_id, case_id=proposal.case_id, decision=cmd.decision,
                             actor=cmd.actor, occurred_at=now))
    return {"proposal_id": proposal.proposal_id, "status": proposal.status.value, "action": proposal.action.value,
            "params": proposal.params, "order_id": proposal.order_id, "case_id": proposal.case_id}


def record_proposal_result(cmd: c.RecordProposalResult, uow: AbstractUnitOfWork) -> dict[str, Any]:
    raise_if_any([p for p in (_json_problem("result", cmd.result),) if p])
    proposal = uow.exceptions.get_proposal(cmd.proposal_id, for_update=True) \
        if isinstance(cmd.proposal_id, str) else None
    if proposal is None:
        raise e.UnknownProposal(f"proposal {cmd.proposal_id!r} does not exist", proposal_id=str(cmd.proposal_id))
    if proposal.status is not ProposalStatus.APPROVED:
        return {"proposal_id": proposal.proposal_id, "status": proposal.status.value, "result": proposal.result}
    proposal.status = ProposalStatus.EXECUTED if cmd.executed else ProposalStatus.FAILED
    proposal.result = dict(cmd.result)
    uow.exceptions.save_proposal(proposal)
    audit(uow, proposal.decided_by or "system", f"proposal.{proposal.status.value}", "proposal",
          proposal.proposal_id, result=proposal.result)
    return {"proposal_id": proposal.proposal_id, "status": proposal.status.value, "result": proposal.result}
