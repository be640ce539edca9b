"""X12 reader, 850 mapping and 997 writer on hand-written, malformed and hostile input."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from engine.intake.x12_850 import read_purchase_orders
from engine.intake.x12_errors import X12Error
from engine.intake.x12_reader import read_x12
from engine.intake.x12_writer import SegmentWriter, functional_ack

ISA = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *261126*1200*U*00401*{icn}*0*P*>~"


def po_set(control: str = "0001", *, beg: str = "BEG*00*SA*PO-1**20261126", lines: tuple[str, ...] = (
        "PO1*1*10*EA*2.50**BP*BUY-1*VP*VEN-1*UP*012345678905", "PID*F****Blue widget", "PO4*12*1*EA"),
        ctt: str | None = "CTT*{n}", extra: tuple[str, ...] = ()) -> list[str]:
    body = [beg, "CUR*BY*USD", "REF*DP*038", "PER*BD*Jane Buyer*TE*5551234", "DTM*002*20261201",
            "N1*ST*Main DC*92*0001", "N3*1 Dock Road", "N4*Austin*TX*78701*US", "N1*BT*Head Office",
            *lines, *extra]
    n = sum(1 for s in lines if s.startswith("PO1"))
    if ctt:
        body.append(ctt.format(n=n))
    segments = [f"ST*850*{control}", *body]
    return [*segments, f"SE*{len(segments) + 1}*{control}"]


def interchange(*sets: list[str], icn: str = "000000001", gcn: str = "7", ge_count: int | None = None,
                iea_icn: str | None = None) -> str:
    segs = [ISA.format(icn=icn), f"GS*PO*BUYER*SELLER*20261126*1200*{gcn}*X*004010"]
    for s in sets:
        segs += s
    segs += [f"GE*{len(sets) if ge_count is None else ge_count}*{gcn}", f"IEA*1*{iea_icn or icn}"]
    return "~\n".join(s.rstrip("~") for s in segs) + "~\n"


def test_a_clean_850_maps_every_field_with_its_segment_index() -> None:
    result = read_purchase_orders(interchange(po_set()))
    assert not result.rejections
    (po,) = result.orders
    assert (po.purpose, po.order_type, po.po_number, po.order_date) == ("00", "SA", "PO-1", date(2026, 11, 26))
    assert po.currency == "USD" and po.references[0].value == "038" and po.contacts[0].name == "Jane Buyer"
    assert po.requested_delivery == date(2026, 12, 1)
    assert po.ship_to is not None and po.ship_to.city == "Austin" and po.ship_to.address_lines == ["1 Dock Road"]
    assert po.bill_to is not None and po.bill_to.name == "Head Office"
    (line,) = po.lines
    assert (line.quantity, line.unit, line.unit_price) == (Decimal(10), "EA", Decimal("2.50"))
    assert (line.buyer_part, line.vendor_part, line.gtin) == ("BUY-1", "VEN-1", "012345678905")
    assert line.descriptions == ["Blue widget"] and line.packs[0].pack == 12
    assert po.sources["po_number"] == 3 and line.segment_index == 12 and po.ship_to.sources["city"] == 10
    assert po.reference == "000000001/7/0001"


@pytest.mark.parametrize("text", ["", "   \n\t", "\ufeff"])
def test_an_empty_input_is_refused(text: str) -> None:
    with pytest.raises(X12Error) as caught:
        read_x12(text)
    assert caught.value.code == "edi.empty"


def test_binary_garbage_is_refused_as_not_x12() -> None:
    with pytest.raises(X12Error) as caught:
        read_x12(bytes(range(256)) * 40)
    assert caught.value.code == "edi.not_x12"


def test_text_without_an_isa_is_refused() -> None:
    with pytest.raises(X12Error) as caught:
        read_x12("GS*PO*A*B~ST*850*0001~")
    assert caught.value.code == "edi.not_x12"


@pytest.mark.parametrize("text", ["ISA", "ISA*00*          *00*", "ISA*00*  *00*  *ZZ*A*ZZ*B*261126*1200*U*00401"])
def test_a_truncated_isa_is_an_envelope_error(text: str) -> None:
    with pytest.raises(X12Error) as caught:
        read_x12(text)
    assert caught.value.code == "edi.envelope" and caught.value.segment_id == "ISA"


def test_an_alphanumeric_element_separator_is_refused() -> None:
    with pytest.raises(X12Error) as caught:
        read_x12("ISAX00X" + "x" * 120)
    assert caught.value.code == "edi.envelope"


def test_a_terminator_equal_to_the_element_separator_is_refused() -> None:
    text = interchange(po_set()).replace("*P*>~", "*P*>*", 1)
    with pytest.raises(X12Error) as caught:
        read_x12(text)
    assert caught.value.code == "edi.envelope"


def test_mismatched_interchange_control_numbers_reject_the_interchange() -> None:
    result = read_purchase_orders(interchange(po_set(), iea_icn="000000002"))
    assert not result.orders
    (rejection,) = result.rejections
    assert rejection.level == "interchange" and rejection.error.code == "edi.control_number"
    assert rejection.error.segment_id == "IEA" and rejection.error.element == 2


def test_a_wrong_group_count_rejects_the_group() -> None:
    result = read_purchase_orders(interchange(po_set(), ge_count=3))
    assert not result.orders and result.rejections[0].error.code == "edi.count"
    assert result.rejections[0].error.segment_id == "GE"


def test_a_bad_set_is_rejected_alone_and_the_others_still_parse() -> None:
    bad = po_set("0002")
    bad[-1] = "SE*99*0002"
    mismatched = po_set("0003")
    mismatched[-1] = mismatched[-1].replace("0003", "0009")
    result = read_purchase_orders(interchange(po_set("0001"), bad, mismatched, po_set("0004")))
    assert [o.reference.split("/")[-1] for o in result.orders] == ["0001", "0004"]
    assert [(r.set_control, r.error.code) for r in result.rejections] == [("0002", "edi.count"),
                                                                          ("0003", "edi.control_number")]
    ack = functional_ack(result.document, control_number=5, when=datetime(2026, 11, 26))[0]
    assert "AK5*R*4~" in ack and "AK5*R*3~" in ack and "AK9*P*4*4*2~" in ack


def test_a_repeated_set_control_number_is_refused() -> None:
    result = read_purchase_orders(interchange(po_set("0001"), po_set("0001")))
    assert len(result.orders) == 1 and result.rejections[0].error.code == "edi.duplicate"


def test_a_wrong_ctt_line_count_rejects_the_order() -> None:
    result = read_purchase_orders(interchange(po_set(ctt="CTT*5")))
    (rejection,) = result.rejections
    assert rejection.error.code == "edi.count" and rejection.error.segment_id == "CTT"


def test_segments_with_extra_elements_are_refused() -> None:
    result = read_purchase_orders(interchange(po_set(beg="BEG*00*SA*PO-1**20261126" + "*X" * 12)))
    assert result.rejections[0].error.code == "edi.po850" and result.rejections[0].error.ak4 == "3"


def test_trailing_empty_elements_are_harmless() -> None:
    assert len(read_purchase_orders(interchange(po_set(beg="BEG*00*SA*PO-1**20261126*******"))).orders) == 1


@pytest.mark.parametrize(("beg", "element"), [("BEG*00*SA***20261126", 3), ("BEG*00*SA*PO-1", 5),
                                              ("BEG**SA*PO-1**20261126", 1)])
def test_missing_mandatory_beg_elements_are_named(beg: str, element: int) -> None:
    (rejection,) = read_purchase_orders(interchange(po_set(beg=beg))).rejections
    assert rejection.error.code == "edi.po850" and rejection.error.element == element
    assert rejection.error.segment_id == "BEG" and rejection.error.segment_index == 3


def test_an_850_without_beg_or_po1_is_refused() -> None:
    no_beg = po_set(beg="REF*ZZ*none")
    no_lines = po_set("0002", lines=(), ctt=None)
    result = read_purchase_orders(interchange(no_beg, no_lines))
    assert result.rejections[0].error.message.endswith("BEG segment missing")
    assert result.rejections[1].error.reason == "no PO1 line"


@pytest.mark.parametrize("po1", ["PO1*1*ten*EA*2.50", "PO1*1*1,000*EA", "PO1*1**EA", "PO1*1*5", "PO1*1*0*EA",
                                 "PO1*1*5*EA*abc"])
def test_bad_po1_quantities_units_and_prices_are_refused(po1: str) -> None:
    (rejection,) = read_purchase_orders(interchange(po_set(lines=(po1,)))).rejections
    assert rejection.error.code == "edi.po850" and rejection.error.segment_id == "PO1"
    ack = functional_ack(read_x12(interchange(po_set(lines=(po1,)))), control_number=1,
                         when=datetime(2026, 11, 26), extra_rejections=[rejection])[0]
    assert "AK3*PO1*" in ack and "AK4*" in ack and "AK5*R*5~" in ack


def test_separators_crlf_bom_indentation_and_no_break_spaces_are_read() -> None:
    text = interchange(po_set()).replace("*", "|").replace("~\n", "!\r\n    ").replace("|P|>!", "|P|:!")
    text = "\ufeff" + text.replace("BUYER          ", "BUYER" + "\u00a0" * 10)
    (po,) = read_purchase_orders(text.encode()).orders
    assert po.lines[0].buyer_part == "BUY-1" and po.sender_id == "BUYER"


def test_newline_only_terminators_are_read() -> None:
    text = interchange(po_set()).replace("~\n", "\n").replace("*P*>\n", "*P*>\n")
    assert len(read_purchase_orders(text).orders) == 1


def test_several_interchanges_in_one_file_are_all_read() -> None:
    text = interchange(po_set()) + interchange(po_set(), icn="000000002")
    assert len(read_purchase_orders(text).orders) == 2


def test_a_truncated_interchange_is_rejected() -> None:
    text = interchange(po_set())
    result = read_purchase_orders(text[: text.index("GE*")])
    assert not result.orders and result.rejections[-1].error.code == "edi.envelope"


def test_a_huge_input_parses_in_one_pass() -> None:
    lines = tuple(f"PO1*{i}*1*EA*1.00**VP*V{i}" for i in range(1, 20_001))
    (po,) = read_purchase_orders(interchange(po_set(lines=lines))).orders
    assert len(po.lines) == 20_000


def test_an_oversized_input_is_refused() -> None:
    with pytest.raises(X12Error) as caught:
        read_x12("ISA" + "x" * 100, max_bytes=50)
    assert caught.value.code == "edi.too_large"


def test_the_997_for_a_clean_interchange_accepts_and_reads_back() -> None:
    doc = read_x12(interchange(po_set(), po_set("0002")))
    (ack,) = functional_ack(doc, control_number=42, when=datetime(2026, 11, 26, 9, 30))
    assert "AK1*PO*7~" in ack and ack.count("AK5*A~") == 2 and "AK9*A*2*2*2~" in ack
    back = read_x12(ack)
    (ts,) = back.transaction_sets()
    assert ts.set_id == "997" and back.interchanges[0].sender_id == "SELLER"
    assert back.interchanges[0].control_number == "000000042"


def test_the_segment_writer_drops_trailing_empties_and_refuses_separators_in_values() -> None:
    writer = SegmentWriter()
    writer.add("REF", "DP", "038", "", "")
    assert writer.text() == "REF*DP*038~\n"
    with pytest.raises(ValueError):
        writer.add("MSG", "a*b")


def test_a_group_trailer_with_another_control_number_rejects_the_group() -> None:
    text = interchange(po_set()).replace("GE*1*7", "GE*1*8")
    (rejection,) = read_purchase_orders(text).rejections
    assert (rejection.level, rejection.error.code, rejection.error.segment_id) == ("group", "edi.control_number",
                                                                                   "GE")
    assert "AK9*R*1*1*0*4~" in functional_ack(read_x12(text), control_number=1, when=datetime(2026, 11, 26))[0]


def test_an_isa_split_across_lines_is_refused() -> None:
    text = interchange(po_set()).replace("*261126*", "*261126\n*", 1)
    with pytest.raises(X12Error) as caught:
        read_x12(text)
    assert caught.value.code == "edi.envelope" and "split" in caught.value.reason


def test_a_corrupt_second_interchange_loses_nothing_from_the_first() -> None:
    text = interchange(po_set()) + interchange(po_set(), icn="000000002", iea_icn="000000003")
    result = read_purchase_orders(text)
    assert len(result.orders) == 1 and result.rejections[0].interchange_control == "000000002"


def test_a_space_terminator_before_line_breaks_keeps_spaces_inside_values() -> None:
    text = interchange(po_set()).replace("~\n", " \r\n").replace("*P*> ", "*P*> ", 1)
    (po,) = read_purchase_orders(text).orders
    assert po.ship_to is not None and po.ship_to.name == "Main DC" and po.lines[0].descriptions == ["Blue widget"]
