"""A seeded day of orders from every channel, with an evening peak and a marketplace flash-sale spike.

`generate_day(network, seed, orders=5000)` is pure and deterministic. Every parameter is below, with
where it comes from; where there is no public source it is stated as an assumption. None was tuned to
favour a routing method (see evals/scenarios/README.md).

- Channels (`CHANNEL_SHARES`): web 36%, mobile app 28%, marketplace 22%, store POS ship-from-store
  ("endless aisle") 6%, B2B EDI 5%, B2B email 3%. Assumption, in line with public reporting that mobile
  is 40-45% of US online retail traffic and marketplaces take a fifth to a third of a brand's online orders.
- Lines per order (`B2C_LINES`, `B2C_LINE_WEIGHTS`): 1 line 55%, 2 lines 22%, 3 lines 10%, then a
  tail to 15 lines (about 2 lines on average): the shape of published e-commerce lines-per-order
  and units-per-transaction figures (UPT about 1.5-2.5 for apparel and general merchandise). B2B orders
  (`B2B_LINE_WEIGHTS`) have 1-15 lines, about 6 on average (assumption: replenishment orders).
- Quantities: B2C 1 unit (85%) or 2 (15%); B2B whole cases of the SKU's case pack, 1-4 cases (60/25/10/5%).
- SKUs are drawn by the network's Zipf popularity, without repeats within an order.
- Service levels (`SERVICE_SHARES`): B2C ground 78%, expedited (2-day) 16%, next day 6%; POS ground 85%,
  expedited 15%; B2B ground 92%, expedited 8%. Assumption, from the usual share of paid fast shipping.
- Promise: ground 5 business days, expedited 2, next day 1, counted from the order date when placed by
  13:00 Eastern (the checkout's "order by" time), else from the next business day; weekends skipped,
  holidays ignored.
- Destinations: B2C by ZIP3 population weight; POS orders to a ZIP3 in zone 2 of the store (the
  customer lives nearby); B2B to the account's ship-to ZIP3. 30 B2B accounts per seed, their ship-to
  drawn by population, order volume Zipf over accounts, 60% trading by EDI, 35% ship-complete.
- Arrival times (Eastern), by hour (`B2C_HOURS`, `B2B_HOURS`, `POS_HOURS`): B2C low overnight, rising
  through the morning, an evening peak 19:00-22:00 (the well-known evening e-commerce peak); B2B in
  business hours; POS in store hours 10:00-21:00.
- Flash sale: one 30-minute window (seeded, on the hour or half hour between 11:00 and 20:30) in
  which marketplace orders arrive at 10x their usual rate; every extra order holds one of 5 seeded flash
  SKUs (non-hazmat, 1-2 units) and sometimes other lines. The day's channel shares include the spike.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.domain.geo import ZIP3_BY_PREFIX
from engine.domain.network import ServiceLevel
from evals.scenarios.network import Network, Sku

EASTERN = ZoneInfo("America/New_York")
DEFAULT_DAY = date(2026, 3, 10)  # a Tuesday with no holiday near it

CHANNEL_SHARES: dict[str, float] = {
    "web": 0.36, "mobile": 0.28, "marketplace": 0.22, "pos": 0.06, "b2b_edi": 0.05, "email": 0.03}
B2B_CHANNELS = frozenset({"b2b_edi", "email"})

B2C_LINES = tuple(range(1, 16))
B2C_LINE_WEIGHTS = (0.55, 0.22, 0.10, 0.05, 0.03, 0.015, 0.01, 0.008, 0.006, 0.004, 0.003, 0.002, 0.001,
                    0.0005, 0.0005)
B2B_LINE_WEIGHTS = (0.06, 0.09, 0.11, 0.12, 0.12, 0.11, 0.09, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.015, 0.01)
B2C_QTY = ((1, 0.85), (2, 0.15))
B2B_CASES = ((1, 0.60), (2, 0.25), (3, 0.10), (4, 0.05))

SERVICE_SHARES: dict[str, tuple[tuple[ServiceLevel, float], ...]] = {
    "b2c": ((ServiceLevel.GROUND, 0.78), (ServiceLevel.EXPEDITED, 0.16), (ServiceLevel.NEXT_DAY, 0.06)),
    "pos": ((ServiceLevel.GROUND, 0.85), (ServiceLevel.EXPEDITED, 0.15)),
    "b2b": ((ServiceLevel.GROUND, 0.92), (ServiceLevel.EXPEDITED, 0.08)),
}
PROMISE_BUSINESS_DAYS = {ServiceLevel.GROUND: 5, ServiceLevel.EXPEDITED: 2, ServiceLevel.NEXT_DAY: 1}
ORDER_BY = time(13, 0)

# Relative arrivals per Eastern hour 0..23.
B2C_HOURS = (1.2, 0.7, 0.4, 0.3, 0.3, 0.5, 1.0, 1.8, 2.6, 3.3, 3.8, 4.2, 4.6, 4.5, 4.3, 4.2, 4.3, 4.7, 5.3, 6.2,
             6.8, 6.5, 4.8, 2.6)
B2B_HOURS = (0, 0, 0, 0, 0, 0, 0.3, 1.5, 4.0, 6.0, 6.5, 6.0, 5.0, 5.5, 6.0, 5.5, 4.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0)
POS_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 4.0, 3.0, 0, 0, 0)

FLASH_MINUTES = 30
FLASH_MULTIPLIER = 10
FLASH_SKUS = 5
FLASH_EXTRA_LINES = 0.3  # share of flash orders that add other items
B2B_ACCOUNTS = 30
EDI_SHARE, SHIP_COMPLETE_SHARE = 0.6, 0.35


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Order:
    order_id: str
    channel: str
    placed_at: datetime  # Eastern time
    dest_zip3: str
    service: ServiceLevel
    promised_by: date
    lines: tuple[OrderLine, ...]
    ship_complete: bool = False
    account: str | None = None
    store: str | None = None  # the store a POS order was taken in
    flash_sale: bool = False

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class Account:
    code: str
    ship_to: str
    edi: bool
    ship_complete: bool
    volume: float


@dataclass(frozen=True)
class FlashSale:
    starts_at: datetime
    skus: tuple[str, ...]

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=FLASH_MINUTES)


class _Picker:
    """Seeded weighted draws over a fixed population, by bisecting cumulative weights."""

    def __init__(self, items: list[str], weights: list[float]) -> None:
        self.items = items
        self.cum = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def business_days_after(start: date, days: int) -> date:
    current = start
    while days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def promised_by(placed_at: datetime, service: ServiceLevel) -> date:
    """The promised delivery date: business days from today before the order-by time, else from tomorrow."""
    start = placed_at.date()
    if placed_at.time() > ORDER_BY or start.weekday() >= 5:
        start = business_days_after(start, 1)
    return business_days_after(start, PROMISE_BUSINESS_DAYS[service])


def _weighted(rng: random.Random, options: tuple[tuple[int, float], ...]) -> int:
    return rng.choices([v for v, _ in options], weights=[w for _, w in options])[0]


def _instant(rng: random.Random, day: date, hours: tuple[float, ...]) -> datetime:
    hour = rng.choices(range(24), weights=hours)[0]
    return datetime.combine(day, time(hour), EASTERN) + timedelta(seconds=rng.uniform(0, 3600))


def _accounts(rng: random.Random, zip3s: _Picker) -> tuple[Account, ...]:
    # The first account trades by EDI and the second by email, so that both channels always have buyers.
    return tuple(Account(f"ACC-{i:03d}", zip3s.draw(rng), i == 1 or (i != 2 and rng.random() < EDI_SHARE),
                         rng.random() < SHIP_COMPLETE_SHARE, 1.0 / i) for i in range(1, B2B_ACCOUNTS + 1))


def flash_sale(network: Network, seed: int, day: date = DEFAULT_DAY) -> FlashSale:
    """The flash-sale window and SKUs of the day generated for (network, seed, day)."""
    rng = random.Random(f"orderloom-scenarios:{network.seed}:{seed}:{day.isoformat()}:flash")
    slot = rng.randrange(22, 42)  # half hours from 11:00 to 20:30
    starts = datetime.combine(day, time(slot // 2, 30 * (slot % 2)), EASTERN)
    eligible = [s.code for s in network.skus if not s.hazmat]
    return FlashSale(starts, tuple(sorted(rng.sample(eligible, FLASH_SKUS))))


def _window_share(flash: FlashSale) -> float:
    """The share of a day's B2C arrivals that fall in the flash window at the usual rate."""
    hour = flash.starts_at.hour
    return B2C_HOURS[hour] * FLASH_MINUTES / 60 / sum(B2C_HOURS)


