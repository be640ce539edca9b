"""A channel simulator: the outside world of a running Orderloom, over its HTTP API.

It plays every system that talks to an order management system, through the same endpoints they use:
- **channels** place orders: the web store and the mobile app (`POST /orders`), the marketplace feed
  (`POST /intake/marketplace`), store tills (`POST /intake/pos`), B2B partners by X12 850
  (`POST /intake/edi`) and by email (`POST /intake/email`, read by the intake agent), with a small share of
  typical faults (an address that cannot be verified, a misspelt city, an unusually large basket) so the
  exception queue has work;
- **warehouses** release allocated orders, pick and ship them (`POST /orders/{id}/release`,
  `/orders/{id}/shipments`), now and then short-pick a line (`/orders/{id}/short-pick`), and receive
  replenishment for what they shipped (`POST /inventory/receipts`);
- **carriers** scan parcels (`POST /carriers/{code}/tracking`, signed like a real carrier's webhook): picked
  up, in transit with an estimated date, out for delivery, delivered; some run late.

Orders arrive as a Poisson stream (`orders_per_minute`); each stage waits a few seconds so a person
watching the dashboard sees orders move. `step()` does one round and says what it did (tests drive it);
`run()` repeats it until stopped. The simulator keeps its parcels in memory: after a restart, parcels it
shipped before stop moving (the orders stay shipped).
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx

from engine.domain import commands as c
from engine.domain.returns import SIZES
from engine.domain.tracking import carrier_payload
from engine.services.demo import ACCOUNTS, demo_orders, demo_plan
from engine.services.tracking import sign

log = logging.getLogger(__name__)

# Seconds each stage waits (a compressed day: a person watching sees an order move within a minute or two).
RELEASE_AFTER = 8.0
SHIP_AFTER = 12.0
SCANS = (("picked_up", 6.0), ("in_transit", 14.0), ("out_for_delivery", 26.0), ("delivered", 36.0))
RETURN_AFTER = 10.0     # a customer asks for a return this long after delivery
RECEIVE_AFTER = 20.0    # the parcel reaches the returns desk this long after the label
# What customers say, and what the inspector then finds (a note the condition grader reads).
TOO_SMALL = 0  # the story below that asks for a size up
RETURN_STORIES = (
    ("it's too small", ("Opened, unused, all accessories present.", "Worn once, light creases.")),
    ("changed my mind", ("Unopened, factory seal intact.", "Opened, unused, all accessories present.")),
    ("arrived damaged", ("Box crushed and the casing is cracked.",)),
    ("it doesn't work", ("Won't turn on, even after charging.",)),
    ("not as described", ("Opened, unused, all accessories present.",)),
)


@dataclass
class Parcel:
    order_id: str
    carrier: str
    tracking_number: str
    shipped: float
    promised: date | None
    late: bool
    sent: int = 0  # scans sent so far


@dataclass
class SimulatorStats:
    placed: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    faults: int = 0
    released: int = 0
    shipped: int = 0
    short_picks: int = 0
    scans: int = 0
    delivered: int = 0
    received_units: int = 0
    returns_requested: int = 0
    returns_received: int = 0
    returns_graded: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "placed": dict(self.placed)}


class ChannelSimulator:
    """The outside world of one Orderloom instance. `client` is an httpx client already pointed at the API
    with an ops key; `carrier_secret(code)` gives the signing secret of a carrier's webhook."""

    def __init__(self, client: httpx.Client, carrier_secret: Callable[[str], str], *, seed: int = 7,
                 orders_per_minute: float = 12.0, fault_rate: float = 0.07, short_pick_rate: float = 0.02,
                 late_rate: float = 0.08, emails: bool = True, clock: Callable[[], float] = time.monotonic,
                 speed: float = 1.0, regular_customer: str | None = None, return_rate: float = 0.08) -> None:
        self.client = client
        self.carrier_secret = carrier_secret
        self.seed = seed
        self.rate = orders_per_minute
        self.fault_rate, self.short_pick_rate, self.late_rate = fault_rate, short_pick_rate, late_rate
        self.emails = emails
        self.clock = clock
        self.speed = speed  # > 1 compresses the stage waits further (tests)
        self.rng = random.Random(f"orderloom-sim:{seed}:{time.time_ns()}")
        self.run_id = f"{int(time.time()):x}"
        self.counter = 0
        self.stats = SimulatorStats()
        self.parcels: list[Parcel] = []
        self.first_seen: dict[tuple[str, str], float] = {}
        self.shipped_units: Counter[tuple[str, str]] = Counter()
        self.last_step: float | None = None
        self.last_replenish = clock()
        plan = demo_plan(seed)
        self.prices = {s.sku: s.unit_price for s in plan.skus}
        self.emails_of: dict[str, str] = {}
        for cmd in (x for _, cmds in plan.master for x in cmds):
            if isinstance(cmd, c.UpsertCustomer):
                self.emails_of[cmd.customer_id] = cmd.email
        self.partners = {code: edi for code, _n, _t, _c, _s, edi, _d in ACCOUNTS}
        self.email_busy = threading.Lock()
        self.regular_customer = regular_customer  # a consumer who orders often (the demo's customer page)
        self.stop = threading.Event()  # `run` hands in its own
        self.return_rate = return_rate
        # Its own random stream: whether and how customers return things never shifts the orders placed.
        self.return_rng = random.Random(f"orderloom-sim-returns:{seed}:{time.time_ns()}")
        self.to_return: list[tuple[str, float]] = []            # (order id, delivered at)
        self.returning: list[tuple[str, float, int]] = []        # (rma id, label at, story)

    # -- one round
    def step(self, arrivals: int | None = None) -> dict[str, Any]:
        """Place the orders due since the last round (or exactly `arrivals`), move the warehouses and the
        carriers on, and replenish what shipped. Every call the API refuses is counted, never raised."""
        now = self.clock()
        if arrivals is None and self.last_step is None:
            arrivals = 3  # the first round opens the day with a few orders: something to watch at once
        elif arrivals is None:
            arrivals = self._poisson(self.rate * (now - self.last_step) / 60.0)
        self.last_step = now
        for _ in range(arrivals):
            if self.stop.is_set():
                return self.stats.to_dict()
            self._place_one()
        for phase in (self._warehouses, self._carriers, self._returns):
            if self.stop.is_set():
                return self.stats.to_dict()
            phase(now)
        if now - self.last_replenish >= 30.0 / self.speed:
            self._replenish()
            self.last_replenish = now
        return self.stats.to_dict()

    def run(self, stop: threading.Event, every: float = 2.0) -> None:
        self.stop = stop  # checked between calls, so a stop never waits for a whole round
        while not stop.is_set():
            try:
                self.step()
            except httpx.HTTPError as err:  # the API is restarting or gone: try again next round
                self.stats.errors += 1
                log.warning("simulator round failed: %s", err)
            except Exception:
                self.stats.errors += 1
                log.exception("simulator round failed")
            stop.wait(every)

    def _poisson(self, mean: float) -> int:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    # -- channels
    def _place_one(self) -> None:
        self.counter += 1
        cmd = demo_orders(self.seed, 1, self.rng.randint(1, 1_000_000))[0]
        cmd = replace(cmd, external_id=f"SIM-{self.run_id}-{self.counter}")
        if self.regular_customer and cmd.account_code is None and self.rng.random() < 0.05:
            cmd = replace(cmd, customer_id=self.regular_customer)
        if self.rng.random() < self.fault_rate:
            cmd = self._fault(cmd)
            self.stats.faults += 1
        if cmd.channel == "email" and not self.emails:
            cmd = replace(cmd, channel="b2b_edi")
        sender = {"web": self._structured, "mobile": self._structured, "marketplace": self._marketplace,
                  "pos": self._pos, "b2b_edi": self._edi, "email": self._email}.get(cmd.channel, self._structured)
        if cmd.channel == "email":
            # The intake agent reads it with the language model: in its own thread, one at a time.
            if self.email_busy.acquire(blocking=False):
                threading.Thread(target=self._email_then_release, args=(cmd,), daemon=True,
                                 name="orderloom-sim-email").start()
            return
        self._send(cmd.channel, sender, cmd)

    def _send(self, channel: str, sender: Callable[[c.PlaceOrder], httpx.Response], cmd: c.PlaceOrder) -> None:
        response = sender(cmd)
        if response.status_code in (200, 201):
            self.stats.placed[channel] += 1
        else:
            self.stats.rejected += 1
            log.info("simulated %s order refused: %s %s", channel, response.status_code, response.text[:300])

    def _email_then_release(self, cmd: c.PlaceOrder) -> None:
        try:
            self._send("email", self._email, cmd)
        except httpx.HTTPError as err:
            self.stats.errors += 1
            log.warning("simulated email failed: %s", err)
        finally:
            self.email_busy.release()

    def _fault(self, cmd: c.PlaceOrder) -> c.PlaceOrder:
        kind = self.rng.choice(("address", "city", "big"))
        if kind == "address":
            return replace(cmd, ship_to={**cmd.ship_to, "postal_code": "00000", "city": "Nowhereville"})
        if kind == "city":
            city = cmd.ship_to["city"]
            return replace(cmd, ship_to={**cmd.ship_to, "city": city[0] + city[2] + city[1] + city[3:]
                                         if len(city) > 3 else city})
        line = cmd.lines[0]
        qty = max(line.quantity, math.ceil(6000 / float(self.prices.get(line.sku, Decimal(50)))))
        return replace(cmd, lines=(replace(line, quantity=qty),))

    def _structured(self, cmd: c.PlaceOrder) -> httpx.Response:
        body = {"channel": cmd.channel, "external_id": cmd.external_id, "ship_to": cmd.ship_to,
                "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in cmd.lines],
                "customer_id": cmd.customer_id, "account_code": cmd.account_code}
        return self.client.post("/orders", json=body, headers={"Idempotency-Key": cmd.external_id})

    def _marketplace(self, cmd: c.PlaceOrder) -> httpx.Response:
        a = cmd.ship_to
        payload = {"AmazonOrderId": cmd.external_id,
                   "ShippingAddress": {"Name": a["name"], "AddressLine1": a["line1"], "City": a["city"],
                                       "StateOrRegion": a["state"], "PostalCode": a["postal_code"],
                                       "CountryCode": a["country"]},
                   "OrderItems": [{"SellerSKU": ln.sku, "QuantityOrdered": ln.quantity,
                                   "ItemPrice": {"Amount": str(self.prices.get(ln.sku, Decimal(0)) * ln.quantity),
                                                 "CurrencyCode": "USD"}} for ln in cmd.lines]}
        return self.client.post("/intake/marketplace", json=payload, headers={"Idempotency-Key": cmd.external_id})

    def _pos(self, cmd: c.PlaceOrder) -> httpx.Response:
        a = cmd.ship_to
        payload = {"store": self.rng.choice(("ST-BKN", "ST-CHI", "ST-LAX", "ST-SEA")), "register": "1",
                   "receipt": cmd.external_id, "fulfilment": "ship", "customer": {"name": a["name"]},
                   "ship_to": {k: a[k] for k in ("line1", "city", "state", "postal_code", "country")},
                   "lines": [{"sku": ln.sku, "qty": ln.quantity, "price": str(self.prices.get(ln.sku, Decimal(0)))}
                             for ln in cmd.lines]}
        return self.client.post("/intake/pos", json=payload, headers={"Idempotency-Key": cmd.external_id})

    def _edi(self, cmd: c.PlaceOrder) -> httpx.Response:
        partner = self.partners.get(cmd.account_code or "") or "CASCADEOUTFIT"
        return self.client.post("/intake/edi", content=x12_850(cmd, partner, self.counter),
                                headers={"Content-Type": "application/edi-x12"})

    def _email(self, cmd: c.PlaceOrder) -> httpx.Response:
        return self.client.post("/intake/email", content=po_email(cmd, self.emails_of.get(cmd.customer_id or "")),
                                headers={"Content-Type": "message/rfc822"}, timeout=600)

    # -- warehouses
    def _due(self, status: str, order_id: str, now: float, wait: float) -> bool:
        seen = self.first_seen.setdefault((status, order_id), now)
        return now - seen >= wait / self.speed

    def _orders(self, status: str) -> list[dict[str, Any]]:
        response = self.client.get("/orders", params={"status": status, "limit": 100})
        return response.json() if response.status_code == 200 else []

    def _warehouses(self, now: float) -> None:
        for order in self._orders("allocated"):
            if self.stop.is_set():
                return
            if self._due("allocated", order["order_id"], now, RELEASE_AFTER) \
                    and self.client.post(f"/orders/{order['order_id']}/release").status_code == 200:
                self.stats.released += 1
        for order in self._orders("released"):
            if self.stop.is_set():
                return
            if self._due("released", order["order_id"], now, SHIP_AFTER):
                self._ship(order["order_id"], now)
        live = {k for k in self.first_seen if k[0] in ("allocated", "released")}
        if len(live) > 5000:  # forget orders long gone from those states
            for k in list(live)[:2500]:
                self.first_seen.pop(k, None)

    def _ship(self, order_id: str, now: float) -> None:
        order = self.client.get(f"/orders/{order_id}").json()
        decisions = self.client.get(f"/orders/{order_id}/decisions").json()
        carriers = {}
        for d in decisions if isinstance(decisions, list) else []:
            if d.get("outcome") == "committed":
                carriers = {s["node"]: s["carrier"] for s in d["explanation"].get("shipments", [])}
        by_node: dict[str, list[dict[str, int]]] = {}
        for r in order.get("reservations", []):
            by_node.setdefault(r["node"], []).append({"line_no": r["line_no"], "quantity": r["quantity"]})
        if not by_node:
            return
        if self.rng.random() < self.short_pick_rate:
            node, lines = next(iter(by_node.items()))
            response = self.client.post(f"/orders/{order_id}/short-pick", json={
                "node": node, "line_no": lines[0]["line_no"], "short": 1, "reference": f"SIM-SP-{order_id}"})
            if response.status_code == 200:
                self.stats.short_picks += 1
            return
        tracking = self.client.get(f"/orders/{order_id}/tracking").json()
        promised = _date(tracking.get("promised_delivery")) if isinstance(tracking, dict) else None
        skus = {ln["line_no"]: ln["sku"] for ln in order.get("lines", [])}
        for node, lines in by_node.items():
            carrier = carriers.get(node) or "NPX"
            number = f"{carrier}{self.rng.randrange(10**11, 10**12)}"
            response = self.client.post(f"/orders/{order_id}/shipments", json={
                "node": node, "lines": lines, "carrier": carrier, "tracking_number": number,
                "shipment_id": f"SIM-{order_id}-{node}"})
            if response.status_code not in (200, 201):
                log.info("simulated shipment refused: %s %s", response.status_code, response.text[:300])
                continue
            self.stats.shipped += 1
            for ln in lines:
                self.shipped_units[(skus.get(ln["line_no"], ""), node)] += ln["quantity"]
            self.parcels.append(Parcel(order_id, carrier, number, now, promised,
                                       late=self.rng.random() < self.late_rate))

    def _replenish(self) -> None:
        """Each warehouse receives what it shipped since the last delivery (replenishment to par)."""
        for (sku, node), units in sorted(self.shipped_units.items()):
            if not sku or units <= 0:
                continue
            response = self.client.post("/inventory/receipts", json={
                "sku": sku, "node": node, "quantity": units,
                "reference": f"SIM-ASN-{self.run_id}-{self.rng.randrange(10**9)}"})
            if response.status_code in (200, 201):
                self.stats.received_units += units
        self.shipped_units.clear()

    # -- carriers
    def _carriers(self, now: float) -> None:
        keep: list[Parcel] = []
        for p in self.parcels:
            due = [s for i, s in enumerate(SCANS) if i >= p.sent and now - p.shipped >= s[1] / self.speed]
            if due:
                self._scan(p, [s[0] for s in due])
            if p.sent < len(SCANS):
                keep.append(p)
        self.parcels = keep

    def _scan(self, p: Parcel, statuses: list[str]) -> None:
        at = datetime.now(UTC) - timedelta(seconds=1)
        eta = p.promised or (at.date() + timedelta(days=3))
        events = []
        for status in statuses:
            ev: dict[str, Any] = {"event_id": f"{p.tracking_number}-{status}", "status": status, "occurred_at": at,
                                  "location": "", "description": status.replace("_", " ")}
            if status == "in_transit":
                if p.late:  # the carrier's date slips past the promise
                    ev.update(status="delayed", description="weather delay at hub",
                              estimated_delivery=eta + timedelta(days=2))
                else:
                    ev["estimated_delivery"] = eta
            events.append(ev)
        body = json.dumps(carrier_payload(p.carrier, p.tracking_number, events)).encode()
        signature = sign(self.carrier_secret(p.carrier), body)
        response = self.client.post(f"/carriers/{p.carrier}/tracking", content=body, headers={
            "Content-Type": "application/json", "X-Orderloom-Signature": signature})
        if response.status_code in (200, 201):
            p.sent += len(statuses)
            self.stats.scans += len(statuses)
            self.stats.delivered += "delivered" in statuses
            if "delivered" in statuses and self.return_rng.random() < self.return_rate:
                self.to_return.append((p.order_id, self.clock()))
        else:
            log.info("simulated scan refused: %s %s", response.status_code, response.text[:300])
            p.sent = len(SCANS)  # a carrier gives up on a parcel the system refuses


    # -- customers send things back; the returns desk receives and inspects them
    def _size_up(self, order_id: str) -> dict[str, Any]:
        got = self.client.get(f"/orders/{order_id}/returns/options")
        lines = got.json().get("lines", []) if got.status_code == 200 else []
        swaps = {ln["line_no"]: _next_size(ln) for ln in lines}
        if not any(swaps.values()):
            return {}
        return {"resolution": "exchange", "lines": [
            {"line_no": ln["line_no"], "quantity": ln["returnable"], "reason": "size_or_fit",
             **({"exchange_sku": swaps[ln["line_no"]]} if swaps[ln["line_no"]] else {})} for ln in lines]}

    def _returns(self, now: float) -> None:
        due = [(o, t) for o, t in self.to_return if now - t >= RETURN_AFTER / self.speed]
        self.to_return = [(o, t) for o, t in self.to_return if now - t < RETURN_AFTER / self.speed]
        for order_id, _ in due:
            story = self.return_rng.randrange(len(RETURN_STORIES))
            body: dict[str, Any] = {"reason_text": RETURN_STORIES[story][0]}
            if story == TOO_SMALL:  # a size up where the catalog has one: an exchange, not a refund
                body.update(self._size_up(order_id))
            response = self.client.post(f"/orders/{order_id}/returns", json=body,
                                        headers={"Idempotency-Key": f"sim-return-{self.run_id}-{order_id}"})
            if response.status_code != 201:
                log.info("simulated return refused: %s %s", response.status_code, response.text[:300])
                continue
            self.stats.returns_requested += 1
            self.returning.append((response.json()["rma_id"], now, story))
        keep = []
        for rma_id, at, story in self.returning:
            if now - at < RECEIVE_AFTER / self.speed:
                keep.append((rma_id, at, story))
                continue
            rma = self.client.get(f"/returns/{rma_id}").json()
            if rma.get("status") == "requested":  # a person has not decided yet
                keep.append((rma_id, at, story))
                continue
            if rma.get("status") not in ("label_issued", "in_transit", "authorised") or not rma.get("restock_node"):
                continue
            got = self.client.post(f"/returns/{rma_id}/receipts", json={
                "node": rma["restock_node"], "reference": f"SIM-RR-{rma_id}"})
            if got.status_code != 200:
                continue
            self.stats.returns_received += 1
            for ln in rma["lines"]:
                note = self.return_rng.choice(RETURN_STORIES[story][1])
                graded = self.client.post(f"/returns/{rma_id}/grades", json={
                    "line_no": ln["line_no"], "reference": f"SIM-RG-{rma_id}-{ln['line_no']}",
                    "inspection": {"note": note}})
                self.stats.returns_graded += graded.status_code == 200
        self.returning = keep


