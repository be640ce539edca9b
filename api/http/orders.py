"""Orders: place (structured, with Idempotency-Key), channel adapters, read, route, explain, and lifecycle."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.auth import current_principal, forbidden, order_for, requires
from api.http.deps import engine_app
from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain.access import Permission, Principal, Role
from engine.domain.routing import DecisionOutcome, RoutingDecision
from engine.intake.channels import MappedOrder, map_marketplace_order, map_pos_sale
from engine.services import views
from engine.services.delivery_dates import promised_delivery
from engine.services.routing import order_decisions

router = APIRouter(tags=["orders"])
EngineApp = Annotated[App, Depends(engine_app)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
RouteFlag = Annotated[bool, Query(description="route and reserve the order at once")]
Caller = Annotated[Principal, Depends(current_principal)]
Placer = Annotated[Principal, Depends(requires(Permission.ORDERS_PLACE))]
Reader = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]
Manager = Annotated[Principal, Depends(requires(Permission.ORDERS_MANAGE))]
Warehouse = Annotated[Principal, Depends(requires(Permission.FULFILMENT_REPORT))]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(max_length=64)
    quantity: StrictInt
    unit_price: Decimal | None = Field(default=None, description="omit to use the account's or list price")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=128)
    ship_to: dict[str, str]
    lines: list[LineIn] = Field(max_length=500)
    customer_id: str | None = Field(default=None, max_length=64)
    account_code: str | None = Field(default=None, max_length=32)
    currency: str = Field(default="USD", max_length=3)
    requested_delivery: datetime | None = None
    notes: str = Field(default="", max_length=4000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=500)


def decision_summary(d: RoutingDecision) -> dict[str, Any]:
    return {"decision_id": d.decision_id, "kind": d.kind.value, "attempt": d.attempt, "outcome": d.outcome.value,
            "status": d.status, "solver": d.solver, "policy_version": d.policy_version, "cost": d.cost,
            "shipments": d.shipments, "nodes": d.nodes, "solve_time_ms": d.solve_time_ms,
            "created_at": d.created_at.isoformat()}


def _accepted(app: App, order_id: str) -> dict[str, Any]:
    """What placing answers, built from the stored state so that a replay answers the same."""
    with app.uow(readonly=True) as uow:
        order = views.order_view(uow, order_id)
        decisions = uow.routing.decisions(order_id)
    final = [d for d in decisions if d.outcome in (DecisionOutcome.COMMITTED, DecisionOutcome.FAILED)]
    return {"order_id": order.order_id, "status": order.status, "status_reason": order.status_reason,
            "routing": decision_summary(final[-1]) if final else None}


def _place(app: App, cmd: c.PlaceOrder, route: bool, pickup_node: str | None = None) -> dict[str, Any]:
    order_id = str(app.bus.handle(cmd)["order_id"])
    with app.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
    if order is not None and order.status.value == "validated":
        if pickup_node is not None:
            app.bus.handle(c.AllocateOrder(order_id=order_id, allocations=tuple(
                c.LineAllocation(line_no=ln.line_no, node=pickup_node, quantity=ln.quantity) for ln in order.lines)))
        elif route:  # screened for exceptions first; routed when nothing blocks it
            app.exceptions.process(order_id)
    return _accepted(app, order_id)


@router.post("/orders", status_code=status.HTTP_201_CREATED)
def place_order(body: OrderIn, app: EngineApp, who: Placer, idempotency_key: IdempotencyKey = None,
                route: RouteFlag = True) -> dict[str, Any]:
    """Accept an order from any channel; with `route` (default) it is routed and reserved at once.

    Ops place for any channel; a channel integration for its own channel; a buyer for their own account.
    The same Idempotency-Key with the same body answers the first result; with another body, 409."""
    if who.role is Role.INTEGRATION and body.channel != who.scope_value:
        raise forbidden()
    if who.role is Role.BUYER:
        if body.account_code not in (None, who.account_code) or body.customer_id is not None:
            raise forbidden()
        body = body.model_copy(update={"account_code": who.account_code})
    cmd = c.PlaceOrder(channel=body.channel, external_id=body.external_id, ship_to=body.ship_to,
                       lines=tuple(c.NewOrderLine(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price)
                                   for ln in body.lines),
                       customer_id=body.customer_id, account_code=body.account_code, currency=body.currency,
                       requested_delivery=body.requested_delivery, notes=body.notes,
                       idempotency_key=idempotency_key)
    return _shown(who, app, _place(app, cmd, route))


@router.post("/intake/marketplace", status_code=status.HTTP_201_CREATED, tags=["intake"])
def marketplace_order(app: EngineApp, who: Placer, payload: Annotated[Any, Body()],
                      idempotency_key: IdempotencyKey = None, route: RouteFlag = True) -> dict[str, Any]:
    """A marketplace order feed entry (SP-API-like: AmazonOrderId, ShippingAddress, OrderItems)."""
    mapped = map_marketplace_order(payload)
    _integration_channel(who, mapped.command.channel)
    return _shown(who, app, _place(app, _keyed(mapped, idempotency_key), route))


@router.post("/intake/pos", status_code=status.HTTP_201_CREATED, tags=["intake"])
def pos_sale(app: EngineApp, who: Placer, payload: Annotated[Any, Body()], idempotency_key: IdempotencyKey = None,
             route: RouteFlag = True) -> dict[str, Any]:
    """A store POS sale: `fulfilment` ship (endless aisle, routed) or pickup (reserved in that store)."""
    if who.role is Role.BUYER:
        raise forbidden()
    store_address = None
    store = payload.get("store") if isinstance(payload, dict) else None
    if isinstance(store, str) and store.isprintable() and len(store) <= 32:
        with app.uow(readonly=True) as uow:
            node = uow.master.get_node(store)
        if node is not None and node.node_type.value == "store":
            store_address = {"line1": node.name, "city": node.city, "state": node.state,
                             "postal_code": node.postal_code, "country": "US"}
    mapped = map_pos_sale(payload, store_address)
    _integration_channel(who, mapped.command.channel)
    return _shown(who, app, _place(app, _keyed(mapped, idempotency_key), route, mapped.pickup_node))


def _shown(who: Principal, app: App, accepted: dict[str, Any]) -> dict[str, Any]:
    """Ops see the routing decision; a channel or a buyer sees the order's status and promised date, not the
    nodes, costs or the internal reason an order is held."""
    if who.sees_every_order:
        return accepted
    with app.uow(readonly=True) as uow:
        promised = promised_delivery(uow, accepted["order_id"])
    return {"order_id": accepted["order_id"], "status": accepted["status"],
            "promised_delivery": promised.isoformat() if promised else None}


def _integration_channel(who: Principal, channel: str) -> None:
    if who.role is Role.BUYER or (who.role is Role.INTEGRATION and channel != who.scope_value):
        raise forbidden()


def _keyed(mapped: MappedOrder, key: str | None) -> c.PlaceOrder:
    if key is None:
        return mapped.command
    from dataclasses import replace

    return replace(mapped.command, idempotency_key=key)


CUSTOMER_FIELDS = ("order_id", "channel", "external_id", "status", "placed_at", "currency", "total", "ship_to")


def customer_order(view: dict[str, Any]) -> dict[str, Any]:
    """What a customer or buyer sees of an order: no reservations, nodes, or internal reasons."""
    out = {k: view[k] for k in CUSTOMER_FIELDS}
    out["lines"] = [{k: ln[k] for k in ("line_no", "sku", "quantity", "unit_price", "shipped", "cancelled")}
                    for ln in view["lines"]]
    out["history"] = [{"at": h["at"], "status": h["to_status"]} for h in view["history"]]
    return out


@router.get("/orders")
def list_orders(app: EngineApp, who: Caller, status_filter: Annotated[str | None, Query(alias="status",
                                                                                       max_length=24)] = None,
                channel: Annotated[str | None, Query(max_length=32)] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    """Orders, newest first: ops see all (filter by status, channel); a customer their own; a buyer their
    account's; a channel integration its channel's."""
    filters: dict[str, Any] = {"status": status_filter, "limit": limit, "channel": channel}
    if not who.sees_every_order:
        if who.role is Role.CUSTOMER:
            filters["customer_id"] = who.customer_id
        elif who.role is Role.BUYER:
            filters["account_code"] = who.account_code
        elif who.role is Role.INTEGRATION and who.scope_kind == "channel":
            filters["channel"] = who.scope_value
        else:
            raise forbidden()
    with app.uow(readonly=True) as uow:
        views_ = [views.order_view(uow, oid).to_dict() for oid in uow.orders.list_ids(**filters)]
    if who.sees_every_order:
        return [{k: v[k] for k in (*CUSTOMER_FIELDS, "status_reason", "customer_id", "account_code")}
                for v in views_]
    return [customer_order(v) for v in views_]


@router.get("/orders/{order_id}")
def get_order(order_id: str, app: EngineApp, who: Caller) -> dict[str, Any]:
    """One order. Ops get the full view (reservations, reasons); customers and buyers their own orders only."""
    with app.uow(readonly=True) as uow:
        order_for(uow, who, order_id)
        view = views.order_view(uow, order_id).to_dict()
    return view if who.sees_every_order else customer_order(view)


@router.get("/orders/{order_id}/tracking", tags=["tracking"])
def order_tracking(order_id: str, app: EngineApp, who: Caller) -> dict[str, Any]:
    """Milestones, parcels, carrier scans, the promised and the currently expected delivery date."""
    with app.uow(readonly=True) as uow:
        order_for(uow, who, order_id)
        return app.tracking.order_tracking(uow, order_id)


@router.post("/orders/{order_id}/route", tags=["routing"])
def route_order(order_id: str, app: EngineApp, who: Manager) -> dict[str, Any]:
    """Route a validated order: commit the best plan, or send it to exception with the reasons."""
    return app.router.route(order_id).to_dict()


@router.get("/orders/{order_id}/decisions", tags=["routing"])
def get_decisions(order_id: str, app: EngineApp, who: Reader,
                  text: Annotated[bool, Query(description="include the explanation as text")] = False
                  ) -> list[dict[str, Any]]:
    """Every routing decision of the order with its plan, explanation and shadow baselines."""
    with app.uow(readonly=True) as uow:
        decisions = order_decisions(uow, order_id)
    out = []
    for d in decisions:
        explanation = dict(d.explanation)
        if not text:
            explanation.pop("text", None)
        out.append({**decision_summary(d), "plan": d.plan, "baselines": d.baselines, "explanation": explanation})
    return out


def _lifecycle(app: App, cmd: c.Command) -> dict[str, Any]:
    result: dict[str, Any] = app.bus.handle(cmd)
    return result


@router.post("/orders/{order_id}/release")
def release(order_id: str, app: EngineApp, who: Manager) -> dict[str, Any]:
    return _lifecycle(app, c.ReleaseOrderToFulfillment(order_id=order_id))


@router.post("/orders/{order_id}/cancel")
def cancel(order_id: str, body: ReasonIn, app: EngineApp, who: Manager) -> dict[str, Any]:
    return _lifecycle(app, c.CancelOrder(order_id=order_id, reason=body.reason))


@router.post("/orders/{order_id}/hold")
def hold(order_id: str, body: ReasonIn, app: EngineApp, who: Manager) -> dict[str, Any]:
    return _lifecycle(app, c.HoldOrder(order_id=order_id, reason=body.reason))


@router.post("/orders/{order_id}/resume")
def resume(order_id: str, body: ReasonIn, app: EngineApp, who: Manager,
           to_validated: Annotated[bool, Query(description="give the stock back and route again")] = False
           ) -> dict[str, Any]:
    return _lifecycle(app, c.ResumeOrder(order_id=order_id, reason=body.reason, to_validated=to_validated))


@router.get("/inventory/atp/{sku}", tags=["inventory"])
def atp(sku: str, app: EngineApp, who: Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))],
        channel: str | None = None) -> dict[str, Any]:
    with app.uow(readonly=True) as uow:
        return views.available_to_promise(uow, sku, channel).to_dict()


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(max_length=64)
    node: str = Field(max_length=32)
    quantity: StrictInt = Field(ge=1, le=10_000_000)
    reference: str = Field(min_length=1, max_length=128, description="the ASN or receipt number: a receipt "
                                                                   "reported twice is counted once")


@router.post("/inventory/receipts", status_code=status.HTTP_201_CREATED, tags=["inventory"])
def receive_stock(body: ReceiptIn, app: EngineApp, who: Warehouse) -> dict[str, Any]:
    """The warehouse received stock (a purchase order, a transfer, replenishment): on hand goes up through
    the ledger and the units are available to promise at once. A warehouse integration reports only for
    its own node."""
    if who.role is Role.INTEGRATION and who.scope_value != body.node:
        raise forbidden()
    result: dict[str, Any] = app.bus.handle(c.ReceiveStock(
        sku=body.sku, node=body.node, quantity=body.quantity, reference=body.reference,
        idempotency_key=f"receipt:{body.node}:{body.reference}:{body.sku}"))
    return {"sku": body.sku, "node": body.node, "quantity": body.quantity, "reference": body.reference,
            "result": result}




class ShipmentLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: StrictInt = Field(ge=1, le=10_000)
    quantity: StrictInt


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str = Field(max_length=32)
    lines: list[ShipmentLineIn] = Field(min_length=1, max_length=500)
    carrier: str = Field(max_length=32)
    tracking_number: str = Field(max_length=64)
    shipment_id: str | None = Field(default=None, max_length=64)


@router.post("/orders/{order_id}/shipments", status_code=status.HTTP_201_CREATED, tags=["fulfilment"])
def record_shipment(order_id: str, body: ShipmentIn, app: EngineApp, who: Warehouse) -> dict[str, Any]:
    """The warehouse shipped lines (a repeated shipment id changes nothing). A warehouse integration reports
    only for its own node."""
    if who.role is Role.INTEGRATION and who.scope_value != body.node:
        raise forbidden()
    return _lifecycle(app, c.RecordShipment(
        order_id=order_id, node=body.node, carrier=body.carrier, tracking_number=body.tracking_number,
        shipment_id=body.shipment_id,
        lines=tuple(c.ShipmentLine(line_no=ln.line_no, quantity=ln.quantity) for ln in body.lines)))
