"""X12 850 parsing throughput: PO lines per second on one core.

    python -m evals.perf.edi [--lines 20000] [--lines-per-set 50] [--repeat 3] [--json PATH]

Method: a synthetic file of one interchange with several groups of 850 sets (realistic header: BEG,
CUR, REF, PER, DTM, N1/N3/N4 ship-to and bill-to; each line PO1 with three product ids, PID, PO4 and a
DTM; CTT), CRLF after every '~'. `read_purchase_orders` reads the bytes, checks every envelope and
count, and maps each 850 to a `PurchaseOrder`; the whole call is timed, in this one process (one core).
Repeated --repeat times; the best run counts (a shared machine stalls now and then).

Target (exit code 1 when missed): at least 2,000 PO lines per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.intake.x12_850 import read_purchase_orders

TARGET_LINES_PER_S = 2000.0
SETS_PER_GROUP = 50


def synthetic_850_file(lines: int, lines_per_set: int) -> bytes:
    """One interchange, groups of up to 50 sets, `lines` PO1 lines in all, with valid counts."""
    segments = ["ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *261126*1200*U*00401"
                "*000000001*0*P*>"]
    set_count = -(-lines // lines_per_set)
    groups = [range(g, min(g + SETS_PER_GROUP, set_count)) for g in range(0, set_count, SETS_PER_GROUP)]
    for group_no, group in enumerate(groups, start=1):
        segments.append(f"GS*PO*BUYER*SELLER*20261126*1200*{group_no}*X*004010")
        for set_no in group:
            n = min(lines_per_set, lines - set_no * lines_per_set)
            body = [f"ST*850*{set_no + 1:04d}", f"BEG*00*SA*PO{set_no:06d}**20261126", "CUR*BY*USD",
                    "REF*DP*038", "PER*BD*Jane Buyer*TE*5551234567", "DTM*002*20261210",
                    "N1*ST*Main DC*92*0001", "N3*100 Dock Road*Suite 5", "N4*Austin*TX*78701*US",
                    "N1*BT*Head Office*92*HQ", "N3*1 Main St", "N4*Dallas*TX*75201*US"]
            for i in range(1, n + 1):
                body += [f"PO1*{i}*{i % 7 + 1}*EA*{i % 90 + 1}.25**BP*B{i:05d}*VP*V{i:05d}*UP*0123456{i:05d}",
                         f"PID*F****Widget number {i}", "PO4*12*1*EA", "DTM*002*20261215"]
            body.append(f"CTT*{n}")
            body.append(f"SE*{len(body) + 1}*{set_no + 1:04d}")
            segments += body
        segments.append(f"GE*{len(group)}*{group_no}")
    segments.append(f"IEA*{len(groups)}*000000001")
    return ("~\r\n".join(segments) + "~\r\n").encode()


@dataclass
class Result:
    lines: int
    sets: int
    megabytes: float
    best_seconds: float
    lines_per_second: float
    runs_seconds: tuple[float, ...]
    passed: bool


def run(lines: int, lines_per_set: int, repeat: int) -> Result:
    data = synthetic_850_file(lines, lines_per_set)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = read_purchase_orders(data)
        times.append(time.perf_counter() - started)
        parsed = sum(len(order.lines) for order in result.orders)
        if parsed != lines or result.rejections:
            raise SystemExit(f"parsed {parsed} of {lines} lines; rejections: {result.rejections[:3]}")
    best = min(times)
    rate = lines / best
    return Result(lines, len(result.orders), round(len(data) / 1e6, 2), round(best, 4), round(rate),
                  tuple(round(t, 4) for t in times), rate >= TARGET_LINES_PER_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=20_000, help="PO1 lines in the synthetic file")
    parser.add_argument("--lines-per-set", type=int, default=50, help="PO1 lines per 850 set")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    with console.status("building the synthetic 850 file and parsing it"):
        result = run(args.lines, args.lines_per_set, args.repeat)
    table = Table(title="X12 850 parsing, one core (read, envelope checks, 850 mapping)", title_justify="left")
    for col in ("PO lines", "850 sets", "MB", "best s", "each run s", "lines/s", "target", "result"):
        table.add_column(col, justify="right")
    table.add_row(f"{result.lines:,}", f"{result.sets:,}", f"{result.megabytes}", f"{result.best_seconds}",
                  ", ".join(map(str, result.runs_seconds)), f"{result.lines_per_second:,.0f}",
                  f">= {TARGET_LINES_PER_S:,.0f}", "[green]pass" if result.passed else "[red]FAIL")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
