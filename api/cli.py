"""The `orderloom` command line: database, demo data, inventory, holds, reconciliation and orders.

Every change goes through the message bus as a command; reads go through engine/services/views.
Engine errors print their code and each problem (field, message, fix) and exit with status 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError

from engine.adapters import migrate
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain import errors as e
from engine.services import views
from engine.services.demo import seed_demo
from engine.settings import Settings

EXIT_DRIFT = 1
EXIT_ERROR = 2
INTEGER = re.compile(r"^[+-]?[0-9]{1,12}$")

app = typer.Typer(help="Orderloom: order management with inventory truth.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Demo data.", no_args_is_help=True)
inventory_app = typer.Typer(help="Stock: available to promise, balances, the ledger, movements.",
                            no_args_is_help=True)
holds_app = typer.Typer(help="Checkout holds.", no_args_is_help=True)
orders_app = typer.Typer(help="Orders.", no_args_is_help=True)
intake_app = typer.Typer(help="Order intake: read emails and EDI into order drafts.", no_args_is_help=True)
routing_app = typer.Typer(help="Routing: policies, re-optimisation, shadow comparison with the baselines.",
                          no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(inventory_app, name="inventory")
app.add_typer(holds_app, name="holds")
app.add_typer(orders_app, name="orders")
app.add_typer(routing_app, name="routing")
app.add_typer(intake_app, name="intake")
exceptions_app = typer.Typer(help="The exception queue: cases, decisions, the resolution policy, milestone sweeps.",
                             no_args_is_help=True)
app.add_typer(exceptions_app, name="exceptions")
returns_app = typer.Typer(help="Returns: ask, decide, receive, grade, and return rates.", no_args_is_help=True)
app.add_typer(returns_app, name="returns")
ops_app = typer.Typer(help="The ops assistant: ask about the queue, orders and routing; decide its proposals.",
                      no_args_is_help=True)
app.add_typer(ops_app, name="ops")

# Negative numbers (`adjust SKU NODE -3`) must reach the command as arguments, not options.
SIGNED = {"ignore_unknown_options": True}

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=views.MAX_LIMIT, help="rows to show")]


@dataclass
class State:
    database_url: str | None = None


@app.callback()
def _global(ctx: typer.Context, database_url: Annotated[str | None, typer.Option(
        "--database-url", metavar="URL",
        help="sqlite:///PATH or postgresql://...; default: ORDERLOOM_DATABASE_URL or sqlite:///orderloom.db",
)] = None) -> None:
    ctx.obj = State(database_url)


# -- output ----------------------------------------------------------------------------------------

def _out() -> Console:
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def clean(value: object) -> str:
    """Text from users or the database, made safe for a terminal: control characters shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(value))


def _t(value: object, style: str = "") -> Text:
    return Text(clean(value), style=style)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _fail(headline: Text, lines: list[Text] | None = None) -> typer.Exit:
    console = _err()
    console.print(headline)
    for line in lines or []:
        console.print(line)
    return typer.Exit(EXIT_ERROR)


def _report_error(err: e.OrderloomError) -> typer.Exit:
    lines: list[Text] = []
    for p in err.problems:
        lines.append(Text.assemble("  • ", (clean(p.field), "bold"), ": ", clean(p.message), "  ",
                                   (f"[{clean(p.code)}]", "dim")))
        if p.fix:
            lines.append(Text.assemble("    fix: ", (clean(p.fix), "green")))
    return _fail(Text.assemble(("error ", "bold red"), (clean(err.code), "red"), ": ", clean(err.message)), lines)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


@contextmanager
def _running(ctx: typer.Context, *, migrate_schema: bool | None = None) -> Iterator[App]:
    """Bootstrap the engine for one command; turn user errors into messages and exit status 2."""
    url = ctx.obj.database_url if isinstance(ctx.obj, State) else None
    try:
        settings = Settings(database_url=url) if url else Settings()
    except ValidationError as exc:
        problems = [Text.assemble("  • ", (clean(".".join(map(str, x["loc"])) or "settings"), "bold"), ": ",
                                  clean(x["msg"])) for x in exc.errors()]
        raise _fail(Text.assemble(("error ", "bold red"), ("settings.invalid", "red"),
                                  ": the configuration is not valid"), problems) from None
    application: App | None = None
    try:
        try:
            application = bootstrap(settings, migrate=migrate_schema)
        except (ArgumentError, ValueError) as exc:
            raise _fail(Text.assemble(("error ", "bold red"), ("database.url", "red"), ": ", clean(exc))) from None
        except OSError as exc:
            raise _fail(Text.assemble(("error ", "bold red"), ("database.unavailable", "red"), ": cannot use ",
                                      clean(_safe_url(settings.database_url)), ": ", clean(exc))) from None
        yield application
    except e.OrderloomError as err:
        raise _report_error(err) from None
    except DatabaseError as exc:
        if isinstance(exc, IntegrityError):
            raise
        raise _fail(Text.assemble(("error ", "bold red"), ("database.unavailable", "red"), ": cannot use ",
                                  clean(_safe_url(settings.database_url)), ": ", clean(exc.orig))) from None
    finally:
        if application is not None:
            application.close()


def parse_int(field: str, text: str) -> int:
    """A whole number typed on the command line, or the engine's quantity error."""
    if not INTEGER.match(text.strip()):
        raise e.InvalidQuantity(f"{field} must be a whole number, got {text!r}", problems=[e.Problem(
            e.InvalidQuantity.code, field, f"{field} must be a whole number, got {text!r}",
            "type digits only, e.g. 12 or -3")])
    return int(text)


def _num(value: int) -> Text:
    return Text(f"{value:,}", justify="right")


# -- db --------------------------------------------------------------------------------------------

@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create the database if needed and migrate it to the latest schema."""
    with _running(ctx, migrate_schema=False) as application:
        before = migrate.current_revision(application.engine)
        after = migrate.upgrade(application.engine)
        url = clean(_safe_url(str(application.engine.url)))
        state = "already at" if before == after else f"migrated from {before or 'an empty database'} to"
        _out().print(Text.assemble(("✓ ", "green"), f"{url}: {state} revision ", (str(after), "bold")))


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the latest one."""
    with _running(ctx, migrate_schema=False) as application:
        current = migrate.current_revision(application.engine)
        head = migrate.head_revision()
        status = ("up to date", "green") if current == head else ("behind: run `orderloom db upgrade`", "yellow")
        _out().print(Text.assemble(f"current {current or 'none'}, head {head}: ", status))


# -- seed ------------------------------------------------------------------------------------------

