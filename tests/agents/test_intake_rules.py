"""The rule-based extractor behind `--llm fake`: what it reads, and that it leaves empty what it cannot."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from agents.intake.rules import extract, find_date, find_lines, find_po, find_ship_to, rules_handler
from agents.intake.schema import EmailExtraction
from agents.llm.fake import ScriptedChatModel


def test_free_text_lines_in_their_usual_forms() -> None:
    text = ("12 x HOM-0001\nout-0012 qty 24\n2 cs of HHD-0020\nItem: HOM-0061  Qty: 12\nBEA-0003 - 24\n"
            "OUT-0001 x 4\n10 dozen HHD-0002\n- 40 x HOM-0023 @ $36.39\nBEA-0041  60 each  $8.99 each")
    got = [(ln.sku, ln.quantity, ln.unit, ln.unit_price) for ln in find_lines(text)]
    assert got == [("HOM-0001", 12, "", None), ("OUT-0012", 24, "", None), ("HHD-0020", 2, "cs", None),
                   ("HOM-0061", 12, "", None), ("BEA-0003", 24, "", None), ("OUT-0001", 4, "", None),
                   ("HHD-0002", 10, "dozen", None), ("HOM-0023", 40, "", 36.39), ("BEA-0041", 60, "each", 8.99)]


def test_table_rows_under_a_header_and_html_tables_read_once() -> None:
    text = ("Item # | Description | Qty | Unit Price\nbea-0030 | serum | 24 | $7.49\nHOM-0016 | sheets | 30 |\n"
            "[table html-1]\nItem # | Description | Qty | Unit Price\nbea-0030 | serum | 24 | $7.49\n"
            "HOM-0016 | sheets | 30 |\n")
    got = [(ln.sku, ln.quantity, ln.unit_price, ln.description) for ln in find_lines(text)]
    assert got == [("BEA-0030", 24, 7.49, "serum"), ("HOM-0016", 30, None, "sheets")]
    [row] = find_lines("Part | Qty\nBRG-CANDLE | 24")
    assert (row.sku, row.buyer_part, row.quantity) == ("", "BRG-CANDLE", 24)


def test_po_numbers_dates_and_ship_to() -> None:
    assert find_po("Please enter P.O. 7734 today") == "7734"
    assert find_po("Our purchase order # BR-1029.") == "BR-1029"
    assert find_po("Subject: Re: PO BR-1029\n\nNew PO BR-1044") == "BR-1044"  # the body wins over the subject
    assert find_po("hi, nothing here") == ""
    assert find_date("need it by 12/15/2026") == "2026-12-15"
    assert find_date("deliver on or before January 8, 2027") == "2027-01-08"
    assert find_date("by 15 Jan 2027") == "2027-01-15" and find_date("asap") == ""
    address = find_ship_to("Ship to:\nLakeshore Home Supply\n400 Harbor Dr\nChicago, IL 60601\n\nThanks")
    assert (address.line1, address.city, address.state, address.postal_code) == ("400 Harbor Dr", "Chicago", "IL",
                                                                               "60601")
    two = find_ship_to("Ship to:\n300 Tampa St\nTampa, FL 33602\n\nShip to:\n77 Summer St\nBoston, MA 02110")
    assert two.line1 == "" and two.postal_code == ""  # a split shipment: a person decides


def test_kinds() -> None:
    assert extract("Subject: x\n\nplease cancel PO 45821").kind == "cancellation"
    assert extract("on PO 45821 please change HOM-0001 to 18 instead of 12").kind == "change"
    assert extract("do you have HOM-0045 in stock?").kind == "question"
    assert extract("I am out of the office until Monday").kind == "other"
    order = extract("PO 1001\n12 x HOM-0001\nShip to: 400 Harbor Dr, Chicago, IL 60601")
    assert order.kind == "order" and order.po_number == "1001" and order.ship_to.city == "Chicago"
    assert extract("Cancel PO 9001").order_reference == "9001"


def test_it_plugs_into_the_scripted_model_as_a_json_schema_answer() -> None:
    model = ScriptedChatModel(handler=rules_handler)
    answer = model.with_structured_output(EmailExtraction, method="json_schema").invoke(
        [SystemMessage("form"), HumanMessage("<email>\nPO 77\n3 x HOM-0001\n</email>")])
    assert isinstance(answer, EmailExtraction) and answer.lines[0].sku == "HOM-0001" and answer.po_number == "77"
