"""The notifier: proactive messages to customers and buyers, drafted from the engine's events.

`Notifier.on_message` is an outbox subscriber. For each event it gathers the facts from the engine (code,
never the model), picks the template for the kind and the audience (B2C or B2B tone, prompts/notify/), and
stores the draft in the notification outbox under a dedupe key, so a redelivered event drafts nothing new.
Clarification questions to B2B senders wait for ops' approval; everything else is sent by the delivery loop
(`NotificationOutbox.deliver_due`), rate-limited per recipient.

| event                       | message                                   | dedupe key                    |
|-----------------------------|-------------------------------------------|-------------------------------|
| order.routed (placement)    | confirmed, with the promised date         | order_confirmed:<order>       |
| order.shipment_recorded     | shipped, with carrier and tracking        | order_shipped:<shipment>      |
| order.delayed               | delayed, with the new date                | order_delayed:<order>:<date>  |
| order.status_changed → delivered | delivered                            | order_delivered:<order>       |
| exception.closed (resolved by a person, blocking) | resolved            | exception_resolved:<case>     |
| intake.document_settled (email, accepted) | B2B acknowledgement         | order_acknowledged:<document> |
| intake.document_settled (email, needs_review) | B2B clarification (approval) | clarification:<document> |
"""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from typing import Any

from engine.adapters.outbox import OutboxMessage, OutboxRelay
from engine.domain.notifications import NotificationKind as K
from engine.domain.orders import Order
from engine.services.delivery_dates import promised_delivery

EVENTS = ("order.routed", "order.shipment_recorded", "order.delayed", "order.status_changed", "exception.closed",
          "intake.document_settled")
_SAFE = re.compile(r"[\r\n\t]+")


def template(kind: K, audience: str) -> tuple[str, str]:
    text = (resources.files("prompts") / "notify" / f"{kind.value}.{audience}.md").read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    return first.removeprefix("Subject:").strip(), body.strip() + "\n"


