"""Order exceptions: the taxonomy, the case a person works, the policy that bounds automatic action,
proposals that wait for a person's decision, and the audit trail of who decided what.

A case is opened by detection (the engine found something wrong with an order or an intake document).
It is then either resolved automatically, within a `ResolutionPolicy` that people set (the action, its
reason and what it replaced are recorded, so it can be reversed where the domain allows), or escalated:
it waits in the queue with what happened, why it was flagged, the evidence, the recommended action and
its expected effect, a priority from the order's value and deadline, an SLA timer and an assignee.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


class ExceptionType(enum.StrEnum):
    ADDRESS = "address"
    PAYMENT = "payment"  # payment declined, fraud flag, suspicious velocity
    INVENTORY = "inventory"  # lost reservation race, cycle-count mismatch, WMS short pick
    CARRIER = "carrier"  # tracking delay, SLA no longer achievable, carrier outage
    CATALOG = "catalog"  # unknown or unmatched item
    PRICE = "price"  # line price away from the price list
    HIGH_VALUE = "high_value"
    COLD_START = "cold_start"  # new SKU, node or channel: human-configured limits until there is history
    DUPLICATE = "duplicate"
    MILESTONE = "milestone"  # an order not progressing as expected
    ANOMALY = "anomaly"  # statistical outlier (quantity, velocity, address combination)
    RETURN = "return"  # a return request a person decides (a high abuse score: never refused automatically)
    INTAKE = "intake"  # a document that did not become an order on its own: uncertain fields, instructions to
    # the system, a question or cancellation for the ops desk


class CaseStatus(enum.StrEnum):
    OPEN = "open"  # escalated: waiting for a person
    AUTO_RESOLVED = "auto_resolved"  # the engine acted within policy
    RESOLVED = "resolved"  # a person decided
    DISMISSED = "dismissed"  # a person judged it a false alarm
    CLEARED = "cleared"  # the cause went away on its own (payment authorised later, order cancelled)


CLOSED = frozenset({CaseStatus.AUTO_RESOLVED, CaseStatus.RESOLVED, CaseStatus.DISMISSED, CaseStatus.CLEARED})


class Action(enum.StrEnum):
    """What can be done about a case. Each maps to engine commands; see services/exceptions.py."""

    CORRECT_ADDRESS = "correct_address"  # params: ship_to (the whole corrected address)
    SWAP_CARRIER = "swap_carrier"  # re-route avoiding a carrier; params: avoid_carrier
    SUBSTITUTE = "substitute"  # params: line_no, sku
    REROUTE = "reroute"  # give the stock back and route again; params: avoid_nodes or prefer_node (optional)
    SPLIT_SHIPMENT = "split_shipment"  # route a ship-complete account's order in parts, this once
    RELEASE_HOLD = "release_hold"  # resume the order where it was paused and route it if needed
    REPRICE = "reprice"  # params: line_no, unit_price
    ACCEPT = "accept"  # proceed as is (high value verified, not a duplicate, price accepted)
    CANCEL = "cancel"  # params: reason
    HOLD = "hold"  # keep it paused for someone else; params: reason
    RELEASE_TO_WAREHOUSE = "release_to_warehouse"
    NOTIFY_CUSTOMER = "notify_customer"  # a later promise is told to the customer; no order change
    REVIEW_DOCUMENT = "review_document"  # an intake document a person must correct and resubmit
    START_RETURN = "start_return"  # open and authorise a return; params: lines, reason, or rma_id of a held one
    REFUSE_RETURN = "refuse_return"  # refuse a held return; params: rma_id, reason (the customer reads it)
    DISMISS = "dismiss"


# Actions that change money, stock or a customer promise: a person or a policy must approve them.
CONSEQUENTIAL = frozenset(a for a in Action if a not in (Action.NOTIFY_CUSTOMER, Action.DISMISS))


@dataclass(frozen=True)
class Recommendation:
    """The engine's recommended action for a case and what it expects to happen."""

    action: Action
    summary: str
    expected_effect: str
    params: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "summary": self.summary, "expected_effect": self.expected_effect,
                "params": dict(self.params), "confidence": self.confidence, "alternatives": list(self.alternatives)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        return cls(action=Action(data["action"]), summary=str(data.get("summary", "")),
                   expected_effect=str(data.get("expected_effect", "")), params=dict(data.get("params") or {}),
                   confidence=float(data.get("confidence", 0.0)),
                   alternatives=tuple(str(a) for a in data.get("alternatives") or ()))


