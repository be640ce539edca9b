"""A synthetic population of customers with 180 days of orders and returns, planted abusers among them,
and a day of return requests to score.

Honest customers come in three kinds, because the honest ones are what makes abuse hard to see:
- ordinary shoppers: a return now and then, for the usual reasons;
- bracketers (about 15 %): buy two sizes, return one, often: a high return rate that is not abuse;
- gift givers (about 5 %): whole orders come back, often from the recipient's address.
Abusers (about 6 %) are planted in three patterns:
- wardrobers: buy, wear, return as "changed mind" or "size": the inspector finds the items used;
- swappers: return only the expensive things, whole orders, often from another address;
- serial returners: keep almost nothing, several returns a week.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.domain.geo import PRINCIPAL_ZIP3
from engine.returns.abuse import PastOrder, PastReturn, ReturnHistory, ReturnRequestFacts

DAY0 = datetime(2030, 1, 1, tzinfo=UTC)
HISTORY_DAYS = 180
HONEST_REASONS = ("size_or_fit", "changed_mind", "defective", "damaged_in_transit", "not_as_described",
                  "wrong_item", "ordered_by_mistake")
HONEST_WEIGHTS = (0.35, 0.2, 0.12, 0.08, 0.12, 0.05, 0.08)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    kind: str          # ordinary | bracketer | gifter | wardrober | swapper | serial
    abuser: bool
    history: ReturnHistory
    request: ReturnRequestFacts


def _postal(rng: random.Random) -> str:
    region = rng.choice(PRINCIPAL_ZIP3)
    return f"{region.prefix}{rng.randint(1, 99):02d}"


def population(seed: int, customers: int = 1500, abuser_share: float = 0.06) -> list[Customer]:
    rng = random.Random(f"orderloom-returns:{seed}")
    out = []
    for i in range(customers):
        roll = rng.random()
        if roll < abuser_share:
            kind = rng.choice(("wardrober", "swapper", "serial"))
        elif roll < abuser_share + 0.15:
            kind = "bracketer"
        elif roll < abuser_share + 0.20:
            kind = "gifter"
        else:
            kind = "ordinary"
        out.append(_customer(rng, f"C{seed}-{i:05d}", kind))
    return out


def _customer(rng: random.Random, cid: str, kind: str) -> Customer:
    home = _postal(rng)
    orders_per_week = {"ordinary": 0.3, "bracketer": 1.0, "gifter": 0.4, "wardrober": 0.9, "swapper": 0.6,
                       "serial": 1.5}[kind] * rng.uniform(0.5, 1.5)
    orders: list[PastOrder] = []
    returns: list[PastReturn] = []
    day = rng.uniform(0, 7)
    while day < HISTORY_DAYS:
        at = DAY0 + timedelta(days=day)
        units = rng.choice((1, 1, 2, 2, 3, 4))
        unit_price = rng.lognormvariate(3.4, 0.7)
        if kind == "swapper" and rng.random() < 0.5:
            unit_price *= rng.uniform(3, 6)  # the expensive orders are the ones that come back
        ship_to = home if kind != "gifter" or rng.random() < 0.5 else _postal(rng)
        orders.append(PastOrder(at, units, units * unit_price, ship_to))
        back = _return_for(rng, kind, at, units, unit_price, ship_to, home)
        if back is not None:
            returns.append(back)
        day += rng.expovariate(orders_per_week / 7)
    now = DAY0 + timedelta(days=HISTORY_DAYS)
    last = orders[-1] if orders else PastOrder(now - timedelta(days=10), 1, 50.0, home)
    units = max(1, min(last.units, rng.choice((1, 1, 2))))
    unit_value = last.value / last.units
    from_postal = last.ship_postal
    if kind == "swapper":
        units, unit_value = last.units, unit_value * rng.uniform(1.5, 3)
        from_postal = _postal(rng) if rng.random() < 0.6 else from_postal
    elif (kind == "serial" and rng.random() < 0.4) or (kind == "gifter" and rng.random() < 0.4):
        from_postal = _postal(rng)
    elif kind == "ordinary" and rng.random() < 0.03:
        from_postal = _postal(rng)  # moved house
    request = ReturnRequestFacts(now, units, units * unit_value, from_postal, last.ship_postal)
    abuser = kind in ("wardrober", "swapper", "serial")
    return Customer(cid, kind, abuser, ReturnHistory(tuple(orders), tuple(returns)), request)


def _return_for(rng: random.Random, kind: str, at: datetime, units: int, unit_price: float, ship_to: str,
                home: str) -> PastReturn | None:
    p = {"ordinary": 0.08, "bracketer": 0.5, "gifter": 0.2, "wardrober": 0.55, "swapper": 0.45, "serial": 0.85}[kind]
    if kind == "swapper":
        p = 0.85 if unit_price > 80 else 0.05
    if rng.random() >= p:
        return None
    when = at + timedelta(days=rng.uniform(3, 25))
    if kind in ("wardrober", "serial"):
        reason = rng.choice(("changed_mind", "size_or_fit"))
    elif kind == "swapper":
        reason = rng.choice(("not_as_described", "defective", "changed_mind"))
    elif kind == "bracketer":
        reason = "size_or_fit" if rng.random() < 0.85 else rng.choices(HONEST_REASONS, HONEST_WEIGHTS)[0]
    else:
        reason = rng.choices(HONEST_REASONS, HONEST_WEIGHTS)[0]
    back_units = units if kind in ("swapper", "serial") or (kind == "gifter" and rng.random() < 0.6) \
        else rng.randint(1, units)
    used = {"wardrober": 0.65, "serial": 0.3}.get(kind, 0.05)
    from_postal = ship_to
    if (kind == "swapper" and rng.random() < 0.5) or (kind == "serial" and rng.random() < 0.3):
        from_postal = _postal(rng)
    graded = (rng.random() < used) if reason in ("changed_mind", "size_or_fit") else None
    return PastReturn(when, back_units, back_units * unit_price, reason, from_postal, ship_to,
                      back_units == units, graded)
