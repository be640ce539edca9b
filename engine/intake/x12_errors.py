"""Typed X12 errors: each names the segment index, the segment id and the reason, with a stable code."""

from __future__ import annotations

from typing import Any

from engine.domain.errors import OrderloomError, Problem


class X12Error(OrderloomError):
    """An X12 input (or part of one) was refused; `data` says where (segment index, id, element) and why.

    `ak` carries the 997 codes that acknowledge it: ak5/ak9 (set/group level), ak3 (segment), ak4 (element).
    """

    code = "edi.x12"
    http_status = 422

    def __init__(self, reason: str, *, segment_index: int = -1, segment_id: str = "", element: int = 0,
                 value: str = "", fix: str = "", ak3: str = "", ak4: str = "", ak5: str = "5",
                 ak9: str = "", **data: Any) -> None:
        where = f"segment {segment_index} ({segment_id or '?'})"
        if element:
            where += f" element {element:02d}"
        super().__init__(f"{where}: {reason}",
                         problems=[Problem(code=self.code, field=f"segment[{segment_index}].{segment_id}"
                                           + (f"{element:02d}" if element else ""), message=reason, fix=fix)],
                         segment_index=segment_index, segment_id=segment_id, element=element, value=value,
                         reason=reason, **data)
        self.reason = reason
        self.segment_index = segment_index
        self.segment_id = segment_id
        self.element = element
        self.value = value
        self.ak3, self.ak4, self.ak5, self.ak9 = ak3, ak4, ak5, ak9


class EmptyInput(X12Error):
    code = "edi.empty"


class InputTooLarge(X12Error):
    code = "edi.too_large"


class NotX12(X12Error):
    """The input is not an X12 interchange at all (no ISA, binary data)."""

    code = "edi.not_x12"


class EnvelopeError(X12Error):
    """ISA/GS/ST envelopes are malformed: truncated, split, wrong separators, missing trailer, stray segment."""

    code = "edi.envelope"


class ControlNumberMismatch(X12Error):
    """A trailer's control number differs from its header's (IEA02/ISA13, GE02/GS06, SE02/ST02)."""

    code = "edi.control_number"


class CountMismatch(X12Error):
    """A trailer's count differs from what was received (IEA01, GE01, SE01, CTT01)."""

    code = "edi.count"


class DuplicateControlNumber(X12Error):
    """The same interchange, group or set control number appears twice; the repeat is refused."""

    code = "edi.duplicate"


class UnsupportedVersion(X12Error):
    code = "edi.unsupported_version"


class SegmentSyntax(X12Error):
    """A segment is unreadable: bad id, or a line break inside it (a missing segment terminator)."""

    code = "edi.syntax"


class PurchaseOrderInvalid(X12Error):
    """An 850 misses a mandatory element or carries a value of the wrong kind (date, number)."""

    code = "edi.po850"


class NotAnOrder(X12Error):
    """A well-formed transaction set that is not an 850 purchase order (810, 855, 856, 997...)."""

    code = "edi.not_an_order"
    http_status = 422
