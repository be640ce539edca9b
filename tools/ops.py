"""The ops assistant's tools: thin typed wrappers over the exception desk and the read views.

`READ_TOOLS` only read. `PROPOSE_TOOLS` only create a pending `Proposal` (engine command CreateProposal):
nothing about an order, its stock or its customer changes until a person approves it, and the approval runs
through the exception desk (re-validated, idempotent). No tool here can approve, resolve or execute.
Engine errors come back as `{"error": code, "message": ..., "problems": [...]}` the model and the person
can act on, never as exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any, Literal, Protocol

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from engine.domain import errors as e
from engine.domain.exceptions import Action, ExceptionType
from engine.services import views
from engine.services.exceptions import ExceptionDesk
from engine.services.unit_of_work import AbstractUnitOfWork

ACTION_NAMES = tuple(a.value for a in Action)
TYPE_NAMES = tuple(t.value for t in ExceptionType)


class OpsApp(Protocol):
    """What the tools need from the running engine (engine.bootstrap.App)."""

    @property
    def exceptions(self) -> ExceptionDesk: ...

    def uow(self, *, readonly: bool = False) -> AbstractUnitOfWork: ...


def _safe(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except e.OrderloomError as exc:
        return {"error": exc.code, "message": exc.message, "problems": [p.to_dict() for p in exc.problems]}


# -- arguments ---------------------------------------------------------------------------------------

class QueueArgs(BaseModel):
    type: Literal[TYPE_NAMES] | None = Field(None, description="exception type")  # type: ignore[valid-type]
    channel: str | None = Field(None, max_length=32)
    today: bool = Field(False, description="only cases opened since midnight UTC")
    status: Literal["open", "auto_resolved", "resolved", "dismissed", "cleared"] = "open"
    limit: int = Field(20, ge=1, le=200)


class CaseArgs(BaseModel):
    case_id: str = Field(max_length=20)


class OrderArgs(BaseModel):
    order_id: str = Field(max_length=20)


class SkuArgs(BaseModel):
    sku: str = Field(max_length=64)


class AuditArgs(BaseModel):
    entity: Literal["exception", "proposal", "order", "resolution_policy", "routing_policy", "carrier"]
    entity_id: str = Field(max_length=64)
    limit: int = Field(20, ge=1, le=200)


class ProposeArgs(BaseModel):
    action: Literal[ACTION_NAMES]  # type: ignore[valid-type]
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = Field(min_length=1, max_length=2000)
    order_id: str | None = Field(None, max_length=20)
    case_id: str | None = Field(None, max_length=20)


class OpsTools:
    """The tools bound to one engine and one conversation (the proposals name the thread)."""

    def __init__(self, app: OpsApp, *, proposed_by: str = "ops-assistant", thread_id: str | None = None) -> None:
        self.app = app
        self.proposed_by = proposed_by
        self.thread_id = thread_id

    # -- read
    def queue(self, type: str | None = None, channel: str | None = None, today: bool = False,
              status: str = "open", limit: int = 20) -> dict[str, Any]:
        since = None
        if today:
            now = self.app.exceptions.now()
            since = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
        cases = _safe(lambda: self.app.exceptions.cases(status=status, type=type, channel=channel, since=since,
                                                        limit=limit))
        if isinstance(cases, dict):
            return cases
        return {"cases": cases, "count": len(cases), "filters": {"type": type, "channel": channel, "today": today,
                                                                 "status": status}}

    def case(self, case_id: str) -> dict[str, Any]:
        result: dict[str, Any] = _safe(lambda: self.app.exceptions.case(case_id))
        return result

    def order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = _safe(lambda: self.app.exceptions.order_summary(order_id))
        return result

    def inventory(self, sku: str) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            with self.app.uow(readonly=True) as uow:
                return views.available_to_promise(uow, sku).to_dict()
        result: dict[str, Any] = _safe(read)
        return result

    def audit(self, entity: str, entity_id: str, limit: int = 20) -> dict[str, Any]:
        entries = _safe(lambda: self.app.exceptions.audit(entity=entity, entity_id=entity_id, limit=limit))
        return entries if isinstance(entries, dict) else {"entries": entries}

    # -- propose
    def propose(self, action: str, params: dict[str, Any], rationale: str, order_id: str | None = None,
                case_id: str | None = None) -> dict[str, Any]:
        """Create a pending proposal for a person to approve, edit or reject. Changes nothing else."""
        result: dict[str, Any] = _safe(lambda: self.app.exceptions.propose(
            action, params, rationale, self.proposed_by, order_id=order_id, case_id=case_id,
            thread_id=self.thread_id))
        return result

    def read_tools(self) -> list[BaseTool]:
        return [
            StructuredTool.from_function(self.queue, name="exception_queue", args_schema=QueueArgs,
                                         description="Open exception cases by priority, filtered by type, "
                                                     "channel or today."),
            StructuredTool.from_function(self.case, name="exception_case", args_schema=CaseArgs,
                                         description="One case: what happened, evidence, recommendation, "
                                                     "order snapshot, proposals and audit trail."),
            StructuredTool.from_function(self.order, name="order_summary", args_schema=OrderArgs,
                                         description="An order's state, lines, routing decision and why, "
                                                     "open cases and shipments."),
            StructuredTool.from_function(self.inventory, name="inventory_for_sku", args_schema=SkuArgs,
                                         description="Available-to-promise for a SKU per node and channel."),
            StructuredTool.from_function(self.audit, name="audit_trail", args_schema=AuditArgs,
                                         description="Who decided what about a case, proposal or order."),
        ]

    def propose_tools(self) -> list[BaseTool]:
        return [StructuredTool.from_function(self.propose, name="propose_action", args_schema=ProposeArgs,
                                             description="Propose an action on an order or case for a person "
                                                         "to approve; nothing changes until they do.")]


def read_tool_names() -> list[str]:
    return ["exception_queue", "exception_case", "order_summary", "inventory_for_sku", "audit_trail"]


def propose_tool_names() -> list[str]:
    return ["propose_action"]


READ_TOOLS = read_tool_names()
PROPOSE_TOOLS = propose_tool_names()
ALL_TOOLS = READ_TOOLS + PROPOSE_TOOLS