@seed_app.command("demo")
def seed_demo_command(ctx: typer.Context,
                      seed: Annotated[int, typer.Option("--seed", help="random seed of the generator")] = 7) -> None:
    """Seed the demo network (nodes, catalog, channels, carriers, accounts, stock). Safe to run again."""
    console = _out()
    with _running(ctx) as application:
        progress = Progress(SpinnerColumn(), TextColumn("{task.description:<16}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=max(total, 1))
            progress.update(tasks[phase], completed=done if total else 1)

        with progress:
            summary = seed_demo(application.bus, seed=seed, progress=report)
    console.print(_seed_table(summary))
    if summary["already_seeded"]:
        console.print(f"seed {seed} was already applied: nothing changed")


@seed_app.command("orders")
def seed_orders_command(ctx: typer.Context,
                        count: Annotated[int, typer.Option("--count", min=1, max=100_000,
                                                           help="how many orders to place")] = 25,
                        seed: Annotated[int, typer.Option("--seed", help="random seed of the generator")] = 7,
                        route: Annotated[bool, typer.Option(help="screen and route each order as it arrives")] = True
                        ) -> None:
    """Place demo orders from every channel, screen each for exceptions and route it; prints what routing did
    against the baselines and what went to the exception queue."""
    import time as timer

    from sqlalchemy import func, select

    from engine.adapters import tables
    from engine.services.demo import demo_orders

    console = _out()
    with _running(ctx) as application:
        with application.engine.connect() as conn:
            first = int(conn.execute(select(func.count()).select_from(tables.orders)).scalar_one()) + 1
        placed, routed, exceptions, auto, latencies = 0, 0, 0, 0, []
        ours = {"fixed-priority": [0.0, 0.0], "nearest-with-stock": [0.0, 0.0]}
        with Progress(SpinnerColumn(), TextColumn("placing and routing"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("orders", total=count)
            while placed < count:
                for cmd in demo_orders(seed, count - placed, first):
                    first += 1
                    try:
                        order_id = application.bus.handle(cmd)["order_id"]
                    except e.DuplicateOrder:
                        continue
                    placed += 1
                    progress.advance(task)
                    if not route:
                        continue
                    started = timer.perf_counter()
                    outcome = application.exceptions.process(order_id)
                    latencies.append((timer.perf_counter() - started) * 1000)
                    routed += outcome["routed"]
                    exceptions += bool(outcome["open_cases"])
                    auto += len(outcome["auto_resolved"])
                    for name, pair in ours.items():
                        base = outcome["baselines"].get(name, {}).get("cost")
                        if outcome["routed"] and base is not None and outcome["cost"] is not None:
                            pair[0] += outcome["cost"]
                            pair[1] += base
    table = Table(title=f"{placed} demo orders placed", title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("routed and reserved", f"{routed:,}")
    table.add_row("waiting in the exception queue (with a recommendation)", f"{exceptions:,}")
    table.add_row("exceptions resolved automatically within policy", f"{auto:,}")
    if latencies:
        ordered = sorted(latencies)
        p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * .99))]
        table.add_row("screen + route + reserve p50 / p99 ms", f"{p50:.1f} / {p99:.1f}")
    for name, (cost, base) in ours.items():
        if base:
            table.add_row(f"cost vs {name}", f"{cost:,.2f} vs {base:,.2f} ({100 * (base - cost) / base:.1f}% lower)")
    console.print(table)


def _seed_table(s: dict[str, Any]) -> Table:
    table = Table(title=f"Demo network (seed {s['seed']})", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    rows = [
        ("fulfillment nodes", s["nodes"], f"{s['stores']} stores"),
        ("channels", s["channels"], "b2b_edi and email are priority channels"),
        ("carriers", s["carriers"], "ground, expedited, next_day"),
        ("lanes", s["lanes"], f"to {s['zip3_regions']} ZIP3 regions"),
        ("SKUs", s["skus"], f"{s['hazmat_skus']} hazmat, {s['new_skus']} new, "
                            f"{s['skus_with_substitutes']} with substitutes"),
        ("price lists", s["price_lists"], "tier discounts off list price"),
        ("B2B accounts", s["accounts"], ""),
        ("customers", s["customers"], ""),
        ("stock positions", s["stock_positions"], f"{s['units']:,} units"),
        ("safety-stock policies", s["safety_policies"], f"{s['protected_positions']} with protected B2B units"),
        ("flash-sale caps", s["channel_caps"], "marketplace"),
        ("positions in database", s["positions_in_database"], f"{s['on_hand_in_database']:,} units on hand"),
        ("commands applied", s["commands_applied"], f"{s['seconds']} s"),
    ]
    for what, count, detail in rows:
        table.add_row(what, f"{count:,}", detail)
    return table


# -- inventory -------------------------------------------------------------------------------------

@inventory_app.command("atp")
def inventory_atp(ctx: typer.Context, sku: str,
                  channel: Annotated[str | None, typer.Option("--channel", help="only this channel")] = None,
                  as_json: JsonFlag = False) -> None:
    """Available to promise for SKU: per ship-from node, across the network and per channel."""
    with _running(ctx) as application, application.uow(readonly=True) as uow:
        atp = views.available_to_promise(uow, sku, channel)
    if as_json:
        _echo_json(atp.to_dict())
        return
    console = _out()
    nodes = Table(title=Text.assemble("Available to promise: ", (clean(atp.sku), "bold"), " ", clean(atp.name),
                                      " (hazmat)" if atp.hazmat else ""), title_justify="left")
    for col in ("node", "type", "on hand", "reserved", "safety", "protected", "available", "priority avail."):
        nodes.add_column(col, justify="left" if col in ("node", "type") else "right")
    for r in (*atp.nodes, atp.total):
        style = "bold" if r is atp.total else ""
        kind = f"{r.node_type}, b2b only" if r.b2b_only else r.node_type
        nodes.add_row(_t(r.node, style), _t(kind), _num(r.on_hand), _num(r.reserved), _num(r.safety_stock),
                      _num(r.protected_remaining), _num(r.available), _num(r.available_priority), style=style)
    console.print(nodes)
    channels = Table(title="Per channel", title_justify="left")
    for col in ("channel", "priority", "available", "before cap", "cap"):
        channels.add_column(col, justify="left" if col in ("channel", "priority") else "right")
    for ch in atp.channels:
        cap = f"{ch.cap_remaining:,} of {ch.cap:,} left" if ch.cap is not None else ""
        channels.add_row(_t(ch.channel), "yes" if ch.priority else "", _num(ch.available), _num(ch.uncapped), cap)
    console.print(channels)


@inventory_app.command("node")
def inventory_node(ctx: typer.Context, node: str, limit: Limit = 50) -> None:
    """Stock at one node: every SKU position with on hand, reserved and available."""
    with _running(ctx) as application, application.uow(readonly=True) as uow:
        stock = views.stock_at_node(uow, node, limit)
    flags = [f for f, on in (("ship-from", stock.ship_from_enabled), ("hazmat", stock.hazmat_capable),
                             ("b2b only", stock.b2b_only), ("inactive", not stock.active)) if on]
    console = _out()
    console.print(Text.assemble((clean(stock.node), "bold"), f" {clean(stock.name)} — {stock.node_type}, ",
                                f"{clean(stock.city)}, {clean(stock.state)} ({clean(stock.timezone)}), cutoff ",
                                f"{stock.cutoff_local}, {stock.daily_pick_capacity:,} picks/day; ", ", ".join(flags)))
    table = Table(title=f"{stock.sku_count:,} positions: {stock.on_hand:,} on hand, {stock.reserved:,} reserved, "
                        f"{stock.available:,} available", title_justify="left")
    for col in ("sku", "name", "on hand", "reserved", "safety", "protected", "available"):
        table.add_column(col, justify="left" if col in ("sku", "name") else "right", no_wrap=col == "sku")
    for r in stock.rows:
        table.add_row(_t(r.sku), _t(r.name), _num(r.on_hand), _num(r.reserved), _num(r.safety_stock),
                      _num(r.protected_remaining), _num(r.available))
    console.print(table)
    if len(stock.rows) < stock.sku_count:
        console.print(f"showing {len(stock.rows)} of {stock.sku_count:,}; use --limit to see more")


@inventory_app.command("ledger")
def inventory_ledger(ctx: typer.Context, sku: str, node: str, limit: Limit = 20) -> None:
    """The newest stock movements of SKU at NODE: what explains its balance."""
    with _running(ctx) as application, application.uow(readonly=True) as uow:
        view = views.ledger(uow, sku, node, limit)
    table = Table(title=Text.assemble(("Ledger ", "bold"), clean(f"{view.sku}@{view.node}"),
                                      f": on hand {view.on_hand:,}, reserved {view.reserved:,}, safety "
                                      f"{view.safety_stock:,}, protected {view.protected_qty:,}"),
                  title_justify="left")
    for col in ("when (UTC)", "kind", "quantity", "on hand after", "reference", "reason"):
        table.add_column(col, justify="right" if col in ("quantity", "on hand after") else "left")
    for m in view.entries:
        table.add_row(m.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), m.kind,
                      Text(f"{m.quantity:+,}", style="green" if m.quantity > 0 else "red"),
                      _num(m.on_hand_after), _t(m.reference), _t(m.reason))
    _out().print(table)
    if not view.entries:
        _out().print("no movements yet")


def _moved(verb: str, result: dict[str, Any]) -> None:
    _out().print(Text.assemble(("✓ ", "green"), verb, " ", (clean(f"{result['sku']}@{result['node']}"), "bold"),
                               f": on hand now {result['on_hand']:,}"))


@inventory_app.command("receive", context_settings=SIGNED)
def inventory_receive(ctx: typer.Context, sku: str, node: str, qty: str,
                      reference: Annotated[str, typer.Option("--reference", help="e.g. the PO or ASN")] = "") -> None:
    """Receive QTY units of SKU at NODE."""
    with _running(ctx) as application:
        result = application.bus.handle(c.ReceiveStock(sku=sku, node=node, quantity=parse_int("quantity", qty),
                                                       reference=reference))
    _moved(f"received {parse_int('quantity', qty):,} of", result)


@inventory_app.command("adjust", context_settings=SIGNED)
def inventory_adjust(ctx: typer.Context, sku: str, node: str, delta: str,
                     reason: Annotated[str, typer.Option("--reason", help="why stock changed")]) -> None:
    """Adjust on-hand units of SKU at NODE by DELTA (e.g. -3 for damaged units)."""
    with _running(ctx) as application:
        result = application.bus.handle(c.AdjustStock(sku=sku, node=node, delta=parse_int("delta", delta),
                                                      reason=reason))
    _moved(f"adjusted {parse_int('delta', delta):+,}", result)


@inventory_app.command("count", context_settings=SIGNED)
def inventory_count(ctx: typer.Context, sku: str, node: str, counted: str,
                    reference: Annotated[str, typer.Option("--reference", help="count sheet id")] = "") -> None:
    """Record a cycle count: COUNTED units of SKU are physically at NODE."""
    with _running(ctx) as application:
        result = application.bus.handle(c.RecordCycleCount(sku=sku, node=node, counted=parse_int("counted", counted),
                                                           reference=reference))
    _moved(f"counted (difference {result['difference']:+,})", result)
    if result["orders_affected"]:
        _out().print(Text(f"orders moved to exception: {', '.join(map(clean, result['orders_affected']))}",
                          style="yellow"))


# -- holds, reconciliation, orders -----------------------------------------------------------------

@holds_app.command("expire")
def holds_expire(ctx: typer.Context,
                 limit: Annotated[int, typer.Option("--limit", min=1, help="holds per run")] = 1000) -> None:
    """Release every checkout hold past its time to live (the expiry job)."""
    with _running(ctx) as application:
        result = application.bus.handle(c.ExpireCheckoutHolds(limit=limit))
    _out().print(f"expired {result['expired_holds']} hold(s), released {result['released_units']:,} unit(s)")


@app.command("reconcile")
def reconcile(ctx: typer.Context,
              repair: Annotated[bool, typer.Option("--repair", help="set drifted balances to the ledger")] = False,
              as_json: JsonFlag = False) -> None:
    """Recompute balances from the ledger and reservations; exit status 1 while drift remains."""
    with _running(ctx) as application:
        result = application.bus.handle(c.ReconcileInventory(repair=repair))
        remaining = application.bus.handle(c.ReconcileInventory())["drift"] if repair else result["drift"]
    if as_json:
        _echo_json({**result, "remaining_drift": remaining})
    else:
        _print_reconciliation(result, remaining)
    if remaining:
        raise typer.Exit(EXIT_DRIFT)


def _print_reconciliation(result: dict[str, Any], remaining: list[dict[str, Any]]) -> None:
    console = _out()
    if result["drift"]:
        table = Table(title="Drift between balances and the ledger", title_justify="left")
        for col in ("sku", "node", "field", "recorded", "expected", "difference"):
            table.add_column(col, justify="right" if col in ("recorded", "expected", "difference") else "left")
        for d in result["drift"]:
            table.add_row(_t(d["sku"]), _t(d["node"]), d["field"], _num(d["recorded"]), _num(d["expected"]),
                          Text(f"{d['difference']:+,}", justify="right"))
        console.print(table)
    verdict = (Text(f"{len(remaining)} drift(s) remain", style="bold red") if remaining
               else Text("no drift", style="bold green"))
    console.print(Text.assemble(f"checked {result['checked']:,} balances, repaired {result['repaired']}: ", verdict))


@orders_app.command("show")
def orders_show(ctx: typer.Context, order_id: str, as_json: JsonFlag = False) -> None:
    """An order with its lines, status history and reservations."""
    with _running(ctx) as application, application.uow(readonly=True) as uow:
        order = views.order_view(uow, order_id)
    if as_json:
        _echo_json(order.to_dict())
        return
    console = _out()
    who = order.account_code or order.customer_id or "guest"
    console.print(Text.assemble(("Order ", "bold"), (clean(order.order_id), "bold"), " ",
                                clean(f"{order.channel}/{order.external_id}"), " — ", (order.status, "bold cyan"),
                                clean(f" ({order.status_reason})" if order.status_reason else ""),
                                clean(f"; {who}; {order.currency} {order.total}; ship to "
                                      f"{order.ship_to.get('city', '')}, {order.ship_to.get('state', '')} "
                                      f"{order.ship_to.get('postal_code', '')}")))
    lines = Table(title="Lines", title_justify="left")
    for col in ("#", "sku", "qty", "unit price", "allocated", "shipped", "cancelled", "open"):
        lines.add_column(col, justify="left" if col == "sku" else "right")
    for ln in order.lines:
        lines.add_row(str(ln.line_no), _t(ln.sku), _num(ln.quantity), ln.unit_price, _num(ln.allocated),
                      _num(ln.shipped), _num(ln.cancelled), _num(ln.open_quantity))
    console.print(lines)
    history = Table(title="Status history", title_justify="left")
    for col in ("when (UTC)", "from", "to", "reason"):
        history.add_column(col)
    for h in order.history:
        history.add_row(h.at.strftime("%Y-%m-%d %H:%M:%S"), h.from_status or "", h.to_status, _t(h.reason))
    console.print(history)
    if order.reservations:
        res = Table(title="Reservations", title_justify="left")
        for col in ("line", "sku", "node", "qty", "consumed", "status", "channel"):
            res.add_column(col, justify="right" if col in ("line", "qty", "consumed") else "left")
        for r in order.reservations:
            res.add_row(str(r.line_no or ""), _t(r.sku), _t(r.node), _num(r.quantity), _num(r.consumed), r.status,
                        _t(r.channel))
        console.print(res)


@orders_app.command("route")
def orders_route(ctx: typer.Context, order_id: str, as_json: JsonFlag = False) -> None:
    """Route a validated order: choose nodes with the optimiser, reserve them, store the explanation."""
    with _running(ctx) as application:
        outcome = application.router.route(order_id)
    if as_json:
        _echo_json(outcome.to_dict())
        return
    console = _out()
    if outcome.routed:
        console.print(Text.assemble(("Order ", "bold"), (clean(outcome.order_id), "bold"), " routed to ",
                                    (clean(", ".join(outcome.nodes)), "bold green"),
                                    clean(f" — cost {outcome.cost:.2f}, attempt {outcome.attempts}")))
    else:
        console.print(Text.assemble(("Order ", "bold"), (clean(outcome.order_id), "bold"), " could not be routed: ",
                                    ("exception", "bold red")))
        for reason in outcome.reasons:
            console.print(Text.assemble("  • ", clean(reason)))
    if outcome.baselines:
        table = Table(title="Shadow baselines (same instance, same costing)", title_justify="left")
        for col in ("method", "cost", "shipments", "nodes"):
            table.add_column(col, justify="right" if col in ("cost", "shipments") else "left")
        table.add_row("orderloom", f"{outcome.cost:.2f}" if outcome.cost is not None else "-",
                      "", _t(", ".join(outcome.nodes)))
        for name, b in outcome.baselines.items():
            table.add_row(name, f"{b['cost']:.2f}" if b["cost"] is not None else "cannot serve",
                          str(b["shipments"] or ""), _t(", ".join(b["nodes"])))
        console.print(table)


@orders_app.command("explain")
def orders_explain(ctx: typer.Context, order_id: str, as_json: JsonFlag = False) -> None:
    """Every routing decision of an order: plan, cost breakdown, alternatives, binding constraints."""
    from engine.services.routing import order_decisions

    with _running(ctx) as application, application.uow(readonly=True) as uow:
        decisions = order_decisions(uow, order_id)
    if as_json:
        _echo_json([{"decision_id": d.decision_id, "kind": d.kind.value, "attempt": d.attempt,
                     "outcome": d.outcome.value, "status": d.status, "solver": d.solver,
                     "policy_version": d.policy_version, "cost": d.cost, "shipments": d.shipments,
                     "solve_time_ms": d.solve_time_ms, "plan": d.plan, "baselines": d.baselines,
                     "explanation": {k: v for k, v in d.explanation.items() if k != "text"},
                     "created_at": d.created_at.isoformat()} for d in decisions])
        return
    console = _out()
    if not decisions:
        console.print(f"order {clean(order_id)} has no routing decisions yet")
    for d in decisions:
        console.print(Text.assemble((f"{d.created_at:%Y-%m-%d %H:%M:%S} ", "dim"), (d.kind.value, "bold"),
                                    f" attempt {d.attempt}: ", (d.outcome.value, "bold cyan"),
                                    f" ({d.solve_time_ms:.1f} ms)"))
        for line in str(d.explanation.get("text", "")).splitlines():
            console.print(Text(clean(line)))
        for note in d.explanation.get("notes", []):
            console.print(Text.assemble("  note: ", clean(note)))
        for name, b in d.baselines.items():
            cost = f"{b['cost']:.2f}" if b.get("cost") is not None else "cannot serve"
            console.print(Text.assemble(f"  {name}: ", cost, clean(f" from {', '.join(b.get('nodes', []))}")))


@routing_app.command("policies")
def routing_policies(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every routing policy version; the active one is marked."""
    with _running(ctx) as application, application.uow(readonly=True) as uow:
        policies = uow.routing.policies()
    if as_json:
        _echo_json([{"version": p.version, "name": p.name, "weights": p.weights, "max_shipments": p.max_shipments,
                     "default_deadline_days": p.default_deadline_days, "note": p.note, "created_by": p.created_by,
                     "created_at": p.created_at.isoformat(), "active": p.active} for p in policies])
        return
    table = Table(title="Routing policies", title_justify="left")
    for col in ("version", "name", "active", "weights", "max shipments", "deadline days", "by", "note"):
        table.add_column(col)
    for p in policies:
        weights = "\n".join(f"{k}={v:g}" for k, v in p.weights.items())
        table.add_row(str(p.version), _t(p.name), "yes" if p.active else "", weights, str(p.max_shipments or "-"),
                      str(p.default_deadline_days), _t(p.created_by), _t(p.note))
    _out().print(table)


@routing_app.command("create-policy")
def routing_create_policy(
        ctx: typer.Context, name: str,
        weight: Annotated[list[str] | None, typer.Option("--weight", help="NAME=VALUE, e.g. split_penalty=3")] = None,
        max_shipments: Annotated[int | None, typer.Option(help="at most this many shipments per order")] = None,
        deadline_days: Annotated[int, typer.Option(help="promise when the order names no date")] = 5,
        actor: Annotated[str, typer.Option(help="who sets it (audited)")] = "cli",
        note: Annotated[str, typer.Option(help="why")] = "",
        activate: Annotated[bool, typer.Option(help="route with it from now on")] = False) -> None:
    """Store a new policy version (weights are multipliers/currency amounts, see PolicyWeights)."""
    weights: dict[str, float] = {}
    problems: list[e.Problem] = []
    for item in weight or []:
        key, sep, value = item.partition("=")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            problems.append(e.Problem("validation.weight", f"--weight {item}", "expected NAME=NUMBER",
                                      "e.g. --weight split_penalty=3"))
    if problems:
        raise _report_error(e.ValidationFailed("the weights are not valid", problems=problems))
    with _running(ctx) as application:
        result = application.bus.handle(c.CreateRoutingPolicy(
            name=name, weights=weights, actor=actor, max_shipments=max_shipments,
            default_deadline_days=deadline_days, note=note, activate=activate))
    _out().print(f"routing policy v{result['version']} {clean(result['name'])} stored"
                 + (" and active" if result["active"] else ""))


@routing_app.command("activate")
def routing_activate(ctx: typer.Context, version: int,
                     actor: Annotated[str, typer.Option(help="who switches (audited)")] = "cli",
                     reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Switch routing to another stored policy version."""
    with _running(ctx) as application:
        application.bus.handle(c.ActivateRoutingPolicy(version=version, actor=actor, reason=reason))
    _out().print(f"routing policy v{version} is active")


@routing_app.command("reoptimise")
def routing_reoptimise(ctx: typer.Context,
                       window_min: Annotated[int, typer.Option(min=1, max=24 * 60,
                                                               help="orders allocated this recently")] = 15,
                       min_saving: Annotated[float, typer.Option(min=0, help="switch only above this saving")] = 0.5,
                       as_json: JsonFlag = False) -> None:
    """Re-solve allocated, unreleased orders of the window; switch those that get cheaper."""
    from datetime import timedelta

    with _running(ctx) as application:
        report = application.router.reoptimise(window=timedelta(minutes=window_min), min_saving=min_saving)
    if as_json:
        _echo_json(report.__dict__)
        return
    _out().print(f"considered {report.considered}, changed {report.changed} (saving {report.saving:.2f}, "
                 f"shipments {report.shipments_before} -> {report.shipments_after}), kept {report.kept}, "
                 f"skipped {report.skipped}")


@routing_app.command("shadow")
def routing_shadow(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
                   as_json: JsonFlag = False) -> None:
    """Orderloom's committed placements against what each baseline would have cost on the same orders."""
    from engine.services.routing import shadow_summary

    with _running(ctx) as application, application.uow(readonly=True) as uow:
        summary = shadow_summary(uow, limit)
    if as_json:
        _echo_json(summary.to_dict())
        return
    table = Table(title=f"Shadow mode over {summary.decisions} placements", title_justify="left")
    for col in ("baseline", "comparable", "baseline cost", "orderloom cost", "saving %", "baseline cannot serve"):
        table.add_column(col, justify="left" if col == "baseline" else "right")
    for name, b in summary.baselines.items():
        table.add_row(name, str(b["comparable"]), f"{b['baseline_cost']:.2f}", f"{b['orderloom_cost']:.2f}",
                      f"{b['saving_pct']:.2f}", str(b["unserved_by_baseline"]))
    _out().print(table)


# -- exceptions ------------------------------------------------------------------------------------

ActorOption = Annotated[str, typer.Option("--actor", help="who decides (audited)")]


def _pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    """KEY=VALUE options as a dict; a value that reads as JSON (numbers, true, lists, objects) is taken as such."""
    out: dict[str, Any] = {}
    problems: list[e.Problem] = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(e.Problem("validation.pair", f"{option} {item}", "expected KEY=VALUE",
                                      f"e.g. {option} reason=customer asked"))
            continue
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    if problems:
        raise _report_error(e.ValidationFailed(f"the {option} values are not valid", problems=problems))
    return out


@exceptions_app.command("list")
def exceptions_list(ctx: typer.Context,
                    status: Annotated[str, typer.Option("--status", help="open, resolved, auto_resolved, dismissed, "
                                                        "cleared or all")] = "open",
                    type_: Annotated[str | None, typer.Option("--type", help="e.g. address, payment")] = None,
                    channel: Annotated[str | None, typer.Option("--channel", help="only this channel")] = None,
                    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="rows to show")] = 100,
                    as_json: JsonFlag = False) -> None:
    """The queue, highest priority first, with SLA timers and the recommended action."""
    from engine.domain.exceptions import CaseStatus, ExceptionType

    for option, value, allowed in (("--status", status, [*(s.value for s in CaseStatus), "all"]),
                                   ("--type", type_, [t.value for t in ExceptionType])):
        if value is not None and value not in allowed:
            raise _report_error(e.ValidationFailed(f"{option} {value!r} is not known", problems=[e.Problem(
                "validation.choice", option, f"{option} {value!r} is not known", f"use one of {', '.join(allowed)}")]))
    with _running(ctx) as application:
        cases = application.exceptions.cases(status=None if status == "all" else status, type=type_,
                                             channel=channel, limit=limit)
    if as_json:
        _echo_json(cases)
        return
    table = Table(title=f"{len(cases)} {clean(status)} exception case(s)", title_justify="left")
    for col in ("id", "priority", "type", "order", "value", "SLA due (UTC)", "recommended"):
        table.add_column(col, justify="right" if col in ("id", "priority", "value") else "left")
    for x in cases:
        due = Text(x["sla_due_at"][:16].replace("T", " "), style="bold red" if x["sla_breached"] else "")
        table.add_row(_t(x["case_id"]), str(x["priority"]), _t(f"{x['type']}/{x['subtype']}"),
                      _t(x["order_id"] or x["document_id"] or ""), _t(x["value"]), due,
                      _t(x["recommendation"].get("action", "")))
    _out().print(table)


@exceptions_app.command("show")
def exceptions_show(ctx: typer.Context, case_id: str, as_json: JsonFlag = False) -> None:
    """A case: why it was opened, the evidence, the recommendation, its order, proposals and audit trail."""
    with _running(ctx) as application:
        case = application.exceptions.case(case_id)
    if as_json:
        _echo_json(case)
        return
    console = _out()
    rec = case["recommendation"]
    console.print(Text.assemble(("Case ", "bold"), (clean(case["case_id"]), "bold"), " ",
                                clean(f"{case['type']}/{case['subtype']}"), " — ", (clean(case["status"]), "bold cyan"),
                                clean(f", priority {case['priority']}, value {case['value']}"),
                                ("  SLA breached" if case["sla_breached"] else "", "bold red")))
    console.print(Text.assemble("reason: ", clean(case["reason"])))
    console.print(Text.assemble("recommended: ", (clean(rec.get("action", "")), "bold green"), " — ",
                                clean(rec.get("summary", "")), clean(f" ({rec.get('expected_effect', '')})")))
    if rec.get("params"):
        console.print(Text.assemble("  params: ", clean(json.dumps(rec["params"], default=str))))
    order = case.get("order")
    if order:
        console.print(Text.assemble("order ", (clean(order["order_id"]), "bold"),
                                    clean(f" {order['channel']}/{order['external_id']} is {order['status']}; "
                                          f"{order['currency']} {order['total']}")))
    if case["resolution"]:
        console.print(Text.assemble("resolution: ", clean(json.dumps(case["resolution"], default=str)),
                                    clean(f" by {case['resolved_by']}")))
    trail = Table(title="Audit", title_justify="left")
    for col in ("when (UTC)", "actor", "action"):
        trail.add_column(col)
    for a in case["audit"]:
        trail.add_row(a["at"][:19].replace("T", " "), _t(a["actor"]), _t(a["action"]))
    console.print(trail)


@exceptions_app.command("resolve")
def exceptions_resolve(ctx: typer.Context, case_id: str, action: str, actor: ActorOption,
                       param: Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE; JSON values "
                                                                      "allowed, e.g. ship_to='{...}'")] = None,
                       note: Annotated[str, typer.Option("--note", help="why")] = "",
                       as_json: JsonFlag = False) -> None:
    """Resolve CASE by running ACTION (re-validated against the order's present state)."""
    params = _pairs(param, "--param")
    with _running(ctx) as application:
        result = application.exceptions.resolve(case_id, action, params, actor, note)
    if as_json:
        _echo_json(result)
        return
    _out().print(Text.assemble(("✓ ", "green"), "case ", (clean(result["case_id"]), "bold"), " ",
                               clean(result["status"]), clean(f" by {action}")))


