"""The returns API: customers ask for their own, ops decide, a warehouse receives and grades (a checklist and a
note read by the model or, without one, by the keyword reader), the customer chat opens a return, and hostile
input is refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agents.llm.fake import ScriptedChatModel
from agents.returns.grader import DefectList
from api.http import create_api
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from tests.auth import headers
from tests.integration.helpers import StepClock
from tests.integration.test_returns import delivered_order, on_hand
from tests.integration.test_routing_service import build


@pytest.fixture
def world(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, App, dict[str, str]]]:
    monkeypatch.setenv("ORDERLOOM_LLM", "fake")
    app = bootstrap(database_url=sqlite_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 20, ("SKU-A", "DC-WEST"): 20, ("SKU-B", "DC-EAST"): 20})
    app.bus.handle(c.UpsertCustomer(customer_id="cust-a", email="a@example.com", name="Ann Able"))
    app.bus.handle(c.UpsertCustomer(customer_id="cust-b", email="b@example.com", name="Bea Secret"))
    ids = {"a": delivered_order(app, "W-A1", {"SKU-A": 2, "SKU-B": 1})}
    with TestClient(create_api(app, background_seconds=0)) as http:
        yield http, app, ids
    app.close()


def _ask(http: TestClient, app: App, order_id: str, body: dict[str, Any], **extra: str) -> Any:
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    return http.post(f"/orders/{order_id}/returns", json=body, headers={**ann, **extra})


def test_a_customer_returns_her_own_order_and_nobody_else_sees_it(world: tuple[TestClient, App, dict[str, str]]
                                                                  ) -> None:
    http, app, ids = world
    first = _ask(http, app, ids["a"], {"lines": [{"line_no": 1, "quantity": 1}], "reason_text": "too small"},
                 **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    rma = first.json()
    assert rma["status"] == "label_issued" and rma["reason"] == "size_or_fit" and rma["label"]["tracking_number"]
    assert "abuse_score" not in rma and "abuse_evidence" not in rma and "restock_plan" not in rma
    again = _ask(http, app, ids["a"], {"lines": [{"line_no": 1, "quantity": 1}], "reason_text": "too small"},
                 **{"Idempotency-Key": "k-1"})
    assert again.json()["rma_id"] == rma["rma_id"]  # a retried request opens nothing new
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    assert [r["rma_id"] for r in http.get("/returns", headers=ann).json()["returns"]] == [rma["rma_id"]]
    mine = http.get(f"/returns/{rma['rma_id']}", headers=ann).json()
    assert mine["rma_id"] == rma["rma_id"] and "abuse_score" not in mine
    bea = headers(app, "bea", "customer", customer_id="cust-b")
    refused = {http.get(f"/returns/{rma['rma_id']}", headers=bea).text,
               http.get("/returns/RMA-DOESNOTEXIST", headers=bea).text,
               http.post(f"/returns/{rma['rma_id']}/cancel", json={"reason": "x"}, headers=bea).text,
               http.post(f"/orders/{ids['a']}/returns", json={}, headers=bea).text}
    assert len(refused) == 1 and "auth.forbidden" in refused.pop()
    assert http.get("/returns", headers=bea).json() == {"returns": []}
    assert http.get("/returns/analytics", headers=ann).status_code == 403
    for step in ("authorise", "refuse", "receipts", "grades"):
        assert http.post(f"/returns/{rma['rma_id']}/{step}", json={}, headers=ann).status_code in (403, 422)
    ops = headers(app)
    full = http.get(f"/returns/{rma['rma_id']}", headers=ops).json()
    assert full["abuse_score"] is not None and full["restock_plan"]["node"] == full["restock_node"]
    shop = http.get("/ui/shop", headers=ann).text
    assert rma["rma_id"] in shop and "approved, label sent" in shop
    cancelled = http.post(f"/returns/{rma['rma_id']}/cancel", json={"reason": "I'll keep it"}, headers=ann)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_the_warehouse_receives_and_grades_from_a_checklist_and_a_note(world: tuple[TestClient, App, dict[str, str]]
                                                                       ) -> None:
    http, app, ids = world
    rma = _ask(http, app, ids["a"], {"reason_text": "changed my mind"}).json()
    rid, node = rma["rma_id"], rma["restock_node"]
    other = "DC-WEST" if node != "DC-WEST" else "DC-EAST"
    dock = headers(app, f"dock-{node}", "integration", scope=f"node:{node}")
    stranger = headers(app, f"dock-{other}", "integration", scope=f"node:{other}")
    assert http.post(f"/returns/{rid}/receipts", json={"node": node, "reference": "R1"},
                     headers=stranger).status_code == 403
    got = http.post(f"/returns/{rid}/receipts", json={"node": node, "reference": "R1"}, headers=dock)
    assert got.status_code == 200 and got.json()["status"] == "received", got.text
    assert http.post(f"/returns/{rid}/receipts", json={"node": node, "reference": "R1"},
                     headers=dock).json()["replayed"] is True
    a_before = on_hand(app, "SKU-A", node)
    sealed = http.post(f"/returns/{rid}/grades", headers=dock, json={
        "line_no": 1, "reference": "G1", "inspection": {"note": "Unopened, still in the shrink wrap."}})
    assert sealed.status_code == 200, sealed.text
    assert sealed.json()["assessment"]["grade"] == "new" and sealed.json()["restocked_at"] == node
    assert on_hand(app, "SKU-A", node) == a_before + 2
    # the model reads the second note; the checklist says it works, the note says it does not: the worse wins
    http.app.state.condition_grader = None
    http.app.state.returns_model = ScriptedChatModel(responses=[DefectList(defects=["will not power on"])])
    b_before = on_hand(app, "SKU-B", node)
    broken = http.post(f"/returns/{rid}/grades", headers=dock, json={
        "line_no": 2, "reference": "G2", "inspection": {"works": True, "complete": True,
                                                       "note": "Customer says fine but it will not power on."}})
    assert broken.status_code == 200, broken.text
    body = broken.json()
    assert body["assessment"]["source"] == "model" and body["assessment"]["grade"] == "defective"
    assert body["assessment"]["disagreements"] == ["works"]
    assert body["status"] == "closed" and body["refund_amount"] == "60.00"
    assert on_hand(app, "SKU-B", node) == b_before  # a defective unit is not put back on sale
    ops = headers(app)
    stored = http.get(f"/returns/{rid}", headers=ops).json()
    assert [ln["grade"] for ln in stored["lines"]] == ["new", "defective"]
    report = http.get("/returns/analytics?days=30", headers=ops).json()
    assert {r["key"]: r["returned"] for r in report["sku"]} == {"SKU-A": 2, "SKU-B": 1}


@pytest.mark.parametrize(("path", "body", "field"), [
    ("receipts", {"node": "DC-EAST", "reference": "R", "quantities": {"one": 1}}, "quantities.one"),
    ("receipts", {"node": "DC-EAST", "reference": "R", "quantities": {"1": -3}}, "quantities.1"),
    ("receipts", {"node": "DC-EAST", "reference": "R", "quantities": {"9": 1}}, "line_no"),
    ("receipts", {"node": "NOWHERE", "reference": "R"}, "node"),
    ("receipts", {"node": "DC-EAST", "reference": "x" * 500}, "reference"),
    ("receipts", {"node": "DC-EAST", "reference": "R", "extra": 1}, "extra"),
    ("grades", {"line_no": 1, "reference": "G", "grade": "new", "inspection": {"note": "sealed"}}, "grade"),
    ("grades", {"line_no": 1, "reference": "G"}, "grade"),
    ("grades", {"line_no": 1, "reference": "G", "grade": "shiny"}, "grade"),
    ("grades", {"line_no": 1, "reference": "G", "grade": "new"}, "line_no"),  # not received yet: state error
])
def test_bad_warehouse_input_is_refused_naming_the_field(world: tuple[TestClient, App, dict[str, str]], path: str,
                                                         body: dict[str, Any], field: str) -> None:
    http, app, ids = world
    rma = _ask(http, app, ids["a"], {"reason_text": "changed my mind"}).json()
    ops = headers(app)
    before = http.get(f"/returns/{rma['rma_id']}", headers=ops).json()
    response = http.post(f"/returns/{rma['rma_id']}/{path}", json=body, headers=ops)
    assert response.status_code in (404, 409, 422), response.text
    text = response.text
    assert field.split(".")[0] in text or "state.illegal_transition" in text, text
    assert http.get(f"/returns/{rma['rma_id']}", headers=ops).json() == before


def test_hostile_return_requests_are_refused_and_store_nothing(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    for body in ({"lines": [{"line_no": 1, "quantity": 99}]}, {"lines": [{"line_no": "1", "quantity": 1}]},
                 {"lines": []}, {"lines": [{"line_no": 1, "quantity": 1, "reason": "<script>"}]},
                 {"reason_text": "x" * 501}, {"resolution": "store_credit"}, {"unknown": True},
                 {"resolution": "exchange", "lines": [{"line_no": 1, "quantity": 1, "exchange_sku": "S" * 65}]},
                 {"resolution": "exchange", "lines": [{"line_no": 1, "quantity": 1, "exchange_sku": ["SKU-B"]}]},
                 {"lines": [{"line_no": 1, "quantity": 1, "exchange_sku": "SKU-B"}]}):
        response = _ask(http, app, ids["a"], body)
        assert response.status_code == 422, (body, response.text)
    assert http.get("/returns", headers=headers(app)).json() == {"returns": []}


def test_the_customer_chat_opens_a_return_with_its_label(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    reply = http.post("/customer/chat", json={"message": f"I want to return order {ids['a']}, it arrived broken"},
                      headers=ann).json()
    [rma] = http.get("/returns", headers=ann).json()["returns"]
    assert reply["intent"] == "start_return"
    assert rma["rma_id"] in reply["answer"] and rma["label"]["tracking_number"] in reply["answer"]
    assert rma["reason"] == "damaged_in_transit" and sum(ln["quantity"] for ln in rma["lines"]) == 3
    again = http.post("/customer/chat", json={"message": f"return order {ids['a']} please"}, headers=ann).json()
    assert "can't start a return" in again["answer"] and "already on a return" in again["answer"]


def test_the_returns_queue_page_shows_the_evidence_and_escapes_what_customers_write(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    from engine.returns.abuse import FEATURES, AbuseModel

    http, app, ids = world
    k = len(FEATURES)
    app.returns.model = AbuseModel(weights=[0.5] * k, bias=5.0, means=[0.0] * k, scales=[1.0] * k, threshold=0.5)
    held = _ask(http, app, ids["a"], {"reason_text": "<script>alert('x')</script> changed my mind"})
    assert held.status_code == 201 and held.json()["status"] == "requested"
    assert "review" not in held.json()  # the customer is not told about the score
    ops = headers(app)
    page = http.get("/ui/returns", headers=ops)
    assert page.status_code == 200
    html = page.text
    assert held.json()["rma_id"] in html and "data-return=\"authorise\"" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "return rate" in html or "Return rate" in html
    for feature in ("return rate", "serial"):
        assert feature in html
    assert http.get("/ui/fragments/returns", headers=ops).status_code == 200
    assert 'orderloom_returns{status="requested"} 1.0' in http.get("/metrics", headers=ops).text
    done = http.post(f"/returns/{held.json()['rma_id']}/authorise", json={"reason": "checked"}, headers=ops).json()
    assert done["status"] == "label_issued"
    case = app.exceptions.case(done["case_id"])
    assert case["status"] == "resolved" and case["resolution"]["action"] == "start_return"  # closed by the decision
    order_page = http.get(f"/ui/orders/{ids['a']}", headers=ops).text
    assert held.json()["rma_id"] in order_page and "label issued" in order_page
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    assert http.get("/ui/returns", headers=ann, follow_redirects=False).status_code == 303


def test_only_a_policy_writer_changes_the_return_policy(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    ops, admin = headers(app, "olga", "ops"), headers(app)
    assert http.get("/returns/policy", headers=ops).json()["version"] == 0
    body = {"settings": {"window_by_channel": {"marketplace": 14}}, "note": "marketplace terms"}
    assert http.put("/returns/policy", json=body, headers=ops).status_code == 403
    changed = http.put("/returns/policy", json=body, headers=admin)
    assert changed.status_code == 200 and changed.json()["policy"]["window_by_channel"] == {"marketplace": 14}
    bad = http.put("/returns/policy", json={"settings": {"window_by_channel": {"web": "forever"}}}, headers=admin)
    assert bad.status_code == 422 and "settings.window_by_channel.web" in bad.text
    assert http.put("/returns/policy", json={"settings": {}}, headers=admin).status_code == 422
    assert http.get("/returns/policy", headers=ops).json()["version"] == 1


@pytest.mark.parametrize(("message", "intent"), [
    ("where is my return?", "where_is"), ("has my refund come through yet?", "where_is"),
    ("did you receive my return parcel?", "where_is"), ("what's the status of the return", "where_is"),
    ("I want to return order 1042, it arrived broken", "start_return"),
    ("I got the wrong item and want to return it", "start_return"), ("please refund me", "start_return"),
])
def test_asking_about_a_return_is_not_asking_for_another(message: str, intent: str) -> None:
    from agents.customer.rules import read_message

    assert read_message(message).intent == intent


def test_the_customer_chat_tells_where_a_return_is(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    rma = _ask(http, app, ids["a"], {"reason_text": "too big"}).json()
    reply = http.post("/customer/chat", json={"message": "where is my return?"}, headers=ann).json()
    assert reply["intent"] == "where_is"
    assert f"Your return {rma['rma_id']}: approved, label sent" in reply["answer"]
    assert rma["label"]["tracking_number"] in reply["answer"]
    app.returns.receive(rma["rma_id"], app.returns.get(rma["rma_id"])["restock_node"], "R-1", None)
    for ln in rma["lines"]:
        app.returns.grade(rma["rma_id"], ln["line_no"], "new", f"G-{ln['line_no']}")
    done = http.post("/customer/chat", json={"message": "has my refund come through yet?"}, headers=ann).json()
    assert "done (60.00 back to your payment method)" in done["answer"]


def test_a_buyer_sees_the_accounts_returns_and_no_one_elses(world: tuple[TestClient, App, dict[str, str]]) -> None:
    from decimal import Decimal

    from engine.domain.customers import Tier
    from tests.integration.test_routing_service import NYC

    http, app, ids = world
    app.bus.handle(c.UpsertPriceList(code="PL-B", currency="USD", prices={"SKU-A": Decimal("16.00")}))
    app.bus.handle(c.UpsertAccount(code="ACME", name="Acme", tier=Tier.SILVER, price_list_code="PL-B",
                                   credit_limit=Decimal("100000")))
    placed = app.bus.handle(c.PlaceOrder(channel="web", external_id="B-9", account_code="ACME", ship_to=NYC,
                                         lines=(c.NewOrderLine(sku="SKU-A", quantity=2),)))
    order_id = str(placed["order_id"])
    app.exceptions.process(order_id)
    with app.uow(readonly=True) as uow:
        [r] = uow.inventory.reservations(order_id=order_id)
    app.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id))
    app.bus.handle(c.RecordShipment(order_id=order_id, node=r.node, carrier="CAR", tracking_number="TB9",
                                    lines=(c.ShipmentLine(line_no=1, quantity=2),)))
    app.bus.handle(c.MarkDelivered(order_id=order_id))
    buyer = headers(app, "bob", "buyer", account_code="ACME")
    refused = http.post(f"/orders/{order_id}/returns", json={"reason_text": "changed my mind"}, headers=buyer)
    assert refused.status_code == 422 and "return.b2b_terms" in refused.text
    theirs = http.post(f"/orders/{order_id}/returns", json={"reason_text": "arrived damaged"}, headers=buyer).json()
    anns = _ask(http, app, ids["a"], {"reason_text": "too big"}).json()
    listed = http.get("/returns", headers=buyer).json()["returns"]
    assert [x["rma_id"] for x in listed] == [theirs["rma_id"]] and "abuse_score" not in listed[0]
    assert http.get(f"/returns/{anns['rma_id']}", headers=buyer).status_code == 403
    assert http.get(f"/returns/{theirs['rma_id']}", headers=buyer).json()["account_code"] == "ACME"


def test_the_servers_background_loop_settles_a_return_a_stop_left_graded(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    import threading

    from api.http.app import _background

    http, app, ids = world
    rma = _ask(http, app, ids["a"], {"reason_text": "changed my mind"}).json()
    app.returns.receive(rma["rma_id"], rma["restock_node"], "RCV-1", None)
    for line_no in (1, 2):  # graded, then the process stopped before the refund
        app.bus.handle(c.GradeReturnLine(rma_id=rma["rma_id"], line_no=line_no, grade="new", reference=f"G-{line_no}"))
    assert app.returns.get(rma["rma_id"])["status"] == "disposed"
    clock = app.clock
    assert isinstance(clock, StepClock)
    clock.advance(120)
    stop = threading.Event()
    loop = threading.Thread(target=_background, args=(app, stop, 0.01), kwargs={"settle_every": 0.0})
    loop.start()
    try:
        for _ in range(500):
            if app.returns.get(rma["rma_id"])["status"] == "closed":
                break
            stop.wait(0.01)
    finally:
        stop.set()
        loop.join(timeout=10)
    done = app.returns.get(rma["rma_id"])
    assert done["status"] == "closed" and done["refund_amount"] == "60.00", done


def test_an_exchange_for_another_variant_over_the_api(world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, ids = world
    app.bus.handle(c.UpsertSku(sku="SKU-D", name="Item SKU-D", category="home", unit_price=Decimal("25"),
                               weight_kg=Decimal("1")))
    dearer = _ask(http, app, ids["a"], {"resolution": "exchange", "reason_text": "too small",
                                        "lines": [{"line_no": 1, "quantity": 1, "exchange_sku": "SKU-D"}]})
    assert dearer.status_code == 422
    [problem] = dearer.json()["problems"]
    assert problem["field"] == "lines[0].exchange_sku" and problem["code"] == "return.exchange_price_differs"
    assert "SKU-D costs 25.00" in problem["message"]
    made = _ask(http, app, ids["a"], {"resolution": "exchange", "reason_text": "too small",
                                      "lines": [{"line_no": 1, "quantity": 1, "exchange_sku": "SKU-C"}]})
    assert made.status_code == 201, made.text
    assert made.json()["lines"][0]["exchange_sku"] == "SKU-C"
    page = http.get("/ui/returns", headers=headers(app)).text
    assert "SKU-A ⇄ SKU-C" in page


def _tees(app: App) -> None:
    for sku, size, name in (("TEE-S", "S", "Crew Tee <b>Grey</b>, S"), ("TEE-M", "M", "Crew Tee, Grey, M"),
                            ("TEE-L", "L", "Crew Tee, Grey, L")):
        app.bus.handle(c.UpsertSku(sku=sku, name=name, category="apparel", unit_price=Decimal("15"),
                                   weight_kg=Decimal("0.2"), attributes={"brand": "Northwind", "product": "Crew Tee",
                                                                         "color": "Grey", "size": size}))
    app.bus.handle(c.UpsertSku(sku="HOODIE-S", name="Hoodie, S", category="apparel", unit_price=Decimal("15"),
                               weight_kg=Decimal("0.5"), attributes={"brand": "Northwind", "product": "Hoodie",
                                                                     "size": "S"}))
    app.bus.handle(c.ReceiveStock(sku="TEE-S", node="DC-EAST", quantity=5, reference="opening"))
    app.bus.handle(c.ReceiveStock(sku="TEE-M", node="DC-EAST", quantity=5, reference="opening"))


def test_the_return_options_offer_what_can_come_back_and_the_other_sizes(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    _tees(app)
    order_id = delivered_order(app, "W-TEE", {"TEE-S": 2})
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    options = http.get(f"/orders/{order_id}/returns/options", headers=ann)
    assert options.status_code == 200, options.text
    [line] = options.json()["lines"]
    assert line["returnable"] == 2 and line["variant"] == "Grey, S"
    assert [(v["sku"], v["variant"]) for v in line["variants"]] == [("TEE-L", "Grey, L"), ("TEE-M", "Grey, M")]
    reasons = {r["reason"]: r for r in options.json()["reasons"]}
    assert reasons["defective"]["merchant_fault"] and reasons["size_or_fit"]["words"] == "Size or fit"
    bea = headers(app, "bea", "customer", customer_id="cust-b")
    assert http.get(f"/orders/{order_id}/returns/options", headers=bea).status_code == 403
    assert http.get("/orders/99999/returns/options", headers=bea).status_code == 403
    assert http.get("/orders/99999/returns/options", headers=headers(app)).status_code == 404
    assert http.get("/orders/%00/returns/options", headers=headers(app)).status_code == 404
    made = _ask(http, app, order_id, {"resolution": "exchange", "lines": [
        {"line_no": 1, "quantity": 1, "reason": "size_or_fit", "exchange_sku": "TEE-M"}]})
    assert made.status_code == 201, made.text
    assert http.get(f"/orders/{order_id}/returns/options", headers=ann).json()["lines"][0]["returnable"] == 1
    hoodie = _ask(http, app, order_id, {"resolution": "exchange", "lines": [
        {"line_no": 1, "quantity": 1, "reason": "size_or_fit", "exchange_sku": "HOODIE-S"}]})
    assert hoodie.status_code == 422 and "another size or colour" in hoodie.text
    page = http.get("/ui/shop", headers=ann).text
    assert f'data-return-form data-order="{order_id}"' in page
    assert '<option value="TEE-L">Grey, L</option>' in page and 'max="1"' in page
    assert "<b>Grey</b>" not in page and "Crew Tee &lt;b&gt;Grey&lt;/b&gt;, S" in page  # text, never markup


def test_the_simulated_customer_asks_for_a_size_up_when_the_catalog_has_one(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    from types import SimpleNamespace

    from evals.simulator import ChannelSimulator, _next_size

    http, app, ids = world
    _tees(app)
    order_id = delivered_order(app, "W-TEE2", {"TEE-S": 1, "SKU-A": 1})
    http.headers.update(headers(app))
    body = ChannelSimulator._size_up(SimpleNamespace(client=http), order_id)  # type: ignore[arg-type]
    assert body == {"resolution": "exchange", "lines": [
        {"line_no": 1, "quantity": 1, "reason": "size_or_fit", "exchange_sku": "TEE-M"},
        {"line_no": 2, "quantity": 1, "reason": "size_or_fit"}]}
    assert ChannelSimulator._size_up(SimpleNamespace(client=http), ids["a"]) == {}  # type: ignore[arg-type]
    assert _next_size({"variant": "Grey, XXL", "variants": [{"sku": "X", "variant": "Grey, S"}]}) is None
    assert _next_size({"variant": "Mug", "variants": []}) is None
    grey_s = {"size": "S", "color": "Grey", "variants": [{"sku": "N-M", "size": "M", "color": "Navy"},
                                                         {"sku": "G-M", "size": "M", "color": "Grey"}]}
    assert _next_size(grey_s) == "G-M" and _next_size({**grey_s, "size": "XXL"}) is None


def test_the_customer_chat_exchanges_for_the_size_asked_for_or_lists_the_choices(
        world: tuple[TestClient, App, dict[str, str]]) -> None:
    http, app, _ = world
    _tees(app)
    ann = headers(app, "ann", "customer", customer_id="cust-a")
    order_id = delivered_order(app, "W-TEE3", {"TEE-S": 1})

    def ask(message: str) -> str:
        reply = http.post("/customer/chat", json={"message": message}, headers=ann).json()
        assert reply["intent"] == "start_return", reply
        return str(reply["answer"])

    listed = ask(f"can I swap order {order_id} for an XXL?")
    assert "Which would you like?" in listed and "Grey, M" in listed and "Grey, L" in listed
    assert app.returns.for_order(order_id) == []  # nothing was opened
    answer = ask(f"order {order_id} is too small, I'd like to exchange it for a medium")
    [rma] = app.returns.for_order(order_id)
    assert rma["resolution"] == "exchange" and rma["lines"][0]["exchange_sku"] == "TEE-M"
    assert f"exchange {rma['rma_id']}" in answer and "We'll send TEE-S for Grey, M" in answer
    plain = delivered_order(app, "W-TEE4", {"SKU-B": 1})  # one version only: the same again
    again = ask(f"order {plain} arrived broken, please exchange it")
    [same] = app.returns.for_order(plain)
    assert same["resolution"] == "exchange" and same["lines"][0]["exchange_sku"] is None
    assert "the same again" in again
    refund = delivered_order(app, "W-TEE5", {"TEE-S": 2})
    ask(f"I want to return order {refund}, it's too small")
    assert app.returns.for_order(refund)[0]["resolution"] == "refund"
