"""Reservation throughput and latency on SQLite and PostgreSQL, with an oversell check.

    python -m evals.perf.reservations --json PATH [--backend all|sqlite|postgres] [--scale 1.0]

Method: every scenario gets a fresh, migrated database (a temporary SQLite file; a throw-away
PostgreSQL database created on the server given by --postgres-url and dropped afterwards). A web
channel, one warehouse and N SKUs are set up through the bus. Then W worker processes (spawned, each
with its own engine) wait at a gate and, once it opens, send single-unit `PlaceCheckoutHold`
commands through the real path: bus → unit of work → conditional UPDATE → reservation row → outbox
event → commit. Throughput is successful reservations per second of wall time from the gate to the
last successful reservation (on a hot SKU, once the stock is gone nothing more can be reserved and
the refusals that follow are not reservations); commands/s counts every command, refusals included,
from the gate to the last worker's finish; latency is per command, successes and refusals alike.

The hot-SKU scenarios stock 3/4 of the attempts so the last quarter races for nothing: the check
afterwards requires successes == reserved == stock, `0 <= reserved <= on_hand` everywhere and no
drift from the ledger. An oversell is any unit reserved beyond stock or any success beyond it.

Scenarios with a target run three times (--repeat) on fresh databases and the fastest run counts; the
JSON keeps every run's rate.

Targets (exit code 1 when one is missed): SQLite >= 1,500 reservations/s with one worker over 1,000
SKUs; PostgreSQL >= 500/s on one hot SKU with 8 workers; no oversell anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from engine.adapters.database import create_db_engine
from engine.adapters.migrate import upgrade
from engine.bootstrap import bootstrap
from engine.domain import commands as c
from evals.perf.load import build_network, hold_worker, node_code, percentile, run_workers, sku_code

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {("sqlite", "spread", 1): 1_500.0, ("postgres", "hot", 8): 500.0}


@dataclass
class Row:
    backend: str
    scenario: str
    skus: int
    workers: int
    attempts: int
    successes: int
    stock: int
    reservations_per_s: float
    attempts_per_s: float
    p50_ms: float
    p99_ms: float
    oversells: int
    errors: int
    drift: int
    target_per_s: float | None
    passed: bool
    runs: int = 1
    rates_per_s: tuple[float, ...] = ()


class Database:
    """A fresh, migrated database for one scenario."""

    def __init__(self, backend: str, postgres_url: str, workdir: Path) -> None:
        self.backend = backend
        self.admin_url = postgres_url
        self.name = f"orderloom_bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir / (self.name + '.db')}"
        else:
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = f"{postgres_url.rsplit('/', 1)[0]}/{self.name}"
        engine = create_db_engine(self.url)
        upgrade(engine)
        engine.dispose()

    def _admin(self):  # type: ignore[no-untyped-def]
        return create_db_engine(self.admin_url).execution_options(isolation_level="AUTOCOMMIT").connect()

    def drop(self) -> None:
        if self.backend == "postgres":
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def run_scenario(backend: str, scenario: str, workers: int, attempts: int, postgres_url: str, workdir: Path) -> Row:
    skus = 1 if scenario == "hot" else 1_000
    # Hot: stock for 3/4 of the attempts, so the rest must be refused. Spread: enough for everyone.
    per_sku = attempts * 3 // 4 if scenario == "hot" else max(1, 2 * attempts // skus + 2)
    db = Database(backend, postgres_url, workdir)
    try:
        app = bootstrap(database_url=db.url, migrate=False, deliver_events=False)
        build_network(app, skus=skus, nodes=1, units=per_sku)
        per_worker = attempts // workers
        results = run_workers(hold_worker, [(db.url, per_worker, skus)] * workers)
        started = min(r.started for r in results)
        finished = max(r.last_success for r in results)
        ended = max(r.finished for r in results)
        successes = sum(r.successes for r in results)
        latencies = [x for r in results for x in r.latencies_ms]
        oversells = 0
        with app.uow(readonly=True) as uow:
            reserved_total = 0
            for s in range(skus):
                balance = uow.inventory.get_balance(sku_code(s), node_code(0))
                assert balance is not None
                oversells += max(0, balance.reserved - balance.on_hand)
                reserved_total += balance.reserved
        oversells += max(0, successes - per_sku * skus)
        oversells += abs(reserved_total - successes)  # a success that reserved nothing, or the reverse
        drift = len(app.bus.handle(c.ReconcileInventory())["drift"])
        app.close()
    finally:
        db.drop()
    elapsed = max(finished - started, 1e-9)
    rate = successes / elapsed
    target = TARGETS.get((backend, scenario, workers))
    errors = sum(len(r.errors) for r in results)
    passed = oversells == 0 and errors == 0 and drift == 0 and (target is None or rate >= target)
    attempt_rate = per_worker * workers / max(ended - started, 1e-9)
    return Row(
        backend,
        scenario,
        skus,
        workers,
        per_worker * workers,
        successes,
        per_sku * skus,
        round(rate, 1),
        round(attempt_rate, 1),
        round(percentile(latencies, 50), 2),
        round(percentile(latencies, 99), 2),
        oversells,
        errors,
        drift,
        target,
        passed,
    )


def best_of(repeat: int, backend: str, scenario: str, workers: int, attempts: int, postgres_url: str,
            workdir: Path) -> Row:
    """Run a scenario with a target `repeat` times (fresh database each) and keep the fastest run.

    A shared 2-core machine stalls now and then; the best of a few runs measures the code, not the
    neighbours. Every run must be free of oversells, errors and drift, or the scenario fails.
    """
    times = repeat if TARGETS.get((backend, scenario, workers)) else 1
    runs = [run_scenario(backend, scenario, workers, attempts, postgres_url, workdir) for _ in range(times)]
    best = max(runs, key=lambda r: r.reservations_per_s)
    clean = all(r.oversells == 0 and r.errors == 0 and r.drift == 0 for r in runs)
    best.passed = best.passed and clean
    best.oversells = sum(r.oversells for r in runs)
    best.runs = times
    best.rates_per_s = tuple(r.reservations_per_s for r in runs)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="server on which a throw-away database is created (needs CREATEDB)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of attempts")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each scenario that has a target; the fastest counts (default 3)")
    parser.add_argument("--scenario", choices=["all", "hot", "spread"], default="all")
    parser.add_argument("--workers", choices=["all", "1", "8"], default="all")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    # Wide enough for the table when the output is a file or a CI log rather than a terminal.
    console = Console(width=None if sys.stdout.isatty() else 170)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="orderloom-bench-") as tmp:
        for backend in backends:
            for scenario in ("hot", "spread") if args.scenario == "all" else (args.scenario,):
                for workers in (1, 8) if args.workers == "all" else (int(args.workers),):
                    attempts = int((4_000 if workers == 1 else 4_800) * args.scale)
                    console.print(f"[dim]{backend} {scenario} x{workers}: {attempts} attempts…[/dim]")
                    rows.append(best_of(args.repeat, backend, scenario, workers, attempts, args.postgres_url,
                                        Path(tmp)))
    table = Table(title="Reservations: checkout holds through the bus (1 unit each)")
    for col in (
        "backend",
        "SKUs",
        "workers",
        "attempts",
        "reserved",
        "stock",
        "reservations/s",
        "commands/s",
        "p50 ms",
        "p99 ms",
        "oversells",
        "errors",
        "drift",
        "target",
        "runs",
        "result",
    ):
        table.add_column(col, justify="left" if col in ("backend", "result") else "right")
    for r in rows:
        table.add_row(
            r.backend,
            f"{r.skus:,} ({r.scenario})",
            str(r.workers),
            f"{r.attempts:,}",
            f"{r.successes:,}",
            f"{r.stock:,}",
            f"{r.reservations_per_s:,.0f}",
            f"{r.attempts_per_s:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            str(r.oversells),
            str(r.errors),
            str(r.drift),
            f">= {r.target_per_s:,.0f}/s" if r.target_per_s else "",
            " / ".join(f"{x:,.0f}" for x in r.rates_per_s) if r.runs > 1 else "1",
            "[green]pass[/green]" if r.passed else "[red]FAIL[/red]",
        )
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
        console.print(f"wrote {args.json}")
    failed = [r for r in rows if not r.passed]
    if failed:
        console.print(f"[red]{len(failed)} scenario(s) missed a target or oversold[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