@exceptions_app.command("dismiss")
def exceptions_dismiss(ctx: typer.Context, case_id: str, actor: ActorOption,
                       note: Annotated[str, typer.Option("--note", help="why it is a false alarm")] = "") -> None:
    """Close CASE as a false alarm; its order continues when nothing else holds it."""
    with _running(ctx) as application:
        result = application.exceptions.dismiss(case_id, actor, note)
    _out().print(Text.assemble(("✓ ", "green"), "case ", (clean(result["case_id"]), "bold"), " dismissed"))


def _line_units(line: list[str] | None) -> dict[int, int] | None:
    """`--line LINE_NO=UNITS` options as {line_no: units}; None when none were given."""
    if not line:
        return None
    out: dict[int, int] = {}
    for k, v in _pairs(line, "--line").items():
        if not k.isdigit() or not isinstance(v, int) or isinstance(v, bool):
            raise _report_error(e.ValidationFailed("--line takes LINE_NO=UNITS", problems=[e.Problem(
                "validation.format", "--line", f"{k}={v!r} is not LINE_NO=UNITS", "e.g. --line 1=2")]))
        out[int(k)] = v
    return out


@returns_app.command("list")
def returns_list(ctx: typer.Context,
                 status: Annotated[list[str] | None, typer.Option("--status", help="requested, label_issued, "
                                                                  "received, closed, ... (repeatable)")] = None,
                 limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="rows to show")] = 50,
                 as_json: JsonFlag = False) -> None:
    """Returns, newest first (`--status requested`: the ones waiting for a person)."""
    with _running(ctx) as application:
        rows = application.returns.search(tuple(status or ()), limit=limit)
    if as_json:
        _echo_json(rows)
        return
    table = Table(title=f"{len(rows)} return(s)", title_justify="left")
    for col in ("return", "order", "status", "lines", "reason", "restock at", "refund"):
        table.add_column(col)
    for r in rows:
        table.add_row(_t(r["rma_id"]), _t(r["order_id"]), _t(r["status"]),
                      _t(", ".join(f"{ln['received']}/{ln['quantity']} {ln['sku']}" for ln in r["lines"])),
                      _t(r["reason"]), _t(r["restock_node"] or ""), _t(r["refund_amount"] or ""))
    _out().print(table)


