"""The order state machine: the forward path, the ways off it, and pausing (hold, exception)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.domain.errors import IllegalTransition
from engine.domain.orders import PAUSED, TERMINAL, TRANSITIONS, Address, Order, OrderLine, OrderStatus

S = OrderStatus
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)

# The states an order can be paused from, per pause (read off the table: who may move into it).
PAUSABLE_FROM = {pause: sorted((s for s in S if pause in TRANSITIONS[s] and s not in PAUSED), key=str)
                 for pause in PAUSED}


def order_in(status: OrderStatus, paused_from: OrderStatus | None = None) -> Order:
    return Order(order_id="7", channel="web", external_id="W-7", customer_id=None, account_code=None,
                 ship_to=Address("Ada", "1 Main St", "Reno", "NV", "89501"),
                 lines=[OrderLine(1, "SKU-1", 2, Decimal("9.99"))], placed_at=AT, status=status,
                 paused_from=paused_from)


def paused_from_for(status: OrderStatus) -> OrderStatus | None:
    """A paused order always remembers where it came from; use the first state that may pause."""
    return PAUSABLE_FROM[status][0] if status in PAUSED else None


def test_the_pauses_can_be_entered_from_the_expected_states() -> None:
    assert PAUSABLE_FROM[S.ON_HOLD] == [S.ALLOCATED, S.RECEIVED, S.RELEASED, S.VALIDATED]
    assert PAUSABLE_FROM[S.EXCEPTION] == [S.ALLOCATED, S.PARTIALLY_SHIPPED, S.RECEIVED, S.RELEASED, S.VALIDATED]


LEGAL = [(src, dst) for src, targets in TRANSITIONS.items() for dst in sorted(targets, key=str)]


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{a.value}->{b.value}" for a, b in LEGAL])
def test_every_transition_in_the_table_is_allowed_and_recorded(src: OrderStatus, dst: OrderStatus) -> None:
    order = order_in(src, paused_from_for(src))
    change = order.transition(dst, LATER, "because")
    assert order.status == dst
    assert order.status_reason == "because"
    assert order.history == [change]
    assert (change.at, change.from_status, change.to_status, change.reason) == (LATER, src, dst, "because")


@pytest.mark.parametrize("src", [s for s in S if s not in PAUSED])
@pytest.mark.parametrize("pause", sorted(PAUSED, key=str))
def test_entering_a_pause_remembers_where_the_order_came_from(src: OrderStatus, pause: OrderStatus) -> None:
    order = order_in(src)
    if pause not in TRANSITIONS[src]:
        with pytest.raises(IllegalTransition):
            order.transition(pause, LATER)
        return
    order.transition(pause, LATER, "wait")
    assert (order.status, order.paused_from) == (pause, src)


def _illegal_pairs() -> list[tuple[OrderStatus, OrderStatus | None, OrderStatus]]:
    """Every (state, paused from, target) the table does not allow, pauses with every possible origin."""
    pairs: list[tuple[OrderStatus, OrderStatus | None, OrderStatus]] = []
    for src in S:
        origins: list[OrderStatus | None] = list(PAUSABLE_FROM[src]) if src in PAUSED else [None]
        for origin in origins:
            for dst in S:
                allowed = dst in TRANSITIONS[src] or (src in PAUSED and dst == origin)
                if src == S.EXCEPTION and dst == S.VALIDATED and origin not in (S.RECEIVED, S.VALIDATED,
                                                                                 S.ALLOCATED, S.RELEASED):
                    allowed = False
                if not allowed:
                    pairs.append((src, origin, dst))
    return pairs


ILLEGAL = _illegal_pairs()


def test_the_illegal_table_covers_the_obvious_cases() -> None:
    assert (S.DELIVERED, None, S.CANCELLED) in ILLEGAL
    assert (S.SHIPPED, None, S.CANCELLED) in ILLEGAL
    assert (S.PARTIALLY_SHIPPED, None, S.CANCELLED) in ILLEGAL
    assert (S.PARTIALLY_SHIPPED, None, S.ON_HOLD) in ILLEGAL
    assert (S.RECEIVED, None, S.ALLOCATED) in ILLEGAL
    assert (S.ON_HOLD, S.ALLOCATED, S.RELEASED) in ILLEGAL
    assert (S.EXCEPTION, S.PARTIALLY_SHIPPED, S.VALIDATED) in ILLEGAL
    assert all((src, None, src) in ILLEGAL for src in S if src not in PAUSED)  # no self-loops


@pytest.mark.parametrize(("src", "origin", "dst"), ILLEGAL,
                         ids=[f"{a.value}({o.value if o else '-'})->{b.value}" for a, o, b in ILLEGAL])
def test_every_illegal_move_is_refused_with_a_stable_code_and_leaves_the_order_unchanged(
        src: OrderStatus, origin: OrderStatus | None, dst: OrderStatus) -> None:
    order = order_in(src, origin)
    before = copy.deepcopy(order)
    with pytest.raises(IllegalTransition) as refused:
        order.transition(dst, LATER, "try")
    error = refused.value
    assert error.code == "state.illegal_transition"
    assert error.http_status == 409
    assert error.data["from_status"] == src.value
    assert error.data["to_status"] == dst.value
    assert dst.value not in error.data["allowed"]
    assert order == before


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=str))
def test_delivered_and_cancelled_orders_go_nowhere(terminal: OrderStatus) -> None:
    assert order_in(terminal).allowed_targets() == set()


@pytest.mark.parametrize("origin", PAUSABLE_FROM[S.ON_HOLD])
def test_an_order_on_hold_resumes_only_to_where_it_was_or_is_cancelled(origin: OrderStatus) -> None:
    order = order_in(origin)
    order.transition(S.ON_HOLD, AT, "fraud check")
    assert order.allowed_targets() == {origin, S.CANCELLED}
    for other in S:
        if other not in (origin, S.CANCELLED):
            with pytest.raises(IllegalTransition):
                order.transition(other, LATER)
    assert (order.status, order.paused_from) == (S.ON_HOLD, origin)
    order.transition(origin, LATER, "cleared")
    assert (order.status, order.paused_from) == (origin, None)
    assert [(h.from_status, h.to_status) for h in order.history] == [(origin, S.ON_HOLD), (S.ON_HOLD, origin)]


@pytest.mark.parametrize("origin", PAUSABLE_FROM[S.EXCEPTION])
def test_an_exception_goes_back_to_validated_only_when_paused_before_shipping(origin: OrderStatus) -> None:
    order = order_in(origin)
    order.transition(S.EXCEPTION, AT, "address unclear")
    may_revalidate = origin in (S.RECEIVED, S.VALIDATED, S.ALLOCATED, S.RELEASED)
    expected = {origin, S.CANCELLED} | ({S.VALIDATED} if may_revalidate else set())
    assert order.allowed_targets() == expected
    if may_revalidate:
        order.transition(S.VALIDATED, LATER, "fixed")
        assert (order.status, order.paused_from) == (S.VALIDATED, None)
    else:
        before = copy.deepcopy(order)
        with pytest.raises(IllegalTransition) as refused:
            order.transition(S.VALIDATED, LATER, "fixed")
        assert refused.value.code == "state.illegal_transition"
        assert order == before


def test_a_pause_cannot_be_swapped_for_the_other_pause() -> None:
    order = order_in(S.ALLOCATED)
    order.transition(S.ON_HOLD, AT)
    with pytest.raises(IllegalTransition):
        order.transition(S.EXCEPTION, LATER)
    assert (order.status, order.paused_from) == (S.ON_HOLD, S.ALLOCATED)


def test_cancelling_a_paused_order_forgets_where_it_was_paused_from() -> None:
    order = order_in(S.RELEASED)
    order.transition(S.EXCEPTION, AT)
    order.transition(S.CANCELLED, LATER, "customer gave up")
    assert (order.status, order.paused_from) == (S.CANCELLED, None)


def test_a_paused_order_without_an_origin_can_only_leave_by_the_table() -> None:
    order = order_in(S.ON_HOLD, None)
    assert order.allowed_targets() == {S.CANCELLED}
