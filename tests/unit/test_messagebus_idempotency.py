"""The message bus: idempotency keys, one transaction per command, events in the outbox only on commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from engine.domain import commands as c
from engine.domain.errors import OrderloomError
from engine.domain.events import Event, MasterDataChanged, StockMoved
from engine.services.handlers import COMMAND_HANDLERS
from engine.services.messagebus import request_hash
from engine.services.unit_of_work import AbstractUnitOfWork
from tests.fakes import FakeIntegrityError, FakeUnitOfWork, World, fake_bus, make_world, problem_fields, seed_network


@pytest.fixture
def w() -> World:
    world = make_world()
    world.receive("SKU-1", "DC-1", 10)
    return world


# -- idempotency keys ------------------------------------------------------------------------------

def test_the_same_key_and_payload_returns_the_first_result_and_creates_nothing_new(w: World) -> None:
    cmd = c.PlaceOrder(channel="web", external_id="W-1", ship_to={"name": "Ada", "line1": "1 Main St",
                                                                   "city": "Reno", "state": "NV",
                                                                   "postal_code": "89501", "country": "US"},
                       lines=(c.NewOrderLine("SKU-1", 2),), idempotency_key="order-W-1")
    first = w.handle(cmd)
    before = w.store.dump()
    assert w.handle(cmd) == first
    assert w.store.dump() == before
    assert list(w.store.state.orders) == [1]


def test_a_repeated_stock_receipt_is_counted_once(w: World) -> None:
    cmd = c.ReceiveStock(sku="SKU-2", node="DC-2", quantity=4, idempotency_key="asn-77")
    assert w.handle(cmd) == w.handle(cmd) == {"sku": "SKU-2", "node": "DC-2", "on_hand": 4}
    assert w.stock("SKU-2", "DC-2") == (4, 0)
    assert sum(1 for m in w.store.state.movements if m.sku == "SKU-2") == 1


def test_the_replayed_answer_is_the_stored_json(w: World) -> None:
    oid = w.place("W-1", ("SKU-1", 1))
    cmd = c.HoldOrder(order_id=oid, reason="fraud check", idempotency_key="hold-1")
    first = w.handle(cmd)
    again = w.handle(cmd)
    assert again == first
    assert type(again["paused_from"]) is str  # the stored answer, read back from JSON


def test_the_key_is_not_part_of_the_payload_fingerprint() -> None:
    a = c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key="a")
    b = c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key="b")
    assert request_hash(a) == request_hash(b)
    assert request_hash(a) != request_hash(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=2))
    assert request_hash(a) != request_hash(c.RecordReturnReceipt(sku="SKU-1", node="DC-1", quantity=1))


@pytest.mark.parametrize("second", [
    c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=6, idempotency_key="k-1"),
    c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=5, reference="PO-2", idempotency_key="k-1"),
    c.RecordReturnReceipt(sku="SKU-1", node="DC-1", quantity=5, idempotency_key="k-1"),
], ids=["other-quantity", "other-reference", "other-command"])
def test_the_same_key_with_a_different_payload_is_refused(w: World, second: c.Command) -> None:
    w.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=5, idempotency_key="k-1"))
    error = w.refused(second, "idempotency.key_reused")
    assert problem_fields(error) == {"idempotency_key": "idempotency.key_reused"}
    assert (error.data["key"], error.data["first_command"]) == ("k-1", "ReceiveStock")
    assert w.stock("SKU-1", "DC-1") == (15, 0)


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, "line\nbreak", "nul\x00", "tab\tkey", 42],
                         ids=["empty", "blank", "too-long", "newline", "nul", "tab", "not-text"])
def test_an_invalid_key_is_refused_before_anything_runs(w: World, key: Any) -> None:
    error = w.refused(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key=key), "validation.failed")
    assert problem_fields(error) == {"idempotency_key": "idempotency.key_invalid"}
    assert w.store.state.idempotency == {}


def test_a_key_of_two_hundred_printable_characters_is_fine(w: World) -> None:
    key = "k" * 199 + "\u00e9"
    w.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key=key))
    assert list(w.store.state.idempotency) == [key]


def test_a_refused_command_does_not_keep_its_key(w: World) -> None:
    w.refused(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=0, idempotency_key="k-2"), "quantity.invalid")
    assert w.store.state.idempotency == {}
    assert w.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=2, idempotency_key="k-2"))["on_hand"] == 12
    assert list(w.store.state.idempotency) == ["k-2"]


def test_a_command_that_failed_half_way_keeps_neither_its_key_nor_its_first_steps(w: World) -> None:
    w.receive("SKU-2", "DC-1", 1)
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 2))
    allocate = c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),
                                                          c.LineAllocation(2, "DC-1", 2)), idempotency_key="alloc-1")
    w.refused(allocate, "inventory.insufficient")  # SKU-1 was reserved, then SKU-2 was short
    assert w.stock("SKU-1", "DC-1") == (10, 0)
    w.receive("SKU-2", "DC-1", 1)
    assert w.handle(allocate)["status"] == "allocated"
    assert w.handle(allocate)["status"] == "allocated"
    assert w.stock("SKU-1", "DC-1") == (10, 3)


# -- events and the outbox -------------------------------------------------------------------------

def test_a_committed_command_writes_its_events_to_the_outbox_as_json(w: World) -> None:
    mark = w.mark
    w.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=2, reference="PO-9"))
    [record] = w.store.state.outbox[mark:]
    assert isinstance(record.event, StockMoved)
    assert (record.event_type, record.aggregate, record.aggregate_id) == ("inventory.stock_moved", "stock",
                                                                          "SKU-1@DC-1")
    assert record.payload == {"movement_id": record.event.movement_id, "sku": "SKU-1", "node": "DC-1",
                              "kind": "receipt", "quantity": 2, "on_hand_after": 12, "reference": "PO-9"}


def test_a_failed_command_writes_no_events_even_those_raised_before_it_failed(w: World) -> None:
    w.receive("SKU-2", "DC-1", 1)
    oid = w.place("W-1", ("SKU-1", 3), ("SKU-2", 2))
    w.refused(c.AllocateOrder(order_id=oid, allocations=(c.LineAllocation(1, "DC-1", 3),
                                                         c.LineAllocation(2, "DC-1", 2))), "inventory.insufficient")

    def emit_then_fail(cmd: c.ReceiveStock, uow: AbstractUnitOfWork) -> Any:
        COMMAND_HANDLERS[c.ReceiveStock](cmd, uow)
        uow.emit(MasterDataChanged(entity="x", key="y", change="z"))
        raise OrderloomError("the handler failed after emitting")

    delivered: list[list[Event]] = []
    bus, _ = fake_bus(clock=w.clock, store=w.store, handlers={c.ReceiveStock: emit_then_fail},
                      after_commit=delivered.append)
    refused = w.store.dump()
    with pytest.raises(OrderloomError):
        bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1))
    assert w.store.dump() == refused
    assert delivered == []


def test_events_are_handed_on_after_the_commit_and_a_failing_subscriber_does_not_undo_it() -> None:
    delivered: list[list[str]] = []

    def subscriber(events: list[Event]) -> None:
        delivered.append([e.event_type for e in events])
        raise RuntimeError("the broker is down")

    bus, store = fake_bus(after_commit=subscriber)
    seed_network(bus, skus=["SKU-1"], nodes=["DC-1"], channels={})
    bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=3))
    assert delivered[-1] == ["inventory.stock_moved"]
    assert store.balance("SKU-1", "DC-1").on_hand == 3  # type: ignore[union-attr]
    assert [r.event_type for r in store.state.outbox][-1] == "inventory.stock_moved"


def test_a_unit_of_work_left_without_commit_keeps_nothing_it_did_or_emitted(w: World) -> None:
    before = w.store.dump()
    uow = FakeUnitOfWork(w.store, w.clock)
    with uow:
        uow.inventory.ensure_balance("SKU-2", "DC-2")
        uow.emit(MasterDataChanged(entity="x", key="y", change="z"))
    assert w.store.dump() == before
    assert uow.committed_events == []


def test_changes_made_after_a_commit_in_the_same_unit_of_work_are_rolled_back(w: World) -> None:
    uow = FakeUnitOfWork(w.store, w.clock)
    with uow:
        uow.inventory.ensure_balance("SKU-2", "DC-2")
        uow.commit()
        uow.inventory.ensure_balance("SKU-1", "DC-2")
    assert w.store.balance("SKU-2", "DC-2") is not None
    assert w.store.balance("SKU-1", "DC-2") is None


# -- conflicts -------------------------------------------------------------------------------------

@dataclass
class Flaky:
    """A handler that hits a unique-key race `failures` times before running the real handler."""

    failures: int
    kind: str = "unique"
    calls: int = 0

    def __call__(self, cmd: c.ReceiveStock, uow: AbstractUnitOfWork) -> Any:
        self.calls += 1
        result = COMMAND_HANDLERS[c.ReceiveStock](cmd, uow)
        if self.calls <= self.failures:
            raise FakeIntegrityError(self.kind, "uq_something")
        return result


def test_a_unique_key_race_is_retried_in_a_fresh_transaction(w: World) -> None:
    flaky = Flaky(failures=2)
    bus, _ = fake_bus(clock=w.clock, store=w.store, handlers={c.ReceiveStock: flaky})
    assert bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key="r-1"))["on_hand"] == 11
    assert flaky.calls == 3
    assert sum(1 for m in w.store.state.movements if m.sku == "SKU-1") == 2  # the first receipt and this one


def test_a_race_that_keeps_losing_ends_in_a_clear_error_and_changes_nothing(w: World) -> None:
    flaky = Flaky(failures=99)
    bus, _ = fake_bus(clock=w.clock, store=w.store, handlers={c.ReceiveStock: flaky}, conflict_retries=2)
    error = World(bus, w.store, w.clock).refused(
        c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1, idempotency_key="r-2"), "orderloom.error")
    assert error.data["reason"] == "FakeIntegrityError"
    assert flaky.calls == 3


def test_other_database_errors_are_not_retried(w: World) -> None:
    flaky = Flaky(failures=1, kind="check")
    bus, _ = fake_bus(clock=w.clock, store=w.store, handlers={c.ReceiveStock: flaky})
    before = w.store.dump()
    with pytest.raises(FakeIntegrityError):
        bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1))
    assert flaky.calls == 1
    assert w.store.dump() == before


def test_a_command_without_a_handler_is_refused(w: World) -> None:
    bus, _ = fake_bus(clock=w.clock, store=w.store, handlers={})
    with pytest.raises(OrderloomError) as refused:
        bus.handle(c.ReceiveStock(sku="SKU-1", node="DC-1", quantity=1))
    assert refused.value.code == "orderloom.error"


def test_every_command_has_a_handler() -> None:
    commands = {cls for cls in vars(c).values()
                if isinstance(cls, type) and issubclass(cls, c.Command) and cls is not c.Command}
    assert commands == set(COMMAND_HANDLERS)