def _next_size(line: dict[str, Any]) -> str | None:
    """The variant one size up in the same colour, from a returns-options line (its size and colour as the
    catalog gives them)."""
    size = line.get("size")
    if size not in SIZES or SIZES.index(size) + 1 >= len(SIZES):
        return None
    up = SIZES[SIZES.index(size) + 1]
    return next((v["sku"] for v in line["variants"] if v.get("size") == up and v.get("color") == line.get("color")),
                None)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def x12_850(cmd: c.PlaceOrder, partner: str, control: int) -> bytes:
    """One X12 850 (004010) interchange for the order, from `partner` (its EDI id) to Orderloom."""
    now = datetime.now(UTC)
    a = cmd.ship_to
    ctl = f"{control % 10**9:09d}"
    body = ["ST*850*0001", f"BEG*00*SA*{cmd.external_id}**{now:%Y%m%d}", "CUR*BY*USD",
            f"N1*ST*{_x12(a['name'])}*92*0001", f"N3*{_x12(a['line1'])}",
            f"N4*{_x12(a['city'])}*{a['state']}*{a['postal_code']}*US"]
    for i, ln in enumerate(cmd.lines, start=1):
        body.append(f"PO1*{i}*{ln.quantity}*EA***VP*{ln.sku}")
    body.append(f"CTT*{len(cmd.lines)}")
    body.append(f"SE*{len(body) + 1}*0001")
    return (f"ISA*00*          *00*          *ZZ*{partner:<15}*ZZ*ORDERLOOM      *{now:%y%m%d}*{now:%H%M}*U*00401*"
            f"{ctl}*0*P*>~\nGS*PO*{partner}*ORDERLOOM*{now:%Y%m%d}*{now:%H%M}*{control % 10**6}*X*004010~\n"
            + "~\n".join(body) + f"~\nGE*1*{control % 10**6}~\nIEA*1*{ctl}~\n").encode()


def _x12(text: str) -> str:
    return "".join(ch for ch in text if ch not in "*~>^").strip()[:60] or "-"


def po_email(cmd: c.PlaceOrder, sender: str | None) -> bytes:
    """A buyer's purchase order as a plain-text email, the way buyers write them."""
    a = cmd.ship_to
    msg = EmailMessage()
    msg["From"] = sender or "purchasing@example.com"
    msg["To"] = "orders@orderloom.local"
    msg["Subject"] = f"PO {cmd.external_id}"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="buyers.example")
    lines = "\n".join(f"- {ln.quantity} x {ln.sku}" for ln in cmd.lines)
    msg.set_content(f"Hello,\n\nPlease process our purchase order {cmd.external_id}:\n\n{lines}\n\n"
                    f"Ship to:\n{a['name']}\n{a['line1']}\n{a['city']}, {a['state']} {a['postal_code']}\n\n"
                    f"Thank you,\n{a['name']}\n")
    return msg.as_bytes()
