"""Carrier webhooks in, milestones and delays out.

- Each carrier posts to its own webhook, signed with HMAC-SHA256 over `<unix time>.<body>` in the header
  `X-Orderloom-Signature: t=<unix time>,v1=<hex>` (five minutes of clock skew allowed). A carrier's secret
  is derived from the engine's webhook master secret (HMAC of the carrier code), so nothing secret is stored
  in the database and rotating the master rotates every carrier's.
- Scans are normalised (engine.domain.tracking) and recorded once (RecordTracking).
- A delay opens a non-blocking `carrier / tracking_delay` case recommending to tell the customer, and the
  notifier tells them. When several orders into one ZIP3 are delayed on the same carrier within a day, it is
  a regional delay: a carrier delay incident is recorded, so routing and the checkout promise add the days.
- `order_tracking` is the order's milestones and its current expected delivery, for customers and ops.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.exceptions import Action, ExceptionType, Flag, Recommendation
from engine.domain.tracking import CUSTOMER_WORDS, TrackingStatus, parse_webhook
from engine.services.delivery_dates import promised_delivery
from engine.services.exceptions import ExceptionDesk
from engine.services.unit_of_work import AbstractUnitOfWork

UowFactory = Callable[..., AbstractUnitOfWork]
SIGNATURE_HEADER = "X-Orderloom-Signature"
SKEW_SECONDS = 300
MAX_BODY = 512 * 1024
REGIONAL_DELAY_ORDERS = 3
REGIONAL_WINDOW = timedelta(hours=24)


def carrier_secret(master: str, carrier: str) -> str:
    return hmac.new(master.encode(), f"tracking:{carrier}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    """The signature header value for `body` (carriers compute the same; the simulator and tests use this)."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, now: float | None = None) -> None:
    """Raise BadSignature unless `header` signs `body` with `secret`, recently."""
    bad = e.BadSignature("the webhook signature is missing, malformed, stale or wrong")
    if not header or len(header) > 300:
        raise bad
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or len(given) != 64:
        raise bad
    if abs((time.time() if now is None else now) - int(stamp)) > SKEW_SECONDS:
        raise bad
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise bad


