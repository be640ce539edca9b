"""Read X12 interchanges as partners really send them; check every envelope, reject bad parts alone.

Why our own reader and not a library (tried November 2026 on the 45 files of ../shared/realworld/x12):
- pyx12 4.0.0 (maintained, HIPAA X12N oriented, no 850/855/856/810 maps): its tokenizer reads only 24
  of 45 files; it takes separators from fixed ISA offsets (fails on short ISA fields, a '~' element
  separator with '*' terminator, ISA split or padded) and refuses ISA12 versions other than 00401/00501
  (00400, 00403, 00406 in the corpus).
- badx12 0.2.2 (last release 2020) does not import on Python 3.11 (`collections.Iterable`): 0 of 45.
- x12-edi-tools 0.1.2: two releases, not tried further.
The format itself is small; owning it gives exact errors (segment index, id, reason) and 997 codes.

Separators come from the ISA: element = 4th character, component = ISA16, segment terminator = the
character after ISA16 (CR/LF after it is padding); ISA11 is the repetition separator when it is not a
letter or digit. BOM, indentation, CRLF and no-break spaces around segments are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.intake.x12_errors import (
    ControlNumberMismatch,
    CountMismatch,
    DuplicateControlNumber,
    EmptyInput,
    EnvelopeError,
    InputTooLarge,
    NotX12,
    SegmentSyntax,
    UnsupportedVersion,
    X12Error,
)

MAX_INPUT_BYTES = 64 * 1024 * 1024
PAD = " \t\r\n\u00a0\ufeff\x00"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
_DIGITS = re.compile(r"\d{1,9}\Z")


@dataclass(frozen=True, slots=True)
class Separators:
    element: str
    component: str | None
    segment: str
    repetition: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment; `index` is its 0-based position among all segments of the file (traceability)."""

    index: int
    id: str
    elements: tuple[str, ...]
    raw: str = ""

    def get(self, position: int) -> str:
        """Element at 1-based `position`, padding stripped; '' when absent."""
        return self.elements[position - 1].strip(PAD) if 0 < position <= len(self.elements) else ""


@dataclass(slots=True)
class TransactionSet:
    set_id: str
    control_number: str
    segments: tuple[Segment, ...]
    interchange_control: str
    group_control: str
    functional_id: str
    version: str
    sender_id: str = ""
    receiver_id: str = ""

    @property
    def reference(self) -> str:
        """Idempotency reference: ISA13/GS06/ST02."""
        return f"{self.interchange_control}/{self.group_control}/{self.control_number}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A part of the input that was refused: the whole interchange, one group, or one set."""

    level: str
    error: X12Error
    interchange_control: str = ""
    group_control: str = ""
    set_control: str = ""
    set_id: str = ""


@dataclass(slots=True)
class FunctionalGroup:
    functional_id: str
    sender: str
    receiver: str
    control_number: str
    version: str
    segment_index: int
    sets: list[TransactionSet] = field(default_factory=list)
    rejected_sets: list[Rejection] = field(default_factory=list)
    received_sets: int = 0
    control_numbers: list[str] = field(default_factory=list)
    error: X12Error | None = None


@dataclass(slots=True)
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    version: str
    control_number: str
    usage: str
    separators: Separators
    segment_index: int
    groups: list[FunctionalGroup] = field(default_factory=list)
    error: X12Error | None = None


@dataclass(slots=True)
class X12Document:
    interchanges: list[Interchange] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def transaction_sets(self) -> Iterator[TransactionSet]:
        """Every set that passed all envelope checks, in file order."""
        for ic in self.interchanges:
            if ic.error is None:
                for group in ic.groups:
                    if group.error is None:
                        yield from group.sets


