"""The return handlers on the in-memory unit of work: request → authorise → label → receive → grade → settle,
replays, the ledger, and the fake's reports (the SQL ones are tested in tests/integration/test_returns.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.inventory import MovementKind
from tests.fakes import ADDRESS, make_world


def delivered(w, sku: str = "SKU-1", qty: int = 2, ext: str = "") -> str:  # type: ignore[no-untyped-def]
    w.bus.handle(c.ReceiveStock(sku=sku, node="DC-1", quantity=10))
    w.bus.handle(c.UpsertCustomer(customer_id="C-1", email="c1@example.com", name="Cy One"))
    ext = ext or f"W-{sku}"
    oid = str(w.bus.handle(c.PlaceOrder(channel="web", external_id=ext, customer_id="C-1", ship_to=ADDRESS,
                                        lines=(c.NewOrderLine(sku, qty),)))["order_id"])
    w.bus.handle(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", qty),)))
    w.bus.handle(c.ReleaseOrderToFulfillment(order_id=oid))
    w.bus.handle(c.RecordShipment(order_id=oid, node="DC-1", lines=(c.ShipmentLine(1, qty),), shipment_id=f"S-{ext}",
                                  carrier="CAR", tracking_number=f"T-{sku}"))
    w.bus.handle(c.MarkDelivered(order_id=oid))
    return oid


def test_the_whole_way_on_the_in_memory_store() -> None:
    w = make_world()
    oid = delivered(w)
    rma = w.bus.handle(c.RequestReturn(order_id=oid, lines=(c.ReturnLineRequest(line_no=1, quantity=2,
                                                                                 reason="size_or_fit"),),
                                       restock_node="DC-2", requested_by="customer:cy"))
    rid = rma["rma_id"]
    w.bus.handle(c.AuthoriseReturn(rma_id=rid, actor="orderloom"))
    w.bus.handle(c.IssueReturnLabel(rma_id=rid, carrier="CAR", tracking_number="RT1"))
    w.bus.handle(c.ReceiveReturn(rma_id=rid, node="DC-2", reference="R1", quantities=((1, 2),)))
    assert w.bus.handle(c.ReceiveReturn(rma_id=rid, node="DC-2", reference="R1", quantities=((1, 2),)))["replayed"]
    graded = w.bus.handle(c.GradeReturnLine(rma_id=rid, line_no=1, grade="like_new", reference="G1"))
    assert graded["status"] == "disposed" and graded["restocked_at"] == "DC-2"
    assert w.bus.handle(c.GradeReturnLine(rma_id=rid, line_no=1, grade="like_new", reference="G1"))["replayed"]
    returns = [m for m in w.store.state.movements if m.kind is MovementKind.RETURN]
    assert [(m.sku, m.node, m.quantity) for m in returns] == [("SKU-1", "DC-2", 2)]
    closed = w.bus.handle(c.SettleReturn(rma_id=rid))
    assert closed["status"] == "closed" and closed["refund_amount"] == "19.98"
    with pytest.raises(e.IllegalTransition):
        w.bus.handle(c.SettleReturn(rma_id=rid))


def test_the_fakes_reports_follow_the_sql_ones() -> None:
    w = make_world()
    oid = delivered(w, "SKU-1", 4)
    delivered(w, "SKU-2", 1)
    w.bus.handle(c.RequestReturn(order_id=oid, lines=(c.ReturnLineRequest(line_no=1, quantity=1,
                                                                          reason="changed_mind"),)))
    uow = w.store
    from tests.fakes import FakeUnitOfWork

    with FakeUnitOfWork(uow, w.clock) as u:
        now = u.now()
        report = u.returns.analytics(now - timedelta(days=30))
        history = u.returns.customer_history("C-1", now + timedelta(seconds=1))
        demand = u.returns.sku_demand("SKU-1", now - timedelta(days=30))
    assert {r["key"]: (r["sold"], r["returned"]) for r in report["sku"]} == {"SKU-1": (4, 1), "SKU-2": (1, 0)}
    assert report["reason"] == [{"key": "changed_mind", "returned": 1, "share": 1.0}]
    assert report["segment"] == [{"key": "consumer:standard", "sold": 5, "returned": 1, "return_rate": 0.2}]
    assert len(history.orders) == 2 and [(r.units, r.whole_order) for r in history.returns] == [(1, False)]
    assert demand == {ADDRESS["postal_code"][:3]: 4}


def test_the_fakes_decisions_follow_the_sql_ones() -> None:
    from engine.returns.abuse import FEATURES
    from tests.fakes import FakeUnitOfWork

    w = make_world()
    evidence = tuple({"feature": f, "value": 0.5, "usual": "", "push": 0.0} for f in FEATURES)
    ids = []
    for n, sku in enumerate(("SKU-1", "SKU-2", "SKU-1")):
        oid = delivered(w, sku, n + 1, ext=f"W-D{n}")
        ids.append(w.bus.handle(c.RequestReturn(order_id=oid, lines=(c.ReturnLineRequest(
            line_no=1, quantity=1, reason="changed_mind"),), abuse_score=0.9, abuse_evidence=evidence))["rma_id"])
    w.bus.handle(c.RefuseReturn(rma_id=ids[0], actor="ops", reason="worn three times before"))
    w.bus.handle(c.AuthoriseReturn(rma_id=ids[1], actor="ops"))  # the third still waits: not a decision
    with FakeUnitOfWork(w.store, w.clock) as u:
        found = u.returns.decisions()
    assert [d.refused for d in found] == [True, False]
    assert found[0].features == dict.fromkeys(FEATURES, 0.5)
