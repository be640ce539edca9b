"""The notification outbox: store each drafted message once, deliver it through the email adapter.

- Exactly once per (kind, subject): every notification has a dedupe key (e.g. `order_shipped:<shipment>`);
  a redelivered event drafts the same key and is dropped. The Message-ID is derived from the key too.
- Rate limit per recipient: at most `rate_per_hour` sent in any hour; the rest wait (send_after moves on),
  none is lost.
- A send is claimed before the adapter is called (a conditional update raises attempts and leases the row
  for five minutes), so two delivery loops never send the same row; a failure is retried with backoff and
  parked after max_attempts.
- Clarification questions to buyers wait for a person's approval (approve / edit / reject).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

from engine.domain import errors as e
from engine.domain.notifications import Notification, NotificationKind, NotificationStatus
from engine.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)
UowFactory = Callable[..., AbstractUnitOfWork]
WINDOW = timedelta(hours=1)
# While a message is being sent it is not due for anyone else; a sender that dies mid-send leaves it to be
# retried after the lease (at least once; the stable Message-ID lets mail systems drop the repeat).
LEASE = timedelta(minutes=5)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def message_id(dedupe_key: str, domain: str = "orderloom.local") -> str:
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@{domain}>"


def build_message(*, sender: str, recipient: str, subject: str, body: str, msg_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = msg_id  # stable per notification: a resend after a crash is recognisable
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return msg


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    retried: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class NotificationOutbox:
    def __init__(self, uow_factory: UowFactory, sender: EmailSender, *, from_address: str, rate_per_hour: int = 5,
                 max_attempts: int = 5) -> None:
        self.uow_factory = uow_factory
        self.sender = sender
        self.from_address = from_address
        self.rate_per_hour = rate_per_hour
        self.max_attempts = max_attempts

    def enqueue(self, *, dedupe_key: str, kind: NotificationKind, audience: str, recipient: str, subject: str,
                body: str, order_id: str | None = None, event_id: str | None = None,
                facts: dict[str, Any] | None = None, approval: bool = False) -> str | None:
        """Store a drafted message; None when one with the same dedupe key exists (a redelivered event)."""
        with self.uow_factory() as uow:
            now = uow.now()
            status = (NotificationStatus.SUPPRESSED if not recipient else
                      NotificationStatus.AWAITING_APPROVAL if approval else NotificationStatus.PENDING)
            new_id = uow.notifications.add(Notification(
                dedupe_key=dedupe_key[:200], kind=kind, audience=audience, recipient=recipient[:254],
                subject=subject[:300], body=body, status=status, created_at=now, send_after=now,
                message_id=message_id(dedupe_key), order_id=order_id, event_id=event_id, facts=facts or {}))
            uow.commit()
        return new_id

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        report = DeliveryReport()
        with self.uow_factory(readonly=True) as uow:
            due = uow.notifications.due(uow.now(), limit)
        for n in due:
            with self.uow_factory() as uow:
                now = uow.now()
                fresh = uow.notifications.get(n.notification_id or "")
                if fresh is None or fresh.status is not NotificationStatus.PENDING or fresh.attempts != n.attempts:
                    continue  # another loop has it
                if uow.notifications.sent_since(fresh.recipient, now - WINDOW) >= self.rate_per_hour:
                    fresh.send_after = now + timedelta(minutes=10)
                    uow.notifications.update(fresh)
                    uow.commit()
                    report.deferred += 1
                    continue
                if not uow.notifications.claim(fresh.notification_id or "", fresh.attempts, now + LEASE):
                    continue  # another delivery loop took it between our read and now
                fresh.attempts += 1
                uow.commit()
            try:
                self.sender.send(build_message(sender=self.from_address, recipient=fresh.recipient,
                                               subject=fresh.subject, body=fresh.body, msg_id=fresh.message_id))
            except Exception as exc:
                log.warning("notification %s to a recipient failed: %s", fresh.notification_id, type(exc).__name__)
                with self.uow_factory() as uow:
                    fresh.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    if fresh.attempts >= self.max_attempts:
                        fresh.status = NotificationStatus.FAILED
                        report.failed += 1
                    else:
                        fresh.send_after = uow.now() + timedelta(minutes=2 ** fresh.attempts)
                        report.retried += 1
                    uow.notifications.update(fresh)
                    uow.commit()
                continue
            with self.uow_factory() as uow:
                fresh.status, fresh.sent_at, fresh.last_error = NotificationStatus.SENT, uow.now(), None
                uow.notifications.update(fresh)
                uow.commit()
            report.sent += 1
        return report

    def decide(self, notification_id: str, decision: str, actor: str, *, subject: str | None = None,
               body: str | None = None) -> dict[str, Any]:
        """approve / edit (approve with new text) / reject a message waiting for approval."""
        if decision not in ("approve", "edit", "reject"):
            raise e.ValidationFailed("unknown decision", problems=[e.Problem(
                "notification.decision_invalid", "decision", f"{decision!r} is not a decision",
                "approve, edit or reject")])
        with self.uow_factory() as uow:
            n = uow.notifications.get(notification_id, for_update=True)
            if n is None:
                raise e.NotFound(f"notification {notification_id} not found", notification_id=notification_id)
            if n.status is not NotificationStatus.AWAITING_APPROVAL:
                raise e.ProposalDecided(f"notification {notification_id} is {n.status.value}, not awaiting approval",
                                        status=n.status.value)
            if decision == "edit":
                problems = [e.Problem("notification.text_invalid", name, f"{name} must be 1-{limit} characters",
                                      "write the text to send")
                            for name, value, limit in (("subject", subject, 300), ("body", body, 20000))
                            if value is not None and (not value.strip() or len(value) > limit)]
                if problems:
                    raise e.ValidationFailed("the edited message is not valid", problems=problems)
                n.subject, n.body = subject or n.subject, body or n.body
            n.status = NotificationStatus.REJECTED if decision == "reject" else NotificationStatus.PENDING
            n.decided_by = actor[:120]
            n.send_after = uow.now()
            uow.notifications.update(n)
            uow.commit()
        return n.to_dict()

    def list(self, **filters: Any) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            return [n.to_dict() for n in uow.notifications.search(**filters)]
