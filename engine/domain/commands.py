"""Commands: every change of state is one of these, handled inside one unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

from engine.domain.catalog import Substitute
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from engine.domain.network import NodeType


@dataclass(frozen=True, kw_only=True)
class Command:
    idempotency_key: str | None = None


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
