"""Reservation throughput and latency on SQLite and PostgreSQL, with an oversell check.

    python -m evals.perf.reservations --json PATH [--backend all|sqlite|postgres]
        [--attempts 4000] [--scale 1.0] [--repeat 3] [--scenario all|hot|spread] [--workers all|1|8]

Method: every run gets a fresh database of its own (a temporary SQLite file; a throw-away PostgreSQL
database `orderloom_bench_<random>` created through an AUTOCOMMIT connection to --postgres-url and
dropped afterwards). A web channel, one warehouse and N SKUs with their opening stock are set up
through the bus once per (backend, SKUs, stock) in a template database migrated with
`engine.adapters.migrate.upgrade`; each run's database is a copy of it (file copy for SQLite,
`CREATE DATABASE ... TEMPLATE` for PostgreSQL), so setting up 1,000 SKUs is paid once, not per run.
Then W worker processes (spawned, each calling `bootstrap(..., deliver_events=False)` itself) connect
and warm up with one hold on a SKU outside the catalog (it runs every statement of the path and is
refused, so it changes nothing), wait at a gate and, once it opens, send single-unit
`PlaceCheckoutHold` commands (24 h TTL) through the real path: bus → unit of work → reservation row →
outbox event → conditional UPDATE → commit. The attempts of a scenario (--attempts, default 4,000)
are shared evenly by its workers.

Throughput is successful reservations per second of wall time from the gate to the last successful
reservation (on a hot SKU, once the stock is gone nothing more can be reserved and the refusals that
follow are not reservations); commands/s counts every command, refusals included, from the gate to
the last worker's finish; latency is per command, successes and refusals alike (p50/p99 over all
workers' commands).

The hot-SKU scenarios stock 3/4 of the attempts so the last quarter races for nothing; the spread
scenarios stock 2 x attempts / SKUs + 2 units of each SKU, so nothing should be refused. After every
run the main process checks, per SKU, `reserved <= on_hand` (an excess is an oversell), that
successes never exceed the stock, that the units reserved equal the successes (a success that
reserved nothing or a refusal that did counts as an oversell too), and that `ReconcileInventory`
finds no drift between the balances, the ledger and the live reservations. Any error other than
`inventory.insufficient` fails the scenario.

Scenarios with a target run three times (--repeat) on fresh databases and the fastest run counts (a
shared 2-core machine stalls now and then); every run's rate is printed and kept in the JSON, and
every run must pass the oversell, error and drift checks.

Targets (exit code 1 when one is missed): SQLite >= 1,500 reservations/s with one worker over 1,000
SKUs; PostgreSQL >= 500/s on one hot SKU with 8 workers; no oversell anywhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, text

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
    sample_errors: tuple[str, ...] = ()


class Database:
    """A fresh database: migrated and empty, or a copy of a `template` (closed, nobody connected)."""

    def __init__(self, backend: str, postgres_url: str, workdir: Path, template: Database | None = None) -> None:
        self.backend = backend
        self.admin_url = postgres_url
        self.name = f"orderloom_bench_{uuid.uuid4().hex[:10]}"
        self.path = workdir / f"{self.name}.db"
        if backend == "sqlite":
            self.url = f"sqlite:///{self.path}"
            if template is not None:
                # The template's engine is disposed, so its WAL is normally checkpointed and gone; a
                # leftover WAL is copied with it (a closed file pair is a consistent snapshot).
                for suffix in ("", "-wal"):
                    source = Path(f"{template.path}{suffix}")
                    if source.exists():
                        shutil.copyfile(source, f"{self.path}{suffix}")
        else:
            copy = f' TEMPLATE "{template.name}"' if template is not None else ""
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"{copy}'))
            self.url = f"{postgres_url.rsplit('/', 1)[0]}/{self.name}"
        if template is None:
            engine = create_db_engine(self.url)
            upgrade(engine)
            engine.dispose()

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        engine = create_db_engine(self.admin_url)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.backend == "postgres":
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def seeded(templates: dict[tuple[str, int, int], Database], backend: str, skus: int, per_sku: int,
           postgres_url: str, workdir: Path) -> Database:
    """The template for (backend, SKUs, stock per SKU): migrated, then set up through the bus, once."""
    key = (backend, skus, per_sku)
    if key not in templates:
        db = Database(backend, postgres_url, workdir)
        try:
            app = bootstrap(database_url=db.url, migrate=False, deliver_events=False)
            try:
                build_network(app, skus=skus, nodes=1, units=per_sku)
            finally:
                app.close()
        except BaseException:
            db.drop()
            raise
        templates[key] = db
    return templates[key]


def run_scenario(backend: str, scenario: str, workers: int, attempts: int, postgres_url: str, workdir: Path,
                 templates: dict[tuple[str, int, int], Database]) -> Row:
    skus = 1 if scenario == "hot" else 1_000
    per_worker = attempts // workers
    attempts = per_worker * workers
    # Hot: stock for 3/4 of the attempts, so the rest must be refused. Spread: enough for everyone.
    per_sku = attempts * 3 // 4 if scenario == "hot" else max(1, 2 * attempts // skus + 2)
    db = Database(backend, postgres_url, workdir, seeded(templates, backend, skus, per_sku, postgres_url, workdir))
    try:
        app = bootstrap(database_url=db.url, migrate=False, deliver_events=False)
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
    attempt_rate = attempts / max(ended - started, 1e-9)
    return Row(
        backend,
        scenario,
        skus,
        workers,
        attempts,
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
        sample_errors=tuple(err for r in results for err in r.errors)[:3],
    )


def best_of(repeat: int, backend: str, scenario: str, workers: int, attempts: int, postgres_url: str,
            workdir: Path, templates: dict[tuple[str, int, int], Database]) -> Row:
    """Run a scenario with a target `repeat` times (fresh database each) and keep the fastest run.

    A shared 2-core machine stalls now and then; the best of a few runs measures the code, not the
    neighbours. Every run must be free of oversells, errors and drift, or the scenario fails.
    """
    times = repeat if TARGETS.get((backend, scenario, workers)) else 1
    runs = [run_scenario(backend, scenario, workers, attempts, postgres_url, workdir, templates)
            for _ in range(max(1, times))]
    best = max(runs, key=lambda r: r.reservations_per_s)
    clean = all(r.oversells == 0 and r.errors == 0 and r.drift == 0 for r in runs)
    best.passed = best.passed and clean
    best.oversells = sum(r.oversells for r in runs)
    best.errors = sum(r.errors for r in runs)
    best.drift = sum(r.drift for r in runs)
    best.sample_errors = tuple(err for r in runs for err in r.sample_errors)[:3]
    best.runs = len(runs)
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
    parser.add_argument("--attempts", type=int, default=4_000,
                        help="attempts per scenario, shared by its workers (default 4,000)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of attempts")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each scenario that has a target; the fastest counts (default 3)")
    parser.add_argument("--scenario", choices=["all", "hot", "spread"], default="all")
    parser.add_argument("--workers", choices=["all", "1", "8"], default="all")
    args = parser.parse_args(argv)
    if int(args.attempts * args.scale) < 8:
        parser.error("--attempts x --scale must give every worker at least one attempt (8 or more)")
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    # Wide enough for the table when the output is a file or a CI log rather than a terminal.
    console = Console(width=None if sys.stdout.isatty() else 200)
    rows: list[Row] = []
    attempts = int(args.attempts * args.scale)
    templates: dict[tuple[str, int, int], Database] = {}
    with tempfile.TemporaryDirectory(prefix="orderloom-bench-") as tmp:
        try:
            for backend in backends:
                for scenario in ("hot", "spread") if args.scenario == "all" else (args.scenario,):
                    for workers in (1, 8) if args.workers == "all" else (int(args.workers),):
                        console.print(f"[dim]{backend} {scenario} x{workers}: {attempts} attempts…[/dim]")
                        rows.append(best_of(args.repeat, backend, scenario, workers, attempts,
                                            args.postgres_url, Path(tmp), templates))
        finally:
            for db in templates.values():
                db.drop()
    table = Table(title="Reservations: checkout holds through the bus (1 unit each)")
    for col in (
        "scenario",
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
        table.add_column(col, justify="left" if col in ("scenario", "backend", "result") else "right")
    for r in rows:
        table.add_row(
            r.scenario,
            r.backend,
            f"{r.skus:,}",
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
    for r in rows:
        for err in r.sample_errors:
            console.print(f"[red]{r.backend} {r.scenario} x{r.workers}: {err}[/red]")
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
