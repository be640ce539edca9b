"""Write X12: a small generic segment writer with envelopes and counts, and the 997 functional ack.

855/856/810 will reuse `SegmentWriter` and `envelope`; only the transaction set bodies differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.intake.x12_reader import FunctionalGroup, Interchange, Rejection, X12Document


@dataclass(frozen=True, slots=True)
class OutSeparators:
    element: str = "*"
    component: str = ">"
    repetition: str = "^"
    segment: str = "~"


class SegmentWriter:
    """Collects segments; trailing empty elements are dropped, separators inside values refused."""

    def __init__(self, separators: OutSeparators = OutSeparators()) -> None:
        self.separators = separators
        self._segments: list[str] = []

    def add(self, segment_id: str, *elements: str | int) -> None:
        values = [str(e) for e in elements]
        while values and values[-1] == "":
            values.pop()
        s = self.separators
        forbidden = (s.element, s.segment) if segment_id == "ISA" else (s.element, s.segment, s.component)
        for value in values:
            if any(sep in value for sep in forbidden):
                raise ValueError(f"{segment_id}: value {value!r} contains a separator")
        self._segments.append(s.element.join([segment_id, *values]))

    def __len__(self) -> int:
        return len(self._segments)

    def text(self, *, newline: bool = True) -> str:
        end = self.separators.segment + ("\n" if newline else "")
        return "".join(seg + end for seg in self._segments)


@dataclass(frozen=True, slots=True)
class Party:
    qualifier: str
    id: str


def envelope(writer: SegmentWriter, *, sender: Party, receiver: Party, control_number: int, functional_id: str,
             version: str, sets: Sequence[tuple[str, Iterable[tuple[str, Sequence[str | int]]]]],
             when: datetime, usage: str = "P") -> None:
    """ISA/GS, then each (set id, segments) wrapped in ST/SE with its count, then GE/IEA."""
    s = writer.separators
    modern = version.startswith("005")  # ISA11 is the repetition separator from 00402; 00401 has "U" there
    writer.add("ISA", "00", " " * 10, "00", " " * 10, sender.qualifier, sender.id.ljust(15)[:15],
               receiver.qualifier, receiver.id.ljust(15)[:15], when.strftime("%y%m%d"), when.strftime("%H%M"),
               s.repetition if modern else "U", "00501" if modern else "00401", f"{control_number:09d}", "0", usage,
               s.component)
    writer.add("GS", functional_id, sender.id, receiver.id, when.strftime("%Y%m%d"), when.strftime("%H%M"),
               control_number, "X", version)
    for number, (set_id, segments) in enumerate(sets, start=1):
        st_control = f"{number:04d}"
        start = len(writer)
        writer.add("ST", set_id, st_control)
        for segment_id, elements in segments:
            writer.add(segment_id, *elements)
        writer.add("SE", len(writer) - start + 1, st_control)
    writer.add("GE", len(sets), control_number)
    writer.add("IEA", 1, f"{control_number:09d}")


def functional_ack(document: X12Document, *, control_number: int, when: datetime,
                   extra_rejections: Sequence[Rejection] = ()) -> list[str]:
    """One 997 interchange per received interchange whose envelope was read (rejected ones need a TA1).

    Each received group gets one 997 set: AK1, then AK2/AK3/AK4/AK5 per set, then AK9.
    `extra_rejections` adds sets refused after the envelope (e.g. an 850 missing BEG03).
    """
    known = {id(r) for r in document.rejections}
    extra = {(r.interchange_control, r.group_control, r.set_control): r for r in extra_rejections
             if r.level == "set" and id(r) not in known}
    out = []
    for offset, ic in enumerate(i for i in document.interchanges if i.error is None):
        writer = SegmentWriter()
        sets = [("997", _ack_group(ic, group, extra)) for group in ic.groups]
        envelope(writer, sender=Party(ic.receiver_qualifier, ic.receiver_id),
                 receiver=Party(ic.sender_qualifier, ic.sender_id), control_number=control_number + offset,
                 functional_id="FA", version=ic.groups[0].version if ic.groups else "004010", sets=sets, when=when)
        out.append(writer.text())
    return out


def _ack_group(ic: Interchange, group: FunctionalGroup,
               extra: dict[tuple[str, str, str], Rejection]) -> list[tuple[str, Sequence[str | int]]]:
    segments: list[tuple[str, Sequence[str | int]]] = [("AK1", (group.functional_id, group.control_number))]
    if group.error is not None:
        # The whole group is refused: no per-set loops, only the group's reason (AK905).
        segments.append(("AK9", ("R", group.received_sets, group.received_sets, 0, group.error.ak9 or "1")))
        return segments
    # (position in the file, set id, control number, rejection or None), acknowledged in file order
    results = [(ts.segments[0].index, ts.set_id, ts.control_number,
                extra.get((ic.control_number, group.control_number, ts.control_number))) for ts in group.sets]
    results += [(r.error.segment_index, r.set_id, r.set_control, r) for r in group.rejected_sets]
    results.sort(key=lambda result: result[0])
    accepted = 0
    for _, set_id, set_control, rejection in results:
        segments.append(("AK2", (set_id, set_control)))
        if rejection is None:
            segments.append(("AK5", ("A",)))
            accepted += 1
            continue
        error = rejection.error
        if error.ak3:
            segments.append(("AK3", (error.segment_id, error.data.get("position", ""), "", error.ak3)))
            if error.ak4:
                segments.append(("AK4", (error.element, "", error.ak4, _clean(error.value))))
        segments.append(("AK5", ("R", error.ak5 or "5")))
    received = len(results)
    status = "A" if accepted == received else ("P" if accepted else "R")
    segments.append(("AK9", (status, group.received_sets, received, accepted)))
    return segments


def _clean(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum() or ch in " .-/")[:99]
