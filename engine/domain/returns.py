"""Returns as their own domain: the RMA aggregate and its state machine, the return-reason taxonomy,
eligibility by policy, and condition grade -> disposition rules. Pure: no persistence, no clock.

The RMA (return merchandise authorisation) runs parallel to the forward order:

    requested -> authorised | refused
    authorised -> label_issued -> in_transit -> received -> graded -> disposed -> refunded | exchanged -> closed
    (a return dropped at a store skips the label: authorised -> received; refused and closed are final;
     a customer may cancel before the parcel moves: requested | authorised | label_issued -> cancelled)

Every change is a method that checks the table and raises IllegalTransition naming the allowed targets.
Receiving, grading and disposing are per line and keyed by a reference, so a redelivered warehouse event
is recognised and changes nothing (`Replay`); the RMA moves on when every line is through the step.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.domain.errors import IllegalTransition, Problem, ValidationFailed


class ReturnReason(enum.StrEnum):
    """Why the customer sends it back. `merchant_fault` reasons refund shipping and never carry a fee."""

    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    MISSING_PARTS = "missing_parts"
    ARRIVED_LATE = "arrived_late"
    SIZE_OR_FIT = "size_or_fit"
    CHANGED_MIND = "changed_mind"
    BETTER_PRICE = "better_price_elsewhere"
    ORDERED_BY_MISTAKE = "ordered_by_mistake"
    OTHER = "other"

    @property
    def merchant_fault(self) -> bool:
        return self in MERCHANT_FAULT


# Each reason as a customer picks it on a returns form.
REASON_WORDS: dict[ReturnReason, str] = {
    ReturnReason.DAMAGED_IN_TRANSIT: "It arrived damaged", ReturnReason.DEFECTIVE: "It doesn't work",
    ReturnReason.WRONG_ITEM: "You sent the wrong item", ReturnReason.NOT_AS_DESCRIBED: "Not as described",
    ReturnReason.MISSING_PARTS: "Parts are missing", ReturnReason.ARRIVED_LATE: "It arrived too late",
    ReturnReason.SIZE_OR_FIT: "Size or fit", ReturnReason.CHANGED_MIND: "I changed my mind",
    ReturnReason.BETTER_PRICE: "Better price elsewhere", ReturnReason.ORDERED_BY_MISTAKE: "Ordered by mistake",
    ReturnReason.OTHER: "Something else",
}

MERCHANT_FAULT = frozenset({ReturnReason.DAMAGED_IN_TRANSIT, ReturnReason.DEFECTIVE, ReturnReason.WRONG_ITEM,
                            ReturnReason.NOT_AS_DESCRIBED, ReturnReason.MISSING_PARTS, ReturnReason.ARRIVED_LATE})


_REASON_WORDS: tuple[tuple[ReturnReason, tuple[str, ...]], ...] = (
    (ReturnReason.WRONG_ITEM, ("wrong item", "wrong size sent", "wrong colour", "wrong color", "not what i ordered",
                               "sent the wrong", "different item", "wrong product")),
    (ReturnReason.DAMAGED_IN_TRANSIT, ("damaged", "broken", "crushed", "smashed", "cracked", "dented", "torn")),
    (ReturnReason.DEFECTIVE, ("defective", "doesn't work", "does not work", "doesnt work", "stopped working",
                              "faulty", "won't turn on", "wont turn on", "dead on arrival", "not working")),
    (ReturnReason.MISSING_PARTS, ("missing part", "missing piece", "incomplete", "parts missing", "pieces missing")),
    (ReturnReason.NOT_AS_DESCRIBED, ("not as described", "not as pictured", "looks different", "misleading")),
    (ReturnReason.ARRIVED_LATE, ("too late", "arrived late", "came late", "late delivery")),
    (ReturnReason.SIZE_OR_FIT, ("too small", "too big", "too large", "too tight", "too loose", "doesn't fit",
                                "does not fit", "size", "fit")),
    (ReturnReason.BETTER_PRICE, ("cheaper", "better price", "lower price")),
    (ReturnReason.ORDERED_BY_MISTAKE, ("by mistake", "by accident", "ordered twice", "accidentally")),
    (ReturnReason.CHANGED_MIND, ("changed my mind", "change of mind", "don't need", "dont need", "don't want",
                                 "dont want", "no longer need", "don't like", "dont like", "not needed")),
)


def reason_from_text(text: str) -> ReturnReason:
    """The taxonomy entry for a customer's own words (first match in order: faults before preferences).
    Unrecognised words are `other`: the policy treats them as the customer's choice, not a fault."""
    low = " ".join(str(text or "").lower().replace("\u2019", "'").split())
    for reason in ReturnReason:
        if low == reason.value or low == reason.value.replace("_", " "):
            return reason
    for reason, words in _REASON_WORDS:
        if any(w in low for w in words):
            return reason
    return ReturnReason.OTHER


SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL")
# Sizes as customers write them; longer phrases first, each blanked once read so "extra small" is not also "small".
_SIZE_WORDS = (
    (r"extra[- ]extra[- ]small|xx-?small|xxs", "XXS"), (r"extra[- ]small|x-?small|xs", "XS"),
    (r"extra[- ]extra[- ]large|xx-?large|xxl|2xl", "XXL"), (r"extra[- ]large|x-?large|xl", "XL"),
    (r"size s|small", "S"), (r"size m|medium", "M"), (r"size l|large", "L"))
_SIZE_PATTERNS = tuple((re.compile(rf"\b(?:{words})\b"), size) for words, size in _SIZE_WORDS)
_FIT_COMPLAINT = re.compile(r"\b(?:too|a bit|a little|bit|slightly|very|so|runs|running|rather|quite|way too)"
                            r" (?:small|large|big|tight|loose)\b")
_UP = re.compile(r"\b(?:size up|sizing up|one size up|a size up|next size up|bigger|larger|the next size)\b")
_DOWN = re.compile(r"\b(?:size down|sizing down|one size down|a size down|next size down|smaller)\b")
_EXCHANGE = re.compile(r"\b(?:exchange|exchanged|swap|swapped|instead|replace it|replacement|different size|"
                       r"another size|different colou?r|another colou?r)\b")
_STEP_WORDS = r"size up|sizing up|one size up|a size up|next size up|bigger|larger|the next size|size down|" \
    r"sizing down|one size down|a size down|next size down|smaller"


@dataclass(frozen=True)
class ExchangeWish:
    """What a customer's words ask an exchange to send: a size (S, M, ...), one size up (+1) or down (-1), a
    colour as written, or nothing more than "the same again" (all None / 0)."""

    size: str | None = None
    step: int = 0
    colour: str | None = None

    @property
    def specific(self) -> bool:
        return self.size is not None or self.step != 0 or self.colour is not None

    def pick(self, current: dict[str, str], variants: Sequence[tuple[str, dict[str, str]]]) -> str | None:
        """The variant (sku, attributes) these words ask for, given the returned item's attributes; None when
        no variant or more than one fits. A colour not named stays the item's own; a size not named too."""
        size = self.size
        if size is None and self.step and current.get("size") in SIZES:
            at = SIZES.index(current["size"]) + self.step
            size = SIZES[at] if 0 <= at < len(SIZES) else "none"
        size = size or current.get("size")
        colour = (self.colour or current.get("color") or "").lower()
        fits = [sku for sku, attrs in variants
                if str(attrs.get("size") or "") == (size or "") and str(attrs.get("color") or "").lower() == colour]
        return fits[0] if len(fits) == 1 else None


