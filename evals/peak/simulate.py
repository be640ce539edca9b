"""The peak-day simulator: history, then a day of orders from every channel with planted faults, each order
screened and routed by the exception desk (`app.exceptions.process`), and every order scored against what
was planted in it."""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain import errors as e
from engine.services.demo import demo_orders, demo_plan, seed_demo

B2C = ("web", "marketplace", "mobile", "pos")
PAID = ("web", "marketplace", "mobile")  # payment arrives with the order
REACHED = ("allocated", "released", "partially_shipped", "shipped", "delivered")
START = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
# Planted per order, as shares of the orders each fault fits (a few % each; price mismatches: of B2B orders).
RATES: dict[str, float] = {
    "address_correctable": 0.03, "address_unverifiable": 0.015, "unknown_sku": 0.01, "price_mismatch": 0.08,
    "payment_declined": 0.015, "fraud_review": 0.01, "duplicate": 0.015, "high_value": 0.005,
    "quantity_spike": 0.01,
}
# Found after placement: on allocated orders.
LATER = ("carrier_outage", "short_pick", "cycle_count")


@dataclass
class Planted:
    number: int
    channel: str
    faults: list[str] = field(default_factory=list)
    order_id: str | None = None
    refused: str | None = None  # the error code when placement refused it


class Clock:
    """The simulation's time: every unit of work reads it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _misspell(city: str, rng: random.Random) -> str:
    """Two neighbouring letters swapped (never across a space: "Ne wYork" is the same words to a reader)."""
    spots = [i for i in range(len(city) - 1) if city[i].isalpha() and city[i + 1].isalpha()
             and city[i].lower() != city[i + 1].lower()]
    if not spots:
        return city + city[-1]
    i = rng.choice(spots)
    return city[:i] + city[i + 1] + city[i] + city[i + 2:]


def _shoppers(seed: int, count: int) -> list[dict[str, str]]:
    """`count` consumers, each with a home address of the demo regions (the demo has 90 named consumers; a
    peak day has thousands of distinct shoppers, who order again to the same address)."""
    homes = [cmd.ship_to for cmd in demo_orders(seed + 1000, count * 2, first=1) if cmd.account_code is None]
    return [{**home, "name": f"{home['name']} {i:05d}", "email": f"shopper{i:05d}@example.com"}
            for i, home in enumerate(homes[:count])]


def _guest(cmd: c.PlaceOrder, rng: random.Random, shoppers: list[dict[str, str]]) -> c.PlaceOrder:
    """The demo order placed by one of the shoppers, at their home address, as a guest (no customer record)."""
    if cmd.account_code:
        return cmd
    return replace(cmd, ship_to=dict(rng.choice(shoppers)), customer_id=None)


class PeakDay:
    def __init__(self, app: App, clock: Clock, seed: int, shoppers: int) -> None:
        self.app, self.clock, self.seed = app, clock, seed
        self.shoppers = _shoppers(seed, shoppers)
        self.rng = random.Random(f"peak:{seed}")
        plan = demo_plan(seed)
        self.skus = [s for s in plan.skus if not s.is_new]
        self.receipts = plan.receipts
        self.orders: list[Planted] = []
        self.route_seconds = 0.0

    def stock_up(self, orders: list[c.PlaceOrder], cover: float) -> int:
        """Buy ahead for the demand to come (`cover` x the units these orders ask for, where the opening stock
        falls short), spread over the nodes in the proportions of the opening stock: the demo network is
        stocked for a few hundred orders, a business that takes thousands a day is stocked for them."""
        demand: Counter[str] = Counter()
        for cmd in orders:
            for ln in cmd.lines:
                demand[ln.sku] += ln.quantity
        opening: dict[str, list[c.ReceiveStock]] = {}
        for r in self.receipts:
            opening.setdefault(r.sku, []).append(r)
        commands = 0
        for sku, units in sorted(demand.items()):
            have = sum(r.quantity for r in opening.get(sku, []))
            need = int(units * cover) - have
            if need <= 0 or not have:
                continue
            for r in opening[sku]:
                self.app.bus.handle(c.ReceiveStock(sku=sku, node=r.node, quantity=max(1, need * r.quantity // have),
                                                   reference=f"peak-stock-up:{sku}"))
                commands += 1
        return commands

    # -- placing -----------------------------------------------------------------------------------

    def _place(self, cmd: c.PlaceOrder, planted: Planted) -> None:
        try:
            placed = self.app.bus.handle(cmd)
        except e.OrderloomError as exc:
            planted.refused = exc.code
            return
        planted.order_id = str(placed["order_id"])
        if cmd.channel in PAID:
            if "payment_declined" in planted.faults:
                self.app.exceptions.record_payment(planted.order_id, "declined", 0.1, detail="insufficient funds",
                                                   instrument=f"card:{cmd.ship_to.get('email', '')}")
            elif "fraud_review" in planted.faults:
                self.app.exceptions.record_payment(planted.order_id, "fraud_review", self.rng.uniform(0.75, 0.95),
                                                   instrument=f"card:{cmd.ship_to.get('email', '')}")
            else:
                self.app.exceptions.record_payment(planted.order_id, "authorized", self.rng.uniform(0.0, 0.3),
                                                   instrument=f"card:{cmd.ship_to.get('email', '')}")
        started = time.perf_counter()
        self.app.exceptions.process(planted.order_id)
        self.route_seconds += time.perf_counter() - started

    def history(self, days: int, per_day: int) -> int:
        """Clean orders, most of them shipped and delivered, so cold-start rules and the anomaly model have data."""
        number = 0
        for _day in range(days):
            self.clock.now = self.clock.now.replace(hour=13, minute=0) + timedelta(days=1)
            placed: list[str] = []
            for cmd in demo_orders(self.seed, per_day, first=number + 1):
                number += 1
                self.clock.advance(seconds=10 * 3600 / per_day)
                planted = Planted(number, cmd.channel)
                self._place(_guest(cmd, self.rng, self.shoppers), planted)
                if planted.order_id:
                    placed.append(planted.order_id)
            self.clock.advance(hours=1)
            self._ship(placed, self.rng)
        return number

    def _ship(self, order_ids: list[str], rng: random.Random) -> None:
        for order_id in order_ids:
            summary = self.app.exceptions.order_summary(order_id)
            shipments = summary.get("routing", {}).get("shipments", [])
            if summary["status"] != "allocated" or len(shipments) != 1 or rng.random() < 0.1:
                continue
            self.app.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id))
            lines = tuple(c.ShipmentLine(line_no=ln["line_no"], quantity=ln["allocated"])
                          for ln in summary["lines"] if ln["allocated"])
            self.app.bus.handle(c.RecordShipment(order_id=order_id, node=shipments[0]["node"], lines=lines,
                                                 carrier=shipments[0]["carrier"]))
            self.app.bus.handle(c.MarkDelivered(order_id=order_id))

    # -- the peak day ------------------------------------------------------------------------------

    def _fault_for(self, cmd: c.PlaceOrder) -> str | None:
        """At most one planted fault, drawn among those that fit the order (price lists are B2B terms; payment
        signals come with paid channels; high value and quantity spikes are consumer patterns)."""
        b2b = cmd.account_code is not None
        fits = {"price_mismatch": b2b, "payment_declined": cmd.channel in PAID, "fraud_review": cmd.channel in PAID,
                "high_value": not b2b, "quantity_spike": not b2b}
        roll = self.rng.random()
        for fault, rate in RATES.items():
            if not fits.get(fault, True):
                continue
            if roll < rate:
                return fault
            roll -= rate
        return None

    def _plant(self, cmd: c.PlaceOrder, fault: str) -> c.PlaceOrder:
        rng = self.rng
        ship = dict(cmd.ship_to)
        lines = list(cmd.lines)
        if fault == "address_correctable":
            ship["city"] = _misspell(ship["city"], rng)
        elif fault == "address_unverifiable":
            ship.update(city="Zzyxqville", postal_code="00000", state="ZZ")
        elif fault == "unknown_sku":
            lines[rng.randrange(len(lines))] = c.NewOrderLine(sku=f"SKU-NOPE-{rng.randint(1000, 9999)}", quantity=1)
        elif fault == "price_mismatch":
            i = rng.randrange(len(lines))
            listed = self.app_list_price(cmd.account_code, lines[i].sku)
            lines[i] = c.NewOrderLine(sku=lines[i].sku, quantity=lines[i].quantity,
                                      unit_price=(listed * Decimal(str(rng.choice((0.85, 0.9, 0.95))))).quantize(
                                          Decimal("0.01")))
        elif fault == "high_value":
            top = sorted(self.skus, key=lambda s: s.unit_price, reverse=True)[:5]
            sku = rng.choice(top)
            lines = [c.NewOrderLine(sku=sku.sku, quantity=int(Decimal("5200") / sku.unit_price) + 1)]
        elif fault == "quantity_spike":
            lines = [c.NewOrderLine(sku=lines[0].sku, quantity=rng.choice((40, 60, 80)))]
        return replace(cmd, ship_to=ship, lines=tuple(lines))

    def app_list_price(self, account: str | None, sku: str) -> Decimal:
        from engine.services.handlers.orders import list_price

        with self.app.uow(readonly=True) as uow:
            acc = uow.master.get_account(account) if account else None
            price = list_price(uow, acc.price_list_code if acc else None, sku)
        return price or Decimal("1")

    def peak(self, first: int, count: int) -> None:
        self.clock.now = self.clock.now.replace(hour=12, minute=0) + timedelta(days=1)
        recent: list[c.PlaceOrder] = []
        step = 14 * 3600 / count
        for n, cmd in enumerate(demo_orders(self.seed, count, first=first)):
            self.clock.advance(seconds=step)
            cmd = _guest(cmd, self.rng, self.shoppers)
            fault = self._fault_for(cmd)
            if fault == "duplicate" and recent:
                original = self.rng.choice(recent[-5:])  # resubmitted minutes later
                cmd = replace(original, external_id=f"{original.external_id}-R")
            elif fault == "duplicate":
                fault = None
            elif fault is not None:
                cmd = self._plant(cmd, fault)
            planted = Planted(first + n, cmd.channel, [fault] if fault else [])
            self.orders.append(planted)
            self._place(cmd, planted)
            if not fault:
                recent.append(cmd)

    def _reserved_at(self, order_id: str, line_no: int) -> str:
        """The node holding a line's stock (a split order ships lines from different nodes)."""
        with self.app.uow(readonly=True) as uow:
            live = [r for r in uow.inventory.reservations(order_id=order_id) if r.line_no == line_no]
        return max(live, key=lambda r: r.outstanding).node

    def later_faults(self, share: float) -> None:
        """Short picks, cycle counts and a carrier outage on orders that were allocated cleanly."""
        rng = self.rng
        allocated = [p for p in self.orders if p.order_id and not p.faults
                     and self.app.exceptions.order_summary(p.order_id)["status"] == "allocated"]
        rng.shuffle(allocated)
        k = max(1, int(len(self.orders) * share))
        for p in allocated[:k]:  # short picks at release
            assert p.order_id
            s = self.app.exceptions.order_summary(p.order_id)
            line = next(ln for ln in s["lines"] if ln["allocated"])
            node = self._reserved_at(p.order_id, line["line_no"])
            self.app.bus.handle(c.ReleaseOrderToFulfillment(order_id=p.order_id))
            p.faults.append("short_pick")
            self.app.exceptions.record_short_pick(p.order_id, node, line["line_no"], 1,
                                                  reference=f"peak-short-{p.number}")
        by_id = {q.order_id: q for q in self.orders}
        for p in allocated[k:2 * k]:  # a cycle count one unit below what is reserved
            assert p.order_id
            s = self.app.exceptions.order_summary(p.order_id)
            if p.faults or s["status"] != "allocated":
                continue
            line = next(ln for ln in s["lines"] if ln["allocated"])
            node = self._reserved_at(p.order_id, line["line_no"])
            with self.app.uow(readonly=True) as uow:
                balance = uow.inventory.get_balance(line["sku"], node)
            reserved = balance.reserved if balance is not None else 0
            if reserved <= 0:
                continue
            out = self.app.exceptions.record_cycle_count(line["sku"], node, reserved - 1, f"peak-count-{p.number}")
            # The count breaks the newest reservations at the node: those orders carry the fault. None broken
            # at all would be a fault nobody is told about: the chosen order then counts as its victim.
            broken = [by_id[str(o)] for o in out.get("orders_affected", []) if str(o) in by_id] or [p]
            for q in broken:
                if "cycle_count" not in q.faults:
                    q.faults.append("cycle_count")
        # A carrier outage into the busiest region: every allocated order on it to there is at risk.
        on_carrier: dict[tuple[str, str], list[Planted]] = {}
        for p in allocated[2 * k:]:
            assert p.order_id
            s = self.app.exceptions.order_summary(p.order_id)
            if s["status"] != "allocated" or p.faults:
                continue
            prefix = s["ship_to"]["postal_code"][:3]
            for carrier in {x["carrier"] for x in s["routing"]["shipments"]}:
                on_carrier.setdefault((carrier, prefix), []).append(p)
        (carrier, prefix), hit = max(on_carrier.items(), key=lambda kv: len(kv[1]))
        for p in hit:
            p.faults.append("carrier_outage")
        self.incident = {"carrier": carrier, "prefix": prefix, "orders": len(hit)}
        self.app.exceptions.carrier_incident(carrier, kind="outage", reason="peak-day hub outage",
                                             dest_prefixes=[prefix])


