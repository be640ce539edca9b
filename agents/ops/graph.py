"""The ops assistant (LangGraph): understand -> look up (code, read tools) -> answer; or propose -> wait for the
person (interrupt) -> decide (the exception desk runs the action, re-validated, once).

- understand: the model fills `OpsIntent` (one grammar-constrained call); the rules reader (agents/ops/rules.py)
  is the fallback when there is no model or its form does not parse, and every entity the model gives must be
  in the message (`grounded`). "it" refers to the last order or case of the conversation.
- look up: code nodes call the read tools; answers are composed by code from the data, so every id, status,
  node, cost and date in an answer comes from the engine. The model only writes a case's reviewer summary,
  which is checked (every number in it must be in the case) and replaced by a template when it fails.
- propose: the propose tool records a pending Proposal; the graph pauses with `interrupt()` and resumes on
  `Command(resume={"decision": "approve"|"edit"|"reject", "actor": ..., "params": ..., "note": ...})`.
  The resumed node calls `ExceptionDesk.decide`, which re-validates and executes with the proposal's
  idempotency key; a node re-run after a restart gets the recorded outcome, never a second execution.
State is checkpointed per thread (SQLite by default, PostgreSQL when the engine runs on it).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from agents.ops.rules import grounded, read_message
from agents.ops.schema import OpsIntent
from agents.text import clean
from tools.ops import OpsApp, OpsTools

MAX_MESSAGE = 2000
HELP = ("I can show the exception queue (\"address exceptions from the marketplace today\"), a case (\"case 7\"), "
        "what blocks an order (\"what's blocking order 1042?\"), why it ships from where it does, stock for a SKU, "
        "and propose actions (\"reroute it to Reno\", \"cancel 1042\") for you to approve, edit or reject.")


def prompt(name: str) -> str:
    return (resources.files("prompts") / "ops" / f"{name}.md").read_text(encoding="utf-8")


class OpsState(TypedDict, total=False):
    message: str
    actor: str
    intent: dict[str, Any]
    source: str  # model | rules
    data: dict[str, Any]
    answer: str
    proposal: dict[str, Any] | None
    outcome: dict[str, Any] | None
    context: dict[str, str]  # the conversation's current order / case


@dataclass
class OpsReply:
    answer: str
    intent: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, Any] | None = None  # a proposal waiting for the person's decision
    outcome: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "intent": self.intent, "data": self.data, "pending": self.pending,
                "outcome": self.outcome}


class OpsAssistant:
    def __init__(self, app: OpsApp, model: BaseChatModel | None = None,
                 checkpointer: BaseCheckpointSaver[Any] | None = None) -> None:
        self.app = app
        self.model = model
        self.reader = model.with_structured_output(OpsIntent, method="json_schema") if model is not None else None
        if checkpointer is None:
            from langgraph.checkpoint.memory import InMemorySaver

            checkpointer = InMemorySaver()
        self.graph = self._build().compile(checkpointer=checkpointer)

    # -- public ---------------------------------------------------------------------------------------

    def ask(self, thread_id: str, message: str, actor: str) -> OpsReply:
        state = self.graph.invoke(self._input(message, actor), self._config(thread_id))
        return self._reply(thread_id, state)

    def resume(self, thread_id: str, decision: str, actor: str, params: dict[str, Any] | None = None,
               note: str = "") -> OpsReply:
        state = self.graph.invoke(Command(resume={"decision": decision, "actor": actor, "params": params,
                                                  "note": note}), self._config(thread_id))
        return self._reply(thread_id, state)

    def pending(self, thread_id: str) -> dict[str, Any] | None:
        snapshot = self.graph.get_state(self._config(thread_id))
        for task in snapshot.tasks:
            for pause in task.interrupts:
                value = pause.value
                if isinstance(value, dict):
                    return value
        return None

    def stream(self, thread_id: str, message: str, actor: str) -> Iterator[dict[str, Any]]:
        """Events for a chat UI: each step as it finishes, then the answer (or the proposal to decide)."""
        try:
            for update in self.graph.stream(self._input(message, actor), self._config(thread_id),
                                            stream_mode="updates"):
                for node in update:
                    if node != "__interrupt__":
                        yield {"type": "step", "node": node}
            reply = self._reply(thread_id, self.graph.get_state(self._config(thread_id)).values)
        except Exception as exc:  # the chat stays up; the error is reported, nothing was executed
            yield {"type": "error", "message": f"{type(exc).__name__}: {exc}"[:500]}
            return
        if reply.pending:
            yield {"type": "proposal", "answer": reply.answer, "proposal": reply.pending}
        else:
            yield {"type": "answer", "answer": reply.answer, "data": reply.data}

    # -- the graph ------------------------------------------------------------------------------------

    def _build(self) -> StateGraph[OpsState]:
        graph: StateGraph[OpsState] = StateGraph(OpsState)
        graph.add_node("understand", self._understand)
        graph.add_node("lookup", self._lookup)
        graph.add_node("summarise", self._summarise)
        graph.add_node("propose", self._propose)
        graph.add_node("decide", self._decide)
        graph.add_node("answer", self._answer)
        graph.add_edge(START, "understand")
        graph.add_conditional_edges("understand", self._route, ["lookup", "summarise", "propose", "answer"])
        graph.add_edge("lookup", "answer")
        graph.add_edge("summarise", "answer")
        graph.add_conditional_edges("propose", lambda s: "decide" if s.get("proposal") else "answer",
                                    ["decide", "answer"])
        graph.add_edge("decide", "answer")
        graph.add_edge("answer", END)
        return graph

    @staticmethod
    def _route(state: OpsState) -> str:
        intent = state["intent"]["intent"]
        if intent == "propose_action":
            return "propose"
        if intent == "summarise_case":
            return "summarise"
        if intent in ("help", "other"):
            return "answer"
        return "lookup"

    def _understand(self, state: OpsState) -> OpsState:
        message = clean(state["message"], MAX_MESSAGE)
        names = self._node_names()
        rules = read_message(message, names)
        intent, source = rules, "rules"
        if self.reader is not None:
            try:
                read = self.reader.invoke([SystemMessage(prompt("intent")),
                                           HumanMessage(f"<message>\n{message}\n</message>")])
                if isinstance(read, OpsIntent) and not (read.intent == "other" and rules.intent != "other"):
                    intent, source = grounded(read, message, names), "model"
            except Exception:  # an unusable form: the rules reading stands
                intent, source = rules, "rules"
            # The words are the ground truth for ids: what the rules found explicitly is kept.
            fill = {k: getattr(rules, k) for k in ("order_id", "case_id", "sku", "node")
                    if getattr(intent, k) is None and getattr(rules, k) is not None}
            if fill:
                intent = intent.model_copy(update=fill)
        context = dict(state.get("context") or {})
        if intent.order_id is None and intent.case_id is None and re.search(r"\b(it|this|that|the order)\b",
                                                                              message, re.I):
            intent = intent.model_copy(update={"order_id": context.get("order_id"),
                                               "case_id": context.get("case_id")})
        return {"message": message, "intent": intent.model_dump(), "source": source, "data": {}, "answer": "",
                "proposal": None, "outcome": None}

    def _lookup(self, state: OpsState) -> OpsState:
        tools = OpsTools(self.app)
        i = state["intent"]
        context = dict(state.get("context") or {})
        if i["intent"] == "queue":
            data = tools.queue(type=i.get("exception_type"), channel=i.get("channel"), today=bool(i.get("today")))
        elif i["intent"] == "case_detail":
            data = tools.case(i["case_id"]) if i.get("case_id") else {"error": "missing", "message": "which case?"}
            if i.get("case_id") and "error" not in data:
                context.update({"case_id": i["case_id"], "order_id": data.get("order_id") or ""})
        elif i["intent"] in ("order_status", "why_routed"):
            data = tools.order(i["order_id"]) if i.get("order_id") else {"error": "missing",
                                                                         "message": "which order?"}
            if i.get("order_id") and "error" not in data:
                context["order_id"] = i["order_id"]
        elif i["intent"] == "inventory":
            data = tools.inventory(i["sku"]) if i.get("sku") else {"error": "missing", "message": "which SKU?"}
        else:
            data = {}
        return {"data": data, "context": {k: v for k, v in context.items() if v}}

    def _summarise(self, state: OpsState) -> OpsState:
        i = state["intent"]
        tools = OpsTools(self.app)
        case = tools.case(i["case_id"]) if i.get("case_id") else {"error": "missing", "message": "which case?"}
        if "error" in case:
            return {"data": case}
        summary = template_summary(case)
        if self.model is not None:
            facts = {k: case.get(k) for k in ("type", "subtype", "reason", "evidence", "recommendation", "value",
                                              "order_id", "channel", "sla_due_at")}
            try:
                written = self.model.invoke([SystemMessage(prompt("case_summary")),
                                             HumanMessage(json.dumps(facts, default=str)[:6000])])
                text = str(written.content).strip()
                if text and is_grounded(text, case):
                    summary = text[:1500]
            except Exception:  # the template summary stands
                pass
        self.app.exceptions.annotate(case["case_id"], summary, f"ops-assistant:{state.get('actor', 'ops')}")
        return {"data": {**case, "summary": summary}, "context": {"case_id": case["case_id"],
                                                                  "order_id": case.get("order_id") or ""}}

    def _propose(self, state: OpsState) -> OpsState:
        i = state["intent"]
        action = i.get("action")
        if not action:
            return {"data": {"error": "missing", "message": "which action? (reroute, cancel, release_hold, ...)"}}
        case_id, order_id = i.get("case_id"), i.get("order_id")
        if case_id is None and order_id is None:
            return {"data": {"error": "missing", "message": "which order or case?"}}
        params: dict[str, Any] = {}
        if action == "reroute" and i.get("node"):
            params["prefer_node"] = i["node"]
        if action == "swap_carrier":
            carrier = i.get("carrier") or self._current_carrier(order_id)
            if carrier:
                params["avoid_carrier"] = carrier
        if action in ("cancel", "hold"):
            params["reason"] = (i.get("reason") or f"requested by {state.get('actor', 'ops')}")[:300]
        if case_id is not None and action not in ("reroute", "cancel", "hold", "swap_carrier"):
            case = OpsTools(self.app).case(case_id)
            recommended = case.get("recommendation") or {}
            if recommended.get("action") == action:
                params = {**recommended.get("params", {}), **params}
        rationale = (i.get("reason") or state["message"])[:2000]
        tools = OpsTools(self.app, proposed_by="ops-assistant", thread_id=self._thread)
        proposal = tools.propose(action, params, rationale, order_id=None if case_id else order_id, case_id=case_id)
        if "error" in proposal:
            return {"data": proposal}
        context = {k: v for k, v in (("order_id", proposal.get("order_id") or ""),
                                     ("case_id", proposal.get("case_id") or "")) if v}
        return {"proposal": proposal, "context": context}

    def _decide(self, state: OpsState) -> OpsState:
        proposal = state["proposal"]
        assert proposal is not None
        decision = interrupt({"proposal": proposal, "question": "approve, edit or reject?"})
        if not isinstance(decision, dict) or decision.get("decision") not in ("approve", "edit", "reject"):
            return {"outcome": {"status": "pending", "message": "send approve, edit or reject"}}
        actor = str(decision.get("actor") or "")
        if not actor.strip():
            return {"outcome": {"status": "refused", "message": "a decision needs the deciding person's name"}}
        try:
            outcome = self.app.exceptions.decide(proposal["proposal_id"], decision["decision"], actor,
                                                 params=decision.get("params"), note=str(decision.get("note") or ""))
        except Exception as exc:  # e.g. decided already by someone else: report it, execute nothing
            code = getattr(exc, "code", type(exc).__name__)
            outcome = {"proposal_id": proposal["proposal_id"], "status": "refused", "error": code,
                       "message": getattr(exc, "message", str(exc))}
        return {"outcome": outcome}

    def _answer(self, state: OpsState) -> OpsState:
        return {"answer": compose(state)}

    # -- helpers --------------------------------------------------------------------------------------

    _thread: str | None = None

    def _input(self, message: str, actor: str) -> OpsState:
        return {"message": message if isinstance(message, str) else "", "actor": actor}

    def _config(self, thread_id: str) -> Any:
        self._thread = thread_id
        return {"configurable": {"thread_id": thread_id}}

    def _reply(self, thread_id: str, state: dict[str, Any]) -> OpsReply:
        pending = self.pending(thread_id)
        answer = state.get("answer") or ""
        if pending:
            p = pending["proposal"]
            answer = (f"Proposed {p['action']} {json.dumps(p.get('params') or {})} on "
                      f"{'case ' + p['case_id'] if p.get('case_id') else 'order ' + str(p.get('order_id'))} "
                      f"(proposal {p['proposal_id']}). Approve, edit or reject?")
        return OpsReply(answer=answer, intent=state.get("intent") or {}, data=state.get("data") or {},
                        pending=pending, outcome=state.get("outcome"))

    def _node_names(self) -> dict[str, str]:
        with self.app.uow(readonly=True) as uow:
            nodes = uow.master.list_nodes()
        names: dict[str, str] = {}
        for n in nodes:
            names[n.code.lower()] = n.code
            names.setdefault(n.city.lower(), n.code)
        return names

    def _current_carrier(self, order_id: str | None) -> str | None:
        if not order_id:
            return None
        summary = OpsTools(self.app).order(order_id)
        shipments = (summary.get("routing") or {}).get("shipments") or []
        return str(shipments[0].get("carrier")) if shipments else None


def new_thread() -> str:
    return uuid.uuid4().hex


def is_grounded(text: str, case: dict[str, Any]) -> bool:
    """Every number in the text appears in the case's data."""
    source = json.dumps(case, default=str)
    return all(number in source for number in re.findall(r"\d+(?:\.\d+)?", text))


