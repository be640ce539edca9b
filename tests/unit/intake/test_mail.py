"""Reading order emails: bodies, replies, forwards, HTML tables, CSV/XLSX/PDF attachments, hostile input."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest

from engine.intake.mail import EmailUnreadable, html_to_text, parse_email, split_reply


def message(body: str = "Please send 12 x HOM-0001.", *, sender: str = "Buyer One <orders@lakeshorehome.example>",
            subject: str = "PO 4471", html: str | None = None, msgid: str | None = "<po-4471@lakeshorehome.example>"
            ) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "orders@orderloom.example"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 24 Nov 2026 09:15:00 -0500"
    if msgid:
        msg["Message-ID"] = msgid
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def test_headers_and_plain_body() -> None:
    parsed = parse_email(message().as_bytes())
    assert parsed.sender == "orders@lakeshorehome.example" and parsed.sender_domain == "lakeshorehome.example"
    assert parsed.sender_name == "Buyer One" and parsed.subject == "PO 4471"
    assert parsed.message_id == "po-4471@lakeshorehome.example"
    assert parsed.sent_at is not None and parsed.sent_at.utcoffset() is not None
    assert parsed.body == "Please send 12 x HOM-0001."
    assert "Subject: PO 4471" in parsed.text_for_model()


def test_plain_text_is_preferred_and_html_only_bodies_keep_tables_as_rows() -> None:
    both = parse_email(message("plain wins", html="<p>html loses</p>").as_bytes())
    assert both.body == "plain wins"
    html = ("<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><p>Hi team,</p>"
            "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>HOM-0001</td><td>12</td></tr>"
            "<tr><td>APP-0003</td><td>6</td></tr></table><p>Thanks<br>Ana</p></body></html>")
    msg = EmailMessage()
    msg["From"] = "ana@pinecrestmerc.example"
    msg["Subject"] = "order"
    msg.set_content(html, subtype="html")
    parsed = parse_email(msg.as_bytes())
    assert "HOM-0001 | 12" in parsed.body and "alert" not in parsed.body and "color" not in parsed.body
    assert parsed.tables[0].header == ["Item", "Qty"] and parsed.tables[0].rows == [["HOM-0001", "12"],
                                                                                    ["APP-0003", "6"]]
    assert "Thanks\nAna" in parsed.body


def test_quoted_replies_are_separated_from_the_new_text() -> None:
    body = ("Yes, make it 24 instead.\n\nOn Mon, Nov 23, 2026 at 4:02 PM Orderloom <orders@x.example> wrote:\n"
            "> We can ship 12 by Friday.\n> Regards")
    new, quoted, forwarded = split_reply(body)
    assert new == "Yes, make it 24 instead." and "We can ship 12" in quoted and forwarded == []
    outlook = "Confirmed.\n\nFrom: Orderloom Sales\nSent: Monday, November 23, 2026 4:02 PM\nTo: Ana\nOld text"
    assert split_reply(outlook)[0] == "Confirmed."
    inline = "See below\n> old line\nnew line"
    assert split_reply(inline) == ("See below\nnew line", "> old line", [])


def test_forwarded_messages_keep_their_sender_and_text() -> None:
    body = ("FYI - please process.\n\n---------- Forwarded message ---------\n"
            "From: Ana Silva <ana@pinecrestmerc.example>\nDate: Mon, Nov 23, 2026\nSubject: PO 9912\n"
            "To: sales@x.example\n\nPlease ship 4 cases of HOM-0002.\n")
    parsed = parse_email(message(body).as_bytes())
    assert parsed.body == "FYI - please process."
    [fw] = parsed.forwarded
    assert fw.sender == "ana@pinecrestmerc.example" and fw.subject == "PO 9912"
    assert fw.text == "Please ship 4 cases of HOM-0002."
    assert "[forwarded message from ana@pinecrestmerc.example" in parsed.text_for_model()


def test_csv_xlsx_and_pdf_attachments_become_tables_and_text() -> None:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    msg = message("PO attached")
    msg.add_attachment(b"sku;qty;price\nHOM-0001;12;9.50\nAPP-0003;6;4.25\n", maintype="text", subtype="csv",
                       filename="lines.csv")
    book = Workbook()
    sheet = book.active
    sheet.title = "PO"
    for row in (("Item", "Description", "Qty"), ("B-77", "Walnut tray", 3)):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    msg.add_attachment(buf.getvalue(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="po.xlsx")
    msg.add_attachment(_pdf("PO 5510 ship 2 HOM-0009"), maintype="application", subtype="pdf", filename="po.pdf")
    msg.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="x.bin")
    parsed = parse_email(msg.as_bytes())
    csv_table = parsed.tables[0]
    assert csv_table.header == ["sku", "qty", "price"] and csv_table.rows[1] == ["APP-0003", "6", "4.25"]
    assert parsed.tables[1].name == "po.xlsx:PO" and parsed.tables[1].rows == [["B-77", "Walnut tray", "3"]]
    assert parsed.attachment_texts and "HOM-0009" in parsed.attachment_texts[0][1]
    assert [(a.filename, a.read) for a in parsed.attachments] == [
        ("lines.csv", True), ("po.xlsx", True), ("po.pdf", True), ("x.bin", False)]


def test_a_broken_attachment_is_noted_and_the_email_still_read() -> None:
    msg = message("lines in the sheet")
    msg.add_attachment(b"PK\x03\x04 not really a workbook", maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="po.xlsx")
    parsed = parse_email(msg.as_bytes())
    assert parsed.body == "lines in the sheet"
    assert parsed.attachments[0].read is False and "unreadable" in parsed.attachments[0].note


@pytest.mark.parametrize(("raw", "code"), [
    (b"", "email.empty"),
    (b"   \r\n  ", "email.empty"),
    (b"just some text without headers", "email.no_sender"),
    (b"Subject: hi\r\n\r\nno sender", "email.no_sender"),
    (b"From: not-an-address\r\n\r\nbody", "email.no_sender"),
    (b"\xff\xfe\x00garbage" * 100, "email.no_sender"),
])
def test_unusable_input_is_refused_with_a_reason(raw: bytes, code: str) -> None:
    with pytest.raises(EmailUnreadable) as raised:
        parse_email(raw)
    assert raised.value.problems[0].code == code


def test_oversized_email_is_refused() -> None:
    with pytest.raises(EmailUnreadable) as raised:
        parse_email(b"From: a@b.example\r\n\r\n" + b"x" * (16 * 1024 * 1024))
    assert raised.value.problems[0].code == "email.too_large"


def test_missing_message_id_and_bad_date_are_warnings_not_failures() -> None:
    raw = message(msgid=None).as_bytes().replace(b"Date: Tue, 24 Nov 2026 09:15:00 -0500", b"Date: not a date")
    parsed = parse_email(raw)
    assert parsed.message_id == "" and parsed.sent_at is None
    assert any("Message-ID" in w for w in parsed.warnings) and any("Date" in w for w in parsed.warnings)


def test_control_characters_and_long_text_are_tamed_for_the_model() -> None:
    parsed = parse_email(message("line\x07one\x1b[31m " + "y" * 10_000).as_bytes())
    assert "\x07" not in parsed.body and "\x1b" not in parsed.body
    assert len(parsed.text_for_model()) <= 6100 and parsed.text_for_model().endswith("[... truncated]")


def test_html_to_text_survives_broken_markup() -> None:
    # Unclosed cells nest under the lenient parser: every text survives, even if the row shape does not.
    text, tables = html_to_text("<table><tr><td>A<td>B</table><p>unclosed <b>bold")
    assert "A" in text and "B" in text and tables and "unclosed bold" in text


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with a text layer."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out
