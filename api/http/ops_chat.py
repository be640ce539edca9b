"""The ops chat: questions in plain language, answers streamed over server-sent events, and the person's
decision on a proposal the assistant made (approve / edit / reject)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import requires
from engine.domain.access import Permission, Principal

router = APIRouter(prefix="/ops/chat", tags=["ops"])
ThreadId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
Ops = Annotated[Principal, Depends(requires(Permission.EXCEPTIONS_ACT))]


def _thread(who: Principal, thread_id: str) -> str:
    """Conversations belong to the person who started them."""
    return f"{who.principal_id}:{thread_id[:64]}"


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = ThreadId
    message: str = Field(min_length=1, max_length=4000)
    actor: str | None = Field(default=None, max_length=100, description="ignored: the caller is recorded")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "edit", "reject"]
    actor: str | None = Field(default=None, max_length=100, description="ignored: the caller is recorded")
    params: dict[str, Any] | None = None
    note: str = Field(default="", max_length=1000)


def conversations(request: Request) -> Any:
    """Where the assistants keep conversations: the configured store, else one beside the engine's own
    database (SQLite file, or the PostgreSQL schema), made once per API."""
    store = getattr(request.app.state, "ops_checkpointer", None)
    if store is None:
        from agents.ops.checkpoint import make_checkpointer
        from engine.settings import Settings

        url = request.app.state.engine_app.engine.url.render_as_string(hide_password=False)
        store = make_checkpointer(Settings(database_url=url))
        request.app.state.ops_checkpointer = store
    return store


def assistant_model(request: Request, given: str) -> Any:
    """The model an assistant uses: the one the API was given (`given` in app.state), else the configured one;
    None with ORDERLOOM_LLM=fake (the assistant's rules read the message)."""
    model = getattr(request.app.state, given, None)
    settings = request.app.state.engine_app.settings
    if model is None and settings.llm != "fake":
        from agents.llm import chat_model

        model = chat_model(settings.llm, settings)
    return model


def assistant(request: Request) -> Any:
    """The ops assistant, built on first use with the configured model and conversation store."""
    found = getattr(request.app.state, "ops_assistant", None)
    if found is None:
        from agents.ops.graph import OpsAssistant

        found = OpsAssistant(request.app.state.engine_app, assistant_model(request, "ops_model"),
                             conversations(request))
        request.app.state.ops_assistant = found
    return found


def _sse(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, default=str)}\n\n"
    yield "event: done\ndata: {}\n\n"


@router.post("")
def chat(body: ChatIn, request: Request, who: Ops) -> StreamingResponse:
    """Ask the assistant; the answer streams as events: `step` per graph node, then `answer`, or `proposal`
    when it proposes an action (decide it with POST /ops/chat/{thread_id}/decision), or `error`."""
    ops = assistant(request)
    return StreamingResponse(_sse(ops.stream(_thread(who, body.thread_id), body.message, who.name)),
                             media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.post("/{thread_id}/decision")
def decide(thread_id: str, body: DecisionIn, request: Request, who: Ops) -> dict[str, Any]:
    """The person's decision on the proposal the conversation is waiting on; the engine re-validates and runs
    it once (a repeated decision answers the recorded outcome)."""
    ops = assistant(request)
    if len(thread_id) > 64 or ops.pending(_thread(who, thread_id)) is None:
        from engine.domain import errors as e

        raise e.NotFound(f"conversation {thread_id[:64]!r} has no proposal waiting for a decision")
    reply = ops.resume(_thread(who, thread_id), body.decision, who.name, body.params, body.note)
    result: dict[str, Any] = reply.to_dict()
    return result


@router.get("/{thread_id}/pending")
def pending(thread_id: str, request: Request, who: Ops) -> dict[str, Any]:
    return {"thread_id": thread_id[:64], "pending": assistant(request).pending(_thread(who, thread_id))}
