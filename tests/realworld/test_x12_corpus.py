"""Every file of ../shared/realworld/x12 parses into its expected orders and lines, or is refused precisely.

The expected numbers were counted by reading each file (ST/SE, PO1 segments, IEA02 against ISA13), not by
running the parser. A file the table does not list fails the test, so new corpus files must be judged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from engine.intake.x12_850 import read_purchase_orders
from engine.intake.x12_errors import X12Error
from engine.intake.x12_reader import read_x12
from engine.intake.x12_writer import functional_ack
from engine.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Expected:
    lines: tuple[int, ...] = ()  # PO lines per accepted 850, in file order
    not_orders: tuple[str, ...] = ()  # ids of well-formed sets that are not 850s
    rejected: tuple[str, ...] = ()  # error codes of refused interchanges/groups/sets, in order
    fatal: str = ""  # the whole input refused with this code


NOT_ORDER_810, NOT_ORDER_855, NOT_ORDER_856 = Expected(not_orders=("810",)), Expected(not_orders=("855",)), \
    Expected(not_orders=("856",))
EXPECTED: dict[str, Expected] = {
    "EDI.Net/x12.810a.edi": NOT_ORDER_810,  # tab/space indentation, short ISA fields, BOM
    "EDI.Net/x12.850.edi": Expected(rejected=("edi.control_number",)),  # IEA02 000000001 vs ISA13 000000055
    # ISA16 missing; set 1 has a DTM without terminator, set 2 reuses ST02 0001 (21 PO1 in all)
    "EDI.Net/x12.850.issue135.edi": Expected(rejected=("edi.syntax", "edi.duplicate")),
    "EDI.Net/x12.850a.edi": Expected(rejected=("edi.control_number",)),  # 3 PO1, but IEA02 != ISA13
    "X12Parser/_810/2011110815164104.txt": NOT_ORDER_810,
    "X12Parser/_810/Example1_CaliforniaISO.txt": NOT_ORDER_810,
    "X12Parser/_810/Example2_ManualBilling.txt": NOT_ORDER_810,
    "X12Parser/_810/Example3_MultiInvoice.txt": Expected(not_orders=("810", "810")),  # ISA11 '^', 00403
    "X12Parser/_810/Example4_Adobe.txt": NOT_ORDER_810,  # CR terminator, ISA12 00040
    "X12Parser/_810/Example5_Walmart.txt": NOT_ORDER_810,
    "X12Parser/_850/Example1_PGWGlass.txt": Expected(lines=(4,)),  # '|' terminator, '~' component
    "X12Parser/_850/Example2_Adobe_TLP.txt": Expected(lines=(1,)),  # '~' element separator, CR terminator
    "X12Parser/_850/Example3_Adobe_CLP.txt": Expected(lines=(2,)),  # '*' terminator, ISA 00300 / GS 004010
    "X12Parser/_850/Example4_Adobe_ShrinkWrapped.txt": Expected(lines=(1,)),  # space terminator + CRLF
    "X12Parser/_850/From_aojuk.txt": Expected(lines=(2,)),
    "X12Parser/_855/855SSimmons.txt": Expected(not_orders=("855", "855")),
    "X12Parser/_855/Example1_Adobe.txt": NOT_ORDER_855,
    "X12Parser/_856/Example1.txt": NOT_ORDER_856,  # '`' component, '*' terminator
    "X12Parser/_856/Example2.txt": NOT_ORDER_856,
    "X12Parser/_856/Example3.txt": NOT_ORDER_856,  # U+2026 terminator
    "X12Parser/_856/Example4.txt": NOT_ORDER_856,
    "X12Parser/_856/FromGregarican.txt": NOT_ORDER_856,
    "X12Parser/_856/edi1Source.txt": NOT_ORDER_856,  # ISA11 '-' repetition separator
    "node-x12/850.edi": Expected(lines=(6,)),
    "node-x12/850_2.edi": Expected(lines=(6,)),  # newline-only terminators
    "node-x12/850_3.edi": Expected(lines=(1,)),  # empty PO101, CTT01 000001
    "node-x12/850_fat.edi": Expected(lines=(6,), rejected=("edi.duplicate",)),  # same interchange twice
    "node-x12/855.edi": NOT_ORDER_855,
    "node-x12/856.edi": NOT_ORDER_856,
    "stupidedi/002001/SH856/fail/1.edi": Expected(rejected=("edi.unsupported_version",)),  # ISA12 00200
    "stupidedi/003010/PO850/fail/1.edi": Expected(rejected=("edi.unsupported_version",)),  # 00200; CTT 1 vs 2 PO1
    "stupidedi/003050/PO850/fail/1.edi": Expected(fatal="edi.envelope"),  # ISA split across lines
    "stupidedi/004010/IN810/ghx_sample.810": Expected(rejected=("edi.count",)),  # SE01 47, 46 segments
    "stupidedi/004010/IN810/pass/1.edi": NOT_ORDER_810,  # '|' element separator
    "stupidedi/004010/PO850/pass/1.edi": Expected(lines=(1,)),  # empty PO101
    "stupidedi/004010/PR855/fail/2.edi": Expected(fatal="edi.envelope"),  # ISA split, newline terminators
    "stupidedi/004010/PR855/pass/1.edi": NOT_ORDER_855,
    "stupidedi/004010/SH856/fail/2.edi": Expected(rejected=("edi.syntax",)),  # '$' terminator, N1~ + blank lines
    "stupidedi/004010/X348 SC810 Aerospace Industry Invoice/pass/basic-invoice.edi": NOT_ORDER_810,
    "stupidedi/004010/X357 SC850 Aerospace Industry Purchase Order/pass/basic-po.edi": Expected(lines=(1,)),
    "stupidedi/004010/X357 SC850 Aerospace Industry Purchase Order/pass/taxexempt-po.edi": Expected(lines=(1,)),
    **{f"stupidedi/004010/X358 SC855 Aerospace Industry Purchase Order Acknowledgment/pass/{name}.edi":
       NOT_ORDER_855 for name in ("basic-po-ack-accepted", "basic-po-ack-rejected", "po-ack-minor-changes",
                                  "po-ack-ship-details")},
}


def corpus_dir() -> Path | None:
    base = Settings().realworld_dir  # ORDERLOOM_REALWORLD_DIR, default ../shared/realworld (from the repo root)
    path = (base if base.is_absolute() else REPO_ROOT / base) / "x12"
    return path if path.is_dir() else None


def _require_corpus() -> Path:
    path = corpus_dir()
    if path is None:
        if os.environ.get("ORDERLOOM_REQUIRE_REALWORLD", "") == "1":
            pytest.fail("the real-world X12 corpus is required (ORDERLOOM_REQUIRE_REALWORLD=1) but is missing")
        pytest.skip("real-world X12 corpus not found")
    return path


def test_every_corpus_file_has_an_expectation() -> None:
    root = _require_corpus()
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_parses_or_is_refused_precisely(name: str) -> None:
    path = _require_corpus() / name
    expected = EXPECTED[name]
    data = path.read_bytes()
    if expected.fatal:
        with pytest.raises(X12Error) as caught:
            read_purchase_orders(data)
        assert caught.value.code == expected.fatal
        assert caught.value.segment_id and caught.value.segment_index >= 0
        return
    result = read_purchase_orders(data)
    assert tuple(len(order.lines) for order in result.orders) == expected.lines
    assert tuple(r.set_id for r in result.not_orders) == expected.not_orders
    assert all(r.error.code == "edi.not_an_order" for r in result.not_orders)
    assert tuple(r.error.code for r in result.rejections) == expected.rejected
    for rejection in result.rejections:
        assert rejection.error.segment_id and rejection.error.segment_index >= 0 and rejection.error.reason
    for order in result.orders:
        assert order.po_number and order.sources["po_number"] >= 0
        assert all(line.quantity > 0 and line.unit for line in order.lines)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if not e.fatal))
def test_corpus_file_gets_a_997_that_reads_back(name: str) -> None:
    result = read_purchase_orders((_require_corpus() / name).read_bytes())
    acks = functional_ack(result.document, control_number=1, when=datetime(2026, 11, 26, 12, 0),
                          extra_rejections=result.rejections)
    for ack in acks:
        doc = read_x12(ack)
        assert not doc.rejections
        assert [ts.set_id for ts in doc.transaction_sets()] == ["997"] * len(
            next(ic for ic in result.document.interchanges if ic.error is None).groups)
