"""Domain events. Each carries a unique id (so consumers can be idempotent) and a schema version."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from engine.domain.serialize import to_plain


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    event_type: ClassVar[str] = "event"
    version: ClassVar[int] = 1
    aggregate: ClassVar[str] = ""
    event_id: str = field(default_factory=_new_id)
    occurred_at: datetime = field(default_factory=_now)

    @property
    def aggregate_id(self) -> str:
        return ""

    def payload(self) -> dict[str, Any]:
        meta = {"event_id", "occurred_at"}
        return {f.name: to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in meta}


@dataclass(frozen=True, kw_only=True)
class ReservedLine:
    reservation_id: str
    sku: str
    node: str
    quantity: int
    line_no: int | None = None


# -- catalog and network ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MasterDataChanged(Event):
    event_type: ClassVar[str] = "master_data.changed"
    aggregate: ClassVar[str] = "master_data"
    entity: str
    key: str
    change: str

    @property
    def aggregate_id(self) -> str:
        return f"{self.entity}:{self.key}"


# -- inventory -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class StockMoved(Event):
    event_type: ClassVar[str] = "inventory.stock_moved"
    aggregate: ClassVar[str] = "stock"
    movement_id: str
    sku: str
    node: str
    kind: str
    quantity: int
    on_hand_after: int
    reference: str = ""

    @property
    def aggregate_id(self) -> str:
        return f"{self.sku}@{self.node}"


@dataclass(frozen=True, kw_only=True)
class SafetyStockChanged(Event):
    event_type: ClassVar[str] = "inventory.safety_stock_changed"
    aggregate: ClassVar[str] = "stock"
    sku: str
    node: str
    safety_stock: int
    protected_qty: int

    @property
    def aggregate_id(self) -> str:
        return f"{self.sku}@{self.node}"


@dataclass(frozen=True, kw_only=True)
class ChannelCapSet(Event):
    event_type: ClassVar[str] = "inventory.channel_cap_set"
    aggregate: ClassVar[str] = "channel_cap"
    channel: str
    sku: str
    cap: int

    @property
    def aggregate_id(self) -> str:
        return f"{self.channel}:{self.sku}"


@dataclass(frozen=True, kw_only=True)
class CheckoutHoldPlaced(Event):
    event_type: ClassVar[str] = "inventory.hold_placed"
    aggregate: ClassVar[str] = "hold"
    hold_id: str
    channel: str
    expires_at: datetime
    lines: tuple[ReservedLine, ...]

    @property
    def aggregate_id(self) -> str:
        return self.hold_id


@dataclass(frozen=True, kw_only=True)
class CheckoutHoldEnded(Event):
    event_type: ClassVar[str] = "inventory.hold_ended"
    aggregate: ClassVar[str] = "hold"
    hold_id: str
    outcome: str  # expired | released | converted
    order_id: str | None = None

    @property
    def aggregate_id(self) -> str:
        return self.hold_id


@dataclass(frozen=True, kw_only=True)
class ReservationsReleased(Event):
    event_type: ClassVar[str] = "inventory.reservations_released"
    aggregate: ClassVar[str] = "stock"
    reason: str
    lines: tuple[ReservedLine, ...]
    order_id: str | None = None
    hold_id: str | None = None

    @property
    def aggregate_id(self) -> str:
        return self.order_id or self.hold_id or ""


@dataclass(frozen=True, kw_only=True)
class InventoryDiscrepancyDetected(Event):
    event_type: ClassVar[str] = "inventory.discrepancy_detected"
    aggregate: ClassVar[str] = "stock"
    sku: str
    node: str
    source: str
    expected_on_hand: int
    counted_on_hand: int
    reserved_before: int
    affected_orders: tuple[str, ...] = ()

    @property
    def aggregate_id(self) -> str:
        return f"{self.sku}@{self.node}"


# -- orders ----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class OrderEvent(Event):
    aggregate: ClassVar[str] = "order"
    order_id: str

    @property
    def aggregate_id(self) -> str:
        return self.order_id


@dataclass(frozen=True, kw_only=True)
class OrderReceived(OrderEvent):
    event_type: ClassVar[str] = "order.received"
    channel: str
    external_id: str
    customer_id: str | None
    account_code: str | None
    line_count: int
    total: str


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(OrderEvent):
    event_type: ClassVar[str] = "order.status_changed"
    from_status: str | None
    to_status: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderAllocated(OrderEvent):
    event_type: ClassVar[str] = "order.allocated"
    lines: tuple[ReservedLine, ...]


@dataclass(frozen=True, kw_only=True)
class OrderShipped(OrderEvent):
    event_type: ClassVar[str] = "order.shipment_recorded"
    shipment_id: str
    node: str
    carrier: str
    tracking_number: str
    lines: tuple[tuple[int, int], ...]
    complete: bool


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    event_type: ClassVar[str] = "order.cancelled"
    reason: str
    released_units: int


# -- routing ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class OrderRouted(OrderEvent):
    """A routing decision was committed; `kind` is placement or reoptimisation."""

    event_type: ClassVar[str] = "order.routed"
    decision_id: str
    kind: str
    policy_version: int
    solver: str
    cost: float
    shipments: int
    nodes: tuple[str, ...]
    baseline_costs: dict[str, float | None]


@dataclass(frozen=True, kw_only=True)
class RoutingFailed(OrderEvent):
    """No plan could be committed: the order went to exception with the reasons."""

    event_type: ClassVar[str] = "order.routing_failed"
    decision_id: str
    reason: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class RoutingPolicyChanged(Event):
    event_type: ClassVar[str] = "routing.policy_changed"
    aggregate: ClassVar[str] = "routing_policy"
    policy_version: int
    change: str
    actor: str

    @property
    def aggregate_id(self) -> str:
        return str(self.policy_version)


# -- intake ----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class IntakeDocumentSettled(Event):
    event_type: ClassVar[str] = "intake.document_settled"
    aggregate: ClassVar[str] = "intake_document"
    document_id: str
    source: str
    status: str
    kind: str
    order_id: str | None
    problem_codes: tuple[str, ...]

    @property
    def aggregate_id(self) -> str:
        return self.document_id


# -- exceptions ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ExceptionEvent(Event):
    aggregate: ClassVar[str] = "exception"
    case_id: str
    order_id: str | None = None

    @property
    def aggregate_id(self) -> str:
        return self.case_id


@dataclass(frozen=True, kw_only=True)
class ExceptionOpened(ExceptionEvent):
    event_type: ClassVar[str] = "exception.opened"
    type: str
    subtype: str
    reason: str
    recommended_action: str
    priority: int
    blocking: bool


@dataclass(frozen=True, kw_only=True)
class ExceptionClosed(ExceptionEvent):
    event_type: ClassVar[str] = "exception.closed"
    status: str
    action: str
    actor: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderAmended(OrderEvent):
    """A person or the resolution policy changed an order: address, a line's SKU or price."""

    event_type: ClassVar[str] = "order.amended"
    change: str
    before: dict[str, Any]
    after: dict[str, Any]
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class PaymentSignalRecorded(OrderEvent):
    event_type: ClassVar[str] = "order.payment_signal"
    status: str
    fraud_score: float


