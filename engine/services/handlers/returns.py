"""Return handlers: request (eligibility), authorise / refuse / cancel, label, receipt, grade (the ledger), settle.

Each warehouse event (receipt, grade) carries a reference. The RMA remembers the references it has applied
(stored with a unique key), so a redelivered event is answered as a replay and changes nothing, and the
units of a graded line go back into stock at most once: the line's grade, its stock movement and the
reference are written in one transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.errors import Problem
from engine.domain.events import (
    ReturnExchanged,
    ReturnLineGraded,
    ReturnReceived,
    ReturnRefunded,
    ReturnRequested,
    ReturnStatusChanged,
)
from engine.domain.inventory import MovementKind
from engine.domain.orders import OrderStatus
from engine.domain.returns import (
    Disposition,
    Grade,
    OrderLineFacts,
    Replay,
    RequestedLine,
    Resolution,
    ReturnLine,
    ReturnPolicy,
    ReturnReason,
    Rma,
    RmaChange,
    RmaStatus,
    check_eligibility,
    disposition_for,
)
from engine.domain.routing import AuditEntry
from engine.services.handlers.checks import (
    is_lookup_key,
    new_id,
    node_problem,
    raise_if_any,
    sku_problem,
    text_problem,
)
from engine.services.handlers.inventory import _move
from engine.services.unit_of_work import AbstractUnitOfWork

DEFAULT_POLICY = ReturnPolicy()


def policy_in_force(uow: AbstractUnitOfWork) -> tuple[int, ReturnPolicy]:
    """The newest stored return policy, or the defaults (version 0) while nobody has changed them."""
    return uow.returns.active_policy() or (0, DEFAULT_POLICY)


def set_return_policy(cmd: c.SetReturnPolicy, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (text_problem("actor", cmd.actor, max_length=100),
                            text_problem("note", cmd.note, max_length=500, required=False)) if p]
    if not isinstance(cmd.settings, dict) or not cmd.settings:
        problems.append(Problem("validation.type", "settings", "no settings to change",
                                "send an object of the settings to change"))
    raise_if_any(problems)
    version, current = policy_in_force(uow)
    policy = ReturnPolicy.from_settings({**current.to_settings(), **cmd.settings})
    uow.returns.add_policy(version + 1, policy, cmd.actor.strip(), cmd.note, uow.now())
    uow.routing.add_audit(AuditEntry(at=uow.now(), actor=cmd.actor.strip(), action="return_policy.set",
                                     entity="return_policy", entity_id=str(version + 1),
                                     detail={"changed": sorted(str(k) for k in cmd.settings), "note": cmd.note}))
    return {"version": version + 1, "policy": policy.to_settings()}
MAX_LINES = 200
CLOSED_OUT = (RmaStatus.REFUSED, RmaStatus.CANCELLED)


def _status_event(rma: Rma, change: RmaChange | None, uow: AbstractUnitOfWork) -> None:
    if change is not None:
        uow.emit(ReturnStatusChanged(rma_id=rma.rma_id, order_id=rma.order_id,
                                     from_status=change.from_status.value if change.from_status else None,
                                     to_status=change.to_status.value, reason=change.reason,
                                     occurred_at=change.at))


def rma_view(rma: Rma) -> dict[str, Any]:
    return {"rma_id": rma.rma_id, "order_id": rma.order_id, "status": rma.status.value,
            "status_reason": rma.status_reason, "resolution": rma.resolution.value, "reason": rma.reason.value,
            "customer_id": rma.customer_id, "account_code": rma.account_code, "channel": rma.channel,
            "restock_node": rma.restock_node, "label": rma.label,
            "refund_amount": None if rma.refund_amount is None else str(rma.refund_amount),
            "exchange_order_id": rma.exchange_order_id, "case_id": rma.case_id,
            "abuse_score": rma.abuse_score,
            "created_at": rma.created_at.isoformat() if rma.created_at else None,
            "lines": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity, "reason": ln.reason.value,
                       "unit_price": str(ln.unit_price), "received": ln.received,
                       "grade": ln.grade.value if ln.grade else None,
                       "disposition": ln.disposition.value if ln.disposition else None,
                       "exchange_sku": ln.exchange_sku} for ln in rma.lines],
            "history": [{"at": h.at.isoformat(), "from": h.from_status.value if h.from_status else None,
                         "to": h.to_status.value, "reason": h.reason} for h in rma.history]}


def require_rma(uow: AbstractUnitOfWork, rma_id: object, *, for_update: bool = True) -> Rma:
    rma = uow.returns.get(rma_id, for_update=for_update) if is_lookup_key(rma_id) else None
    if rma is None:
        raise e.UnknownReturn(f"return {rma_id!r} not found", rma_id=str(rma_id)[:40])
    return rma


def _reason(value: object, field: str) -> tuple[ReturnReason | None, Problem | None]:
    try:
        return ReturnReason(str(value)), None
    except ValueError:
        return None, Problem("return.reason_invalid", field, f"{str(value)[:40]!r} is not a return reason",
                             "use one of " + ", ".join(r.value for r in ReturnReason))


def order_line_facts(uow: AbstractUnitOfWork, order_id: str, *, exclude: str | None = None) -> list[OrderLineFacts]:
    order = uow.orders.get(order_id)
    assert order is not None
    on_returns: dict[int, int] = {}
    for other in uow.returns.for_order(order_id):
        if other.rma_id == exclude or other.status in CLOSED_OUT:
            continue
        for ln in other.lines:
            # a return closed short keeps only what arrived; the rest may be asked again
            kept = ln.received if any(h.to_status is RmaStatus.RECEIVED for h in other.history) else ln.quantity
            on_returns[ln.line_no] = on_returns.get(ln.line_no, 0) + kept
    facts = []
    for ol in order.lines:
        sku = uow.master.get_sku(ol.sku)
        facts.append(OrderLineFacts(line_no=ol.line_no, sku=ol.sku, category=sku.category if sku else "",
                                    shipped=ol.shipped, already_returned=on_returns.get(ol.line_no, 0),
                                    unit_price=Decimal(ol.unit_price)))
    return facts


def request_return(cmd: c.RequestReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems: list[Problem] = []
    order = uow.orders.get(cmd.order_id) if is_lookup_key(cmd.order_id) else None
    if order is None:
        raise e.UnknownOrder(f"order {str(cmd.order_id)[:40]!r} not found", order_id=str(cmd.order_id)[:40])
    try:
        resolution = Resolution(cmd.resolution)
    except ValueError:
        problems.append(Problem("return.resolution_invalid", "resolution", f"{str(cmd.resolution)[:20]!r} is not "
                                "a resolution", "use refund or exchange"))
        resolution = Resolution.REFUND
    if not isinstance(cmd.lines, tuple) or not cmd.lines or len(cmd.lines) > MAX_LINES:
        problems.append(Problem("return.lines_invalid", "lines", "no lines, or too many",
                                f"name 1-{MAX_LINES} lines of the order"))
    for p in (text_problem("customer_text", cmd.customer_text, max_length=500, required=False),
              text_problem("from_postal", cmd.from_postal, max_length=16, required=False),
              text_problem("requested_by", cmd.requested_by, max_length=120, required=False)):
        if p:
            problems.append(p)
    requested: list[RequestedLine] = []
    exchange_for: dict[int, tuple[str, str]] = {}  # line_no -> (field, the SKU sent instead)
    for i, ln in enumerate(cmd.lines if isinstance(cmd.lines, tuple) else ()):
        field = f"lines[{i}]"
        if not isinstance(ln, c.ReturnLineRequest) or isinstance(ln.line_no, bool) or not isinstance(ln.line_no, int):
            problems.append(Problem("return.line_invalid", field, "each line needs line_no, quantity and reason",
                                    "send the order's line number"))
            continue
        reason, bad = _reason(ln.reason, f"{field}.reason")
        if bad:
            problems.append(bad)
            continue
        assert reason is not None
        qty = ln.quantity if isinstance(ln.quantity, int) and not isinstance(ln.quantity, bool) else -1
        requested.append(RequestedLine(ln.line_no, qty, reason))
        if ln.exchange_sku is not None:
            if resolution is not Resolution.EXCHANGE:
                problems.append(Problem("return.exchange_sku_unexpected", f"{field}.exchange_sku",
                                        "only an exchange sends something back instead",
                                        "ask for resolution exchange, or leave exchange_sku out"))
            elif (p := sku_problem(uow, f"{field}.exchange_sku", ln.exchange_sku)) is not None:
                problems.append(p)
            else:
                exchange_for[ln.line_no] = (f"{field}.exchange_sku", ln.exchange_sku)
    raise_if_any(problems, "the return request is invalid")
    if order.status is OrderStatus.CANCELLED:
        raise e.ReturnNotEligible(f"order {order.order_id} was cancelled: there is nothing to return",
                                  order_id=order.order_id, problems=[Problem(
                                      "return.order_cancelled", "order_id", "the order was cancelled",
                                      "nothing shipped, so nothing can come back")])
    now = uow.now()
    delivered = next((h.at for h in reversed(order.history) if h.to_status is OrderStatus.DELIVERED), None)
    facts = order_line_facts(uow, order.order_id)
    verdict = check_eligibility(policy_in_force(uow)[1], channel=order.channel, b2b=order.account_code is not None,
                                delivered_at=delivered, now=now, order_lines=facts, requested=requested)
    if not verdict.eligible:
        raise e.ReturnNotEligible(f"no line of order {order.order_id} can be returned", order_id=order.order_id,
                                  problems=verdict.refusals)
    if cmd.restock_node is not None:
        raise_if_any([p for p in [node_problem(uow, "restock_node", cmd.restock_node)] if p])
    by_line = {f.line_no: f for f in facts}
    raise_if_any([p for r in verdict.eligible if r.line_no in exchange_for
                  for p in [_like_for_like(uow, *exchange_for[r.line_no], by_line[r.line_no].sku)] if p],
                 "the exchange cannot be made")
    rma_id = "RMA-" + new_id()[:12].upper()
    lines = [ReturnLine(line_no=r.line_no, sku=by_line[r.line_no].sku, quantity=r.quantity, reason=r.reason,
                        unit_price=by_line[r.line_no].unit_price.quantize(Decimal("0.01")),
                        exchange_sku=_other(exchange_for.get(r.line_no), by_line[r.line_no].sku))
             for r in verdict.eligible]
    rma = Rma(rma_id=rma_id, order_id=order.order_id, channel=order.channel, customer_id=order.customer_id,
              account_code=order.account_code, lines=lines, resolution=resolution, created_at=now,
              reason=lines[0].reason, customer_text=cmd.customer_text.strip(),
              from_postal=(cmd.from_postal or order.ship_to.postal_code or "").strip()[:16],
              restock_node=cmd.restock_node, restock_plan=cmd.restock_plan,
              abuse_score=cmd.abuse_score, abuse_evidence=list(cmd.abuse_evidence) or None,
              requested_by=(cmd.requested_by or "customer")[:120],
              history=[RmaChange(now, None, RmaStatus.REQUESTED, "requested")])
    uow.returns.add(rma)
    uow.emit(ReturnRequested(rma_id=rma_id, order_id=order.order_id, resolution=resolution.value,
                             restock_node=rma.restock_node, abuse_score=rma.abuse_score,
                             lines=tuple({"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity,
                                          "reason": ln.reason.value, "exchange_sku": ln.exchange_sku}
                                         for ln in lines)))
    _status_event(rma, rma.history[0], uow)
    return {**rma_view(rma), "refusals": [p.to_dict() for p in verdict.refusals]}


def _like_for_like(uow: AbstractUnitOfWork, field: str, wanted: str, returned: str) -> Problem | None:
    """An exchange sends another variant of the same thing: the same product (`Sku.product_key`, where the
    catalog has it) and category, at the same catalog price (the customer paid once; anything else
    is a refund and a new order)."""
    if wanted == returned:
        return None
    new, old = uow.master.get_sku(wanted), uow.master.get_sku(returned)
    if new is None or not new.active:
        return Problem("return.exchange_sku_unavailable", field, f"{wanted} is no longer sold",
                       "choose another SKU, or ask for a refund")
    if old is None or new.category != old.category:
        return Problem("return.exchange_not_like_for_like", field,
                       f"{returned} can be exchanged for another {old.category if old else 'item of its kind'}, "
                       f"not for {wanted} ({new.category})", "ask for a refund and order it")
    # Where the catalog names the product a SKU is a variant of, the exchange stays within that product.
    if old.product_key is not None and new.product_key != old.product_key:
        product = " ".join(v for v in old.product_key if v)
        return Problem("return.exchange_not_like_for_like", field,
                       f"{returned} ({product}) can be exchanged for another size or colour of it, not for "
                       f"{wanted} ({new.name})", "ask for a refund and order it")
    if new.unit_price != old.unit_price:
        price, was = (Decimal(x).quantize(Decimal("0.01")) for x in (new.unit_price, old.unit_price))
        return Problem("return.exchange_price_differs", field,
                       f"{wanted} costs {price}, {returned} cost {was}: an exchange is for the same price",
                       "ask for a refund and order it", {"exchange_sku": wanted, "price": str(price),
                                                         "returned_price": str(was)})
    return None


def _other(chosen: tuple[str, str] | None, returned: str) -> str | None:
    return chosen[1] if chosen is not None and chosen[1] != returned else None


def _reason_text(value: object, field: str = "reason", *, required: bool = True) -> str:
    raise_if_any([p for p in [text_problem(field, value, max_length=500, required=required)] if p])
    return str(value).strip()


def authorise_return(cmd: c.AuthoriseReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    why = _reason_text(cmd.reason, required=False) or "within policy"
    actor = _reason_text(cmd.actor, "actor")
    _status_event(rma, rma.authorise(uow.now(), f"{why} ({actor})"[:500]), uow)
    uow.returns.save(rma)
    return rma_view(rma)


def refuse_return(cmd: c.RefuseReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    why, actor = _reason_text(cmd.reason), _reason_text(cmd.actor, "actor")
    _status_event(rma, rma.refuse(uow.now(), f"{why} ({actor})"[:500]), uow)
    uow.returns.save(rma)
    return rma_view(rma)


def cancel_return(cmd: c.CancelReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    why, actor = _reason_text(cmd.reason), _reason_text(cmd.actor, "actor")
    if any(ln.received for ln in rma.lines):
        raise e.IllegalTransition(f"return {rma.rma_id} has units received: it cannot be cancelled",
                                  rma_id=rma.rma_id, status=rma.status.value)
    _status_event(rma, rma.cancel(uow.now(), f"{why} ({actor})"[:500]), uow)
    uow.returns.save(rma)
    return rma_view(rma)


def link_return_case(cmd: c.LinkReturnCase, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    rma.case_id = str(cmd.case_id)[:32]
    uow.returns.save(rma)
    return rma_view(rma)


def issue_return_label(cmd: c.IssueReturnLabel, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    raise_if_any([p for p in (text_problem("carrier", cmd.carrier, max_length=32),
                              text_problem("tracking_number", cmd.tracking_number, max_length=64)) if p])
    _status_event(rma, rma.issue_label(uow.now(), cmd.carrier, cmd.tracking_number), uow)
    uow.returns.save(rma)
    return rma_view(rma)


def record_return_in_transit(cmd: c.RecordReturnInTransit, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    _status_event(rma, rma.in_transit(uow.now()), uow)
    uow.returns.save(rma)
    return rma_view(rma)


def _replayed(rma: Rma, reference: str) -> dict[str, Any]:
    return {**rma_view(rma), "replayed": True, "reference": reference}


def _reference(value: object) -> str:
    raise_if_any([p for p in [text_problem("reference", value, max_length=200)] if p])
    return str(value).strip()


def receive_return(cmd: c.ReceiveReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    reference = _reference(cmd.reference)
    raise_if_any([p for p in [node_problem(uow, "node", cmd.node)] if p])
    if reference in rma.references:
        return _replayed(rma, reference)
    quantities: dict[int, int] = {}
    problems = []
    for line_no, qty in cmd.quantities if isinstance(cmd.quantities, tuple) else ():
        if isinstance(line_no, bool) or not isinstance(line_no, int) or line_no in quantities:
            problems.append(Problem("return.line_invalid", "quantities", f"line {line_no!r} is not a line number, "
                                    "or is named twice", "name each line of the return once"))
            continue
        quantities[line_no] = qty
    if not quantities and not cmd.close_short:
        problems.append(Problem("return.quantity_invalid", "quantities", "no units named",
                                "send {line_no: units} for what arrived"))
    raise_if_any(problems, "the receipt is invalid")
    at = uow.now()
    if rma.restock_node != cmd.node:
        # The parcel arrived somewhere else (a store drop-off): its units are graded and stocked where they are.
        rma.restock_node = cmd.node
    try:
        change = rma.receive(at, reference, quantities) if quantities else None
    except Replay:
        return _replayed(rma, reference)
    if quantities:
        uow.emit(ReturnReceived(rma_id=rma.rma_id, order_id=rma.order_id, node=cmd.node, reference=reference,
                                quantities={str(k): v for k, v in quantities.items()}))
    _status_event(rma, change, uow)
    if cmd.close_short and rma.status is not RmaStatus.RECEIVED:
        _status_event(rma, rma.receive_short(at, f"closed short at {cmd.node} ({reference})"), uow)
    uow.returns.save(rma)
    return {**rma_view(rma), "replayed": False, "reference": reference}


def grade_return_line(cmd: c.GradeReturnLine, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    reference = _reference(cmd.reference)
    if reference in rma.references:
        return _replayed(rma, reference)
    problems: list[Problem | None] = [text_problem("note", cmd.note, max_length=1000, required=False)]
    try:
        grade = Grade(cmd.grade)
    except ValueError:
        problems.append(Problem("return.grade_invalid", "grade", f"{str(cmd.grade)[:20]!r} is not a grade",
                                "use one of " + ", ".join(g.value for g in Grade)))
        grade = Grade.UNSALEABLE
    disposition: Disposition | None = None
    if cmd.disposition is not None:
        try:
            disposition = Disposition(cmd.disposition)
        except ValueError:
            problems.append(Problem("return.disposition_invalid", "disposition",
                                    f"{str(cmd.disposition)[:24]!r} is not a disposition",
                                    "use one of " + ", ".join(d.value for d in Disposition)))
    if isinstance(cmd.line_no, bool) or not isinstance(cmd.line_no, int):
        problems.append(Problem("return.line_invalid", "line_no", "not a line number", "name a line of the return"))
    raise_if_any([p for p in problems if p], "the grade is invalid")
    ln = rma.line(cmd.line_no)
    if disposition is None:
        disposition = disposition_for(grade, ln.unit_price, vendor_returnable=bool(cmd.vendor_returnable))
    if disposition.sellable and grade not in (Grade.NEW, Grade.LIKE_NEW):
        raise e.ValidationFailed(f"a {grade.value} unit cannot go back on sale as {disposition.value}",
                                 problems=[Problem("return.disposition_invalid", "disposition",
                                                   f"{disposition.value} needs a new or like-new grade",
                                                   "refurbish, return to vendor, liquidate or scrap it")])
    at = uow.now()
    before = len(rma.history)
    try:
        rma.grade(at, reference, cmd.line_no, grade, str(cmd.note or "").strip(), disposition)
    except Replay:
        return _replayed(rma, reference)
    restocked = None
    if disposition.sellable:
        node = rma.restock_node
        if node is None:
            raise e.ValidationFailed(f"return {rma.rma_id} has no restock node", problems=[Problem(
                "return.no_restock_node", "node", "the return was never received at a node",
                "receive it first")])
        uow.inventory.ensure_balance(ln.sku, node)
        on_hand = _move(uow, ln.sku, node, MovementKind.RETURN, ln.received,
                        reference=f"{rma.rma_id}:{ln.line_no}", reason=f"returned {grade.value}")
        if on_hand is None:  # cannot happen for a receipt; refuse rather than lose the units silently
            raise e.StockInvariantViolation(f"the return of {ln.sku} at {node} was refused by the ledger",
                                            sku=ln.sku, node=node)
        restocked = node
    uow.emit(ReturnLineGraded(rma_id=rma.rma_id, order_id=rma.order_id, line_no=ln.line_no, sku=ln.sku,
                              quantity=ln.received, grade=grade.value, disposition=disposition.value,
                              restocked_at=restocked))
    for h in rma.history[before:]:  # graded, and disposed when every line's disposition is known
        _status_event(rma, h, uow)
    uow.returns.save(rma)
    return {**rma_view(rma), "replayed": False, "reference": reference, "restocked_at": restocked,
            "line": {"line_no": ln.line_no, "grade": grade.value, "disposition": disposition.value}}


def settle_return(cmd: c.SettleReturn, uow: AbstractUnitOfWork) -> dict[str, Any]:
    rma = require_rma(uow, cmd.rma_id)
    at = uow.now()
    order = uow.orders.get(rma.order_id)
    if rma.resolution is Resolution.REFUND:
        fee = policy_in_force(uow)[1].fee_pct(rma.account_code is not None)
        amount = rma.refund_due(fee)
        _status_event(rma, rma.refund(at, amount), uow)
        uow.emit(ReturnRefunded(rma_id=rma.rma_id, order_id=rma.order_id, amount=str(amount),
                                currency=order.currency if order else "USD", restocking_fee_pct=str(fee)))
    else:
        if not is_lookup_key(cmd.exchange_order_id) or uow.orders.get(cmd.exchange_order_id) is None:
            raise e.ValidationFailed("an exchange needs its replacement order", problems=[Problem(
                "return.exchange_order_missing", "exchange_order_id", "no such order",
                "place the replacement order first")])
        _status_event(rma, rma.exchange(at, cmd.exchange_order_id), uow)
        uow.emit(ReturnExchanged(rma_id=rma.rma_id, order_id=rma.order_id, exchange_order_id=cmd.exchange_order_id))
    _status_event(rma, rma.close(at), uow)
    uow.returns.save(rma)
    return rma_view(rma)
