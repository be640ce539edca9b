"""POST /intake/email end to end with a scripted model: order, duplicate, review, non-order, rejection."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agents.llm.fake import ScriptedChatModel
from api.http import create_api
from engine.adapters import tables as t
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from tests.agents.test_intake_agent import ORDER, email, extraction
from tests.auth import headers
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import build


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[TestClient, App, ScriptedChatModel]]:
    app = bootstrap(database_url=database_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 50})
    app.bus.handle(c.UpsertChannel(code="email", name="Email", kind=ChannelKind.EMAIL, priority=True))
    app.bus.handle(c.UpsertLanes(lanes=(("CAR", "ground", "DC-EAST", "606", 8, 5, 0.95),)))  # to Chicago
    app.bus.handle(c.UpsertPriceList(code="PL-LAKE", currency="USD", prices={"SKU-A": Decimal("18.00")}))
    app.bus.handle(c.UpsertAccount(code="ACC-LAKE", name="Lakeshore", tier=Tier.GOLD, price_list_code="PL-LAKE",
                                   credit_limit=Decimal("50000"), email_domains=("lakeshorehome.example",)))
    model = ScriptedChatModel()
    with TestClient(create_api(app, intake_model=model, background_seconds=0), headers=headers(app)) as http:
        yield http, app, model
    app.close()


def orders(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.orders)).scalar_one())


def post(http: TestClient, raw: bytes) -> Any:
    return http.post("/intake/email", content=raw, headers={"content-type": "message/rfc822"})


def test_a_touchless_email_becomes_a_routed_order_once(client: tuple[TestClient, App, ScriptedChatModel]) -> None:
    http, app, model = client
    model.responses.append(extraction())
    first = post(http, email(ORDER))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "accepted" and body["touchless"] and body["order_status"] == "allocated"
    order = http.get(f"/orders/{body['order_id']}").json()
    assert order["channel"] == "email" and order["external_id"] == "PO-7781" and order["account_code"] == "ACC-LAKE"
    again = post(http, email(ORDER))
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["order_id"] == body["order_id"]
    assert orders(app) == 1 and len(model.calls) == 1  # the repeat never reached the model
    # The same PO under another Message-ID is not a second order: it waits for a person.
    model.responses.append(extraction())
    resent = post(http, email(ORDER, msgid="<resend@lakeshorehome.example>")).json()
    assert resent["status"] == "needs_review" and resent["problems"][0]["code"] == "order.duplicate_external_id"
    assert orders(app) == 1
    listed = http.get("/intake/documents", params={"status": "needs_review"}).json()
    assert [d["document_id"] for d in listed] == [resent["document_id"]]
    # The buyer gets one acknowledgement for the order, however often the email came.
    acks = [n for n in http.get("/notifications").json() if n["kind"] == "order_acknowledged"]
    assert len(acks) == 1 and acks[0]["order_id"] == body["order_id"] and "PO-7781" in acks[0]["body"]
    assert acks[0]["audience"] == "b2b" and acks[0]["status"] == "pending"


def test_a_doubtful_email_waits_for_review_with_the_field(client: tuple[TestClient, App, ScriptedChatModel]) -> None:
    http, app, model = client
    model.responses.append(extraction(po_number=""))
    body = post(http, email("send 12 x SKU-A to 400 Harbor Dr, Chicago, IL 60601")).json()
    assert body["status"] == "needs_review" and not body["touchless"] and orders(app) == 0
    assert "po_number" in {p["field"] for p in body["problems"]}
    shown = http.get(f"/intake/documents/{body['document_id']}").json()
    assert shown["draft"]["lines"][0]["sku"] == "SKU-A" and shown["status"] == "needs_review"
    queued = [x for x in app.exceptions.cases() if x["document_id"] == body["document_id"]]
    assert len(queued) == 1 and queued[0]["type"] == "intake" and queued[0]["channel"] == "email"
    assert queued[0]["recommendation"]["action"] == "review_document"
    assert "po_number" in queued[0]["recommendation"]["summary"]
    # A clarification question to the sender is drafted, and waits for a person before it is sent.
    waiting = http.get("/notifications", params={"status": "awaiting_approval"}).json()
    assert len(waiting) == 1 and waiting[0]["kind"] == "clarification" and "po_number" in waiting[0]["body"]
    assert app.notifications.deliver_due().sent == 0
    edited = http.post(f"/notifications/{waiting[0]['notification_id']}/decision",
                       json={"decision": "edit", "body": "Which PO number should we use?"})
    assert edited.status_code == 200 and edited.json()["status"] == "pending", edited.text
    again = http.post(f"/notifications/{waiting[0]['notification_id']}/decision", json={"decision": "approve"})
    assert again.status_code == 409


def test_a_question_goes_to_the_ops_desk(client: tuple[TestClient, App, ScriptedChatModel]) -> None:
    http, app, model = client
    model.responses.append(extraction(kind="question", lines=[], po_number="", order_reference="PO-7781"))
    body = post(http, email("When will PO-7781 arrive?", msgid="<q1@lakeshorehome.example>")).json()
    assert body["status"] == "not_an_order" and body["kind"] == "question" and orders(app) == 0
    queued = [x for x in app.exceptions.cases() if x["document_id"] == body["document_id"]]
    assert [(x["type"], x["subtype"]) for x in queued] == [("intake", "not_an_order_question")]


@pytest.mark.parametrize("raw", [b"", b"garbage without headers", b"Subject: x\r\n\r\nno sender"])
def test_unreadable_input_is_rejected_and_kept(client: tuple[TestClient, App, ScriptedChatModel],
                                               raw: bytes) -> None:
    http, app, model = client
    response = post(http, raw)
    assert response.status_code == 422 and response.json()["code"] == "email.unreadable"
    assert model.calls == [] and orders(app) == 0
    [doc] = http.get("/intake/documents", params={"status": "rejected"}).json()
    assert doc["problems"][0]["code"].startswith("email.")
    assert http.get("/intake/documents/999").status_code == 404
    assert http.get("/intake/documents/x'--").status_code == 404


def test_an_email_stored_but_never_read_is_read_once_after_a_restart(
        client: tuple[TestClient, App, ScriptedChatModel]) -> None:
    from datetime import timedelta

    from api.http.intake import resume_unread_emails
    from engine.intake.mail import parse_email

    http, app, model = client
    raw = email(ORDER)
    parsed = parse_email(raw)
    # The process stopped after storing the email and before the model had read it.
    stored = app.intake.receive("email", parsed.message_id or "x", raw, parsed.sender, parsed.subject)
    assert stored["status"] == "received" and orders(app) == 0
    assert resume_unread_emails(http.app) == []  # a young one may still be in another worker's hands
    model.responses.append(extraction())
    resumed = resume_unread_emails(http.app, older_than=timedelta(0))
    assert [r["status"] for r in resumed] == ["accepted"] and orders(app) == 1
    assert resume_unread_emails(http.app, older_than=timedelta(0)) == []  # once
    again = post(http, raw)  # the sender retries: the same order, not a second one
    assert again.status_code == 200 and again.json()["order_id"] == resumed[0]["order_id"] and orders(app) == 1
