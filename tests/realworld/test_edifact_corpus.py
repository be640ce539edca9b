"""Every EDIFACT sample in the shared corpus parses to hand-counted numbers, or is rejected with a stable code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.intake.edifact import EdifactError, parse_interchange
from engine.intake.edifact_orders import map_orders

_DEFAULT = Path(__file__).resolve().parents[2] / ".." / "shared" / "realworld"
ROOT = Path(os.environ.get("ORDERLOOM_REALWORLD_DIR", _DEFAULT))
CORPUS = ROOT / "edifact"

# file: (messages, ORDERS, lines per ORDERS, warning count) or the error code and segment tag; counted by reading.
EXPECTED: dict[str, tuple[int, int, list[int], int] | tuple[str, str]] = {
    "pydifact/order.edi": (1, 1, [2], 1),  # decimal comma UNA, no UNZ
    "pydifact/order2.edi": (1, 1, [1], 1),  # no UNA, no UNZ
    "pydifact/wikipedia_de.edi": ("edifact.envelope", "UNZ"),  # UNB05 is '1', UNZ02 '1234567'
    "EDI.Net/edifact.ORDRSP.edi": ("edifact.envelope", "UNZ"),  # UNZ02 DAREFNR00001 vs UNB05 DAREFNR0000001
}


def _files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file())


def test_corpus_is_present_when_required() -> None:
    if not CORPUS.is_dir():
        if os.environ.get("ORDERLOOM_REQUIRE_REALWORLD") == "1":
            pytest.fail(f"EDIFACT corpus missing at {CORPUS}")
        pytest.skip("EDIFACT corpus not present")
    assert set(_files()) == set(EXPECTED), "every corpus file needs a hand-counted row"


@pytest.mark.parametrize("name", _files() or ["<no corpus>"])
def test_corpus_file_parses_to_its_counted_numbers(name: str) -> None:
    if name == "<no corpus>":
        if os.environ.get("ORDERLOOM_REQUIRE_REALWORLD") == "1":
            pytest.fail("EDIFACT corpus missing")
        pytest.skip("EDIFACT corpus not present")
    expected = EXPECTED[name]
    data = (CORPUS / name).read_bytes()
    if len(expected) == 2:
        with pytest.raises(EdifactError) as info:
            parse_interchange(data)
        assert (info.value.code, info.value.tag) == expected
        return
    messages, orders, lines, warnings = expected
    ic = parse_interchange(data)
    assert len(ic.messages) == messages
    drafts = [map_orders(m) for m in ic.messages if m.is_orders]
    assert len(drafts) == orders
    assert [len(d.lines) for d in drafts] == lines
    assert len(ic.warnings) == warnings
