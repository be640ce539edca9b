"""The customer assistant over HTTP: for a signed-in customer or buyer, about their own orders only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import requires
from api.http.ops_chat import assistant_model, conversations
from engine.domain.access import Permission, Principal

router = APIRouter(prefix="/customer", tags=["customer"])
Shopper = Annotated[Principal, Depends(requires(Permission.CHAT_CUSTOMER))]


class CustomerChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = Field(default="default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: str = Field(min_length=1, max_length=2000)


def assistant(request: Request) -> Any:
    found = getattr(request.app.state, "customer_assistant", None)
    if found is None:
        from agents.customer.graph import CustomerAssistant

        found = CustomerAssistant(request.app.state.engine_app, assistant_model(request, "customer_model"),
                                  conversations(request))
        request.app.state.customer_assistant = found
    return found


@router.post("/chat")
def chat(body: CustomerChatIn, request: Request, who: Shopper) -> dict[str, Any]:
    """Ask about your orders: "where is my order?", "when will 1042 arrive?", "change the address of W-1001 to
    12 Main St, Reno, NV 89501", "I want to return it". Changes are requests our team confirms."""
    ident = who.customer_id or who.account_code or who.principal_id
    reply = assistant(request).ask(who, f"{who.role.value}:{ident}:{body.thread_id}", body.message)
    return {"answer": reply.answer, "intent": reply.intent.get("intent")}