def _lines(rng: random.Random, skus: _Picker, by_code: dict[str, Sku], count: int, b2b: bool,
           taken: set[str]) -> list[OrderLine]:
    lines: list[OrderLine] = []
    tries = 0
    while len(lines) < count and tries < count * 20:
        tries += 1
        code = skus.draw(rng)
        if code in taken:
            continue
        taken.add(code)
        qty = _weighted(rng, B2B_CASES) * by_code[code].case_pack if b2b else _weighted(rng, B2C_QTY)
        lines.append(OrderLine(code, qty))
    return lines


def generate_day(network: Network, seed: int, orders: int = 5000, day: date = DEFAULT_DAY) -> list[Order]:
    """A day of `orders` orders over all channels for `network`, sorted by arrival; see the module docstring."""
    rng = random.Random(f"orderloom-scenarios:{network.seed}:{seed}:{day.isoformat()}:orders")
    regions = network.regions
    zip3s = _Picker([r.prefix for r in regions], [float(r.population_k) for r in regions])
    skus = _Picker([s.code for s in network.skus], [s.popularity for s in network.skus])
    by_code = {s.code: s for s in network.skus}
    accounts = _accounts(rng, zip3s)
    account_pickers = {edi: _Picker([a.code for a in accounts if a.edi == edi],
                                    [a.volume for a in accounts if a.edi == edi]) for edi in (True, False)}
    account_by_code = {a.code: a for a in accounts}
    stores = [n for n in network.nodes if n.kind == "store"]
    nearby = {s.code: _Picker(*_near(network, s.code)) for s in stores}
    flash = flash_sale(network, seed, day)
    p_window = _window_share(flash)

    channels = rng.choices(list(CHANNEL_SHARES), weights=list(CHANNEL_SHARES.values()), k=orders)
    marketplace = [i for i, ch in enumerate(channels) if ch == "marketplace"]
    spike = round(len(marketplace) * (FLASH_MULTIPLIER - 1) * p_window / (1 + (FLASH_MULTIPLIER - 1) * p_window))
    spike_orders = set(marketplace[:spike])

    drafts: list[Order] = []
    for i, channel in enumerate(channels):
        b2b = channel in B2B_CHANNELS
        account = store = None
        ship_complete = False
        taken: set[str] = set()
        if i in spike_orders:
            placed = flash.starts_at + timedelta(seconds=rng.uniform(0, FLASH_MINUTES * 60))
            first = rng.choice(flash.skus)
            taken.add(first)
            lines = [OrderLine(first, _weighted(rng, B2C_QTY))]
            if rng.random() < FLASH_EXTRA_LINES:
                extra = rng.choices(B2C_LINES, weights=B2C_LINE_WEIGHTS)[0]
                lines += _lines(rng, skus, by_code, extra, False, taken)
            dest, kind = zip3s.draw(rng), "b2c"
        elif b2b:
            placed = _instant(rng, day, B2B_HOURS)
            acct = account_by_code[account_pickers[channel == "b2b_edi"].draw(rng)]
            account, dest, ship_complete, kind = acct.code, acct.ship_to, acct.ship_complete, "b2b"
            count = rng.choices(B2C_LINES, weights=B2B_LINE_WEIGHTS)[0]
            lines = _lines(rng, skus, by_code, count, True, taken)
        elif channel == "pos" and stores:
            placed = _instant(rng, day, POS_HOURS)
            store = rng.choice(stores).code
            dest, kind = nearby[store].draw(rng), "pos"
            lines = _lines(rng, skus, by_code, rng.choices(B2C_LINES, weights=B2C_LINE_WEIGHTS)[0], False, taken)
        else:
            placed = _instant(rng, day, B2C_HOURS)
            dest, kind = zip3s.draw(rng), "b2c"
            lines = _lines(rng, skus, by_code, rng.choices(B2C_LINES, weights=B2C_LINE_WEIGHTS)[0], False, taken)
        service = ServiceLevel(_pick_service(rng, kind))
        drafts.append(Order("", channel, placed, dest, service, promised_by(placed, service), tuple(lines),
                            ship_complete, account, store, i in spike_orders))
    drafts.sort(key=lambda o: (o.placed_at, o.channel, o.dest_zip3))
    return [_with_id(o, n) for n, o in enumerate(drafts, 1)]


def _pick_service(rng: random.Random, kind: str) -> str:
    options = SERVICE_SHARES[kind]
    return rng.choices([s.value for s, _ in options], weights=[w for _, w in options])[0]


def _near(network: Network, store: str) -> tuple[list[str], list[float]]:
    """ZIP3s in zone 2 of a store, by population (the store's own ZIP3 at least)."""
    home = network.node(store).zip3
    near = [r for r in network.regions if network.zone(store, r.prefix) == 2] or [ZIP3_BY_PREFIX[home]]
    return [r.prefix for r in near], [float(r.population_k) for r in near]


def _with_id(order: Order, number: int) -> Order:
    return dataclasses.replace(order, order_id=f"ORD-{number:06d}")
