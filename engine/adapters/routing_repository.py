"""SQL side of routing: lanes joined with rate cards, markdown risk, capacity counters, policies, decisions, audit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import _balance, _upsert, aware
from engine.domain.inventory import StockBalance
from engine.domain.routing import AuditEntry, DecisionKind, DecisionOutcome, RoutingDecision
from engine.services.ports import LaneService, PolicyRecord, RoutingRepository

_L = t.lanes.c
_RC = t.rate_cards.c
_D = t.routing_decisions.c
_P = t.routing_policies.c

# Lanes into one region, each with its rate card (outer join: a lane without a card is reported, not hidden).
_LANES_TO = (
    select(_L.carrier, _L.service, _L.origin_node, _L.zone, _L.transit_days, _L.on_time_probability,
           _RC.brackets, _RC.price_per_kg_beyond)
    .select_from(t.lanes.outerjoin(t.rate_cards, and_(_RC.carrier == _L.carrier, _RC.service == _L.service,
                                                      _RC.zone == _L.zone)))
    .join(t.nodes, t.nodes.c.code == _L.origin_node)
    .where(t.nodes.c.active.is_(True))
)


def _decision(row: Any, with_instance: bool = True) -> RoutingDecision:
    return RoutingDecision(
        decision_id=row["decision_id"], order_id=str(row["order_id"]), kind=DecisionKind(row["kind"]),
        attempt=row["attempt"], outcome=DecisionOutcome(row["outcome"]), status=row["status"],
        solver=row["solver"], policy_version=row["policy_version"],
        cost=float(row["cost"]) if row["cost"] is not None else None, shipments=row["shipments"],
        solve_time_ms=float(row["solve_time_ms"]), plan=row["plan"], explanation=row["explanation"],
        baselines=row["baselines"], created_at=aware(row["created_at"]),  # type: ignore[arg-type]
        instance=row["instance"] if with_instance else None)


def _policy(row: Any) -> PolicyRecord:
    return PolicyRecord(version=row["version"], name=row["name"], weights=dict(row["weights"]),
                        max_shipments=row["max_shipments"], default_deadline_days=row["default_deadline_days"],
                        note=row["note"], created_by=row["created_by"],
                        created_at=aware(row["created_at"]), active=row["active"])  # type: ignore[arg-type]


class SqlRoutingRepository(RoutingRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- inputs
    def lane_services_to(self, dest_prefix: str) -> list[LaneService]:
        rows = self.conn.execute(_LANES_TO.where(_L.dest_prefix == dest_prefix)).all()
        return [LaneService(carrier=r[0], service=r[1], origin_node=r[2], zone=r[3], transit_days=r[4],
                            on_time_probability=float(r[5]),
                            brackets=tuple((float(w), float(p)) for w, p in r[6]) if r[6] is not None else None,
                            price_per_kg_beyond=float(r[7] or 0)) for r in rows]

    def set_rate_card(self, carrier: str, service: str, zone: int, brackets: Sequence[tuple[Decimal, Decimal]],
                      price_per_kg_beyond: Decimal, currency: str, at: datetime) -> None:
        _upsert(self.conn, t.rate_cards, {
            "carrier": carrier, "service": service, "zone": zone,
            "brackets": [[str(w), str(p)] for w, p in brackets], "price_per_kg_beyond": price_per_kg_beyond,
            "currency": currency, "updated_at": at}, ["carrier", "service", "zone"])

    def set_lane_on_time(self, carrier: str, service: str, origin_node: str, dest_prefix: str,
                         probability: Decimal) -> bool:
        result = self.conn.execute(update(t.lanes).where(
            _L.carrier == carrier, _L.service == service, _L.origin_node == origin_node,
            _L.dest_prefix == dest_prefix).values(on_time_probability=probability))
        return result.rowcount == 1

    def set_markdown_risk(self, sku: str, node: str, credit: Decimal, until: datetime | None) -> None:
        m = t.markdown_risk.c
        if credit == 0:
            self.conn.execute(t.markdown_risk.delete().where(m.sku == sku, m.node == node))
            return
        _upsert(self.conn, t.markdown_risk, {"sku": sku, "node": node, "credit_per_unit": credit, "until": until},
                ["sku", "node"])

    def markdown_risks(self, skus: Iterable[str], now: datetime) -> list[tuple[str, str, float]]:
        m = t.markdown_risk.c
        rows = self.conn.execute(select(m.sku, m.node, m.credit_per_unit).where(
            m.sku.in_(sorted(set(skus))), or_(m.until.is_(None), m.until > now)))
        return [(r[0], r[1], float(r[2])) for r in rows]

    def balances_for_skus(self, skus: Iterable[str]) -> list[StockBalance]:
        b = t.stock_balances
        rows = self.conn.execute(select(b).where(b.c.sku.in_(sorted(set(skus))))).mappings()
        return [_balance(r) for r in rows]

    # -- pick capacity
    def capacity_used(self, days: dict[str, str]) -> dict[str, int]:
        if not days:
            return {}
        u = t.node_day_usage.c
        cond = or_(*(and_(u.node == node, u.day == day) for node, day in days.items()))
        return {r[0]: int(r[1]) for r in self.conn.execute(select(u.node, u.used).where(cond))}

    def try_take_capacity(self, node: str, day: str, units: int, capacity: int) -> bool:
        u = t.node_day_usage.c
        # Create the day's counter if it is missing (never resetting one that exists), then add conditionally.
        _upsert(self.conn, t.node_day_usage, {"node": node, "day": day}, ["node", "day"])
        result = self.conn.execute(update(t.node_day_usage).where(
            u.node == node, u.day == day, u.used + units <= capacity).values(used=u.used + units))
        return result.rowcount == 1

    def give_back_capacity(self, node: str, day: str, units: int) -> None:
        u = t.node_day_usage.c
        self.conn.execute(update(t.node_day_usage).where(u.node == node, u.day == day)
                          .values(used=case((u.used > units, u.used - units), else_=0)))

    # -- policies
    def policies(self) -> list[PolicyRecord]:
        return [_policy(r) for r in self.conn.execute(select(t.routing_policies).order_by(_P.version)).mappings()]

    def get_policy(self, version: int) -> PolicyRecord | None:
        row = self.conn.execute(select(t.routing_policies).where(_P.version == version)).mappings().first()
        return _policy(row) if row else None

    def active_policy(self) -> PolicyRecord | None:
        row = self.conn.execute(select(t.routing_policies).where(_P.active.is_(True))
                                .order_by(_P.version.desc()).limit(1)).mappings().first()
        return _policy(row) if row else None

    def add_policy(self, record: PolicyRecord) -> None:
        self.conn.execute(insert(t.routing_policies).values(
            version=record.version, name=record.name, weights=record.weights, max_shipments=record.max_shipments,
            default_deadline_days=record.default_deadline_days, note=record.note, created_by=record.created_by,
            created_at=record.created_at, active=False))

    def activate_policy(self, version: int) -> None:
        self.conn.execute(update(t.routing_policies).values(active=_P.version == version))

    # -- decisions
    def add_decision(self, decision: RoutingDecision) -> None:
        self.conn.execute(insert(t.routing_decisions).values(
            decision_id=decision.decision_id, order_id=int(decision.order_id), kind=decision.kind.value,
            attempt=decision.attempt, outcome=decision.outcome.value, status=decision.status,
            solver=decision.solver, policy_version=decision.policy_version,
            cost=Decimal(str(round(decision.cost, 4))) if decision.cost is not None else None,
            shipments=decision.shipments, solve_time_ms=Decimal(str(round(decision.solve_time_ms, 3))),
            plan=decision.plan, explanation=decision.explanation, baselines=decision.baselines,
            instance=decision.instance, created_at=decision.created_at))

    def decisions(self, order_id: str) -> list[RoutingDecision]:
        if not order_id.isdigit():
            return []
        rows = self.conn.execute(select(t.routing_decisions).where(_D.order_id == int(order_id))
                                 .order_by(_D.created_at, _D.attempt)).mappings()
        return [_decision(r) for r in rows]

    def recent_decisions(self, limit: int = 100) -> list[RoutingDecision]:
        cols = [c for c in t.routing_decisions.c if c.name != "instance"]
        rows = self.conn.execute(select(*cols).order_by(_D.created_at.desc()).limit(limit)).mappings()
        return [_decision({**r, "instance": None}, with_instance=False) for r in rows]

    def allocated_since(self, since: datetime, limit: int) -> list[str]:
        o = t.orders.c
        last = (select(_D.order_id, func.max(_D.created_at).label("at"))
                .where(_D.outcome == DecisionOutcome.COMMITTED.value).group_by(_D.order_id).subquery())
        rows = self.conn.execute(select(o.id).join(last, last.c.order_id == o.id)
                                 .where(o.status == "allocated", last.c.at >= since).order_by(o.id).limit(limit))
        return [str(r[0]) for r in rows]

    # -- audit
    def add_audit(self, entry: AuditEntry) -> None:
        self.conn.execute(insert(t.audit_log).values(at=entry.at, actor=entry.actor, action=entry.action,
                                                     entity=entry.entity, entity_id=entry.entity_id,
                                                     detail=entry.detail))

    def audit(self, entity: str, entity_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log.c
        query = select(t.audit_log).where(a.entity == entity)
        if entity_id is not None:
            query = query.where(a.entity_id == entity_id)
        rows = self.conn.execute(query.order_by(a.at.desc(), a.id.desc()).limit(limit)).mappings()
        return [AuditEntry(at=aware(r["at"]), actor=r["actor"], action=r["action"],  # type: ignore[arg-type]
                           entity=r["entity"], entity_id=r["entity_id"], detail=r["detail"]) for r in rows]
