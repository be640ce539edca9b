"""EDI intake: X12 850s and EDIFACT ORDERS become order drafts, then orders through the intake desk; 997 and
855 (X12) or ORDRSP (EDIFACT) go back.

Mapping of an 850 to an `OrderDraft` (values read from checked EDI elements carry confidence 1.0):
- account: the trading partner's ISA06 sender id (`UpsertAccount(edi_partner_id=...)`); unknown partner
  is a problem naming ISA06.
- lines: our SKU from the `SK` or vendor-part (`VP`/`VN`) product id when it exists in the catalog;
  otherwise the line is unmatched (the buyer part and description are kept for a person).
- units: EA (each) as is; a case/box/pack (CA, CS, BX, PK) converts through PO4's pack when present
  (12 CA with PO4 pack 6 = 72 EA), else it is a problem naming the unit.
- prices: the partner's PO1 price is compared with the account's price list; a difference is a problem
  (never a silent re-price in either direction), and the order keeps the list price.
- ship-to: the ST party (N1/N3/N4), checked against the offline ZIP database; requested delivery from
  DTM 002/017/074.
EDIFACT ORDERS map the same way: the partner by UNB sender id, SKUs by the supplier article (LIN/PIA SA),
units PCE/EA/C62 as each, PRI AAA/AAB against the price list, the delivery party (NAD DP, else ST/BY) as
ship-to, DTM 2/64/63 as the requested date.
Idempotency: each X12 set is an intake document with reference ISA13/GS06/ST02, each EDIFACT message
UNB sender/UNB05/UNH01, so the same interchange sent twice never creates a second order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.domain import errors as e
from engine.domain.orders import OrderStatus
from engine.domain.routing import DecisionOutcome
from engine.intake.address import validate_address
from engine.intake.draft import DraftAddress, DraftLine, DraftProblem, DraftSource, OrderDraft, Sourced
from engine.intake.edifact import EdifactError, Interchange, parse_interchange
from engine.intake.edifact_orders import (
    EdiLine,
    EdiPurchaseOrderDraft,
    LineAction,
    LineOutcome,
    map_orders,
    write_ordrsp,
)
from engine.intake.x12_850 import PoLine, PurchaseOrder, X12Intake, read_purchase_orders
from engine.intake.x12_out import (
    InvoiceItem,
    LineAck,
    LineStatus,
    ShippedItem,
    invoice,
    po_acknowledgement,
    ship_notice,
)
from engine.intake.x12_writer import functional_ack
from engine.services.delivery_dates import expected_delivery
from engine.services.handlers.orders import list_price
from engine.services.intake import IntakeDesk, IntakeOutcome
from engine.services.unit_of_work import AbstractUnitOfWork

PACK_UNITS = {"CA", "CS", "BX", "PK", "CT"}
EACH_UNITS = {"EA", "PC", "UN", "EACH"}
PRICE_TOLERANCE = Decimal("0.005")

_control = itertools.count(int(time.time()) % 900_000_000)


def next_control_number() -> int:
    """Outbound interchange control numbers: increasing within a process, seeded from the clock so restarts
    do not reuse recent ones (partners reject a repeated ISA13 only within a window)."""
    return next(_control) % 999_999_999 + 1


def draft_from_850(uow: AbstractUnitOfWork, po: PurchaseOrder) -> OrderDraft:
    problems: list[DraftProblem] = []
    account_code = uow.master.account_code_by_edi_partner(po.sender_id.strip()) if po.sender_id.strip() else None
    if account_code is None:
        problems.append(DraftProblem(code="intake.unknown_sender", field="ISA06",
                                     message=f"trading partner {po.sender_id.strip()!r} is not linked to an account",
                                     fix="set the account's EDI partner id"))
    account = uow.master.get_account(account_code) if account_code else None
    draft = OrderDraft(source=DraftSource.X12, reference=po.reference, account_code=account_code,
                       sender=po.sender_id.strip(), currency=po.currency or "USD",
                       po_number=Sourced(value=po.po_number, confidence=1.0,
                                         source=f"BEG03 @{po.sources.get('po_number')}"))
    delivery = po.requested_delivery
    draft.requested_date = Sourced(value=delivery, confidence=1.0, source="DTM")
    draft.ship_to = _ship_to(po, problems, draft.warnings)
    ids = {value.strip().upper() for line in po.lines for q, value in line.product_ids if q in ("SK", "VP", "VN")}
    known = uow.master.existing_skus(v for v in ids if v)
    for i, line in enumerate(po.lines):
        draft.lines.append(_line(uow, i, line, known, account.price_list_code if account else None, problems))
    if po.line_count is not None and po.line_count != len(po.lines):
        problems.append(DraftProblem(code="edi.count", field="CTT01",
                                     message=f"CTT says {po.line_count} lines, the set has {len(po.lines)}"))
    draft.problems = problems
    return draft


def _ship_to(po: PurchaseOrder, problems: list[DraftProblem], warnings: list[str]) -> DraftAddress | None:
    party = po.ship_to
    if party is None:
        problems.append(DraftProblem(code="address.missing", field="N1*ST", message="the 850 has no ship-to party",
                                     fix="ask the partner for the ship-to"))
        return None
    address = DraftAddress(name=party.name, line1=party.address_lines[0] if party.address_lines else "",
                           line2=party.address_lines[1] if len(party.address_lines) > 1 else "", city=party.city,
                           state=party.state, postal_code=party.postal_code, country=party.country or "US",
                           confidence=1.0, source=f"N1*ST @{party.segment_index}")
    check = validate_address(address.as_ship_to())
    for problem in check.problems:
        problems.append(DraftProblem(code=problem.code, field=f"ship_to.{problem.field.split('.')[-1]}",
                                     message=problem.message, fix=problem.fix))
    warnings += [w.message for w in check.warnings]
    return address.model_copy(update={"confidence": 1.0 if check.valid else 0.5})


def _line(uow: AbstractUnitOfWork, i: int, line: PoLine, known: set[str], price_list: str | None,
          problems: list[DraftProblem]) -> DraftLine:
    field_name = f"lines[{i}]"
    where = f"PO1 @{line.segment_index}"
    confidence: dict[str, float] = {"sku": 1.0, "quantity": 1.0}
    sku = next((v.strip().upper() for q, v in line.product_ids if q in ("SK", "VP", "VN")
                and v.strip().upper() in known), None)
    if sku is None:
        confidence["sku"] = 0.0
        what = ", ".join(f"{q} {v}" for q, v in line.product_ids) or "no product id"
        problems.append(DraftProblem(code="catalog.unmatched", field=f"{field_name}.sku",
                                     message=f"line {line.line_id} ({what}, {where}) matches no catalog item",
                                     fix="map the buyer part to a SKU"))
    quantity = line.quantity
    unit = line.unit.upper()
    stated = line.unit_price
    if unit in PACK_UNITS:
        pack = next((p.pack for p in line.packs if p.pack), None)
        if pack:
            quantity = quantity * pack
            stated = stated / pack if stated is not None else None  # the price per each
            unit = "EA"
        else:
            confidence["unit"] = 0.0
            problems.append(DraftProblem(code="unit.unconverted", field=f"{field_name}.unit",
                                         message=f"line {line.line_id} is in {unit} with no PO4 pack ({where})",
                                         fix="confirm the units per pack"))
    elif unit not in EACH_UNITS:
        confidence["unit"] = 0.0
        problems.append(DraftProblem(code="unit.unconverted", field=f"{field_name}.unit",
                                     message=f"line {line.line_id} is in unit {unit!r} ({where})",
                                     fix="confirm the unit"))
    if quantity != quantity.to_integral_value():
        confidence["quantity"] = 0.0
        problems.append(DraftProblem(code="quantity.invalid", field=f"{field_name}.quantity",
                                     message=f"line {line.line_id}: {quantity} {unit} is not a whole number of units"))
    list_price = _checked_price(uow, sku, price_list, stated if unit in EACH_UNITS else None,
                                f"line {line.line_id}", field_name, where, confidence, problems)
    return DraftLine(line_no=i + 1, buyer_part=line.buyer_part, sku=sku, description="; ".join(line.descriptions),
                     quantity=quantity, unit=unit, unit_price=list_price, requested_date=None,
                     confidence=confidence, source=where, matched_by="edi_product_id" if sku else "")


def _checked_price(uow: AbstractUnitOfWork, sku: str | None, price_list: str | None, stated: Decimal | None,
                   label: str, field_name: str, where: str, confidence: dict[str, float],
                   problems: list[DraftProblem]) -> Decimal | None:
    """The price the order will carry (the account's list, else the catalog's); a partner's price that
    differs from it is a problem naming the line, never a silent re-price."""
    if not sku:
        return None
    price = list_price(uow, price_list, sku)
    if stated is not None and price is not None and abs(stated - price) > price * PRICE_TOLERANCE:
        confidence["unit_price"] = 0.0
        problems.append(DraftProblem(code="pricing.mismatch", field=f"{field_name}.unit_price",
                                     message=f"{label}: the order says {stated}, the price list {price} "
                                             f"({where})",
                                     fix="keep the list price or approve the partner's price"))
    return price


@dataclass
class EdiResult:
    orders: list[dict[str, Any]] = field(default_factory=list)
    not_orders: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    acknowledgements: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rejection(r: Any) -> dict[str, Any]:
    err = r.error
    return {"level": r.level, "code": err.code, "message": err.message, "interchange": r.interchange_control,
            "group": r.group_control, "set": r.set_control, "set_id": r.set_id,
            "problems": [p.to_dict() for p in err.problems]}


class EdiIntake:
    def __init__(self, uow_factory: Callable[..., AbstractUnitOfWork], desk: IntakeDesk) -> None:
        self.uow_factory = uow_factory
        self.desk = desk

    @staticmethod
    def is_edifact(raw: bytes) -> bool:
        head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:3]
        return head in (b"UNA", b"UNB")

    def read_edifact(self, raw: bytes) -> tuple[Interchange, list[tuple[EdiPurchaseOrderDraft, OrderDraft]],
                                                    EdiResult]:
        """Parse and draft EDIFACT without storing anything. Raises EdifactError for an unusable envelope."""
        ic = parse_interchange(raw)
        result = EdiResult(warnings=list(ic.warnings))
        drafts: list[tuple[EdiPurchaseOrderDraft, OrderDraft]] = []
        with self.uow_factory(readonly=True) as uow:
            for msg in ic.messages:
                if msg.error is None and not msg.is_orders:
                    result.not_orders.append({"level": "message", "code": "edifact.not_an_order",
                                              "message": f"message {msg.reference} is {msg.message_type}",
                                              "set": msg.reference, "set_id": msg.message_type})
                    continue
                try:
                    order = map_orders(msg)
                except EdifactError as err:
                    result.rejections.append({"level": "message", "code": err.code, "message": err.message,
                                              "set": msg.reference, "set_id": msg.message_type,
                                              "problems": [p.to_dict() for p in err.problems]})
                    continue
                drafts.append((order, draft_from_orders(uow, ic, order)))
        return ic, drafts, result

    def read(self, raw: bytes) -> tuple[X12Intake, list[OrderDraft]]:
        """Parse and draft without storing anything (the CLI's dry run). Raises X12Error for unusable input."""
        intake = read_purchase_orders(raw)
        with self.uow_factory(readonly=True) as uow:
            drafts = [draft_from_850(uow, po) for po in intake.orders]
        return intake, drafts

    def receive(self, raw: bytes, *, now: datetime | None = None) -> EdiResult:
        """Store each 850 / ORDERS once, settle it, and build the acknowledgements to send back."""
        if self.is_edifact(raw):
            return self._receive_edifact(raw, now or datetime.now(UTC))
        intake, drafts = self.read(raw)
        when = now or datetime.now(UTC)
        result = EdiResult(warnings=list(intake.document.warnings))
        for po, draft in zip(intake.orders, drafts, strict=True):
            stored = self.desk.receive("x12", po.reference, raw, po.sender_id.strip(), f"850 {po.po_number}")
            if stored["duplicate"] or stored["status"] != "received":
                result.orders.append({**stored, "po_number": po.po_number, "duplicate": True})
                continue
            outcome = self.desk.settle(stored["document_id"], draft, channel="b2b_edi")
            result.orders.append({**outcome.to_dict(), "po_number": po.po_number, "touchless": draft.touchless})
            if outcome.order_id:  # a draft waiting for review is acknowledged (855) once a person settles it
                result.acknowledgements.append(self.po_ack(po, outcome, when))
        result.not_orders = [_rejection(r) for r in intake.not_orders]
        result.rejections = [_rejection(r) for r in intake.rejections]
        result.acknowledgements[:0] = functional_ack(intake.document, control_number=next_control_number(),
                                                     when=when, extra_rejections=intake.rejections)
        return result

    def _receive_edifact(self, raw: bytes, when: datetime) -> EdiResult:
        ic, drafts, result = self.read_edifact(raw)
        for order, draft in drafts:
            stored = self.desk.receive("edifact", draft.reference, raw, ic.sender, f"ORDERS {order.po_number.value}")
            if stored["duplicate"] or stored["status"] != "received":
                result.orders.append({**stored, "po_number": order.po_number.value, "duplicate": True})
                continue
            outcome = self.desk.settle(stored["document_id"], draft, channel="b2b_edi")
            result.orders.append({**outcome.to_dict(), "po_number": order.po_number.value,
                                  "touchless": draft.touchless})
            if outcome.order_id:
                action = LineAction.ACCEPTED if outcome.order_status == OrderStatus.ALLOCATED.value \
                    else LineAction.REJECTED
                outcomes = [LineOutcome(line_number=line.line_number, action=action, quantity=line.quantity)
                            for line in order.lines]
                result.acknowledgements.append(write_ordrsp(
                    order, outcomes, sender=ic.recipient or "ORDERLOOM", recipient=ic.sender,
                    control_reference=str(next_control_number()), response_number=f"R{order.po_number.value}"[:35],
                    prepared=when.strftime("%y%m%d:%H%M")))
        return result

    def purchase_order_for(self, order_id: str) -> PurchaseOrder:
        """The X12 850 an order was placed from (raises NotFound for orders that did not come by X12)."""
        with self.uow_factory(readonly=True) as uow:
            doc = uow.intake.for_order(order_id) if isinstance(order_id, str) else None
            raw = uow.intake.raw(doc.document_id) if doc is not None and doc.source == "x12" else None
        if doc is None or raw is None:
            raise e.NotFound(f"order {order_id!r} did not come from an X12 850",
                             problems=[e.Problem("edi.no_source_document", "order_id",
                                                 "no X12 purchase order for this order", "use an EDI order")])
        po = next((p for p in read_purchase_orders(raw).orders if p.reference == doc.reference), None)
        if po is None:  # pragma: no cover - the stored document produced this order
            raise e.NotFound(f"the 850 {doc.reference} is no longer readable")
        return po

    def ship_notice(self, order_id: str, shipment_id: str, *, when: datetime | None = None) -> str:
        """856 for one recorded shipment of an order that came by X12."""
        po = self.purchase_order_for(order_id)
        with self.uow_factory(readonly=True) as uow:
            order = uow.orders.get(order_id)
            shipment = next((s for s in uow.orders.shipments(order_id) if s.shipment_id == shipment_id), None)
        if order is None or shipment is None:
            raise e.NotFound(f"order {order_id} has no shipment {shipment_id!r}", problems=[
                e.Problem("shipment.unknown", "shipment_id", "no such shipment for this order", "use a recorded one")])
        by_line = {ln.line_no: ln for ln in order.lines}
        ids = {i + 1: line.line_id or str(i + 1) for i, line in enumerate(po.lines)}
        items = [ShippedItem(ids.get(line_no, str(line_no)), by_line[line_no].sku, units)
                 for line_no, units in shipment.lines if line_no in by_line]
        return ship_notice(po, shipment_id=shipment.shipment_id, shipped_at=shipment.shipped_at,
                           carrier=shipment.carrier, tracking=shipment.tracking_number, items=items,
                           ship_from=shipment.node, control_number=next_control_number(),
                           when=when or datetime.now(UTC))

    def invoice(self, order_id: str, *, invoice_number: str | None = None, when: datetime | None = None) -> str:
        """810 for what has shipped on an order that came by X12, at the order's prices."""
        po = self.purchase_order_for(order_id)
        with self.uow_factory(readonly=True) as uow:
            order = uow.orders.get(order_id)
            shipments = uow.orders.shipments(order_id)
        if order is None or not shipments:
            raise e.ValidationFailed(f"order {order_id} has shipped nothing yet", problems=[
                e.Problem("invoice.nothing_shipped", "order_id", "nothing to invoice", "record a shipment first")])
        shipped: dict[int, int] = {}
        for shipment in shipments:
            for line_no, units in shipment.lines:
                shipped[line_no] = shipped.get(line_no, 0) + units
        ids = {i + 1: line.line_id or str(i + 1) for i, line in enumerate(po.lines)}
        items = [InvoiceItem(ids.get(ln.line_no, str(ln.line_no)), ln.sku, shipped[ln.line_no], ln.unit_price)
                 for ln in order.lines if shipped.get(ln.line_no)]
        moment = when or datetime.now(UTC)
        return invoice(po, invoice_number=invoice_number or f"INV-{order_id}", invoice_date=moment.date(),
                       items=items, control_number=next_control_number(), when=moment, currency=order.currency)

    def po_ack(self, po: PurchaseOrder, outcome: IntakeOutcome, when: datetime) -> str:
        """855 for an order the PO became: routed and reserved lines accepted with the expected delivery
        date (rescheduled, DR, when that is after the date asked for); an order that could not be reserved
        (in exception) acknowledged as backordered."""
        acks = []
        status, arrives = LineStatus.BACKORDERED, None
        if outcome.order_status == OrderStatus.ALLOCATED.value and outcome.order_id:
            status = LineStatus.ACCEPTED
            with self.uow_factory(readonly=True) as uow:
                committed = [d for d in uow.routing.decisions(outcome.order_id)
                             if d.outcome is DecisionOutcome.COMMITTED]
                arrives = expected_delivery(uow, committed[-1]) if committed else None
            wanted = po.requested_delivery
            if arrives is not None and wanted is not None and arrives > wanted:
                status = LineStatus.DATE_CHANGED  # accepted, but it arrives after the date asked for
        for line in po.lines:
            acks.append(LineAck(line_no=line.line_no, status=status, quantity=line.quantity, unit=line.unit,
                                delivery=arrives))
        return po_acknowledgement(po, acks, control_number=next_control_number(), when=when)


def x12_error_response(err: e.OrderloomError) -> dict[str, Any]:
    return {"status": "rejected", **err.to_dict()}


EACH_EDIFACT = {"PCE", "EA", "C62", "NAR", ""}


def draft_from_orders(uow: AbstractUnitOfWork, ic: Interchange, order: EdiPurchaseOrderDraft) -> OrderDraft:
    """An EDIFACT ORDERS message as an `OrderDraft` (see the module docstring)."""
    problems: list[DraftProblem] = []
    sender = ic.sender.strip()
    account_code = uow.master.account_code_by_edi_partner(sender) if sender else None
    if account_code is None:
        problems.append(DraftProblem(code="intake.unknown_sender", field="UNB02",
                                     message=f"trading partner {sender!r} is not linked to an account",
                                     fix="set the account's EDI partner id"))
    account = uow.master.get_account(account_code) if account_code else None
    reference = f"{sender}/{ic.control_reference}/{order.message_reference}"[:200]
    draft = OrderDraft(source=DraftSource.EDIFACT, reference=reference, account_code=account_code, sender=sender,
                       currency=order.currency.value if order.currency else "USD",
                       po_number=Sourced(value=order.po_number.value, confidence=1.0,
                                         source=f"BGM @{order.po_number.segment_index}"))
    for dated in order.delivery_dates:
        _qualifier, value, fmt = [*dated.value.split(":"), "", "", ""][:3]
        if fmt == "102" and len(value) == 8 and value.isdigit():
            try:
                draft.requested_date = Sourced(value=date(int(value[:4]), int(value[4:6]), int(value[6:])),
                                               confidence=1.0, source=f"DTM @{dated.segment_index}")
            except ValueError:
                problems.append(DraftProblem(code="intake.date", field="requested_date",
                                             message=f"DTM {value!r} is not a date (segment {dated.segment_index})"))
            break
    party = order.party("DP") or order.party("ST") or order.party("BY")
    if party is None or not (party.street and party.city):
        problems.append(DraftProblem(code="address.missing", field="NAD+DP", message="no delivery address",
                                     fix="ask the partner for the delivery party"))
    else:
        address = DraftAddress(name=party.name, line1=party.street, city=party.city, state=party.state,
                               postal_code=party.postcode,
                               country=party.country or "US", confidence=1.0, source=f"NAD @{party.segment_index}")
        check = validate_address(address.as_ship_to())
        for problem in check.problems:
            problems.append(DraftProblem(code=problem.code, field=f"ship_to.{problem.field.split('.')[-1]}",
                                         message=problem.message, fix=problem.fix))
        draft.ship_to = address.model_copy(update={"confidence": 1.0 if check.valid else 0.5})
    codes = {c.strip().upper() for line in order.lines for c in (line.supplier_article, line.item_id) if c}
    known = uow.master.existing_skus(codes)
    for i, line in enumerate(order.lines):
        draft.lines.append(_edifact_line(uow, i, line, known, account.price_list_code if account else None,
                                         problems))
    draft.problems = problems
    return draft


def _edifact_line(uow: AbstractUnitOfWork, i: int, line: EdiLine, known: set[str], price_list: str | None,
                  problems: list[DraftProblem]) -> DraftLine:
    field_name = f"lines[{i}]"
    where = f"LIN @{line.segment_index}"
    confidence = {"sku": 1.0, "quantity": 1.0}
    sku = next((c.strip().upper() for c in (line.supplier_article, line.item_id) if c and c.strip().upper() in known),
               None)
    if sku is None:
        confidence["sku"] = 0.0
        problems.append(DraftProblem(code="catalog.unmatched", field=f"{field_name}.sku",
                                     message=f"line {line.line_number} ({line.item_id or line.buyer_part or 'no id'}, "
                                             f"{where}) matches no catalog item", fix="map the item to a SKU"))
    quantity = line.quantity
    if quantity is None or quantity <= 0 or quantity != quantity.to_integral_value():
        confidence["quantity"] = 0.0
        problems.append(DraftProblem(code="quantity.invalid", field=f"{field_name}.quantity",
                                     message=f"line {line.line_number}: quantity {quantity} ({where})"))
    if line.unit.upper() not in EACH_EDIFACT:
        confidence["unit"] = 0.0
        problems.append(DraftProblem(code="unit.unconverted", field=f"{field_name}.unit",
                                     message=f"line {line.line_number} is in {line.unit!r} ({where})",
                                     fix="confirm the units"))
    list_price = _checked_price(uow, sku, price_list, line.price, f"line {line.line_number}", field_name, where,
                                confidence, problems)
    return DraftLine(line_no=i + 1, buyer_part=line.buyer_part or None, sku=sku, description=line.description,
                     quantity=quantity, unit="EA", unit_price=list_price, confidence=confidence, source=where,
                     matched_by="edi_product_id" if sku else "")
