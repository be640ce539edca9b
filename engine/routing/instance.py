"""Pydantic models of one sourcing decision: the instance, the policy, the solver config and the solution.

Money is in the merchant's currency (floats at the edges); the model and the costing work on integers
scaled by `COST_SCALE` (see `engine/routing/costing.py`). Weights are turned into whole grams.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoutingLine(_Frozen):
    """One order line to be sourced."""

    line_no: int
    sku: str
    quantity: int = Field(gt=0)
    unit_weight_kg: float = Field(ge=0)
    hazmat: bool = False


class RoutingNode(_Frozen):
    """A stock location as the router sees it today."""

    code: str
    node_type: str = "warehouse"
    ship_from_enabled: bool = True
    hazmat_capable: bool = False
    b2b_only: bool = False
    capacity_left: int = Field(ge=0, description="units the node can still pick today")
    handling_cost_per_shipment: float = Field(default=0.0, ge=0)
    handling_cost_per_unit: float = Field(default=0.0, ge=0)
    days_to_ship: int = Field(default=0, ge=0, description="0 if before today's cutoff, else 1")


class StockPosition(_Frozen):
    """Units of a SKU the order may take from a node (after safety stock, protection and channel caps)."""

    node: str
    sku: str
    available: int = Field(ge=0)


class RateBracket(_Frozen):
    """Price for any shipment weighing at most `max_weight_kg` (and more than the previous bracket)."""

    max_weight_kg: float = Field(gt=0)
    price: float = Field(ge=0)


class ServiceOption(_Frozen):
    """A carrier service from one node to the order's destination, with its rate card for that zone.

    Price of a shipment: the first bracket whose `max_weight_kg` >= the shipment weight; beyond the last
    bracket, the last price plus `price_per_kg_beyond` for every started kilogram above it.
    """

    node: str
    carrier: str
    service_level: str
    zone: int = Field(ge=0)
    transit_days: int = Field(ge=0)
    on_time_probability: float = Field(ge=0, le=1)
    brackets: list[RateBracket] = Field(min_length=1)
    price_per_kg_beyond: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _brackets_ascend(self) -> ServiceOption:
        weights = [b.max_weight_kg for b in self.brackets]
        if weights != sorted(weights) or len(set(weights)) != len(weights):
            raise ValueError("rate brackets must have strictly ascending max_weight_kg")
        return self

    @property
    def key(self) -> str:
        return f"{self.carrier}/{self.service_level}"

    @cached_property
    def limits_g(self) -> list[int]:
        """Bracket limits in whole grams (cached; `model_copy` drops the cache)."""
        return [round(b.max_weight_kg * 1000) for b in self.brackets]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> ServiceOption:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("limits_g", None)
        return copied


class MarkdownRisk(_Frozen):
    """Credit per unit for shipping stock from a node where it would otherwise lose value."""

    node: str
    sku: str
    credit_per_unit: float = Field(ge=0)


class RoutingInstance(_Frozen):
    """Everything the router needs to source one order; the caller has already filtered stock."""

    order_id: str
    channel: str = "web"
    b2b: bool = False
    ship_complete: bool = False
    max_shipments: int | None = Field(default=None, ge=1)
    deadline_days: int = Field(ge=0, description="promised delivery, in days from now")
    lines: list[RoutingLine] = Field(min_length=1)
    nodes: list[RoutingNode]
    stock: list[StockPosition] = Field(default_factory=list)
    services: list[ServiceOption] = Field(default_factory=list)
    markdown: list[MarkdownRisk] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_are_consistent(self) -> RoutingInstance:
        codes = [n.code for n in self.nodes]
        if len(set(codes)) != len(codes):
            raise ValueError("node codes must be unique")
        line_nos = [line.line_no for line in self.lines]
        if len(set(line_nos)) != len(line_nos):
            raise ValueError("line numbers must be unique")
        known = set(codes)
        referenced = [s.node for s in self.stock] + [s.node for s in self.services] + [m.node for m in self.markdown]
        for code in referenced:
            if code not in known:
                raise ValueError(f"unknown node {code!r}")
        pairs = [(s.node, s.sku) for s in self.stock]
        if len(set(pairs)) != len(pairs):
            raise ValueError("one stock position per (node, sku)")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> RoutingInstance:
        """A copy whose lookup indexes are rebuilt from its own fields (they are cached per object)."""
        copied = super().model_copy(update=update, deep=deep)
        for name in ("_node_index", "_line_index", "_stock_index", "_markdown_index", "_service_index"):
            copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def _node_index(self) -> dict[str, RoutingNode]:
        return {n.code: n for n in self.nodes}

    @cached_property
    def _line_index(self) -> dict[int, RoutingLine]:
        return {line.line_no: line for line in self.lines}

    @cached_property
    def _stock_index(self) -> dict[tuple[str, str], int]:
        return {(s.node, s.sku): s.available for s in self.stock}

    @cached_property
    def _markdown_index(self) -> dict[tuple[str, str], float]:
        return {(m.node, m.sku): m.credit_per_unit for m in self.markdown}

    @cached_property
    def _service_index(self) -> dict[str, list[ServiceOption]]:
        index: dict[str, list[ServiceOption]] = {n.code: [] for n in self.nodes}
        for service in self.services:
            index[service.node].append(service)
        return index

    def node(self, code: str) -> RoutingNode:
        return self._node_index[code]

    def line(self, line_no: int) -> RoutingLine:
        return self._line_index[line_no]

    def available(self, node: str, sku: str) -> int:
        return self._stock_index.get((node, sku), 0)

    def markdown_credit(self, node: str, sku: str) -> float:
        return self._markdown_index.get((node, sku), 0.0)

    def services_from(self, node: str) -> list[ServiceOption]:
        return self._service_index.get(node, [])

    def meets_sla(self, service: ServiceOption) -> bool:
        return self.node(service.node).days_to_ship + service.transit_days <= self.deadline_days

    def service(self, node: str, key: str) -> ServiceOption | None:
        return next((s for s in self.services_from(node) if s.key == key), None)


class PolicyWeights(_Frozen):
    """Weights of the objective terms; each is a multiplier on a cost in currency.

    - `shipping_cost`, `handling_cost`: multipliers on the carrier price and the node handling cost.
    - `split_penalty`: currency per shipment beyond the first.
    - `sla_risk`: expected cost of one late shipment; a shipment costs `sla_risk * (1 - on_time_probability)`.
      A fixed amount rather than a share of order value, so the term does not need prices and stays
      comparable across orders; a caller that wants value scaling sets it per order.
    - `markdown_credit`: multiplier on the per-unit markdown credit (subtracted).
    - `capacity_balance`: currency for consuming a node's whole remaining capacity; a shipment taking
      `q` units costs `capacity_balance * q / capacity_left`.
    """

    shipping_cost: float = Field(default=1.0, ge=0)
    handling_cost: float = Field(default=1.0, ge=0)
    split_penalty: float = Field(default=0.0, ge=0)
    sla_risk: float = Field(default=0.0, ge=0)
    markdown_credit: float = Field(default=0.0, ge=0)
    capacity_balance: float = Field(default=0.0, ge=0)


class RoutingPolicy(_Frozen):
    """Versioned objective weights that people set (e.g. "margin over speed")."""

    version: int = Field(ge=1)
    name: str
    weights: PolicyWeights = Field(default_factory=PolicyWeights)
    max_shipments: int | None = Field(default=None, ge=1)
    default_deadline_days: int = Field(
        default=5, ge=0, le=60, description="promise in days when the order names no delivery date"
    )


class RoutingConfig(_Frozen):
    """Solver parameters; `time_limit_s` is the whole decision's budget, greedy start included."""

    time_limit_s: float = Field(default=1.0, gt=0)
    workers: int = Field(default=1, ge=1)
    seed: int = 0
    greedy_fallback: bool = True
    candidate_nodes: int | None = Field(
        default=4,
        ge=0,
        description="nodes the model may use besides the greedy plan's and each line's two cheapest, ranked by "
        "`engine.routing.solver.candidate_nodes`; None keeps every eligible node (exact: the optimum and "
        "bound are then over all plans)",
    )


class RoutingStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    FALLBACK = "fallback"
    INFEASIBLE = "infeasible"


class Assignment(_Frozen):
    line_no: int
    node: str
    quantity: int = Field(gt=0)


class CostBreakdown(_Frozen):
    """Weighted objective terms in currency; `total` is their sum (markdown is a credit, so negative)."""

    shipping: float = 0.0
    handling: float = 0.0
    split: float = 0.0
    sla_risk: float = 0.0
    markdown: float = 0.0
    capacity_balance: float = 0.0
    total: float = 0.0


class Shipment(_Frozen):
    node: str
    carrier: str
    service_level: str
    units: int
    weight_kg: float
    price: float
    transit_days: int
    on_time_probability: float
    cost: CostBreakdown


class InfeasibilityReason(_Frozen):
    line_no: int | None
    constraint: str
    detail: str


class RoutingSolution(_Frozen):
    status: RoutingStatus
    assignments: list[Assignment] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    cost: CostBreakdown = Field(default_factory=CostBreakdown)
    objective: float | None = None
    best_bound: float | None = None
    solve_time_ms: float = 0.0
    policy_version: int
    solver: str = "cp-sat"
    reasons: list[InfeasibilityReason] = Field(default_factory=list)

    @property
    def is_feasible(self) -> bool:
        return self.status is not RoutingStatus.INFEASIBLE