@dataclass(frozen=True, kw_only=True)
class CarrierIncidentRecorded(Event):
    event_type: ClassVar[str] = "carrier.incident"
    aggregate: ClassVar[str] = "carrier"
    carrier: str
    kind: str
    delay_days: int
    reason: str
    dest_prefixes: tuple[str, ...] = ()

    @property
    def aggregate_id(self) -> str:
        return self.carrier


@dataclass(frozen=True, kw_only=True)
class ProposalEvent(Event):
    aggregate: ClassVar[str] = "proposal"
    proposal_id: str
    action: str
    order_id: str | None = None
    case_id: str | None = None

    @property
    def aggregate_id(self) -> str:
        return self.proposal_id


@dataclass(frozen=True, kw_only=True)
class ProposalCreated(ProposalEvent):
    event_type: ClassVar[str] = "proposal.created"
    proposed_by: str


@dataclass(frozen=True, kw_only=True)
class ProposalDecided(ProposalEvent):
    event_type: ClassVar[str] = "proposal.decided"
    decision: str
    actor: str


# -- tracking --------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class TrackingRecorded(OrderEvent):
    """A carrier scan for one of the order's shipments, normalised."""

    event_type: ClassVar[str] = "order.tracking_recorded"
    shipment_id: str
    carrier: str
    tracking_number: str
    status: str
    estimated_delivery: str | None
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderDelayed(OrderEvent):
    """The carrier's expected delivery moved past the order's promise (or the parcel is held up)."""

    event_type: ClassVar[str] = "order.delayed"
    shipment_id: str
    carrier: str
    tracking_number: str
    promised: str | None
    new_date: str | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(OrderEvent):
    event_type: ClassVar[str] = "order.delivered"
    shipment_id: str
    carrier: str
    tracking_number: str


# -- returns ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReturnEvent(Event):
    aggregate: ClassVar[str] = "return"
    rma_id: str
    order_id: str

    @property
    def aggregate_id(self) -> str:
        return self.rma_id


@dataclass(frozen=True, kw_only=True)
class ReturnRequested(ReturnEvent):
    event_type: ClassVar[str] = "return.requested"
    lines: tuple[dict[str, Any], ...]
    resolution: str
    restock_node: str | None
    abuse_score: float | None


@dataclass(frozen=True, kw_only=True)
class ReturnStatusChanged(ReturnEvent):
    event_type: ClassVar[str] = "return.status_changed"
    from_status: str | None
    to_status: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReturnReceived(ReturnEvent):
    """Units of a return arrived (one warehouse receipt)."""

    event_type: ClassVar[str] = "return.received"
    node: str
    reference: str
    quantities: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class ReturnLineGraded(ReturnEvent):
    event_type: ClassVar[str] = "return.line_graded"
    line_no: int
    sku: str
    quantity: int
    grade: str
    disposition: str | None
    restocked_at: str | None  # the node whose stock went up, when the units are sellable


@dataclass(frozen=True, kw_only=True)
class ReturnRefunded(ReturnEvent):
    """Money goes back to the customer: the payment integration acts on this event."""

    event_type: ClassVar[str] = "return.refunded"
    amount: str
    currency: str
    restocking_fee_pct: str


@dataclass(frozen=True, kw_only=True)
class ReturnExchanged(ReturnEvent):
    event_type: ClassVar[str] = "return.exchanged"
    exchange_order_id: str
