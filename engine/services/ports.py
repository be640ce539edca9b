"""What the handlers need from storage. SQL adapters and in-memory fakes both implement these."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.domain.access import Principal
from engine.domain.catalog import Sku
from engine.domain.channels import Channel, ChannelCap
from engine.domain.customers import B2BAccount, Customer, PriceList
from engine.domain.exceptions import ExceptionCase, Proposal, ResolutionPolicy
from engine.domain.intake import IntakeDocument
from engine.domain.inventory import Reservation, StockBalance, StockMovement
from engine.domain.network import Carrier, FulfillmentNode, Lane
from engine.domain.notifications import Notification
from engine.domain.orders import Order
from engine.domain.returns import ReturnPolicy, Rma
from engine.domain.routing import AuditEntry, RoutingDecision
from engine.domain.tracking import TrackingUpdate
from engine.intake.matching import BuyerPart
from engine.returns.abuse import Decision, ReturnHistory


@dataclass(frozen=True)
class ShipmentRecord:
    shipment_id: str
    order_id: str
    node: str
    carrier: str
    tracking_number: str
    lines: tuple[tuple[int, int], ...]  # (line number, units)
    shipped_at: datetime


class MasterDataRepository(abc.ABC):
    @abc.abstractmethod
    def get_sku(self, sku: str) -> Sku | None: ...

    @abc.abstractmethod
    def variants_of(self, item: Sku, limit: int = 50) -> list[Sku]:
        """Active SKUs that are another size or colour of `item` (`Sku.is_variant_of`), by SKU code."""

    @abc.abstractmethod
    def existing_skus(self, codes: Iterable[str]) -> set[str]: ...

    @abc.abstractmethod
    def upsert_sku(self, item: Sku) -> bool:
        """Insert or update; True when the SKU is new."""

    @abc.abstractmethod
    def get_node(self, code: str) -> FulfillmentNode | None: ...

    @abc.abstractmethod
    def list_nodes(self) -> list[FulfillmentNode]: ...

    @abc.abstractmethod
    def upsert_node(self, node: FulfillmentNode) -> bool: ...

    @abc.abstractmethod
    def get_channel(self, code: str) -> Channel | None: ...

    @abc.abstractmethod
    def list_channels(self) -> list[Channel]: ...

    @abc.abstractmethod
    def upsert_channel(self, channel: Channel) -> bool: ...

    @abc.abstractmethod
    def upsert_price_list(self, price_list: PriceList) -> bool: ...

    @abc.abstractmethod
    def get_price(self, price_list_code: str, sku: str) -> Decimal | None: ...

    @abc.abstractmethod
    def price_list_exists(self, code: str) -> bool: ...

    @abc.abstractmethod
    def get_account(self, code: str) -> B2BAccount | None: ...

    @abc.abstractmethod
    def upsert_account(self, account: B2BAccount) -> bool: ...

    @abc.abstractmethod
    def account_code_by_edi_partner(self, partner_id: str) -> str | None:
        """The code of the account holding this EDI partner id (unique), or None."""

    @abc.abstractmethod
    def get_customer(self, customer_id: str) -> Customer | None: ...

    @abc.abstractmethod
    def upsert_customer(self, customer: Customer) -> bool: ...

    @abc.abstractmethod
    def customer_id_by_email(self, email: str) -> str | None:
        """The id of the customer with exactly this stored email (unique, stored lower-cased), or None."""

    @abc.abstractmethod
    def account_codes_by_email_domain(self, domain: str) -> list[str]:
        """Codes of the accounts that list `domain` (lower-case) among their email domains."""

    @abc.abstractmethod
    def upsert_carrier(self, carrier: Carrier) -> bool: ...

    @abc.abstractmethod
    def carrier_exists(self, code: str) -> bool: ...

    @abc.abstractmethod
    def upsert_lanes(self, lanes: Sequence[Lane]) -> int: ...

    # Delivery promise
    def sku_flags(self, codes: Iterable[str]) -> dict[str, tuple[bool, bool]]:
        """(hazmat, active) of each SKU among `codes` that exists. Adapters override this with one query."""
        found: dict[str, tuple[bool, bool]] = {}
        for code in set(codes):
            item = self.get_sku(code)
            if item is not None:
                found[code] = (item.hazmat, item.active)
        return found


@dataclass(frozen=True)
class LedgerTotals:
    """What the ledger and the live reservations say one balance must be."""

    on_hand: int = 0
    reserved: int = 0
    priority_reserved: int = 0


class InventoryRepository(abc.ABC):
    @abc.abstractmethod
    def get_balance(self, sku: str, node: str) -> StockBalance | None: ...

    @abc.abstractmethod
    def balances_for_sku(self, sku: str) -> list[StockBalance]: ...

    @abc.abstractmethod
    def ensure_balance(self, sku: str, node: str) -> None:
        """Create a zero balance row for (sku, node) if there is none."""

    @abc.abstractmethod
    def try_reserve(self, sku: str, node: str, quantity: int, priority: bool) -> bool:
        """Reserve in one conditional update; False (and nothing changed) when not available."""

    @abc.abstractmethod
    def unreserve(self, sku: str, node: str, quantity: int, priority: bool) -> None: ...

    @abc.abstractmethod
    def apply_movement(self, movement: StockMovement, *, consume_reserved: int = 0,
                       consume_priority: int = 0) -> int | None:
        """Append to the ledger and move on-hand (and, for shipments, reserved) conditionally.

        Returns on-hand after the move, or None (nothing written) when the move would leave
        on-hand negative or below what stays reserved.
        """

    @abc.abstractmethod
    def set_policy(self, sku: str, node: str, safety_stock: int, protected_qty: int) -> None: ...

    @abc.abstractmethod
    def add_reservations(self, items: Sequence[Reservation]) -> None: ...

    @abc.abstractmethod
    def update_reservation(self, item: Reservation, ended_at: datetime | None) -> None: ...

    @abc.abstractmethod
    def reservations(self, *, order_id: str | None = None, hold_id: str | None = None,
                     active_only: bool = True) -> list[Reservation]: ...

    @abc.abstractmethod
    def active_reservations_at(self, sku: str, node: str) -> list[Reservation]: ...

    @abc.abstractmethod
    def expired_hold_ids(self, now: datetime, limit: int) -> list[str]: ...

    @abc.abstractmethod
    def get_cap(self, channel: str, sku: str) -> ChannelCap | None: ...

    @abc.abstractmethod
    def set_cap(self, cap: ChannelCap) -> None: ...

    @abc.abstractmethod
    def try_take_cap(self, channel: str, sku: str, quantity: int) -> bool: ...

    @abc.abstractmethod
    def give_back_cap(self, channel: str, sku: str, quantity: int) -> None: ...

    @abc.abstractmethod
    def all_balances(self) -> list[StockBalance]: ...

    def balances_at_node(self, node: str) -> list[StockBalance]:
        """Every balance row at one node, by SKU. Adapters override this with a filtered query."""
        return [b for b in self.all_balances() if b.node == node]

    @abc.abstractmethod
    def expected_totals(self) -> dict[tuple[str, str], LedgerTotals]:
        """Per (sku, node): the ledger's sum and the live reservations' sums."""

    @abc.abstractmethod
    def overwrite_balance(self, balance: StockBalance) -> None:
        """Reconciliation repair only: set a balance to the values the ledger proves."""

    @abc.abstractmethod
    def movements(self, sku: str, node: str, limit: int = 100) -> list[StockMovement]: ...

    # Delivery promise
    def balances_for_basket(self, skus: Iterable[str]) -> list[StockBalance]:
        """Every balance row of the given SKUs. Adapters override this with one query."""
        return [b for sku in sorted(set(skus)) for b in self.balances_for_sku(sku)]

    def pick_units_committed(self, days: dict[str, str]) -> dict[str, int]:
        """Units of pick capacity committed per node on its local day (node -> 'YYYY-MM-DD'), as the router
        counts them. Adapters that keep no such counter report none."""
        return {}


class OrderRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, order: Order) -> str:
        """Store a new order and return (and set) its id."""

    @abc.abstractmethod
    def get(self, order_id: str, *, for_update: bool = False) -> Order | None: ...

    @abc.abstractmethod
    def find_by_external_id(self, channel: str, external_id: str) -> str | None: ...

    @abc.abstractmethod
    def save(self, order: Order, *, amended: bool = False) -> None:
        """Persist status, lines and any status changes not stored yet; `amended` also writes the ship-to
        and each line's SKU and price (changed only by exception handling)."""

    @abc.abstractmethod
    def add_shipment(self, shipment_id: str, order_id: str, node: str, carrier: str,
                     tracking_number: str, lines: Sequence[tuple[int, int]],
                     shipped_at: datetime) -> None: ...

    @abc.abstractmethod
    def shipment_exists(self, shipment_id: str) -> bool: ...

    @abc.abstractmethod
    def shipments(self, order_id: str) -> list[ShipmentRecord]:
        """The order's shipments, oldest first."""

    def list_ids(self, *, customer_id: str | None = None, account_code: str | None = None,
                 channel: str | None = None, status: str | None = None, limit: int = 50) -> list[str]:
        """Order ids, newest first, filtered (adapters that can, answer with one query)."""
        raise NotImplementedError


