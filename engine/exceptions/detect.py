"""Detection: what is wrong with an order before it is routed, each finding a `Flag` with its evidence and a
recommended action. Pure: the exception desk reads what is needed into a `Screening` and acts on the flags.

Screened at placement: address, payment / fraud, price, high value, cold start, duplicates and statistical
anomalies. Found later, by the desk from engine events: inventory discrepancies (lost races, cycle counts,
short picks), carrier trouble and overdue milestones (see `engine.services.exceptions`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.domain.exceptions import Action, ExceptionType, Flag, Recommendation, ResolutionPolicy
from engine.domain.orders import Order
from engine.intake.address import AddressCheck, validate_address

FRAUD_KINDS = frozenset({"customer_velocity", "payment_velocity", "payment_shared", "address_velocity",
                         "address_shared", "unusual_combination"})


class Signal(Protocol):
    """An anomaly model's finding (engine.exceptions.anomaly.AnomalySignal)."""

    @property
    def kind(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def detail(self) -> str: ...

    @property
    def evidence(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PastOrder:
    """A recent order of the same customer or to the same address (for duplicates)."""

    order_id: str
    external_id: str
    channel: str
    placed_at: datetime
    status: str
    lines: tuple[tuple[str, int], ...]
    ship_to_key: str
    customer_key: str


@dataclass
class Screening:
    order: Order
    policy: ResolutionPolicy
    now: datetime
    list_prices: dict[int, Decimal | None] = field(default_factory=dict)  # line_no -> list price
    recent: Sequence[PastOrder] = ()
    sku_history: dict[str, int] = field(default_factory=dict)  # orders that carried each SKU before
    channel_history: int = 0
    total_history: int = 0  # orders placed before this one, all channels
    payment: dict[str, Any] | None = None
    anomalies: Sequence[Signal] = ()
    b2b: bool = False


def ship_to_key(data: dict[str, Any]) -> str:
    """Recipient and street address, normalised: the same parcel destination."""
    parts = [str(data.get(k, "")) for k in ("name", "line1", "postal_code", "country")]
    return " ".join(" ".join(p.lower().split()) for p in parts)


def party_key(customer_id: str | None, account_code: str | None, email: str) -> str:
    """Who placed an order, as detection compares it: the customer, else the B2B account, else the e-mail
    (empty for an anonymous order). The one rule for duplicates, velocity and the anomaly model."""
    if customer_id:
        return f"customer:{customer_id}"
    if account_code:
        return f"account:{account_code}"
    email = email.strip().lower()
    return f"email:{email}" if email else ""


def customer_key(order: Order) -> str:
    return party_key(order.customer_id, order.account_code, order.ship_to.email)


def screen(s: Screening) -> list[Flag]:
    """Every reason to stop this order now, most consequential first."""
    flags: list[Flag] = []
    for check in (payment_flags, duplicate_flags, address_flags, price_flags, high_value_flags, cold_start_flags,
                  anomaly_flags):
        flags.extend(check(s))
    return flags


# -- address ---------------------------------------------------------------------------------------

def address_flags(s: Screening) -> list[Flag]:
    check = validate_address(s.order.ship_to.to_dict())
    if check.valid:
        return []
    return [address_flag(s.order.ship_to.to_dict(), check, s.policy)]


def address_flag(ship_to: dict[str, str], check: AddressCheck, policy: ResolutionPolicy) -> Flag:
    """One confident candidate per problem: a correction the policy may apply; otherwise ask a person."""
    fields = sorted({p.field for p in check.problems})
    chosen: dict[str, str] = {}
    doubtful: list[str] = []
    for problem in check.problems:
        candidates = [c for c in check.corrections if c.code == problem.code]
        confident = [c for c in candidates if c.confidence >= policy.address_min_confidence]
        if len(confident) == 1 and (chosen.get(confident[0].field) in (None, confident[0].proposed)):
            chosen[confident[0].field] = confident[0].proposed
        else:
            doubtful.append(problem.field)
    evidence = {"address": dict(ship_to), "problems": [p.to_dict() for p in check.problems],
                "corrections": [c.to_dict() for c in check.corrections]}
    problems_text = "; ".join(f"{p.field}: {p.message}" for p in check.problems)
    if chosen and not doubtful:
        corrected = {**ship_to, **chosen}
        changes = ", ".join(f"{k} {ship_to.get(k, '')!r} -> {v!r}" for k, v in sorted(chosen.items()))
        confidence = min(c.confidence for c in check.corrections if chosen.get(c.field) == c.proposed)
        rec = Recommendation(Action.CORRECT_ADDRESS, f"correct the address: {changes}",
                             "the order routes and ships to the corrected address without contacting the customer",
                             {"ship_to": corrected}, confidence)
        subtype = "correctable"
    else:
        best = {c.field: c.proposed for c in sorted(check.corrections, key=lambda c: c.confidence)}
        if best:
            rec = Recommendation(
                Action.CORRECT_ADDRESS, "confirm the most likely correction with the customer: "
                + ", ".join(f"{k} -> {v!r}" for k, v in sorted(best.items())),
                "the order routes once the address is confirmed; a wrong guess would misdeliver the parcel",
                {"ship_to": {**ship_to, **best}}, max(c.confidence for c in check.corrections),
                alternatives=("hold: ask the customer for the address",))
        else:
            rec = Recommendation(Action.HOLD, "ask the customer for a deliverable address (no candidate found)",
                                 "the order waits; it would be returned as undeliverable if shipped as is",
                                 {"reason": "address unverifiable"}, 0.0, alternatives=("cancel",))
        subtype = "unverifiable"
    return Flag(ExceptionType.ADDRESS, subtype, f"address problem in {', '.join(fields)}: {problems_text}",
                evidence, rec)


# -- payment and fraud -----------------------------------------------------------------------------

def payment_flags(s: Screening) -> list[Flag]:
    signal = s.payment
    if not signal:
        return []
    return [f] if (f := payment_flag(s.order, signal, s.policy)) else []


def payment_flag(order: Order, signal: dict[str, Any], policy: ResolutionPolicy) -> Flag | None:
    status, score = str(signal.get("status")), float(signal.get("fraud_score") or 0.0)
    evidence = {"payment_status": status, "fraud_score": score, "reference": signal.get("reference", ""),
                "detail": signal.get("detail", ""), "order_total": str(order.total)}
    if status == "declined":
        return Flag(ExceptionType.PAYMENT, "declined", f"payment declined ({signal.get('detail') or 'no detail'})",
                    evidence, Recommendation(
                        Action.HOLD, "hold and ask the customer for another payment method; cancel after 24 hours",
                        "no stock is committed to an unpaid order", {"reason": "payment declined"}, 0.9,
                        alternatives=("cancel",)), hold=True)
    if status == "fraud_review" or score >= policy.fraud_score_hold:
        if score >= 0.9:
            rec = Recommendation(Action.CANCEL, f"cancel: fraud score {score:.2f} is very high",
                                 f"avoids a likely chargeback of {order.total} {order.currency}",
                                 {"reason": f"fraud score {score:.2f}"}, score, alternatives=("release_hold",))
        else:
            rec = Recommendation(Action.RELEASE_HOLD, f"verify the customer (fraud score {score:.2f}), then release",
                                 "the order routes as normal once verified", {}, 1.0 - score,
                                 alternatives=("cancel",))
        return Flag(ExceptionType.PAYMENT, "fraud_flag", f"fraud screen flagged the order (score {score:.2f})",
                    evidence, rec, hold=True)
    return None


# -- price -----------------------------------------------------------------------------------------

def price_flags(s: Screening) -> list[Flag]:
    off: list[dict[str, Any]] = []
    tolerance = Decimal(str(s.policy.price_tolerance_pct)) / 100
    for line in s.order.lines:
        listed = s.list_prices.get(line.line_no)
        if listed is None or listed <= 0:
            continue
        delta = (line.unit_price - listed) / listed
        if abs(delta) > tolerance:
            off.append({"line_no": line.line_no, "sku": line.sku, "unit_price": str(line.unit_price),
                        "list_price": str(listed), "delta_pct": round(float(delta) * 100, 2),
                        "quantity": line.quantity})
    if not off:
        return []
    impact = sum((Decimal(o["list_price"]) - Decimal(o["unit_price"])) * o["quantity"] for o in off)
    lines = ", ".join(f"line {o['line_no']} {o['sku']} at {o['unit_price']} vs list {o['list_price']}" for o in off)
    rec = Recommendation(Action.REPRICE, "reprice to the list price and tell the buyer",
                         f"order value changes by {impact:+.2f} {s.order.currency}",
                         {"lines": [{"line_no": o["line_no"], "unit_price": o["list_price"]} for o in off]}, 0.8,
                         alternatives=("accept: honour the buyer's price",))
    return [Flag(ExceptionType.PRICE, "off_list", f"price differs from the list by more than "
                 f"{s.policy.price_tolerance_pct:g}%: {lines}", {"lines": off, "impact": str(impact)}, rec)]


# -- high value ------------------------------------------------------------------------------------

def high_value_flags(s: Screening) -> list[Flag]:
    threshold = s.policy.high_value_threshold(s.order.channel, s.order.account_code, s.b2b)
    total = s.order.total
    if total < threshold:
        return []
    return [Flag(ExceptionType.HIGH_VALUE, "over_threshold",
                 f"order value {total} {s.order.currency} is at or above the {threshold} review threshold",
                 {"total": str(total), "threshold": str(threshold), "channel": s.order.channel,
                  "account": s.order.account_code},
                 Recommendation(Action.ACCEPT, "check the customer and payment, then accept",
                                "the order routes at once; value at risk if fraudulent: "
                                f"{total} {s.order.currency}", {}, 0.7, alternatives=("cancel", "hold")))]


# -- cold start ------------------------------------------------------------------------------------

def cold_start_flags(s: Screening) -> list[Flag]:
    """New SKUs and channels have no history to judge by: people's limits apply until they do.

    "New" is relative: a SKU or channel with fewer than `cold_start_min_orders` orders in a business that
    has ten times that many overall. A fresh installation, where everything is new, is not flooded with cases.
    B2B orders (case quantities, larger baskets) have their own limits."""
    p = s.policy
    if s.total_history < 10 * p.cold_start_min_orders:
        return []
    line_limit = p.cold_start_max_line_quantity_b2b if s.b2b else p.cold_start_max_line_quantity
    value_limit = p.cold_start_max_order_value_b2b if s.b2b else p.cold_start_max_order_value
    flags: list[Flag] = []
    new = [ln for ln in s.order.lines if s.sku_history.get(ln.sku, 0) < p.cold_start_min_orders]
    over = [ln for ln in new if ln.quantity > line_limit]
    if over:
        flags.append(Flag(
            ExceptionType.COLD_START, "new_sku",
            f"new SKU(s) with little history ordered above the cold-start limit of {line_limit}: "
            + ", ".join(f"{ln.sku} x {ln.quantity}" for ln in over),
            {"lines": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity,
                        "orders_seen": s.sku_history.get(ln.sku, 0)} for ln in over],
             "limit": line_limit, "min_history": p.cold_start_min_orders},
            Recommendation(Action.ACCEPT, "confirm the quantity is intended, then accept",
                           "the order routes; the SKU builds history for the anomaly model", {}, 0.6,
                           alternatives=("hold",))))
    if s.channel_history < p.cold_start_min_orders and s.order.total > value_limit:
        flags.append(Flag(
            ExceptionType.COLD_START, "new_channel",
            f"channel {s.order.channel} has {s.channel_history} orders of history; this one is worth "
            f"{s.order.total}, above the cold-start limit of {value_limit}",
            {"channel": s.order.channel, "orders_seen": s.channel_history, "total": str(s.order.total),
             "limit": str(value_limit)},
            Recommendation(Action.ACCEPT, "check the order against the channel's onboarding terms, then accept",
                           "the order routes", {}, 0.6, alternatives=("hold",))))
    return flags


