"""The returns desk: a return request from any channel through to the refund or the replacement order.

    request  -> eligibility (policy) -> abuse score (the customer's own history) -> restock node (costs)
             -> RMA requested -> authorised at once when the score is low, or a case for a person with the
                evidence when it is high (never refused automatically) -> label
    receipt  -> at the restock node, per warehouse reference (a redelivered event changes nothing)
    grade    -> inspector's checklist and words -> grade -> disposition by the rules -> sellable units back
                into available-to-promise at that node through the ledger, once
    settle   -> when every line is disposed: the refund (policy amount, an event the payment integration
                acts on) or the replacement order, placed and routed like any other order; closed

The desk only orchestrates: every change is a command on the bus (engine/services/handlers/returns.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.catalog import Sku
from engine.domain.errors import Problem
from engine.domain.exceptions import Action, CaseStatus, ExceptionType, Flag, Recommendation
from engine.domain.geo import ZIP3_BY_PREFIX, Zip3Region
from engine.domain.returns import (
    REASON_WORDS,
    ExchangeWish,
    Resolution,
    ReturnReason,
    Rma,
    RmaStatus,
    exchange_wish,
    reason_from_text,
)
from engine.returns.abuse import (
    MIN_DECIDED,
    MIN_REFUSED,
    AbuseModel,
    RefitReport,
    ReturnRequestFacts,
    default_model,
    features,
    refit,
)
from engine.returns.restock import NodeOption, RestockChoice, choose_restock_node
from engine.services.handlers.checks import is_lookup_key
from engine.services.handlers.returns import order_line_facts, policy_in_force, rma_view
from engine.services.unit_of_work import AbstractUnitOfWork

ENGINE = "orderloom"
DEMAND_DAYS = 90
GROUND = "ground"


@dataclass(frozen=True)
class ExchangeChoice:
    """An exchange read from a customer's words (see `ReturnsDesk.exchange_from_words`)."""

    wish: ExchangeWish
    lines: list[dict[str, Any]]   # the returnable lines, as `options` gives them
    picks: dict[int, str]         # line_no -> the variant the words ask for
    labels: dict[str, str]        # variant SKU -> how the customer reads it ("Heather Grey, M")


class UowFactory(Protocol):
    def __call__(self, *, readonly: bool = ...) -> AbstractUnitOfWork: ...


class CaseOpener(Protocol):
    def open_flag(self, order_id: str, flag: Flag) -> str: ...