def score(sim: PeakDay) -> dict[str, Any]:
    app = sim.app
    rows: list[dict[str, Any]] = []
    for p in sim.orders:
        row: dict[str, Any] = {"number": p.number, "channel": p.channel, "faults": p.faults, "refused": p.refused,
                               "order_id": p.order_id}
        if p.order_id is None:
            row.update(status="refused", cases=[], touchless=False, escalated=False, auto=False, caught=True)
        else:
            summary = app.exceptions.order_summary(p.order_id)
            status = summary["status"]
            if p.faults:
                row["ship_to"] = summary["ship_to"]
                row["lines"] = [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in summary["lines"]]
            cases = app.exceptions.cases(status=None, order_id=p.order_id, limit=1000)
            people = [x for x in cases if x["status"] == "open" or
                      (x["status"] in ("resolved", "dismissed") and x["resolved_by"] != "engine")]
            row.update(status=status, cases=[{k: x[k] for k in ("case_id", "type", "subtype", "status", "reason",
                                                               "recommendation")} for x in cases],
                       escalated=bool(people), auto=any(x["status"] == "auto_resolved" for x in cases),
                       touchless=status in REACHED and not people, caught=bool(cases),
                       recommended=all(x["recommendation"].get("action") and x["recommendation"].get("summary")
                                       for x in people))
        rows.append(row)
    return summarise(rows, sim)


