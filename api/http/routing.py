"""Routing policies (versioned, audited), batch re-optimisation and the shadow comparison."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.auth import requires
from api.http.deps import engine_app
from engine.bootstrap import App
from engine.domain import commands as c
from engine.domain.access import Permission, Principal
from engine.services.routing import shadow_summary

router = APIRouter(prefix="/routing", tags=["routing"])
EngineApp = Annotated[App, Depends(engine_app)]
Reader = Annotated[Principal, Depends(requires(Permission.ORDERS_READ_ANY))]
PolicyAdmin = Annotated[Principal, Depends(requires(Permission.POLICY_WRITE))]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    weights: dict[str, float]
    actor: str | None = Field(default=None, max_length=100, description="ignored: the caller is recorded")
    max_shipments: StrictInt | None = None
    default_deadline_days: StrictInt = 5
    note: str = Field(default="", max_length=500)
    activate: bool = False


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str | None = Field(default=None, max_length=100, description="ignored: the caller is recorded")
    reason: str = Field(default="", max_length=500)


@router.get("/policies")
def policies(app: EngineApp, who: Reader) -> list[dict[str, Any]]:
    with app.uow(readonly=True) as uow:
        return [{"version": p.version, "name": p.name, "weights": p.weights, "max_shipments": p.max_shipments,
                 "default_deadline_days": p.default_deadline_days, "note": p.note, "created_by": p.created_by,
                 "created_at": p.created_at.isoformat(), "active": p.active} for p in uow.routing.policies()]


@router.post("/policies", status_code=status.HTTP_201_CREATED)
def create_policy(body: PolicyIn, app: EngineApp, who: PolicyAdmin) -> dict[str, Any]:
    result: dict[str, Any] = app.bus.handle(c.CreateRoutingPolicy(
        name=body.name, weights=body.weights, actor=who.name, max_shipments=body.max_shipments,
        default_deadline_days=body.default_deadline_days, note=body.note, activate=body.activate))
    return result


@router.post("/policies/{version}/activate")
def activate_policy(version: int, body: ActivateIn, app: EngineApp, who: PolicyAdmin) -> dict[str, Any]:
    result: dict[str, Any] = app.bus.handle(c.ActivateRoutingPolicy(version=version, actor=who.name,
                                                                    reason=body.reason))
    return result


@router.get("/audit")
def audit(app: EngineApp, who: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    with app.uow(readonly=True) as uow:
        return [{"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "entity": a.entity,
                 "entity_id": a.entity_id, "detail": a.detail} for a in uow.routing.audit("routing_policy",
                                                                                         limit=limit)]


@router.post("/reoptimise")
def reoptimise(app: EngineApp, who: PolicyAdmin, window_min: Annotated[int, Query(ge=1, le=1440)] = 15,
               min_saving: Annotated[float, Query(ge=0, le=10_000)] = 0.5) -> dict[str, Any]:
    """Re-solve allocated, unreleased orders of the window; switch those that get cheaper enough."""
    report = app.router.reoptimise(window=timedelta(minutes=window_min), min_saving=min_saving)
    return dict(report.__dict__)


@router.get("/shadow")
def shadow(app: EngineApp, who: Reader, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> dict[str, Any]:
    """Orderloom's committed placements against what each baseline would have cost on the same orders."""
    with app.uow(readonly=True) as uow:
        return shadow_summary(uow, limit).to_dict()
