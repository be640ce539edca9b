"""What the model fills for the ops assistant: one flat form (small local models cannot call tools reliably)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Intent = Literal["queue", "case_detail", "order_status", "why_routed", "inventory", "propose_action",
                 "summarise_case", "help", "other"]
ExceptionTypeName = Literal["address", "payment", "inventory", "carrier", "catalog", "price", "high_value",
                            "cold_start", "duplicate", "milestone", "anomaly", "intake", "return"]
ActionName = Literal["correct_address", "swap_carrier", "substitute", "reroute", "split_shipment", "release_hold",
                     "reprice", "accept", "cancel", "hold", "release_to_warehouse", "notify_customer", "dismiss"]


class OpsIntent(BaseModel):
    """The question or request of an ops person, as intent and entities."""

    model_config = ConfigDict(extra="ignore")
    intent: Intent = Field(description="what the person wants")
    order_id: str | None = Field(None, description="order number named in the message, digits only")
    case_id: str | None = Field(None, description="exception case number named in the message, digits only")
    exception_type: ExceptionTypeName | None = Field(None, description="kind of exception asked about")
    channel: str | None = Field(None, description="sales channel named: web, marketplace, mobile, pos, "
                                                  "b2b_edi, email")
    today: bool = Field(False, description="true when the message restricts to today")
    sku: str | None = Field(None, description="SKU code named in the message")
    node: str | None = Field(None, description="warehouse, store or city named as where to ship from")
    carrier: str | None = Field(None, description="carrier named in the message")
    action: ActionName | None = Field(None, description="the action requested, for propose_action")
    reason: str | None = Field(None, description="the reason the person gives, in their words")
