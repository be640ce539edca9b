"""Map EDIFACT ORDERS messages to a pure order draft, and write ORDRSP D96A responses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, Field

from engine.intake.edifact import Delimiters, EdifactMessageError, Message, parse_decimal


class SourcedValue(BaseModel):
    """A value with the index of the segment it came from."""

    value: str
    segment_index: int


class EdiParty(BaseModel):
    role: str
    gln: str = ""
    name: str = ""
    street: str = ""
    city: str = ""
    state: str = ""  # NAD 07, country sub-entity
    postcode: str = ""
    country: str = ""
    segment_index: int


class EdiLine(BaseModel):
    line_number: str
    item_id: str = ""
    item_id_type: str = ""
    supplier_article: str = ""
    buyer_part: str = ""
    description: str = ""
    quantity: Decimal | None = None
    unit: str = ""
    price: Decimal | None = None
    price_qualifier: str = ""
    segment_index: int
    quantity_segment: int = -1


class EdiPurchaseOrderDraft(BaseModel):
    """What one ORDERS message says, each part tied to its segment index."""

    message_reference: str
    version: str
    po_number: SourcedValue
    document_code: str = "220"
    message_function: str = ""
    document_date: SourcedValue | None = None
    delivery_dates: list[SourcedValue] = Field(default_factory=list)
    notes: list[SourcedValue] = Field(default_factory=list)
    references: dict[str, SourcedValue] = Field(default_factory=dict)
    parties: list[EdiParty] = Field(default_factory=list)
    currency: SourcedValue | None = None
    amounts: dict[str, SourcedValue] = Field(default_factory=dict)
    lines: list[EdiLine] = Field(default_factory=list)

    def party(self, role: str) -> EdiParty | None:
        return next((p for p in self.parties if p.role == role), None)


def map_orders(msg: Message) -> EdiPurchaseOrderDraft:
    """Map one ORDERS message; raises EdifactMessageError when it is not an order or is inconsistent."""
    if msg.error is not None:
        raise msg.error
    if not msg.is_orders:
        raise EdifactMessageError(f"message type {msg.message_type} is not ORDERS (not an order)",
                                  segment_index=msg.segments[0].index, tag="UNH")
    bgm = next((s for s in msg.segments if s.tag == "BGM"), None)
    if bgm is None or not bgm.get(2):
        raise EdifactMessageError("BGM with a document number is required", segment_index=msg.segments[0].index,
                                  tag="UNH")
    draft = EdiPurchaseOrderDraft(message_reference=msg.reference, version=f"{msg.version}:{msg.release}",
                                  po_number=SourcedValue(value=bgm.get(2), segment_index=bgm.index),
                                  document_code=bgm.get(1), message_function=bgm.get(3))
    line: EdiLine | None = None
    line_count: tuple[int, int] | None = None
    for s in msg.segments:
        if s.tag == "DTM":
            f = SourcedValue(value=f"{s.get(1, 1)}:{s.get(1, 2) or '102'}", segment_index=s.index)
            if s.get(1, 0) == "137":
                draft.document_date = f
            elif s.get(1, 0) in ("2", "64", "63", "4") and line is None:
                draft.delivery_dates.append(SourcedValue(value=f"{s.get(1, 0)}:{f.value}", segment_index=s.index))
        elif s.tag == "FTX":
            text = " ".join(c for c in s.elements[3] if c) if len(s.elements) > 3 else ""
            draft.notes.append(SourcedValue(value=text, segment_index=s.index))
        elif s.tag == "RFF" and line is None:
            draft.references[s.get(1, 0)] = SourcedValue(value=s.get(1, 1), segment_index=s.index)
        elif s.tag == "NAD":
            draft.parties.append(EdiParty(role=s.get(1), gln=s.get(2), name=s.get(4) or s.get(3),
                                          street=s.get(5), city=s.get(6), state=s.get(7), postcode=s.get(8),
                                          country=s.get(9),
                                          segment_index=s.index))
        elif s.tag == "CUX":
            draft.currency = SourcedValue(value=s.get(1, 1), segment_index=s.index)
        elif s.tag == "MOA":
            draft.amounts[s.get(1, 0)] = SourcedValue(value=str(parse_decimal(s.get(1, 1), segment=s, what="amount")),
                                                segment_index=s.index)
        elif s.tag == "LIN":
            line = EdiLine(line_number=s.get(1) or str(len(draft.lines) + 1), item_id=s.get(3, 0),
                           item_id_type=s.get(3, 1), segment_index=s.index)
            if line.item_id_type == "SA":
                line.supplier_article = line.item_id
            draft.lines.append(line)
        elif s.tag == "PIA" and line is not None:
            for comps in s.elements[1:]:
                if comps and comps[0]:
                    kind = comps[1] if len(comps) > 1 else ""
                    if kind == "SA":
                        line.supplier_article = comps[0]
                    elif kind in ("BP", "IN"):
                        line.buyer_part = comps[0]
        elif s.tag == "IMD" and line is not None:
            line.description = s.get(3, 3) or s.get(3, 4) or line.description
        elif s.tag == "QTY" and line is not None and s.get(1, 0) in ("21", "1"):
            line.quantity = parse_decimal(s.get(1, 1), segment=s, what="quantity")
            line.unit, line.quantity_segment = s.get(1, 2), s.index
        elif s.tag == "PRI" and line is not None and s.get(1, 0) in ("AAA", "AAB"):
            line.price = parse_decimal(s.get(1, 1), segment=s, what="price")
            line.price_qualifier = s.get(1, 0)
        elif s.tag == "UNS":
            line = None
        elif s.tag == "CNT" and s.get(1, 0) == "2":
            line_count = (int(parse_decimal(s.get(1, 1), segment=s, what="line count")), s.index)
    if line_count is not None and line_count[0] != len(draft.lines):
        raise EdifactMessageError(f"CNT 2 says {line_count[0]} lines, message has {len(draft.lines)}",
                                  segment_index=line_count[1], tag="CNT")
    return draft


class LineAction(enum.StrEnum):
    ACCEPTED = "5"
    CHANGED = "3"
    REJECTED = "7"


@dataclass(frozen=True)
class LineOutcome:
    """What the supplier says about one order line."""

    line_number: str
    action: LineAction
    quantity: Decimal | None = None
    delivery_date: str = ""  # CCYYMMDD


def escape(value: str, d: Delimiters) -> str:
    """Put the release character before every service character inside a value."""
    specials = {d.component, d.element, d.segment, d.release}
    return "".join(d.release + ch if ch in specials else ch for ch in value)


def write_ordrsp(order: EdiPurchaseOrderDraft, outcomes: list[LineOutcome], *, sender: str, recipient: str,
                 control_reference: str, response_number: str, prepared: str = "260101:1200") -> str:
    """An ORDRSP D96A interchange answering `order` line by line."""
    d = Delimiters()

    def seg(tag: str, *elements: str | tuple[str, ...]) -> str:
        parts = [tag] + [d.component.join(escape(c, d) for c in e) if isinstance(e, tuple) else escape(e, d)
                         for e in elements]
        return d.element.join(parts).rstrip(d.element) + d.segment

    body = [seg("UNH", "1", ("ORDRSP", "D", "96A", "UN")), seg("BGM", "231", response_number, "4"),
            seg("DTM", ("137", prepared.replace(":", "")[:6], "101")),
            seg("RFF", ("ON", order.po_number.value))]
    for p in order.parties:
        if p.role in ("BY", "SU"):
            body.append(seg("NAD", p.role, (p.gln, "", "9")) if p.gln else seg("NAD", p.role, "", "", p.name))
    lines = {line.line_number: line for line in order.lines}
    for o in outcomes:
        ordered = lines.get(o.line_number)
        body.append(seg("LIN", o.line_number, o.action.value,
                        (ordered.item_id, ordered.item_id_type) if ordered else ""))
        qty = o.quantity if o.quantity is not None else (ordered.quantity if ordered else None)
        if qty is not None:
            body.append(seg("QTY", ("21" if o.action != LineAction.CHANGED else "113", str(qty))))
        if o.delivery_date:
            body.append(seg("DTM", ("2", o.delivery_date, "102")))
    body.append(seg("UNS", "S"))
    body.append(seg("UNT", str(len(body) + 1), "1"))
    head = "UNA:+.? '" + seg("UNB", ("UNOC", "3"), sender, recipient, tuple(prepared.split(":")), control_reference)
    return head + "".join(body) + seg("UNZ", "1", control_reference)
