"""Commands: every change of state is one of these, handled inside one unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import ClassVar

from engine.domain.catalog import Substitute
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from engine.domain.network import NodeType
from engine.domain.tracking import TrackingUpdate


@dataclass(frozen=True, kw_only=True)
class Command:
    idempotency_key: str | None = None
    # Fields the engine computes for the caller (not what the caller asked): a retried request with the same
    # key is the same request even when they come out differently the second time.
    derived: ClassVar[frozenset[str]] = frozenset()


# -- master data -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class UpsertSku(Command):
    sku: str
    name: str
    category: str
    unit_price: Decimal
    weight_kg: Decimal
    hazmat: bool = False
    is_new: bool = False
    unit_of_measure: str = "EA"
    attributes: dict[str, str] = field(default_factory=dict)
    substitutes: tuple[Substitute, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UpsertNode(Command):
    code: str
    name: str
    node_type: NodeType
    city: str
    state: str
    postal_code: str
    latitude: float
    longitude: float
    timezone: str
    daily_pick_capacity: int
    cutoff_local: time
    ship_from_enabled: bool = True
    hazmat_capable: bool = False
    b2b_only: bool = False
    handling_cost: Decimal = Decimal("1.50")


@dataclass(frozen=True, kw_only=True)
class UpsertChannel(Command):
    code: str
    name: str
    kind: ChannelKind
    priority: bool = False


@dataclass(frozen=True, kw_only=True)
class UpsertPriceList(Command):
    code: str
    currency: str
    prices: dict[str, Decimal]


@dataclass(frozen=True, kw_only=True)
class UpsertAccount(Command):
    code: str
    name: str
    tier: Tier
    price_list_code: str
    credit_limit: Decimal
    ship_complete: bool = False
    edi_partner_id: str | None = None
    email_domains: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UpsertCustomer(Command):
    customer_id: str
    email: str
    name: str
    tier: Tier = Tier.STANDARD
    account_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpsertCarrier(Command):
    code: str
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class UpsertLanes(Command):
    lanes: tuple[tuple[str, str, str, str, int, int] | tuple[str, str, str, str, int, int, float], ...]
    """(carrier, service, origin node, destination ZIP3, zone, transit days[, on-time probability])"""


# -- inventory -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReceiveStock(Command):
    sku: str
    node: str
    quantity: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class AdjustStock(Command):
    sku: str
    node: str
    delta: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordCycleCount(Command):
    sku: str
    node: str
    counted: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class TransferStock(Command):
    sku: str
    from_node: str
    to_node: str
    quantity: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordPick(Command):
    """Units taken off the shelf without a reservation: a walk-in store sale, a sample, a write-off pick."""

    sku: str
    node: str
    quantity: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordReturnReceipt(Command):
    sku: str
    node: str
    quantity: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class SetStockPolicy(Command):
    """Safety stock and the quantity protected for priority channels at one node."""

    sku: str
    node: str
    safety_stock: int
    protected_qty: int = 0


@dataclass(frozen=True, kw_only=True)
class SetChannelCap(Command):
    channel: str
    sku: str
    cap: int
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class LineAllocation:
    """Reserve `quantity` units of the order line's SKU at `node`."""

    line_no: int
    node: str
    quantity: int


@dataclass(frozen=True)
class HoldLine:
    sku: str
    node: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class PlaceCheckoutHold(Command):
    channel: str
    lines: tuple[HoldLine, ...]
    ttl_seconds: int = 900
    hold_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseCheckoutHold(Command):
    hold_id: str


@dataclass(frozen=True, kw_only=True)
class ExpireCheckoutHolds(Command):
    limit: int = 1000


@dataclass(frozen=True, kw_only=True)
class ReconcileInventory(Command):
    repair: bool = False


# -- orders ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewOrderLine:
    sku: str
    quantity: int
    unit_price: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class PlaceOrder(Command):
    channel: str
    external_id: str
    lines: tuple[NewOrderLine, ...]
    ship_to: dict[str, str]
    customer_id: str | None = None
    account_code: str | None = None
    currency: str = "USD"
    requested_delivery: datetime | None = None
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class AllocateOrder(Command):
    """Reserve stock for an order, all lines or none. Either an explicit plan or a checkout hold."""

    order_id: str
    allocations: tuple[LineAllocation, ...] = ()
    from_hold: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeallocateOrder(Command):
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReleaseOrderToFulfillment(Command):
    order_id: str


@dataclass(frozen=True)
class ShipmentLine:
    line_no: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class RecordShipment(Command):
    order_id: str
    node: str
    lines: tuple[ShipmentLine, ...]
    carrier: str = ""
    tracking_number: str = ""
    shipment_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MarkDelivered(Command):
    order_id: str


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class HoldOrder(Command):
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class FlagOrderException(Command):
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ResumeOrder(Command):
    """Take an order off hold or out of exception, back to where it was paused from."""

    order_id: str
    reason: str
    to_validated: bool = False