class ReturnsDesk:
    def __init__(self, uow_factory: UowFactory, handle: Callable[[c.Command], Any], cases: CaseOpener, *,
                 place_replacement: Callable[[str], Any] | None = None, model: AbuseModel | None = None) -> None:
        self.uow_factory = uow_factory
        self.handle = handle
        self.cases = cases
        self.model = model or default_model()
        # Screens and routes a newly placed order (the exception desk's `process`): an exchange's replacement
        # goes the same way as every other order.
        self.place_replacement = place_replacement

    # -- asking ---------------------------------------------------------------------------------------
    def request(self, order_id: str, lines: Sequence[dict[str, Any]] | None, reason_text: str, *,
                requested_by: str, resolution: str = "refund", from_postal: str = "",
                authorised_by: str | None = None, idempotency_key: str | None = None,
                exchange_skus: dict[int, str] | None = None) -> dict[str, Any]:
        """Open a return. `lines` [{line_no, quantity, reason?, exchange_sku?}]; None asks for every shipped unit
        not already on a return. `exchange_sku` (exchanges only): another variant of the same category at the
        same catalog price, sent instead of the returned SKU; `exchange_skus` {line_no: sku} says the same for
        lines given or left out (every shipped unit). A line without a reason takes the one read from the
        customer's words. `authorised_by`: a person already decided (an approved proposal), so the return is
        authorised whatever the score."""
        text = str(reason_text or "")[:500]
        default_reason = reason_from_text(text)
        with self.uow_factory(readonly=True) as uow:
            order = uow.orders.get(order_id) if is_lookup_key(order_id) else None
            if order is None:
                raise e.UnknownOrder(f"order {str(order_id)[:40]!r} not found", order_id=str(order_id)[:40])
            facts = order_line_facts(uow, order.order_id)
            wanted = self._wanted(lines, facts, default_reason)
            if exchange_skus:
                wanted = _with_exchanges(wanted, exchange_skus)
            now = uow.now()
            skus = {f.line_no: f.sku for f in facts}
            price = {f.line_no: f.unit_price for f in facts}
            chosen = [w for w in wanted if isinstance(w.line_no, int) and w.line_no in skus
                      and isinstance(w.quantity, int) and w.quantity > 0]
            postal = (from_postal or order.ship_to.postal_code or "").strip()
            score = evidence = None
            if order.customer_id and chosen:
                history = uow.returns.customer_history(order.customer_id, now)
                f = features(history, ReturnRequestFacts(
                    at=now, units=sum(w.quantity for w in chosen),
                    value=float(sum(price[w.line_no] * w.quantity for w in chosen)),
                    from_postal=postal, order_ship_postal=order.ship_to.postal_code or ""))
                score, evidence = self.model.score(f), self.model.evidence(f)
            restock = self._restock(uow, [(skus[w.line_no], w.quantity) for w in chosen], postal) if chosen else None
        result: dict[str, Any] = self.handle(c.RequestReturn(
            order_id=order.order_id, lines=tuple(wanted), resolution=resolution, customer_text=text,
            from_postal=postal[:16], requested_by=str(requested_by)[:120],
            restock_node=restock.node if restock else None, restock_plan=restock.to_dict() if restock else None,
            abuse_score=None if score is None else round(score, 4), abuse_evidence=tuple(evidence or ()),
            idempotency_key=idempotency_key))
        with self.uow_factory(readonly=True) as uow:
            now_stored = self._rma(uow, result["rma_id"])
        if now_stored.status is not RmaStatus.REQUESTED or now_stored.case_id:
            # a retried request: it was decided the first time; answer where it stands now
            return {**rma_view(now_stored), "refusals": result.get("refusals", [])}
        if authorised_by:
            return {**self.authorise(result["rma_id"], authorised_by, "approved by a person"),
                    "refusals": result.get("refusals", [])}
        return {**self._decide(result, score, evidence), "refusals": result.get("refusals", [])}

    @staticmethod
    def _wanted(lines: Sequence[dict[str, Any]] | None, facts: Sequence[Any], default: ReturnReason
                ) -> list[c.ReturnLineRequest]:
        if lines is None:
            out = [c.ReturnLineRequest(line_no=f.line_no, quantity=f.shipped - f.already_returned,
                                       reason=default.value) for f in facts if f.shipped - f.already_returned > 0]
            if not out:
                shipped = any(f.shipped for f in facts)
                why = "every shipped unit is already on a return" if shipped else "nothing has shipped yet"
                raise e.ReturnNotEligible(f"nothing on this order can come back: {why}", problems=[Problem(
                    "return.nothing_returnable", "lines", why,
                    "see the open return" if shipped else "wait until the order has shipped")])
            return out
        if not isinstance(lines, (list, tuple)):
            raise e.ValidationFailed("lines must be a list", problems=[Problem(
                "return.lines_invalid", "lines", "not a list", "send [{line_no, quantity, reason}]")])
        out = []
        for i, ln in enumerate(lines):
            if not isinstance(ln, dict):
                raise e.ValidationFailed(f"lines[{i}] is not an object", problems=[Problem(
                    "return.line_invalid", f"lines[{i}]", "not an object", "send {line_no, quantity, reason}")])
            reason = ln.get("reason")
            out.append(c.ReturnLineRequest(line_no=ln.get("line_no"), quantity=ln.get("quantity"),  # type: ignore[arg-type]
                                           reason=str(reason) if reason else default.value,
                                           exchange_sku=ln.get("exchange_sku")))
        return out

    def _decide(self, rma: dict[str, Any], score: float | None, evidence: list[dict[str, object]] | None
                ) -> dict[str, Any]:
        """Authorise within policy, or hand it to a person when the abuse score is high."""
        if score is not None and score >= self.model.threshold:
            top = ", ".join(f"{x['feature']} {x['value']} (usual {x['usual']})" for x in (evidence or [])[:3])
            flag = Flag(ExceptionType.RETURN, "abuse_score",
                        f"return {rma['rma_id']} scores {score:.2f} for return abuse (threshold "
                        f"{self.model.threshold:.2f}): {top}",
                        {"rma_id": rma["rma_id"], "score": round(score, 4), "threshold": round(self.model.threshold, 4),
                         "features": evidence or [], "lines": rma["lines"]},
                        Recommendation(Action.START_RETURN, "check the evidence, then authorise the return or refuse "
                                       "it with a reason the customer will read",
                                       "an honest customer gets the label; an abuser is refused by a person",
                                       {"rma_id": rma["rma_id"]}, 0.6,
                                       ("refuse_return with {rma_id, reason}: the customer reads the reason",)),
                        blocking=False)
            case_id = self.cases.open_flag(rma["order_id"], flag)
            linked: dict[str, Any] = self.handle(c.LinkReturnCase(rma_id=rma["rma_id"], case_id=case_id))
            return {**linked, "review": "a person checks this return before it is authorised"}
        why = "within policy" + (f"; abuse score {score:.2f} below {self.model.threshold:.2f}"
                                 if score is not None else "")
        return self.authorise(rma["rma_id"], ENGINE, why)

    # -- deciding -------------------------------------------------------------------------------------
    def authorise(self, rma_id: str, actor: str, reason: str = "within policy") -> dict[str, Any]:
        """Authorise and issue the label (the carrier that delivered the order brings it back). A person's
        decision closes the return's case."""
        out: dict[str, Any] = self.handle(c.AuthoriseReturn(rma_id=rma_id, actor=actor, reason=reason,
                                                            idempotency_key=f"return:{rma_id}:authorise"))
        self._close_case(out, actor, Action.START_RETURN, f"authorised: {reason}")
        return self.issue_label(rma_id)

    def issue_label(self, rma_id: str) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            rma = self._rma(uow, rma_id)
            if rma.status is not RmaStatus.AUTHORISED:
                return rma_view(rma)
            shipments = uow.orders.shipments(rma.order_id)
            carrier = shipments[-1].carrier if shipments else None
        if carrier is None:  # a store drop-off: received without a label
            return rma_view(rma)
        out: dict[str, Any] = self.handle(c.IssueReturnLabel(
            rma_id=rma_id, carrier=carrier, tracking_number=f"RT{rma_id.removeprefix('RMA-')}",
            idempotency_key=f"return:{rma_id}:label"))
        return out

    def refuse(self, rma_id: str, actor: str, reason: str) -> dict[str, Any]:
        """Only a person refuses (the engine never does); the case closes with the decision."""
        out: dict[str, Any] = self.handle(c.RefuseReturn(rma_id=rma_id, actor=actor, reason=reason))
        self._close_case(out, actor, Action.REFUSE_RETURN, f"refused: {reason}")
        return out

    def _close_case(self, rma: dict[str, Any], actor: str, action: Action, note: str,
                    status: CaseStatus = CaseStatus.RESOLVED) -> None:
        if not rma.get("case_id") or actor == ENGINE:
            return
        with self.uow_factory(readonly=True) as uow:
            case = uow.exceptions.get_case(rma["case_id"])
        if case is not None and case.status is CaseStatus.OPEN:
            self.handle(c.CloseException(case_id=case.case_id, status=status.value, action=action.value,
                                         actor=actor, note=note[:1000], params={"rma_id": rma["rma_id"]},
                                         result={"status": rma["status"]}))

    def cancel(self, rma_id: str, actor: str, reason: str) -> dict[str, Any]:
        """The customer withdraws the return: a case waiting on it is cleared (nothing left to decide)."""
        out: dict[str, Any] = self.handle(c.CancelReturn(rma_id=rma_id, actor=actor, reason=reason))
        self._close_case(out, actor, Action.DISMISS, f"the return was withdrawn: {reason}", CaseStatus.CLEARED)
        return out

    # -- the warehouse --------------------------------------------------------------------------------
    def receive(self, rma_id: str, node: str, reference: str, quantities: dict[int, int] | None,
                close_short: bool = False) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            rma = self._rma(uow, rma_id)
        if quantities is None:  # everything that was authorised and has not arrived yet
            quantities = {ln.line_no: ln.quantity - ln.received for ln in rma.lines if ln.quantity > ln.received}
        out: dict[str, Any] = self.handle(c.ReceiveReturn(
            rma_id=rma_id, node=node, reference=reference, quantities=tuple(quantities.items()),
            close_short=close_short))
        return out

    def grade(self, rma_id: str, line_no: int, grade: str, reference: str, *, note: str = "",
              disposition: str | None = None, vendor_returnable: bool = True, actor: str = "") -> dict[str, Any]:
        out: dict[str, Any] = self.handle(c.GradeReturnLine(
            rma_id=rma_id, line_no=line_no, grade=grade, reference=reference, note=note, disposition=disposition,
            vendor_returnable=vendor_returnable, actor=actor))
        if out["status"] == RmaStatus.DISPOSED.value:  # every line is through: refund or replace, then close
            step: dict[str, Any] = {k: out[k] for k in ("replayed", "reference", "restocked_at", "line") if k in out}
            out = {**self.settle(rma_id), **step}
        return out

    def settle(self, rma_id: str) -> dict[str, Any]:
        """Refund, or place the replacement order and route it; then close."""
        with self.uow_factory(readonly=True) as uow:
            rma = self._rma(uow, rma_id)
            order = uow.orders.get(rma.order_id)
        if rma.status is not RmaStatus.DISPOSED or order is None:
            return rma_view(rma)
        if rma.resolution is Resolution.REFUND:
            out: dict[str, Any] = self.handle(c.SettleReturn(rma_id=rma_id, idempotency_key=f"return:{rma_id}:settle"))
            return out
        sellable = [ln for ln in rma.lines if ln.received]
        if not sellable:
            return rma_view(rma)
        placed = self.handle(c.PlaceOrder(
            channel=order.channel, external_id=f"EXCHANGE-{rma_id}", customer_id=order.customer_id,
            account_code=order.account_code, ship_to=order.ship_to.to_dict(), currency=order.currency,
            notes=f"replacement for return {rma_id} of order {order.order_id}",
            lines=tuple(c.NewOrderLine(sku=ln.replacement_sku, quantity=ln.received, unit_price=ln.unit_price)
                        for ln in sellable),
            idempotency_key=f"return:{rma_id}:exchange-order"))
        new_id = str(placed["order_id"])
        out = self.handle(c.SettleReturn(rma_id=rma_id, exchange_order_id=new_id,
                                         idempotency_key=f"return:{rma_id}:settle"))
        if self.place_replacement is not None:  # screened (not as a duplicate of the order it replaces), routed
            self.place_replacement(new_id)
        return out

    def settle_stalled(self, older_than: timedelta = timedelta(minutes=1), limit: int = 100) -> list[dict[str, Any]]:
        """Settle the returns left graded but unsettled: every line was disposed, then the process stopped
        before the refund or the replacement (grading and settling are separate transactions).

        Only those disposed more than `older_than` ago, so a grade whose own settlement is still running is
        left to it. Settling is idempotent (the refund and the replacement order carry fixed keys), so a
        return settled meanwhile is answered as it is."""
        with self.uow_factory(readonly=True) as uow:
            cutoff = uow.now() - older_than
            stalled = [r.rma_id for r in uow.returns.search(status=[RmaStatus.DISPOSED.value], limit=1000)
                       if r.history and r.history[-1].at <= cutoff]
        return [self.settle(rma_id) for rma_id in sorted(stalled)[:max(1, limit)]]

    def fit_abuse_model(self, *, min_decided: int = MIN_DECIDED, min_refused: int = MIN_REFUSED) -> RefitReport:
        """Fit the abuse score on this store's own decided returns (refused by a person = abuse) and measure it
        on the newest of them (see `engine.returns.abuse.refit`). Nothing changes until the model is written
        and named in ORDERLOOM_ABUSE_MODEL_FILE."""
        with self.uow_factory(readonly=True) as uow:
            decisions = uow.returns.decisions()
        return refit(decisions, min_decided=min_decided, min_refused=min_refused)

    # -- reading --------------------------------------------------------------------------------------
    def options(self, order_id: str) -> dict[str, Any]:
        """What a returns form offers for an order: each line with units that can still come back, the other
        sizes and colours an exchange may send instead, and the reasons. Whether a line is within the policy
        is answered when the return is asked for (each refused line named)."""
        with self.uow_factory(readonly=True) as uow:
            order = uow.orders.get(order_id) if is_lookup_key(order_id) else None
            if order is None:
                raise e.UnknownOrder(f"order {str(order_id)[:40]!r} not found", order_id=str(order_id)[:40])
            lines = []
            for f in order_line_facts(uow, order.order_id):
                units = f.shipped - f.already_returned
                if units <= 0:
                    continue
                item = uow.master.get_sku(f.sku)
                variants = uow.master.variants_of(item) if item is not None else []
                lines.append({"line_no": f.line_no, "sku": f.sku, "name": item.name if item else f.sku,
                              "variant": item.variant_label if item else f.sku, **_sets_apart(item),
                              "unit_price": str(f.unit_price), "returnable": units,
                              "variants": [{"sku": v.sku, "name": v.name, "variant": v.variant_label,
                                            **_sets_apart(v)} for v in variants]})
        return {"order_id": order.order_id, "lines": lines,
                "reasons": [{"reason": r.value, "words": REASON_WORDS[r], "merchant_fault": r.merchant_fault}
                            for r in ReturnReason]}

    def exchange_from_words(self, order_id: str, text: str) -> ExchangeChoice | None:
        """What the customer's words ask an exchange on the order to send (`exchange_wish`): None when they ask
        for no exchange. Otherwise the returnable lines, and for each line the words fit (a size, a size up or
        down, a colour the item comes in) the variant picked; no pick at all with a specific wish means the
        customer must choose from the lines' variants; an unspecific wish ("exchange it") means the same again."""
        offered = self.options(order_id)["lines"]
        with self.uow_factory(readonly=True) as uow:
            items = {ln["line_no"]: uow.master.get_sku(ln["sku"]) for ln in offered}
            variants = {n: uow.master.variants_of(item) if item else [] for n, item in items.items()}
        colours = {str(x.attributes["color"]) for x in [*items.values(), *(v for vs in variants.values() for v in vs)]
                   if x is not None and x.attributes.get("color")}
        wish = exchange_wish(text, colours)
        if wish is None:
            return None
        picks: dict[int, str] = {}
        if wish.specific:
            for n, item in items.items():
                pick = wish.pick(item.attributes, [(v.sku, v.attributes) for v in variants[n]]) if item else None
                if pick:
                    picks[n] = pick
        return ExchangeChoice(wish=wish, lines=offered, picks=picks,
                              labels={v.sku: v.variant_label for vs in variants.values() for v in vs})

    def get(self, rma_id: str) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            rma = self._rma(uow, rma_id)
        return {**rma_view(rma), "customer_text": rma.customer_text, "abuse_evidence": rma.abuse_evidence,
                "restock_plan": rma.restock_plan, "from_postal": rma.from_postal}

    def search(self, status: Sequence[str] = (), customer_id: str | None = None, limit: int = 100,
               account_code: str | None = None) -> list[dict[str, Any]]:
        bad = [s for s in status if s not in {x.value for x in RmaStatus}]
        if bad:
            raise e.ValidationFailed("unknown return status", problems=[Problem(
                "return.status_invalid", "status", f"{bad[0][:20]!r} is not a return status",
                "use one of " + ", ".join(x.value for x in RmaStatus))])
        with self.uow_factory(readonly=True) as uow:
            return [rma_view(r) for r in uow.returns.search(status=status, customer_id=customer_id,
                                                             account_code=account_code, limit=limit)]

    def for_order(self, order_id: str) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            return [rma_view(r) for r in uow.returns.for_order(order_id)]

    def policy(self) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            version, policy = policy_in_force(uow)
        return {"version": version, "policy": policy.to_settings()}

    def set_policy(self, settings: dict[str, Any], actor: str, note: str = "") -> dict[str, Any]:
        out: dict[str, Any] = self.handle(c.SetReturnPolicy(settings=settings, actor=actor, note=note))
        return out

    def analytics(self, days: int = 90) -> dict[str, Any]:
        with self.uow_factory(readonly=True) as uow:
            since = uow.now() - timedelta(days=days)
            return {"days": days, "since": since.isoformat(), **uow.returns.analytics(since)}

    @staticmethod
    def _rma(uow: AbstractUnitOfWork, rma_id: str) -> Rma:
        rma = uow.returns.get(rma_id) if is_lookup_key(rma_id) else None
        if rma is None:
            raise e.UnknownReturn(f"return {str(rma_id)[:40]!r} not found", rma_id=str(rma_id)[:40])
        return rma

    # -- restock routing ------------------------------------------------------------------------------
    def _restock(self, uow: AbstractUnitOfWork, items: Sequence[tuple[str, int]], from_postal: str
                 ) -> RestockChoice | None:
        """The cheapest node for the parcel: inbound from the customer, the expected outbound to where its
        SKUs sell, less a credit where a node is short. Priced with the carriers' ground rate cards, the
        ones forward routing uses. None when the customer's ZIP3 is unknown (the desk picks at receipt)."""
        customer = ZIP3_BY_PREFIX.get(from_postal[:3])
        nodes = [n for n in uow.master.list_nodes() if n.active and n.ship_from_enabled]
        if customer is None or not nodes:
            return None
        now = uow.now()
        skus = {sku for sku, _ in items}
        demand: dict[Zip3Region, float] = {}
        daily: dict[str, float] = {}
        for sku, qty in items:
            by_prefix = uow.returns.sku_demand(sku, now - timedelta(days=DEMAND_DAYS))
            daily[sku] = sum(by_prefix.values()) / DEMAND_DAYS
            for prefix, units in by_prefix.items():
                region = ZIP3_BY_PREFIX.get(prefix)
                if region is not None:
                    demand[region] = demand.get(region, 0.0) + units * qty
        weights = {s.sku: float(s.weight_kg) for sku in skus if (s := uow.master.get_sku(sku)) is not None}
        pounds = max(1, math.ceil(sum(weights.get(sku, 0.5) * qty for sku, qty in items) * 2.20462))
        rates = self._ground_rates(uow, [customer, *demand])
        if not rates:
            return None
        on_hand: dict[tuple[str, str], int] = {(b.sku, b.node): b.on_hand - b.reserved
                                               for b in uow.routing.balances_for_skus(skus)}
        options = []
        for n in nodes:
            region = ZIP3_BY_PREFIX.get((n.postal_code or "")[:3])
            if region is None:
                continue
            cover = min((on_hand.get((sku, n.code), 0) / (daily[sku] / len(nodes)) if daily[sku] else math.inf)
                        for sku in skus)
            options.append(NodeOption(n.code, region, cover))
        if not options:
            return None

        return choose_restock_node(options, customer, demand, pounds, lambda zone, lbs: _price(rates, zone, lbs))

    @staticmethod
    def _ground_rates(uow: AbstractUnitOfWork, regions: Sequence[Zip3Region]) -> dict[int, list[tuple[float, float]]]:
        """Zone -> the cheapest ground rate card's brackets (kg, price) among the lanes into these regions."""
        cards: dict[int, list[tuple[float, float]]] = {}
        for region in {r.prefix: r for r in regions}.values():
            for lane in uow.routing.lane_services_to(region.prefix):
                if lane.service != GROUND or not lane.brackets:
                    continue
                current = cards.get(lane.zone)
                if current is None or lane.brackets[0][1] < current[0][1]:
                    cards[lane.zone] = list(lane.brackets)
        return cards


