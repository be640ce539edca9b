"""Read models for the ops dashboard: the live event feed, order flow, channel KPIs, inventory by node,
carrier performance. Reads only (no unit of work, no locks); every figure is computed from the tables the
engine writes, nothing is cached or stored twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.geo import census_region


def _utc(value: datetime) -> datetime:
    out = aware(value)
    assert out is not None
    return out

# Statuses an order passes through once it has stock committed (touchless counts orders that got here).
COMMITTED = ("allocated", "released", "shipped", "partially_shipped", "delivered")
TROUBLE = ("delayed", "failed_attempt", "exception", "returned")
# Baselines each routing decision is compared with (engine/routing/baselines.py).
BASELINES = ("fixed-priority", "nearest-with-stock")
FEED_TYPES = ("order.received", "order.routed", "order.status_changed", "order.routing_failed",
              "order.shipment_recorded", "order.delayed", "order.delivered", "order.cancelled",
              "exception.opened", "exception.closed", "intake.document_settled", "proposal.created",
              "proposal.decided", "carrier.incident", "inventory.discrepancy_detected")


def _num(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


@dataclass(frozen=True)
class FeedEvent:
    position: int
    event_type: str
    aggregate: str
    aggregate_id: str
    occurred_at: datetime
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "type": self.event_type, "aggregate": self.aggregate,
                "id": self.aggregate_id, "at": self.occurred_at.isoformat(), "payload": self.payload}


class DashboardQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the live feed (outbox positions: the dashboard's SSE stream resumes from one)
    def last_position(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(t.outbox.c.id), 0))).scalar_one())

    def events_after(self, position: int, limit: int = 200, types: Sequence[str] = FEED_TYPES) -> list[FeedEvent]:
        o = t.outbox.c
        query = (select(o.id, o.event_type, o.aggregate, o.aggregate_id, o.occurred_at, o.payload)
                 .where(o.id > position, o.event_type.in_(types)).order_by(o.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [FeedEvent(int(r.id), r.event_type, r.aggregate, r.aggregate_id, _utc(r.occurred_at),
                          dict(r.payload or {})) for r in rows]

    # -- orders
    def status_counts(self) -> dict[str, int]:
        o = t.orders.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(o.status, func.count()).group_by(o.status)).all()
        return {str(status): int(n) for status, n in rows}

    def recent_orders(self, limit: int = 25, status: str | None = None, channel: str | None = None
                      ) -> list[dict[str, Any]]:
        o, ln = t.orders.c, t.order_lines.c
        value = func.coalesce(func.sum(ln.quantity * ln.unit_price), 0)
        query = (select(o.id, o.channel, o.external_id, o.status, o.status_reason, o.placed_at, o.updated_at,
                        o.ship_postal, o.account_code, func.count(ln.line_no).label("lines"),
                        value.label("value"))
                 .join(t.order_lines, ln.order_id == o.id).group_by(o.id).order_by(o.id.desc()).limit(limit))
        if status:
            query = query.where(o.status == status)
        if channel:
            query = query.where(o.channel == channel)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{"order_id": str(r.id), "channel": r.channel, "external_id": r.external_id, "status": r.status,
                 "reason": r.status_reason, "placed_at": aware(r.placed_at), "updated_at": aware(r.updated_at),
                 "region": census_region(r.ship_postal), "b2b": r.account_code is not None, "lines": int(r.lines),
                 "value": _num(r.value)} for r in rows]

    def orders_per_minute(self, now: datetime, minutes: int = 30) -> list[tuple[datetime, int]]:
        """Orders placed in each of the last `minutes` minutes (oldest first), for the flow chart."""
        start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
        o = t.orders.c
        with self.engine.connect() as conn:
            placed = conn.execute(select(o.placed_at).where(o.placed_at >= start)).scalars().all()
        counts = Counter(_utc(p).replace(second=0, microsecond=0) for p in placed)
        return [(start + timedelta(minutes=i), counts.get(start + timedelta(minutes=i), 0)) for i in range(minutes)]

    # -- channel KPIs
    def channel_kpis(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per channel: orders, how many reached committed stock with no person involved (touchless), how many
        a person handled or still must, and routing cost per order against both baselines."""
        o, x = t.orders.c, t.exception_cases.c
        touched = (select(x.order_id).where(x.order_id.is_not(None), x.status != "auto_resolved")
                   .distinct().scalar_subquery())
        query = (select(o.channel, func.count().label("orders"),
                        func.sum(case((and_(o.status.in_(COMMITTED), o.id.not_in(touched)), 1), else_=0))
                        .label("touchless"),
                        func.sum(case((o.id.in_(touched), 1), else_=0)).label("touched"),
                        func.sum(case((o.status == "cancelled", 1), else_=0)).label("cancelled"))
                 .group_by(o.channel).order_by(o.channel))
        if since is not None:
            query = query.where(o.placed_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            costs = self._routing_costs(conn, since)
        out = []
        for r in rows:
            c = costs.get(r.channel, {})
            n = int(r.orders)
            routed = int(c.get("routed", 0))
            ours = c.get("cost", 0.0)
            base = {name: c.get(name, 0.0) for name in BASELINES}
            compared = int(c.get("compared", 0))
            out.append({
                "channel": r.channel, "orders": n, "touchless": int(r.touchless or 0),
                "touchless_rate": (int(r.touchless or 0) / n) if n else None, "touched": int(r.touched or 0),
                "cancelled": int(r.cancelled or 0), "routed": routed,
                "cost_per_order": (ours / routed) if routed else None,
                "baseline_cost_per_order": {name: (base[name] / compared) if compared else None
                                            for name in BASELINES},
                "saving_pct": {name: (100 * (base[name] - c.get("cost_compared", 0.0)) / base[name])
                               if base[name] else None for name in BASELINES},
            })
        return out

    @staticmethod
    def _routing_costs(conn: Any, since: datetime | None) -> dict[str, dict[str, float]]:
        """Each order's committed routing cost (its latest committed decision) and what each baseline would
        have cost on the same order, summed per channel over orders every baseline could serve."""
        d, o = t.routing_decisions.c, t.orders.c
        query = (select(d.order_id, d.cost, d.baselines, d.created_at, o.channel)
                 .join(t.orders, o.id == d.order_id).where(d.outcome == "committed").order_by(d.created_at))
        if since is not None:
            query = query.where(o.placed_at >= since)
        latest: dict[int, Any] = {}
        for row in conn.execute(query):
            latest[row.order_id] = row
        out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in latest.values():
            if row.cost is None:
                continue
            per = out[row.channel]
            per["routed"] += 1
            per["cost"] += _num(row.cost)
            baselines = row.baselines or {}
            base_costs = [(baselines.get(name) or {}).get("cost") for name in BASELINES]
            if all(isinstance(b, int | float) for b in base_costs):
                per["compared"] += 1
                per["cost_compared"] += _num(row.cost)
                for name, b in zip(BASELINES, base_costs, strict=True):
                    per[name] += float(b)  # type: ignore[arg-type]
        return out

    def oversell_check(self) -> dict[str, int]:
        """Oversold positions (more reserved than on hand: the engine never allows one, counted live), units
        short-picked in the warehouse (physical discrepancies), and orders cancelled for want of stock."""
        b, x = t.stock_balances.c, t.exception_cases.c
        with self.engine.connect() as conn:
            oversold = int(conn.execute(select(func.count()).select_from(t.stock_balances)
                                        .where(b.reserved > b.on_hand)).scalar_one())
            short = int(conn.execute(select(func.count()).select_from(t.exception_cases)
                                     .where(x.subtype == "short_pick")).scalar_one())
        return {"oversold_positions": oversold, "short_pick_cases": short}

    # -- inventory
    def inventory(self, sku: str | None = None, limit: int = 20) -> dict[str, Any]:
        """SKU x node: on hand, reserved and available (on hand - reserved - safety - protected) per cell.

        Without a filter, the SKUs with the most units reserved come first (where the action is)."""
        b, n, s = t.stock_balances.c, t.nodes.c, t.skus.c
        with self.engine.connect() as conn:
            nodes = [r.code for r in conn.execute(select(n.code).where(n.active.is_(True)).order_by(n.code))]
            pick = select(b.sku).group_by(b.sku)
            if sku:
                like = sku.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pick = pick.where(or_(b.sku.ilike(f"%{like}%", escape="\\"),
                                      b.sku.in_(select(s.sku).where(s.name.ilike(f"%{like}%", escape="\\")))))
            pick = pick.order_by(func.sum(b.reserved).desc(), b.sku).limit(limit)
            skus = [r.sku for r in conn.execute(pick)]
            rows = conn.execute(select(b.sku, b.node, b.on_hand, b.reserved, b.safety_stock, b.protected_qty)
                                .where(b.sku.in_(skus))).all() if skus else []
            names = dict(conn.execute(select(s.sku, s.name).where(s.sku.in_(skus))).all()) if skus else {}
        cells: dict[str, dict[str, dict[str, int]]] = {k: {} for k in skus}
        for r in rows:
            cells[r.sku][r.node] = {"on_hand": int(r.on_hand), "reserved": int(r.reserved),
                                    "available": max(0, int(r.on_hand) - int(r.reserved) - int(r.safety_stock)
                                                     - int(r.protected_qty))}
        return {"nodes": nodes, "rows": [{"sku": k, "name": names.get(k, ""), "cells": cells[k],
                                          "on_hand": sum(c["on_hand"] for c in cells[k].values()),
                                          "reserved": sum(c["reserved"] for c in cells[k].values()),
                                          "available": sum(c["available"] for c in cells[k].values())}
                                         for k in skus]}

    def popular_skus(self, limit: int = 12) -> list[dict[str, str]]:
        """The SKUs ordered most (the catalog's first ones before anything is ordered), with their names."""
        ln, s = t.order_lines.c, t.skus.c
        with self.engine.connect() as conn:
            ranked = [r.sku for r in conn.execute(select(ln.sku).group_by(ln.sku)
                                                  .order_by(func.count().desc(), ln.sku).limit(limit))]
            if len(ranked) < limit:
                more = select(s.sku).order_by(s.sku).limit(limit - len(ranked))
                ranked += [r.sku for r in conn.execute(more.where(s.sku.not_in(ranked)) if ranked else more)]
            names = dict(conn.execute(select(s.sku, s.name).where(s.sku.in_(ranked))).all()) if ranked else {}
        return [{"sku": k, "name": names.get(k, "")} for k in ranked]

    # -- carriers
    def carrier_performance(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per carrier x Census region: parcels shipped, delivered, still moving, and on time.

        A delivered parcel is late when the engine recorded a delay for its order (the carrier's date moved
        past the committed promise: `order.delayed`) or the carrier reported trouble (failed attempt,
        exception); on time otherwise."""
        sh, o, te, ob = t.shipments.c, t.orders.c, t.tracking_events.c, t.outbox.c
        query = select(sh.carrier, sh.tracking_number, sh.order_id, o.ship_postal).join(
            t.orders, o.id == sh.order_id)
        if since is not None:
            query = query.where(sh.shipped_at >= since)
        with self.engine.connect() as conn:
            parcels = conn.execute(query).all()
            # Only the scans of the parcels in the window (not every scan ever recorded).
            scans = select(te.carrier, te.tracking_number, te.status).join(
                t.shipments, and_(sh.carrier == te.carrier, sh.tracking_number == te.tracking_number))
            if since is not None:
                scans = scans.where(sh.shipped_at >= since)
            statuses = conn.execute(scans).all()
            delayed = {str(r[0]) for r in conn.execute(select(ob.aggregate_id).where(
                ob.event_type == "order.delayed").distinct())}
        seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in statuses:
            seen[(r.carrier, r.tracking_number)].add(r.status)
        groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for p in parcels:
            key = (p.carrier, census_region(p.ship_postal))
            got = seen.get((p.carrier, p.tracking_number), set())
            g = groups[key]
            g["shipped"] += 1
            if "delivered" in got:
                g["delivered"] += 1
                late = str(p.order_id) in delayed or bool(got & {"failed_attempt", "exception"})
                g["late" if late else "on_time"] += 1
            else:
                g["moving"] += 1
                if got & set(TROUBLE) or str(p.order_id) in delayed:
                    g["at_risk"] += 1
        return [{"carrier": carrier, "region": region, "shipped": g["shipped"], "delivered": g["delivered"],
                 "on_time": g["on_time"], "late": g["late"], "moving": g["moving"], "at_risk": g["at_risk"],
                 "on_time_rate": (g["on_time"] / g["delivered"]) if g["delivered"] else None}
                for (carrier, region), g in sorted(groups.items())]

    # -- exceptions
    def open_case_counts(self) -> dict[str, int]:
        x = t.exception_cases.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(x.type, func.count()).where(x.status == "open").group_by(x.type)).all()
        return {str(k): int(v) for k, v in rows}