@returns_app.command("show")
def returns_show(ctx: typer.Context, rma_id: str, as_json: JsonFlag = False) -> None:
    """One return: lines, grades, the restock plan, the abuse score's evidence and its history."""
    with _running(ctx) as application:
        r = application.returns.get(rma_id)
    if as_json:
        _echo_json(r)
        return
    console = _out()
    console.print(Text.assemble(("Return ", "bold"), (clean(r["rma_id"]), "bold"), clean(f" for order {r['order_id']}"),
                                " — ", (clean(r["status"]), "bold cyan"), clean(f" ({r['status_reason']})")))
    console.print(Text.assemble("customer's words: ", clean(r["customer_text"] or "-")))
    for ln in r["lines"]:
        console.print(Text.assemble(clean(f"  line {ln['line_no']}: {ln['received']}/{ln['quantity']} x {ln['sku']} "
                                          f"({ln['reason']}) {ln['grade'] or ''} {ln['disposition'] or ''}")))
    if r["abuse_score"] is not None:
        top = "; ".join(f"{x['feature']} {x['value']} (usual {x['usual']})" for x in (r["abuse_evidence"] or [])[:4])
        console.print(Text.assemble("abuse score: ", (f"{r['abuse_score']:.2f}", "bold"), " — ", clean(top)))
    if r["restock_plan"]:
        console.print(Text.assemble("restock: ", clean(json.dumps(r["restock_plan"], default=str))))
    for h in r["history"]:
        console.print(Text.assemble(clean(f"  {h['at'][:19]} {h['from'] or ''} -> {h['to']} {h['reason']}")))


