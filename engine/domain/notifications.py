"""Notifications: what a customer or buyer is told, once per (kind, subject), through the email adapter."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class NotificationKind(enum.StrEnum):
    CONFIRMED = "order_confirmed"        # routed, with the promised date
    SHIPPED = "order_shipped"            # a parcel left, with its tracking number
    DELAYED = "order_delayed"            # the carrier's date moved past the promise
    DELIVERED = "order_delivered"
    RESOLVED = "exception_resolved"      # a problem with the order was sorted out
    RETURN_AUTHORISED = "return_authorised"  # with the label, or how to drop it off
    RETURN_REFUSED = "return_refused"        # a person refused it, with the reason
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"
    ACKNOWLEDGEMENT = "order_acknowledged"   # B2B: an emailed order was read and accepted
    CLARIFICATION = "clarification"          # B2B: a question about an ambiguous line (approved by ops first)


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"                  # waiting to be sent (maybe deferred by the rate limit)
    AWAITING_APPROVAL = "awaiting_approval"
    SENT = "sent"
    FAILED = "failed"                    # gave up after repeated delivery errors
    REJECTED = "rejected"                # a person decided not to send it
    SUPPRESSED = "suppressed"            # nobody to send it to, or superseded


@dataclass
class Notification:
    dedupe_key: str
    kind: NotificationKind
    audience: str  # b2c | b2b
    recipient: str
    subject: str
    body: str
    status: NotificationStatus
    created_at: datetime
    send_after: datetime
    message_id: str
    order_id: str | None = None
    event_id: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    notification_id: str | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    decided_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"notification_id": self.notification_id, "kind": self.kind.value, "audience": self.audience,
                "recipient": self.recipient, "subject": self.subject, "body": self.body,
                "status": self.status.value, "order_id": self.order_id, "event_id": self.event_id,
                "created_at": self.created_at.isoformat(), "send_after": self.send_after.isoformat(),
                "sent_at": self.sent_at.isoformat() if self.sent_at else None, "attempts": self.attempts,
                "last_error": self.last_error, "decided_by": self.decided_by, "message_id": self.message_id}
