"""The customer assistant (LangGraph): understand -> look up or propose (code, scoped tools) -> answer.

- Identity comes from the authenticated session (the Principal the API resolved), never from the message
  or the model: the tools are built for that principal and only ever read its own orders.
- understand: the model fills `CustomerIntent` (one grammar-constrained call); the rules reader is the
  fallback, and an order reference the model gives must appear in the message.
- look up / propose: code calls tools/customer.py. An address change is recorded as a proposal for ops to
  approve; a return opens an RMA that the returns desk checks against the policy (a person decides when the
  abuse score is high).
- answer: composed by code from the tool's data, so every status and date in it is the engine's. An order
  that is not the caller's gets the same answer as one that does not exist.
Conversations are checkpointed per thread; the API prefixes thread ids with the caller's identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agents.customer.rules import ADDRESS_WORDS, order_refs, parse_address, read_message
from agents.customer.schema import CustomerIntent
from agents.text import clean
from engine.domain.access import Principal, Role
from tools.customer import CustomerApp, CustomerTools

MAX_MESSAGE = 2000
HELP = ("I can tell you where your order is and when it will arrive, change the delivery address before it "
        "ships, and start a return or an exchange for another size or colour. Name the order number, or I'll use "
        "your latest order.")
REFUSAL = ("I can only help with your own orders: where they are, when they'll arrive, changing the address "
           "before they ship, and returns and exchanges.")


def prompt(name: str) -> str:
    return (resources.files("prompts") / "customer" / f"{name}.md").read_text(encoding="utf-8")


def _day(iso: str | None) -> str:
    if not iso:
        return ""
    d = date.fromisoformat(iso[:10])
    return f"{d.strftime('%A')}, {d.isoformat()}"


class CustomerState(TypedDict, total=False):
    message: str
    intent: dict[str, Any]
    source: str
    data: dict[str, Any]
    answer: str
    context: dict[str, str]


@dataclass
class CustomerReply:
    answer: str
    intent: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "intent": self.intent, "data": self.data}


class CustomerAssistant:
    def __init__(self, app: CustomerApp, model: BaseChatModel | None = None,
                 checkpointer: BaseCheckpointSaver[Any] | None = None) -> None:
        self.app = app
        self.reader = model.with_structured_output(CustomerIntent, method="json_schema") if model else None
        if checkpointer is None:
            from langgraph.checkpoint.memory import InMemorySaver

            checkpointer = InMemorySaver()
        self.graph = self._build().compile(checkpointer=checkpointer)

    def ask(self, principal: Principal, thread_id: str, message: str) -> CustomerReply:
        who = {"principal_id": principal.principal_id, "name": principal.name, "role": principal.role.value,
               "customer_id": principal.customer_id, "account_code": principal.account_code, "scope": principal.scope}
        config: RunnableConfig = {"configurable": {"thread_id": thread_id, "caller": who}}
        state = self.graph.invoke({"message": message}, config)
        return CustomerReply(state.get("answer", ""), state.get("intent", {}), state.get("data", {}))

    # -- the graph ------------------------------------------------------------------------------------

    def _build(self) -> StateGraph[CustomerState]:
        graph: StateGraph[CustomerState] = StateGraph(CustomerState)
        graph.add_node("understand", self._understand)
        graph.add_node("lookup", self._lookup)
        graph.add_node("answer", self._answer)
        graph.add_edge(START, "understand")
        graph.add_edge("understand", "lookup")
        graph.add_edge("lookup", "answer")
        graph.add_edge("answer", END)
        return graph

    def _understand(self, state: CustomerState) -> CustomerState:
        message = clean(state["message"], MAX_MESSAGE).strip()
        rules = read_message(message)
        intent, source = rules, "rules"
        if self.reader is not None:
            try:
                read = self.reader.invoke([SystemMessage(prompt("intent")),
                                           HumanMessage(f"<message>\n{message}\n</message>")])
                if isinstance(read, CustomerIntent) and not (read.intent == "other" and rules.intent != "other"):
                    intent, source = read, "model"
            except Exception:  # an unusable form: the rules reading stands
                intent, source = rules, "rules"
        # Asking to swap an item for another size is not an address change ("swap it for a medium"): with no
        # address words in the message, the rules' reading (a return) stands.
        if intent.intent == "change_address" and rules.intent == "start_return" and not ADDRESS_WORDS.search(message):
            intent = intent.model_copy(update={"intent": "start_return", "reason": rules.reason})
        # An order reference must be in the words; otherwise the rules' reading of the words stands.
        named = order_refs(message)
        if intent.order_ref is not None and intent.order_ref.lstrip("#") not in named:
            intent = intent.model_copy(update={"order_ref": rules.order_ref})
        context = dict(state.get("context") or {})
        if intent.order_ref is None and context.get("order_id") and re.search(
                r"\b(it|this|that|the order|same)\b", message, re.I):
            intent = intent.model_copy(update={"order_ref": context["order_id"]})
        return {"message": message, "intent": intent.model_dump(), "source": source, "data": {}, "answer": ""}

    def _lookup(self, state: CustomerState, config: RunnableConfig) -> CustomerState:
        who = dict((config.get("configurable") or {})["caller"])
        principal = Principal(**{**who, "role": Role(who["role"])})
        tools = CustomerTools(self.app, principal)
        i = state["intent"]
        ref = i.get("order_ref")
        context = dict(state.get("context") or {})
        if i["intent"] in ("where_is", "when_arrive"):
            data = tools.order_status(ref)
        elif i["intent"] == "change_address":
            data = tools.propose_address_change(ref, parse_address(state["message"]))
        elif i["intent"] == "start_return":
            data = tools.start_return(ref, i.get("reason") or "not given", state["message"])
        elif i["intent"] == "list_orders":
            data = tools.my_orders()
        else:
            data = {}
        if data.get("order_id") and "error" not in data:
            context["order_id"] = str(data["order_id"])
        return {"data": data, "context": context}

    def _answer(self, state: CustomerState) -> CustomerState:
        i, d = state["intent"], state.get("data") or {}
        kind = i["intent"]
        if kind == "help":
            return {"answer": HELP}
        if kind == "other":
            return {"answer": REFUSAL}
        if "error" in d:
            return {"answer": str(d["message"])}
        if kind == "list_orders":
            orders = d.get("orders", [])
            if not orders:
                return {"answer": "I don't see any orders yet."}
            rows = "; ".join(f"order {o['order_id']} ({o['reference']}) placed {o['placed_at']}: "
                             f"{o['status'].replace('_', ' ')}" for o in orders)
            return {"answer": f"Your recent orders: {rows}."}
        if kind == "change_address":
            a = d["ship_to"]
            return {"answer": f"I've asked our team to change the delivery address of order {d['order_id']} to "
                              f"{a.get('line1', '')}, {a.get('city', '')}, {a.get('state', '')} "
                              f"{a.get('postal_code', '')}. You'll get an email once it's done (request "
                              f"{d['proposal_id']})."}
        if kind == "start_return":
            units = sum(int(x["quantity"]) for x in d["lines"])
            items = f"{units} item{'s' if units != 1 else ''}"
            what = "exchange" if d.get("resolution") == "exchange" else "return"
            if d.get("review"):
                return {"answer": f"I've started {what} {d['rma_id']} for order {d['order_id']} ({items}). Our "
                                  "team will check it and email you the return label."}
            label = d.get("label") or {}
            how = (f"Your return label is ready: {label['carrier']} tracking {label['tracking_number']}. "
                   if label else "You can drop it at one of our stores. ")
            if what == "exchange":
                sent = "; ".join(f"{x['sku']} for {x['exchange_for']}" for x in d["lines"] if x.get("exchange_for"))
                instead = f"We'll send {sent} once it arrives." if sent else \
                    "We'll send the same again once it arrives."
                return {"answer": f"I've started exchange {d['rma_id']} for order {d['order_id']} ({items}). {how}"
                                  f"{instead}"}
            return {"answer": f"I've started return {d['rma_id']} for order {d['order_id']} ({items}). {how}"
                              "We'll email you when it arrives and when your refund is on its way."}
        return {"answer": _status_answer(d, kind)}


def _status_answer(d: dict[str, Any], kind: str) -> str:
    """Status and dates, word for word from the order's tracking view."""
    oid, status = d["order_id"], d["status"]
    parts = [f"Order {oid} ({d.get('reference', '')}) is {status.replace('_', ' ')}."]
    parcels = d.get("parcels") or []
    for p in parcels:
        where = f" (last scan: {p['location']})" if p.get("location") else ""
        parts.append(f"Parcel {p['tracking_number']} with {p['carrier']}: {p['status_text']}{where}.")
    if status == "delivered":
        when = next((p["delivered_at"] for p in parcels if p.get("delivered_at")), None)
        parts.append(f"It was delivered on {_day(when)}." if when else "It has been delivered.")
    elif status == "cancelled":
        parts.append("It was cancelled, so it won't be delivered.")
    elif d.get("expected_delivery"):
        if d.get("late") and d.get("promised_delivery"):
            parts.append(f"It's running late: we promised {_day(d['promised_delivery'])}, and it's now expected "
                         f"on {_day(d['expected_delivery'])}. Sorry about that.")
        else:
            parts.append(f"It should arrive on {_day(d['expected_delivery'])}.")
    elif kind == "when_arrive":
        parts.append("I don't have a delivery date for it yet; you'll get an email as soon as it ships.")
    for r in d.get("returns") or []:
        words = f"Your return {r['rma_id']}: {r['words']}"
        if r.get("refund_amount"):
            words += f" ({r['refund_amount']} back to your payment method)"
        if r.get("label"):
            words += f"; return label {r['label']['carrier']} {r['label']['tracking_number']}"
        parts.append(words + ".")
    return " ".join(parts)
