"""The intake desk: store each arrived document once, then settle its draft.

A touchless draft becomes an order (placed with an idempotency key derived from the document's reference,
then routed and reserved); a draft with problems waits for a person (`needs_review`, the problems naming
the field, the reason and a fix); a question, change or cancellation goes to the ops desk
(`not_an_order`); unreadable input is `rejected` with its reason. The same reference (email Message-ID,
ISA13/GS06/ST02, API key) never creates a second order: the document is found and its first outcome
returned. Reading the document (parsers, the intake agent) happens outside, in the layers above the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.intake import IntakeStatus
from engine.intake.draft import DraftProblem, OrderDraft

CHANNEL_BY_SOURCE = {"email": "email", "x12": "b2b_edi", "edifact": "b2b_edi", "api": "web"}


@dataclass
class IntakeOutcome:
    document_id: str
    status: str
    duplicate: bool
    kind: str = "unknown"
    order_id: str | None = None
    order_status: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    draft: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class IntakeDesk:
    def __init__(self, handle: Callable[[c.Command], Any], route: Callable[[str], Any]) -> None:
        self.handle = handle
        self.route = route

    def receive(self, source: str, reference: str, raw: bytes, sender: str = "", subject: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self.handle(c.ReceiveIntakeDocument(
            source=source, reference=reference[:200], raw=raw, sender=sender[:254], subject=subject[:300]))
        return result

    def reject(self, document_id: str, err: e.OrderloomError) -> IntakeOutcome:
        problems = [p.to_dict() for p in err.problems] or [{"code": err.code, "field": "document",
                                                            "message": err.message, "fix": ""}]
        self.handle(c.SettleIntakeDocument(document_id=document_id, status=IntakeStatus.REJECTED.value,
                                           kind="unknown", problems=tuple(problems)))
        return IntakeOutcome(document_id, IntakeStatus.REJECTED.value, False, problems=problems)

    def settle(self, document_id: str, draft: OrderDraft, channel: str | None = None) -> IntakeOutcome:
        """Turn a draft into an order when it is touchless; otherwise keep it for a person or the ops desk."""
        plain = draft.model_dump(mode="json")
        problems = [p.model_dump() for p in draft.problems]
        if draft.kind != "order":
            return self._settle(document_id, IntakeStatus.NOT_AN_ORDER, draft, plain, problems)
        if not draft.touchless:
            if not problems:  # low confidence without a named problem: say which fields are doubtful
                problems = [p.model_dump() for p in _doubtful(draft)]
            return self._settle(document_id, IntakeStatus.NEEDS_REVIEW, draft, plain, problems)
        command = draft.to_place_order(channel or CHANNEL_BY_SOURCE.get(draft.source.value, "web"))
        try:
            placed = self.handle(command)
        except e.OrderloomError as err:  # e.g. the same PO number already placed, an inactive SKU
            problems = [p.to_dict() for p in err.problems] or [{"code": err.code, "field": "order",
                                                                "message": err.message, "fix": ""}]
            return self._settle(document_id, IntakeStatus.NEEDS_REVIEW, draft, plain, problems)
        order_id = str(placed["order_id"])
        status = placed.get("status")
        if status == "validated":
            try:  # screened for exceptions, then routed when nothing blocks it
                processed = self.route(order_id)
                status = processed["status"] if isinstance(processed, dict) else processed.status
            except e.OrderloomError as err:  # routing trouble never loses the accepted order
                status = f"validated ({err.code})"
        outcome = self._settle(document_id, IntakeStatus.ACCEPTED, draft, plain, [], order_id)
        outcome.order_status = status
        return outcome

    def _settle(self, document_id: str, status: IntakeStatus, draft: OrderDraft, plain: dict[str, Any],
                problems: list[dict[str, Any]], order_id: str | None = None) -> IntakeOutcome:
        self.handle(c.SettleIntakeDocument(document_id=document_id, status=status.value, kind=draft.kind,
                                           draft=plain, problems=tuple(problems), order_id=order_id))
        if status in (IntakeStatus.NEEDS_REVIEW, IntakeStatus.NOT_AN_ORDER):
            self._queue(document_id, status, draft, problems)
        return IntakeOutcome(document_id, status.value, False, draft.kind, order_id, problems=problems, draft=plain)

    def _queue(self, document_id: str, status: IntakeStatus, draft: OrderDraft, problems: list[dict[str, Any]]
               ) -> None:
        """A document a person must look at reaches the exception queue with its problems and their fixes."""
        type_, subtype = document_case_type(status, draft.kind, problems)
        fixes = [f"{p.get('field', '')}: {p.get('fix') or p.get('message', '')}" for p in problems][:8]
        if status is IntakeStatus.NOT_AN_ORDER:
            reason = f"a {draft.kind} from {draft.sender or 'an unknown sender'} for the ops desk"
            summary = f"answer the {draft.kind} (it is not an order)"
            effect = "the sender gets an answer; nothing changes in the system until a person acts"
        else:
            reason = "the document could not become an order on its own: " + "; ".join(
                f"{p.get('field', '')}: {p.get('message', '')}" for p in problems[:8])
            summary = "correct the draft and submit it: " + "; ".join(fixes) if fixes else "review the draft"
            effect = "the order is placed from the corrected draft and routed"
        self.handle(c.OpenException(
            type=type_, subtype=subtype, reason=reason[:1000], document_id=document_id, blocking=False,
            evidence={"problems": problems[:20], "kind": draft.kind, "source": draft.source.value,
                      "sender": draft.sender, "po_number": draft.po_number.value},
            recommendation={"action": "review_document", "summary": summary[:500], "expected_effect": effect,
                            "params": {"document_id": document_id}, "confidence": 0.5}))


def document_case_type(status: IntakeStatus, kind: str, problems: list[dict[str, Any]]) -> tuple[str, str]:
    """Which queue a document goes to: catalog, price, address or duplicate problems by their code; anything
    else (uncertain fields, instructions to the system, questions) is an intake case."""
    if status is IntakeStatus.NOT_AN_ORDER:
        return "intake", f"not_an_order_{kind}"[:48]
    codes = [str(p.get("code", "")) for p in problems]
    for prefix, type_ in (("untrusted", "intake"), ("catalog", "catalog"), ("unit", "catalog"),
                          ("pricing", "price"), ("address", "address"), ("order.duplicate", "duplicate")):
        hit = next((code for code in codes if code.startswith(prefix)), None)
        if hit:
            return type_, hit.replace(".", "_")[:48]
    return "intake", (codes[0].replace(".", "_") if codes else "needs_review")[:48]


def _doubtful(draft: OrderDraft) -> list[DraftProblem]:
    out = []
    if draft.po_number.confidence < 0.9:
        out.append(DraftProblem(code="intake.low_confidence", field="po_number", message="PO number is uncertain"))
    if draft.ship_to is not None and draft.ship_to.confidence < 0.9:
        out.append(DraftProblem(code="intake.low_confidence", field="ship_to", message="address is uncertain"))
    for i, line in enumerate(draft.lines):
        for name, value in line.confidence.items():
            if value < 0.9:
                out.append(DraftProblem(code="intake.low_confidence", field=f"lines[{i}].{name}",
                                        message=f"{name} of line {i + 1} is uncertain"))
    return out or [DraftProblem(code="intake.low_confidence", field="draft", message="the draft is uncertain")]
