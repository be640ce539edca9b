"""Intake documents: every email, EDI set or API payload that arrived, and what became of it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class IntakeStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet read
    ACCEPTED = "accepted"  # became an order (order_id set)
    NEEDS_REVIEW = "needs_review"  # a draft with problems, waiting for a person
    NOT_AN_ORDER = "not_an_order"  # a question, change or cancellation: handed to the ops desk
    REJECTED = "rejected"  # unreadable or invalid input; the reason is in `problems`


@dataclass
class IntakeDocument:
    document_id: str
    source: str
    reference: str
    received_at: datetime
    status: IntakeStatus
    sender: str = ""
    subject: str = ""
    kind: str = "unknown"
    draft: dict[str, Any] | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    order_id: str | None = None
    updated_at: datetime | None = None