def template_summary(case: dict[str, Any]) -> str:
    rec = case.get("recommendation") or {}
    order = f"order {case['order_id']}" if case.get("order_id") else f"document {case.get('document_id')}"
    return (f"{case['type'].replace('_', ' ').capitalize()} case on {order} ({case.get('channel')}, value "
            f"{case.get('value')}): {case.get('reason')}. Recommended: {rec.get('action')} - {rec.get('summary')}; "
            f"expected effect: {rec.get('expected_effect')}.")


def compose(state: OpsState) -> str:
    """The answer, built by code from the engine's data."""
    i = state.get("intent") or {}
    data = state.get("data") or {}
    outcome = state.get("outcome")
    if outcome is not None:
        status = outcome.get("status")
        if status == "executed":
            return f"Done: proposal {outcome.get('proposal_id')} executed. {_result_text(outcome.get('result'))}"
        if status == "rejected":
            return f"Rejected: proposal {outcome.get('proposal_id')} was not carried out; nothing changed."
        if status == "failed":
            result = outcome.get("result") or {}
            return (f"Not carried out: the engine refused it when re-checking ({result.get('code')}: "
                    f"{result.get('message')}). Nothing changed.")
        return f"Not carried out: {outcome.get('message') or status}."
    if "error" in data:
        if data["error"] == "missing":
            return f"I need more to go on: {data['message']}"
        return f"I could not do that: {data.get('message')} ({data['error']})."
    intent = i.get("intent")
    if intent == "help" or intent == "other":
        return HELP
    if intent == "queue":
        cases = data.get("cases", [])
        f = data.get("filters", {})
        kind = f"{f['type']} " if f.get("type") else ""
        where = " ".join(x for x in ("from " + f["channel"] if f.get("channel") else "",
                                     "today" if f.get("today") else "") if x)
        where = f" {where}" if where else ""
        if not cases:
            return f"No open {kind}exceptions{where}."
        lines = [f"{len(cases)} open {kind}exception(s){where}, highest priority first:"]
        for x in cases[:10]:
            target = f"order {x['order_id']}" if x.get("order_id") else f"document {x.get('document_id')}"
            breached = " SLA BREACHED" if x.get("sla_breached") else ""
            lines.append(f"- case {x['case_id']} ({x['type']}/{x['subtype']}) {target}, value {x['value']}, "
                         f"priority {x['priority']}{breached}: recommend {x['recommendation']['action']}")
        return "\n".join(lines)
    if intent in ("case_detail", "summarise_case"):
        rec = data.get("recommendation") or {}
        text = (f"Case {data['case_id']} ({data['type']}/{data['subtype']}, {data['status']}) on "
                f"{'order ' + data['order_id'] if data.get('order_id') else 'document ' + str(data.get('document_id'))}"
                f": {data['reason']}. Recommended: {rec.get('action')} - {rec.get('summary')} "
                f"(expected: {rec.get('expected_effect')}). SLA due {data['sla_due_at']}.")
        if intent == "summarise_case":
            text = f"Summary saved on case {data['case_id']}: {data.get('summary')}"
        return text
    if intent == "order_status":
        blockers = data.get("open_cases") or []
        head = f"Order {data['order_id']} ({data['channel']} {data['external_id']}) is {data['status']}"
        if data.get("status_reason"):
            head += f": {data['status_reason']}"
        if blockers:
            parts = [f"case {x['case_id']} {x['type']}/{x['subtype']} - {x['reason']} (recommend "
                     f"{x['recommendation']['action']}: {x['recommendation']['summary']})" for x in blockers]
            return head + ". Blocking it: " + "; ".join(parts) + "."
        return head + ". Nothing is blocking it."
    if intent == "why_routed":
        routing = data.get("routing")
        if not routing:
            return f"Order {data['order_id']} has no routing decision yet (it is {data['status']})."
        ships = ", ".join(f"{s.get('node')} via {s.get('carrier')} {s.get('service_level')} "
                          f"({s.get('transit_days')} d)" for s in routing.get("shipments", []))
        text = routing.get("text") or ""
        return (f"Order {data['order_id']} ships from {', '.join(routing.get('nodes') or []) or '-'} "
                f"({ships or 'no shipments'}), cost {routing.get('cost')}, policy v{routing.get('policy_version')}."
                + (f"\n{text}" if text else ""))
    if intent == "inventory":
        return f"{data.get('sku')}: {json.dumps({k: data[k] for k in data if k != 'nodes'}, default=str)[:800]}"
    return HELP


def _result_text(result: Any) -> str:
    if not isinstance(result, dict):
        return ""
    if result.get("order_id") and result.get("status") and not result.get("routing"):
        return f"Order {result['order_id']} is now {result['status']}."
    status = (result.get("result") or {}).get("routing", {}) if isinstance(result.get("result"), dict) else {}
    routing = result.get("routing") or status
    if isinstance(routing, dict) and routing.get("nodes"):
        return f"The order is now routed from {', '.join(routing['nodes'])} (cost {routing.get('cost')})."
    continued = result.get("continued") or (result.get("result") or {}).get("continued") \
        if isinstance(result.get("result"), dict) or result.get("continued") else None
    if isinstance(continued, dict) and continued.get("status"):
        return f"The order is now {continued['status']}."
    return ""
