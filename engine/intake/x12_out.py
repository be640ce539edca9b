"""Outbound X12 to trading partners: 855 purchase order acknowledgement, 856 ship notice, 810 invoice.

Each takes plain inputs (the partner's 850 as read, what routing decided per line, what shipped, what is
billed) and writes one interchange with one group and one set, through the same `SegmentWriter` and
`envelope` as the 997, so separators are never embedded in values and every count is computed.
Version 004010, the version most partners' 850s in the corpus use.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from engine.intake.x12_850 import PurchaseOrder
from engine.intake.x12_writer import Party, SegmentWriter, envelope

VERSION = "004010"


class LineStatus(enum.StrEnum):
    ACCEPTED = "IA"  # item accepted
    QUANTITY_CHANGED = "IQ"  # accepted, quantity changed
    DATE_CHANGED = "DR"  # accepted, date rescheduled
    BACKORDERED = "IB"  # backordered: not available now
    REJECTED = "IR"  # item rejected


@dataclass(frozen=True)
class LineAck:
    line_no: int
    status: LineStatus
    quantity: Decimal
    unit: str = "EA"
    delivery: date | None = None


@dataclass(frozen=True)
class ShippedItem:
    line_id: str
    sku: str
    quantity: int
    unit: str = "EA"


@dataclass(frozen=True)
class InvoiceItem:
    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    unit: str = "EA"


def _text(value: str, limit: int = 60) -> str:
    """Values go out without separators or control characters (partners' translators choke on them)."""
    return re.sub(r"[*~>^\r\n\t]", " ", value).strip()[:limit]


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _us(po: PurchaseOrder) -> tuple[Party, Party]:
    """(our side, the partner) from the 850's envelope: we answer to whoever sent it."""
    qualifier = "ZZ"
    return Party(qualifier, po.receiver_id or "ORDERLOOM"), Party(qualifier, po.sender_id or "PARTNER")


def po_acknowledgement(po: PurchaseOrder, acks: Sequence[LineAck], *, control_number: int, when: datetime) -> str:
    """855: BAK AD (all accepted as ordered), AC (accepted with changes) or RJ (nothing accepted)."""
    statuses = {a.status for a in acks}
    if statuses <= {LineStatus.ACCEPTED}:
        purpose = "AD"
    elif statuses <= {LineStatus.REJECTED, LineStatus.BACKORDERED}:
        purpose = "RJ"
    else:
        purpose = "AC"
    by_line = {a.line_no: a for a in acks}
    body: list[tuple[str, Sequence[str | int]]] = [
        ("BAK", ("00", purpose, _text(po.po_number, 22), (po.order_date or when.date()).strftime("%Y%m%d"))),
    ]
    for line in po.lines:
        ack = by_line.get(line.line_no)
        if ack is None:
            continue
        ids: list[str] = []
        for qualifier, value in line.product_ids[:3]:
            ids += [qualifier, _text(value, 48)]
        price = _money(line.unit_price) if line.unit_price is not None else ""
        body.append(("PO1", (_text(line.line_id, 20), f"{line.quantity.normalize():f}", line.unit, price,
                             line.price_basis, *ids)))
        when_text = ack.delivery.strftime("%Y%m%d") if ack.delivery else ""
        body.append(("ACK", (ack.status.value, f"{ack.quantity.normalize():f}", ack.unit,
                             "068" if when_text else "", when_text)))
    body.append(("CTT", (len([line for line in po.lines if line.line_no in by_line]),)))
    ours, theirs = _us(po)
    writer = SegmentWriter()
    envelope(writer, sender=ours, receiver=theirs, control_number=control_number, functional_id="PR",
             version=VERSION, sets=[("855", body)], when=when)
    return writer.text()


def ship_notice(po: PurchaseOrder, *, shipment_id: str, shipped_at: datetime, carrier: str, tracking: str,
                items: Sequence[ShippedItem], ship_from: str, control_number: int, when: datetime) -> str:
    """856: shipment (carrier, tracking) -> order (the PO) -> items, as an HL hierarchy."""
    body: list[tuple[str, Sequence[str | int]]] = [
        ("BSN", ("00", _text(shipment_id, 30), shipped_at.strftime("%Y%m%d"), shipped_at.strftime("%H%M"))),
        ("HL", (1, "", "S")),
        ("TD5", ("", "2", _text(carrier, 20))),
        ("REF", ("CN", _text(tracking, 30))),
        ("DTM", ("011", shipped_at.strftime("%Y%m%d"))),
        ("N1", ("SF", _text(ship_from))),
        ("HL", (2, 1, "O")),
        ("PRF", (_text(po.po_number, 22),)),
    ]
    for number, item in enumerate(items, start=3):
        body.append(("HL", (number, 2, "I")))
        body.append(("LIN", (_text(item.line_id, 20), "SK", _text(item.sku, 48))))
        body.append(("SN1", ("", item.quantity, item.unit)))
    body.append(("CTT", (len(items),)))
    ours, theirs = _us(po)
    writer = SegmentWriter()
    envelope(writer, sender=ours, receiver=theirs, control_number=control_number, functional_id="SH",
             version=VERSION, sets=[("856", body)], when=when)
    return writer.text()


def invoice(po: PurchaseOrder, *, invoice_number: str, invoice_date: date, items: Sequence[InvoiceItem],
            control_number: int, when: datetime, currency: str = "USD") -> str:
    """810: BIG (invoice and PO), CUR, IT1 per billed item, TDS total in cents, CTT."""
    body: list[tuple[str, Sequence[str | int]]] = [
        ("BIG", (invoice_date.strftime("%Y%m%d"), _text(invoice_number, 22),
                 po.order_date.strftime("%Y%m%d") if po.order_date else "", _text(po.po_number, 22))),
        ("CUR", ("SE", currency)),
    ]
    total = Decimal(0)
    for item in items:
        body.append(("IT1", (_text(item.line_id, 20), item.quantity, item.unit, _money(item.unit_price), "",
                             "SK", _text(item.sku, 48))))
        total += item.unit_price * item.quantity
    cents = int((total.quantize(Decimal("0.01")) * 100).to_integral_value())
    body.append(("TDS", (cents,)))
    body.append(("CTT", (len(items),)))
    ours, theirs = _us(po)
    writer = SegmentWriter()
    envelope(writer, sender=ours, receiver=theirs, control_number=control_number, functional_id="IN",
             version=VERSION, sets=[("810", body)], when=when)
    return writer.text()