def exchange_wish(text: str, colours: Iterable[str] = ()) -> ExchangeWish | None:
    """An exchange asked for in the customer's words ("can I swap it for a medium?", "it's too small, I need a
    size up", "I'd like it in navy instead"), or None when they do not ask for one (a refund). `colours`: the
    colours the item comes in, matched as written."""
    low = " ".join(str(text or "").lower().replace("\u2019", "'").split())
    low = _FIT_COMPLAINT.sub(" ", low)
    wanted = "|".join([w for w, _ in _SIZE_WORDS] + [_STEP_WORDS] + [re.escape(c.lower()) for c in colours if c])
    # "...get / want / need / in / for (up to three words) a medium": asked for, not just mentioned ("I bought
    # the large") -- an exchange even without the word.
    asking = re.search(rf"\b(?:for|in|get|need|want|have|send|try|prefer)\b"
                       rf"(?:\s+(?!return|refund|back)[\w'-]+){{0,3}}?\s+(?:{wanted})\b", low)
    sizes = []
    for pattern, size in _SIZE_PATTERNS:
        if pattern.search(low):
            sizes.append(size)
            low = pattern.sub(" ", low)
    named = [c for c in sorted({c for c in colours if c}, key=len, reverse=True)
             if re.search(rf"\b{re.escape(c.lower())}\b", low)]
    step = 1 if _UP.search(low) else -1 if _DOWN.search(low) else 0
    if not (_EXCHANGE.search(low) or asking):
        return None
    return ExchangeWish(size=sizes[0] if len(sizes) == 1 else None, step=0 if sizes else step,
                        colour=named[0] if len(named) == 1 else None)


class RmaStatus(enum.StrEnum):
    REQUESTED = "requested"
    AUTHORISED = "authorised"
    REFUSED = "refused"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    GRADED = "graded"
    DISPOSED = "disposed"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    CLOSED = "closed"
    CANCELLED = "cancelled"


R = RmaStatus
RMA_TRANSITIONS: dict[RmaStatus, frozenset[RmaStatus]] = {
    R.REQUESTED: frozenset({R.AUTHORISED, R.REFUSED, R.CANCELLED}),
    R.AUTHORISED: frozenset({R.LABEL_ISSUED, R.RECEIVED, R.CANCELLED}),
    R.LABEL_ISSUED: frozenset({R.IN_TRANSIT, R.RECEIVED, R.CANCELLED}),
    R.IN_TRANSIT: frozenset({R.RECEIVED}),
    R.RECEIVED: frozenset({R.GRADED}),
    R.GRADED: frozenset({R.DISPOSED}),
    R.DISPOSED: frozenset({R.REFUNDED, R.EXCHANGED}),
    R.REFUNDED: frozenset({R.CLOSED}),
    R.EXCHANGED: frozenset({R.CLOSED}),
    R.REFUSED: frozenset(),
    R.CLOSED: frozenset(),
    R.CANCELLED: frozenset(),
}


# How a customer reads a return's status: no internal words ("requested" is a person checking it).
CUSTOMER_WORDS: dict[RmaStatus, str] = {
    R.REQUESTED: "we're checking it", R.AUTHORISED: "approved", R.LABEL_ISSUED: "approved, label sent",
    R.IN_TRANSIT: "on its way back", R.RECEIVED: "arrived, being inspected", R.GRADED: "inspected",
    R.DISPOSED: "inspected", R.REFUNDED: "refunded", R.EXCHANGED: "replacement sent", R.CLOSED: "done",
    R.REFUSED: "not accepted", R.CANCELLED: "cancelled",
}