class TrackingDesk:
    def __init__(self, uow_factory: UowFactory, handle: Callable[[c.Command], Any], desk: ExceptionDesk,
                 master_secret: Callable[[], str]) -> None:
        self.uow_factory = uow_factory
        self.handle = handle
        self.desk = desk
        self.master_secret = master_secret

    def secret_for(self, carrier: str) -> str:
        return carrier_secret(self.master_secret(), carrier)

    def webhook(self, carrier: str, body: bytes, signature: str | None) -> dict[str, Any]:
        """One carrier webhook call: verify, parse, record, act on delays."""
        with self.uow_factory(readonly=True) as uow:
            known = isinstance(carrier, str) and len(carrier) <= 32 and uow.master.carrier_exists(carrier)
            now = uow.now()
        if not known:  # the same answer as a bad signature: nothing about which carriers exist
            raise e.BadSignature("the webhook signature is missing, malformed, stale or wrong")
        verify(self.secret_for(carrier), body, signature)
        if len(body) > MAX_BODY:
            raise e.ValidationFailed("the webhook body is too large", problems=[e.Problem(
                "tracking.body_too_large", "body", f"more than {MAX_BODY} bytes", "send fewer events per call")])
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise e.ValidationFailed("the webhook body is not JSON", problems=[e.Problem(
                "tracking.body_invalid", "body", "not valid JSON", "send a JSON object")]) from None
        return self.record(carrier, parse_webhook(carrier, payload, now=now))

    def record(self, carrier: str, updates: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handle(c.RecordTracking(carrier=carrier, updates=tuple(updates)))
        cases = []
        for delay in result["delays"]:
            evidence = {k: delay[k] for k in ("carrier", "tracking_number", "status", "promised", "new_date")}
            flag = Flag(ExceptionType.CARRIER, "tracking_delay", delay["reason"], evidence,
                        Recommendation(Action.NOTIFY_CUSTOMER, "tell the customer the new delivery date",
                                       "fewer 'where is my order' calls; no order change", {}, 0.8),
                        blocking=False)
            cases.append(self.desk.open_flag(delay["order_id"], flag))
        result["cases"] = [x for x in cases if x]
        if result["delays"]:
            result["incidents"] = self._regional_delays(carrier)
        return result

    def _regional_delays(self, carrier: str) -> list[dict[str, Any]]:
        """Several delayed orders into one ZIP3 on one carrier: a regional delay the promise must know."""
        with self.uow_factory(readonly=True) as uow:
            since = uow.now() - REGIONAL_WINDOW
            delayed = uow.tracking.delayed_orders(carrier, since)
            active = {(i["carrier"], p) for i in uow.exceptions.active_incidents() if i["kind"] == "delay"
                      for p in (i["dest_prefixes"] or ["*"])}
            by_prefix: dict[str, list[str]] = defaultdict(list)
            for order_id, postal in delayed:
                if len(postal) >= 3 and postal[:3].isdigit():
                    by_prefix[postal[:3]].append(order_id)
            slips: dict[str, list[int]] = {}
            for prefix, orders in by_prefix.items():
                days = []
                for order_id in orders:
                    promise = promised_delivery(uow, order_id)
                    etas = [r.estimated_delivery for r in uow.tracking.for_order(order_id) if r.estimated_delivery]
                    if promise and etas:
                        days.append(max(0, (max(etas) - promise).days))
                slips[prefix] = days
        out = []
        for prefix, orders in sorted(by_prefix.items()):
            if len(set(orders)) < REGIONAL_DELAY_ORDERS or (carrier, prefix) in active or (carrier, "*") in active:
                continue
            late = max(1, round(statistics.median(slips[prefix]))) if slips[prefix] else 1
            self.desk.carrier_incident(carrier, "delay", f"{len(set(orders))} parcels into {prefix} running late "
                                       "(from tracking)", delay_days=late, dest_prefixes=(prefix,))
            out.append({"carrier": carrier, "dest_prefix": prefix, "delay_days": late, "orders": len(set(orders))})
        return out

    def order_tracking(self, uow: AbstractUnitOfWork, order_id: str) -> dict[str, Any]:
        """Milestones, parcels and dates of one order, from the engine's records only."""
        order = uow.orders.get(order_id)
        if order is None:
            raise e.UnknownOrder(f"order {order_id} not found", order_id=order_id)
        promise = promised_delivery(uow, order_id)
        scans = uow.tracking.for_order(order_id)
        parcels = []
        for s in uow.orders.shipments(order_id):
            mine = [x for x in scans if x.shipment_id == s.shipment_id]
            last = mine[-1] if mine else None
            etas = [x.estimated_delivery for x in mine if x.estimated_delivery]
            status = TrackingStatus(last.status) if last else TrackingStatus.LABEL_CREATED
            parcels.append({
                "shipment_id": s.shipment_id, "carrier": s.carrier, "tracking_number": s.tracking_number,
                "shipped_at": s.shipped_at.isoformat(), "status": status.value, "status_text": CUSTOMER_WORDS[status],
                "last_scan": last.occurred_at.isoformat() if last else None,
                "location": last.location if last else "",
                "expected_delivery": etas[-1].isoformat() if etas else None,
                "delivered_at": next((x.occurred_at.isoformat() for x in mine
                                      if x.status == TrackingStatus.DELIVERED.value), None)})
        current: date | None = promise
        slips = [date.fromisoformat(p["expected_delivery"]) for p in parcels
                 if p["expected_delivery"] and p["status"] != TrackingStatus.DELIVERED.value]
        if slips:
            current = max(slips)
        milestones = [{"at": h.at.isoformat(), "status": h.to_status.value} for h in order.history]
        milestones += [{"at": x.occurred_at.isoformat(), "status": f"parcel_{x.status}"} for x in scans]
        milestones.sort(key=lambda m: m["at"])
        return {"order_id": order.order_id, "status": order.status.value, "placed_at": order.placed_at.isoformat(),
                "promised_delivery": promise.isoformat() if promise else None,
                "expected_delivery": current.isoformat() if current and order.status.value not in
                ("delivered", "cancelled") else None,
                "late": bool(promise and current and current > promise),
                "parcels": parcels, "milestones": milestones}
