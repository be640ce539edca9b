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
| return.status_changed → label_issued | return authorised, with the label | return_authorised:<rma> |
| return.status_changed → refused | return refused, with the person's reason | return_refused:<rma> |
| return.received (first receipt) | return received                       | return_received:<rma>         |
| return.refunded             | refund issued, with the amount            | refund_issued:<rma>           |
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
          "intake.document_settled", "return.status_changed", "return.received", "return.refunded")
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
        elif kind == "return.status_changed" and p.get("to_status") in ("label_issued", "refused"):
            self._return_message(K.RETURN_AUTHORISED if p["to_status"] == "label_issued" else K.RETURN_REFUSED,
                                 p, message)
        elif kind == "return.received":
            self._return_message(K.RETURN_RECEIVED, p, message)
        elif kind == "return.refunded":
            self._return_message(K.REFUND_ISSUED, p, message, amount=p.get("amount", ""),
                                 currency=p.get("currency", "USD"))

    def _return_message(self, kind: K, p: dict[str, Any], message: OutboxMessage, **extra: Any) -> None:
        """One message per return and kind, facts from the stored return (the reason a person gave, the label)."""
        with self.app.uow(readonly=True) as uow:
            rma = uow.returns.get(p.get("rma_id", ""))
            order = uow.orders.get(rma.order_id) if rma else None
            if rma is None or order is None:
                return
            recipient, name, audience = self._recipient(uow, order)
        label = rma.label or {}
        facts = {"order_id": order.order_id, "reference": order.external_id, "name": name, "rma_id": rma.rma_id,
                 "resolution": "refund" if rma.resolution.value == "refund" else "replacement",
                 "lines": "\n".join(f"  {ln.quantity} x {ln.sku}" + (f", exchanged for {ln.exchange_sku}"
                                                                     if ln.exchange_sku else "") for ln in rma.lines),
                 "label": (f"Your prepaid return label: {label['carrier']}, tracking {label['tracking_number']}."
                           if label else "You can drop the items at any of our stores."),
                 # the person's words without who said them: "(ops-lead)" is for the audit trail
                 "reason": rma.status_reason.rsplit(" (", 1)[0] if kind is K.RETURN_REFUSED else "",
                 "fee": "", **extra}
        if kind is K.REFUND_ISSUED and p.get("restocking_fee_pct") not in (None, "0", "0.00"):
            facts["fee"] = f" (after the {p['restocking_fee_pct']}% restocking fee on change-of-mind lines)"
        subject, body = render(kind, audience, facts)
        self.app.notifications.enqueue(dedupe_key=f"{kind.value}:{rma.rma_id}", kind=kind, audience=audience,
                                       recipient=recipient, subject=subject, body=body, order_id=order.order_id,
                                       event_id=message.event_id,
                                       facts={k: v for k, v in facts.items() if k not in ("lines", "label")})

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