def _sets_apart(item: Sku | None) -> dict[str, str | None]:
    """The colour and size of a variant, as the catalog gives them (None where it does not)."""
    attrs = item.attributes if item is not None else {}
    return {"color": attrs.get("color") or None, "size": attrs.get("size") or None}


def _with_exchanges(wanted: list[c.ReturnLineRequest], exchange_skus: dict[int, str]) -> list[c.ReturnLineRequest]:
    on_return = {w.line_no for w in wanted}
    missing = sorted(str(n)[:10] for n in exchange_skus if n not in on_return)
    if missing:
        raise e.ValidationFailed("an exchange names a line that is not being returned", problems=[Problem(
            "return.exchange_line_missing", f"exchange_skus.{n}", f"line {n} is not on this return",
            "return the line too, or leave its exchange out") for n in missing])
    return [dataclasses.replace(w, exchange_sku=exchange_skus[w.line_no]) if w.line_no in exchange_skus else w
            for w in wanted]


def _price(cards: dict[int, list[tuple[float, float]]], zone: int, pounds: int) -> float:
    """The ground price of a parcel of `pounds` in `zone` from the rate cards (the nearest zone priced)."""
    if not cards:
        return 0.0
    brackets = cards.get(zone) or cards[min(cards, key=lambda z: abs(z - zone))]
    kg = pounds / 2.20462
    for max_kg, price in brackets:
        if kg <= max_kg:
            return price
    return brackets[-1][1]

