"""The relational schema (SQLAlchemy Core). Domain classes stay plain; repositories map rows."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# An integer primary key that autoincrements on both SQLite (INTEGER) and PostgreSQL (BIGINT).
BigId = BigInteger().with_variant(Integer(), "sqlite")
TS = DateTime(timezone=True)
Money = Numeric(14, 4)

skus = Table(
    "skus", metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("category", String(100), nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("weight_kg", Numeric(10, 3), nullable=False),
    Column("hazmat", Boolean, nullable=False, default=False),
    Column("is_new", Boolean, nullable=False, default=False),
    Column("unit_of_measure", String(8), nullable=False, default="EA"),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("active", Boolean, nullable=False, default=True),
)

sku_substitutes = Table(
    "sku_substitutes", metadata,
    Column("sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("substitute_sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("min_price_ratio", Numeric(6, 3), nullable=False),
    Column("max_price_ratio", Numeric(6, 3), nullable=False),
    Column("valid_from", DateTime(), nullable=True),
    Column("valid_until", DateTime(), nullable=True),
)

nodes = Table(
    "nodes", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("node_type", String(16), nullable=False),
    Column("city", String(100), nullable=False),
    Column("state", String(8), nullable=False),
    Column("postal_code", String(16), nullable=False),
    Column("latitude", Numeric(9, 6), nullable=False),
    Column("longitude", Numeric(9, 6), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("daily_pick_capacity", Integer, nullable=False),
    Column("cutoff_local", String(5), nullable=False),
    Column("ship_from_enabled", Boolean, nullable=False),
    Column("hazmat_capable", Boolean, nullable=False),
    Column("b2b_only", Boolean, nullable=False),
    Column("handling_cost", Money, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

channels = Table(
    "channels", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", Boolean, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

carriers = Table(
    "carriers", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("services", JSON, nullable=False),
)

lanes = Table(
    "lanes", metadata,
    Column("carrier", String(32), ForeignKey("carriers.code"), primary_key=True),
    Column("service", String(16), primary_key=True),
    Column("origin_node", String(32), ForeignKey("nodes.code"), primary_key=True),
    Column("dest_prefix", String(3), primary_key=True),
    Column("zone", Integer, nullable=False),
    Column("transit_days", Integer, nullable=False),
    # Share of this lane's shipments delivered on time (from tracking history; a planning default until then).
    Column("on_time_probability", Numeric(5, 4), nullable=False, server_default="0.95"),
    CheckConstraint("on_time_probability >= 0 AND on_time_probability <= 1", name="on_time_range"),
    Index("ix_lanes_dest_prefix", "dest_prefix"),  # routing and the promise read the lanes into one ZIP3
)

# Published-style rate card per carrier service and zone: `brackets` is [[max_weight_kg, price], ...] in
# ascending weight; above the last bracket every started kilogram costs `price_per_kg_beyond`.
rate_cards = Table(
    "rate_cards", metadata,
    Column("carrier", String(32), ForeignKey("carriers.code"), primary_key=True),
    Column("service", String(16), primary_key=True),
    Column("zone", Integer, primary_key=True),
    Column("brackets", JSON, nullable=False),
    Column("price_per_kg_beyond", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", TS, nullable=False),
)

# Credit per unit for shipping stock that loses value if it stays at a node (seasonal, end of life).
markdown_risk = Table(
    "markdown_risk", metadata,
    Column("sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("node", String(32), ForeignKey("nodes.code"), primary_key=True),
    Column("credit_per_unit", Money, nullable=False),
    Column("until", TS, nullable=True),
)

price_lists = Table(
    "price_lists", metadata,
    Column("code", String(32), primary_key=True),
    Column("currency", String(3), nullable=False),
)

price_list_items = Table(
    "price_list_items", metadata,
    Column("price_list_code", String(32), ForeignKey("price_lists.code"), primary_key=True),
    Column("sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("price", Money, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("price_list_code", String(32), ForeignKey("price_lists.code"), nullable=False),
    Column("credit_limit", Money, nullable=False),
    Column("ship_complete", Boolean, nullable=False),
    Column("edi_partner_id", String(64), nullable=True, unique=True),
    Column("email_domains", JSON, nullable=False, default=list),
)

customers = Table(
    "customers", metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("account_code", String(32), ForeignKey("accounts.code"), nullable=True),
)

# The database itself refuses a commit that would break the stock invariant: the conditional
# updates in the repository are the first line of defence, these checks the last.
stock_balances = Table(
    "stock_balances", metadata,
    Column("sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("node", String(32), ForeignKey("nodes.code"), primary_key=True),
    Column("on_hand", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("safety_stock", Integer, nullable=False, default=0),
    Column("protected_qty", Integer, nullable=False, default=0),
    Column("priority_reserved", Integer, nullable=False, default=0),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    CheckConstraint("safety_stock >= 0", name="safety_not_negative"),
    CheckConstraint("protected_qty >= 0", name="protected_not_negative"),
    CheckConstraint("priority_reserved >= 0 AND priority_reserved <= reserved",
                    name="priority_reserved_within_reserved"),
)

stock_movements = Table(
    "stock_movements", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("movement_id", String(32), nullable=False, unique=True),
    Column("sku", String(64), nullable=False),
    Column("node", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("reference", String(200), nullable=False, default=""),
    Column("reason", String(500), nullable=False, default=""),
    Column("occurred_at", TS, nullable=False),
    Index("ix_stock_movements_sku_node", "sku", "node"),
)

reservations = Table(
    "reservations", metadata,
    Column("reservation_id", String(32), primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("node", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("consumed", Integer, nullable=False, default=0),
    Column("channel", String(32), nullable=False),
    Column("priority", Boolean, nullable=False),
    Column("order_id", String(32), nullable=True),
    Column("line_no", Integer, nullable=True),
    Column("hold_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=True),
    Column("ended_at", TS, nullable=True),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("consumed >= 0 AND consumed <= quantity", name="consumed_within_quantity"),
    Index("ix_reservations_order", "order_id"),
    Index("ix_reservations_hold", "hold_id"),
    Index("ix_reservations_status_expiry", "status", "expires_at"),
    Index("ix_reservations_sku_node_status", "sku", "node", "status"),
)

channel_caps = Table(
    "channel_caps", metadata,
    Column("channel", String(32), ForeignKey("channels.code"), primary_key=True),
    Column("sku", String(64), ForeignKey("skus.sku"), primary_key=True),
    Column("cap", Integer, nullable=False),
    Column("used", Integer, nullable=False, default=0),
    Column("starts_at", TS, nullable=True),
    Column("ends_at", TS, nullable=True),
    CheckConstraint("cap >= 0", name="cap_not_negative"),
    CheckConstraint("used >= 0", name="used_not_negative"),
)

orders = Table(
    "orders", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(32), ForeignKey("channels.code"), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("account_code", String(32), nullable=True),
    Column("ship_to", JSON, nullable=False),
    # The ship-to postal code, normalised, for duplicate and velocity look-ups (kept with ship_to).
    Column("ship_postal", String(16), nullable=False, default="", server_default=""),
    Column("status", String(24), nullable=False),
    Column("paused_from", String(24), nullable=True),
    Column("status_reason", String(500), nullable=False, default=""),
    Column("currency", String(3), nullable=False),
    Column("requested_delivery", TS, nullable=True),
    Column("notes", Text, nullable=False, default=""),
    Column("placed_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
    Index("ix_orders_status", "status"),
    Index("ix_orders_placed_at", "placed_at"),
    Index("ix_orders_customer_id", "customer_id", "placed_at"),
    Index("ix_orders_ship_postal", "ship_postal", "placed_at"),
    Index("ix_orders_status_updated_at", "status", "updated_at"),
)

order_lines = Table(
    "order_lines", metadata,
    Column("order_id", BigId, ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), ForeignKey("skus.sku"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("allocated", Integer, nullable=False, default=0),
    Column("shipped", Integer, nullable=False, default=0),
    Column("cancelled", Integer, nullable=False, default=0),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("shipped + cancelled <= quantity", name="shipped_within_quantity"),
)

order_status_history = Table(
    "order_status_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("reason", String(500), nullable=False, default=""),
    Index("ix_order_status_history_order", "order_id"),
)

shipments = Table(
    "shipments", metadata,
    Column("shipment_id", String(64), primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("node", String(32), nullable=False),
    Column("carrier", String(32), nullable=False),
    Column("tracking_number", String(64), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("shipped_at", TS, nullable=False),
    Index("ix_shipments_order", "order_id"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("aggregate", String(32), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("published_at", TS, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("key", String(200), primary_key=True),
    Column("command", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

processed_events = Table(
    "processed_events", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(32), primary_key=True),
    Column("processed_at", TS, nullable=False),
)

# Versioned objective weights people set; rows are never changed once written, one version is active.
routing_policies = Table(
    "routing_policies", metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("weights", JSON, nullable=False),
    Column("max_shipments", Integer, nullable=True),
    Column("default_deadline_days", Integer, nullable=False),
    Column("note", String(500), nullable=False, default=""),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
)

# One row per routing decision (placement, re-solve after a lost race, batch re-optimisation, failure):
# the plan, the explanation and what each baseline would have done, for audit and shadow comparison.
routing_decisions = Table(
    "routing_decisions", metadata,
    Column("decision_id", String(32), primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("solver", String(32), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("cost", Numeric(14, 4), nullable=True),
    Column("shipments", Integer, nullable=False),
    Column("solve_time_ms", Numeric(10, 3), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("baselines", JSON, nullable=False),
    Column("instance", JSON, nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_routing_decisions_order", "order_id", "created_at"),
)

# Units of pick capacity committed per node and local calendar day: a conditional counter like the caps.
node_day_usage = Table(
    "node_day_usage", metadata,
    Column("node", String(32), ForeignKey("nodes.code"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("used", Integer, nullable=False, default=0),
    CheckConstraint("used >= 0", name="used_non_negative"),
)

# Who decided what: policy changes, routing overrides, approvals.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(128), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_entity", "entity", "entity_id", "at"),
)

# Every document that arrived through intake (email, EDI interchange/set, API payload), once per reference
# (Message-ID; ISA13/GS06/ST02; request key): what it became and why, so nothing accepted is ever lost.
intake_documents = Table(
    "intake_documents", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("sender", String(254), nullable=False, default=""),
    Column("subject", String(300), nullable=False, default=""),
    Column("raw", LargeBinary, nullable=False),
    Column("kind", String(16), nullable=False, default="unknown"),
    Column("status", String(16), nullable=False),
    Column("draft", JSON, nullable=True),
    Column("problems", JSON, nullable=False, default=list),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("source", "reference", name="uq_intake_documents_source_reference"),
    Index("ix_intake_documents_status", "status", "received_at"),
)

# A B2B account's own part numbers for our SKUs, and how their unit of measure converts to ours.
buyer_part_xref = Table(
    "buyer_part_xref", metadata,
    Column("account_code", String(32), ForeignKey("accounts.code"), primary_key=True),
    Column("buyer_part", String(64), primary_key=True),
    Column("sku", String(64), ForeignKey("skus.sku"), nullable=False),
    Column("buyer_uom", String(8), nullable=False, default="EA"),
    Column("units_per_buyer_uom", Integer, nullable=False, default=1),
    Column("description", String(300), nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("units_per_buyer_uom > 0", name="units_positive"),
    Index("ix_buyer_part_xref_sku", "sku"),
)

# -- exceptions -----------------------------------------------------------------------------------

# One case per (order or intake document, type, subtype) while open; closed cases stay as history.
exception_cases = Table(
    "exception_cases", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("document_id", BigId, ForeignKey("intake_documents.id"), nullable=True),
    Column("type", String(24), nullable=False),
    Column("subtype", String(48), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("evidence", JSON, nullable=False, default=dict),
    Column("recommendation", JSON, nullable=False),
    Column("channel", String(32), nullable=False, default=""),
    Column("value", Money, nullable=False, default=0),
    Column("deadline", TS, nullable=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("blocking", Boolean, nullable=False, default=True),
    Column("assignee", String(100), nullable=True),
    Column("summary", Text, nullable=False, default=""),
    Column("resolution", JSON, nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("resolved_at", TS, nullable=True),
    Column("sla_due_at", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_exception_cases_status", "status", "priority"),
    Index("ix_exception_cases_order_id", "order_id"),
    Index("ix_exception_cases_document_id", "document_id"),
    # At most one open case per order and finding: two writers flagging the same thing at once collide here
    # and the bus's retry finds the first case.
    Index("uq_exception_cases_open_order", "order_id", "type", "subtype", unique=True,
          sqlite_where=text("status = 'open' AND order_id IS NOT NULL"),
          postgresql_where=text("status = 'open' AND order_id IS NOT NULL")),
)

proposals = Table(
    "proposals", metadata,
    Column("id", String(32), primary_key=True),
    Column("action", String(32), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("rationale", String(2000), nullable=False, default=""),
    Column("proposed_by", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("case_id", BigId, ForeignKey("exception_cases.id"), nullable=True),
    Column("thread_id", String(100), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("decision_note", String(1000), nullable=False, default=""),
    Column("edited", Boolean, nullable=False, default=False),
    Column("result", JSON, nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_proposals_status", "status", "created_at"),
)

resolution_policies = Table(
    "resolution_policies", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("settings", JSON, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("note", String(500), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
)

carrier_incidents = Table(
    "carrier_incidents", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("carrier", String(32), ForeignKey("carriers.code"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("delay_days", Integer, nullable=False, default=0),
    Column("dest_prefixes", JSON, nullable=False, default=list),
    Column("reason", String(500), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("ended_at", TS, nullable=True),
    Index("ix_carrier_incidents_carrier", "carrier", "ended_at"),
)

payment_signals = Table(
    "payment_signals", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fraud_score", Numeric(6, 4), nullable=False, default=0),
    Column("reference", String(128), nullable=False, default=""),
    Column("instrument", String(128), nullable=False, default=""),  # the card/account fingerprint, hashed
    Column("detail", String(500), nullable=False, default=""),
    Column("at", TS, nullable=False),
    Index("ix_payment_signals_order_id", "order_id", "id"),
    Index("ix_payment_signals_instrument", "instrument"),
)


# -- access: principals, their API keys (hashed) and OAuth2 bearer tokens (hashed) -----------------------
principals = Table(
    "principals", metadata,
    Column("principal_id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("account_code", String(32), nullable=True),
    Column("scope", String(100), nullable=True),
    Column("created_by", String(120), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
)

api_keys = Table(
    "api_keys", metadata,
    # The key's public id (also its prefix: olk_<key_id>_<secret>); the secret is stored only as a hash.
    Column("key_id", String(24), primary_key=True),
    Column("principal_id", String(32), ForeignKey("principals.principal_id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=True),
    Column("revoked_at", TS, nullable=True),
    Column("last_used_at", TS, nullable=True),
    Index("ix_api_keys_principal", "principal_id"),
)

access_tokens = Table(
    "access_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    # Tokens carry their own identity: a storefront mints customer tokens for customers without keys.
    Column("issued_to", String(32), ForeignKey("principals.principal_id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("account_code", String(32), nullable=True),
    Column("scope", String(100), nullable=True),
    Column("issued_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
    Index("ix_access_tokens_expires", "expires_at"),
)

# -- tracking: carrier scan events, normalised, once per carrier event ----------------------------------
tracking_events = Table(
    "tracking_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("carrier", String(32), nullable=False),
    Column("tracking_number", String(64), nullable=False),
    Column("event_key", String(128), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("shipment_id", String(64), nullable=True),
    Column("status", String(24), nullable=False),
    Column("carrier_code", String(32), nullable=False),
    Column("description", String(300), nullable=False, default=""),
    Column("location", String(120), nullable=False, default=""),
    Column("occurred_at", TS, nullable=False),
    Column("estimated_delivery", Date, nullable=True),
    Column("received_at", TS, nullable=False),
    UniqueConstraint("carrier", "event_key", name="uq_tracking_events_carrier_event"),
    Index("ix_tracking_events_tracking", "carrier", "tracking_number"),
    Index("ix_tracking_events_order", "order_id", "occurred_at"),
)

# -- notifications: drafted messages, one per (kind, subject), delivered through the email adapter -------
notifications = Table(
    "notifications", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("audience", String(8), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("event_id", String(32), nullable=True),
    Column("facts", JSON, nullable=False, default=dict),
    Column("created_at", TS, nullable=False),
    Column("send_after", TS, nullable=False),
    Column("sent_at", TS, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("decided_by", String(120), nullable=True),
    Column("message_id", String(200), nullable=False),
    Index("ix_notifications_status", "status", "send_after"),
    Index("ix_notifications_recipient", "recipient", "sent_at"),
    Index("ix_notifications_order", "order_id"),
)

# -- returns: the RMA, its lines, its history, and each warehouse event applied once ---------------------
returns = Table(
    "returns", metadata,
    Column("rma_id", String(32), primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("account_code", String(32), nullable=True),
    Column("resolution", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(500), nullable=False, default=""),
    Column("reason", String(32), nullable=False),
    Column("customer_text", String(500), nullable=False, default=""),
    Column("restock_node", String(32), nullable=True),
    Column("restock_plan", JSON, nullable=True),
    Column("label_carrier", String(32), nullable=True),
    Column("label_tracking", String(64), nullable=True),
    Column("from_postal", String(16), nullable=False, default=""),
    Column("refund_amount", Money, nullable=True),
    Column("exchange_order_id", String(32), nullable=True),
    Column("abuse_score", Numeric(6, 4), nullable=True),
    Column("abuse_evidence", JSON, nullable=True),
    Column("case_id", String(32), nullable=True),
    Column("requested_by", String(120), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_returns_order", "order_id"),
    Index("ix_returns_status", "status", "created_at"),
    Index("ix_returns_customer", "customer_id"),
    Index("ix_returns_label", "label_carrier", "label_tracking"),
)

return_lines = Table(
    "return_lines", metadata,
    Column("rma_id", String(32), ForeignKey("returns.rma_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("received", Integer, nullable=False, default=0),
    Column("grade", String(16), nullable=True),
    Column("disposition", String(24), nullable=True),
    Column("note", String(1000), nullable=False, default=""),
    Column("exchange_sku", String(64), nullable=True),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("received >= 0 AND received <= quantity", name="received_within_quantity"),
)

return_history = Table(
    "return_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("rma_id", String(32), ForeignKey("returns.rma_id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("reason", String(500), nullable=False, default=""),
    Index("ix_return_history_rma", "rma_id", "id"),
)

# One row per warehouse event applied to a return (receipt, grade, disposal): the database itself refuses
# the same reference twice, so a redelivered event can never move stock a second time.
return_steps = Table(
    "return_steps", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("rma_id", String(32), ForeignKey("returns.rma_id"), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("at", TS, nullable=False),
    UniqueConstraint("rma_id", "reference", name="uq_return_steps_rma_reference"),
)

# Versions of the return policy (windows, final sale, B2B terms, fees): the newest is in force.
return_policies = Table(
    "return_policies", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("settings", JSON, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("note", String(500), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
)