def decode(data: bytes | str, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """Bytes to text: UTF-8 (BOM dropped) or Latin-1; refuse empty, oversized and binary input."""
    if len(data) > max_bytes:
        raise InputTooLarge(f"input is {len(data)} bytes, over the {max_bytes}-byte limit", segment_index=0,
                            fix="split the file into several interchanges")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip(PAD):
        raise EmptyInput("the input is empty", segment_index=0, fix="send an X12 interchange starting with ISA")
    sample = text[:4096]
    if sum(ch < " " and ch not in "\t\r\n" for ch in sample) > len(sample) // 20:
        raise NotX12("binary data, not X12 text", segment_index=0, fix="send the interchange as text")
    return text


def read_x12(data: bytes | str, *, max_bytes: int = MAX_INPUT_BYTES) -> X12Document:
    """Read every interchange in `data`; bad interchanges, groups and sets are rejected alone."""
    text = decode(data, max_bytes=max_bytes)
    doc = X12Document()
    pos, index = _skip_pad(text, 0), 0
    seen: set[tuple[str, str, str]] = set()
    while pos < len(text):
        if not text.startswith("ISA", pos):
            if not doc.interchanges and not doc.rejections:
                raise NotX12("the input does not start with an ISA segment", segment_index=index,
                             segment_id=text[pos:pos + 3], fix="send an X12 interchange starting with ISA")
            doc.rejections.append(Rejection("interchange", EnvelopeError(
                "data after the last IEA is not an interchange", segment_index=index, segment_id=text[pos:pos + 3],
                fix="remove trailing data or add its ISA")))
            break
        try:
            seps = _separators(text, pos, index, doc.warnings)
        except X12Error as error:
            if not doc.interchanges and not doc.rejections:
                raise
            doc.rejections.append(Rejection("interchange", error))
            break
        end = _interchange_end(text, pos, seps)
        segments = _split(text[pos:end], seps, index)
        index += len(segments)
        interchange = _read_interchange(segments, seps, doc)
        key = (interchange.sender_id, interchange.receiver_id, interchange.control_number)
        if interchange.error is None and key in seen:
            interchange.error = DuplicateControlNumber(
                f"interchange control number {interchange.control_number} was already received in this input",
                segment_index=segments[0].index, segment_id="ISA", element=13, value=interchange.control_number,
                fix="send each interchange once, with a new ISA13 for new content")
        if interchange.error is not None:
            doc.rejections.append(Rejection("interchange", interchange.error, interchange.control_number))
        seen.add(key)
        doc.interchanges.append(interchange)
        pos = _skip_pad(text, end)
    return doc


def _skip_pad(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in PAD:
        pos += 1
    return pos


def _separators(text: str, pos: int, index: int, warnings: list[str]) -> Separators:
    """Separators from the ISA at `pos`, tolerant of short (non fixed-width) ISA fields."""
    if len(text) < pos + 4:
        raise EnvelopeError("truncated ISA segment", segment_index=index, segment_id="ISA", ak9="")
    element = text[pos + 3]
    if element.isalnum() or element in PAD:
        raise EnvelopeError(f"invalid element separator {element!r} after ISA", segment_index=index,
                            segment_id="ISA", fix="the 4th character of the ISA must be the element separator")
    cursor = pos + 3
    for _ in range(15):
        cursor = text.find(element, cursor + 1)
        if cursor < 0:
            raise EnvelopeError("truncated ISA segment: fewer than 16 elements", segment_index=index,
                                segment_id="ISA", fix="send the complete 16-element ISA")
    if len(text) < cursor + 2:
        raise EnvelopeError("truncated ISA segment: no ISA16", segment_index=index, segment_id="ISA")
    header = text[pos:cursor]
    if "\n" in header or "\r" in header:
        raise EnvelopeError("ISA split across lines", segment_index=index, segment_id="ISA",
                            fix="the ISA must be one line: no line break inside it")
    candidate = text[cursor + 1]
    component: str | None = candidate
    terminator = text[cursor + 2] if len(text) > cursor + 2 else ""
    if candidate in "\r\n":
        warnings.append(f"segment {index} (ISA): ISA16 missing; no component separator")
        component, terminator = None, candidate
    elif terminator and terminator in "\r\n":
        line_end = text.find("\n", cursor + 2)
        next_end = text.find("\n", line_end + 1)
        next_line = text[line_end + 1:next_end if next_end >= 0 else len(text)] if line_end >= 0 else ""
        if next_line.rstrip(PAD).endswith(candidate):
            # ISA16 left out: the character there is the terminator that also ends every other line.
            warnings.append(f"segment {index} (ISA): ISA16 missing; {candidate!r} is the segment terminator")
            component, terminator = None, candidate
    if not terminator:
        raise EnvelopeError("truncated ISA segment: no segment terminator", segment_index=index, segment_id="ISA")
    if terminator.isalnum() or terminator in (element, component):
        raise EnvelopeError(f"segment terminator {terminator!r} is invalid or equals another separator",
                            segment_index=index, segment_id="ISA", fix="use distinct separators")
    if component is not None and (component.isalnum() or component == element):
        raise EnvelopeError(f"component separator {component!r} is invalid", segment_index=index,
                            segment_id="ISA", element=16, fix="ISA16 must be a special character")
    parts = header.split(element)
    repetition = parts[11].strip(PAD) if len(parts) > 11 else ""
    rep = repetition if len(repetition) == 1 and not repetition.isalnum() else None
    return Separators(element, component, terminator, rep)


def _interchange_end(text: str, pos: int, seps: Separators) -> int:
    """End (exclusive) of the interchange starting at `pos`: after the IEA's terminator, else end of text."""
    probe = text.find("IEA" + seps.element, pos)
    while probe >= 0 and text[probe - 1] not in PAD + seps.segment:
        probe = text.find("IEA" + seps.element, probe + 1)
    if probe < 0:
        nxt = text.find("ISA" + seps.element, pos + 3)
        return nxt if nxt >= 0 else len(text)
    stop = text.find(seps.segment, probe)
    return len(text) if stop < 0 else stop + 1


def _split(chunk: str, seps: Separators, first_index: int) -> list[Segment]:
    term = seps.segment
    if term in " \t" and re.search(re.escape(term) + r"[\r\n]", chunk):
        # A space terminator with line breaks: only the space before a line break ends a segment.
        pieces = re.split(re.escape(term) + r"[\r\n]+", chunk)
    else:
        pieces = chunk.split(term)
    out: list[Segment] = []
    element = seps.element
    for piece in pieces:
        piece = piece.strip(PAD)
        if not piece:
            continue
        parts = piece.split(element)
        out.append(Segment(first_index + len(out), parts[0], tuple(parts[1:]), piece))
    return out


def _read_interchange(segs: list[Segment], seps: Separators, doc: X12Document) -> Interchange:
    isa = segs[0]
    ic = Interchange(isa.get(5), isa.get(6), isa.get(7), isa.get(8), isa.get(9), isa.get(10), isa.get(12),
                     isa.get(13), isa.get(15), seps, isa.index)
    if len(isa.elements) < 15:
        ic.error = EnvelopeError(f"ISA has {len(isa.elements) + 1} elements, 16 expected", segment_index=isa.index,
                                 segment_id="ISA")
        return ic
    if not re.fullmatch(r"\d{9}", ic.control_number):
        ic.error = EnvelopeError(f"ISA13 {ic.control_number!r} is not a 9-digit control number",
                                 segment_index=isa.index, segment_id="ISA", element=13, value=ic.control_number)
        return ic
    if ic.version.startswith(("001", "002")):
        ic.error = UnsupportedVersion(f"interchange version {ic.version} (X12 version 2) is not supported",
                                      segment_index=isa.index, segment_id="ISA", element=12, value=ic.version,
                                      fix="send version 00300 or later")
        return ic
    i, n = 1, len(segs)
    while i < n:
        seg = segs[i]
        if seg.id == "GS":
            j = i + 1
            while j < n and segs[j].id not in ("GE", "GS", "IEA"):
                j += 1
            has_trailer = j < n and segs[j].id == "GE"
            group = _read_group(segs[i:j + 1] if has_trailer else segs[i:j], has_trailer, ic, doc)
            if any(g.control_number == group.control_number for g in ic.groups) and group.error is None:
                group.error = DuplicateControlNumber(
                    f"group control number {group.control_number} repeated in this interchange",
                    segment_index=seg.index, segment_id="GS", element=6, value=group.control_number, ak9="6")
            if group.error is not None:
                doc.rejections.append(Rejection("group", group.error, ic.control_number, group.control_number))
            ic.groups.append(group)
            i = j + 1 if has_trailer else j
        elif seg.id == "IEA":
            _check_iea(seg, ic, i == n - 1, segs)
            return ic
        else:
            ic.error = EnvelopeError(f"unexpected segment {seg.id!r} outside a functional group",
                                     segment_index=seg.index, segment_id=seg.id, fix="wrap sets in GS/GE")
            return ic
    ic.error = EnvelopeError("IEA trailer missing (truncated interchange)", segment_index=segs[-1].index,
                             segment_id=segs[-1].id, fix="send the complete interchange ending with IEA")
    return ic


def _check_iea(iea: Segment, ic: Interchange, last: bool, segs: list[Segment]) -> None:
    if iea.get(2) != ic.control_number:
        ic.error = ControlNumberMismatch(f"IEA02 {iea.get(2)!r} does not match ISA13 {ic.control_number!r}",
                                         segment_index=iea.index, segment_id="IEA", element=2, value=iea.get(2))
    elif iea.get(1) != str(len(ic.groups)) and iea.get(1).lstrip("0") != str(len(ic.groups)):
        ic.error = CountMismatch(f"IEA01 says {iea.get(1)!r} groups, {len(ic.groups)} received",
                                 segment_index=iea.index, segment_id="IEA", element=1, value=iea.get(1))
    elif not last:
        extra = segs[segs.index(iea) + 1]
        ic.error = EnvelopeError("segments after IEA", segment_index=extra.index, segment_id=extra.id)


def _read_group(segs: list[Segment], has_trailer: bool, ic: Interchange, doc: X12Document) -> FunctionalGroup:
    gs = segs[0]
    group = FunctionalGroup(gs.get(1), gs.get(2), gs.get(3), gs.get(6), gs.get(8), gs.index)
    if not _DIGITS.match(group.control_number):
        group.error = EnvelopeError(f"GS06 {group.control_number!r} is not a numeric control number",
                                    segment_index=gs.index, segment_id="GS", element=6, ak9="6")
        return group
    if group.version.startswith(("001", "002")):
        group.error = UnsupportedVersion(f"group version {group.version} is not supported", segment_index=gs.index,
                                         segment_id="GS", element=8, value=group.version, ak9="2")
        return group
    body = segs[1:-1] if has_trailer else segs[1:]
    i, n = 0, len(body)
    while i < n:
        seg = body[i]
        if seg.id != "ST":
            group.error = EnvelopeError(f"unexpected segment {seg.id!r} between transaction sets",
                                        segment_index=seg.index, segment_id=seg.id, ak9="1")
            return group
        j = i + 1
        while j < n and body[j].id not in ("SE", "ST"):
            j += 1
        closed = j < n and body[j].id == "SE"
        group.received_sets += 1
        _accept_set(body[i:j + 1] if closed else body[i:j], closed, group, ic, doc)
        i = j + 1 if closed else j
    if not has_trailer:
        group.error = EnvelopeError("GE trailer missing", segment_index=segs[-1].index, segment_id=segs[-1].id,
                                    ak9="3")
        return group
    ge = segs[-1]
    if ge.get(2).lstrip("0") != group.control_number.lstrip("0"):
        group.error = ControlNumberMismatch(f"GE02 {ge.get(2)!r} does not match GS06 {group.control_number!r}",
                                            segment_index=ge.index, segment_id="GE", element=2, value=ge.get(2),
                                            ak9="4")
    elif ge.get(1).lstrip("0") != str(group.received_sets).lstrip("0"):
        group.error = CountMismatch(f"GE01 says {ge.get(1)!r} sets, {group.received_sets} received",
                                    segment_index=ge.index, segment_id="GE", element=1, value=ge.get(1), ak9="5")
    return group


def _accept_set(segs: list[Segment], closed: bool, group: FunctionalGroup, ic: Interchange,
                doc: X12Document) -> None:
    st = segs[0]
    ts = TransactionSet(st.get(1), st.get(2), tuple(segs), ic.control_number, group.control_number,
                        group.functional_id, group.version, ic.sender_id, ic.receiver_id)
    error = _set_error(segs, closed, ts, group)
    group.control_numbers.append(ts.control_number)
    if error is None:
        group.sets.append(ts)
        return
    rejection = Rejection("set", error, ic.control_number, group.control_number, ts.control_number, ts.set_id)
    group.rejected_sets.append(rejection)
    doc.rejections.append(rejection)


def _set_error(segs: list[Segment], closed: bool, ts: TransactionSet, group: FunctionalGroup) -> X12Error | None:
    st = segs[0]
    if not re.fullmatch(r"\d{3}", ts.set_id):
        return EnvelopeError(f"ST01 {ts.set_id!r} is not a transaction set identifier", segment_index=st.index,
                             segment_id="ST", element=1, value=ts.set_id, ak5="6")
    if not re.fullmatch(r"[0-9A-Za-z]{4,9}", ts.control_number):
        return EnvelopeError(f"ST02 {ts.control_number!r} is not a 4-9 character control number",
                             segment_index=st.index, segment_id="ST", element=2, value=ts.control_number, ak5="7")
    if not closed:
        return EnvelopeError("SE trailer missing", segment_index=segs[-1].index, segment_id=segs[-1].id, ak5="2")
    for position, seg in enumerate(segs, start=1):
        if not _SEGMENT_ID.match(seg.id):
            return SegmentSyntax(f"unrecognised segment id {seg.id[:10]!r}", segment_index=seg.index,
                                 segment_id=seg.id[:10], ak3="1", position=position)
        if "\n" in seg.raw or "\r" in seg.raw:
            return SegmentSyntax("line break inside a segment: a segment terminator is missing",
                                 segment_index=seg.index, segment_id=seg.id, ak3="8", position=position,
                                 fix="end every segment with the ISA's segment terminator")
    se = segs[-1]
    if se.get(2) != ts.control_number:
        return ControlNumberMismatch(f"SE02 {se.get(2)!r} does not match ST02 {ts.control_number!r}",
                                     segment_index=se.index, segment_id="SE", element=2, value=se.get(2), ak5="3")
    if se.get(1).lstrip("0") != str(len(segs)):
        return CountMismatch(f"SE01 says {se.get(1)!r} segments, {len(segs)} received", segment_index=se.index,
                             segment_id="SE", element=1, value=se.get(1), ak5="4")
    if ts.control_number in group.control_numbers:
        return DuplicateControlNumber(f"set control number {ts.control_number} repeated in this group",
                                      segment_index=st.index, segment_id="ST", element=2, value=ts.control_number,
                                      ak5="23")
    return None
