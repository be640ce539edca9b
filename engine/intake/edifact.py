"""Read UN/EDIFACT interchanges: service string advice, envelopes, messages; no I/O, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from engine.domain.errors import OrderloomError

MAX_INPUT_BYTES = 20_000_000


class EdifactError(OrderloomError):
    """An EDIFACT input could not be read; names the segment index, tag and reason."""

    code = "edifact.error"
    http_status = 422

    def __init__(self, reason: str, *, segment_index: int = -1, tag: str = "") -> None:
        where = f"segment {segment_index} ({tag or '?'})" if segment_index >= 0 else "input"
        super().__init__(f"{where}: {reason}", segment_index=segment_index, tag=tag, reason=reason)
        self.segment_index = segment_index
        self.tag = tag
        self.reason = reason


class EdifactSyntaxError(EdifactError):
    code = "edifact.syntax"


class EdifactEnvelopeError(EdifactError):
    code = "edifact.envelope"


class EdifactMessageError(EdifactError):
    code = "edifact.message"


@dataclass(frozen=True)
class Delimiters:
    """The six service characters of UNA; defaults apply when UNA is absent."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    repetition: str = "*"
    segment: str = "'"

    @classmethod
    def from_una(cls, una: str) -> Delimiters:
        if len(una) < 9:
            raise EdifactSyntaxError("UNA must be followed by exactly six characters", segment_index=0, tag="UNA")
        comp, elem, dec, rel, rep, seg = (una[3], una[4], una[5], una[6], una[7], una[8])
        if dec not in ".,":
            raise EdifactSyntaxError(f"UNA decimal mark {dec!r} is neither '.' nor ','", segment_index=0, tag="UNA")
        special = [comp, elem, seg] + ([rel] if rel != " " else [])
        if len(set(special)) != len(special) or any(ch.isalnum() for ch in special):
            raise EdifactSyntaxError(f"UNA service characters {una[3:9]!r} collide or are letters/digits",
                                     segment_index=0, tag="UNA")
        return cls(comp, elem, dec, rel if rel != " " else "", rep, seg)


@dataclass(frozen=True)
class Segment:
    """One segment: its position in the interchange (UNA not counted), tag, and elements of components."""

    index: int
    tag: str
    elements: tuple[tuple[str, ...], ...]

    def get(self, element: int, component: int = 0) -> str:
        """Element `element` (1-based, after the tag), component `component` (0-based); '' when absent."""
        if element < 1 or element > len(self.elements):
            return ""
        comps = self.elements[element - 1]
        return comps[component] if component < len(comps) else ""


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_INPUT_BYTES:
        raise EdifactSyntaxError(f"input of {len(data)} bytes exceeds {MAX_INPUT_BYTES}")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # UNOA..UNOC syntax levels are ISO 8859-1 compatible


