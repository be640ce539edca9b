"""Outbound 855 purposes and line statuses, read back by our own reader."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.intake.x12_850 import read_purchase_orders
from engine.intake.x12_out import LineAck, LineStatus, po_acknowledgement
from engine.intake.x12_reader import read_x12

PO = ("ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *300101*0900*U*00401*000000001*0*P*>~"
      "GS*PO*BUYER*SELLER*20300101*0900*1*X*004010~ST*850*0001~BEG*00*SA*PO-1**20300101~"
      "PO1*1*4*EA*2.50**VP*A-1~PO1*2*6*EA*1.00**VP*B-2~CTT*2~SE*6*0001~GE*1*1~IEA*1*000000001~")
WHEN = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("statuses", "purpose"), [
    ((LineStatus.ACCEPTED, LineStatus.ACCEPTED), "AD"),
    ((LineStatus.ACCEPTED, LineStatus.DATE_CHANGED), "AC"),
    ((LineStatus.QUANTITY_CHANGED, LineStatus.ACCEPTED), "AC"),
    ((LineStatus.BACKORDERED, LineStatus.REJECTED), "RJ"),
])
def test_the_855_purpose_follows_the_line_statuses(statuses: tuple[LineStatus, LineStatus], purpose: str) -> None:
    [po] = read_purchase_orders(PO).orders
    acks = [LineAck(line_no=i + 1, status=s, quantity=Decimal(q), delivery=date(2030, 1, 9))
            for i, (s, q) in enumerate(zip(statuses, ("4", "6"), strict=True))]
    text = po_acknowledgement(po, acks, control_number=7, when=WHEN)
    assert f"BAK*00*{purpose}*PO-1*20300101" in text
    assert f"ACK*{statuses[1].value}*6*EA*068*20300109" in text
    document = read_x12(text)
    assert document.rejections == [] and [ts.set_id for ts in document.transaction_sets()] == ["855"]


def test_separators_in_values_never_reach_the_partner() -> None:
    [po] = read_purchase_orders(PO).orders
    po.po_number = "PO*1~X"
    text = po_acknowledgement(po, [LineAck(1, LineStatus.ACCEPTED, Decimal(4))], control_number=8, when=WHEN)
    assert "BAK*00*AD*PO 1 X" in text and read_x12(text).rejections == []
