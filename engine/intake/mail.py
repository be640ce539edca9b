"""Read an order email (RFC 5322 / MIME) into plain parts the intake agent can work with.

What real order emails look like, and what is done about each:
- multipart/alternative: the text/plain part is used; HTML only when there is no text part, turned into
  text with tables kept as rows (`a | b | c`), scripts and styles dropped.
- replies: quoted lines (`> ...`) and everything after an attribution line ("On Tue, ... wrote:") or an
  Outlook header block ("-----Original Message-----", "From: ... Sent: ...") go to `quoted`, not `body`.
  The new text is what the sender asks now; the quoted history is kept for context only.
- forwarded chains ("---------- Forwarded message ---------", "Begin forwarded message:"): the forwarded
  message is often the actual purchase order; its own From/Subject are read and its text kept in
  `forwarded`.
- attachments: CSV (dialect sniffed), XLSX (first sheets, read-only, values only) and PDF text (when the
  PDF has a text layer) become tables or text; other types are listed but not read. Limits on size, rows
  and cells keep a hostile attachment from exhausting memory.
Nothing here interprets the content: instructions written in an email are data, never commands.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from engine.domain import errors as e
from engine.domain.errors import Problem

MAX_EMAIL_BYTES = 15 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_TABLE_ROWS = 500
MAX_CELL_CHARS = 200
MAX_PDF_PAGES = 20
MODEL_TEXT_CHARS = 6000

ATTRIBUTION = re.compile(r"^\s*(On .{5,200}wrote:|Le .{5,200}a écrit\s*:|Am .{5,200}schrieb .{1,80}:)\s*$", re.I)
OUTLOOK_SPLIT = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.I)
FORWARD_SPLIT = re.compile(r"^\s*(-{2,}\s*Forwarded message\s*-{2,}|Begin forwarded message:|"
                           r"-{2,}\s*Weitergeleitete Nachricht\s*-{2,})\s*$", re.I)
HEADER_LINE = re.compile(r"^\s*\*?(From|Sent|Date|To|Cc|Subject)\*?\s*:\s*(.*)$", re.I)


class EmailUnreadable(e.OrderloomError):
    code = "email.unreadable"
    http_status = 422


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list[str]]

    def as_text(self) -> str:
        lines = [" | ".join(self.header)] if self.header else []
        lines += [" | ".join(r) for r in self.rows]
        return f"[table {self.name}]\n" + "\n".join(lines)


@dataclass
class Forwarded:
    sender: str
    subject: str
    text: str


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    read: bool
    note: str = ""


@dataclass
class ParsedEmail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    sent_at: datetime | None
    body: str
    quoted: str = ""
    forwarded: list[Forwarded] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    attachment_texts: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    in_reply_to: str = ""

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2].lower()

    def text_for_model(self, limit: int = MODEL_TEXT_CHARS) -> str:
        """The email as the model should read it: new text first, then forwarded parts and tables."""
        parts = [f"Subject: {self.subject}", f"From: {self.sender_name} <{self.sender}>", "", self.body.strip()]
        for fw in self.forwarded:
            parts += ["", f"[forwarded message from {fw.sender}, subject: {fw.subject}]", fw.text.strip()]
        for table in self.tables:
            parts += ["", table.as_text()]
        for name, text in self.attachment_texts:
            parts += ["", f"[attachment {name}]", text.strip()]
        text = "\n".join(parts)
        return text if len(text) <= limit else text[:limit] + "\n[... truncated]"


def parse_email(raw: bytes | str) -> ParsedEmail:
    """Parse a raw message; raises `EmailUnreadable` naming what is wrong when it is not a usable email."""
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if not isinstance(data, bytes | bytearray):
        raise EmailUnreadable("the email must be bytes or text", problems=[
            Problem("email.type", "message", "not a raw message", "send the RFC 822 source")])
    if len(data) > MAX_EMAIL_BYTES:
        raise EmailUnreadable(f"the email is {len(data):,} bytes; at most {MAX_EMAIL_BYTES:,} are accepted",
                              problems=[Problem("email.too_large", "message", "email too large",
                                                "send attachments of at most 5 MB")])
    if not data.strip():
        raise EmailUnreadable("the email is empty", problems=[Problem("email.empty", "message", "empty message",
                                                                      "send the full message source")])
    msg = BytesParser(policy=policy.default).parsebytes(bytes(data))
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        raise EmailUnreadable("not an email message")
    sender_name, sender = _address(msg, "From")
    if not msg.keys() or not sender:
        raise EmailUnreadable("the message has no From header: not an email", problems=[
            Problem("email.no_sender", "headers.From", "no sender address", "send the message with its headers")])
    warnings: list[str] = []
    message_id = _header(msg, "Message-ID").strip().strip("<>")
    if not message_id:
        warnings.append("no Message-ID: duplicates of this email cannot be recognised by id")
    sent_at = None
    if date_text := _header(msg, "Date"):
        try:
            sent_at = parsedate_to_datetime(date_text)
        except (TypeError, ValueError):
            warnings.append(f"unreadable Date header {date_text[:60]!r}")
    parsed = ParsedEmail(message_id=message_id, sender=sender, sender_name=sender_name,
                         subject=_header(msg, "Subject"), sent_at=sent_at, body="", warnings=warnings,
                         in_reply_to=_header(msg, "In-Reply-To").strip().strip("<>"))
    text = _body_text(msg, parsed)
    new, quoted, forwarded = split_reply(text)
    parsed.body, parsed.quoted, parsed.forwarded = new, quoted, forwarded
    for part in msg.iter_attachments():
        if isinstance(part, EmailMessage):
            _read_attachment(part, parsed)
    if not parsed.body.strip() and not parsed.forwarded and not parsed.tables and not parsed.attachment_texts:
        parsed.warnings.append("the email has no readable text")
    return parsed


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # malformed headers the parser could not fold
        return ""
    return _clean(str(value)) if value is not None else ""


def _address(msg: EmailMessage, name: str) -> tuple[str, str]:
    raw = _header(msg, name)
    pairs = getaddresses([raw]) if raw else []
    for display, addr in pairs:
        if "@" in addr and len(addr) <= 254:
            return _clean(display), addr.strip().lower()
    return "", ""


def _clean(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text).replace("\u00a0", " ")


def _body_text(msg: EmailMessage, parsed: ParsedEmail) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        parsed.warnings.append("body in an unknown charset, read as UTF-8")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        text, tables = html_to_text(content)
        parsed.tables += tables
        return text
    return _clean(content)


def html_to_text(html: str) -> tuple[str, list[Table]]:
    """Visible text of an HTML body; its tables also come back as `Table`s (rows of cell texts)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "meta"]):
        tag.decompose()
    tables: list[Table] = []
    for i, table in enumerate(soup.find_all("table")):
        rows = [[_cell(td.get_text(" ", strip=True)) for td in tr.find_all(["td", "th"])]
                for tr in table.find_all("tr")]
        rows = [r for r in rows if any(r)]
        if rows:
            tables.append(Table(f"html-{i + 1}", rows[0], rows[1:MAX_TABLE_ROWS + 1]))
        table.replace_with(soup.new_string("\n" + "\n".join(" | ".join(r) for r in rows) + "\n"))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"]):
        block.insert_after("\n")
    text = _clean(soup.get_text())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())), tables


