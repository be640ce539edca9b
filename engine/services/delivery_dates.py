"""Delivery dates the engine has committed to, read back from the routing decisions.

Kept apart from the router (which imports the command handlers) so that handlers, the exception desk, the
tracking desk and the notifier can all ask "when did we promise this order?" the same way.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from engine.domain.routing import DecisionOutcome, RoutingDecision
from engine.routing.promise import PromiseCalendar
from engine.services.unit_of_work import AbstractUnitOfWork

DEFAULT_CALENDAR = PromiseCalendar()


def expected_delivery(uow: AbstractUnitOfWork, decision: RoutingDecision, *,
                      calendar: PromiseCalendar = DEFAULT_CALENDAR) -> date | None:
    """When the order routed by `decision` should arrive: per shipment, the node's ship day (cutoff in its
    zone, the carrier calendar) plus the chosen service's transit days; the latest shipment counts."""
    latest: date | None = None
    for shipment in decision.explanation.get("shipments", []):
        node = uow.master.get_node(str(shipment.get("node")))
        if node is None:
            return None
        local = decision.created_at.astimezone(ZoneInfo(node.timezone))
        ships = local.date() if calendar.is_pickup_day(local.date()) and local.time() < node.cutoff_local \
            else calendar.next_pickup_day(local.date())
        arrives = calendar.add_transit(ships, int(shipment.get("transit_days", 0)))
        latest = arrives if latest is None or arrives > latest else latest
    return latest


def promised_delivery(uow: AbstractUnitOfWork, order_id: str, *,
                      calendar: PromiseCalendar = DEFAULT_CALENDAR) -> date | None:
    """The delivery date the engine committed to for the order: its last committed routing decision's."""
    committed = [d for d in uow.routing.decisions(order_id) if d.outcome is DecisionOutcome.COMMITTED]
    return expected_delivery(uow, committed[-1], calendar=calendar) if committed else None