def _share(n: int, d: int) -> float:
    return round(n / d, 4) if d else 1.0


def summarise(rows: list[dict[str, Any]], sim: PeakDay) -> dict[str, Any]:
    def block(sel: list[dict[str, Any]]) -> dict[str, Any]:
        esc = [r for r in sel if r["escalated"]]
        return {"orders": len(sel), "touchless": _share(sum(r["touchless"] for r in sel), len(sel)),
                "auto_resolved": _share(sum(r["auto"] and not r["escalated"] for r in sel), len(sel)),
                "escalated": _share(len(esc), len(sel)),
                "false_escalations": sum(1 for r in esc if not r["faults"]),
                "missed": sum(1 for r in sel if r["faults"] and not r["caught"])}

    channels = sorted({r["channel"] for r in rows})
    faults: dict[str, Counter[str]] = {}
    for r in rows:
        for f in r["faults"]:
            k = faults.setdefault(f, Counter())
            k["planted"] += 1
            k["refused" if r["refused"] else "escalated" if r["escalated"] else "auto" if r["auto"]
              else "caught" if r["caught"] else "missed"] += 1
    esc = [r for r in rows if r["escalated"]]
    reasons = Counter(f"{x['type']}/{x['subtype']}" for r in esc if not r["faults"] for x in r["cases"]
                      if x["status"] == "open")
    b2c = [r for r in rows if r["channel"] in B2C]
    return {
        "overall": block(rows), "b2c": block(b2c), "by_channel": {ch: block([r for r in rows if r["channel"] == ch])
                                                                   for ch in channels},
        "by_fault": {f: dict(k) for f, k in sorted(faults.items())},
        "recommendation_share": _share(sum(r["recommended"] for r in esc), len(esc)),
        "false_escalation_reasons": dict(reasons.most_common()),
        "false_escalations": [{"order_id": r["order_id"], "channel": r["channel"],
                               "cases": [f"{x['type']}/{x['subtype']}: {x['reason']}" for x in r["cases"]
                                         if x["status"] == "open"]} for r in esc if not r["faults"]],
        "missed_faults": [{"order_id": r["order_id"], "faults": r["faults"], "status": r["status"],
                           "ship_to": r.get("ship_to"), "lines": r.get("lines")}
                          for r in rows if r["faults"] and not r["caught"]],
        "not_reached_no_case": [{"order_id": r["order_id"], "status": r["status"]} for r in rows
                                if not r["touchless"] and not r["escalated"] and r["refused"] is None],
        "incident": getattr(sim, "incident", None), "anomaly_wired": sim.app.exceptions.anomaly is not None,
        "orders": rows,
    }


