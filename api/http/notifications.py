"""The notification log and ops' approval of clarification questions before they go to a buyer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import requires
from api.http.deps import engine_app
from engine.bootstrap import App
from engine.domain.access import Permission, Principal

router = APIRouter(prefix="/notifications", tags=["notifications"])
EngineApp = Annotated[App, Depends(engine_app)]
Ops = Annotated[Principal, Depends(requires(Permission.NOTIFICATIONS_MANAGE))]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "edit", "reject"]
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=20_000)


@router.get("")
def notifications(app: EngineApp, who: Ops,
                  status: Annotated[str | None, Query(max_length=20)] = None,
                  order_id: Annotated[str | None, Query(max_length=64)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Drafted and sent messages, newest first (status: pending, awaiting_approval, sent, failed, ...)."""
    return app.notifications.list(status=status, order_id=order_id, limit=limit)


@router.post("/{notification_id}/decision")
def decide(notification_id: str, body: DecisionIn, app: EngineApp, who: Ops) -> dict[str, Any]:
    """Approve, edit (approve with new text) or reject a clarification question before it is sent."""
    return app.notifications.decide(notification_id[:32], body.decision, who.name, subject=body.subject,
                                    body=body.body)


@router.post("/deliver")
def deliver(app: EngineApp, who: Ops) -> dict[str, Any]:
    """Send what is due now (the server also does this every few seconds)."""
    app.relay.pump()
    return app.notifications.deliver_due().to_dict()