# -- routing ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SetRateCard(Command):
    """A carrier service's prices for one zone: (max weight kg, price) brackets, ascending."""

    carrier: str
    service: str
    zone: int
    brackets: tuple[tuple[Decimal, Decimal], ...]
    price_per_kg_beyond: Decimal
    currency: str = "USD"


@dataclass(frozen=True, kw_only=True)
class SetLaneOnTime(Command):
    """The measured share of on-time deliveries of one lane (carrier x service x node x ZIP3)."""

    carrier: str
    service: str
    origin_node: str
    dest_prefix: str
    on_time_probability: Decimal


@dataclass(frozen=True, kw_only=True)
class SetMarkdownRisk(Command):
    """Credit per unit for shipping a SKU from a node where it loses value if it stays; 0 removes it."""

    sku: str
    node: str
    credit_per_unit: Decimal
    until: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CreateRoutingPolicy(Command):
    """A new version of the routing objective's weights; `activate` switches routing to it at once."""

    name: str
    weights: dict[str, float]
    actor: str
    max_shipments: int | None = None
    default_deadline_days: int = 5
    note: str = ""
    activate: bool = False


@dataclass(frozen=True, kw_only=True)
class ActivateRoutingPolicy(Command):
    version: int
    actor: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CommitRouting(Command):
    """Reserve a routing plan computed for `expected_version` of the order and store its decision.

    Sent by `engine.services.routing.OrderRouter`, which solved the plan outside the transaction. For a
    re-optimisation the order's current reservations are released and replaced in the same transaction.
    """

    order_id: str
    expected_version: int
    decision: object  # engine.domain.routing.RoutingDecision (typed loosely: commands stay hashable)


@dataclass(frozen=True, kw_only=True)
class RecordRoutingDecision(Command):
    """Store a decision that reserves nothing (lost race, kept plan); `flag_reason` sends the order to exception."""

    order_id: str
    decision: object
    flag_reason: str | None = None


# -- intake ----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReceiveIntakeDocument(Command):
    """Store an arrived document once per (source, reference); a repeat answers the stored one."""

    source: str
    reference: str
    raw: bytes
    sender: str = ""
    subject: str = ""


@dataclass(frozen=True, kw_only=True)
class SettleIntakeDocument(Command):
    """Record what a document became: an order, a draft for review, a non-order, or a rejection."""

    document_id: str
    status: str
    kind: str = "unknown"
    draft: dict[str, object] | None = None
    problems: tuple[dict[str, object], ...] = ()
    order_id: str | None = None


# -- catalog matching ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuyerPartEntry:
    """One buyer part number of an account: our SKU and how many of our units one of theirs holds."""

    buyer_part: str
    sku: str
    buyer_uom: str = "EA"
    units_per_buyer_uom: int = 1
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class UpsertBuyerParts(Command):
    """Create or replace an account's buyer part cross-reference entries (others are kept)."""

    account_code: str
    parts: tuple[BuyerPartEntry, ...] = ()


# -- exceptions, proposals and the resolution policy -----------------------------------------------

@dataclass(frozen=True, kw_only=True)
class OpenException(Command):
    """Open a case for an order (or an intake document) unless the same type and subtype is open already;
    a blocking flag pauses the order (`hold`: on hold, else exception)."""

    type: str
    subtype: str
    reason: str
    evidence: dict[str, object] = field(default_factory=dict)
    recommendation: dict[str, object] = field(default_factory=dict)
    order_id: str | None = None
    document_id: str | None = None
    blocking: bool = True
    hold: bool = False
    deadline: datetime | None = None
    actor: str = "engine"


@dataclass(frozen=True, kw_only=True)
class CloseException(Command):
    """Record how a case ended: `auto_resolved` (by policy), `resolved` (by a person), `dismissed` or
    `cleared`. The action itself ran before, through its own commands; `undo` says how to reverse it."""

    case_id: str
    status: str
    action: str
    actor: str
    note: str = ""
    params: dict[str, object] = field(default_factory=dict)
    result: dict[str, object] = field(default_factory=dict)
    undo: dict[str, object] | None = None


@dataclass(frozen=True, kw_only=True)
class AssignException(Command):
    case_id: str
    assignee: str | None
    actor: str