def tokenize(data: bytes | str) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments, honouring UNA and the release character."""
    text = _decode(data).lstrip("\ufeff \t\r\n")
    if len(text) > MAX_INPUT_BYTES:
        raise EdifactSyntaxError(f"input of {len(text)} characters exceeds {MAX_INPUT_BYTES}")
    if not text:
        raise EdifactSyntaxError("input is empty")
    if "\x00" in text:
        raise EdifactSyntaxError("input contains NUL bytes: binary, not EDIFACT")
    delims = Delimiters()
    if text.startswith("UNA"):
        delims = Delimiters.from_una(text[:9])
        text = text[9:]
    if not delims.release or delims.release not in text:
        return delims, _split_plain(text, delims)
    segments: list[Segment] = []
    elements: list[tuple[str, ...]] = []
    comps: list[str] = []
    buf: list[str] = []
    rel, comp, elem, seg = delims.release, delims.component, delims.element, delims.segment
    i, n = 0, len(text)
    started = False
    while i < n:
        ch = text[i]
        if not started:
            if ch in " \t\r\n":
                i += 1
                continue
            started = True
        if rel and ch == rel:
            if i + 1 >= n:
                raise EdifactSyntaxError("release character at end of input", segment_index=len(segments),
                                         tag="".join(buf)[:3])
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == comp:
            comps.append("".join(buf))
            buf = []
        elif ch == elem:
            comps.append("".join(buf))
            elements.append(tuple(comps))
            comps, buf = [], []
        elif ch == seg:
            comps.append("".join(buf))
            elements.append(tuple(comps))
            segments.append(_make_segment(len(segments), elements))
            elements, comps, buf, started = [], [], [], False
        elif ch in "\r\n" and not elements and not comps:
            pass  # line breaks inside a tag are never meaningful
        else:
            buf.append(ch)
        i += 1
    if started:
        raise EdifactSyntaxError(f"last segment is not terminated by {seg!r}", segment_index=len(segments),
                                 tag=(elements[0][0] if elements else "".join(buf))[:3])
    return delims, segments


def _split_plain(text: str, d: Delimiters) -> list[Segment]:
    """Fast path when no release character occurs: plain string splits."""
    raw = text.split(d.segment)
    tail = raw.pop().strip(" \t\r\n")
    segments: list[Segment] = []
    for chunk in raw:
        chunk = chunk.lstrip(" \t\r\n")
        if not chunk:
            continue
        elements = [tuple(e.split(d.component)) for e in chunk.split(d.element)]
        segments.append(_make_segment(len(segments), elements))
    if tail:
        raise EdifactSyntaxError(f"last segment is not terminated by {d.segment!r}", segment_index=len(segments),
                                 tag=tail[:3])
    return segments


def _make_segment(index: int, elements: list[tuple[str, ...]]) -> Segment:
    tag = elements[0][0].strip()
    if len(tag) != 3 or not tag.isalnum() or (not tag.isupper() and not tag.isdigit()):
        raise EdifactSyntaxError(f"segment tag {tag[:20]!r} is not three letters/digits", segment_index=index,
                                 tag=tag[:3])
    return Segment(index, tag, tuple(elements[1:]))


def parse_decimal(value: str, *, segment: Segment | None = None, what: str = "number") -> Decimal:
    """A numeric data element; '.' or ',' are both accepted as decimal mark (ISO 9735 allows either)."""
    raw = value.strip()
    if raw.count(",") + raw.count(".") > 1 or not raw:
        raise EdifactMessageError(f"{what} {value!r} is not a number",
                                  segment_index=segment.index if segment else -1, tag=segment.tag if segment else "")
    try:
        result = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        result = Decimal("NaN")
    if not result.is_finite():
        raise EdifactMessageError(f"{what} {value!r} is not a number",
                                  segment_index=segment.index if segment else -1, tag=segment.tag if segment else "")
    return result


@dataclass
class Message:
    """One UNH..UNT message; `error` is set when the message itself is corrupt (others still parse)."""

    reference: str
    message_type: str
    version: str
    release: str
    agency: str
    association: str
    segments: list[Segment]
    group_reference: str = ""
    error: EdifactError | None = None

    @property
    def is_orders(self) -> bool:
        return self.message_type == "ORDERS"


@dataclass
class Interchange:
    """A parsed UNB..UNZ interchange with its messages and any tolerated irregularities."""

    delimiters: Delimiters
    syntax: str
    sender: str
    recipient: str
    prepared: str
    control_reference: str
    messages: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_interchange(data: bytes | str) -> Interchange:
    """Read one interchange; corrupt envelopes raise, corrupt messages are recorded on the message."""
    delims, segs = tokenize(data)
    if not segs or segs[0].tag != "UNB":
        first = segs[0] if segs else None
        raise EdifactEnvelopeError("interchange must start with UNB", segment_index=first.index if first else 0,
                                   tag=first.tag if first else "")
    unb = segs[0]
    ic = Interchange(delims, unb.get(1, 0), unb.get(2, 0), unb.get(3, 0), ":".join(unb.elements[3]) if
                     len(unb.elements) > 3 else "", unb.get(5, 0))
    if not ic.control_reference:
        raise EdifactEnvelopeError("UNB05 control reference is missing", segment_index=0, tag="UNB")
    i, group_ref, group_count, group_open = 1, "", 0, False
    unz: Segment | None = None
    while i < len(segs):
        s = segs[i]
        if s.tag == "UNH":
            end = i + 1
            while end < len(segs) and segs[end].tag not in ("UNT", "UNH", "UNZ", "UNE", "UNG"):
                end += 1
            body = segs[i:end + 1] if end < len(segs) and segs[end].tag == "UNT" else segs[i:end]
            ic.messages.append(_make_message(body, group_ref))
            group_count += 1
            i += len(body)
            continue
        if s.tag == "UNG":
            if group_open:
                raise EdifactEnvelopeError("UNG inside an open group", segment_index=s.index, tag=s.tag)
            group_open, group_ref, group_count = True, s.get(5, 0), 0
        elif s.tag == "UNE":
            if not group_open:
                raise EdifactEnvelopeError("UNE without UNG", segment_index=s.index, tag=s.tag)
            if s.get(2) != group_ref:
                raise EdifactEnvelopeError(f"UNE02 {s.get(2)!r} differs from UNG05 {group_ref!r}",
                                           segment_index=s.index, tag=s.tag)
            if s.get(1) != str(group_count):
                raise EdifactEnvelopeError(f"UNE01 says {s.get(1)!r} messages, group has {group_count}",
                                           segment_index=s.index, tag=s.tag)
            group_open, group_ref = False, ""
        elif s.tag == "UNZ":
            unz = s
            if i != len(segs) - 1:
                raise EdifactEnvelopeError("segments after UNZ", segment_index=segs[i + 1].index, tag=segs[i + 1].tag)
        else:
            raise EdifactEnvelopeError("segment outside any message", segment_index=s.index, tag=s.tag)
        i += 1
    if group_open:
        raise EdifactEnvelopeError("group not closed by UNE", segment_index=segs[-1].index, tag=segs[-1].tag)
    if unz is None:
        ic.warnings.append("edifact.missing_unz: interchange ends without UNZ; counts not checked")
        return ic
    if unz.get(2) != ic.control_reference:
        raise EdifactEnvelopeError(f"UNZ02 {unz.get(2)!r} differs from UNB05 {ic.control_reference!r}",
                                   segment_index=unz.index, tag="UNZ")
    groups = sum(1 for s in segs if s.tag == "UNG")
    expected = groups if groups else len(ic.messages)
    if unz.get(1) != str(expected):
        raise EdifactEnvelopeError(f"UNZ01 says {unz.get(1)!r}, interchange has {expected}",
                                   segment_index=unz.index, tag="UNZ")
    return ic


def _make_message(body: list[Segment], group_ref: str) -> Message:
    unh = body[0]
    ident = unh.elements[1] if len(unh.elements) > 1 else ()
    parts = [*ident, "", "", "", "", ""]
    msg = Message(unh.get(1), parts[0], parts[1], parts[2], parts[3], parts[4], body, group_ref)
    last = body[-1]
    if not msg.reference or not msg.message_type:
        msg.error = EdifactMessageError("UNH lacks reference or message type", segment_index=unh.index, tag="UNH")
    elif last.tag != "UNT":
        msg.error = EdifactMessageError("message not closed by UNT", segment_index=last.index, tag=last.tag)
    elif last.get(2) != msg.reference:
        msg.error = EdifactMessageError(f"UNT02 {last.get(2)!r} differs from UNH01 {msg.reference!r}",
                                        segment_index=last.index, tag="UNT")
    elif last.get(1) != str(len(body)):
        msg.error = EdifactMessageError(f"UNT01 says {last.get(1)!r} segments, message has {len(body)}",
                                        segment_index=last.index, tag="UNT")
    return msg
