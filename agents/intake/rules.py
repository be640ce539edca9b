"""A deterministic, rule-based stand-in for the extraction model (`--llm fake`, CI and offline baselines).

`rules_handler(messages, schema)` plugs into `ScriptedChatModel(handler=...)`: it reads the email text the
agent puts between <email> and </email> and fills `EmailExtraction` with regular expressions and a few
heuristics. It is a baseline, not a model: it only copies what it can find (PO numbers after "PO", "P.O.",
"purchase order #", "order no."; lines like "12 x SKU", "SKU qty 12", "Item: SKU Qty: 12", "SKU - 12",
table rows under a header naming the SKU and quantity columns; "@ $9.50" / "$9.50 each" prices; the block
after "Ship to:" split with `parse_us_address`; dates in common formats). Anything it cannot read stays
empty, and the agent's resolve step turns that into a problem for a person, exactly as with a real model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel

from agents.intake.schema import EmailExtraction, EmailKind, ExtractedAddress, ExtractedLine
from engine.intake.address import parse_us_address

SKU = r"[A-Za-z]{3}-\d{4}"
UNIT = r"(?:x|ea|each|pcs?|units?|cs|cases?|dozen|doz|boxe?s?|bx)"
PO = re.compile(r"(?:\bP\.?\s?O\.?|\bpurchase order|\border)\s*(?:no\.?|number|num|#)?\s*[#:]?\s*"
                r"([A-Z0-9][A-Z0-9-]*\d[A-Z0-9-]*)\b", re.I)
QTY_BEFORE = re.compile(rf"(?<![\w.$-])(\d{{1,6}})\s*(?:({UNIT})\.?\s+)?(?:x\s+)?(?:of\s+)?(?:the\s+)?({SKU})\b", re.I)
QTY_AFTER = re.compile(rf"\b({SKU})\b\s*(?:[:,-]|x|qty\s*:?|quantity\s*:?|\s)\s*(\d{{1,6}})\b(?:\s*({UNIT})\b)?",
                       re.I)
ITEM_QTY = re.compile(rf"\b(?:item|sku|part)\s*:?\s*({SKU})\b.{{0,20}}?\bqty\s*:?\s*(\d{{1,6}})", re.I)
DESC_QTY = re.compile(rf"^\W*(?:(?:please\s+)?(?:need|send|order)\s+)?(\d{{1,6}})\s+(?:({UNIT})\s+)?"
                      rf"(?:of\s+)?(?:the\s+)?([a-z][a-z &'-]{{6,}})", re.I)
PRICE = re.compile(r"(?:@\s*\$?\s*(\d+(?:\.\d{1,2})?))|(?:\$\s*(\d+(?:\.\d{1,2})?)\s*(?:each|ea|/\s*ea)\b)", re.I)
SHIP_TO = re.compile(r"(?:^|[.!]\s+)\s*(?:ship|deliver|send)\s*-?\s*to\b(?:[^:\n]{0,20}:)?\s*(.*)$", re.I)
ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")
MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                      "nov", "dec"], 1)}
DATES = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b"), "mdy"),
    (re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b"), "Mdy"),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b"), "dMy"),
]
HEADER_SKU = ("sku", "item", "part", "product", "article")
HEADER_QTY = ("qty", "quantity", "qty ordered", "units", "count")


def email_text(messages: Sequence[BaseMessage]) -> str:
    for message in messages:
        if isinstance(message, HumanMessage):
            content = str(message.content)
            start, end = content.find("<email>"), content.rfind("</email>")
            if start >= 0:
                return content[start + 7:end if end > start else None].strip()
    return ""


def rules_handler(messages: Sequence[BaseMessage], schema: type[BaseModel] | None = None) -> dict[str, Any]:
    return extract(email_text(messages)).model_dump()


def extract(text: str) -> EmailExtraction:
    body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(">"))
    lines = find_lines(body)
    po = find_po(body)
    kind = classify(body, bool(lines), po)
    if kind != "order":
        return EmailExtraction(kind=kind, summary=f"{kind} from the sender", order_reference=po)
    return EmailExtraction(kind="order", summary=f"order with {len(lines)} line(s)", po_number=po, lines=lines,
                           ship_to=find_ship_to(body), requested_date=find_date(body))


def classify(text: str, has_lines: bool, po: str) -> EmailKind:
    low = text.casefold()
    if re.search(r"out of (the )?office|automatic reply|auto-?reply|unsubscribe|newsletter", low):
        return "other"
    if re.search(r"\bcancel(l?ation|l?ed|l?ing)?\b", low):
        return "cancellation"
    if po and re.search(r"\b(change|modify|update|push|instead of|amend)\b", low) and \
            not re.search(r"^\s*(ship|deliver) to", low, re.M):
        return "change"
    if "?" in text and not has_lines:
        return "question"
    if re.search(r"\b(status|in stock|price for|when will|eta)\b", low) and not has_lines:
        return "question"
    return "order" if has_lines else "other"


def find_po(text: str) -> str:
    """The first PO-like reference in the body, else in the subject (a reply's subject names the old PO)."""
    lines = text.splitlines()
    body = [ln for ln in lines if not ln.lower().startswith("subject:")]
    subject = [ln.partition(":")[2] for ln in lines if ln.lower().startswith("subject:")]
    for match in (*PO.finditer("\n".join(body)), *PO.finditer("\n".join(subject))):
        value = match.group(1).strip("-")
        bare_order = match.group(0).casefold().startswith("order")
        if any(ch.isdigit() for ch in value) and not (bare_order and re.fullmatch(SKU, value)):
            return value
    return ""


def _unit(word: str | None) -> str:
    word = (word or "").casefold().rstrip(".")
    return "" if word in ("", "x") else word


def _price(line: str) -> float | None:
    match = PRICE.search(line)
    return float(match.group(1) or match.group(2)) if match else None


def find_lines(text: str) -> list[ExtractedLine]:
    out: list[ExtractedLine] = []
    header: dict[str, int] | None = None
    seen: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if "|" in line:  # an HTML table is in the body text and again as a [table] section: read it once
            if line in seen:
                continue
            seen.add(line)
        if line.lower().startswith(("subject:", "from:", "[forwarded", "[attachment")):
            continue
        if line.startswith("[table"):
            header = None
            continue
        cells = [c.strip() for c in line.split("|")] if "|" in line else []
        if cells:
            found = _header(cells)
            if found is not None:
                header = found
                continue
            if header is not None:
                if row := _row(cells, header):
                    out.append(row)
                continue
        if (m := ITEM_QTY.search(line)) is not None:
            out.append(ExtractedLine(sku=m.group(1).upper(), quantity=int(m.group(2)), unit_price=_price(line)))
            continue
        for m in QTY_BEFORE.finditer(line):
            out.append(ExtractedLine(sku=m.group(3).upper(), quantity=int(m.group(1)), unit=_unit(m.group(2)),
                                     unit_price=_price(line)))
        if any(ln.sku and ln.sku in line.upper() for ln in out[-3:]) and QTY_BEFORE.search(line):
            continue
        if (m := QTY_AFTER.search(line)) is not None:
            out.append(ExtractedLine(sku=m.group(1).upper(), quantity=int(m.group(2)), unit=_unit(m.group(3)),
                                     unit_price=_price(line)))
        elif (m := DESC_QTY.match(line)) is not None and not re.search(SKU, line) and not SHIP_TO.match(line) \
                and re.search(r"\b(x|of|cases?|cs|ea|units?|sets?|covers?|towels?)\b", line, re.I):
            out.append(ExtractedLine(description=m.group(3).strip()[:200], quantity=int(m.group(1)),
                                         unit=_unit(m.group(2))))
    return out[:60]


def _header(cells: list[str]) -> dict[str, int] | None:
    low = [c.casefold().strip(" #.") for c in cells]
    sku = next((i for i, c in enumerate(low) if any(c.startswith(h) for h in HEADER_SKU)), None)
    qty = next((i for i, c in enumerate(low) if c in HEADER_QTY or c.startswith("qty")), None)
    if sku is None or qty is None:
        return None
    found = {"sku": sku, "qty": qty}
    price = next((i for i, c in enumerate(low) if "price" in c), None)
    unit = next((i for i, c in enumerate(low) if c in ("unit", "uom")), None)
    desc = next((i for i, c in enumerate(low) if c.startswith("desc")), None)
    for name, index in (("price", price), ("unit", unit), ("desc", desc)):
        if index is not None:
            found[name] = index
    return found


def _row(cells: list[str], header: dict[str, int]) -> ExtractedLine | None:
    def cell(name: str) -> str:
        i = header.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

    qty = re.sub(r"[^\d.]", "", cell("qty"))
    if not qty:
        return None
    code = cell("sku")
    sku = code.upper() if re.fullmatch(SKU, code) else ""
    price = re.sub(r"[^\d.]", "", cell("price"))
    return ExtractedLine(sku=sku, buyer_part="" if sku else code[:64], description=cell("desc")[:200],
                         quantity=float(qty), unit=_unit(cell("unit")), unit_price=float(price) if price else None)


def find_ship_to(text: str) -> ExtractedAddress:
    """The address after "Ship to:". Two different ones (a split shipment) give none: a person decides."""
    lines = text.splitlines()
    found: list[ExtractedAddress] = []
    for i, line in enumerate(lines):
        match = SHIP_TO.search(line)
        if match is None:
            continue
        block = [match.group(1).strip()] if match.group(1).strip() else []
        for nxt in lines[i + 1:i + 5]:
            if (block and ZIP.search(block[-1])) or not nxt.strip() or \
                    re.match(r"^\s*(need|by|deliver|requested|thanks|thank|regards)\b", nxt, re.I):
                break
            block.append(nxt.strip())
        parsed = parse_us_address("\n".join(block).rstrip("."))
        fields = parsed.to_address_fields()
        if fields["line1"] or fields["postal_code"]:
            found.append(ExtractedAddress(name=parsed.recipient, line1=fields["line1"], line2=fields["line2"],
                                          city=parsed.city, state=parsed.state, postal_code=parsed.postal_code,
                                          country="US"))
    if len({(a.line1.casefold(), a.postal_code) for a in found}) != 1:
        return ExtractedAddress()
    return found[0]


def find_date(text: str) -> str:
    body = "\n".join(ln for ln in text.splitlines() if not ln.lower().startswith("subject:"))
    for pattern, form in DATES:
        for m in pattern.finditer(body):
            try:
                when = _date(m.groups(), form)
            except ValueError:
                continue
            if when is not None:
                return when.isoformat()
    return ""


def _date(groups: Sequence[str], form: str) -> date | None:
    if form == "ymd":
        return date(int(groups[0]), int(groups[1]), int(groups[2]))
    if form == "mdy":
        year = int(groups[2]) + (2000 if len(groups[2]) == 2 else 0)
        return date(year, int(groups[0]), int(groups[1]))
    month_word, day = (groups[0], groups[1]) if form == "Mdy" else (groups[1], groups[0])
    month = MONTHS.get(month_word[:3].casefold())
    return datetime(int(groups[2]), month, int(day)).date() if month else None
