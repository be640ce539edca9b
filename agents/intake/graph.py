"""The intake agent for order emails: read -> screen -> extract (LLM, JSON schema) -> resolve (code).

- read: parse the MIME message (engine/intake/mail.py); identify the sender (customer on file, else the one
  B2B account owning the sender's domain).
- screen: look for instructions aimed at the system ("ignore your instructions", "approve this order", "set
  the price to 0", "ship it somewhere else"). They are data: the draft is flagged for review, and nothing
  the email says can do more than fill the draft's own fields.
- extract: one grammar-constrained call fills `EmailExtraction` (kind and the order's fields). Small local
  models cannot call tools reliably (see ../shared/LLM.md), so the model only fills a form.
- resolve: code checks every value. Confidence per field is grounded, not self-reported: a value the email
  contains verbatim (a PO number, a part number, a quantity) is trusted more than one the model produced
  without a trace in the text; SKUs must exist in the catalog; a price that differs from the account's list
  price is never taken silently; a missing address or PO number is a problem naming the field.
The result is an `OrderDraft` (engine/intake/draft.py); `draft.touchless` says whether it may become an order
without a person. The agent has no tool that changes state.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agents.intake.schema import EmailExtraction
from engine.domain import errors as e
from engine.intake.address import validate_address
from engine.intake.draft import DraftAddress, DraftLine, DraftProblem, DraftSource, OrderDraft, Sourced
from engine.intake.mail import ParsedEmail, parse_email
from engine.intake.matching import DraftLine as MatchLine
from tools.intake import IntakeLookups

PRICE_TOLERANCE = Decimal("0.005")  # half a percent: rounding in a buyer's spreadsheet, not a new price
UNITS_OF_ONE = {"", "ea", "each", "pc", "pcs", "piece", "pieces", "unit", "units", "x"}

# Anything that could state a date: month names, weekdays, numeric dates, "tomorrow", "next week".
DATE_WORDS = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|"
                        r"\b\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)|"
                        r"\b(mon|tues?|wed(nes)?|thu(rs)?|fri|sat(ur)?|sun)(day)?\b|\b(tomorrow|next week|eow|eom)\b|"
                        r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b|\b\d{1,2}/\d{1,2}\b", re.I)
SHIP_TO_HEADING = re.compile(r"(?im)^\s*(?:ship|deliver)\s*-?\s*to\b[^:\n]{0,30}:")

SUSPICIOUS = [
    (re.compile(r"\b(ignore|disregard|forget)\b.{0,40}\b(instruction|rule|prompt|guideline)s?\b", re.I | re.S),
     "asks the system to ignore its instructions"),
    (re.compile(r"\b(system|developer)\s+(prompt|message|instruction)s?\b", re.I), "mentions the system prompt"),
    (re.compile(r"\b(auto[- ]?approve|approve (this|the|my) order|mark (it|this( order)?|the order) (as )?"
                r"(approved|paid|shipped))\b", re.I), "asks for an approval only a person may give"),
    (re.compile(r"\b(set|change|make|override)\b.{0,30}\bprice\b.{0,20}\b(to|=|at)\b|\bfree of charge\b|"
                r"\b100\s*% (off|discount)\b", re.I | re.S), "asks to change prices"),
    (re.compile(r"\b(ship|send|deliver)\b.{0,40}\b(instead|different|another|other)\b.{0,30}\b(address|location|"
                r"than)\b", re.I | re.S), "asks to ship somewhere other than the order says"),
    (re.compile(r"\byou are (now )?(an?|the) (ai|assistant|model|bot)\b|\bact as\b|\bpretend (to be|you)\b", re.I),
     "addresses the model directly"),
]


class IntakeState(TypedDict, total=False):
    raw: bytes
    email: ParsedEmail
    customer_id: str | None
    account_code: str | None
    flags: list[str]
    problems: list[DraftProblem]
    extraction: EmailExtraction
    draft: OrderDraft
    timings: dict[str, float]


@dataclass
class IntakeResult:
    draft: OrderDraft
    email: ParsedEmail
    extraction: EmailExtraction | None
    timings: dict[str, float] = field(default_factory=dict)


def system_prompt() -> str:
    return resources.files("prompts").joinpath("intake_email.md").read_text(encoding="utf-8")


def screen_text(text: str) -> list[str]:
    """Reasons the text looks like it is talking to the system rather than ordering."""
    return [why for pattern, why in SUSPICIOUS if pattern.search(text)]


def _normal(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def appears(value: str, text: str) -> bool:
    """Whether `value` occurs in `text`, ignoring case, spaces and punctuation (codes are written many ways)."""
    needle = _normal(value)
    return bool(needle) and needle in _normal(text)


def number_appears(value: Decimal, text: str) -> bool:
    forms = {f"{value.normalize():f}", str(int(value)) if value == value.to_integral_value() else ""}
    return any(f and re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d]|[.,]\d)", text) for f in forms)


class IntakeAgent:
    """Builds drafts from raw emails with the given chat model and read-only lookups."""

    def __init__(self, model: BaseChatModel, lookups: IntakeLookups) -> None:
        self.model = model
        self.lookups = lookups
        self.extractor = model.with_structured_output(EmailExtraction, method="json_schema")
        self.graph = self._build()

    def _build(self) -> Any:
        graph: StateGraph[IntakeState] = StateGraph(IntakeState)
        graph.add_node("read", self._read)
        graph.add_node("screen", self._screen)
        graph.add_node("extract", self._extract)
        graph.add_node("resolve", self._resolve)
        graph.add_edge(START, "read")
        graph.add_edge("read", "screen")
        graph.add_edge("screen", "extract")
        graph.add_edge("extract", "resolve")
        graph.add_edge("resolve", END)
        return graph.compile()

    def run(self, raw: bytes) -> IntakeResult:
        """Raises `EmailUnreadable` for input that is not an email; everything else ends in a draft."""
        state: IntakeState = self.graph.invoke({"raw": raw, "flags": [], "problems": [], "timings": {}})
        return IntakeResult(state["draft"], state["email"], state.get("extraction"), state.get("timings", {}))

    # -- nodes
    def _read(self, state: IntakeState) -> IntakeState:
        started = time.perf_counter()
        email = parse_email(state["raw"])
        customer_id, account_code = self.lookups.sender(email.sender)
        if customer_id is None and account_code is None:
            for fw in email.forwarded:  # a salesperson forwarding the buyer's PO: the buyer is the sender
                customer_id, account_code = self.lookups.sender(fw.sender)
                if customer_id or account_code:
                    break
        return {"email": email, "customer_id": customer_id, "account_code": account_code,
                "timings": {**state.get("timings", {}), "read_ms": _ms(started)}}

    def _screen(self, state: IntakeState) -> IntakeState:
        email = state["email"]
        reasons = screen_text(email.text_for_model(limit=1_000_000))
        problems = list(state.get("problems", []))
        flags = list(state.get("flags", []))
        if reasons:
            flags.append("suspicious_instructions")
            problems.append(DraftProblem(code="untrusted.instructions", field="email",
                                         message="the email contains instructions aimed at the system: "
                                                 + "; ".join(reasons),
                                         fix="review the email; such instructions are never followed"))
        return {"flags": flags, "problems": problems}

    def _extract(self, state: IntakeState) -> IntakeState:
        started = time.perf_counter()
        email = state["email"]
        messages = [SystemMessage(system_prompt()),
                    HumanMessage("<email>\n" + email.text_for_model() + "\n</email>")]
        extraction = self.extractor.invoke(messages)
        assert isinstance(extraction, EmailExtraction)
        return {"extraction": extraction, "timings": {**state.get("timings", {}), "model_ms": _ms(started)}}

    def _resolve(self, state: IntakeState) -> IntakeState:
        started = time.perf_counter()
        email, extraction = state["email"], state["extraction"]
        text = email.text_for_model(limit=1_000_000)
        problems = list(state.get("problems", []))
        account_code, customer_id = state.get("account_code"), state.get("customer_id")
        reference = email.message_id or hashlib.sha256(state["raw"]).hexdigest()[:32]
        draft = OrderDraft(source=DraftSource.EMAIL, reference=reference, kind=extraction.kind,
                           account_code=account_code, customer_id=customer_id, sender=email.sender,
                           notes=extraction.summary, flags=list(state.get("flags", [])), warnings=email.warnings)
        if customer_id is None and account_code is None:
            problems.append(DraftProblem(code="intake.unknown_sender", field="from",
                                         message=f"{email.sender} is not a known customer or account domain",
                                         fix="link the sender to a customer or account, or reply to ask who "
                                             "they order for"))
        if extraction.kind != "order":
            draft.notes = extraction.summary
            draft.po_number = Sourced(value=extraction.order_reference or None,
                                      confidence=0.9 if appears(extraction.order_reference, text) else 0.4,
                                      source="model")
            draft.problems = problems
            return {"draft": draft, "timings": {**state.get("timings", {}), "resolve_ms": _ms(started)}}
        draft.po_number = self._po_number(extraction, text, problems, account_code is not None)
        draft.ship_to = self._ship_to(extraction, text, problems, draft.warnings)
        new_text = "\n".join([email.body, *(fw.text for fw in email.forwarded)])
        if len(SHIP_TO_HEADING.findall(new_text)) > 1:
            problems.append(DraftProblem(code="address.multiple", field="ship_to",
                                         message="the email names more than one delivery address",
                                         fix="split the order per address or ask the buyer"))
        sent = email.sent_at.date() if email.sent_at else date.today()
        draft.requested_date = self._requested_date(extraction, text, problems, sent, draft.warnings)
        draft.lines = self._lines(extraction, text, account_code, problems)
        draft.problems = problems
        return {"draft": draft, "timings": {**state.get("timings", {}), "resolve_ms": _ms(started)}}

    # -- resolution of each field
    @staticmethod
    def _po_number(extraction: EmailExtraction, text: str, problems: list[DraftProblem], b2b: bool) -> Sourced:
        po = extraction.po_number.strip()
        if not po:
            if b2b:
                problems.append(DraftProblem(code="intake.po_missing", field="po_number",
                                             message="no purchase order number in the email",
                                             fix="ask the buyer for their PO number"))
            return Sourced(value=None, confidence=0.0 if b2b else 1.0, source="model")
        grounded = appears(po, text)
        if not grounded:
            problems.append(DraftProblem(code="intake.ungrounded", field="po_number",
                                         message=f"PO number {po!r} does not occur in the email",
                                         fix="check the PO number against the email"))
        return Sourced(value=po, confidence=0.95 if grounded else 0.3, source="model")

    @staticmethod
    def _ship_to(extraction: EmailExtraction, text: str, problems: list[DraftProblem],
                 warnings: list[str]) -> DraftAddress | None:
        a = extraction.ship_to
        required = {"line1": a.line1, "city": a.city, "state": a.state, "postal_code": a.postal_code}
        missing = [k for k, v in required.items() if not v.strip()]
        if len(missing) == len(required):
            problems.append(DraftProblem(code="address.missing", field="ship_to",
                                         message="the email gives no delivery address",
                                         fix="use the account's usual ship-to or ask the buyer"))
            return None
        for k in missing:
            problems.append(DraftProblem(code="address.incomplete", field=f"ship_to.{k}",
                                         message=f"the delivery address has no {k}", fix=f"ask for the {k}"))
        ungrounded = [k for k, v in required.items() if v.strip() and not appears(v, text)]
        for k in ungrounded:
            problems.append(DraftProblem(code="intake.ungrounded", field=f"ship_to.{k}",
                                         message=f"{k} {required[k]!r} does not occur in the email",
                                         fix="check the address against the email"))
        confidence = 0.3 if ungrounded or missing else 0.95
        address = DraftAddress(name=a.name.strip(), line1=a.line1.strip(), line2=a.line2.strip(),
                               city=a.city.strip(), state=a.state.strip(), postal_code=a.postal_code.strip(),
                               country=(a.country or "US").strip().upper(), confidence=confidence, source="model")
        if missing:
            return address
        return IntakeAgent._checked(address, problems, warnings)

    @staticmethod
    def _checked(address: DraftAddress, problems: list[DraftProblem], warnings: list[str]) -> DraftAddress:
        """Validate against the offline ZIP database: apply corrections that have one confident candidate
        (noted as a warning), turn everything else into a problem naming the field and the candidates."""
        check = validate_address(address.as_ship_to())
        confident = {c.code: c for c in check.confident_corrections()}
        updates: dict[str, object] = {}
        confidence = address.confidence
        for problem in check.problems:
            fix = confident.get(problem.code)
            if fix is not None and fix.field in DraftAddress.model_fields:
                updates[fix.field] = fix.proposed
                confidence = min(confidence, fix.confidence)
                warnings.append(f"ship_to.{fix.field} corrected from {fix.current!r} to {fix.proposed!r} "
                                f"({fix.reason}, confidence {fix.confidence:.2f})")
                continue
            candidates = [f"{c.proposed} ({c.confidence:.2f})" for c in check.corrections if c.code == problem.code]
            problems.append(DraftProblem(code=problem.code, field=f"ship_to.{problem.field.split('.')[-1]}",
                                         message=problem.message + (f"; candidates: {', '.join(candidates)}"
                                                                    if candidates else ""),
                                         fix=problem.fix or "confirm the address with the buyer"))
            confidence = min(confidence, 0.5)
        warnings += [w.message for w in check.warnings]
        return address.model_copy(update={**updates, "confidence": confidence})

    @staticmethod
    def _requested_date(extraction: EmailExtraction, text: str, problems: list[DraftProblem],
                        today: date, warnings: list[str]) -> Sourced:
        raw = extraction.requested_date.strip()
        if not raw:
            return Sourced(value=None, confidence=1.0, source="model")
        if not DATE_WORDS.search(text):
            # The email mentions no date at all: the model made this one up. The draft has no requested date.
            warnings.append(f"the model proposed a delivery date {raw} that the email does not mention; ignored")
            return Sourced(value=None, confidence=1.0, source="model")
        try:
            when = date.fromisoformat(raw)
        except ValueError:
            problems.append(DraftProblem(code="intake.date", field="requested_date",
                                         message=f"requested date {raw!r} is not a date", fix="ask for the date"))
            return Sourced(value=None, confidence=0.0, source="model")
        # Dates are written in many forms; the day number must at least occur in the text.
        grounded = bool(re.search(rf"(?<!\d)0?{when.day}(?!\d)", text))
        if not grounded:
            problems.append(DraftProblem(code="intake.ungrounded", field="requested_date",
                                         message=f"requested date {raw} does not occur in the email",
                                         fix="check the date against the email"))
        elif when < today:
            problems.append(DraftProblem(code="intake.date_past", field="requested_date",
                                         message=f"requested date {raw} is in the past", fix="ask for the date"))
        return Sourced(value=when, confidence=0.9 if grounded else 0.4, source="model")

    def _lines(self, extraction: EmailExtraction, text: str, account_code: str | None,
               problems: list[DraftProblem]) -> list[DraftLine]:
        if not extraction.lines:
            problems.append(DraftProblem(code="intake.no_lines", field="lines",
                                         message="the email is an order but no item could be read",
                                         fix="read the email and enter the lines"))
            return []
        codes = [ln.sku.strip().upper() for ln in extraction.lines if ln.sku.strip()]
        known = self.lookups.existing_skus(codes)
        prices = self.lookups.prices(account_code, known)
        lines: list[DraftLine] = []
        for i, ln in enumerate(extraction.lines):
            field = f"lines[{i}]"
            confidence: dict[str, float] = {}
            sku = ln.sku.strip().upper() or None
            matched_by = ""
            converted: int | None = None
            if sku and sku in known:
                matched_by = "exact_sku"
                confidence["sku"] = 1.0 if appears(sku, text) else 0.5
                if confidence["sku"] < 1.0:
                    problems.append(DraftProblem(code="intake.ungrounded", field=f"{field}.sku",
                                                 message=f"SKU {sku} does not occur in the email",
                                                 fix="check the item against the email"))
            else:
                # The account's buyer part number, then the description's nearest catalog items.
                found = self.lookups.match(account_code, MatchLine(
                    buyer_part=ln.buyer_part or None, sku=None, description=ln.description or None,
                    quantity=Decimal(str(ln.quantity)) if ln.quantity else None, unit=ln.unit or None))
                grounded = appears(ln.buyer_part, text) or appears(ln.description, text)
                if found.sku is not None and found.confident and grounded:
                    sku, matched_by, converted = found.sku, found.method, found.quantity
                    confidence["sku"] = found.confidence
                    if found.confidence < 0.9:
                        problems.append(DraftProblem(code="catalog.uncertain", field=f"{field}.sku",
                                                     message=f"{ln.description or ln.buyer_part!r} looks like {sku} "
                                                             f"(confidence {found.confidence:.2f})",
                                                     fix="confirm the item"))
                else:
                    what = sku or ln.buyer_part or ln.description or f"line {i + 1}"
                    near = ", ".join(f"{c} ({score:.2f})" for c, score in found.candidates[:3])
                    problems.append(DraftProblem(code="catalog.unmatched", field=f"{field}.sku",
                                                 message=f"no catalog item matches {what!r}"
                                                         + (f"; nearest: {near}" if near else ""),
                                                 fix="pick the item from the catalog or ask the buyer"))
                    confidence["sku"] = 0.0
                    sku = None
                if sku is not None:
                    prices.update(self.lookups.prices(account_code, [sku]))
            quantity: Decimal | None
            try:
                quantity = Decimal(str(ln.quantity))
                if quantity == quantity.to_integral_value():
                    quantity = Decimal(int(quantity))  # 6.0 from the JSON number is 6 units
            except InvalidOperation:  # pragma: no cover - the schema guarantees a number
                quantity = None
            if quantity is None or quantity <= 0 or quantity != quantity.to_integral_value():
                problems.append(DraftProblem(code="quantity.invalid", field=f"{field}.quantity",
                                             message=f"quantity {ln.quantity!r} is not a whole number of units",
                                             fix="ask for the quantity"))
                confidence["quantity"] = 0.0
            else:
                confidence["quantity"] = 0.95 if number_appears(quantity, text) else 0.4
                if confidence["quantity"] < 0.9:
                    problems.append(DraftProblem(code="intake.ungrounded", field=f"{field}.quantity",
                                                 message=f"quantity {quantity} does not occur in the email",
                                                 fix="check the quantity against the email"))
            unit = ln.unit.strip()
            if converted is not None and quantity is not None and converted != quantity:
                # The cross-reference turned the buyer's packs into our units: price per our unit below.
                quantity, unit = Decimal(converted), "EA"
            elif unit.casefold() not in UNITS_OF_ONE:
                problems.append(DraftProblem(code="unit.unconverted", field=f"{field}.unit",
                                             message=f"the line is in {unit!r}; units per {unit} are not known",
                                             fix="confirm how many units one of these holds"))
                confidence["unit"] = 0.0
            unit_price = prices.get(sku) if sku else None
            if ln.unit_price is not None and sku:
                stated = Decimal(str(ln.unit_price))
                if converted and ln.quantity:  # a price per buyer pack, compared per our unit
                    stated = stated * Decimal(str(ln.quantity)) / converted
                stated = stated.quantize(Decimal("0.0001"))
                if unit_price is None:
                    problems.append(DraftProblem(code="pricing.no_list_price", field=f"{field}.unit_price",
                                                 message=f"{sku} has no price to check {stated} against",
                                                 fix="confirm the price"))
                elif abs(stated - unit_price) > unit_price * PRICE_TOLERANCE:
                    problems.append(DraftProblem(code="pricing.mismatch", field=f"{field}.unit_price",
                                                 message=f"the email says {stated} for {sku}, the price list "
                                                         f"{unit_price}",
                                                 fix="keep the list price or approve the buyer's price"))
                    confidence["unit_price"] = 0.0
            lines.append(DraftLine(line_no=i + 1, buyer_part=ln.buyer_part.strip() or None, sku=sku,
                                   description=ln.description.strip(), quantity=quantity, unit=unit or "EA",
                                   unit_price=unit_price, confidence=confidence, source="model",
                                   matched_by=matched_by))
        return lines


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def unreadable_problem(err: e.OrderloomError) -> list[dict[str, Any]]:
    return [p.to_dict() for p in err.problems]
