"""The exception desk: screen orders, resolve what the policy allows, escalate the rest with a recommendation,
and carry out people's decisions (and approved proposals) with re-validation and idempotency keys.

The order's path through it: `process(order_id)` screens a validated order (engine.exceptions.detect); an
address with one confident correction is fixed at once (audited, reversible); anything else opens a case
and pauses the order. A clear order is routed; a routing failure opens an inventory or carrier case, and
the desk tries what the policy allows (an approved substitute, routing again after a lost race) before
escalating. Events found later (short picks, cycle counts, carrier incidents, payment all-clears, overdue
milestones) come in through the methods below and follow the same rule: act within policy, or queue.

Every action runs through engine commands (the one write path). A decision taken by a person or approved
from a proposal is re-validated against the order's present state when it runs; each command carries an
idempotency key derived from the case or proposal, so a retried or resumed decision never acts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.exceptions import (
    CLOSED,
    Action,
    CaseStatus,
    ExceptionCase,
    ExceptionType,
    Flag,
    Proposal,
    Recommendation,
    ResolutionPolicy,
)
from engine.domain.orders import Order, OrderStatus
from engine.domain.routing import DecisionOutcome
from engine.exceptions.detect import (
    PastOrder,
    Screening,
    Signal,
    new_node_flag,
    party_key,
    payment_flag,
    screen,
    ship_to_key,
)
from engine.routing.promise import PromiseCalendar
from engine.services.delivery_dates import DEFAULT_CALENDAR, expected_delivery
from engine.services.handlers.exceptions import policy as active_resolution_policy
from engine.services.handlers.orders import list_price
from engine.services.ports import OrderFact
from engine.services.routing import OrderRouter, RouteOutcome, destination_prefix
from engine.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)

ENGINE = "engine"
PAUSED = (OrderStatus.ON_HOLD, OrderStatus.EXCEPTION)


class UowFactory(Protocol):
    def __call__(self, *, readonly: bool = ...) -> AbstractUnitOfWork: ...


class AnomalyScorer(Protocol):
    """Scores an order against learned history (engine.exceptions.anomaly, wrapped by the desk's owner)."""

    def __call__(self, order: Order, recent: Sequence[OrderFact], payment_key: str = "") -> Sequence[Signal]: ...


def case_to_dict(case: ExceptionCase, now: datetime) -> dict[str, Any]:
    return {
        "case_id": case.case_id, "order_id": case.order_id, "document_id": case.document_id,
        "type": case.type.value, "subtype": case.subtype, "status": case.status.value, "reason": case.reason,
        "evidence": case.evidence, "recommendation": case.recommendation.to_dict(), "channel": case.channel,
        "value": str(case.value), "deadline": case.deadline.isoformat() if case.deadline else None,
        "priority": case.priority, "blocking": case.blocking, "assignee": case.assignee, "summary": case.summary,
        "sla_due_at": case.sla_due_at.isoformat(), "sla_breached": case.sla_breached(now),
        "created_at": case.created_at.isoformat(), "resolution": case.resolution, "resolved_by": case.resolved_by,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
    }


def proposal_to_dict(p: Proposal) -> dict[str, Any]:
    return {"proposal_id": p.proposal_id, "action": p.action.value, "params": p.params, "rationale": p.rationale,
            "proposed_by": p.proposed_by, "status": p.status.value, "order_id": p.order_id, "case_id": p.case_id,
            "thread_id": p.thread_id, "decided_by": p.decided_by,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None, "decision_note": p.decision_note,
            "edited": p.edited, "result": p.result, "created_at": p.created_at.isoformat()}


class ReturnsPort(Protocol):
    def authorise(self, rma_id: str, actor: str, reason: str = ...) -> dict[str, Any]: ...

    def refuse(self, rma_id: str, actor: str, reason: str) -> dict[str, Any]: ...

    def request(self, order_id: str, lines: Sequence[dict[str, Any]] | None, reason_text: str, *,
                requested_by: str, resolution: str = ..., from_postal: str = ..., authorised_by: str | None = ...,
                idempotency_key: str | None = ...) -> dict[str, Any]: ...


class ExceptionDesk:
    def __init__(self, uow_factory: UowFactory, handle: Callable[[c.Command], Any], router: OrderRouter, *,
                 anomaly: AnomalyScorer | None = None, calendar: PromiseCalendar = DEFAULT_CALENDAR,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.uow_factory = uow_factory
        self.handle = handle
        self.router = router
        self.anomaly = anomaly
        self.calendar = calendar
        self._clock = clock
        # The returns desk (set by bootstrap): a start_return decision opens or authorises the return.
        self.returns: ReturnsPort | None = None

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        with self.uow_factory(readonly=True) as uow:
            return uow.now()

    # -- the order's path -------------------------------------------------------------------------

    def process(self, order_id: str) -> dict[str, Any]:
        """Screen a validated order, act within policy, route it when nothing blocks it."""
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            if order.status is not OrderStatus.VALIDATED:
                return self._state(uow, order, [], [], None)
            screening = self._screening(uow, order)
        flags = screen(screening)
        opened, auto = self._act_on(order, flags, screening.policy)
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            if order.status is not OrderStatus.VALIDATED:
                return self._state(uow, order, opened, auto, None)
        outcome = self.router.route(order_id)
        if not outcome.routed:
            more_opened, more_auto = self._routing_failed(order_id, outcome)
            opened += more_opened
            auto += more_auto
        else:
            with self.uow_factory(readonly=True) as uow:
                nodes = uow.exceptions.node_order_counts(outcome.nodes, before=order.placed_at)
            flag = new_node_flag(order, nodes, screening.policy, screening.total_history, screening.b2b)
            if flag is not None:
                opened.append(self._open(order_id, flag))
        with self.uow_factory(readonly=True) as uow:
            return self._state(uow, self._order(uow, order_id), opened, auto, outcome)

    def screen(self, order_id: str) -> list[Flag]:
        """What detection finds on an order now, without acting on it."""
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            return screen(self._screening(uow, order))

    def _screening(self, uow: AbstractUnitOfWork, order: Order) -> Screening:
        policy = active_resolution_policy(uow)
        account = uow.master.get_account(order.account_code) if order.account_code else None
        prices: dict[int, Decimal | None] = {}
        for line in order.lines:
            prices[line.line_no] = list_price(uow, account.price_list_code if account else None, line.sku)
        since = order.placed_at - timedelta(hours=max(policy.duplicate_window_hours, 24))
        payment = uow.exceptions.payment_signal(order.order_id)
        instrument = str((payment or {}).get("instrument") or "")
        # The orders that can matter to this one: the same customer, the same postal code, the same card.
        recent: list[OrderFact] = []
        if order.customer_id:
            recent += uow.exceptions.recent_orders(since, customer_id=order.customer_id, limit=500)
        postal = order.ship_to.postal_code.strip()
        if postal:
            recent += uow.exceptions.recent_orders(since, postal_code=postal, limit=500)
        if instrument:
            recent += uow.exceptions.recent_orders(since, instrument=instrument, limit=500)
        # An exchange's replacement repeats the order it replaces on purpose: not a duplicate of it.
        seen: set[str] = set(uow.returns.replaced_by(order.order_id))
        past: list[PastOrder] = []
        for f in recent:
            if f.order_id in seen or f.order_id == order.order_id:
                continue
            seen.add(f.order_id)
            past.append(PastOrder(f.order_id, f.external_id, f.channel, f.placed_at, f.status, f.lines,
                                  ship_to_key(f.ship_to),
                                  party_key(f.customer_id, f.account_code, str(f.ship_to.get("email", "")))))
        counts = uow.exceptions.order_counts(skus={ln.sku for ln in order.lines}, channel=order.channel,
                                             before=order.placed_at)
        channel = uow.master.get_channel(order.channel)
        signals: Sequence[Signal] = ()
        if self.anomaly is not None and policy.anomaly_enabled:
            unique = {f.order_id: f for f in recent if f.order_id != order.order_id}
            signals = self.anomaly(order, list(unique.values()), payment_key=instrument)
        return Screening(
            order=order, policy=policy, now=order.placed_at, list_prices=prices, recent=past,
            sku_history=counts, channel_history=counts.get(f"channel:{order.channel}", 0),
            total_history=counts.get("all", 0), payment=payment, anomalies=signals,
            b2b=bool(order.account_code) or (channel is not None and channel.kind.value in ("b2b_edi", "email")))

    def _act_on(self, order: Order, flags: list[Flag], policy: ResolutionPolicy) -> tuple[list[str], list[str]]:
        opened: list[str] = []
        auto: list[str] = []
        for flag in flags:
            if flag.type is ExceptionType.ADDRESS and flag.subtype == "correctable" and policy.auto_correct_address \
                    and flag.recommendation.confidence >= policy.address_min_confidence:
                outcome, case_id = self._auto(order.order_id, flag, self._action_for(
                    Action.CORRECT_ADDRESS, flag.recommendation.params, order.order_id,
                    f"auto-correct: {flag.recommendation.summary}"))
                if outcome == "resolved" and case_id is not None:
                    auto.append(case_id)
                    continue
            opened.append(self._open(order.order_id, flag))
        return opened, auto

    def _auto(self, order_id: str, flag: Flag, action: Callable[[str], dict[str, Any]]) -> tuple[str, str | None]:
        """Open a non-blocking case, run the action, close it as auto-resolved.

        Returns ("resolved", case id), ("escalated", the case now waiting for a person) when the action ran but
        routing still failed (the failure opened its own case), or ("failed", None) when the action was refused
        (the caller escalates the original flag)."""
        opened = self.handle(c.OpenException(
            type=flag.type.value, subtype=flag.subtype, reason=flag.reason, evidence=flag.evidence,
            recommendation=flag.recommendation.to_dict(), order_id=order_id, blocking=False))
        case_id = str(opened["case_id"])
        try:
            result = action(f"case:{case_id}:auto")
        except e.OrderloomError as exc:
            log.info("case %s: automatic %s refused (%s); escalating", case_id, flag.recommendation.action, exc.code)
            self.handle(c.CloseException(case_id=case_id, status=CaseStatus.CLEARED.value,
                                         action=flag.recommendation.action.value, actor=ENGINE,
                                         note=f"automatic action refused: {exc.code}: {exc.message}; escalated"))
            return "failed", None
        routing = result.get("routing") if isinstance(result.get("routing"), dict) else None
        if routing is not None and routing.get("routed") is False and routing.get("escalated"):
            self.handle(c.CloseException(case_id=case_id, status=CaseStatus.CLEARED.value,
                                         action=flag.recommendation.action.value, actor=ENGINE,
                                         note=f"automatic action ran but the order still could not be routed; "
                                              f"see case {routing['escalated']}", result=_plain(result)))
            return "escalated", str(routing["escalated"])
        self.handle(c.CloseException(case_id=case_id, status=CaseStatus.AUTO_RESOLVED.value,
                                     action=flag.recommendation.action.value, actor=ENGINE,
                                     note=f"within the resolution policy: {flag.recommendation.summary}",
                                     params=flag.recommendation.params, result=_plain(result),
                                     undo=result.get("undo")))
        return "resolved", case_id

    def open_flag(self, order_id: str, flag: Flag) -> str:
        """Open (or find the open) case for a finding made outside the desk, e.g. a tracking delay."""
        return self._open(order_id, flag)

    def _open(self, order_id: str, flag: Flag, deadline: datetime | None = None) -> str:
        result = self.handle(c.OpenException(
            type=flag.type.value, subtype=flag.subtype, reason=flag.reason, evidence=flag.evidence,
            recommendation=flag.recommendation.to_dict(), order_id=order_id, blocking=flag.blocking,
            hold=flag.hold, deadline=deadline))
        return str(result["case_id"])

    def _state(self, uow: AbstractUnitOfWork, order: Order, opened: list[str], auto: list[str],
               outcome: RouteOutcome | None) -> dict[str, Any]:
        open_cases = [x.case_id for x in uow.exceptions.cases(status=CaseStatus.OPEN.value, order_id=order.order_id)]
        return {"order_id": order.order_id, "status": order.status.value, "opened": opened, "auto_resolved": auto,
                "open_cases": open_cases, "routed": bool(outcome and outcome.routed),
                "decision_id": outcome.decision_id if outcome else None,
                "cost": outcome.cost if outcome else None, "baselines": outcome.baselines if outcome else {}}

    # -- routing failures -------------------------------------------------------------------------

    def _routing_failed(self, order_id: str, outcome: RouteOutcome, *, allow_auto: bool = True
                        ) -> tuple[list[str], list[str]]:
        """The router put the order in exception: say why, and try what the policy allows (once: an automatic
        action whose own routing fails escalates instead of trying again)."""
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            policy = active_resolution_policy(uow)
            substitute = self._substitute_for(uow, order, policy, outcome) \
                if policy.auto_substitute and allow_auto else None
        text = "; ".join(outcome.reasons) or "no plan"
        race = any("inventory_race" in r or "could not reserve" in r for r in outcome.reasons)
        complete = any("ship_complete" in r for r in outcome.reasons)
        stock = any("stock" in r for r in outcome.reasons)
        lanes = any("destination" in r or "lane" in r or "deadline" in r for r in outcome.reasons)
        evidence: dict[str, Any] = {"reasons": outcome.reasons, "decision_id": outcome.decision_id}
        if race:
            flag = Flag(ExceptionType.INVENTORY, "lost_race", f"stock moved while routing: {text}", evidence,
                        Recommendation(Action.REROUTE, "route again on fresh stock",
                                       "the order is allocated from what is left now", {}, 0.8))
        elif substitute is not None:
            line_no, sku = substitute
            flag = Flag(ExceptionType.INVENTORY, "no_stock", f"not enough stock to route: {text}",
                        {**evidence, "substitute": {"line_no": line_no, "sku": sku}},
                        Recommendation(Action.SUBSTITUTE, f"substitute line {line_no} with approved {sku}",
                                       "the order ships complete with the approved substitute at the same price",
                                       {"line_no": line_no, "sku": sku}, 0.8, alternatives=("hold", "cancel")))
        elif complete:
            flag = Flag(ExceptionType.INVENTORY, "ship_complete",
                        f"the account ships complete and no single node holds the whole order: {text}", evidence,
                        Recommendation(Action.SPLIT_SHIPMENT, "ship this order in parts from the nodes that hold it",
                                       "the order ships now in several parcels instead of waiting for one node "
                                       "to hold everything; ask the buyer if their terms require one delivery",
                                       {}, 0.7, alternatives=("hold",)))
        elif stock:
            flag = Flag(ExceptionType.INVENTORY, "no_stock", f"not enough stock to route: {text}", evidence,
                        Recommendation(Action.HOLD, "hold as a backorder until stock is received, or cancel the line",
                                       "the order ships when stock arrives; the customer should be told the new date",
                                       {"reason": "backorder"}, 0.6, alternatives=("cancel", "substitute")))
        elif lanes:
            flag = Flag(ExceptionType.CARRIER, "sla_unachievable", f"no carrier lane meets the order: {text}",
                        evidence, Recommendation(
                            Action.ACCEPT, "accept a later delivery and tell the customer, or upgrade the service",
                            "the order routes on the best available lane", {}, 0.5, alternatives=("cancel",)))
        else:
            flag = Flag(ExceptionType.INVENTORY, "no_plan", f"no routing plan: {text}", evidence,
                        Recommendation(Action.HOLD, "review the constraints named in the explanation",
                                       "the order waits for a person", {"reason": "no routing plan"}, 0.3))
        opened: list[str] = []
        auto: list[str] = []
        result: tuple[str, str | None] = ("failed", None)
        if race and policy.auto_reroute and allow_auto:
            result = self._auto(order_id, flag, lambda key: self._run(Action.REROUTE, {}, order_id, ENGINE, key,
                                                                      "auto re-route after a lost race"))
        elif substitute is not None:
            result = self._auto(order_id, flag, lambda key: self._run(
                Action.SUBSTITUTE, flag.recommendation.params, order_id, ENGINE, key, "approved substitution"))
        if result[0] == "resolved" and result[1] is not None:
            auto.append(result[1])
        elif result[0] == "escalated" and result[1] is not None:
            opened.append(result[1])
        else:
            opened.append(self._open(order_id, flag))
        return opened, auto

    def _substitute_for(self, uow: AbstractUnitOfWork, order: Order, policy: ResolutionPolicy,
                        outcome: RouteOutcome) -> tuple[int, str] | None:
        """An approved substitute with stock for the one line routing could not cover, priced within range."""
        if not policy.substitutions:
            return None
        for line in order.lines:
            if not any(f"line {line.line_no}:" in r and "stock" in r for r in outcome.reasons):
                continue
            item = uow.master.get_sku(line.sku)
            for sub in policy.substitute_for(line.sku):
                candidate = uow.master.get_sku(sub.sku)
                if candidate is None or not candidate.active or item is None or item.unit_price <= 0:
                    continue
                delta = abs(candidate.unit_price - item.unit_price) / item.unit_price * 100
                if delta > Decimal(str(sub.max_price_delta_pct)):
                    continue
                available = sum(max(0, b.on_hand - b.reserved - b.safety_stock)
                                for b in uow.inventory.balances_for_sku(sub.sku))
                if available >= line.open_quantity:
                    return line.line_no, sub.sku
        return None

    # -- signals from outside ---------------------------------------------------------------------

    def record_payment(self, order_id: str, status: str, fraud_score: float = 0.0, reference: str = "",
                       detail: str = "", instrument: str = "") -> dict[str, Any]:
        """A payment or fraud signal: hold the order, or release a payment hold whose cause cleared."""
        result: dict[str, Any] = self.handle(c.RecordPaymentSignal(order_id=order_id, status=status,
                                                                   fraud_score=fraud_score, reference=reference,
                                                                   detail=detail, instrument=instrument))
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            policy = active_resolution_policy(uow)
            cases = [x for x in uow.exceptions.cases(status=CaseStatus.OPEN.value, order_id=order_id)
                     if x.type is ExceptionType.PAYMENT and x.subtype in ("declined", "fraud_flag")]
        flag = payment_flag(order, {"status": status, "fraud_score": fraud_score, "reference": reference,
                                    "detail": detail}, policy)
        if flag is not None:
            if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED):
                flag = Flag(flag.type, flag.subtype, flag.reason, flag.evidence, flag.recommendation, blocking=False)
            result["case_id"] = self._open(order_id, flag)
        elif status in ("authorized", "cleared") and cases:
            cleared = []
            for case in cases:
                if policy.auto_release_hold:
                    self.handle(c.CloseException(case_id=case.case_id, status=CaseStatus.AUTO_RESOLVED.value,
                                                 action=Action.RELEASE_HOLD.value, actor=ENGINE,
                                                 note=f"payment {status}: the hold's cause cleared"))
                    cleared.append(case.case_id)
            if cleared:
                result["released_cases"] = cleared
                result["continued"] = self._continue(order_id, f"payment:{reference or status}")
        return result

    def record_short_pick(self, order_id: str, node: str, line_no: int, short: int, reference: str = ""
                          ) -> dict[str, Any]:
        """A warehouse short pick: the order re-routes within policy, else waits with a recommendation."""
        result: dict[str, Any] = self.handle(c.RecordShortPick(order_id=order_id, node=node, line_no=line_no,
                                                               short=short, reference=reference))
        result.update(self._discrepancy(order_id, "short_pick",
                                        f"warehouse {node} could not pick {short} x {result['sku']}",
                                        {"node": node, "line_no": line_no, "short": short,
                                         "written_off": result["written_off"]}, avoid_nodes=(node,)))
        return result

    def record_cycle_count(self, sku: str, node: str, counted: int, reference: str) -> dict[str, Any]:
        """A cycle count; orders whose reservations it broke re-route within policy."""
        result: dict[str, Any] = self.handle(c.RecordCycleCount(sku=sku, node=node, counted=counted,
                                                                reference=reference))
        handled = []
        for order_id in result.get("orders_affected", []):
            handled.append(self._discrepancy(
                order_id, "cycle_count", f"cycle count of {sku} at {node} found {counted}, below what was reserved",
                {"sku": sku, "node": node, "counted": counted, "difference": result.get("difference")}))
        result["exceptions"] = handled
        return result

    def _discrepancy(self, order_id: str, subtype: str, reason: str, evidence: dict[str, Any],
                     avoid_nodes: Sequence[str] = ()) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            policy = active_resolution_policy(uow)
        flag = Flag(ExceptionType.INVENTORY, subtype, reason, {**evidence, "order_status": order.status.value},
                    Recommendation(Action.REROUTE, "route the order again from the stock that is left",
                                   "the order is allocated elsewhere and keeps its promise if stock allows",
                                   {"avoid_nodes": list(avoid_nodes)}, 0.8, alternatives=("hold", "cancel")))
        if policy.auto_reroute and not order.any_shipped:
            outcome, case_id = self._auto(order_id, flag, lambda key: self._run(
                Action.REROUTE, flag.recommendation.params, order_id, ENGINE, key, f"auto re-route: {subtype}"))
            with self.uow_factory(readonly=True) as uow:
                status = self._order(uow, order_id).status.value
            if outcome == "resolved":
                return {"order_id": order_id, "auto_resolved": case_id, "status": status}
            if outcome == "escalated":
                return {"order_id": order_id, "case_id": case_id, "status": status}
        return {"order_id": order_id, "case_id": self._open(order_id, flag), "status": order.status.value}

    def carrier_incident(self, carrier: str, kind: str, reason: str, delay_days: int = 0,
                         dest_prefixes: Sequence[str] = ()) -> dict[str, Any]:
        """An outage or delay: allocated orders on the carrier swap within policy when their promise is at
        risk; released ones wait for a person (the label exists); shipped ones get a late-delivery notice case."""
        result: dict[str, Any] = self.handle(c.RecordCarrierIncident(
            carrier=carrier, kind=kind, reason=reason, delay_days=delay_days, dest_prefixes=tuple(dest_prefixes)))
        if kind == "cleared":
            return result
        affected: list[dict[str, Any]] = []
        for order_id, status, shipment, arrival, deadline in self._orders_on_carrier(carrier, dest_prefixes,
                                                                                      delay_days, kind):
            late = kind == "outage" or (deadline is not None and arrival is not None and arrival > deadline)
            if not late:
                continue
            evidence = {"carrier": carrier, "incident": kind, "delay_days": delay_days, "reason": reason,
                        "node": shipment.get("node"), "service": shipment.get("service_level"),
                        "expected_arrival": arrival.isoformat() if arrival else None,
                        "deadline": deadline.isoformat() if deadline else None}
            with self.uow_factory(readonly=True) as uow:
                policy = active_resolution_policy(uow)
            if status in (OrderStatus.SHIPPED.value, OrderStatus.PARTIALLY_SHIPPED.value):
                flag = Flag(ExceptionType.CARRIER, "tracking_delay",
                            f"{carrier} {kind}: the parcel will arrive after its promise", evidence,
                            Recommendation(Action.NOTIFY_CUSTOMER, "tell the customer the new delivery date",
                                           "fewer 'where is my order' calls; no order change", {}, 0.8),
                            blocking=False)
                affected.append({"order_id": order_id, "case_id": self._open(order_id, flag)})
                continue
            subtype = "carrier_outage" if kind == "outage" else "sla_at_risk"
            flag = Flag(ExceptionType.CARRIER, subtype, f"{carrier} {kind} puts the delivery promise at risk",
                        evidence, Recommendation(Action.SWAP_CARRIER, f"route again avoiding {carrier}",
                                                 "the order keeps its promise on another carrier or node",
                                                 {"avoid_carrier": carrier}, 0.8, alternatives=("notify_customer",)))
            if status == OrderStatus.ALLOCATED.value and policy.auto_carrier_swap:
                outcome, case_id = self._auto(order_id, flag, self._action_for(
                    Action.SWAP_CARRIER, {"avoid_carrier": carrier}, order_id, f"carrier swap: {reason}"))
                if outcome == "resolved":
                    affected.append({"order_id": order_id, "auto_resolved": case_id})
                    continue
                if outcome == "escalated":
                    affected.append({"order_id": order_id, "case_id": case_id})
                    continue
            affected.append({"order_id": order_id, "case_id": self._open(order_id, flag)})
        result["orders"] = affected
        return result

    def _orders_on_carrier(self, carrier: str, prefixes: Sequence[str], delay_days: int, kind: str
                           ) -> list[tuple[str, str, dict[str, Any], Any, Any]]:
        out = []
        statuses = ["allocated", "released", "partially_shipped", "shipped"]
        with self.uow_factory(readonly=True) as uow:
            now = uow.now()
            for order_id, status, _at in uow.exceptions.orders_in_status(statuses, now + timedelta(seconds=1),
                                                                          limit=5000):
                order = uow.orders.get(order_id)
                if order is None or (prefixes and destination_prefix(order) not in prefixes):
                    continue
                decision = next((d for d in reversed(uow.routing.decisions(order_id))
                                 if d.outcome is DecisionOutcome.COMMITTED), None)
                if decision is None:
                    continue
                shipment = next((s for s in decision.explanation.get("shipments", [])
                                 if s.get("carrier") == carrier), None)
                if shipment is None:
                    continue
                arrival = expected_delivery(uow, decision, calendar=self.calendar)
                if arrival is not None and delay_days:
                    arrival = self.calendar.add_transit(arrival, delay_days)
                if order.requested_delivery is not None:
                    deadline = order.requested_delivery.date()
                else:
                    policy = uow.routing.active_policy()
                    days = policy.default_deadline_days if policy else 5
                    deadline = self.calendar.add_transit(decision.created_at.date(), days)
                out.append((order_id, status, shipment, arrival, deadline))
        return out

    def sweep_milestones(self) -> dict[str, Any]:
        """Open a milestone case for each order that is not progressing as expected."""
        with self.uow_factory(readonly=True) as uow:
            now = uow.now()
            p = active_resolution_policy(uow)
            stuck = [
                (o, s, at, "unrouted", Action.REROUTE, "route it now", "the order is allocated and can be released")
                for o, s, at in uow.exceptions.orders_in_status(
                    ["validated"], now - timedelta(minutes=p.milestone_unrouted_minutes))]
            stuck += [
                (o, s, at, "unreleased", Action.RELEASE_TO_WAREHOUSE, "release it to the warehouse",
                 "picking starts; the promise is kept if released before the cutoff")
                for o, s, at in uow.exceptions.orders_in_status(
                    ["allocated"], now - timedelta(hours=p.milestone_unreleased_hours))]
            stuck += [
                (o, s, at, "unshipped", Action.HOLD, "ask the warehouse why it has not shipped",
                 "a late shipment is caught before the customer calls")
                for o, s, at in uow.exceptions.orders_in_status(
                    ["released"], now - timedelta(hours=p.milestone_unshipped_hours))]
            stuck += [
                (o, s, at, "undelivered", Action.NOTIFY_CUSTOMER, "trace the parcel with the carrier and tell the "
                 "customer", "the customer hears before they ask")
                for o, s, at in uow.exceptions.orders_in_status(
                    ["shipped"], now - timedelta(days=p.milestone_undelivered_grace_days + 5))]
        opened = []
        for order_id, status, at, subtype, action, summary, effect in stuck:
            hours = round((now - at).total_seconds() / 3600, 1)
            flag = Flag(ExceptionType.MILESTONE, subtype, f"order has been {status} for {hours} h",
                        {"status": status, "since": at.isoformat(), "hours": hours},
                        Recommendation(action, summary, effect, {}, 0.7), blocking=False)
            opened.append(self._open(order_id, flag))
        return {"checked_at": now.isoformat(), "opened": opened}

    # -- people's decisions -----------------------------------------------------------------------

    def resolve(self, case_id: str, action: str, params: dict[str, Any] | None, actor: str, note: str = "",
                idempotency_key: str | None = None) -> dict[str, Any]:
        """A person resolves a case by running an action (re-validated against the order's present state)."""
        act = _action(action)
        with self.uow_factory(readonly=True) as uow:
            case = self._case(uow, case_id)
        if case.status in CLOSED:
            raise e.CaseClosed(f"case {case.case_id} is already {case.status.value}", case_id=case.case_id,
                               status=case.status.value)
        key = idempotency_key or f"case:{case.case_id}:{act.value}"
        if act is Action.DISMISS:
            return self.dismiss(case_id, actor, note)
        if case.order_id is None:
            if act not in (Action.REVIEW_DOCUMENT, Action.ACCEPT):
                raise e.ActionNotAllowed(f"case {case.case_id} is about an intake document: resolve it with "
                                         "review_document or dismiss", case_id=case.case_id)
            result: dict[str, Any] = {"document_id": case.document_id}
        else:
            result = self._run(act, dict(params or {}), case.order_id, actor, key, note or act.value,
                               case_id=case.case_id)
        if act is Action.HOLD:
            return {"case_id": case.case_id, "status": CaseStatus.OPEN.value, "result": _plain(result)}
        closed = self._close_if_open(case.case_id, CaseStatus.RESOLVED, act, actor, note, params or {}, result)
        if case.order_id is not None and act not in (Action.CANCEL,):
            result["continued"] = self._continue(case.order_id, key)
        return {"case_id": case.case_id, "status": closed, "action": act.value, "result": _plain(result)}

    def dismiss(self, case_id: str, actor: str, note: str) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            case = self._case(uow, case_id)
        self.handle(c.CloseException(case_id=case.case_id, status=CaseStatus.DISMISSED.value,
                                     action=Action.DISMISS.value, actor=actor, note=note))
        continued = self._continue(case.order_id, f"case:{case.case_id}:dismiss") if case.order_id else None
        return {"case_id": case.case_id, "status": CaseStatus.DISMISSED.value, "continued": continued}

    def reverse(self, case_id: str, actor: str, note: str) -> dict[str, Any]:
        """Undo an automatic resolution where the domain allows (the order not yet released)."""
        with self.uow_factory(readonly=True) as uow:
            case = self._case(uow, case_id)
            order = self._order(uow, case.order_id) if case.order_id else None
        undo = (case.resolution or {}).get("undo")
        if case.status is not CaseStatus.AUTO_RESOLVED or not undo or order is None:
            raise e.ActionNotAllowed(f"case {case.case_id} has no automatic action to reverse", case_id=case.case_id)
        key = f"case:{case.case_id}:reverse"
        if order.status is OrderStatus.ALLOCATED:
            self.handle(c.DeallocateOrder(order_id=order.order_id, reason=f"reversing case {case.case_id}",
                                          idempotency_key=f"{key}:deallocate"))
        elif order.status not in (OrderStatus.VALIDATED, *PAUSED):
            raise e.ActionNotAllowed(f"order {order.order_id} is {order.status.value}: too late to reverse",
                                     order_id=order.order_id)
        reason = f"reversal of case {case.case_id}: {note}"[:500]
        if "ship_to" in undo:
            result = self.handle(c.CorrectOrderAddress(order_id=order.order_id, ship_to=undo["ship_to"], reason=reason,
                                                       actor=actor, idempotency_key=f"{key}:address"))
        elif "sku" in undo:
            result = self.handle(c.SubstituteOrderLine(order_id=order.order_id, line_no=int(undo["line_no"]),
                                                       sku=str(undo["sku"]), reason=reason, actor=actor,
                                                       idempotency_key=f"{key}:substitute"))
        else:
            raise e.ActionNotAllowed(f"case {case.case_id}'s action cannot be reversed", case_id=case.case_id)
        flag = Flag(case.type, f"{case.subtype}_reversed", f"automatic action reversed by {actor}: {note}",
                    {**case.evidence, "reversed_case": case.case_id}, case.recommendation)
        reopened = self._open(order.order_id, flag)
        return {"case_id": case.case_id, "reversed": True, "reopened": reopened, "result": _plain(result)}

    def assign(self, case_id: str, assignee: str | None, actor: str) -> dict[str, Any]:
        result: dict[str, Any] = self.handle(c.AssignException(case_id=case_id, assignee=assignee, actor=actor))
        return result

    def annotate(self, case_id: str, summary: str, actor: str) -> dict[str, Any]:
        result: dict[str, Any] = self.handle(c.AnnotateException(case_id=case_id, summary=summary, actor=actor))
        return result

    def propose(self, action: str, params: dict[str, Any], rationale: str, proposed_by: str,
                order_id: str | None = None, case_id: str | None = None, thread_id: str | None = None
                ) -> dict[str, Any]:
        """Record a pending proposal. Nothing else changes until a person decides."""
        result: dict[str, Any] = self.handle(c.CreateProposal(
            action=action, params=params, rationale=rationale, proposed_by=proposed_by, order_id=order_id,
            case_id=case_id, thread_id=thread_id))
        return result

    def decide(self, proposal_id: str, decision: str, actor: str, params: dict[str, Any] | None = None,
               note: str = "") -> dict[str, Any]:
        """A person's decision. Approve / edit runs the action now, re-validated, with the proposal's key.

        Asked again for a proposal that already ran (a retried request, a resumed graph), it answers the
        recorded outcome instead of acting twice."""
        with self.uow_factory(readonly=True) as uow:
            known = uow.exceptions.get_proposal(proposal_id) if isinstance(proposal_id, str) else None
        if known is not None and known.status.value in ("executed", "failed", "rejected"):
            same_actor = isinstance(actor, str) and known.decided_by == actor.strip()
            same_decision = (decision == "reject") == (known.status.value == "rejected")
            if not (same_actor and same_decision):
                raise e.ProposalDecided(f"proposal {proposal_id} was already {known.status.value} by "
                                        f"{known.decided_by}", proposal_id=proposal_id, status=known.status.value)
            return {"proposal_id": proposal_id, "status": known.status.value, "result": known.result}
        decided = self.handle(c.DecideProposal(proposal_id=proposal_id, decision=decision, actor=actor,
                                               params=params, note=note, idempotency_key=f"decide:{proposal_id}"))
        if decided["status"] == "rejected":
            return {"proposal_id": proposal_id, "status": "rejected", "result": None}
        key = f"proposal:{proposal_id}"
        act = _action(decided["action"])
        try:
            if decided.get("case_id"):
                result = self.resolve(decided["case_id"], act.value, decided["params"], actor,
                                      note or f"approved proposal {proposal_id}", idempotency_key=key)
            elif decided.get("order_id"):
                result = self._run(act, decided["params"], decided["order_id"], actor, key,
                                   note or f"approved proposal {proposal_id}")
                if act is not Action.CANCEL:
                    result["continued"] = self._continue(decided["order_id"], key)
            else:
                raise e.ActionNotAllowed("the proposal names no order or case", proposal_id=proposal_id)
        except e.OrderloomError as exc:
            self.handle(c.RecordProposalResult(proposal_id=proposal_id, executed=False, result=exc.to_dict()))
            return {"proposal_id": proposal_id, "status": "failed", "result": exc.to_dict()}
        plain = _plain(result)
        self.handle(c.RecordProposalResult(proposal_id=proposal_id, executed=True, result=plain))
        return {"proposal_id": proposal_id, "status": "executed", "result": plain}

    def set_policy(self, settings: dict[str, Any], actor: str, note: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self.handle(c.SetResolutionPolicy(settings=settings, actor=actor, note=note))
        return result

    # -- running actions --------------------------------------------------------------------------

    def _action_for(self, action: Action, params: dict[str, Any], order_id: str, reason: str
                    ) -> Callable[[str], dict[str, Any]]:
        def run(key: str) -> dict[str, Any]:
            return self._run(action, params, order_id, ENGINE, key, reason)

        return run

    def _run(self, action: Action, params: dict[str, Any], order_id: str, actor: str, key: str, reason: str,
             case_id: str | None = None) -> dict[str, Any]:
        """Carry out an action on an order through engine commands; refuses what no longer fits."""
        reason = (reason or action.value)[:500]
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.DELIVERED) and action not in (
                Action.NOTIFY_CUSTOMER, Action.ACCEPT, Action.REVIEW_DOCUMENT, Action.START_RETURN,
                Action.REFUSE_RETURN):
            raise e.ActionNotAllowed(f"order {order_id} is {order.status.value}", order_id=order_id)
        if action is Action.CORRECT_ADDRESS:
            ship_to = params.get("ship_to")
            if not isinstance(ship_to, dict):
                raise _param_error("ship_to", "send the corrected address as an object")
            out: dict[str, Any] = self.handle(c.CorrectOrderAddress(order_id=order_id, ship_to=ship_to, reason=reason,
                                                                    actor=actor, idempotency_key=f"{key}:address"))
            return out
        if action is Action.SUBSTITUTE:
            line_no, sku = params.get("line_no"), params.get("sku")
            if not isinstance(line_no, int) or isinstance(line_no, bool) or not isinstance(sku, str):
                raise _param_error("line_no", "send line_no (a number) and sku")
            out = self.handle(c.SubstituteOrderLine(order_id=order_id, line_no=line_no, sku=sku, reason=reason,
                                                    actor=actor, idempotency_key=f"{key}:substitute"))
            out["routing"] = self._reroute(order_id, key, reason, exclude=case_id)
            return out
        if action is Action.REPRICE:
            lines = params.get("lines")
            if not isinstance(lines, list) or not lines:
                raise _param_error("lines", "send lines: [{line_no, unit_price}]")
            done = []
            for i, item in enumerate(lines):
                if not isinstance(item, dict):
                    raise _param_error(f"lines[{i}]", "each line needs line_no and unit_price")
                done.append(self.handle(c.RepriceOrderLine(
                    order_id=order_id, line_no=item.get("line_no"), unit_price=item.get("unit_price"),  # type: ignore[arg-type]
                    reason=reason, actor=actor, idempotency_key=f"{key}:reprice:{i}")))
            return {"order_id": order_id, "repriced": done}
        if action is Action.SPLIT_SHIPMENT:
            return {"order_id": order_id,
                    "routing": self._reroute(order_id, key, reason, exclude=case_id, allow_split=True)}
        if action in (Action.REROUTE, Action.SWAP_CARRIER):
            avoid_nodes = params.get("avoid_nodes") or []
            avoid_carrier = params.get("avoid_carrier")
            prefer = params.get("prefer_node")
            if not isinstance(avoid_nodes, list) or not all(isinstance(n, str) for n in avoid_nodes):
                raise _param_error("avoid_nodes", "send a list of node codes")
            if prefer is not None:  # "ship it from Reno": every other node is avoided
                with self.uow_factory(readonly=True) as uow:
                    codes = [n.code for n in uow.master.list_nodes() if n.active]
                if not isinstance(prefer, str) or prefer not in codes:
                    raise _param_error("prefer_node", f"name an active node: {', '.join(sorted(codes))}")
                avoid_nodes = [n for n in codes if n != prefer]
            if action is Action.SWAP_CARRIER and not isinstance(avoid_carrier, str):
                raise _param_error("avoid_carrier", "name the carrier to avoid")
            if order.status in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED) or order.any_shipped:
                raise e.ActionNotAllowed(f"order {order_id} has shipped units; it cannot be re-routed",
                                         order_id=order_id)
            carriers = [avoid_carrier] if isinstance(avoid_carrier, str) else []
            return {"order_id": order_id,
                    "routing": self._reroute(order_id, key, reason, avoid_nodes, carriers, exclude=case_id)}
        if action is Action.CANCEL:
            why = str(params.get("reason") or reason)[:500]
            out = self.handle(c.CancelOrder(order_id=order_id, reason=why, idempotency_key=f"{key}:cancel"))
            self._clear_cases(order_id, case_id, actor, f"order cancelled: {why}")
            return out
        if action is Action.HOLD:
            if order.status not in PAUSED:
                self.handle(c.HoldOrder(order_id=order_id, reason=str(params.get("reason") or reason)[:500],
                                        idempotency_key=f"{key}:hold"))
            return {"order_id": order_id, "held": True}
        if action is Action.RELEASE_TO_WAREHOUSE:
            if order.status in PAUSED:
                return {"order_id": order_id, "deferred": "released after the order resumes"}
            out = self.handle(c.ReleaseOrderToFulfillment(order_id=order_id, idempotency_key=f"{key}:release"))
            return out
        if action is Action.REFUSE_RETURN and self.returns is not None:
            held, told = params.get("rma_id"), params.get("reason")
            if not isinstance(held, str) or not isinstance(told, str) or not told.strip():
                raise _param_error("reason", "name the return (rma_id) and the reason the customer will read")
            return self.returns.refuse(held, actor, told)
        if action is Action.START_RETURN and self.returns is not None:
            rma_id = params.get("rma_id")
            if rma_id is not None:  # a return the abuse score held for a person: the person authorises it
                if not isinstance(rma_id, str):
                    raise _param_error("rma_id", "name the return (RMA-...)")
                return self.returns.authorise(rma_id, actor, reason)
            lines = params.get("lines")
            if lines is not None and not isinstance(lines, list):
                raise _param_error("lines", "send lines: [{line_no, quantity}] or leave it out for every unit")
            return self.returns.request(order_id, lines, str(params.get("reason") or reason), requested_by=actor,
                                        authorised_by=actor, idempotency_key=f"{key}:return")
        # release_hold, accept, notify_customer, review_document: the decision itself is the action; the
        # order continues when no other blocking case holds it (see _continue).
        return {"order_id": order_id, "action": action.value}

    def _reroute(self, order_id: str, key: str, reason: str, avoid_nodes: Sequence[str] = (),
                 avoid_carriers: Sequence[str] = (), exclude: str | None = None, allow_split: bool = False
                 ) -> dict[str, Any]:
        """Give the order's stock back and route it again (or leave it waiting while another case blocks it).

        A routing failure opens its own case (no further automatic action) and is reported as `escalated`."""
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            blockers = [b for b in self._blocking(uow, order_id) if b != exclude]
        if blockers:
            return {"deferred": f"cases {blockers} still hold the order", "routed": None}
        if order.status is OrderStatus.ALLOCATED:
            self.handle(c.DeallocateOrder(order_id=order_id, reason=reason, idempotency_key=f"{key}:deallocate"))
        elif order.status in PAUSED:
            self.handle(c.ResumeOrder(order_id=order_id, reason=reason, to_validated=True,
                                      idempotency_key=f"{key}:resume"))
        elif order.status is OrderStatus.RELEASED:
            self.handle(c.FlagOrderException(order_id=order_id, reason=f"re-routing: {reason}"[:500],
                                             idempotency_key=f"{key}:flag"))
            self.handle(c.ResumeOrder(order_id=order_id, reason=reason, to_validated=True,
                                      idempotency_key=f"{key}:resume"))
        elif order.status is not OrderStatus.VALIDATED:
            raise e.ActionNotAllowed(f"order {order_id} is {order.status.value}; it cannot be re-routed",
                                     order_id=order_id)
        outcome = self.router.route(order_id, avoid_nodes=avoid_nodes, avoid_carriers=avoid_carriers,
                                    allow_split=allow_split)
        out = outcome.to_dict()
        if not outcome.routed:
            opened, _auto = self._routing_failed(order_id, outcome, allow_auto=False)
            out["escalated"] = opened[0] if opened else None
        return out

    def _continue(self, order_id: str | None, key: str) -> dict[str, Any] | None:
        """After a case closes: resume the order when no other blocking case holds it, and route it if needed."""
        if order_id is None:
            return None
        with self.uow_factory(readonly=True) as uow:
            order = self._order(uow, order_id)
            blockers = self._blocking(uow, order_id)
        if blockers:
            return {"status": order.status.value, "waiting_on": blockers}
        if order.status in PAUSED:
            # Back where it was paused from when it still holds its stock; otherwise allocate it again.
            again = order.paused_from in (OrderStatus.ALLOCATED, OrderStatus.RELEASED) \
                and not self._holds_its_stock(order)
            try:
                self.handle(c.ResumeOrder(order_id=order_id, reason="exceptions resolved", to_validated=again,
                                          idempotency_key=f"{key}:continue"))
            except e.OrderloomError as exc:
                return {"status": order.status.value, "error": exc.to_dict()}
            with self.uow_factory(readonly=True) as uow:
                order = self._order(uow, order_id)
        if order.status is OrderStatus.VALIDATED:
            outcome = self.router.route(order_id)
            if not outcome.routed:
                self._routing_failed(order_id, outcome)
            return {"status": outcome.status, "routed": outcome.routed}
        return {"status": order.status.value}

    @staticmethod
    def _holds_its_stock(order: Order) -> bool:
        return all(ln.allocated + ln.shipped + ln.cancelled >= ln.quantity for ln in order.lines)

    def _blocking(self, uow: AbstractUnitOfWork, order_id: str) -> list[str]:
        return [x.case_id for x in uow.exceptions.cases(status=CaseStatus.OPEN.value, order_id=order_id)
                if x.blocking]

    def _close_if_open(self, case_id: str, status: CaseStatus, action: Action, actor: str, note: str,
                       params: dict[str, Any], result: dict[str, Any]) -> str:
        with self.uow_factory(readonly=True) as uow:
            case = self._case(uow, case_id)
        if case.status in CLOSED:
            return case.status.value
        self.handle(c.CloseException(case_id=case_id, status=status.value, action=action.value, actor=actor,
                                     note=note, params=_plain(params), result=_plain(result),
                                     undo=_plain(result["undo"]) if isinstance(result.get("undo"), dict) else None))
        return status.value

    def _clear_cases(self, order_id: str, except_case: str | None, actor: str, note: str) -> None:
        with self.uow_factory(readonly=True) as uow:
            open_cases = uow.exceptions.cases(status=CaseStatus.OPEN.value, order_id=order_id)
        for case in open_cases:
            if case.case_id != except_case:
                self.handle(c.CloseException(case_id=case.case_id, status=CaseStatus.CLEARED.value,
                                             action=Action.CANCEL.value, actor=actor, note=note))

    # -- reads ------------------------------------------------------------------------------------

    def cases(self, status: str | None = "open", type: str | None = None, channel: str | None = None,
              order_id: str | None = None, assignee: str | None = None, since: datetime | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            now = uow.now()
            found = uow.exceptions.cases(status=status, type_=type, channel=channel, order_id=order_id,
                                         assignee=assignee, since=since, limit=max(1, min(limit, 1000)))
            return [case_to_dict(x, now) for x in found]

    def case(self, case_id: str) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            case = self._case(uow, case_id)
            now = uow.now()
            out = case_to_dict(case, now)
            if case.order_id is not None:
                out["order"] = self._order_snapshot(uow, case.order_id)
            out["proposals"] = [proposal_to_dict(p) for p in uow.exceptions.proposals(case_id=case.case_id)]
            out["audit"] = [_audit_dict(a) for a in uow.exceptions.audit_trail(entity="exception",
                                                                               entity_id=case.case_id)]
            return out

    def order_summary(self, order_id: str) -> dict[str, Any]:
        """What an ops person asks about an order: state, lines, routing and why, open cases, shipments."""
        with self.uow_factory(readonly=True) as uow:
            self._order(uow, order_id)
            out = self._order_snapshot(uow, order_id)
            decision = next((d for d in reversed(uow.routing.decisions(order_id))
                             if d.outcome is DecisionOutcome.COMMITTED), None)
            every = uow.routing.decisions(order_id)
            shown = decision or (every[-1] if every else None)
            if shown is not None:
                expl = shown.explanation
                out["routing"] = {"decision_id": shown.decision_id, "outcome": shown.outcome.value,
                                  "nodes": shown.nodes, "cost": shown.cost, "policy_version": shown.policy_version,
                                  "shipments": expl.get("shipments", []), "considered": expl.get("nodes", []),
                                  "binding": expl.get("binding_constraints", []), "reasons": expl.get("reasons", []),
                                  "text": expl.get("text", ""), "notes": expl.get("notes", [])}
            out["open_cases"] = [case_to_dict(x, uow.now())
                                 for x in uow.exceptions.cases(status=CaseStatus.OPEN.value, order_id=order_id)]
            out["shipments"] = [{"shipment_id": s.shipment_id, "node": s.node, "carrier": s.carrier,
                                 "tracking_number": s.tracking_number, "shipped_at": s.shipped_at.isoformat()}
                                for s in uow.orders.shipments(order_id)]
            return out

    def proposals(self, status: str | None = None, order_id: str | None = None, case_id: str | None = None,
                  thread_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            return [proposal_to_dict(p) for p in uow.exceptions.proposals(
                status=status, order_id=order_id, case_id=case_id, thread_id=thread_id, limit=max(1, min(limit, 1000)))]

    def proposal(self, proposal_id: str) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            p = uow.exceptions.get_proposal(proposal_id) if isinstance(proposal_id, str) else None
            if p is None:
                raise e.UnknownProposal(f"proposal {proposal_id!r} does not exist", proposal_id=str(proposal_id))
            return proposal_to_dict(p)

    def audit(self, entity: str | None = None, entity_id: str | None = None, actor: str | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            return [_audit_dict(a) for a in uow.exceptions.audit_trail(
                entity=entity, entity_id=entity_id, actor=actor, limit=max(1, min(limit, 1000)))]

    def queue_stats(self) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            counts = uow.exceptions.count_cases()
            now = uow.now()
            open_cases = uow.exceptions.cases(status=CaseStatus.OPEN.value, limit=10_000)
        by_type: dict[str, dict[str, int]] = {}
        for (type_, status), n in counts.items():
            by_type.setdefault(type_, {})[status] = n
        total = sum(counts.values())
        auto = sum(n for (_t, s), n in counts.items() if s == CaseStatus.AUTO_RESOLVED.value)
        return {"open": len(open_cases), "sla_breached": sum(1 for x in open_cases if x.sla_breached(now)),
                "unassigned": sum(1 for x in open_cases if not x.assignee), "total": total,
                "auto_resolved_share": round(auto / total, 4) if total else 0.0, "by_type": by_type}

    def policy(self) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            return active_resolution_policy(uow).to_dict()

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _order(uow: AbstractUnitOfWork, order_id: object) -> Order:
        order = uow.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise e.UnknownOrder(f"order {order_id!r} does not exist", order_id=str(order_id))
        return order

    @staticmethod
    def _case(uow: AbstractUnitOfWork, case_id: object) -> ExceptionCase:
        case = uow.exceptions.get_case(case_id) if isinstance(case_id, str) else None
        if case is None:
            raise e.UnknownException(f"exception case {case_id!r} does not exist", case_id=str(case_id))
        return case

    def _order_snapshot(self, uow: AbstractUnitOfWork, order_id: str) -> dict[str, Any]:
        order = self._order(uow, order_id)
        return {"order_id": order.order_id, "channel": order.channel, "external_id": order.external_id,
                "status": order.status.value, "status_reason": order.status_reason,
                "paused_from": order.paused_from.value if order.paused_from else None,
                "customer_id": order.customer_id, "account_code": order.account_code,
                "ship_to": order.ship_to.to_dict(), "total": str(order.total), "currency": order.currency,
                "placed_at": order.placed_at.isoformat(),
                "requested_delivery": order.requested_delivery.isoformat() if order.requested_delivery else None,
                "lines": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity,
                           "unit_price": str(ln.unit_price), "allocated": ln.allocated, "shipped": ln.shipped,
                           "cancelled": ln.cancelled} for ln in order.lines]}


def _action(value: object) -> Action:
    try:
        return Action(str(value))
    except ValueError:
        raise e.ValidationFailed(f"unknown action {value!r}", problems=[
            e.Problem("exception.action", "action", f"unknown action {value!r}",
                      f"use one of {', '.join(a.value for a in Action)}")]) from None


def _param_error(field: str, fix: str) -> e.ValidationFailed:
    return e.ValidationFailed(f"params.{field} is missing or malformed", problems=[
        e.Problem("exception.params", f"params.{field}", f"params.{field} is missing or malformed", fix)])


def _plain(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _audit_dict(a: Any) -> dict[str, Any]:
    return {"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "entity": a.entity,
            "entity_id": a.entity_id, "detail": a.detail}


__all__ = ["ExceptionDesk", "case_to_dict", "proposal_to_dict"]