@returns_app.command("request")
def returns_request(ctx: typer.Context, order_id: str,
                    reason: Annotated[str, typer.Option("--reason", help="the customer's words")] = "",
                    line: Annotated[list[str] | None, typer.Option("--line", help="LINE_NO=QUANTITY (repeatable); "
                                                                   "every shipped unit when left out")] = None,
                    exchange: Annotated[bool, typer.Option("--exchange", help="a replacement, not a refund")] = False,
                    exchange_for: Annotated[list[str] | None, typer.Option(
                        "--exchange-for", help="LINE_NO=SKU (repeatable): send another size or colour of the same "
                        "price instead (implies --exchange)")] = None,
                    actor: ActorOption = "cli", as_json: JsonFlag = False) -> None:
    """Open a return for ORDER_ID: checked against the policy, authorised with its label within it."""
    units = _line_units(line)
    lines = None if units is None else [{"line_no": k, "quantity": v} for k, v in units.items()]
    swaps = _pairs(exchange_for, "--exchange-for")
    if any(not k.isdigit() for k in swaps):
        raise _report_error(e.ValidationFailed("--exchange-for takes LINE_NO=SKU", problems=[e.Problem(
            "validation.format", "--exchange-for", f"{k}={v!r} is not LINE_NO=SKU", "e.g. --exchange-for 1=APP-0002")
            for k, v in swaps.items() if not k.isdigit()]))
    with _running(ctx) as application:
        r = application.returns.request(order_id, lines, reason, requested_by=f"cli:{actor}",
                                        resolution="exchange" if exchange or swaps else "refund",
                                        exchange_skus={int(k): v for k, v in swaps.items()} or None)
    if as_json:
        _echo_json(r)
        return
    _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"]),
                               clean(f" ({r['reason']}); restock at {r['restock_node']}")))
    for p in r.get("refusals", []):
        _out().print(Text.assemble(("  refused ", "yellow"), clean(f"{p['field']}: {p['message']}")))


@returns_app.command("authorise")
def returns_authorise(ctx: typer.Context, rma_id: str, actor: ActorOption,
                      note: Annotated[str, typer.Option("--note", help="why")] = "evidence checked") -> None:
    """A person authorises a return held for review; the label is issued."""
    with _running(ctx) as application:
        r = application.returns.authorise(rma_id, actor, note)
    _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"])))


@returns_app.command("refuse")
def returns_refuse(ctx: typer.Context, rma_id: str, actor: ActorOption,
                   reason: Annotated[str, typer.Option("--reason", help="what the customer reads")]) -> None:
    """A person refuses a return, with the reason the customer reads."""
    with _running(ctx) as application:
        r = application.returns.refuse(rma_id, actor, reason)
    _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"])))


@returns_app.command("receive")
def returns_receive(ctx: typer.Context, rma_id: str, node: str, reference: str,
                    line: Annotated[list[str] | None, typer.Option("--line", help="LINE_NO=UNITS that arrived "
                                                                   "(repeatable); everything when left out")] = None,
                    short: Annotated[bool, typer.Option("--short", help="nothing more is coming")] = False) -> None:
    """The parcel arrived at NODE (REFERENCE: the receipt id; reported twice, counted once)."""
    quantities = _line_units(line)
    with _running(ctx) as application:
        r = application.returns.receive(rma_id, node, reference, quantities, close_short=short)
    _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"]),
                               " (replayed: nothing changed)" if r.get("replayed") else ""))


@returns_app.command("grade")
def returns_grade(ctx: typer.Context, rma_id: str, line_no: int, grade: str, reference: str,
                  note: Annotated[str, typer.Option("--note", help="what the inspector saw")] = "",
                  actor: ActorOption = "cli") -> None:
    """Grade a received line (new, like_new, used, damaged, defective, unsaleable): sellable units go back into
    stock at once; when every line is through, the refund or the replacement follows."""
    with _running(ctx) as application:
        r = application.returns.grade(rma_id, line_no, grade, reference, note=note, actor=actor)
    line = r.get("line") or {}
    _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"]),
                               clean(f"; line {line_no} {line.get('grade', '')} -> {line.get('disposition', '')}"),
                               clean(f", restocked at {r['restocked_at']}") if r.get("restocked_at") else "",
                               clean(f"; refund {r['refund_amount']}") if r.get("refund_amount") else "",
                               clean(f"; replacement order {r['exchange_order_id']}") if r.get("exchange_order_id")
                               else ""))


@returns_app.command("settle-stalled")
def returns_settle_stalled(ctx: typer.Context,
                           minutes: Annotated[int, typer.Option("--older-than", min=0, max=10_080,
                                                                help="minutes since the last line was graded")] = 1,
                           as_json: JsonFlag = False) -> None:
    """Refund or replace the returns left graded but unsettled (a stop between grading and settling). The
    running server does this once a minute; settling twice changes nothing."""
    from datetime import timedelta

    with _running(ctx) as application:
        rows = application.returns.settle_stalled(timedelta(minutes=minutes))
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        _out().print(Text.assemble(("✓ ", "green"), "return ", (clean(r["rma_id"]), "bold"), " ", clean(r["status"]),
                                   clean(f"; refund {r['refund_amount']}") if r.get("refund_amount") else "",
                                   clean(f"; replacement order {r['exchange_order_id']}")
                                   if r.get("exchange_order_id") else ""))
    _out().print(f"{len(rows)} stalled return(s) settled")