@dataclass(frozen=True, kw_only=True)
class AnnotateException(Command):
    """Attach the reviewer's summary (written by the ops assistant) or a note to a case."""

    case_id: str
    summary: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class SetResolutionPolicy(Command):
    """A new version of the resolution policy, active at once; unknown settings are refused."""

    settings: dict[str, object]
    actor: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class CorrectOrderAddress(Command):
    """Replace the ship-to of an order that is not yet allocated; the previous address is kept in the audit."""

    order_id: str
    ship_to: dict[str, str]
    reason: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class SubstituteOrderLine(Command):
    """Replace the SKU of an unallocated line with an approved substitute; the line keeps its price."""

    order_id: str
    line_no: int
    sku: str
    reason: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class RepriceOrderLine(Command):
    order_id: str
    line_no: int
    unit_price: Decimal
    reason: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class RecordPaymentSignal(Command):
    """What the payment gateway or fraud screen says about an order: authorized, declined, review, cleared."""

    order_id: str
    status: str
    fraud_score: float = 0.0
    reference: str = ""
    detail: str = ""
    instrument: str = ""  # a fingerprint of the card or account (never the number itself)


@dataclass(frozen=True, kw_only=True)
class RecordShortPick(Command):
    """The warehouse could not pick `short` units of a line: they are written off the shelf (the count is
    the truth), the line's reservation there is given back, and the order goes to exception."""

    order_id: str
    node: str
    line_no: int
    short: int
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordCarrierIncident(Command):
    """A carrier outage or delay (routing avoids a carrier in outage), or its all-clear."""

    carrier: str
    kind: str  # outage | delay | cleared
    reason: str
    delay_days: int = 0
    dest_prefixes: tuple[str, ...] = ()  # ZIP3s affected; empty: everywhere


@dataclass(frozen=True, kw_only=True)
class CreateProposal(Command):
    """An agent's proposed action; it changes nothing until a person decides."""

    action: str
    params: dict[str, object]
    rationale: str
    proposed_by: str
    order_id: str | None = None
    case_id: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DecideProposal(Command):
    """A person's decision on a pending proposal: approve, edit (approve with changed params) or reject."""

    proposal_id: str
    decision: str
    actor: str
    params: dict[str, object] | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordProposalResult(Command):
    proposal_id: str
    executed: bool
    result: dict[str, object] = field(default_factory=dict)


# -- tracking --------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RecordTracking(Command):
    """Carrier scan events (already normalised by engine.domain.tracking.parse_webhook), each recorded once."""

    carrier: str
    updates: tuple[TrackingUpdate, ...]


# -- returns ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReturnLineRequest:
    line_no: int
    quantity: int
    reason: str  # a ReturnReason value
    exchange_sku: str | None = None  # an exchange for another variant (size, colour) at the same price


@dataclass(frozen=True, kw_only=True)
class RequestReturn(Command):
    """A customer (or ops for them) asks to send lines of an order back. Eligibility is checked against the
    return policy; eligible lines become an RMA in `requested` (refused lines are named, nothing is stored
    when no line is eligible). The returns desk scores abuse and chooses the restock node before this runs."""

    derived: ClassVar[frozenset[str]] = frozenset({"restock_node", "restock_plan", "abuse_score", "abuse_evidence"})
    order_id: str
    lines: tuple[ReturnLineRequest, ...]
    resolution: str = "refund"           # refund | exchange
    customer_text: str = ""
    from_postal: str = ""                # where the parcel comes from (the order's ship-to when empty)
    requested_by: str = ""
    restock_node: str | None = None
    restock_plan: dict[str, object] | None = None
    abuse_score: float | None = None
    abuse_evidence: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True, kw_only=True)
class AuthoriseReturn(Command):
    rma_id: str
    actor: str
    reason: str = "within policy"


@dataclass(frozen=True, kw_only=True)
class RefuseReturn(Command):
    rma_id: str
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelReturn(Command):
    rma_id: str
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class LinkReturnCase(Command):
    rma_id: str
    case_id: str


@dataclass(frozen=True, kw_only=True)
class IssueReturnLabel(Command):
    rma_id: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True, kw_only=True)
class RecordReturnInTransit(Command):
    rma_id: str


@dataclass(frozen=True, kw_only=True)
class ReceiveReturn(Command):
    """Units of a return arrived at its restock node: `quantities` is {line_no: units}. The reference (the
    warehouse's receipt or scan id) makes a redelivered event change nothing."""

    rma_id: str
    node: str
    reference: str
    quantities: tuple[tuple[int, int], ...]
    close_short: bool = False            # nothing more is coming: grade what arrived


@dataclass(frozen=True, kw_only=True)
class GradeReturnLine(Command):
    """The inspector's grade of one received line. The disposition follows from the rules (or is given);
    sellable units go back into stock at the restock node through the ledger, once."""

    rma_id: str
    line_no: int
    grade: str
    reference: str
    note: str = ""
    disposition: str | None = None
    vendor_returnable: bool = True
    actor: str = ""


@dataclass(frozen=True, kw_only=True)
class SettleReturn(Command):
    """Refund a disposed return (amount from the policy), or record the replacement order of an exchange;
    then close it."""

    rma_id: str
    exchange_order_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetReturnPolicy(Command):
    """A new version of the return policy: `settings` changes the current one (the rest stays)."""

    settings: dict[str, object]
    actor: str
    note: str = ""
