"""What the model fills for the customer assistant: one flat form."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CustomerIntentName = Literal["where_is", "when_arrive", "change_address", "start_return", "list_orders", "help",
                             "other"]


class CustomerIntent(BaseModel):
    """A customer's question as intent and the order they name."""

    model_config = ConfigDict(extra="ignore")
    intent: CustomerIntentName = Field(description="what the customer wants")
    order_ref: str | None = Field(None, description="order number or reference named in the message, as written")
    reason: str | None = Field(None, description="the reason given for a return, in their words")
