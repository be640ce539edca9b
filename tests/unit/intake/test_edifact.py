"""EDIFACT reader and ORDRSP writer: happy paths and hostile input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.intake.edifact import EdifactError, parse_interchange, tokenize
from engine.intake.edifact_orders import LineAction, LineOutcome, map_orders, write_ordrsp

ORDER = (
    "UNA:+,? '\n"
    "UNB+UNOC:3+SENDER+RECV+250101:1200+REF1'\n"
    "UNH+M1+ORDERS:D:96A:UN:EAN008'\n"
    "BGM+220+PO?+1+9'\n"
    "DTM+137:20250101:102'\n"
    "DTM+2:20250110:102'\n"
    "FTX+AAI+++Leave at gate'\n"
    "RFF+CT:K-9'\n"
    "NAD+BY+4000000000001::9++Buyer GmbH+Main St 1+Berlin++10115+DE'\n"
    "NAD+SU+4000000000002::9'\n"
    "CUX+2:EUR:9'\n"
    "LIN+1++4006381333931:EN'\n"
    "PIA+1+ART-7:SA+BP-9:BP'\n"
    "IMD+F++:::Screws M4'\n"
    "QTY+21:12,5:KGM'\n"
    "PRI+AAA:3,20'\n"
    "UNS+S'\n"
    "CNT+2:1'\n"
    "UNT+17+M1'\n"
    "UNZ+1+REF1'\n"
)


def test_an_order_maps_every_field_with_its_segment_index() -> None:
    ic = parse_interchange(ORDER)
    draft = map_orders(ic.messages[0])
    assert draft.po_number.value == "PO+1"
    assert draft.po_number.segment_index == 2
    assert draft.document_date is not None and draft.document_date.value == "20250101:102"
    buyer = draft.party("BY")
    assert buyer is not None and (buyer.gln, buyer.name, buyer.city) == ("4000000000001", "Buyer GmbH", "Berlin")
    line = draft.lines[0]
    assert (line.item_id, line.item_id_type, line.supplier_article, line.buyer_part) == (
        "4006381333931", "EN", "ART-7", "BP-9")
    assert (line.quantity, line.unit, line.price, line.description) == (
        Decimal("12.5"), "KGM", Decimal("3.20"), "Screws M4")
    assert draft.currency is not None and draft.currency.value == "EUR"


@pytest.mark.parametrize(("text", "code"), [
    ("", "edifact.syntax"),
    ("UNA:+", "edifact.syntax"),
    ("UNA:+.?*:'UNB+X'", "edifact.syntax"),
    ("UNB+UNOC:3+A+B+1:1+R'UNH+1+ORDERS?", "edifact.syntax"),
    ("UNB+UNOC:3+A+B+1:1+R'UNH+1", "edifact.syntax"),
    ("\x00\x01\x02binary", "edifact.syntax"),
    ("UNH+1+ORDERS:D:96A:UN'UNT+2+1'", "edifact.envelope"),
    ("UNB+UNOC:3+A+B+1:1+R'UNZ+1+OTHER'", "edifact.envelope"),
    ("UNB+UNOC:3+A+B+1:1+R'UNZ+5+R'", "edifact.envelope"),
    ("UNB+UNOC:3+A+B+1:1+R'BGM+220'UNZ+0+R'", "edifact.envelope"),
])
def test_hostile_input_is_rejected_with_a_stable_code(text: str, code: str) -> None:
    with pytest.raises(EdifactError) as info:
        parse_interchange(text)
    assert info.value.code == code


def test_huge_input_is_refused() -> None:
    with pytest.raises(EdifactError):
        parse_interchange(b"A" * 20_000_001)


def test_a_bad_message_is_reported_alone_while_others_parse() -> None:
    text = ("UNB+UNOC:3+A+B+1:1+R'UNH+1+ORDERS:D:96A:UN'BGM+220+P1'UNT+9+1'"
            "UNH+2+ORDERS:D:01B:UN'BGM+220+P2'UNT+3+2'UNH+3+INVOIC:D:96A:UN'UNT+2+3'UNZ+3+R'")
    ic = parse_interchange(text)
    assert ic.messages[0].error is not None and ic.messages[0].error.tag == "UNT"
    assert map_orders(ic.messages[1]).po_number.value == "P2"
    with pytest.raises(EdifactError, match="not an order"):
        map_orders(ic.messages[2])


def test_non_numeric_quantity_names_its_segment() -> None:
    text = ORDER.replace("QTY+21:12,5:KGM", "QTY+21:twelve:KGM")
    with pytest.raises(EdifactError) as info:
        map_orders(parse_interchange(text).messages[0])
    assert (info.value.code, info.value.tag, info.value.segment_index) == ("edifact.message", "QTY", 13)


def test_groups_and_missing_unz_are_handled() -> None:
    ic = parse_interchange("UNB+UNOC:3+A+B+1:1+R'UNG+ORDERS+A+B+1:1+G1'UNH+1+ORDERS:D:96A:UN'BGM+220+P'"
                           "UNT+3+1'UNE+1+G1'")
    assert ic.messages[0].group_reference == "G1"
    assert ic.warnings


def test_release_character_escapes_separators() -> None:
    _, segs = tokenize("UNB+A?:B?+C?'D??E'")
    assert segs[0].elements[0] == ("A:B+C'D?E",)


def test_ordrsp_round_trips_through_the_reader() -> None:
    draft = map_orders(parse_interchange(ORDER).messages[0])
    text = write_ordrsp(draft, [LineOutcome("1", LineAction.CHANGED, Decimal(10), "20250115")],
                        sender="SUP+1", recipient="BUY'2", control_reference="C1", response_number="R:1")
    ic = parse_interchange(text)
    msg = ic.messages[0]
    assert msg.error is None and msg.message_type == "ORDRSP"
    assert ic.sender == "SUP+1" and ic.recipient == "BUY'2"
    tags = [s.tag for s in msg.segments]
    assert tags[:4] == ["UNH", "BGM", "DTM", "RFF"]
    rff = msg.segments[3]
    assert rff.get(1, 1) == "PO+1"
    lin = next(s for s in msg.segments if s.tag == "LIN")
    assert lin.get(2) == "3"