def run(seed: int, history_days: int, history_per_day: int, peak_orders: int, shoppers: int = 4000,
        later_share: float = 0.02, cover: float = 1.3, workdir: Path | None = None) -> dict[str, Any]:
    """The whole simulation; the report as a plain dict."""
    with tempfile.TemporaryDirectory(prefix="orderloom-peak-") as tmp:
        clock = Clock(START)
        app = bootstrap(database_url=f"sqlite:///{Path(workdir or tmp) / 'peak.db'}", migrate=True, clock=clock,
                        deliver_events=False)
        try:
            t0 = time.perf_counter()
            seed_demo(app.bus, seed)
            sim = PeakDay(app, clock, seed, shoppers)
            sim.stock_up(demo_orders(seed, history_days * history_per_day + peak_orders), cover)
            t1 = time.perf_counter()
            first = sim.history(history_days, history_per_day) + 1
            t2 = time.perf_counter()
            sim.route_seconds = 0.0
            sim.peak(first, peak_orders)
            t3 = time.perf_counter()
            sim.later_faults(later_share)
            report = score(sim)
            t4 = time.perf_counter()
        finally:
            app.close()
    report["timing"] = {"seed_s": round(t1 - t0, 2), "history_s": round(t2 - t1, 2), "peak_s": round(t3 - t2, 2),
                        "later_and_scoring_s": round(t4 - t3, 2), "total_s": round(t4 - t0, 2),
                        "peak_orders_per_s": round(peak_orders / (t3 - t2), 1) if t3 > t2 else 0.0}
    report["params"] = {"seed": seed, "history_days": history_days, "history_per_day": history_per_day,
                        "peak_orders": peak_orders, "shoppers": shoppers, "later_share": later_share, "cover": cover}
    return report