@dataclass(frozen=True)
class StoredResponse:
    command: str
    request_hash: str
    response: Any


class IdempotencyRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, key: str) -> StoredResponse | None: ...

    @abc.abstractmethod
    def add(self, key: str, stored: StoredResponse, at: datetime) -> None: ...


@dataclass(frozen=True)
class LaneService:
    """A lane into one destination region joined with its rate card (None when the card is missing)."""

    carrier: str
    service: str
    origin_node: str
    zone: int
    transit_days: int
    on_time_probability: float
    brackets: tuple[tuple[float, float], ...] | None
    price_per_kg_beyond: float


@dataclass(frozen=True)
class PolicyRecord:
    version: int
    name: str
    weights: dict[str, float]
    max_shipments: int | None
    default_deadline_days: int
    note: str
    created_by: str
    created_at: datetime
    active: bool


class RoutingRepository(abc.ABC):
    """Routing inputs (lanes with rates, markdown risk, capacity counters), policies, decisions, audit."""

    @abc.abstractmethod
    def lane_services_to(self, dest_prefix: str) -> list[LaneService]: ...

    @abc.abstractmethod
    def set_rate_card(self, carrier: str, service: str, zone: int, brackets: Sequence[tuple[Decimal, Decimal]],
                      price_per_kg_beyond: Decimal, currency: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def set_lane_on_time(self, carrier: str, service: str, origin_node: str, dest_prefix: str,
                         probability: Decimal) -> bool:
        """False when the lane does not exist."""

    @abc.abstractmethod
    def set_markdown_risk(self, sku: str, node: str, credit: Decimal, until: datetime | None) -> None: ...

    @abc.abstractmethod
    def markdown_risks(self, skus: Iterable[str], now: datetime) -> list[tuple[str, str, float]]:
        """(sku, node, credit per unit) in force at `now`."""

    @abc.abstractmethod
    def balances_for_skus(self, skus: Iterable[str]) -> list[StockBalance]: ...

    @abc.abstractmethod
    def capacity_used(self, days: dict[str, str]) -> dict[str, int]:
        """Units committed per node on the given local day (node -> 'YYYY-MM-DD')."""

    @abc.abstractmethod
    def try_take_capacity(self, node: str, day: str, units: int, capacity: int) -> bool:
        """Conditionally add `units` to the node's day; False when it would exceed `capacity`."""

    @abc.abstractmethod
    def give_back_capacity(self, node: str, day: str, units: int) -> None: ...

    @abc.abstractmethod
    def policies(self) -> list[PolicyRecord]: ...

    @abc.abstractmethod
    def get_policy(self, version: int) -> PolicyRecord | None: ...

    @abc.abstractmethod
    def active_policy(self) -> PolicyRecord | None: ...

    @abc.abstractmethod
    def add_policy(self, record: PolicyRecord) -> None: ...

    @abc.abstractmethod
    def activate_policy(self, version: int) -> None:
        """Make `version` the only active policy."""

    @abc.abstractmethod
    def add_decision(self, decision: RoutingDecision) -> None: ...

    @abc.abstractmethod
    def decisions(self, order_id: str) -> list[RoutingDecision]:
        """Oldest first."""

    @abc.abstractmethod
    def recent_decisions(self, limit: int = 100) -> list[RoutingDecision]:
        """Newest first, without instances."""

    @abc.abstractmethod
    def allocated_since(self, since: datetime, limit: int) -> list[str]:
        """Orders still allocated (not released) whose last committed decision is at or after `since`."""

    @abc.abstractmethod
    def add_audit(self, entry: AuditEntry) -> None: ...

    @abc.abstractmethod
    def audit(self, entity: str, entity_id: str | None = None, limit: int = 100) -> list[AuditEntry]: ...


class IntakeRepository(abc.ABC):
    """Arrived documents, unique by (source, reference)."""

    @abc.abstractmethod
    def find(self, source: str, reference: str) -> IntakeDocument | None: ...

    @abc.abstractmethod
    def get(self, document_id: str) -> IntakeDocument | None: ...

    @abc.abstractmethod
    def add(self, document: IntakeDocument, raw: bytes) -> str:
        """Insert and return the new id (a concurrent insert of the same reference raises a unique error)."""

    @abc.abstractmethod
    def save(self, document: IntakeDocument) -> None: ...

    @abc.abstractmethod
    def raw(self, document_id: str) -> bytes | None: ...

    @abc.abstractmethod
    def for_order(self, order_id: str) -> IntakeDocument | None:
        """The document an order was placed from, if any."""

    @abc.abstractmethod
    def list(self, status: str | None = None, limit: int = 100) -> list[IntakeDocument]:
        """Newest first."""


class BuyerPartRepository(abc.ABC):
    """Each B2B account's buyer part numbers for our SKUs, unique by (account_code, buyer_part)."""

    @abc.abstractmethod
    def upsert(self, parts: Sequence[BuyerPart], at: datetime) -> int:
        """Insert or replace; answers how many were new."""

    @abc.abstractmethod
    def for_account(self, account_code: str) -> list[BuyerPart]: ...


@dataclass(frozen=True)
class OrderFact:
    """What detection needs to know about one past order (duplicates, cold start, anomaly history)."""

    order_id: str
    channel: str
    customer_id: str | None
    account_code: str | None
    external_id: str
    ship_to: dict[str, Any]
    placed_at: datetime
    status: str
    lines: tuple[tuple[str, int], ...]
    total: Decimal
    payment_key: str = ""  # the payment instrument's fingerprint from the latest payment signal


class ExceptionRepository(abc.ABC):
    """Exception cases, proposals, the resolution policy, the audit trail, carrier incidents and payment signals."""

    @abc.abstractmethod
    def add_case(self, case: ExceptionCase) -> str: ...

    @abc.abstractmethod
    def get_case(self, case_id: str, *, for_update: bool = False) -> ExceptionCase | None: ...

    @abc.abstractmethod
    def save_case(self, case: ExceptionCase) -> None: ...

    @abc.abstractmethod
    def open_case(self, order_id: str | None, document_id: str | None, type_: str, subtype: str
                  ) -> ExceptionCase | None: ...

    @abc.abstractmethod
    def cases(self, *, status: str | None = None, type_: str | None = None, channel: str | None = None,
              order_id: str | None = None, assignee: str | None = None, since: datetime | None = None,
              limit: int = 100) -> list[ExceptionCase]:
        """Open cases by priority (highest first), others newest first."""

    @abc.abstractmethod
    def count_cases(self) -> dict[tuple[str, str], int]:
        """(type, status) -> count."""

    @abc.abstractmethod
    def add_proposal(self, proposal: Proposal) -> None: ...

    @abc.abstractmethod
    def get_proposal(self, proposal_id: str, *, for_update: bool = False) -> Proposal | None: ...

    @abc.abstractmethod
    def save_proposal(self, proposal: Proposal) -> None: ...

    @abc.abstractmethod
    def proposals(self, *, status: str | None = None, order_id: str | None = None, case_id: str | None = None,
                  thread_id: str | None = None, limit: int = 100) -> list[Proposal]: ...

    @abc.abstractmethod
    def active_policy(self) -> ResolutionPolicy | None: ...

    @abc.abstractmethod
    def add_policy(self, policy: ResolutionPolicy, actor: str, note: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def audit_trail(self, *, entity: str | None = None, entity_id: str | None = None, actor: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        """Every recorded decision (cases, proposals, order amendments, policies), newest first."""

    @abc.abstractmethod
    def add_incident(self, carrier: str, kind: str, delay_days: int, dest_prefixes: Sequence[str], reason: str,
                     at: datetime) -> str: ...

    @abc.abstractmethod
    def end_incidents(self, carrier: str, at: datetime) -> int: ...

    @abc.abstractmethod
    def active_incidents(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def add_payment_signal(self, order_id: str, status: str, fraud_score: float, reference: str, detail: str,
                           at: datetime, *, instrument: str = "") -> None: ...

    @abc.abstractmethod
    def payment_signal(self, order_id: str) -> dict[str, Any] | None:
        """The latest signal for the order."""

    @abc.abstractmethod
    def recent_orders(self, since: datetime, *, customer_id: str | None = None, postal_code: str | None = None,
                      instrument: str | None = None, limit: int = 500) -> list[OrderFact]:
        """Orders placed at or after `since`, by customer, ship-to postal code or payment instrument (exact)."""

    @abc.abstractmethod
    def order_history(self, since: datetime, limit: int = 50_000) -> list[OrderFact]:
        """Orders placed since `since`, oldest first (the anomaly model's training data)."""

    @abc.abstractmethod
    def order_counts(self, *, skus: Iterable[str] = (), channel: str | None = None, before: datetime | None = None
                     ) -> dict[str, int]:
        """How many orders (placed before `before`) carried each SKU; with `channel`, the channel's total under
        'channel:<code>' and all channels' under 'all'."""

    @abc.abstractmethod
    def node_order_counts(self, nodes: Iterable[str], before: datetime) -> dict[str, int]:
        """How many orders each node has been given stock for (reservations created before `before`)."""

    @abc.abstractmethod
    def orders_in_status(self, statuses: Sequence[str], updated_before: datetime, limit: int = 500
                         ) -> list[tuple[str, str, datetime]]:
        """(order_id, status, updated_at) of orders in `statuses` not updated since `updated_before`."""


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    principal_id: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredToken:
    issued_to: str
    principal: Principal
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class AccessRepository(abc.ABC):
    """Principals, their API keys and bearer tokens; secrets only as hashes."""

    @abc.abstractmethod
    def add_principal(self, principal: Principal, created_by: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def get_principal(self, principal_id: str) -> tuple[Principal, datetime | None] | None:
        """The principal and when it was revoked (None while active)."""

    @abc.abstractmethod
    def principals(self) -> list[tuple[Principal, datetime | None]]: ...

    @abc.abstractmethod
    def revoke_principal(self, principal_id: str, at: datetime) -> bool: ...

    @abc.abstractmethod
    def add_key(self, key: StoredKey) -> None: ...

    @abc.abstractmethod
    def get_key(self, key_id: str) -> StoredKey | None: ...

    @abc.abstractmethod
    def keys_of(self, principal_id: str) -> list[StoredKey]: ...

    @abc.abstractmethod
    def revoke_key(self, key_id: str, at: datetime) -> bool: ...

    @abc.abstractmethod
    def add_token(self, token_hash: str, token: StoredToken) -> None: ...

    @abc.abstractmethod
    def get_token(self, token_hash: str) -> StoredToken | None: ...

    @abc.abstractmethod
    def revoke_token(self, token_hash: str, at: datetime) -> bool: ...

    @abc.abstractmethod
    def revoke_tokens_of(self, principal_id: str, at: datetime) -> int: ...

    @abc.abstractmethod
    def purge_tokens(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class TrackingRecord:
    carrier: str
    tracking_number: str
    shipment_id: str | None
    order_id: str | None
    status: str
    carrier_code: str
    description: str
    location: str
    occurred_at: datetime
    estimated_delivery: date | None


class TrackingRepository(abc.ABC):
    """Carrier scan events, normalised, each recorded once."""

    @abc.abstractmethod
    def seen(self, carrier: str, event_key: str) -> bool: ...

    @abc.abstractmethod
    def shipment_for(self, carrier: str, tracking_number: str) -> tuple[str, str] | None:
        """(order id, shipment id) of the shipment with this carrier and tracking number."""

    @abc.abstractmethod
    def add(self, update: TrackingUpdate, order_id: str | None, shipment_id: str | None, at: datetime) -> None: ...

    @abc.abstractmethod
    def for_order(self, order_id: str) -> list[TrackingRecord]:
        """The order's scan events, oldest first."""

    @abc.abstractmethod
    def link(self, carrier: str, tracking_number: str, order_id: str, shipment_id: str) -> int:
        """Attach scans that arrived before their shipment was recorded to it; the number attached."""

    @abc.abstractmethod
    def delayed_orders(self, carrier: str, since: datetime) -> list[tuple[str, str]]:
        """(order id, ship-to postal) of orders on `carrier` with a delay or trouble scan since `since`."""


class NotificationRepository(abc.ABC):
    """Drafted messages: one row per dedupe key, the delivery state of each."""

    @abc.abstractmethod
    def add(self, notification: Notification) -> str | None:
        """Store it; None when a notification with the same dedupe key exists (nothing is changed)."""

    @abc.abstractmethod
    def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None: ...

    @abc.abstractmethod
    def claim(self, notification_id: str, attempts: int, lease_until: datetime) -> bool:
        """Take a pending notification for one send: attempts goes up by one and it is not due again before
        `lease_until`, only if it is still pending with `attempts` tries, so of two delivery loops exactly one
        wins and the other does not see it while it is being sent."""

    @abc.abstractmethod
    def search(self, *, status: str | None = None, order_id: str | None = None, recipient: str | None = None,
             limit: int = 100) -> list[Notification]: ...

    @abc.abstractmethod
    def due(self, now: datetime, limit: int) -> list[Notification]: ...

    @abc.abstractmethod
    def sent_since(self, recipient: str, since: datetime) -> int: ...

    @abc.abstractmethod
    def update(self, notification: Notification) -> None:
        """Write status, subject, body, send_after, sent_at, attempts, last_error and decided_by."""


class ReturnRepository(abc.ABC):
    """Returns (RMAs) with their lines, history and the warehouse events already applied."""

    @abc.abstractmethod
    def add(self, rma: Rma) -> None: ...

    @abc.abstractmethod
    def get(self, rma_id: str, *, for_update: bool = False) -> Rma | None: ...

    @abc.abstractmethod
    def save(self, rma: Rma) -> None:
        """Store the changes since `get`: the header, the lines, new history and new references (a
        reference stored twice is refused by the database)."""

    @abc.abstractmethod
    def for_order(self, order_id: str) -> list[Rma]: ...

    @abc.abstractmethod
    def search(self, *, status: Sequence[str] = (), customer_id: str | None = None,
               account_code: str | None = None, limit: int = 100) -> list[Rma]:
        """Newest first."""

    @abc.abstractmethod
    def customer_history(self, customer_id: str, before: datetime) -> ReturnHistory:
        """The customer's orders and returns before `before` (what the abuse score reads)."""

    @abc.abstractmethod
    def by_label(self, carrier: str, tracking_number: str) -> Rma | None:
        """The return whose label this is (for update: a carrier scan moves it)."""

    @abc.abstractmethod
    def active_policy(self) -> tuple[int, ReturnPolicy] | None:
        """The return policy in force and its version (None: the defaults, never changed)."""

    @abc.abstractmethod
    def add_policy(self, version: int, policy: ReturnPolicy, actor: str, note: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def replaced_by(self, order_id: str) -> list[str]:
        """The orders whose returns `order_id` is the exchange replacement of."""

    @abc.abstractmethod
    def sku_demand(self, sku: str, since: datetime) -> dict[str, int]:
        """Units of `sku` ordered since `since`, by the ship-to ZIP3 (where the SKU sells)."""

    @abc.abstractmethod
    def analytics(self, since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Units sold and returned since `since` by SKU, channel, reason and customer segment."""

    @abc.abstractmethod
    def decisions(self, limit: int = 50_000) -> list[Decision]:
        """Returns someone decided, oldest first, with the features each was scored on: refused by a person, or
        authorised (and on from there). Waiting, withdrawn and unscored returns are left out."""