def _cell(text: str) -> str:
    text = _clean(text).strip()
    return text[:MAX_CELL_CHARS]


def split_reply(text: str) -> tuple[str, str, list[Forwarded]]:
    """(new text, quoted history, forwarded messages) of a plain-text body."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    new: list[str] = []
    quoted: list[str] = []
    forwarded: list[Forwarded] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if FORWARD_SPLIT.match(line):
            headers, j = _header_block(lines, i + 1)
            rest = lines[j:]
            # A forwarded message may itself be forwarded again further down: split recursively.
            inner_new, inner_quoted, inner_forwarded = split_reply("\n".join(rest))
            forwarded.append(Forwarded(sender=headers.get("from", ""), subject=headers.get("subject", ""),
                                       text=inner_new))
            forwarded += inner_forwarded
            if inner_quoted:
                quoted.append(inner_quoted)
            break
        if ATTRIBUTION.match(line) or OUTLOOK_SPLIT.match(line) or _outlook_header_at(lines, i):
            quoted += lines[i:]
            break
        if line.lstrip().startswith(">"):
            quoted.append(line)
        else:
            new.append(line)
        i += 1
    return "\n".join(new).strip(), "\n".join(quoted).strip(), forwarded


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """An Outlook-style reply header: From: ... then Sent:/Date: ... within the next lines."""
    match = HEADER_LINE.match(lines[i])
    if not match or match.group(1).lower() != "from" or i == 0:
        return False
    following = [HEADER_LINE.match(x) for x in lines[i + 1:i + 4]]
    return any(m is not None and m.group(1).lower() in ("sent", "date") for m in following)


def _header_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    headers: dict[str, str] = {}
    j = start
    while j < len(lines) and j < start + 8:
        match = HEADER_LINE.match(lines[j])
        if match:
            headers[match.group(1).lower()] = match.group(2).strip()
        elif lines[j].strip() and headers:
            break
        j += 1
    sender = headers.get("from", "")
    if sender:
        pairs = getaddresses([sender])
        headers["from"] = next((a.lower() for _, a in pairs if "@" in a), sender)
    return headers, j


def _read_attachment(part: EmailMessage, parsed: ParsedEmail) -> None:
    filename = _clean(part.get_filename() or "unnamed")[:120]
    ctype = part.get_content_type()
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    info = Attachment(filename, ctype, len(data), read=False)
    parsed.attachments.append(info)
    if len(data) > MAX_ATTACHMENT_BYTES:
        info.note = f"larger than {MAX_ATTACHMENT_BYTES:,} bytes, not read"
        parsed.warnings.append(f"attachment {filename} not read: too large")
        return
    lower = filename.lower()
    try:
        if ctype in ("text/csv", "application/csv") or lower.endswith((".csv", ".tsv")):
            parsed.tables.append(read_csv(data, filename))
        elif lower.endswith(".xlsx") or ctype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
            parsed.tables += read_xlsx(data, filename)
        elif lower.endswith(".pdf") or ctype == "application/pdf":
            text = read_pdf_text(data)
            if not text.strip():
                info.note = "PDF without a text layer (scanned?): not read"
                parsed.warnings.append(f"attachment {filename}: no text layer")
                return
            parsed.attachment_texts.append((filename, text))
        elif ctype == "text/plain" or lower.endswith(".txt"):
            parsed.attachment_texts.append((filename, _clean(data.decode("utf-8", "replace"))[:20000]))
        else:
            info.note = "type not read"
            return
    except Exception as exc:  # a broken attachment must not lose the email: note it and go on
        info.note = f"unreadable: {type(exc).__name__}"
        parsed.warnings.append(f"attachment {filename} unreadable ({type(exc).__name__})")
        return
    info.read = True


def read_csv(data: bytes, name: str = "csv") -> Table:
    text = data.decode("utf-8-sig", "replace")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for i, row in enumerate(csv.reader(io.StringIO(text), dialect)):
        if i > MAX_TABLE_ROWS:
            break
        cells = _trim([_cell(c) for c in row[:40]])
        if any(cells):
            rows.append(cells)
    return Table(name, rows[0] if rows else [], rows[1:])


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


def read_xlsx(data: bytes, name: str = "xlsx") -> list[Table]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    tables: list[Table] = []
    try:
        for sheet in book.worksheets[:3]:
            rows: list[list[str]] = []
            for row in sheet.iter_rows(max_row=MAX_TABLE_ROWS + 1, max_col=40, values_only=True):
                cells = _trim(["" if v is None else _cell(str(v)) for v in row])
                if any(cells):
                    rows.append(cells)
            if rows:
                tables.append(Table(f"{name}:{sheet.title}", rows[0], rows[1:]))
    finally:
        book.close()
    return tables


def read_pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages[:MAX_PDF_PAGES]:
        pages.append(page.extract_text() or "")
    return _clean("\n".join(pages))[:20000]