@dataclass(frozen=True)
class Flag:
    """What detection found: one reason to stop an order, with its evidence and a recommendation."""

    type: ExceptionType
    subtype: str
    reason: str
    evidence: dict[str, Any]
    recommendation: Recommendation
    blocking: bool = True  # False: recorded for a person, the order goes on (e.g. a late parcel)
    hold: bool = False  # pause as on_hold (payment) rather than exception

    @property
    def key(self) -> str:
        return f"{self.type.value}:{self.subtype}"


@dataclass
class ExceptionCase:
    case_id: str
    type: ExceptionType
    subtype: str
    status: CaseStatus
    reason: str
    evidence: dict[str, Any]
    recommendation: Recommendation
    created_at: datetime
    sla_due_at: datetime
    order_id: str | None = None
    document_id: str | None = None
    channel: str = ""
    value: Decimal = Decimal("0")
    deadline: datetime | None = None
    priority: int = 0
    blocking: bool = True
    assignee: str | None = None
    summary: str = ""  # the reviewer's summary, written by the ops assistant
    resolution: dict[str, Any] | None = None  # action, params, note, result, by, reversible, undo
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status is CaseStatus.OPEN

    def sla_breached(self, now: datetime) -> bool:
        return self.is_open and now > self.sla_due_at


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # decided; executing
    EXECUTED = "executed"
    FAILED = "failed"  # approved but the action could not run (re-validation refused it)
    REJECTED = "rejected"


@dataclass
class Proposal:
    """An action an agent proposes; nothing changes until a person approves (or edits and approves)."""

    proposal_id: str
    action: Action
    params: dict[str, Any]
    rationale: str
    proposed_by: str
    created_at: datetime
    status: ProposalStatus = ProposalStatus.PENDING
    order_id: str | None = None
    case_id: str | None = None
    thread_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str = ""
    edited: bool = False
    result: dict[str, Any] | None = None


# -- the policy people set ------------------------------------------------------------------------

DEFAULT_SLA_MINUTES: dict[str, int] = {
    ExceptionType.PAYMENT.value: 30, ExceptionType.ADDRESS.value: 60, ExceptionType.INVENTORY.value: 30,
    ExceptionType.CARRIER.value: 60, ExceptionType.CATALOG.value: 120, ExceptionType.PRICE.value: 120,
    ExceptionType.HIGH_VALUE.value: 60, ExceptionType.COLD_START.value: 240, ExceptionType.DUPLICATE.value: 60,
    ExceptionType.MILESTONE.value: 60, ExceptionType.ANOMALY.value: 60, ExceptionType.INTAKE.value: 120,
}


@dataclass(frozen=True)
class Substitution:
    """An approved substitute: `sku` may replace `for_sku` when its price is within `max_price_delta_pct`."""

    for_sku: str
    sku: str
    max_price_delta_pct: float = 10.0


