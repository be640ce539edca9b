"""SQL side of returns: the RMA, its lines and history, and the warehouse events applied to it (once each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, case, func, insert, literal, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.returns import (
    Disposition,
    Grade,
    Resolution,
    ReturnLine,
    ReturnPolicy,
    ReturnReason,
    Rma,
    RmaChange,
    RmaStatus,
)
from engine.returns.abuse import Decision, PastOrder, PastReturn, ReturnHistory, evidence_features
from engine.services.ports import ReturnRepository

_R = t.returns.c
_L = t.return_lines.c
_H = t.return_history.c
_S = t.return_steps.c
_O = t.orders.c
_OL = t.order_lines.c
_C = t.customers.c
_A = t.accounts.c
HISTORY_DAYS = 365


def _order_key(order_id: str) -> int | None:
    return int(order_id) if isinstance(order_id, str) and order_id.isdigit() and len(order_id) <= 18 else None


class SqlReturnRepository(ReturnRepository):
    def __init__(self, conn: Connection, *, lock_rows: bool = False) -> None:
        self.conn = conn
        self.lock_rows = lock_rows and conn.dialect.name == "postgresql"
        # What `get` loaded, so that `save` writes only what is new.
        self._loaded: dict[str, tuple[int, frozenset[str]]] = {}

    # -- writing
    def add(self, rma: Rma) -> None:
        at = rma.created_at or rma.history[0].at
        self.conn.execute(insert(t.returns).values(
            rma_id=rma.rma_id, order_id=_order_key(rma.order_id), **self._header(rma), requested_by=rma.requested_by,
            created_at=at, updated_at=rma.history[-1].at if rma.history else at, version=0))
        self.conn.execute(insert(t.return_lines), [self._line(rma.rma_id, ln) for ln in rma.lines])
        self._loaded[rma.rma_id] = (0, frozenset())
        self.save(rma)

    def save(self, rma: Rma) -> None:
        seen_history, seen_refs = self._loaded.get(rma.rma_id, (0, frozenset()))
        at = rma.history[-1].at if rma.history else rma.created_at
        self.conn.execute(update(t.returns).where(_R.rma_id == rma.rma_id).values(
            **self._header(rma), updated_at=at, version=_R.version + 1))
        for ln in rma.lines:
            self.conn.execute(update(t.return_lines).where(_L.rma_id == rma.rma_id, _L.line_no == ln.line_no).values(
                received=ln.received, grade=ln.grade.value if ln.grade else None,
                disposition=ln.disposition.value if ln.disposition else None, note=ln.note[:1000]))
        new_history = rma.history[seen_history:]
        if new_history:
            self.conn.execute(insert(t.return_history), [
                {"rma_id": rma.rma_id, "at": h.at, "from_status": h.from_status.value if h.from_status else None,
                 "to_status": h.to_status.value, "reason": h.reason[:500]} for h in new_history])
        new_refs = sorted(rma.references - seen_refs)
        if new_refs:  # the unique key (rma_id, reference) refuses a concurrent second application
            self.conn.execute(insert(t.return_steps), [
                {"rma_id": rma.rma_id, "reference": ref[:200], "at": at} for ref in new_refs])
        self._loaded[rma.rma_id] = (len(rma.history), frozenset(rma.references))

    @staticmethod
    def _header(rma: Rma) -> dict[str, object]:
        label = rma.label or {}
        return {"channel": rma.channel, "customer_id": rma.customer_id, "account_code": rma.account_code,
                "resolution": rma.resolution.value, "status": rma.status.value,
                "status_reason": rma.status_reason[:500], "reason": rma.reason.value,
                "customer_text": rma.customer_text[:500], "restock_node": rma.restock_node,
                "restock_plan": rma.restock_plan, "label_carrier": label.get("carrier"),
                "label_tracking": label.get("tracking_number"), "from_postal": rma.from_postal[:16],
                "refund_amount": rma.refund_amount, "exchange_order_id": rma.exchange_order_id,
                "abuse_score": None if rma.abuse_score is None else round(rma.abuse_score, 4),
                "abuse_evidence": rma.abuse_evidence, "case_id": rma.case_id}

    @staticmethod
    def _line(rma_id: str, ln: ReturnLine) -> dict[str, object]:
        return {"rma_id": rma_id, "line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity,
                "reason": ln.reason.value, "unit_price": ln.unit_price, "received": ln.received,
                "grade": ln.grade.value if ln.grade else None,
                "disposition": ln.disposition.value if ln.disposition else None, "note": ln.note[:1000],
                "exchange_sku": ln.exchange_sku}

    # -- reading
    def get(self, rma_id: str, *, for_update: bool = False) -> Rma | None:
        if not isinstance(rma_id, str) or len(rma_id) > 32:
            return None
        stmt = select(t.returns).where(_R.rma_id == rma_id)
        if for_update and self.lock_rows:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return self._build([row])[0]

    def for_order(self, order_id: str) -> list[Rma]:
        key = _order_key(order_id)
        if key is None:
            return []
        rows = self.conn.execute(select(t.returns).where(_R.order_id == key).order_by(_R.created_at)).mappings().all()
        return self._build(rows)

    def search(self, *, status: Sequence[str] = (), customer_id: str | None = None, account_code: str | None = None,
               limit: int = 100) -> list[Rma]:
        stmt = select(t.returns).order_by(_R.created_at.desc(), _R.rma_id).limit(max(1, min(limit, 1000)))
        if status:
            stmt = stmt.where(_R.status.in_(list(status)))
        if customer_id is not None:
            stmt = stmt.where(_R.customer_id == customer_id)
        if account_code is not None:
            stmt = stmt.where(_R.account_code == account_code)
        return self._build(self.conn.execute(stmt).mappings().all())

    def _build(self, rows: Sequence[RowMapping]) -> list[Rma]:
        if not rows:
            return []
        ids = [r["rma_id"] for r in rows]
        lines: dict[str, list[ReturnLine]] = {i: [] for i in ids}
        for ln in self.conn.execute(select(t.return_lines).where(_L.rma_id.in_(ids))
                                    .order_by(_L.rma_id, _L.line_no)).mappings():
            lines[ln["rma_id"]].append(ReturnLine(
                line_no=ln["line_no"], sku=ln["sku"], quantity=ln["quantity"], reason=ReturnReason(ln["reason"]),
                unit_price=Decimal(ln["unit_price"]).quantize(Decimal("0.01")), received=ln["received"],
                grade=Grade(ln["grade"]) if ln["grade"] else None,
                disposition=Disposition(ln["disposition"]) if ln["disposition"] else None, note=ln["note"],
                exchange_sku=ln["exchange_sku"]))
        history: dict[str, list[RmaChange]] = {i: [] for i in ids}
        for h in self.conn.execute(select(t.return_history).where(_H.rma_id.in_(ids))
                                   .order_by(_H.rma_id, _H.id)).mappings():
            history[h["rma_id"]].append(RmaChange(
                aware(h["at"]), RmaStatus(h["from_status"]) if h["from_status"] else None,  # type: ignore[arg-type]
                RmaStatus(h["to_status"]), h["reason"]))
        refs: dict[str, set[str]] = {i: set() for i in ids}
        for s in self.conn.execute(select(_S.rma_id, _S.reference).where(_S.rma_id.in_(ids))):
            refs[s.rma_id].add(s.reference)
        out = []
        for m in rows:
            rid = m["rma_id"]
            label = ({"carrier": m["label_carrier"], "tracking_number": m["label_tracking"]}
                     if m["label_carrier"] else None)
            refund = m["refund_amount"]
            score = m["abuse_score"]
            rma = Rma(rma_id=rid, order_id=str(m["order_id"]), channel=m["channel"],
                      customer_id=m["customer_id"], account_code=m["account_code"],
                      lines=lines[rid], resolution=Resolution(m["resolution"]),
                      status=RmaStatus(m["status"]), status_reason=m["status_reason"],
                      label=label, refund_amount=None if refund is None else Decimal(refund).quantize(Decimal("0.01")),
                      exchange_order_id=m["exchange_order_id"], restock_node=m["restock_node"],
                      restock_plan=m["restock_plan"], created_at=aware(m["created_at"]),
                      reason=ReturnReason(m["reason"]), customer_text=m["customer_text"],
                      from_postal=m["from_postal"], abuse_score=None if score is None else float(score),
                      abuse_evidence=m["abuse_evidence"], case_id=m["case_id"],
                      requested_by=m["requested_by"], references=refs[rid], history=history[rid])
            self._loaded[rid] = (len(rma.history), frozenset(rma.references))
            out.append(rma)
        return out

    def customer_history(self, customer_id: str, before: datetime) -> ReturnHistory:
        since = before - timedelta(days=HISTORY_DAYS)
        units = func.sum(_OL.quantity - _OL.cancelled)
        value = func.sum((_OL.quantity - _OL.cancelled) * _OL.unit_price)
        orders = self.conn.execute(
            select(_O.id, _O.placed_at, _O.ship_postal, units.label("units"), value.label("value"))
            .join(t.order_lines, _OL.order_id == _O.id)
            .where(_O.customer_id == customer_id, _O.placed_at >= since, _O.placed_at < before,
                   _O.status != "cancelled")
            .group_by(_O.id, _O.placed_at, _O.ship_postal)).all()
        bought = {r.id: int(r.units or 0) for r in orders}
        past_orders = [PastOrder(at=aware(r.placed_at), units=int(r.units or 0),  # type: ignore[arg-type]
                                 value=float(r.value or 0), ship_postal=r.ship_postal or "") for r in orders]
        rmas = self.conn.execute(
            select(_R.rma_id, _R.order_id, _R.created_at, _R.reason, _R.from_postal, _O.ship_postal)
            .join(t.orders, _O.id == _R.order_id)
            .where(_R.customer_id == customer_id, _R.created_at >= since, _R.created_at < before,
                   _R.status.notin_(["refused", "cancelled"]))).all()
        lines: dict[str, list[Row[Any]]] = {}
        if rmas:
            for ln in self.conn.execute(select(t.return_lines).where(_L.rma_id.in_([r.rma_id for r in rmas]))):
                lines.setdefault(ln.rma_id, []).append(ln)
        past_returns = []
        for r in rmas:
            mine = lines.get(r.rma_id, [])
            n = sum(int(x.quantity) for x in mine)
            graded = [x for x in mine if x.grade]
            used = None if not graded else any(x.grade in ("used", "damaged", "unsaleable")
                                               for x in graded)
            past_returns.append(PastReturn(
                at=aware(r.created_at), units=n,  # type: ignore[arg-type]
                value=float(sum(Decimal(x.unit_price) * x.quantity for x in mine)),
                reason=r.reason, from_postal=r.from_postal or r.ship_postal or "",
                order_ship_postal=r.ship_postal or "", whole_order=bought.get(r.order_id, -1) == n, graded_used=used))
        return ReturnHistory(orders=past_orders, returns=past_returns)

    def by_label(self, carrier: str, tracking_number: str) -> Rma | None:
        stmt = select(t.returns).where(_R.label_carrier == carrier, _R.label_tracking == tracking_number)
        if self.lock_rows:
            stmt = stmt.with_for_update()
        rows = self.conn.execute(stmt).mappings().all()
        return self._build(rows)[0] if rows else None

    def active_policy(self) -> tuple[int, ReturnPolicy] | None:
        p = t.return_policies.c
        row = self.conn.execute(select(p.version, p.settings).order_by(p.version.desc()).limit(1)).first()
        return None if row is None else (int(row.version), ReturnPolicy.from_settings(dict(row.settings)))

    def add_policy(self, version: int, policy: ReturnPolicy, actor: str, note: str, at: datetime) -> None:
        self.conn.execute(insert(t.return_policies).values(version=version, settings=policy.to_settings(),
                                                           created_by=actor[:100], note=note[:500], created_at=at))

    def replaced_by(self, order_id: str) -> list[str]:
        if not isinstance(order_id, str) or len(order_id) > 32:
            return []
        rows = self.conn.execute(select(_R.order_id).where(_R.exchange_order_id == order_id)).all()
        return [str(r.order_id) for r in rows]

    def sku_demand(self, sku: str, since: datetime) -> dict[str, int]:
        prefix = func.substr(_O.ship_postal, 1, 3)
        rows = self.conn.execute(
            select(prefix.label("prefix"), func.sum(_OL.quantity).label("units"))
            .join(t.orders, _O.id == _OL.order_id)
            .where(_OL.sku == sku, _O.placed_at >= since, _O.status != "cancelled")
            .group_by(prefix)).all()
        return {str(r.prefix): int(r.units or 0) for r in rows if r.prefix}

    def decisions(self, limit: int = 50_000) -> list[Decision]:
        rows = self.conn.execute(
            select(_R.created_at, _R.status, _R.abuse_evidence)
            .where(_R.status.not_in([RmaStatus.REQUESTED.value, RmaStatus.CANCELLED.value]))
            .order_by(_R.created_at, _R.rma_id).limit(max(1, limit)))
        return [Decision(r.created_at.replace(tzinfo=r.created_at.tzinfo or UTC), found,
                         r.status == RmaStatus.REFUSED.value)
                for r in rows if (found := evidence_features(r.abuse_evidence))]

    def analytics(self, since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Sold = units shipped on orders placed since `since`; returned = units on returns opened since then
        (refused and cancelled ones left out; a return closed short counts what arrived)."""
        # || is NULL when either side is: an order without an account falls through to the customer's tier
        segment_sql = func.coalesce(literal("b2b:") + _A.tier, literal("consumer:") + _C.tier, "guest")
        sold_rows = self.conn.execute(
            select(_OL.sku, _O.channel, segment_sql.label("segment"), func.sum(_OL.shipped).label("units"))
            .join(t.orders, _O.id == _OL.order_id)
            .outerjoin(t.customers, _C.customer_id == _O.customer_id)
            .outerjoin(t.accounts, _A.code == _O.account_code)
            .where(_O.placed_at >= since, _OL.shipped > 0)
            .group_by(_OL.sku, _O.channel, segment_sql)).all()
        had_receipt = select(_H.rma_id).where(_H.to_status == "received").scalar_subquery()
        units = func.sum(case((_R.rma_id.in_(had_receipt), _L.received), else_=_L.quantity))
        ret_rows = self.conn.execute(
            select(_L.sku, _R.channel, _L.reason, segment_sql.label("segment"), units.label("units"))
            .join(t.returns, _R.rma_id == _L.rma_id)
            .join(t.orders, _O.id == _R.order_id)
            .outerjoin(t.customers, _C.customer_id == _O.customer_id)
            .outerjoin(t.accounts, _A.code == _O.account_code)
            .where(_R.created_at >= since, _R.status.notin_(["refused", "cancelled"]))
            .group_by(_L.sku, _R.channel, _L.reason, segment_sql)).all()
        out: dict[str, list[dict[str, Any]]] = {}
        for dim, sold_key, ret_key in (("sku", 0, 0), ("channel", 1, 1), ("segment", 2, 3)):
            sold: dict[str, int] = {}
            returned: dict[str, int] = {}
            for r in sold_rows:
                sold[str(r[sold_key])] = sold.get(str(r[sold_key]), 0) + int(r.units or 0)
            for r in ret_rows:
                returned[str(r[ret_key])] = returned.get(str(r[ret_key]), 0) + int(r.units or 0)
            rows = [{"key": k, "sold": sold.get(k, 0), "returned": returned.get(k, 0),
                     "return_rate": round(returned.get(k, 0) / sold[k], 4) if sold.get(k) else None}
                    for k in sorted(set(sold) | set(returned))]
            out[dim] = sorted(rows, key=lambda x: (-(x["return_rate"] or 0), -x["returned"], x["key"]))
        reasons: dict[str, int] = {}
        for r in ret_rows:
            reasons[r.reason] = reasons.get(r.reason, 0) + int(r.units or 0)
        total = sum(reasons.values())
        out["reason"] = [{"key": k, "returned": v, "share": round(v / total, 4) if total else None}
                         for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        return out
