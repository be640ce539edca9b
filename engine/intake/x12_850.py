"""Map X12 850 sets to `PurchaseOrder` drafts; every field records the segment index it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from engine.intake.x12_errors import CountMismatch, NotAnOrder, PurchaseOrderInvalid, X12Error
from engine.intake.x12_reader import Rejection, Segment, TransactionSet, X12Document, read_x12

_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)\Z")
GTIN_QUALIFIERS = ("UP", "UK", "EN", "UA", "UI")
PARTY_SEGMENTS = frozenset({"N2", "N3", "N4", "REF", "PER", "FOB", "TD1", "TD3", "TD4", "TD5"})
# Most elements each mapped segment may carry (X12 004010); more, non-empty, is an error (997 AK4 code 3).
MAX_ELEMENTS = {"BEG": 12, "CUR": 21, "REF": 4, "PER": 9, "DTM": 6, "N1": 6, "N2": 2, "N3": 2, "N4": 7,
                "PO1": 25, "PID": 9, "PO4": 18, "SAC": 16, "CTT": 7}


@dataclass(frozen=True, slots=True)
class Reference:
    qualifier: str
    value: str
    description: str
    segment_index: int


@dataclass(frozen=True, slots=True)
class Contact:
    function: str
    name: str
    channels: tuple[tuple[str, str], ...]
    segment_index: int


@dataclass(frozen=True, slots=True)
class DatedEvent:
    qualifier: str
    value: date | None
    raw: str
    segment_index: int


@dataclass(frozen=True, slots=True)
class Charge:
    indicator: str
    code: str
    amount: Decimal | None
    description: str
    segment_index: int


@dataclass(slots=True)
class Party:
    role: str
    name: str
    id_qualifier: str
    id: str
    segment_index: int
    names: list[str] = field(default_factory=list)
    address_lines: list[str] = field(default_factory=list)
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    contacts: list[Contact] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pack:
    pack: Decimal | None
    size: Decimal | None
    unit: str
    segment_index: int


@dataclass(slots=True)
class PoLine:
    line_no: int
    line_id: str
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    price_basis: str
    product_ids: tuple[tuple[str, str], ...]
    segment_index: int
    descriptions: list[str] = field(default_factory=list)
    packs: list[Pack] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    dates: list[DatedEvent] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    parties: list[Party] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    def product_id(self, *qualifiers: str) -> str | None:
        return next((value for qual, value in self.product_ids if qual in qualifiers), None)

    @property
    def buyer_part(self) -> str | None:
        return self.product_id("BP")

    @property
    def vendor_part(self) -> str | None:
        return self.product_id("VP", "VN")

    @property
    def gtin(self) -> str | None:
        return self.product_id(*GTIN_QUALIFIERS)

    @property
    def sku(self) -> str | None:
        return self.product_id("SK")


@dataclass(slots=True)
class PurchaseOrder:
    """A draft read from one 850; not yet validated against catalog, account or stock."""

    reference: str
    sender_id: str
    receiver_id: str
    purpose: str
    order_type: str
    po_number: str
    order_date: date | None
    release: str = ""
    currency: str | None = None
    references: list[Reference] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    dates: list[DatedEvent] = field(default_factory=list)
    parties: list[Party] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    lines: list[PoLine] = field(default_factory=list)
    line_count: int | None = None
    sources: dict[str, int] = field(default_factory=dict)

    def party(self, role: str) -> Party | None:
        return next((p for p in self.parties if p.role == role), None)

    @property
    def ship_to(self) -> Party | None:
        return self.party("ST")

    @property
    def bill_to(self) -> Party | None:
        return self.party("BT")

    @property
    def buyer(self) -> Party | None:
        return self.party("BY")

    def date_for(self, *qualifiers: str) -> date | None:
        return next((d.value for d in self.dates if d.qualifier in qualifiers), None)

    @property
    def requested_delivery(self) -> date | None:
        return self.date_for("002", "017", "074")

    @property
    def requested_ship(self) -> date | None:
        return self.date_for("010", "037", "038")


@dataclass(slots=True)
class X12Intake:
    """What one input gave: orders, well-formed sets that are not orders, and everything refused."""

    document: X12Document
    orders: list[PurchaseOrder] = field(default_factory=list)
    not_orders: list[Rejection] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def read_purchase_orders(data: bytes | str) -> X12Intake:
    """Read an input and map each 850 set; a bad set is rejected alone and the others still map."""
    doc = read_x12(data)
    result = X12Intake(doc, rejections=list(doc.rejections))
    for ts in doc.transaction_sets():
        if ts.set_id != "850":
            result.not_orders.append(Rejection("set", NotAnOrder(
                f"transaction set {ts.set_id} is not an 850 purchase order", segment_index=ts.segments[0].index,
                segment_id="ST", element=1, value=ts.set_id), ts.interchange_control, ts.group_control,
                ts.control_number, ts.set_id))
            continue
        try:
            result.orders.append(map_850(ts))
        except X12Error as error:
            result.rejections.append(Rejection("set", error, ts.interchange_control, ts.group_control,
                                               ts.control_number, ts.set_id))
    return result


def map_850(ts: TransactionSet) -> PurchaseOrder:
    """One 850 set → `PurchaseOrder`; raises `PurchaseOrderInvalid` or `CountMismatch` naming the segment."""
    body = ts.segments[1:-1]
    for position, seg in enumerate(ts.segments, start=1):
        limit = MAX_ELEMENTS.get(seg.id)
        if limit is not None and len(seg.elements) > limit and any(e.strip() for e in seg.elements[limit:]):
            raise PurchaseOrderInvalid(f"{seg.id} has {len(seg.elements)} elements, at most {limit} allowed",
                                       segment_index=seg.index, segment_id=seg.id, element=limit + 1, ak3="8",
                                       ak4="3", position=position)
    beg = next((s for s in body if s.id == "BEG"), None)
    if beg is None:
        raise PurchaseOrderInvalid("BEG segment missing", segment_index=ts.segments[0].index, segment_id="ST",
                                   ak3="3", position=1, fix="start the 850 with BEG")
    for element in (1, 2, 3, 5):
        _required(beg, element, ts)
    po = PurchaseOrder(ts.reference, ts.sender_id, ts.receiver_id, beg.get(1), beg.get(2), beg.get(3),
                       _date(beg, 5, ts),
                       release=beg.get(4), sources={"purpose": beg.index, "order_type": beg.index,
                                                    "po_number": beg.index, "order_date": beg.index})
    party: Party | None = None
    line: PoLine | None = None
    ctt: Segment | None = None
    for seg in body:
        sid = seg.id
        if sid == "PO1":
            line, party = _line(seg, len(po.lines) + 1, ts), None
            po.lines.append(line)
        elif sid == "CTT":
            ctt, line, party = seg, None, None
        elif sid == "N1":
            party = Party(seg.get(1), seg.get(2), seg.get(3), seg.get(4), seg.index,
                          sources={"name": seg.index, "id": seg.index})
            (line.parties if line else po.parties).append(party)
        elif party is not None and sid in PARTY_SEGMENTS:
            _party_detail(party, seg)
        else:
            party = None
            if line is not None:
                _line_detail(line, seg, ts)
            else:
                _header_detail(po, seg, ts)
    if not po.lines:
        raise PurchaseOrderInvalid("no PO1 line", segment_index=ts.segments[-1].index, segment_id="SE", ak3="3",
                                   position=len(ts.segments), fix="send at least one PO1 line")
    if ctt is not None and ctt.get(1):
        if not ctt.get(1).isdigit() or int(ctt.get(1)) != len(po.lines):
            raise CountMismatch(f"CTT01 says {ctt.get(1)!r} lines, {len(po.lines)} PO1 received",
                                segment_index=ctt.index, segment_id="CTT", element=1, value=ctt.get(1), ak3="8",
                                ak4="7", position=_position(ctt, ts))
        po.line_count = int(ctt.get(1))
        po.sources["line_count"] = ctt.index
    return po


def _position(seg: Segment, ts: TransactionSet) -> int:
    return seg.index - ts.segments[0].index + 1


def _required(seg: Segment, element: int, ts: TransactionSet) -> str:
    value = seg.get(element)
    if not value:
        raise PurchaseOrderInvalid(f"mandatory element {seg.id}{element:02d} is empty", segment_index=seg.index,
                                   segment_id=seg.id, element=element, ak3="8", ak4="1",
                                   position=_position(seg, ts))
    return value


def _number(seg: Segment, element: int, ts: TransactionSet) -> Decimal | None:
    raw = seg.get(element)
    if not raw:
        return None
    if not _NUMBER.match(raw):
        raise PurchaseOrderInvalid(f"{seg.id}{element:02d} {raw[:20]!r} is not a number", segment_index=seg.index,
                                   segment_id=seg.id, element=element, value=raw[:20], ak3="8", ak4="6",
                                   position=_position(seg, ts), fix="send digits with an optional '.' and '-'")
    return Decimal(raw)


def _date(seg: Segment, element: int, ts: TransactionSet, *, strict: bool = True) -> date | None:
    raw = seg.get(element)
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if len(raw) == 6 and raw.isdigit():
            return date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        pass
    if strict:
        raise PurchaseOrderInvalid(f"{seg.id}{element:02d} {raw[:20]!r} is not a date (CCYYMMDD)",
                                   segment_index=seg.index, segment_id=seg.id, element=element, value=raw[:20],
                                   ak3="8", ak4="8", position=_position(seg, ts))
    return None


def _line(seg: Segment, line_no: int, ts: TransactionSet) -> PoLine:
    _required(seg, 2, ts)
    quantity = _number(seg, 2, ts)
    assert quantity is not None
    if quantity <= 0:
        raise PurchaseOrderInvalid(f"PO102 quantity {seg.get(2)!r} is not positive", segment_index=seg.index,
                                   segment_id="PO1", element=2, value=seg.get(2), ak3="8", ak4="7",
                                   position=_position(seg, ts))
    _required(seg, 3, ts)
    ids = tuple((seg.get(i), seg.get(i + 1)) for i in range(6, len(seg.elements) + 1, 2)
                if seg.get(i) and seg.get(i + 1))
    return PoLine(line_no, seg.get(1), quantity, seg.get(3), _number(seg, 4, ts), seg.get(5), ids, seg.index,
                  sources={"line_id": seg.index, "quantity": seg.index, "unit": seg.index,
                           "unit_price": seg.index, "product_ids": seg.index})


def _reference(seg: Segment) -> Reference:
    return Reference(seg.get(1), seg.get(2), seg.get(3), seg.index)


def _contact(seg: Segment) -> Contact:
    channels = tuple((seg.get(i), seg.get(i + 1)) for i in (3, 5, 7) if seg.get(i))
    return Contact(seg.get(1), seg.get(2), channels, seg.index)


def _party_detail(party: Party, seg: Segment) -> None:
    if seg.id == "N2":
        party.names.extend(v for v in (seg.get(1), seg.get(2)) if v)
        party.sources["names"] = seg.index
    elif seg.id == "N3":
        party.address_lines.extend(v for v in (seg.get(1), seg.get(2)) if v)
        party.sources["address_lines"] = seg.index
    elif seg.id == "N4":
        party.city, party.state, party.postal_code, party.country = seg.get(1), seg.get(2), seg.get(3), seg.get(4)
        for name in ("city", "state", "postal_code", "country"):
            party.sources[name] = seg.index
    elif seg.id == "REF":
        party.references.append(_reference(seg))
    elif seg.id == "PER":
        party.contacts.append(_contact(seg))


def _header_detail(po: PurchaseOrder, seg: Segment, ts: TransactionSet) -> None:
    if seg.id == "CUR":
        po.currency = seg.get(2) or None
        po.sources["currency"] = seg.index
    elif seg.id == "REF":
        po.references.append(_reference(seg))
    elif seg.id == "PER":
        po.contacts.append(_contact(seg))
    elif seg.id == "DTM":
        po.dates.append(DatedEvent(seg.get(1), _date(seg, 2, ts), seg.get(2), seg.index))
    elif seg.id == "SAC":
        po.charges.append(_charge(seg, ts))


def _line_detail(line: PoLine, seg: Segment, ts: TransactionSet) -> None:
    if seg.id == "PID":
        if seg.get(5):
            line.descriptions.append(seg.get(5))
            line.sources.setdefault("descriptions", seg.index)
    elif seg.id == "PO4":
        line.packs.append(Pack(_number(seg, 1, ts), _number(seg, 2, ts), seg.get(3), seg.index))
    elif seg.id == "SAC":
        line.charges.append(_charge(seg, ts))
    elif seg.id == "DTM":
        line.dates.append(DatedEvent(seg.get(1), _date(seg, 2, ts), seg.get(2), seg.index))
    elif seg.id == "REF":
        line.references.append(_reference(seg))


def _charge(seg: Segment, ts: TransactionSet) -> Charge:
    amount = _number(seg, 5, ts)
    # SAC05 is implied two decimals (N2): 19998 means 199.98.
    return Charge(seg.get(1), seg.get(2), None if amount is None else amount / 100, seg.get(15), seg.index)
