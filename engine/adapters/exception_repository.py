"""SQL side of exceptions: cases, proposals, the resolution policy, carrier incidents, payment signals,
and the order-history reads that detection needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import aware, postal_key
from engine.domain.exceptions import (
    Action,
    CaseStatus,
    ExceptionCase,
    ExceptionType,
    Proposal,
    ProposalStatus,
    Recommendation,
    ResolutionPolicy,
)
from engine.domain.routing import AuditEntry
from engine.services.ports import ExceptionRepository, OrderFact

_C = t.exception_cases.c
_P = t.proposals.c
_O = t.orders.c
_L = t.order_lines.c


def _int_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
        return -1  # matches nothing
    return int(value)


def _case(row: Any) -> ExceptionCase:
    return ExceptionCase(
        case_id=str(row["id"]), type=ExceptionType(row["type"]), subtype=row["subtype"],
        status=CaseStatus(row["status"]), reason=row["reason"], evidence=dict(row["evidence"] or {}),
        recommendation=Recommendation.from_dict(row["recommendation"]),
        created_at=aware(row["created_at"]), sla_due_at=aware(row["sla_due_at"]),  # type: ignore[arg-type]
        order_id=str(row["order_id"]) if row["order_id"] is not None else None,
        document_id=str(row["document_id"]) if row["document_id"] is not None else None,
        channel=row["channel"], value=Decimal(row["value"]), deadline=aware(row["deadline"]),
        priority=row["priority"], blocking=bool(row["blocking"]), assignee=row["assignee"], summary=row["summary"],
        resolution=row["resolution"], resolved_by=row["resolved_by"], resolved_at=aware(row["resolved_at"]),
        updated_at=aware(row["updated_at"]), version=row["version"])


def _case_values(case: ExceptionCase) -> dict[str, Any]:
    return {
        "order_id": _int_id(case.order_id), "document_id": _int_id(case.document_id), "type": case.type.value,
        "subtype": case.subtype, "status": case.status.value, "reason": case.reason[:1000],
        "evidence": case.evidence, "recommendation": case.recommendation.to_dict(), "channel": case.channel,
        "value": case.value, "deadline": case.deadline, "priority": case.priority, "blocking": case.blocking,
        "assignee": case.assignee, "summary": case.summary, "resolution": case.resolution,
        "resolved_by": case.resolved_by, "resolved_at": case.resolved_at, "sla_due_at": case.sla_due_at,
        "created_at": case.created_at, "updated_at": case.updated_at or case.created_at, "version": case.version,
    }


def _proposal(row: Any) -> Proposal:
    return Proposal(
        proposal_id=row["id"], action=Action(row["action"]), params=dict(row["params"] or {}),
        rationale=row["rationale"], proposed_by=row["proposed_by"], created_at=aware(row["created_at"]),  # type: ignore[arg-type]
        status=ProposalStatus(row["status"]),
        order_id=str(row["order_id"]) if row["order_id"] is not None else None,
        case_id=str(row["case_id"]) if row["case_id"] is not None else None, thread_id=row["thread_id"],
        decided_by=row["decided_by"], decided_at=aware(row["decided_at"]), decision_note=row["decision_note"],
        edited=bool(row["edited"]), result=row["result"])


def _proposal_values(p: Proposal) -> dict[str, Any]:
    return {"action": p.action.value, "params": p.params, "rationale": p.rationale[:2000],
            "proposed_by": p.proposed_by, "status": p.status.value, "order_id": _int_id(p.order_id),
            "case_id": _int_id(p.case_id), "thread_id": p.thread_id, "decided_by": p.decided_by,
            "decided_at": p.decided_at, "decision_note": p.decision_note[:1000], "edited": p.edited,
            "result": p.result, "created_at": p.created_at}


class SqlExceptionRepository(ExceptionRepository):
    def __init__(self, conn: Connection, *, lock_rows: bool = True) -> None:
        self.conn = conn
        self.lock_rows = lock_rows and conn.engine.dialect.name == "postgresql"

    # -- cases
    def add_case(self, case: ExceptionCase) -> str:
        result = self.conn.execute(insert(t.exception_cases).values(**_case_values(case)).returning(_C.id))
        case.case_id = str(result.scalar_one())
        return case.case_id

    def get_case(self, case_id: str, *, for_update: bool = False) -> ExceptionCase | None:
        key = _int_id(case_id)
        if key is None or key < 0:
            return None
        query = select(t.exception_cases).where(_C.id == key)
        if for_update and self.lock_rows:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return _case(row) if row else None

    def save_case(self, case: ExceptionCase) -> None:
        values = _case_values(case)
        values["version"] = case.version + 1
        self.conn.execute(update(t.exception_cases).where(_C.id == int(case.case_id)).values(**values))
        case.version += 1

    def open_case(self, order_id: str | None, document_id: str | None, type_: str, subtype: str
                  ) -> ExceptionCase | None:
        query = select(t.exception_cases).where(_C.status == CaseStatus.OPEN.value, _C.type == type_,
                                                _C.subtype == subtype)
        if order_id is not None:
            query = query.where(_C.order_id == _int_id(order_id))
        else:
            query = query.where(_C.document_id == _int_id(document_id), _C.order_id.is_(None))
        row = self.conn.execute(query.order_by(_C.id).limit(1)).mappings().first()
        return _case(row) if row else None

    def cases(self, *, status: str | None = None, type_: str | None = None, channel: str | None = None,
              order_id: str | None = None, assignee: str | None = None, since: datetime | None = None,
              limit: int = 100) -> list[ExceptionCase]:
        query = select(t.exception_cases)
        if status is not None:
            query = query.where(_C.status == status)
        if type_ is not None:
            query = query.where(_C.type == type_)
        if channel is not None:
            query = query.where(_C.channel == channel)
        if order_id is not None:
            query = query.where(_C.order_id == _int_id(order_id))
        if assignee is not None:
            query = query.where(_C.assignee == assignee)
        if since is not None:
            query = query.where(_C.created_at >= since)
        if status == CaseStatus.OPEN.value:
            query = query.order_by(_C.priority.desc(), _C.sla_due_at, _C.id)
        else:
            query = query.order_by(_C.created_at.desc(), _C.id.desc())
        return [_case(r) for r in self.conn.execute(query.limit(limit)).mappings()]

    def count_cases(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(select(_C.type, _C.status, func.count()).group_by(_C.type, _C.status))
        return {(r[0], r[1]): int(r[2]) for r in rows}

    # -- proposals
    def add_proposal(self, proposal: Proposal) -> None:
        self.conn.execute(insert(t.proposals).values(id=proposal.proposal_id, **_proposal_values(proposal)))

    def get_proposal(self, proposal_id: str, *, for_update: bool = False) -> Proposal | None:
        if not isinstance(proposal_id, str) or not proposal_id.isalnum() or len(proposal_id) > 32:
            return None
        query = select(t.proposals).where(_P.id == proposal_id)
        if for_update and self.lock_rows:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return _proposal(row) if row else None

    def save_proposal(self, proposal: Proposal) -> None:
        self.conn.execute(update(t.proposals).where(_P.id == proposal.proposal_id)
                          .values(**_proposal_values(proposal)))

    def proposals(self, *, status: str | None = None, order_id: str | None = None, case_id: str | None = None,
                  thread_id: str | None = None, limit: int = 100) -> list[Proposal]:
        query = select(t.proposals)
        if status is not None:
            query = query.where(_P.status == status)
        if order_id is not None:
            query = query.where(_P.order_id == _int_id(order_id))
        if case_id is not None:
            query = query.where(_P.case_id == _int_id(case_id))
        if thread_id is not None:
            query = query.where(_P.thread_id == thread_id)
        rows = self.conn.execute(query.order_by(_P.created_at.desc(), _P.id).limit(limit)).mappings()
        return [_proposal(r) for r in rows]

    # -- policy
    def active_policy(self) -> ResolutionPolicy | None:
        r = t.resolution_policies.c
        row = self.conn.execute(select(r.version, r.settings).order_by(r.version.desc()).limit(1)).first()
        if row is None:
            return None
        settings = dict(row[1])
        settings["version"] = row[0]
        return ResolutionPolicy.from_dict(settings)

    def add_policy(self, policy: ResolutionPolicy, actor: str, note: str, at: datetime) -> None:
        settings = policy.to_dict()
        settings.pop("version")
        self.conn.execute(insert(t.resolution_policies).values(version=policy.version, settings=settings,
                                                               created_by=actor, note=note, created_at=at))

    def audit_trail(self, *, entity: str | None = None, entity_id: str | None = None, actor: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log.c
        query = select(t.audit_log)
        if entity is not None:
            query = query.where(a.entity == entity)
        if entity_id is not None:
            query = query.where(a.entity_id == entity_id)
        if actor is not None:
            query = query.where(a.actor == actor)
        rows = self.conn.execute(query.order_by(a.at.desc(), a.id.desc()).limit(limit)).mappings()
        return [AuditEntry(at=aware(r["at"]), actor=r["actor"], action=r["action"],  # type: ignore[arg-type]
                           entity=r["entity"], entity_id=r["entity_id"], detail=r["detail"]) for r in rows]

    # -- carrier incidents and payment signals
    def add_incident(self, carrier: str, kind: str, delay_days: int, dest_prefixes: Sequence[str], reason: str,
                     at: datetime) -> str:
        result = self.conn.execute(insert(t.carrier_incidents).values(
            carrier=carrier, kind=kind, delay_days=delay_days, dest_prefixes=list(dest_prefixes), reason=reason,
            started_at=at).returning(t.carrier_incidents.c.id))
        return str(result.scalar_one())

    def end_incidents(self, carrier: str, at: datetime) -> int:
        i = t.carrier_incidents.c
        result = self.conn.execute(update(t.carrier_incidents).where(i.carrier == carrier, i.ended_at.is_(None))
                                   .values(ended_at=at))
        return int(result.rowcount or 0)

    def active_incidents(self) -> list[dict[str, Any]]:
        i = t.carrier_incidents.c
        rows = self.conn.execute(select(t.carrier_incidents).where(i.ended_at.is_(None)).order_by(i.id)).mappings()
        return [{"incident_id": str(r["id"]), "carrier": r["carrier"], "kind": r["kind"],
                 "delay_days": r["delay_days"], "dest_prefixes": list(r["dest_prefixes"] or []),
                 "reason": r["reason"], "started_at": aware(r["started_at"])} for r in rows]

    def add_payment_signal(self, order_id: str, status: str, fraud_score: float, reference: str, detail: str,
                           at: datetime, *, instrument: str = "") -> None:
        self.conn.execute(insert(t.payment_signals).values(
            order_id=int(order_id), status=status, fraud_score=Decimal(str(round(fraud_score, 4))),
            reference=reference, instrument=instrument, detail=detail, at=at))

    def payment_signal(self, order_id: str) -> dict[str, Any] | None:
        s = t.payment_signals.c
        key = _int_id(order_id)
        row = self.conn.execute(select(t.payment_signals).where(s.order_id == key).order_by(s.id.desc()).limit(1)
                                ).mappings().first()
        if row is None:
            return None
        return {"status": row["status"], "fraud_score": float(row["fraud_score"]), "reference": row["reference"],
                "instrument": row["instrument"], "detail": row["detail"], "at": aware(row["at"])}

    # -- order history for detection
    def _facts(self, query: Any) -> list[OrderFact]:
        heads = list(self.conn.execute(query).mappings())
        if not heads:
            return []
        ids = [h["id"] for h in heads]
        lines: dict[int, list[tuple[str, int, Decimal]]] = {}
        payment: dict[int, str] = {}
        s = t.payment_signals.c
        for chunk in range(0, len(ids), 900):
            part = ids[chunk:chunk + 900]
            rows = self.conn.execute(select(_L.order_id, _L.sku, _L.quantity, _L.unit_price)
                                     .where(_L.order_id.in_(part)).order_by(_L.order_id, _L.line_no))
            for r in rows:
                lines.setdefault(r[0], []).append((r[1], int(r[2]), Decimal(r[3])))
            for sig in self.conn.execute(select(s.order_id, s.instrument)
                                         .where(s.order_id.in_(part), s.instrument != "").order_by(s.id)):
                payment[sig[0]] = sig[1]
        out = []
        for h in heads:
            own = lines.get(h["id"], [])
            out.append(OrderFact(
                order_id=str(h["id"]), channel=h["channel"], customer_id=h["customer_id"],
                account_code=h["account_code"], external_id=h["external_id"], ship_to=dict(h["ship_to"] or {}),
                placed_at=aware(h["placed_at"]), status=h["status"],  # type: ignore[arg-type]
                lines=tuple((sku, q) for sku, q, _p in own), total=sum((q * p for _s, q, p in own), Decimal("0")),
                payment_key=payment.get(h["id"], "")))
        return out

    _HEAD = (_O.id, _O.channel, _O.customer_id, _O.account_code, _O.external_id, _O.ship_to, _O.placed_at, _O.status)

    def recent_orders(self, since: datetime, *, customer_id: str | None = None, postal_code: str | None = None,
                      instrument: str | None = None, limit: int = 500) -> list[OrderFact]:
        query = select(*self._HEAD).where(_O.placed_at >= since)
        if instrument is not None:
            s = t.payment_signals.c
            query = query.where(_O.id.in_(select(s.order_id).where(s.instrument == instrument, s.at >= since)))
        if customer_id is not None:
            query = query.where(_O.customer_id == customer_id)
        if postal_code is not None:
            query = query.where(_O.ship_postal == postal_key(postal_code))
        return self._facts(query.order_by(_O.placed_at.desc()).limit(limit))

    def order_history(self, since: datetime, limit: int = 50_000) -> list[OrderFact]:
        return self._facts(select(*self._HEAD).where(_O.placed_at >= since).order_by(_O.placed_at).limit(limit))

    def order_counts(self, *, skus: Iterable[str] = (), channel: str | None = None, before: datetime | None = None
                     ) -> dict[str, int]:
        wanted = sorted(set(skus))
        out: dict[str, int] = dict.fromkeys(wanted, 0)
        if wanted:
            query = (select(_L.sku, func.count(func.distinct(_L.order_id))).join(t.orders, _O.id == _L.order_id)
                     .where(_L.sku.in_(wanted)).group_by(_L.sku))
            if before is not None:
                query = query.where(_O.placed_at < before)
            out.update({r[0]: int(r[1]) for r in self.conn.execute(query)})
        if channel is not None:
            query = select(func.count()).select_from(t.orders).where(_O.channel == channel)
            total = select(func.count()).select_from(t.orders)
            if before is not None:
                query = query.where(_O.placed_at < before)
                total = total.where(_O.placed_at < before)
            out[f"channel:{channel}"] = int(self.conn.execute(query).scalar() or 0)
            out["all"] = int(self.conn.execute(total).scalar() or 0)
        return out

    def node_order_counts(self, nodes: Iterable[str], before: datetime) -> dict[str, int]:
        r = t.reservations.c
        wanted = sorted(set(nodes))
        out = dict.fromkeys(wanted, 0)
        if wanted:
            rows = self.conn.execute(select(r.node, func.count(func.distinct(r.order_id)))
                                     .where(r.node.in_(wanted), r.order_id.is_not(None), r.created_at < before)
                                     .group_by(r.node))
            out.update({row[0]: int(row[1]) for row in rows})
        return out

    def orders_in_status(self, statuses: Sequence[str], updated_before: datetime, limit: int = 500
                         ) -> list[tuple[str, str, datetime]]:
        rows = self.conn.execute(select(_O.id, _O.status, _O.updated_at)
                                 .where(_O.status.in_(list(statuses)), _O.updated_at < updated_before)
                                 .order_by(_O.updated_at).limit(limit))
        return [(str(r[0]), r[1], aware(r[2])) for r in rows]  # type: ignore[misc]
