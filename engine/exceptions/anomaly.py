"""Anomaly detection upstream of the exception queue: robust statistics learned from the order history.

Pure (standard library only). Statistics are kept per segment (consumer, b2b): a case of 12 is ordinary for
a B2B buyer and a spike for a consumer. `AnomalyModel.fit(history)` learns, in one pass:
- per SKU, the median and MAD (scaled by 1.4826) of the quantity ordered; a SKU with fewer than
  `min_sku_history` orders falls back to the pooled ratio quantity / SKU median across all SKUs (robust to the
  SKU's own scale), and gets no signal while even that is thin;
- per customer and per payment instrument, how many orders they place in a window (the high quantile of
  counts over all windows in history, at least `min_velocity`);
- per channel, a high quantile of order totals, and which customers and addresses were seen at all.

`score(order, recent)` compares one order with the orders of the last `velocity_window` (the caller passes
them) and returns `AnomalySignal`s:
- `quantity_outlier`: a line's robust z-score above `quantity_z` (only high outliers);
- `customer_velocity` / `payment_velocity`: more orders in the window than the learned threshold;
- `payment_shared`: one payment instrument used by `shared_threshold` or more customers or addresses;
- `address_velocity` / `address_shared`: many customers or recipient names shipping to one address;
- `unusual_combination`: a first-time customer, to an address never seen, with a total above the channel's
  high quantile — the classic stolen-card pattern. Deliberately conservative.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

MAD_SCALE = 1.4826


def address_key(line1: str, postal_code: str, country: str) -> str:
    """Street line, postal code and country, lower case with whitespace collapsed."""
    return " ".join(" ".join(str(part).lower().split()) for part in (line1, postal_code, country)).strip()


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    placed_at: datetime
    channel: str
    customer_key: str
    address_key: str
    payment_key: str
    recipient_name: str
    lines: tuple[tuple[str, int], ...]
    total: float
    segment: str = "consumer"  # "b2b" for an account's orders: case quantities and order rhythms differ

    def __post_init__(self) -> None:
        if not isinstance(self.placed_at, datetime) or self.placed_at.tzinfo is None:
            raise ValueError(f"order {self.order_id}: placed_at must be a timezone-aware datetime")
        for i, line in enumerate(self.lines):
            if len(line) != 2 or not isinstance(line[0], str) or isinstance(line[1], bool) \
                    or not isinstance(line[1], int) or line[1] <= 0:
                raise ValueError(f"order {self.order_id}: lines[{i}] must be (sku, positive quantity), got {line!r}")
        if not isinstance(self.total, int | float) or not math.isfinite(self.total) or self.total < 0:
            raise ValueError(f"order {self.order_id}: total must be a finite non-negative number")


@dataclass(frozen=True)
class AnomalySignal:
    kind: str
    score: float
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnomalyConfig:
    quantity_z: float = 6.0
    min_sku_history: int = 20
    min_pooled_history: int = 200
    velocity_window: timedelta = timedelta(hours=24)
    velocity_quantile: float = 0.999
    min_velocity: int = 5
    shared_threshold: int = 3
    address_shared_threshold: int = 4
    total_quantile: float = 0.99

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["velocity_window"] = self.velocity_window.total_seconds()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnomalyConfig:
        values = dict(data)
        values["velocity_window"] = timedelta(seconds=float(values.get("velocity_window", 86400)))
        return cls(**values)


def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return float(ordered[pos])


def _robust(values: Sequence[float]) -> tuple[float, float]:
    mid = float(median(values))
    mad = float(median([abs(v - mid) for v in values])) * MAD_SCALE
    return mid, mad


def _window_counts(events: Iterable[tuple[str, datetime]], window: timedelta) -> list[int]:
    """For each key, the largest number of its events inside any window (one value per key)."""
    by_key: dict[str, list[datetime]] = defaultdict(list)
    for key, at in events:
        if key:
            by_key[key].append(at)
    out = []
    for times in by_key.values():
        times.sort()
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] > window:
                start += 1
            best = max(best, end - start + 1)
        out.append(best)
    return out


@dataclass
class AnomalyModel:
    config: AnomalyConfig
    sku_stats: dict[str, tuple[float, float, int]]  # "segment|sku" -> (median, scaled MAD, orders)
    pooled: tuple[float, float, int]  # ratio quantity / SKU median: (median, scaled MAD, observations)
    customer_velocity: dict[str, float]  # per segment
    payment_velocity: float
    total_quantile: dict[str, float]
    known_customers: frozenset[str]
    known_addresses: frozenset[str]
    orders: int

    @classmethod
    def fit(cls, history: Iterable[OrderFacts], config: AnomalyConfig | None = None) -> AnomalyModel:
        config = config or AnomalyConfig()
        quantities: dict[str, list[float]] = defaultdict(list)
        customers: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        payments: list[tuple[str, datetime]] = []
        totals: dict[str, list[float]] = defaultdict(list)
        known_customers: set[str] = set()
        known_addresses: set[str] = set()
        n = 0
        for order in history:
            n += 1
            for sku, qty in order.lines:
                quantities[f"{order.segment}|{sku}"].append(float(qty))
            customers[order.segment].append((order.customer_key, order.placed_at))
            payments.append((order.payment_key, order.placed_at))
            totals[order.channel].append(order.total)
            if order.customer_key:
                known_customers.add(order.customer_key)
            if order.address_key:
                known_addresses.add(order.address_key)
        sku_stats: dict[str, tuple[float, float, int]] = {}
        ratios: list[float] = []
        for sku, values in quantities.items():
            mid, mad = _robust(values)
            sku_stats[sku] = (mid, mad, len(values))
            if len(values) >= config.min_sku_history and mid > 0:
                ratios.extend(v / mid for v in values)
        pooled = (*_robust(ratios), len(ratios)) if ratios else (1.0, 0.0, 0)
        customer_velocity = {segment: max(float(config.min_velocity), _quantile(
            _window_counts(events, config.velocity_window), config.velocity_quantile))
            for segment, events in customers.items()}
        payment_counts = _window_counts(payments, config.velocity_window)
        return cls(
            config=config, sku_stats=sku_stats, pooled=(float(pooled[0]), float(pooled[1]), int(pooled[2])),
            customer_velocity=customer_velocity,
            payment_velocity=max(float(config.min_velocity), _quantile(payment_counts, config.velocity_quantile)),
            total_quantile={ch: _quantile(v, config.total_quantile) for ch, v in totals.items()},
            known_customers=frozenset(known_customers), known_addresses=frozenset(known_addresses), orders=n)

    # -- scoring ------------------------------------------------------------------------------------

    def score(self, order: OrderFacts, recent: Sequence[OrderFacts]) -> list[AnomalySignal]:
        since = order.placed_at - self.config.velocity_window
        window = [r for r in recent if since <= r.placed_at <= order.placed_at and r.order_id != order.order_id]
        signals: list[AnomalySignal] = []
        signals += self._quantities(order)
        signals += self._velocity(order, window)
        signals += self._shared(order, window)
        if (s := self._combination(order)) is not None:
            signals.append(s)
        return signals

    def _quantities(self, order: OrderFacts) -> list[AnomalySignal]:
        out = []
        for sku, qty in order.lines:
            stats = self.sku_stats.get(f"{order.segment}|{sku}")
            if stats is not None and stats[2] >= self.config.min_sku_history:
                mid, mad, _n = stats
                spread = max(mad, 0.5 * mid, 1.0)
                z = (qty - mid) / spread
                basis = f"its median {mid:g} (MAD {mad:.2g}) over {stats[2]} orders"
            elif stats is not None and self.pooled[2] >= self.config.min_pooled_history and stats[0] > 0:
                # Too few orders of this SKU for its own spread: compare its scale-free ratio with all SKUs'.
                ratio = qty / stats[0]
                mid, mad = self.pooled[0], self.pooled[1]
                z = (ratio - mid) / max(mad, 0.5 * mid, 0.5)
                basis = f"{ratio:.1f}x its median {stats[0]:g}, pooled over SKUs"
            else:
                continue
            if z > self.config.quantity_z:
                out.append(AnomalySignal("quantity_outlier", round(z, 2),
                                         f"quantity {qty} of {sku} is {z:.1f} robust deviations above {basis}",
                                         {"sku": sku, "quantity": qty}))
        return out

    def _velocity(self, order: OrderFacts, window: Sequence[OrderFacts]) -> list[AnomalySignal]:
        out = []
        customer_threshold = self.customer_velocity.get(order.segment, float(self.config.min_velocity))
        for kind, key, threshold, attr in (
                ("customer_velocity", order.customer_key, customer_threshold, "customer_key"),
                ("payment_velocity", order.payment_key, self.payment_velocity, "payment_key")):
            if not key:
                continue
            count = 1 + sum(1 for r in window if getattr(r, attr) == key)
            if count > threshold:
                who = "customer" if kind == "customer_velocity" else "payment instrument"
                out.append(AnomalySignal(kind, round(count / threshold, 2),
                                         f"{count} orders from one {who} in {self._hours()} h; history's high is "
                                         f"{threshold:g}", {"orders_in_window": count, "threshold": threshold}))
        return out

    def _shared(self, order: OrderFacts, window: Sequence[OrderFacts]) -> list[AnomalySignal]:
        out = []
        if order.payment_key:
            same = [r for r in window if r.payment_key == order.payment_key]
            customers = {r.customer_key or r.address_key for r in same} | {order.customer_key or order.address_key}
            addresses = {r.address_key for r in same} | {order.address_key}
            worst = max(len(customers), len(addresses))
            if worst >= self.config.shared_threshold:
                out.append(AnomalySignal("payment_shared", round(worst / self.config.shared_threshold, 2),
                                         f"one payment instrument used by {len(customers)} customers and "
                                         f"{len(addresses)} addresses in {self._hours()} h",
                                         {"customers": len(customers), "addresses": len(addresses)}))
        if order.address_key:
            same = [r for r in window if r.address_key == order.address_key]
            customers = {r.customer_key for r in same if r.customer_key} | ({order.customer_key} - {""})
            names = {r.recipient_name for r in same if r.recipient_name} | ({order.recipient_name} - {""})
            worst = max(len(customers), len(names))
            if worst >= self.config.address_shared_threshold:
                out.append(AnomalySignal("address_shared", round(worst / self.config.address_shared_threshold, 2),
                                         f"{len(customers)} customers and {len(names)} recipient names ship to one "
                                         f"address in {self._hours()} h (a reshipping pattern)",
                                         {"customers": len(customers), "names": len(names)}))
        return out

    def _combination(self, order: OrderFacts) -> AnomalySignal | None:
        if not order.customer_key or order.customer_key in self.known_customers:
            return None
        if not order.address_key or order.address_key in self.known_addresses:
            return None
        high = self.total_quantile.get(order.channel)
        if not high or order.total <= high:
            return None
        return AnomalySignal("unusual_combination", round(order.total / high, 2),
                             f"a first order from a new customer to a new address worth {order.total:.2f}, above "
                             f"{high:.2f} ({self.config.total_quantile:.0%} of {order.channel} orders)",
                             {"total": order.total, "channel_high": high})

    def _hours(self) -> int:
        return round(self.config.velocity_window.total_seconds() / 3600)

    # -- storage --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "sku_stats": {k: list(v) for k, v in self.sku_stats.items()},
                "pooled": list(self.pooled), "customer_velocity": dict(self.customer_velocity),
                "payment_velocity": self.payment_velocity, "total_quantile": dict(self.total_quantile),
                "known_customers": sorted(self.known_customers), "known_addresses": sorted(self.known_addresses),
                "orders": self.orders}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnomalyModel:
        return cls(config=AnomalyConfig.from_dict(data["config"]),
                   sku_stats={k: (float(v[0]), float(v[1]), int(v[2])) for k, v in data["sku_stats"].items()},
                   pooled=(float(data["pooled"][0]), float(data["pooled"][1]), int(data["pooled"][2])),
                   customer_velocity={k: float(v) for k, v in data["customer_velocity"].items()},
                   payment_velocity=float(data["payment_velocity"]),
                   total_quantile={k: float(v) for k, v in data["total_quantile"].items()},
                   known_customers=frozenset(data["known_customers"]),
                   known_addresses=frozenset(data["known_addresses"]), orders=int(data["orders"]))


# -- measuring it ---------------------------------------------------------------------------------

@dataclass
class AnomalyReport:
    labelled: int = 0
    flagged: int = 0
    true_positives: int = 0
    false_positives: int = 0
    anomalies: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.anomalies if self.anomalies else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": round(self.precision, 4), "recall": round(self.recall, 4)}


def evaluate(model: AnomalyModel, labelled: Sequence[tuple[OrderFacts, bool]],
             recent_of: Callable[[OrderFacts], Sequence[OrderFacts]]) -> AnomalyReport:
    """Precision and recall of the model on orders labelled anomalous (True) or normal (False)."""
    report = AnomalyReport(labelled=len(labelled))
    kinds: Counter[str] = Counter()
    for order, anomalous in labelled:
        signals = model.score(order, recent_of(order))
        report.anomalies += anomalous
        if signals:
            report.flagged += 1
            report.true_positives += anomalous
            report.false_positives += not anomalous
            kinds.update({s.kind for s in signals})
    report.by_kind = dict(sorted(kinds.items()))
    return report
