"""A synthetic order history with planted anomalies, for measuring the anomaly model.

History: a few hundred consumers ordering at Poisson rates over several weeks, each with a home address
or two and a card; consumer SKUs in quantities of 1-3, some B2B-ish SKUs in larger case quantities.
The test day repeats the normal behaviour and plants, at a few percent, each pattern the model is meant to
catch: quantity spikes, card testing (one card across many customers), a reshipping address (many names),
a stolen card's first order (new customer, new address, a large basket) and a customer ordering ten times
in a day. Labels say which orders were planted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.exceptions.anomaly import OrderFacts, address_key

START = datetime(2030, 1, 1, tzinfo=UTC)
CONSUMER_SKUS = [f"C-{i:03d}" for i in range(120)]
CASE_SKUS = [f"B-{i:03d}" for i in range(20)]
CHANNELS = ("web", "marketplace", "mobile")


@dataclass(frozen=True)
class Planted:
    order: OrderFacts
    anomalous: bool
    pattern: str  # "" for a normal order
    incident: int = 0  # planted orders of one burst share it (0 for normal orders)


@dataclass(frozen=True)
class Customer:
    key: str
    name: str
    addresses: tuple[str, ...]
    card: str
    rate_per_day: float
    case_buyer: bool


def _customers(rng: random.Random, count: int) -> list[Customer]:
    out = []
    for i in range(count):
        homes = tuple(address_key(f"{rng.randint(1, 9999)} Elm St {i}", f"{rng.randint(10000, 99999)}", "US")
                      for _ in range(rng.choice((1, 1, 1, 2))))
        out.append(Customer(f"customer:C{i:04d}", f"person {i}", homes, f"card-{i:04d}",
                            rng.choice((0.05, 0.1, 0.2, 0.3, 0.5)), rng.random() < 0.08))
    return out


def _basket(rng: random.Random, case_buyer: bool) -> tuple[tuple[str, int], ...]:
    lines: dict[str, int] = {}
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if case_buyer and rng.random() < 0.6:
            lines[rng.choice(CASE_SKUS)] = rng.choice((12, 24, 24, 36, 48))
        else:
            lines[rng.choice(CONSUMER_SKUS)] = rng.choices((1, 2, 3), (0.8, 0.15, 0.05))[0]
    return tuple(lines.items())


def _total(lines: tuple[tuple[str, int], ...]) -> float:
    return round(sum(q * (8.0 if sku.startswith("B-") else 25.0) for sku, q in lines), 2)


def _order(n: int, at: datetime, customer: Customer, rng: random.Random,
           lines: tuple[tuple[str, int], ...] | None = None, **over: object) -> OrderFacts:
    lines = lines or _basket(rng, customer.case_buyer)
    values: dict[str, object] = {
        "order_id": str(n), "placed_at": at, "channel": rng.choice(CHANNELS), "customer_key": customer.key,
        "address_key": rng.choice(customer.addresses), "payment_key": customer.card,
        "recipient_name": customer.name, "lines": lines, "total": _total(lines),
        "segment": "b2b" if customer.case_buyer else "consumer"}
    values.update(over)
    return OrderFacts(**values)  # type: ignore[arg-type]


def generate(seed: int = 7, n_customers: int = 1000, history_days: int = 42, test_days: int = 7,
             anomaly_share: float = 0.08) -> tuple[list[OrderFacts], list[Planted]]:
    """(history, test period): the history is clean; the test period follows the same behaviour and carries
    planted anomalies, about `anomaly_share` of its orders. Both are in time order."""
    rng = random.Random(f"orderloom-anomaly:{seed}")
    customers = _customers(rng, n_customers)
    n = 0

    def days(first: int, count: int) -> list[OrderFacts]:
        nonlocal n
        out = []
        for day in range(first, first + count):
            for cu in customers:
                for _ in range(_poisson(rng, cu.rate_per_day)):
                    n += 1
                    out.append(_order(n, START + timedelta(days=day, seconds=rng.randint(0, 86_399)), cu, rng))
        return sorted(out, key=lambda o: o.placed_at)

    history = days(0, history_days)
    test = [Planted(o, False, "") for o in days(history_days, test_days)]
    target = int(len(test) * anomaly_share / (1 - anomaly_share))
    patterns = ("quantity_spike", "card_testing", "reshipper", "stolen_card", "binge")
    planted = rounds = 0
    while planted < target:
        pattern = patterns[rounds % len(patterns)]
        rounds += 1
        at = START + timedelta(days=history_days + rng.randrange(test_days), seconds=rng.randint(3600, 80_000))
        orders = _plant(pattern, rng, customers, n, at)
        n += len(orders)
        test.extend(Planted(o, True, pattern, rounds) for o in orders)
        planted += len(orders)
    test.sort(key=lambda p: p.order.placed_at)
    return history, test


def _plant(pattern: str, rng: random.Random, customers: list[Customer], n: int, at: datetime) -> list[OrderFacts]:
    cu = rng.choice(customers)
    if pattern == "quantity_spike":
        sku = rng.choice(CONSUMER_SKUS[:30])  # a popular SKU with history
        return [_order(n + 1, at, cu, rng, lines=((sku, rng.choice((40, 60, 100))),))]
    if pattern == "card_testing":
        card = f"stolen-{n}"
        victims = rng.sample(customers, 5)
        return [_order(n + 1 + i, at + timedelta(minutes=3 * i), v, rng, payment_key=card,
                       lines=((rng.choice(CONSUMER_SKUS), 1),)) for i, v in enumerate(victims)]
    if pattern == "reshipper":
        drop = address_key(f"{n} Warehouse Row", "19720", "US")
        buyers = rng.sample(customers, 5)
        return [_order(n + 1 + i, at + timedelta(minutes=20 * i), b, rng, address_key=drop) for i, b in
                enumerate(buyers)]
    if pattern == "stolen_card":
        lines = tuple((sku, 2) for sku in rng.sample(CONSUMER_SKUS, 12))
        fake = Customer(f"customer:NEW{n}", "new person", (address_key(f"{n} Nowhere Ln", "33101", "US"),),
                        f"new-card-{n}", 0.0, False)
        return [_order(n + 1, at, fake, rng, lines=lines)]
    # binge: one customer ordering ten times in a few hours
    return [_order(n + 1 + i, at + timedelta(minutes=15 * i), cu, rng) for i in range(10)]


def _poisson(rng: random.Random, rate: float) -> int:
    limit, k, p = pow(2.718281828459045, -rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def recent_index(orders: list[OrderFacts]) -> dict[str, list[OrderFacts]]:
    """Orders by each key they share (customer, card, address), for the `recent` argument of score()."""
    index: dict[str, list[OrderFacts]] = {}
    for o in orders:
        for key in (o.customer_key, o.payment_key, o.address_key):
            if key:
                index.setdefault(key, []).append(o)
    return index