@dataclass(frozen=True)
class ResolutionPolicy:
    """What the engine may do on its own, and the thresholds it detects with. Versioned, set by ops-admins."""

    version: int = 0
    name: str = "default"
    auto_correct_address: bool = True
    address_min_confidence: float = 0.9
    auto_carrier_swap: bool = True
    auto_substitute: bool = True
    substitutions: tuple[Substitution, ...] = ()
    auto_reroute: bool = True
    auto_release_hold: bool = True
    price_tolerance_pct: float = 2.0
    high_value_default: Decimal = Decimal("5000")
    high_value_b2b: Decimal = Decimal("25000")
    high_value_by_channel: dict[str, Decimal] = field(default_factory=dict)
    high_value_by_account: dict[str, Decimal] = field(default_factory=dict)
    fraud_score_hold: float = 0.7
    duplicate_window_hours: int = 24
    cold_start_min_orders: int = 20
    cold_start_max_line_quantity: int = 10
    cold_start_max_order_value: Decimal = Decimal("2000")
    cold_start_max_line_quantity_b2b: int = 200
    cold_start_max_order_value_b2b: Decimal = Decimal("25000")
    anomaly_enabled: bool = True
    milestone_unrouted_minutes: int = 30
    milestone_unreleased_hours: int = 24
    milestone_unshipped_hours: int = 48
    milestone_undelivered_grace_days: int = 2
    sla_minutes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))

    def high_value_threshold(self, channel: str, account: str | None, b2b: bool = False) -> Decimal:
        """The account's own threshold, else the channel's, else the B2B or consumer default."""
        if account and account in self.high_value_by_account:
            return self.high_value_by_account[account]
        default = self.high_value_b2b if b2b else self.high_value_default
        return self.high_value_by_channel.get(channel, default)

    def sla_for(self, type_: ExceptionType) -> timedelta:
        return timedelta(minutes=self.sla_minutes.get(type_.value, 60))

    def substitute_for(self, sku: str) -> list[Substitution]:
        return [s for s in self.substitutions if s.for_sku == sku]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "name": self.name, "auto_correct_address": self.auto_correct_address,
            "address_min_confidence": self.address_min_confidence, "auto_carrier_swap": self.auto_carrier_swap,
            "auto_substitute": self.auto_substitute,
            "substitutions": [{"for_sku": s.for_sku, "sku": s.sku, "max_price_delta_pct": s.max_price_delta_pct}
                              for s in self.substitutions],
            "auto_reroute": self.auto_reroute, "auto_release_hold": self.auto_release_hold,
            "price_tolerance_pct": self.price_tolerance_pct, "high_value_default": str(self.high_value_default),
            "high_value_b2b": str(self.high_value_b2b),
            "high_value_by_channel": {k: str(v) for k, v in self.high_value_by_channel.items()},
            "high_value_by_account": {k: str(v) for k, v in self.high_value_by_account.items()},
            "fraud_score_hold": self.fraud_score_hold, "duplicate_window_hours": self.duplicate_window_hours,
            "cold_start_min_orders": self.cold_start_min_orders,
            "cold_start_max_line_quantity": self.cold_start_max_line_quantity,
            "cold_start_max_order_value": str(self.cold_start_max_order_value),
            "cold_start_max_line_quantity_b2b": self.cold_start_max_line_quantity_b2b,
            "cold_start_max_order_value_b2b": str(self.cold_start_max_order_value_b2b),
            "anomaly_enabled": self.anomaly_enabled,
            "milestone_unrouted_minutes": self.milestone_unrouted_minutes,
            "milestone_unreleased_hours": self.milestone_unreleased_hours,
            "milestone_unshipped_hours": self.milestone_unshipped_hours,
            "milestone_undelivered_grace_days": self.milestone_undelivered_grace_days,
            "sla_minutes": dict(self.sla_minutes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolutionPolicy:
        """Build from stored or submitted settings; unknown keys and bad values raise ValueError naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a policy setting (unknown: {', '.join(unknown)})")
        values: dict[str, Any] = {}
        for key, value in data.items():
            default = getattr(cls(), key)
            try:
                values[key] = _coerce(key, value, default)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"{key}: {exc}") from None
        return cls(**values)


def _coerce(key: str, value: Any, default: Any) -> Any:
    if key == "substitutions":
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list of {for_sku, sku, max_price_delta_pct}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("for_sku"), str) \
                    or not isinstance(item.get("sku"), str) or not item["for_sku"] or not item["sku"]:
                raise TypeError(f"item {i} needs for_sku and sku")
            pct = _number(item.get("max_price_delta_pct", 10.0), 0, 100)
            out.append(Substitution(item["for_sku"], item["sku"], pct))
        return tuple(out)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, Decimal):
        return _money(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
            raise ValueError("expected a whole number 0-1,000,000")
        return value
    if isinstance(default, float):
        return _number(value, 0, 100 if key.endswith("_pct") else 1 if key != "version" else 1e9)
    if isinstance(default, str):
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise ValueError("expected text of 1-100 characters")
        return value.strip()
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise TypeError("expected an object")
        if key == "sla_minutes":
            bad = [k for k in value if k not in {t.value for t in ExceptionType}]
            if bad:
                raise ValueError(f"unknown exception type(s) {bad}")
            return {**default, **{k: _minutes(v) for k, v in value.items()}}
        return {str(k): _money(v) for k, v in value.items()}
    raise TypeError("unsupported setting")  # pragma: no cover - every field has a coercion above


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise ValueError(f"expected a number {low:g}-{high:g}")
    return float(value)


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError("expected an amount")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise ValueError("expected a non-negative amount")
    return amount


def _minutes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60 * 24 * 14:
        raise ValueError("SLA minutes must be a whole number 1-20160")
    return value


def priority_score(value: Decimal, deadline: datetime | None, now: datetime, blocking: bool = True) -> int:
    """Higher first: value (log-scaled, up to 40 points) and urgency (up to 60 points as the deadline nears).

    A case past its deadline scores the full urgency; a non-blocking case loses a third.
    """
    import math

    worth = min(40.0, 8.0 * math.log10(1.0 + max(float(value), 0.0)))
    if deadline is None:
        urgency = 10.0
    else:
        hours = (deadline - now).total_seconds() / 3600.0
        urgency = 60.0 if hours <= 0 else max(0.0, 60.0 - 60.0 * min(hours, 72.0) / 72.0)
    score = worth + urgency
    return round(score if blocking else score * 2 / 3)