@returns_app.command("fit-abuse-model")
def returns_fit_abuse_model(
        ctx: typer.Context,
        write: Annotated[str | None, typer.Option("--write", help="where to write the model when it meets the "
                                                  "targets; name it in ORDERLOOM_ABUSE_MODEL_FILE to use it")] = None,
        min_decided: Annotated[int, typer.Option("--min-decided", min=50, max=1_000_000,
                                                 help="decided returns needed to fit")] = 200,
        min_refused: Annotated[int, typer.Option("--min-refused", min=10, max=100_000,
                                                 help="refusals by a person needed to fit")] = 20,
        as_json: JsonFlag = False) -> None:
    """Fit the return-abuse score on this store's own decisions (a return a person refused is abuse) and measure
    precision and recall on the newest 30 % it was not fitted on. The model is written only when it meets the
    targets (precision 80 %, recall 60 %); exit 1 when it misses them, 2 when there is too little history."""
    from pathlib import Path

    from engine.returns.abuse import NotEnoughHistory

    with _running(ctx) as application:
        try:
            report = application.returns.fit_abuse_model(min_decided=min_decided, min_refused=min_refused)
        except NotEnoughHistory as err:
            raise _fail(Text.assemble(("not enough history ", "bold red"), ("returns.history_short", "red"), ": ",
                                      clean(str(err)))) from None
    out = report.to_dict()
    if write and report.meets_targets and report.model is not None:
        target = Path(write)
        partial = target.with_name(target.name + ".partial")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(report.model.to_dict(), indent=2) + "\n", encoding="utf-8")
            partial.replace(target)
        except OSError as err:
            if partial.is_file():
                partial.unlink()
            raise _fail(Text.assemble(("error ", "bold red"), ("returns.model_not_written", "red"), ": ",
                                      clean(f"--write {write}: {err.strerror or err}"))) from None
        out["written"] = str(target)
    if as_json:
        _echo_json(out)
    else:
        console = _out()
        console.print(Text.assemble(("Abuse score on this store's decisions: ", "bold"),
                                    f"{report.decided:,} decided returns, {report.refused:,} refused by a person; "
                                    f"fitted on the oldest {report.fitted_on:,}, measured on the newest "
                                    f"{report.measured_on:,}"))
        console.print(Text.assemble(f"precision {report.precision:.1%} (target 80%), recall {report.recall:.1%} "
                                    f"(target 60%) at threshold {report.threshold:.3f}: ",
                                    ("meets the targets", "bold green") if report.meets_targets else
                                    ("misses the targets: the shipped model stays", "bold red")))
        if out.get("written"):
            console.print(Text.assemble(("✓ ", "green"), "written to ", clean(str(out["written"])),
                                        "; set ORDERLOOM_ABUSE_MODEL_FILE to it and restart to use it"))
    if not report.meets_targets:
        raise typer.Exit(1)


