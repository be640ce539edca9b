"""Load generators shared by the reservation benchmark and the concurrency tests.

Each worker runs in its own process (spawn), builds its own engine, waits at a start gate so that
all workers really race, then sends commands through the real bus and reports what happened.
"""

from __future__ import annotations

import queue
import random
import time
from dataclasses import dataclass, field
from datetime import time as clock_time
from decimal import Decimal
from multiprocessing.synchronize import Event
from typing import Any

from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.channels import ChannelKind
from engine.domain.errors import OrderloomError, UnknownSku
from engine.domain.network import NodeType

ADDRESS = {"name": "Load Test", "line1": "1 Bench St", "city": "Reno", "state": "NV", "postal_code": "89501",
           "country": "US"}


@dataclass
class WorkerResult:
    successes: int = 0
    refusals: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    last_success: float = 0.0


def sku_code(i: int) -> str:
    return f"LOAD-{i:05d}"


def node_code(i: int) -> str:
    return f"NODE-{i:02d}"


def build_network(app: App, *, skus: int, nodes: int, units: int | list[list[int]]) -> None:
    """A channel, `nodes` warehouses and `skus` SKUs; `units` per SKU x node (or a matrix)."""
    bus = app.bus
    bus.handle(c.UpsertChannel(code="web", name="Web store", kind=ChannelKind.WEB))
    for n in range(nodes):
        bus.handle(c.UpsertNode(code=node_code(n), name=f"Warehouse {n}", node_type=NodeType.WAREHOUSE,
                                city="Reno", state="NV", postal_code="89502", latitude=39.5, longitude=-119.8,
                                timezone="America/Los_Angeles", daily_pick_capacity=100_000,
                                cutoff_local=clock_time(15)))
    for s in range(skus):
        bus.handle(c.UpsertSku(sku=sku_code(s), name=f"Load item {s}", category="load",
                               unit_price=Decimal("10.00"), weight_kg=Decimal("1.0")))
        for n in range(nodes):
            qty = units if isinstance(units, int) else units[s][n]
            if qty:
                bus.handle(c.ReceiveStock(sku=sku_code(s), node=node_code(n), quantity=qty, reference="opening"))


def warm_up(app: App) -> str | None:
    """Connect, and compile every statement of the hold path, before the gate opens.

    A hold on a SKU that is not in the catalog runs the whole path (channel, rows, event, cap,
    conditional update, the shortage diagnosis) and is refused, so its transaction changes nothing.
    Returns what went wrong if it was anything else.
    """
    try:
        app.bus.handle(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine("WARM-UP-NOT-STOCKED", node_code(0), 1),),
                                           ttl_seconds=60))
    except OrderloomError as exc:
        return None if exc.code == UnknownSku.code else f"warm-up: {exc.code}: {exc.message}"
    except Exception as exc:
        return f"warm-up: {type(exc).__name__}: {exc}"
    return "warm-up: a hold on a SKU outside the catalog was accepted"


def hold_worker(url: str, worker: int, attempts: int, skus: int, ready: Any, start: Event, out: Any) -> None:
    """Single-unit checkout holds, one SKU chosen per attempt (round robin from a worker offset)."""
    app = bootstrap(database_url=url, migrate=False, deliver_events=False, pool_size=1)
    result = WorkerResult()
    if (problem := warm_up(app)) is not None:
        result.errors.append(problem)
    ready.put(worker)
    start.wait()
    result.started = time.perf_counter()
    for i in range(attempts):
        sku = sku_code((worker * 7919 + i) % skus)
        t0 = time.perf_counter()
        try:
            app.bus.handle(c.PlaceCheckoutHold(channel="web", lines=(c.HoldLine(sku, node_code(0), 1),),
                                               ttl_seconds=86_400))
            result.successes += 1
            result.last_success = time.perf_counter()
        except OrderloomError as exc:
            if exc.code == "inventory.insufficient":
                result.refusals += 1
            else:
                result.errors.append(f"{exc.code}: {exc.message}")
        except Exception as exc:  # anything else is a failure the caller reports
            result.errors.append(f"{type(exc).__name__}: {exc}")
        result.latencies_ms.append((time.perf_counter() - t0) * 1000)
    result.finished = time.perf_counter()
    app.close()
    out.put(result)


def order_worker(url: str, worker: int, orders: int, skus: int, nodes: int, ready: Any, start: Event,
                 out: Any) -> None:
    """Multi-line orders (2-5 lines over random SKUs and nodes), placed then allocated."""
    app = bootstrap(database_url=url, migrate=False, deliver_events=False, pool_size=1)
    rng = random.Random(worker)
    result = WorkerResult()
    ready.put(worker)
    start.wait()
    result.started = time.perf_counter()
    for i in range(orders):
        picked = rng.sample(range(skus), rng.randint(2, 5))
        lines = tuple(c.NewOrderLine(sku_code(s), rng.randint(1, 3)) for s in picked)
        plan = tuple(c.LineAllocation(n + 1, node_code(rng.randrange(nodes)), line.quantity)
                     for n, line in enumerate(lines))
        t0 = time.perf_counter()
        try:
            placed = app.bus.handle(c.PlaceOrder(channel="web", external_id=f"W{worker}-{i}", lines=lines,
                                                 ship_to=ADDRESS))
            result.order_ids.append(placed["order_id"])
            app.bus.handle(c.AllocateOrder(order_id=placed["order_id"], allocations=plan))
            result.successes += 1
        except OrderloomError as exc:
            if exc.code == "inventory.insufficient":
                result.refusals += 1
            else:
                result.errors.append(f"{exc.code}: {exc.message}")
        except Exception as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
        result.latencies_ms.append((time.perf_counter() - t0) * 1000)
    result.finished = time.perf_counter()
    app.close()
    out.put(result)


def run_workers(target: Any, args_for: list[tuple[Any, ...]], timeout_s: float = 600) -> list[WorkerResult]:
    """Start one spawned process per args tuple, open the gate when all are ready, collect results."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, out, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args[:1], i, *args[1:], ready, start, out))
             for i, args in enumerate(args_for)]
    deadline = time.monotonic() + timeout_s

    def receive(q: Any) -> Any:
        # Poll, so that a worker that died (and will never report) fails the run now, not at the deadline.
        while True:
            try:
                return q.get(timeout=0.5)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a worker process died (exit code {dead[0]})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"workers did not finish within {timeout_s:.0f} s") from None

    try:
        for p in procs:
            p.start()
        for _ in procs:
            receive(ready)
        start.set()
        results = [receive(out) for _ in procs]
    except BaseException:
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise
    finally:
        for p in procs:
            if p.pid is not None:
                p.join(timeout=30)
    return results


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
