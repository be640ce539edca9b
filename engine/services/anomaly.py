"""The anomaly model in service: trained on the order history in the database, refreshed as history grows,
and asked about each order the exception desk screens (engine.exceptions.anomaly is the pure model)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.domain.orders import Order
from engine.exceptions.anomaly import AnomalyConfig, AnomalyModel, AnomalySignal, OrderFacts, address_key
from engine.exceptions.detect import party_key
from engine.services.ports import OrderFact
from engine.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)


class UowFactory(Protocol):
    def __call__(self, *, readonly: bool = ...) -> AbstractUnitOfWork: ...


def facts_of(f: OrderFact) -> OrderFacts:
    ship = f.ship_to
    return OrderFacts(
        order_id=f.order_id, placed_at=f.placed_at, channel=f.channel,
        customer_key=party_key(f.customer_id, f.account_code, str(ship.get("email", ""))),
        address_key=address_key(str(ship.get("line1", "")), str(ship.get("postal_code", "")),
                                str(ship.get("country", ""))),
        payment_key=f.payment_key, recipient_name=" ".join(str(ship.get("name", "")).lower().split()),
        lines=tuple((sku, q) for sku, q in f.lines if q > 0), total=float(f.total),
        segment="b2b" if f.account_code else "consumer")


def order_facts(order: Order, payment_key: str) -> OrderFacts:
    ship = order.ship_to
    return OrderFacts(
        order_id=order.order_id, placed_at=order.placed_at, channel=order.channel,
        customer_key=party_key(order.customer_id, order.account_code, ship.email),
        address_key=address_key(ship.line1, ship.postal_code, ship.country), payment_key=payment_key,
        recipient_name=" ".join(ship.name.lower().split()),
        lines=tuple((ln.sku, ln.quantity) for ln in order.lines if ln.quantity > 0), total=float(order.total),
        segment="b2b" if order.account_code else "consumer")


class HistoryAnomalyScorer:
    """Fits the model on the last `window` of orders once there are `min_history` of them, refits after
    `refit_every` new orders or `max_age`; until then it finds nothing (people's cold-start rules apply)."""

    def __init__(self, uow_factory: UowFactory, *, window: timedelta = timedelta(days=90), min_history: int = 200,
                 refit_every: int = 1000, max_age: timedelta = timedelta(hours=6),
                 config: AnomalyConfig | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.uow_factory = uow_factory
        self.window = window
        self.min_history = min_history
        self.refit_every = refit_every
        self.max_age = max_age
        self.config = config
        self._clock = clock
        self._model: AnomalyModel | None = None
        self._fitted_at: datetime | None = None
        self._fitted_on = 0
        self._seen_since = 0
        self._lock = threading.Lock()

    def model(self, now: datetime) -> AnomalyModel | None:
        with self._lock:
            stale = self._fitted_at is None or now - self._fitted_at > self.max_age \
                or self._seen_since >= self.refit_every
            if stale:
                self._fit(now)
            return self._model

    def _fit(self, now: datetime) -> None:
        with self.uow_factory(readonly=True) as uow:
            history = uow.exceptions.order_history(now - self.window)
        self._fitted_at, self._seen_since = now, 0
        if len(history) < self.min_history:
            self._model = None
            return
        self._model = AnomalyModel.fit([facts_of(f) for f in history], self.config)
        self._fitted_on = len(history)
        log.info("anomaly model fitted on %d orders", len(history))

    def __call__(self, order: Order, recent: Sequence[OrderFact], payment_key: str = "") -> Sequence[AnomalySignal]:
        model = self.model(order.placed_at)
        self._seen_since += 1
        if model is None:
            return []
        window = [facts_of(f) for f in recent if f.placed_at <= order.placed_at]
        return model.score(order_facts(order, payment_key), window)

    def describe(self) -> dict[str, Any]:
        return {"fitted": self._model is not None, "orders": self._fitted_on,
                "fitted_at": self._fitted_at.isoformat() if self._fitted_at else None}
