"""Records of routing decisions and routing policies as the engine stores them.

The optimisation model itself lives in `engine.routing` (pure, OR-Tools); these are the plain records the
services and repositories pass around: what was decided, why, under which policy, and what each baseline
would have done (shadow mode).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class DecisionKind(enum.StrEnum):
    PLACEMENT = "placement"
    REOPTIMISATION = "reoptimisation"


class DecisionOutcome(enum.StrEnum):
    COMMITTED = "committed"  # the plan was reserved and the order allocated
    LOST_RACE = "lost_race"  # the plan could not be reserved (stock or capacity taken meanwhile); re-solved
    FAILED = "failed"  # no plan: the order went to exception with the reasons
    KEPT = "kept"  # re-optimisation found nothing cheaper enough; the current plan stays


@dataclass
class RoutingDecision:
    decision_id: str
    order_id: str
    kind: DecisionKind
    attempt: int
    outcome: DecisionOutcome
    status: str
    solver: str
    policy_version: int
    cost: float | None
    shipments: int
    solve_time_ms: float
    plan: list[dict[str, Any]]
    explanation: dict[str, Any]
    baselines: dict[str, Any]
    created_at: datetime
    instance: dict[str, Any] | None = None

    @property
    def nodes(self) -> list[str]:
        return sorted({str(p["node"]) for p in self.plan})

    def units_per_node_day(self) -> dict[tuple[str, str], int]:
        """Pick-capacity units the plan takes per (node, local day)."""
        units: dict[tuple[str, str], int] = {}
        for p in self.plan:
            key = (str(p["node"]), str(p["day"]))
            units[key] = units.get(key, 0) + int(p["quantity"])
        return units


@dataclass
class AuditEntry:
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]
