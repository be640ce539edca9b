"""The ops chat: questions in plain language, answers streamed over server-sent events, and the person's
decision on a proposal the assistant made (approve / edit / reject)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

router = APIRouter(prefix="/ops/chat", tags=["ops"])
ThreadId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = ThreadId
    message: str = Field(min_length=1, max_length=4000)
    actor: str = Field(min_length=1, max_length=100)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "edit", "reject"]
    actor: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] | None = None
    note: str = Field(default="", max_length=1000)


def assistant(request: Request) -> Any:
    """The ops assistant, built on first use with the configured model and conversation store."""
    found = getattr(request.app.state, "ops_assistant", None)
    if found is None:
        from agents.ops.checkpoint import make_checkpointer
        from agents.ops.graph import OpsAssistant

        model = getattr(request.app.state, "ops_model", None)
        if model is None:
            from agents.llm import chat_model

            model = chat_model()
        checkpointer = getattr(request.app.state, "ops_checkpointer", None) or make_checkpointer()
        found = OpsAssistant(request.app.state.engine_app, model, checkpointer)
        request.app.state.ops_assistant = found
    return found


def _sse(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, default=str)}\n\n"
    yield "event: done\ndata: {}\n\n"


@router.post("")
def chat(body: ChatIn, request: Request) -> StreamingResponse:
    """Ask the assistant; the answer streams as events: `step` per graph node, then `answer`, or `proposal`
    when it proposes an action (decide it with POST /ops/chat/{thread_id}/decision), or `error`."""
    ops = assistant(request)
    return StreamingResponse(_sse(ops.stream(body.thread_id, body.message, body.actor)),
                             media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.post("/{thread_id}/decision")
def decide(thread_id: str, body: DecisionIn, request: Request) -> dict[str, Any]:
    """The person's decision on the proposal the conversation is waiting on; the engine re-validates and runs
    it once (a repeated decision answers the recorded outcome)."""
    ops = assistant(request)
    if len(thread_id) > 64 or ops.pending(thread_id) is None:
        from engine.domain import errors as e

        raise e.NotFound(f"conversation {thread_id[:64]!r} has no proposal waiting for a decision")
    reply = ops.resume(thread_id, body.decision, body.actor, body.params, body.note)
    result: dict[str, Any] = reply.to_dict()
    return result


@router.get("/{thread_id}/pending")
def pending(thread_id: str, request: Request) -> dict[str, Any]:
    return {"thread_id": thread_id[:64], "pending": assistant(request).pending(thread_id[:64])}