@returns_app.command("policy")
def returns_policy(ctx: typer.Context,
                   set_: Annotated[list[str] | None, typer.Option("--set", help="SETTING=VALUE (JSON values allowed), "
                                                                  "e.g. default_window_days=45 or "
                                                                  "final_sale_categories='[\"beauty\"]'")] = None,
                   actor: Annotated[str, typer.Option("--actor", help="who changes it (audited)")] = "cli",
                   note: Annotated[str, typer.Option("--note", help="why")] = "",
                   as_json: JsonFlag = False) -> None:
    """Show the return policy; with --set, store a new version changed by those settings."""
    settings = _pairs(set_, "--set")
    with _running(ctx) as application:
        if settings:
            application.returns.set_policy(settings, actor, note)
        current = application.returns.policy()
    if as_json:
        _echo_json(current)
        return
    table = Table(title=f"Return policy, version {current['version']}", title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    for key, value in current["policy"].items():
        table.add_row(key, _t(json.dumps(value)))
    _out().print(table)


@returns_app.command("rates")
def returns_rates(ctx: typer.Context, days: Annotated[int, typer.Option("--days", min=1, max=730)] = 90,
                  as_json: JsonFlag = False) -> None:
    """Return rates (units returned / units shipped) by SKU, channel and segment, and returns by reason."""
    with _running(ctx) as application:
        report = application.returns.analytics(days)
    if as_json:
        _echo_json(report)
        return
    console = _out()
    for dim in ("sku", "channel", "segment"):
        table = Table(title=f"Return rate by {dim} ({days} days)", title_justify="left")
        for col in (dim, "shipped", "returned", "rate"):
            table.add_column(col, justify="left" if col == dim else "right")
        for r in report[dim][:20]:
            rate = f"{r['return_rate']:.1%}" if r["return_rate"] is not None else "-"
            table.add_row(_t(r["key"]), str(r["sold"]), str(r["returned"]), rate)
        console.print(table)
    reasons = Table(title="Returns by reason", title_justify="left")
    for col in ("reason", "units", "share"):
        reasons.add_column(col, justify="left" if col == "reason" else "right")
    for r in report["reason"]:
        reasons.add_row(_t(r["key"]), str(r["returned"]), f"{r['share']:.0%}" if r["share"] is not None else "")
    console.print(reasons)


@exceptions_app.command("policy")
def exceptions_policy(ctx: typer.Context,
                      set_: Annotated[list[str] | None, typer.Option("--set", help="SETTING=VALUE (JSON values "
                                                                     "allowed), e.g. auto_reroute=false")] = None,
                      actor: Annotated[str, typer.Option("--actor", help="who changes it (audited)")] = "cli",
                      note: Annotated[str, typer.Option("--note", help="why")] = "",
                      as_json: JsonFlag = False) -> None:
    """Show the resolution policy; with --set, store a new version changed by those settings."""
    settings = _pairs(set_, "--set")
    with _running(ctx) as application:
        if settings:
            application.exceptions.set_policy(settings, actor, note)
        policy = application.exceptions.policy()
    if as_json:
        _echo_json(policy)
        return
    table = Table(title=f"Resolution policy v{policy.get('version')} {clean(policy.get('name', ''))}",
                  title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    for key, value in policy.items():
        if key not in ("version", "name"):
            table.add_row(_t(key), _t(json.dumps(value, default=str) if isinstance(value, dict | list) else value))
    _out().print(table)


@exceptions_app.command("sweep")
def exceptions_sweep(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Open a milestone case for each order not progressing as expected."""
    with _running(ctx) as application:
        result = application.exceptions.sweep_milestones()
    if as_json:
        _echo_json(result)
        return
    _out().print(f"swept at {clean(result['checked_at'])}: {len(result['opened'])} milestone case(s) open")


# -- delivery promise ------------------------------------------------------------------------------

def _basket(items: list[str]) -> list[object]:
    """SKU:QTY arguments as (sku, quantity) pairs. Anything malformed goes on as typed, so the engine's
    check names every bad line at once."""
    lines: list[object] = []
    for item in items:
        sku, sep, qty = item.rpartition(":")
        if not sep or not sku:
            lines.append(item)
        else:
            lines.append((sku, int(qty) if INTEGER.match(qty.strip()) else qty))
    return lines


@app.command("promise")
def promise_command(ctx: typer.Context,
                    items: Annotated[list[str], typer.Argument(metavar="SKU:QTY...", help="the basket")],
                    to: Annotated[str, typer.Option("--to", metavar="ZIP", help="destination ZIP code")],
                    country: Annotated[str, typer.Option("--country", help="destination country")] = "US",
                    channel: Annotated[str | None, typer.Option("--channel", help="promise for this channel "
                                                                "(its priority, B2B nodes and caps)")] = None,
                    as_json: JsonFlag = False) -> None:
    """Earliest delivery date per service level for a basket, with the nodes and a confidence."""
    with _running(ctx) as application:
        result = application.promiser.promise(_basket(items), to, country, channel)
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    console = _out()
    table = Table(title=Text.assemble("Delivery promise to ZIP3 ", (clean(result.destination), "bold"), " as of ",
                                      result.as_of.strftime("%Y-%m-%d %H:%M UTC")), title_justify="left")
    for col in ("service", "delivers", "confidence", "ships from", "why not"):
        table.add_column(col, justify="right" if col == "confidence" else "left")
    earliest = result.earliest
    for o in result.options:
        if not o.possible:
            why = "; ".join(f"line {r.line_no} {r.sku}: {r.code} ({r.detail})" for r in o.reasons)
            table.add_row(_t(o.service_level), Text("not possible", style="red"), "", "", _t(why))
            continue
        ships = ", ".join(f"{s.node} via {s.carrier} on {s.ship_date:%a %m-%d} "
                          f"({sum(x.quantity for x in s.lines)} u)" for s in o.shipments)
        assert o.delivery_date is not None
        style = "bold green" if o is earliest else ""
        table.add_row(_t(o.service_level, style), Text(f"{o.delivery_date:%a %Y-%m-%d}", style=style),
                      f"{(o.confidence or 0) * 100:.1f}%", _t(ships), "")
    console.print(table)


@app.command("serve")
def serve(ctx: typer.Context,
          host: Annotated[str, typer.Option(help="address to listen on (keep 127.0.0.1 unless behind a proxy)")]
          = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
          simulator: Annotated[bool, typer.Option("--simulator/--no-simulator",
                                                  help="feed a stream of demo orders, warehouse and carrier events "
                                                       "(turn off for real use)")] = True,
          rate: Annotated[float, typer.Option("--orders-per-minute", min=0.1, max=600,
                                              help="the simulator's order rate")] = 12.0,
          seed: Annotated[bool, typer.Option("--seed/--no-seed", help="seed the demo network when the database "
                                             "is empty")] = True,
          status_every: Annotated[float, typer.Option("--status-every", min=0, help="seconds between status lines "
                                                      "(0: none)")] = 30.0) -> None:
    """Run Orderloom: migrate, seed the demo when empty, start the model, serve the API and dashboard on
    http://127.0.0.1:8000, and feed it with the channel simulator. Ctrl-C stops it cleanly."""
    from api.http.observability import configure_logging
    from api.serve import serve as run_server

    console = _out()
    with _running(ctx) as application:
        settings = application.settings
        configure_logging(settings.log_level, settings.log_format, settings.log_file)
        console.print(Text.assemble(("Orderloom ", "bold"), "over ", clean(_safe_url(str(application.engine.url))),
                                    f" (schema migrated); logs as {settings.log_format} to ",
                                    clean(str(settings.log_file))))
        try:
            run_server(application, console, host=host, port=port, simulator=simulator, orders_per_minute=rate,
                       status_every=status_every, seed=seed)
        except RuntimeError as err:
            raise _fail(Text.assemble(("error ", "bold red"), ("serve.failed", "red"), ": ", clean(err))) from None
    _exit_past_native_threads()


def _exit_past_native_threads() -> None:
    """End the process once `serve` has stopped cleanly, without the interpreter's own teardown.

    Native libraries run threads Python cannot stop: the bundled llama.cpp server (it has no stop call; its
    destructor waits for a generation still running, or it may still be loading the model), and ONNX Runtime
    and Chroma under an email the API was reading when Ctrl-C came (stopping waits 2 s for it; the email is
    stored and read again after the next start). Interpreter teardown with one of them mid-call hangs or
    aborts (`terminate called without an active exception`, SIGABRT). Everything is committed and closed by
    now, so the process ends here, with exit code 0."""
    import logging
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


# -- intake ----------------------------------------------------------------------------------------

LlmOption = Annotated[str, typer.Option("--llm", help="local (bundled model), openai (configured endpoint) or fake "
                                        "(the deterministic rules baseline, no model)")]


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(64 * 1024 * 1024 + 1)
    except OSError as exc:
        raise _fail(Text.assemble(("error ", "bold red"), ("intake.file", "red"), ": cannot read ", clean(path),
                                  ": ", clean(exc.strerror or exc))) from None


def _intake_model(kind: str) -> Any:
    if kind not in ("local", "openai", "fake"):
        raise _report_error(e.ValidationFailed(f"unknown model {kind!r}", problems=[
            e.Problem("validation.llm", "--llm", f"unknown model {kind!r}", "use local, openai or fake")]))
    from agents.llm import chat_model

    if kind == "fake":
        from agents.intake.rules import rules_handler

        return chat_model("fake", handler=rules_handler)
    return chat_model(kind)


@intake_app.command("email")
def intake_email(ctx: typer.Context, path: str, llm: LlmOption = "local",
                 submit: Annotated[bool, typer.Option(help="store it and place the order when touchless")] = False
                 ) -> None:
    """Read an order email (.eml) into a draft and print it as JSON; exit 2 when the email is unreadable.

    With --submit the email is stored once per Message-ID and settled: a touchless draft becomes an order
    (routed at once), anything else waits for review with its problems."""
    from agents.intake.graph import IntakeAgent
    from engine.intake.mail import EmailUnreadable
    from tools.intake import IntakeLookups

    raw = _read_file(path)
    with _running(ctx) as application:
        from engine.adapters.catalog_index import open_catalog_index

        agent = IntakeAgent(_intake_model(llm), IntakeLookups(application.uow, open_catalog_index(application.engine)))
        try:
            result = agent.run(raw)
        except EmailUnreadable as err:
            _echo_json({"status": "rejected", **err.to_dict()})
            raise typer.Exit(EXIT_ERROR) from None
        out: dict[str, Any] = {"status": "draft", "touchless": result.draft.touchless,
                               "draft": result.draft.model_dump(mode="json"), "timings": result.timings}
        if submit:
            stored = application.intake.receive("email", result.draft.reference, raw, result.email.sender,
                                                result.email.subject)
            if stored["duplicate"]:
                out = {"status": stored["status"], "duplicate": True, "document": stored}
            else:
                out = {**application.intake.settle(stored["document_id"], result.draft).to_dict(),
                       "touchless": result.draft.touchless}
    _echo_json(out)


@intake_app.command("edi")
def intake_edi(ctx: typer.Context, path: str,
               submit: Annotated[bool, typer.Option(help="store each set once and place the orders that are "
                                                   "touchless")] = False) -> None:
    """Read an X12 interchange (850s) or an EDIFACT interchange (ORDERS) and print the drafts, not-orders
    and rejections as JSON; exit 2 when the file or any set in it is rejected. With --submit: orders once
    per set/message, plus the acknowledgements (997/855 or ORDRSP)."""
    from engine.intake.edifact import EdifactError
    from engine.intake.x12_errors import X12Error
    from engine.services.edi import _rejection

    raw = _read_file(path)
    with _running(ctx) as application:
        try:
            if submit:
                result = application.edi.receive(raw)
                out: dict[str, Any] = result.to_dict()
                rejected = bool(result.rejections)
            elif application.edi.is_edifact(raw):
                _ic, pairs, found = application.edi.read_edifact(raw)
                out = {"drafts": [d.model_dump(mode="json") | {"touchless": d.touchless} for _, d in pairs],
                       "not_orders": found.not_orders, "rejections": found.rejections, "warnings": found.warnings}
                rejected = bool(found.rejections)
            else:
                intake, drafts = application.edi.read(raw)
                out = {"drafts": [d.model_dump(mode="json") | {"touchless": d.touchless} for d in drafts],
                       "not_orders": [_rejection(r) for r in intake.not_orders],
                       "rejections": [_rejection(r) for r in intake.rejections],
                       "warnings": intake.document.warnings}
                rejected = bool(intake.rejections)
        except (X12Error, EdifactError) as err:
            _echo_json({"status": "rejected", **err.to_dict()})
            raise typer.Exit(EXIT_ERROR) from None
    _echo_json(out)
    if rejected:
        raise typer.Exit(EXIT_ERROR)


access_app = typer.Typer(help="Access: API keys for people and systems (shown once, stored hashed).",
                         no_args_is_help=True)
app.add_typer(access_app, name="access")


@access_app.command("create")
def access_create(ctx: typer.Context, name: Annotated[str, typer.Option("--name")],
                  role: Annotated[str, typer.Option("--role", help="ops, ops_admin, customer, buyer, integration")],
                  customer_id: Annotated[str | None, typer.Option("--customer-id")] = None,
                  account: Annotated[str | None, typer.Option("--account")] = None,
                  scope: Annotated[str | None, typer.Option("--scope", help="channel:web, node:DC-EAST, carrier:NPX")]
                  = None, as_json: JsonFlag = False) -> None:
    """Create a principal and its first API key. The key is printed once; only its hash is kept."""
    with _running(ctx) as application:
        try:
            issued = application.access.create_principal(name=name, role=role, customer_id=customer_id,
                                                         account_code=account, scope=scope, created_by="cli")
        except e.OrderloomError as err:
            raise _report_error(err) from None
    if as_json:
        _echo_json(issued.to_dict())
        return
    _out().print(Text.assemble((f"{issued.principal.role.value} key for {clean(name)}: ", "bold"), issued.key))
    _out().print("Send it as `X-API-Key: <key>` or exchange it at /oauth/token (client_id "
                 f"{issued.key_id}). It is not shown again.")


@access_app.command("list")
def access_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Principals and their keys (ids only, never secrets)."""
    with _running(ctx) as application:
        rows = application.access.principals()
    if as_json:
        _echo_json(rows)
        return
    table = Table(title="Principals", title_justify="left")
    for col in ("id", "name", "role", "bound to", "keys", "revoked"):
        table.add_column(col)
    for r in rows:
        bound = r["customer_id"] or r["account_code"] or r["scope"] or ""
        keys = ", ".join(k["key_id"] + (" (revoked)" if k["revoked"] else "") for k in r["keys"])
        table.add_row(r["principal_id"], clean(r["name"]), r["role"], clean(bound), keys, "yes" if r["revoked"] else "")
    _out().print(table)


@access_app.command("revoke")
def access_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke one API key (and every bearer token its principal holds)."""
    with _running(ctx) as application:
        done = application.access.revoke_key(key_id)
    _out().print(f"key {clean(key_id)} {'revoked' if done else 'was not active'}")


@access_app.command("webhook-secret")
def access_webhook_secret(ctx: typer.Context, carrier: str) -> None:
    """The signing secret to give a carrier for its tracking webhook (derived from the master secret)."""
    with _running(ctx) as application:
        if not _carrier_known(application, carrier):
            raise _fail(Text(f"unknown carrier {clean(carrier)}"))
        _out().print(application.tracking.secret_for(carrier))


def _carrier_known(application: App, carrier: str) -> bool:
    with application.uow(readonly=True) as uow:
        return len(carrier) <= 32 and uow.master.carrier_exists(carrier)


def main() -> None:
    """The `orderloom` console script."""
    app()


if __name__ == "__main__":
    main()


# -- demo faults and the ops assistant -----------------------------------------------------------------

@seed_app.command("faults")
def seed_faults(ctx: typer.Context, seed: Annotated[int, typer.Option("--seed")] = 7,
                as_json: JsonFlag = False) -> None:
    """Place a handful of orders with typical faults (a misspelt city, a ZIP that does not exist, a resubmitted
    basket, a declined payment, a B2B price below the list, a high-value order) and show what the exception
    desk did with each: resolved within policy, or waiting in the queue with a recommendation."""
    from engine.services.demo import demo_faults

    rows: list[dict[str, Any]] = []
    with _running(ctx) as application:
        for fault in demo_faults(seed):
            try:
                order_id = str(application.bus.handle(fault.command)["order_id"])
            except e.DuplicateOrder as dup:
                order_id = str(dup.data.get("order_id"))
                rows.append({"fault": fault.what, "order_id": order_id, "status": "already placed",
                             "expected": fault.expect, "cases": []})
                continue
            if fault.payment is not None:
                application.exceptions.record_payment(order_id, fault.payment[0], fault.payment[1], "demo")
            result = application.exceptions.process(order_id)
            found = [application.exceptions.case(x)
                     for x in dict.fromkeys([*result["auto_resolved"], *result["opened"], *result["open_cases"]])]
            rows.append({"fault": fault.what, "order_id": order_id, "status": result["status"],
                         "expected": fault.expect,
                         "cases": [{"case_id": x["case_id"], "type": x["type"], "status": x["status"],
                                    "recommendation": x["recommendation"]["summary"]} for x in found]})
    if as_json:
        _echo_json(rows)
        return
    table = Table(title="Orders with faults, through the exception desk", title_justify="left")
    for col in ("fault", "order", "now", "case", "what the desk did or recommends"):
        table.add_column(col)
    for row in rows:
        cases: list[dict[str, Any]] = row["cases"] or [{"case_id": "-", "type": "", "status": "",
                                                        "recommendation": ""}]
        for i, x in enumerate(cases):
            did = x["recommendation"] if x["status"] != "auto_resolved" else f"done: {x['recommendation']}"
            table.add_row(clean(row["fault"]) if i == 0 else "", str(row["order_id"]) if i == 0 else "",
                          str(row["status"]) if i == 0 else "", f"{x['case_id']} {x['type']}".strip(), clean(did))
    _out().print(table)


@seed_app.command("returns")
def seed_returns(ctx: typer.Context, count: Annotated[int, typer.Option("--count", min=1, max=50)] = 4,
                 llm: LlmOption = "local", as_json: JsonFlag = False) -> None:
    """Deliver a few allocated demo orders and send something back from each: the return is checked against
    the policy and the customer's history, its parcel routed to the best node, received, and inspected from a
    note (read by the model); sellable units go back into stock and the refund follows."""
    from agents.returns.grader import ConditionGrader
    from evals.simulator import RETURN_STORIES, TOO_SMALL

    model = None if llm == "fake" else _intake_model(llm)
    grader = ConditionGrader(model)
    rows: list[dict[str, Any]] = []
    with _running(ctx) as application:
        with application.uow(readonly=True) as uow:
            candidates = [oid for oid in uow.orders.list_ids(status="allocated", limit=200)  # consumers' orders
                          if (o := uow.orders.get(oid)) is not None and o.customer_id and not o.account_code]
        for i, order_id in enumerate(candidates[:count]):
            with application.uow(readonly=True) as uow:
                held = uow.inventory.reservations(order_id=order_id)
            application.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id,
                                                               idempotency_key=f"demo-return:{order_id}:release"))
            by_node: dict[str, list[c.ShipmentLine]] = {}
            for r in held:
                by_node.setdefault(r.node, []).append(c.ShipmentLine(line_no=int(r.line_no or 0), quantity=r.quantity))
            for node, lines in by_node.items():
                application.bus.handle(c.RecordShipment(
                    order_id=order_id, node=node, carrier="NPX", tracking_number=f"NPXDEMO{order_id}{node}",
                    shipment_id=f"DEMO-{order_id}-{node}", lines=tuple(lines)))
            application.bus.handle(c.MarkDelivered(order_id=order_id, idempotency_key=f"demo-return:{order_id}:dlv"))
            said, notes = RETURN_STORIES[i % len(RETURN_STORIES)]
            # "too small": the next size up where the catalog has one, as an exchange (read as the chat reads it)
            choice = application.returns.exchange_from_words(order_id, "I need a size up") \
                if i % len(RETURN_STORIES) == TOO_SMALL else None
            swaps = choice.picks if choice is not None else {}
            try:
                rma = application.returns.request(order_id, None, said, requested_by="demo",
                                                  idempotency_key=f"demo-return:{order_id}",
                                                  resolution="exchange" if swaps else "refund",
                                                  exchange_skus=swaps or None)
            except e.ReturnNotEligible as refused:
                rows.append({"rma_id": "-", "order_id": order_id, "said": said, "status": "not eligible: "
                             + "; ".join(p.message for p in refused.problems[:2]), "lines": []})
                continue
            row: dict[str, Any] = {"rma_id": rma["rma_id"], "order_id": order_id, "said": said,
                                   "status": rma["status"], "restock_node": rma["restock_node"], "lines": [],
                                   "exchange": {str(ln["sku"]): ln["exchange_sku"] for ln in rma["lines"]
                                                if ln.get("exchange_sku")}}
            if rma["status"] == "label_issued" and rma["restock_node"]:
                application.returns.receive(rma["rma_id"], rma["restock_node"], f"DEMO-RCV-{rma['rma_id']}", None)
                for j, ln in enumerate(rma["lines"]):
                    note = notes[j % len(notes)]
                    assessment = grader.assess(None, note)
                    out = application.returns.grade(rma["rma_id"], ln["line_no"], assessment.grade.value,
                                                    f"DEMO-GRD-{rma['rma_id']}-{ln['line_no']}",
                                                    note=assessment.note(note), actor="demo inspector")
                    row["lines"].append({"sku": ln["sku"], "note": note, "grade": assessment.grade.value,
                                         "read_by": assessment.source, "disposition": out["line"]["disposition"],
                                         "restocked_at": out.get("restocked_at")})
                    row["status"], row["refund"] = out["status"], out.get("refund_amount")
                    row["replacement"] = out.get("exchange_order_id")
            rows.append(row)
    if as_json:
        _echo_json(rows)
        return
    console = _out()
    console.print(Text("Returns, from the customer's words to the refund", style="bold"))
    for row in rows:
        refund = f", refund {row['refund']}" if row.get("refund") else ""
        if row.get("replacement"):
            swapped = ", ".join(f"{a} for {b}" for a, b in (row.get("exchange") or {}).items())
            refund = f", replacement order {row['replacement']}" + (f" ({swapped})" if swapped else "")
        console.print(Text.assemble((clean(row["rma_id"]), "bold"), clean(f" for order {row['order_id']}: "),
                                    clean(f'"{row["said"]}"'), " -> ", (clean(row["status"]), "bold cyan"),
                                    clean(refund)))
        for ln in row["lines"]:
            where = f" at {ln['restocked_at']}" if ln.get("restocked_at") else ""
            console.print(Text.assemble("  ", clean(ln["sku"]), clean(f' "{ln["note"]}" -> '),
                                        (clean(ln["grade"]), "bold"), clean(f" ({ln['read_by']}) -> "),
                                        clean(ln["disposition"] + where)))


@ops_app.command("ask")
def ops_ask(ctx: typer.Context, message: str, actor: Annotated[str, typer.Option("--actor")] = "ops",
            thread: Annotated[str, typer.Option("--thread", help="conversation id (kept between calls)")] = "cli",
            llm: LlmOption = "local", as_json: JsonFlag = False) -> None:
    """Ask the ops assistant ("what's blocking order 3?", "address exceptions today", "reroute it to Reno").
    A proposed action waits: decide it with `orderloom ops decide`."""
    from agents.ops.checkpoint import make_checkpointer
    from agents.ops.graph import OpsAssistant

    model = None if llm == "fake" else _intake_model(llm)
    with _running(ctx) as application:
        reply = OpsAssistant(application, model, make_checkpointer(_settings(ctx))).ask(thread, message, actor)
    if as_json:
        _echo_json(reply.to_dict())
        return
    for line in reply.answer.splitlines():
        _out().print(clean(line), markup=False, highlight=False)


@ops_app.command("decide")
def ops_decide(ctx: typer.Context, decision: str, actor: Annotated[str, typer.Option("--actor")],
               thread: Annotated[str, typer.Option("--thread")] = "cli",
               param: Annotated[list[str] | None, typer.Option("--param", help="k=v for an edit")] = None,
               note: Annotated[str, typer.Option("--note")] = "", as_json: JsonFlag = False) -> None:
    """Approve, edit (with --param) or reject the proposal the conversation is waiting on."""
    from agents.ops.checkpoint import make_checkpointer
    from agents.ops.graph import OpsAssistant

    if decision not in ("approve", "edit", "reject"):
        raise _report_error(e.ValidationFailed(f"unknown decision {decision!r}", problems=[
            e.Problem("ops.decision", "decision", f"unknown decision {decision!r}", "use approve, edit or reject")]))
    params: dict[str, Any] | None = None
    if param:
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise _report_error(e.ValidationFailed(f"--param {item!r} is not k=v", problems=[
                    e.Problem("ops.param", "--param", f"{item!r} is not k=v", "write e.g. prefer_node=DC-RNO")]))
            try:
                params[key.strip()] = json.loads(value)
            except ValueError:
                params[key.strip()] = value
    with _running(ctx) as application:
        ops = OpsAssistant(application, None, make_checkpointer(_settings(ctx)))
        if ops.pending(thread) is None:
            raise _report_error(e.NotFound(f"conversation {thread!r} has no proposal waiting for a decision"))
        reply = ops.resume(thread, decision, actor, params, note)
    if as_json:
        _echo_json(reply.to_dict())
        return
    for line in reply.answer.splitlines():
        _out().print(clean(line), markup=False, highlight=False)


def _settings(ctx: typer.Context) -> Settings:
    url = ctx.obj.database_url if isinstance(ctx.obj, State) else None
    return Settings(database_url=url) if url else Settings()
