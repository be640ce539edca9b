"""The ops assistant against the real bundled local model (marker `llm`; CI runs it with the model installed):
the model fills the intent form, the engine's data answers, and a proposal still waits for a person."""

from __future__ import annotations

import pytest

from agents.ops.graph import OpsAssistant
from engine.bootstrap import App
from tests.agents.test_ops_agent import app, status  # noqa: F401 - the fixture
from tests.integration.test_exceptions import RENO, place

pytestmark = pytest.mark.llm


def test_the_local_model_reads_an_ops_question_and_the_answer_is_grounded(app: App, local_model) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    order_id = place(app, "W-1", {"SKU-A": 1}, ship_to={**RENO, "postal_code": "00000"})
    case_id = app.exceptions.process(order_id)["opened"][0]
    ops = OpsAssistant(app, local_model)
    reply = ops.ask("t1", f"What's blocking order {order_id}?", "ana")
    assert reply.intent["intent"] in ("order_status", "why_routed", "case_detail")
    assert f"case {case_id}" in reply.answer and "exception" in reply.answer
    cancel = ops.ask("t1", f"Please cancel order {order_id}, the customer asked", "ana")
    assert cancel.pending is not None and cancel.pending["proposal"]["action"] == "cancel"
    assert status(app, order_id) == "exception"  # proposed, not done
