"""Restock routing: where a returned, sellable unit should go.

Back to the node it shipped from is the habit; the cheapest place is often elsewhere. For each candidate
node that takes returns, the cost of sending the unit there is

    inbound  = the parcel rate from the customer's ZIP3 to the node (zone by distance, the rate card's
               ground price for the unit's billable weight)
  + outbound = the expected cost of shipping it out again from that node: the ground rate to each region
               the SKU sells into, weighted by that region's share of the SKU's demand
  - holding  = a credit where the node is short of the SKU (its cover in days below the target): a unit
               there avoids a transfer or a split later (`shortage_credit` per unit, scaled by the gap)

and the unit goes to the cheapest. The routing engine's own rate model (`engine.domain.geo` zones and
the rate the caller passes) prices the legs, so restock and forward routing agree on what a mile costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from engine.domain.geo import Zip3Region, zone_between

RateFn = Callable[[int, int], float]  # (zone, billable pounds) -> ground price


@dataclass(frozen=True)
class NodeOption:
    code: str
    region: Zip3Region
    cover_days: float          # units on hand / daily demand for the SKU at this node (inf when no demand)
    accepts_returns: bool = True


@dataclass(frozen=True)
class RestockChoice:
    node: str
    cost: float
    inbound: float
    outbound: float
    credit: float
    alternatives: tuple[tuple[str, float], ...]   # every candidate with its cost, cheapest first

    def to_dict(self) -> dict[str, object]:
        return {"node": self.node, "cost": round(self.cost, 2), "inbound": round(self.inbound, 2),
                "outbound": round(self.outbound, 2), "credit": round(self.credit, 2),
                "alternatives": [{"node": n, "cost": round(c, 2)} for n, c in self.alternatives]}


def leg_cost(origin: Zip3Region, destination: Zip3Region, pounds: int, rate: RateFn) -> float:
    return rate(zone_between(origin, destination), max(1, pounds))


def node_cost(node: NodeOption, customer: Zip3Region, demand: Mapping[Zip3Region, float], pounds: int,
              rate: RateFn, *, target_cover_days: float = 30.0, shortage_credit: float = 4.0
              ) -> tuple[float, float, float]:
    inbound = leg_cost(customer, node.region, pounds, rate)
    total = sum(demand.values())
    outbound = (sum(share * leg_cost(node.region, region, pounds, rate) for region, share in demand.items()) / total
                if total else 0.0)
    gap = max(0.0, target_cover_days - node.cover_days) / target_cover_days if target_cover_days else 0.0
    return inbound, outbound, shortage_credit * gap


def choose_restock_node(nodes: Sequence[NodeOption], customer: Zip3Region, demand: Mapping[Zip3Region, float],
                        pounds: int, rate: RateFn, **weights: float) -> RestockChoice:
    """The cheapest node for one returned unit; ValueError when no node takes returns."""
    costed = []
    for node in nodes:
        if not node.accepts_returns:
            continue
        inbound, outbound, credit = node_cost(node, customer, demand, pounds, rate, **weights)
        costed.append((inbound + outbound - credit, node.code, inbound, outbound, credit))
    if not costed:
        raise ValueError("no node accepts returns")
    costed.sort()
    cost, code, inbound, outbound, credit = costed[0]
    return RestockChoice(code, cost, inbound, outbound, credit, tuple((c[1], c[0]) for c in costed))


def origin_cost(origin: NodeOption, customer: Zip3Region, demand: Mapping[Zip3Region, float], pounds: int,
                rate: RateFn, **weights: float) -> float:
    """The same cost, for the habit: the unit goes back to the node it shipped from."""
    inbound, outbound, credit = node_cost(origin, customer, demand, pounds, rate, **weights)
    return inbound + outbound - credit