def new_node_flag(order: Order, nodes: dict[str, int], policy: ResolutionPolicy, total_history: int, b2b: bool
                  ) -> Flag | None:
    """A plan that ships from a node with little history, for an order above the cold-start value limit: a
    person checks before the warehouse starts picking (the order keeps its stock while paused)."""
    if total_history < 10 * policy.cold_start_min_orders:
        return None
    limit = policy.cold_start_max_order_value_b2b if b2b else policy.cold_start_max_order_value
    new = sorted(n for n, count in nodes.items() if count < policy.cold_start_min_orders)
    if not new or order.total <= limit:
        return None
    return Flag(ExceptionType.COLD_START, "new_node",
                f"routed to node(s) {', '.join(new)} with little history; the order is worth {order.total}, above "
                f"the cold-start limit of {limit}",
                {"nodes": {n: nodes[n] for n in new}, "total": str(order.total), "limit": str(limit)},
                Recommendation(Action.ACCEPT, "check the new node can fulfil the order, then accept",
                               "the order keeps its reservation and is released to the node",
                               {}, 0.6, alternatives=("reroute",)))


# -- duplicates ------------------------------------------------------------------------------------

def duplicate_flags(s: Screening) -> list[Flag]:
    """The same lines for the same customer or address within the window, under another external id."""
    order = s.order
    mine = Counter((ln.sku, ln.quantity) for ln in order.lines)
    since = s.now - timedelta(hours=s.policy.duplicate_window_hours)
    my_customer = customer_key(order)
    my_address = ship_to_key(order.ship_to.to_dict())
    for past in sorted(s.recent, key=lambda p: p.placed_at):
        if past.order_id == order.order_id or past.status == "cancelled" or past.placed_at < since:
            continue
        if past.channel == order.channel and past.external_id == order.external_id:
            continue
        same_party = (my_customer and past.customer_key == my_customer) or past.ship_to_key == my_address
        if same_party and Counter(past.lines) == mine:
            gap = order.placed_at - past.placed_at
            minutes = max(0, int(gap.total_seconds() // 60))
            return [Flag(
                ExceptionType.DUPLICATE, "same_lines",
                f"same lines as order {past.order_id} ({past.channel} {past.external_id}) placed {minutes} min "
                "earlier for the same customer/address",
                {"original_order": past.order_id, "original_external_id": past.external_id,
                 "minutes_apart": minutes, "lines": [list(x) for x in sorted(mine)]},
                Recommendation(Action.CANCEL, f"cancel as a duplicate of order {past.order_id}",
                               f"avoids shipping and refunding {order.total} {order.currency} twice",
                               {"reason": f"duplicate of order {past.order_id}"},
                               0.9 if minutes < 60 else 0.7, alternatives=("accept: a genuine repeat order",)))]
    return []


# -- statistical anomalies -------------------------------------------------------------------------

def anomaly_flags(s: Screening) -> list[Flag]:
    if not s.policy.anomaly_enabled or not s.anomalies:
        return []
    fraud = [a for a in s.anomalies if a.kind in FRAUD_KINDS]
    other = [a for a in s.anomalies if a.kind not in FRAUD_KINDS]
    flags: list[Flag] = []
    if fraud:
        top = max(fraud, key=lambda a: a.score)
        flags.append(Flag(
            ExceptionType.PAYMENT, f"fraud_{top.kind}",
            "unusual ordering pattern: " + "; ".join(a.detail for a in fraud),
            {"signals": [{"kind": a.kind, "score": round(a.score, 2), "detail": a.detail, **a.evidence}
                         for a in fraud]},
            Recommendation(Action.RELEASE_HOLD, "verify the customer and payment, then release",
                           "the order routes once verified; cancelling instead avoids a likely chargeback", {}, 0.5,
                           alternatives=("cancel",)), hold=True))
    for a in other:
        flags.append(Flag(
            ExceptionType.ANOMALY, a.kind, a.detail, {"score": round(a.score, 2), **a.evidence},
            Recommendation(Action.ACCEPT, "confirm the quantity with the customer, then accept",
                           "the order routes as placed; a mistyped quantity would be shipped and returned", {},
                           0.5, alternatives=("hold", "cancel"))))
    return flags