class _Facts(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(kind: K, audience: str, facts: dict[str, Any]) -> tuple[str, str]:
    subject, body = template(kind, audience)
    values = _Facts({k: _SAFE.sub(" ", str(v)) if k != "lines" and k != "questions" else str(v)
                     for k, v in facts.items()})
    return subject.format_map(values)[:300], body.format_map(values)


def _day(value: date | str | None) -> str:
    if value is None:
        return "to be confirmed"
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{d.strftime('%A')} {d.isoformat()}"


class Notifier:
    def __init__(self, app: Any) -> None:
        self.app = app

    def attach(self, relay: OutboxRelay) -> None:
        for event_type in EVENTS:
            relay.subscribe(event_type, self.on_message)

    # -- the subscriber
    def on_message(self, message: OutboxMessage) -> None:
        p = message.payload
        kind = message.event_type
        if kind == "order.routed" and p.get("kind") == "placement":
            self._order_message(K.CONFIRMED, p["order_id"], f"order_confirmed:{p['order_id']}", message)
        elif kind == "order.shipment_recorded":
            self._order_message(K.SHIPPED, p["order_id"], f"order_shipped:{p['shipment_id']}", message,
                                carrier=p.get("carrier", ""), tracking_number=p.get("tracking_number", ""))
        elif kind == "order.delayed" and p.get("new_date"):
            self._order_message(K.DELAYED, p["order_id"], f"order_delayed:{p['order_id']}:{p['new_date']}", message,
                                carrier=p.get("carrier", ""), tracking_number=p.get("tracking_number", ""),
                                promised=_day(p.get("promised")), new_date=_day(p.get("new_date")))
        elif kind == "order.status_changed" and p.get("to_status") == "delivered":
            self._order_message(K.DELIVERED, p["order_id"], f"order_delivered:{p['order_id']}", message)
        elif kind == "exception.closed" and p.get("status") == "resolved" and p.get("order_id"):
            # "resolved" is a person's decision; what the engine fixed within policy closes as auto_resolved.
            self._resolved(p, message)
        elif kind == "intake.document_settled" and p.get("source") == "email":
            self._b2b_email(p, message)

    # -- drafting
    def _order_message(self, kind: K, order_id: str, key: str, message: OutboxMessage, **extra: Any) -> None:
        with self.app.uow(readonly=True) as uow:
            order = uow.orders.get(order_id)
            if order is None:
                return
            recipient, name, audience = self._recipient(uow, order)
            promise = promised_delivery(uow, order_id)
        facts = {"order_id": order.order_id, "reference": order.external_id, "name": name,
                 "promised": _day(promise), "lines": _lines(order), **extra}
        if kind is K.SHIPPED:
            facts["expected"] = f"Expected delivery: {_day(promise)}." if promise else ""
        subject, body = render(kind, audience, facts)
        self.app.notifications.enqueue(dedupe_key=key, kind=kind, audience=audience, recipient=recipient,
                                       subject=subject, body=body, order_id=order_id, event_id=message.event_id,
                                       facts={k: v for k, v in facts.items() if k != "lines"})

    def _resolved(self, p: dict[str, Any], message: OutboxMessage) -> None:
        with self.app.uow(readonly=True) as uow:
            case = uow.exceptions.get_case(p["case_id"])
        if case is None or not case.blocking or case.type.value in ("duplicate", "anomaly", "payment"):
            return  # non-blocking findings and fraud screening are not the customer's business
        words = {"address": "the delivery address", "inventory": "stock for an item", "carrier": "the carrier",
                 "price": "a price", "high_value": "a routine check", "cold_start": "a routine check",
                 "catalog": "an item", "milestone": "the order's progress", "intake": "the order details"}
        self._order_message(K.RESOLVED, p["order_id"], f"exception_resolved:{p['case_id']}", message,
                            what=words.get(case.type.value, "a detail"))

    def _b2b_email(self, p: dict[str, Any], message: OutboxMessage) -> None:
        with self.app.uow(readonly=True) as uow:
            doc = uow.intake.get(p["document_id"])
            order = uow.orders.get(p["order_id"]) if p.get("order_id") else None
            promise = promised_delivery(uow, order.order_id) if order else None
        if doc is None or not doc.sender:
            return
        if p.get("status") == "accepted" and order is not None:
            facts = {"order_id": order.order_id, "reference": order.external_id, "subject": doc.subject,
                     "lines": _lines(order), "promised": _day(promise)}
            subject, body = render(K.ACKNOWLEDGEMENT, "b2b", facts)
            self.app.notifications.enqueue(dedupe_key=f"order_acknowledged:{doc.document_id}", kind=K.ACKNOWLEDGEMENT,
                                           audience="b2b", recipient=doc.sender, subject=subject, body=body,
                                           order_id=order.order_id, event_id=message.event_id)
        elif p.get("status") == "needs_review":
            questions = clarification_questions(doc.problems, doc.draft)
            if not questions:
                return
            subject, body = render(K.CLARIFICATION, "b2b", {"subject": doc.subject, "questions": questions})
            self.app.notifications.enqueue(dedupe_key=f"clarification:{doc.document_id}", kind=K.CLARIFICATION,
                                           audience="b2b", recipient=doc.sender, subject=subject, body=body,
                                           event_id=message.event_id, approval=True,
                                           facts={"document_id": doc.document_id})

    @staticmethod
    def _recipient(uow: Any, order: Order) -> tuple[str, str, str]:
        """(email, name, audience): the ship-to email, else the customer's; B2B tone for account orders."""
        audience = "b2b" if order.account_code else "b2c"
        email, name = order.ship_to.email, order.ship_to.name
        if order.customer_id:
            customer = uow.master.get_customer(order.customer_id)
            if customer is not None:
                email = email or customer.email
                name = name or customer.name
        return email, (name.split()[0] if audience == "b2c" and name else name) or "there", audience


def _lines(order: Order) -> str:
    return "\n".join(f"  {ln.quantity} x {ln.sku}" for ln in order.lines)


def clarification_questions(problems: list[dict[str, Any]], draft: dict[str, Any] | None) -> str:
    """One question per doubtful line or field, in the buyer's own words where the draft has them."""
    lines = (draft or {}).get("lines") or []
    out = []
    for prob in problems[:20]:
        field = str(prob.get("field", ""))
        m = re.match(r"lines\[(\d+)\]", field)
        if m and int(m.group(1)) < len(lines):
            line = lines[int(m.group(1))]
            text = line.get("description") or line.get("raw") or line.get("buyer_part") or line.get("sku") or ""
            out.append(f"- Line {int(m.group(1)) + 1} ({_SAFE.sub(' ', str(text))[:80]}): "
                       f"{_SAFE.sub(' ', str(prob.get('message', 'please confirm')))[:200]}")
        else:
            out.append(f"- {field or 'order'}: {_SAFE.sub(' ', str(prob.get('message', 'please confirm')))[:200]}")
    return "\n".join(out)