class Resolution(enum.StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"


class Grade(enum.StrEnum):
    """The condition an inspector finds."""

    NEW = "new"                  # unopened, sealed, tags on
    LIKE_NEW = "like_new"        # opened, unused, complete
    USED = "used"                # signs of use, works, complete
    DAMAGED = "damaged"          # cosmetic or functional damage
    DEFECTIVE = "defective"      # does not work as it should
    UNSALEABLE = "unsaleable"    # hygiene, missing parts, beyond repair


class Disposition(enum.StrEnum):
    RESTOCK_NEW = "restock_new"
    OPEN_BOX = "open_box"
    REFURBISH = "refurbish"
    RETURN_TO_VENDOR = "return_to_vendor"
    LIQUIDATE = "liquidate"
    SCRAP = "scrap"

    @property
    def sellable(self) -> bool:
        """Units that go back into available-to-promise at a node."""
        return self in (Disposition.RESTOCK_NEW, Disposition.OPEN_BOX)


class Replay(Exception):
    """The same warehouse event again: recognised by its reference, nothing changed."""


@dataclass
class ReturnLine:
    line_no: int              # the order line
    sku: str
    quantity: int
    reason: ReturnReason
    unit_price: Decimal
    received: int = 0
    grade: Grade | None = None
    disposition: Disposition | None = None
    note: str = ""
    exchange_sku: str | None = None  # what an exchange sends instead (another size or colour); None: the same

    @property
    def replacement_sku(self) -> str:
        return self.exchange_sku or self.sku


@dataclass(frozen=True)
class RmaChange:
    at: datetime
    from_status: RmaStatus | None
    to_status: RmaStatus
    reason: str = ""


@dataclass
class Rma:
    rma_id: str
    order_id: str
    channel: str
    customer_id: str | None
    account_code: str | None
    lines: list[ReturnLine]
    resolution: Resolution
    status: RmaStatus = RmaStatus.REQUESTED
    status_reason: str = ""
    label: dict[str, str] | None = None
    refund_amount: Decimal | None = None
    exchange_order_id: str | None = None
    restock_node: str | None = None       # where the parcel goes and sellable units go back into stock
    restock_plan: dict[str, object] | None = None  # the restock choice and its costs, for the person who asks
    created_at: datetime | None = None
    reason: ReturnReason = ReturnReason.OTHER   # the main reason (the first line's)
    customer_text: str = ""                      # the customer's own words
    from_postal: str = ""                        # where the parcel comes from
    abuse_score: float | None = None
    abuse_evidence: list[dict[str, object]] | None = None
    case_id: str | None = None                   # the case a person decides when the abuse score is high
    requested_by: str = ""
    references: set[str] = field(default_factory=set)  # receipt/grade/disposal references already applied
    history: list[RmaChange] = field(default_factory=list)

    # -- the state machine
    def allowed_targets(self) -> frozenset[RmaStatus]:
        return RMA_TRANSITIONS[self.status]

    def transition(self, target: RmaStatus, at: datetime, reason: str = "") -> RmaChange:
        if target not in RMA_TRANSITIONS[self.status]:
            allowed = sorted(t.value for t in RMA_TRANSITIONS[self.status])
            raise IllegalTransition(
                f"return {self.rma_id} is {self.status.value}: it cannot become {target.value}"
                + (f" (it can become {', '.join(allowed)})" if allowed else " (it is final)"),
                rma_id=self.rma_id, status=self.status.value, target=target.value, allowed=allowed)
        change = RmaChange(at, self.status, target, reason)
        self.status, self.status_reason = target, reason
        self.history.append(change)
        return change

    def line(self, line_no: int) -> ReturnLine:
        for ln in self.lines:
            if ln.line_no == line_no:
                return ln
        raise ValidationFailed(f"return {self.rma_id} has no line {line_no}", problems=[Problem(
            "return.unknown_line", "line_no", f"line {line_no} is not on this return",
            "use one of " + ", ".join(str(x.line_no) for x in self.lines))])

    def _once(self, reference: str) -> None:
        if not reference:
            raise ValidationFailed("a warehouse event needs its reference", problems=[Problem(
                "return.reference_missing", "reference", "no reference", "send the receipt or scan id")])
        if reference in self.references:
            raise Replay(reference)
        self.references.add(reference)

    # -- the steps
    def authorise(self, at: datetime, reason: str = "within policy") -> RmaChange:
        return self.transition(RmaStatus.AUTHORISED, at, reason)

    def refuse(self, at: datetime, reason: str) -> RmaChange:
        return self.transition(RmaStatus.REFUSED, at, reason)

    def issue_label(self, at: datetime, carrier: str, tracking_number: str) -> RmaChange:
        change = self.transition(RmaStatus.LABEL_ISSUED, at, f"label {carrier} {tracking_number}")
        self.label = {"carrier": carrier, "tracking_number": tracking_number}
        return change

    def in_transit(self, at: datetime) -> RmaChange:
        return self.transition(RmaStatus.IN_TRANSIT, at, "the carrier has the parcel")

    def receive(self, at: datetime, reference: str, quantities: dict[int, int]) -> RmaChange | None:
        """Units arrived at the returns desk. A line may arrive in parts; the RMA is received when every
        line has all its units (or when the desk closes it short: `receive_short`)."""
        if reference and reference in self.references:
            raise Replay(reference)
        if self.status not in (RmaStatus.AUTHORISED, RmaStatus.LABEL_ISSUED, RmaStatus.IN_TRANSIT,
                               RmaStatus.RECEIVED):
            self.transition(RmaStatus.RECEIVED, at)  # raises with the allowed targets
        problems = []
        for line_no, qty in quantities.items():
            ln = self.line(line_no)
            if not isinstance(qty, int) or qty <= 0 or ln.received + qty > ln.quantity:
                problems.append(Problem("return.quantity_invalid", f"quantities.{line_no}",
                                        f"line {line_no}: {qty!r} more would make {ln.received + (qty or 0)} of "
                                        f"{ln.quantity} authorised", "receive at most what was authorised"))
        if problems:
            raise ValidationFailed("the receipt does not match the return", problems=problems)
        self._once(reference)
        for line_no, qty in quantities.items():
            self.line(line_no).received += qty
        if self.status is not RmaStatus.RECEIVED and all(ln.received == ln.quantity for ln in self.lines):
            return self.transition(RmaStatus.RECEIVED, at, f"all units received ({reference})")
        return None

    def receive_short(self, at: datetime, reason: str) -> RmaChange:
        """The returns desk closes the receipt with fewer units than authorised (the customer kept some, or
        the parcel came part-empty): what arrived is graded, what did not is never refunded."""
        if self.status not in (RmaStatus.AUTHORISED, RmaStatus.LABEL_ISSUED, RmaStatus.IN_TRANSIT):
            return self.transition(RmaStatus.RECEIVED, at, reason)  # raises with the allowed targets
        if not any(ln.received for ln in self.lines):
            raise ValidationFailed(f"return {self.rma_id} has no units received", problems=[Problem(
                "return.nothing_received", "quantities", "nothing has arrived yet",
                "receive the units that came, or cancel the return")])
        return self.transition(RmaStatus.RECEIVED, at, reason or "closed short")

    def grade(self, at: datetime, reference: str, line_no: int, grade: Grade, note: str = "",
              disposition: Disposition | None = None) -> RmaChange | None:
        """The inspector's grade for a received line, and (when the rules decide it at the bench) what happens
        to its units. When every received line is graded the RMA is graded, and disposed as well when every
        line's disposition is known."""
        if reference and reference in self.references:
            raise Replay(reference)
        if self.status is not RmaStatus.RECEIVED:
            self.transition(RmaStatus.GRADED, at)  # raises with the allowed targets
        ln = self.line(line_no)
        if ln.received == 0:
            raise ValidationFailed(f"line {line_no} has not been received", problems=[Problem(
                "return.not_received", "line_no", "nothing to grade yet", "receive the units first")])
        if ln.grade is not None:
            raise ValidationFailed(f"line {line_no} is already graded {ln.grade.value}", problems=[Problem(
                "return.already_graded", "line_no", f"graded {ln.grade.value} already",
                "a grade is final: its units are already back in stock or on their way out")])
        self._once(reference)
        ln.grade, ln.note, ln.disposition = grade, note, disposition
        if all(x.grade is not None for x in self.lines if x.received):
            change = self.transition(RmaStatus.GRADED, at, "every received line graded")
            if all(x.disposition is not None for x in self.lines if x.received):
                return self.transition(RmaStatus.DISPOSED, at, "every graded line has a disposition")
            return change
        return None

    def dispose(self, at: datetime, reference: str, line_no: int, disposition: Disposition) -> RmaChange | None:
        if reference and reference in self.references:
            raise Replay(reference)
        if self.status is not RmaStatus.GRADED:
            self.transition(RmaStatus.DISPOSED, at)  # raises with the allowed targets
        ln = self.line(line_no)
        if ln.grade is None:
            raise ValidationFailed(f"line {line_no} has not been graded", problems=[Problem(
                "return.not_graded", "line_no", "no grade yet", "grade the line first")])
        if ln.disposition is not None:
            raise ValidationFailed(f"line {line_no} is already disposed as {ln.disposition.value}",
                                   problems=[Problem("return.already_disposed", "line_no",
                                                     f"{ln.disposition.value} already", "a disposition is final")])
        self._once(reference)
        ln.disposition = disposition
        if all(x.disposition is not None for x in self.lines if x.received):
            return self.transition(RmaStatus.DISPOSED, at, "every graded line has a disposition")
        return None

    def refund(self, at: datetime, amount: Decimal) -> RmaChange:
        if self.resolution is not Resolution.REFUND:
            raise IllegalTransition(f"return {self.rma_id} is an exchange, not a refund", rma_id=self.rma_id)
        change = self.transition(RmaStatus.REFUNDED, at, f"refunded {amount}")
        self.refund_amount = amount
        return change

    def exchange(self, at: datetime, new_order_id: str) -> RmaChange:
        if self.resolution is not Resolution.EXCHANGE:
            raise IllegalTransition(f"return {self.rma_id} is a refund, not an exchange", rma_id=self.rma_id)
        change = self.transition(RmaStatus.EXCHANGED, at, f"replacement order {new_order_id}")
        self.exchange_order_id = new_order_id
        return change

    def close(self, at: datetime) -> RmaChange:
        return self.transition(RmaStatus.CLOSED, at, "done")

    def cancel(self, at: datetime, reason: str) -> RmaChange:
        return self.transition(RmaStatus.CANCELLED, at, reason)

    # -- money
    def refund_due(self, fee_pct: Decimal, shipping_paid: Decimal = Decimal(0)) -> Decimal:
        """What goes back: the received units at their price, less the restocking fee on customer-fault
        lines; the outbound shipping too when every line is the merchant's fault."""
        total = Decimal(0)
        for ln in self.lines:
            value = ln.unit_price * ln.received
            if not ln.reason.merchant_fault:
                value -= (value * fee_pct / 100).quantize(Decimal("0.01"))
            total += value
        if self.lines and all(ln.reason.merchant_fault for ln in self.lines):
            total += shipping_paid
        return total.quantize(Decimal("0.01"))


# -- eligibility ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnPolicy:
    """Return windows per channel and category (days after delivery), what cannot come back, B2B terms."""

    default_window_days: int = 30
    window_by_channel: dict[str, int] = field(default_factory=dict)
    window_by_category: dict[str, int] = field(default_factory=dict)  # overrides the channel's window
    final_sale_skus: frozenset[str] = frozenset()
    final_sale_categories: frozenset[str] = frozenset()
    b2b_window_days: int = 14
    b2b_restocking_fee_pct: Decimal = Decimal("15")
    consumer_restocking_fee_pct: Decimal = Decimal("0")
    b2b_allows_change_of_mind: bool = False  # B2B terms: only merchant-fault returns unless agreed

    def window(self, channel: str, category: str, b2b: bool) -> int:
        if b2b:
            return self.b2b_window_days
        return self.window_by_category.get(category, self.window_by_channel.get(channel, self.default_window_days))

    def fee_pct(self, b2b: bool) -> Decimal:
        return self.b2b_restocking_fee_pct if b2b else self.consumer_restocking_fee_pct

    # -- stored as versioned settings (people change them; every version is kept) -----------------------
    def to_settings(self) -> dict[str, object]:
        return {"default_window_days": self.default_window_days, "window_by_channel": dict(self.window_by_channel),
                "window_by_category": dict(self.window_by_category),
                "final_sale_skus": sorted(self.final_sale_skus),
                "final_sale_categories": sorted(self.final_sale_categories),
                "b2b_window_days": self.b2b_window_days, "b2b_restocking_fee_pct": str(self.b2b_restocking_fee_pct),
                "consumer_restocking_fee_pct": str(self.consumer_restocking_fee_pct),
                "b2b_allows_change_of_mind": self.b2b_allows_change_of_mind}

    @classmethod
    def from_settings(cls, settings: dict[str, object]) -> ReturnPolicy:
        """A policy from stored or submitted settings; ValidationFailed naming every bad setting."""
        problems: list[Problem] = []
        known = set(cls().to_settings())
        for key in settings:
            if key not in known:
                problems.append(Problem("return.policy_unknown_setting", f"settings.{str(key)[:40]}",
                                        "not a return policy setting", "use one of " + ", ".join(sorted(known))))

        def days(key: str, value: object) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
                problems.append(Problem("return.policy_invalid", f"settings.{key}", f"{value!r} is not 0-3650 days",
                                        "send a whole number of days"))
                return 0
            return value

        def windows(key: str, value: object) -> dict[str, int]:
            if not isinstance(value, dict) or len(value) > 500:
                problems.append(Problem("return.policy_invalid", f"settings.{key}", "not an object of days",
                                        'send {"code": days}'))
                return {}
            return {str(k)[:64]: days(f"{key}.{str(k)[:64]}", v) for k, v in value.items()}

        def codes(key: str, value: object) -> frozenset[str]:
            if not isinstance(value, (list, tuple)) or len(value) > 10_000 or not all(
                    isinstance(x, str) and 0 < len(x) <= 64 for x in value):
                problems.append(Problem("return.policy_invalid", f"settings.{key}", "not a list of codes",
                                        'send ["CODE", ...]'))
                return frozenset()
            return frozenset(value)

        def pct(key: str, value: object) -> Decimal:
            try:
                out = Decimal(str(value))
                if isinstance(value, bool) or not out.is_finite() or not Decimal(0) <= out <= Decimal(100):
                    raise ValueError(value)
                return out
            except (ArithmeticError, ValueError):
                problems.append(Problem("return.policy_invalid", f"settings.{key}", f"{str(value)[:20]!r} is not a "
                                        "percentage from 0 to 100", 'send e.g. "15"'))
                return Decimal(0)

        base = cls().to_settings()
        v = {**base, **settings}
        change_of_mind = v["b2b_allows_change_of_mind"]
        if not isinstance(change_of_mind, bool):
            problems.append(Problem("return.policy_invalid", "settings.b2b_allows_change_of_mind", "not true or false",
                                    "send true or false"))
        policy = cls(default_window_days=days("default_window_days", v["default_window_days"]),
                     window_by_channel=windows("window_by_channel", v["window_by_channel"]),
                     window_by_category=windows("window_by_category", v["window_by_category"]),
                     final_sale_skus=codes("final_sale_skus", v["final_sale_skus"]),
                     final_sale_categories=codes("final_sale_categories", v["final_sale_categories"]),
                     b2b_window_days=days("b2b_window_days", v["b2b_window_days"]),
                     b2b_restocking_fee_pct=pct("b2b_restocking_fee_pct", v["b2b_restocking_fee_pct"]),
                     consumer_restocking_fee_pct=pct("consumer_restocking_fee_pct", v["consumer_restocking_fee_pct"]),
                     b2b_allows_change_of_mind=change_of_mind is True)
        if problems:
            raise ValidationFailed("the return policy was refused; the previous one stays active", problems=problems)
        return policy


@dataclass(frozen=True)
class OrderLineFacts:
    """What eligibility needs to know about one order line."""

    line_no: int
    sku: str
    category: str
    shipped: int
    already_returned: int  # units on other, not refused or cancelled, returns of this line
    unit_price: Decimal


@dataclass(frozen=True)
class RequestedLine:
    line_no: int
    quantity: int
    reason: ReturnReason


@dataclass(frozen=True)
class Eligibility:
    eligible: tuple[RequestedLine, ...]
    refusals: tuple[Problem, ...]

    @property
    def all_eligible(self) -> bool:
        return not self.refusals


def check_eligibility(policy: ReturnPolicy, *, channel: str, b2b: bool, delivered_at: datetime | None,
                      now: datetime, order_lines: Sequence[OrderLineFacts],
                      requested: Iterable[RequestedLine]) -> Eligibility:
    """Which requested lines may come back, and for each that may not, a refusal naming the line and why.

    Merchant-fault reasons (damaged, defective, wrong item…) are accepted outside the window and on final
    sale items: the merchant owes a remedy whatever the policy says."""
    by_line = {ln.line_no: ln for ln in order_lines}
    eligible: list[RequestedLine] = []
    refusals: list[Problem] = []
    seen: set[int] = set()
    for req in requested:
        field_ = f"lines.{req.line_no}"
        ln = by_line.get(req.line_no)
        if ln is None:
            refusals.append(Problem("return.unknown_line", field_, f"the order has no line {req.line_no}",
                                    "choose a line of this order"))
            continue
        if req.line_no in seen:
            refusals.append(Problem("return.duplicate_line", field_, f"line {req.line_no} is asked twice",
                                    "ask once per line with the total quantity"))
            continue
        seen.add(req.line_no)
        returnable = ln.shipped - ln.already_returned
        if not isinstance(req.quantity, int) or req.quantity <= 0:
            refusals.append(Problem("return.quantity_invalid", field_, f"quantity {req.quantity!r} is not a "
                                    "positive whole number", "ask for 1 or more units"))
            continue
        if req.quantity > returnable:
            refusals.append(Problem("return.quantity_exceeds", field_,
                                    f"{req.quantity} asked, {returnable} can come back ({ln.shipped} shipped, "
                                    f"{ln.already_returned} already on a return)",
                                    f"ask for at most {returnable}"))
            continue
        fault = req.reason.merchant_fault
        if delivered_at is None and not fault:
            refusals.append(Problem("return.not_delivered", field_, "the order has not been delivered yet",
                                    "cancel the undelivered units instead, or wait for delivery"))
            continue
        if not fault and (ln.sku in policy.final_sale_skus or ln.category in policy.final_sale_categories):
            refusals.append(Problem("return.final_sale", field_, f"{ln.sku} was sold as final sale",
                                    "final-sale items come back only when damaged, defective or wrong"))
            continue
        if b2b and not fault and not policy.b2b_allows_change_of_mind:
            refusals.append(Problem("return.b2b_terms", field_, f"the account's terms take back only damaged, "
                                    f"defective or wrong items, not '{req.reason.value}'",
                                    "ask the account manager for an exception"))
            continue
        window = policy.window(channel, ln.category, b2b)
        if delivered_at is not None and not fault and now > delivered_at + timedelta(days=window):
            days = (now - delivered_at).days
            refusals.append(Problem("return.window_closed", field_,
                                    f"delivered {days} days ago; the return window is {window} days",
                                    "returns are accepted within the window, or for faults at any time"))
            continue
        eligible.append(req)
    return Eligibility(tuple(eligible), tuple(refusals))


# -- condition -> disposition -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DispositionRules:
    """Value thresholds (unit price) that decide what to do with a graded unit."""

    refurbish_min_value: Decimal = Decimal("75")    # repairing cheaper units costs more than they are worth
    rtv_min_value: Decimal = Decimal("20")           # vendor credit is worth the freight above this
    liquidate_min_value: Decimal = Decimal("5")      # below this, liquidation does not pay for handling


def disposition_for(grade: Grade, unit_value: Decimal, *, vendor_returnable: bool,
                    rules: DispositionRules = DispositionRules()) -> Disposition:
    """The disposition rules: sellable grades go back to stock, faulty units go to the vendor or to repair
    when they are worth it, the rest is liquidated or scrapped."""
    if grade is Grade.NEW:
        return Disposition.RESTOCK_NEW
    if grade is Grade.LIKE_NEW:
        return Disposition.OPEN_BOX
    if grade is Grade.DEFECTIVE and vendor_returnable and unit_value >= rules.rtv_min_value:
        return Disposition.RETURN_TO_VENDOR
    if grade in (Grade.USED, Grade.DAMAGED, Grade.DEFECTIVE) and unit_value >= rules.refurbish_min_value:
        return Disposition.REFURBISH
    if grade is not Grade.UNSALEABLE and unit_value >= rules.liquidate_min_value:
        return Disposition.LIQUIDATE
    return Disposition.SCRAP
