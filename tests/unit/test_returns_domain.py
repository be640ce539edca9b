"""The returns domain, pure: the RMA state machine (every illegal move, replays), eligibility by policy,
refund amounts and the grade -> disposition rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain.errors import IllegalTransition, ValidationFailed
from engine.domain.returns import (
    RMA_TRANSITIONS,
    Disposition,
    DispositionRules,
    Grade,
    OrderLineFacts,
    Replay,
    RequestedLine,
    Resolution,
    ReturnLine,
    ReturnPolicy,
    ReturnReason,
    Rma,
    RmaStatus,
    check_eligibility,
    disposition_for,
)

T0 = datetime(2030, 3, 1, 12, tzinfo=UTC)
R = ReturnReason


def rma(resolution: Resolution = Resolution.REFUND, reasons: tuple[ReturnReason, ...] = (R.SIZE_OR_FIT,)) -> Rma:
    lines = [ReturnLine(line_no=i + 1, sku=f"SKU-{i + 1}", quantity=2, reason=reason, unit_price=Decimal("40.00"))
             for i, reason in enumerate(reasons)]
    return Rma(rma_id="RMA-1", order_id="7", channel="web", customer_id="C-1", account_code=None, lines=lines,
               resolution=resolution)


def through_disposal(r: Rma) -> Rma:
    r.authorise(T0)
    r.issue_label(T0, "NPX", "NPX123")
    r.in_transit(T0)
    for ln in r.lines:
        r.receive(T0, f"rcv-{ln.line_no}", {ln.line_no: ln.quantity})
    for ln in r.lines:
        r.grade(T0, f"grd-{ln.line_no}", ln.line_no, Grade.NEW)
    for ln in r.lines:
        r.dispose(T0, f"dsp-{ln.line_no}", ln.line_no, Disposition.RESTOCK_NEW)
    return r


def test_a_refund_runs_the_whole_way_and_every_change_is_recorded() -> None:
    r = through_disposal(rma(reasons=(R.SIZE_OR_FIT, R.DEFECTIVE)))
    assert r.status is RmaStatus.DISPOSED
    r.refund(T0, r.refund_due(Decimal("10")))
    r.close(T0)
    assert [c.to_status.value for c in r.history] == ["authorised", "label_issued", "in_transit", "received",
                                                      "graded", "disposed", "refunded", "closed"]
    assert all(a.to_status is b.from_status for a, b in zip(r.history, r.history[1:], strict=False))
    assert r.refund_amount == Decimal("152.00")  # 80 less 10 % on the size return, 80 in full for the defect


def test_an_exchange_creates_its_replacement_and_cannot_be_refunded() -> None:
    r = through_disposal(rma(Resolution.EXCHANGE))
    with pytest.raises(IllegalTransition):
        r.refund(T0, Decimal("1"))
    r.exchange(T0, "42")
    assert r.status is RmaStatus.EXCHANGED and r.exchange_order_id == "42"
    with pytest.raises(IllegalTransition):
        rma().exchange(T0, "43")


def test_a_store_drop_off_needs_no_label() -> None:
    r = rma()
    r.authorise(T0)
    r.receive(T0, "store-1", {1: 2})
    assert r.status is RmaStatus.RECEIVED and r.label is None


@pytest.mark.parametrize("status", list(RmaStatus))
def test_every_move_the_table_does_not_allow_is_refused_with_the_allowed_targets(status: RmaStatus) -> None:
    for target in RmaStatus:
        r = rma()
        r.status = status
        if target in RMA_TRANSITIONS[status]:
            r.transition(target, T0)
            assert r.status is target
            continue
        with pytest.raises(IllegalTransition) as refused:
            r.transition(target, T0)
        assert r.status is status and r.history == []
        assert refused.value.data["allowed"] == sorted(t.value for t in RMA_TRANSITIONS[status])


def test_final_states_say_so() -> None:
    for final in (RmaStatus.REFUSED, RmaStatus.CLOSED, RmaStatus.CANCELLED):
        r = rma()
        r.status = final
        with pytest.raises(IllegalTransition, match="it is final"):
            r.transition(RmaStatus.AUTHORISED, T0)


def test_redelivered_warehouse_events_change_nothing() -> None:
    r = rma(reasons=(R.SIZE_OR_FIT, R.CHANGED_MIND))
    r.authorise(T0)
    r.receive(T0, "rcv-1", {1: 1})
    with pytest.raises(Replay):
        r.receive(T0, "rcv-1", {1: 1})
    assert r.line(1).received == 1 and r.status is RmaStatus.AUTHORISED  # a partial receipt waits for the rest
    r.receive(T0, "rcv-2", {1: 1, 2: 2})
    assert r.status is RmaStatus.RECEIVED
    r.grade(T0, "g-1", 1, Grade.LIKE_NEW)
    with pytest.raises(Replay):
        r.grade(T0, "g-1", 1, Grade.DAMAGED)
    assert r.line(1).grade is Grade.LIKE_NEW and r.status is RmaStatus.RECEIVED
    r.grade(T0, "g-2", 2, Grade.USED)
    r.dispose(T0, "d-1", 1, Disposition.OPEN_BOX)
    with pytest.raises(Replay):
        r.dispose(T0, "d-1", 1, Disposition.SCRAP)
    assert r.line(1).disposition is Disposition.OPEN_BOX


def test_receipts_that_do_not_match_are_refused_whole() -> None:
    r = rma(reasons=(R.SIZE_OR_FIT, R.CHANGED_MIND))
    r.authorise(T0)
    with pytest.raises(ValidationFailed) as bad:
        r.receive(T0, "rcv-x", {1: 1, 2: 3})
    assert [p.field for p in bad.value.problems] == ["quantities.2"]
    assert r.line(1).received == 0 and "rcv-x" not in r.references  # nothing half-applied
    with pytest.raises(ValidationFailed):
        r.receive(T0, "rcv-y", {9: 1})
    with pytest.raises(ValidationFailed):
        r.receive(T0, "", {1: 1})
    fresh = rma()
    with pytest.raises(IllegalTransition):  # not authorised yet
        fresh.receive(T0, "rcv-z", {1: 1})
    with pytest.raises(IllegalTransition):
        fresh.grade(T0, "g", 1, Grade.NEW)


@given(st.lists(st.sampled_from(list(RmaStatus)), max_size=30))
def test_any_sequence_of_moves_keeps_a_consistent_history(targets: list[RmaStatus]) -> None:
    r = rma()
    for target in targets:
        before = r.status
        try:
            r.transition(target, T0)
        except IllegalTransition:
            assert target not in RMA_TRANSITIONS[before] and r.status is before
            continue
        assert target in RMA_TRANSITIONS[before]
    assert all(a.to_status is b.from_status for a, b in zip(r.history, r.history[1:], strict=False))
    assert (r.history[-1].to_status if r.history else RmaStatus.REQUESTED) is r.status


# -- eligibility

LINES = (OrderLineFacts(1, "TEE-1", "apparel", shipped=3, already_returned=1, unit_price=Decimal("20")),
         OrderLineFacts(2, "GIFT-1", "gift_cards", shipped=1, already_returned=0, unit_price=Decimal("50")),
         OrderLineFacts(3, "TV-1", "electronics", shipped=1, already_returned=0, unit_price=Decimal("900")))
POLICY = ReturnPolicy(default_window_days=30, window_by_channel={"marketplace": 14},
                      window_by_category={"electronics": 15}, final_sale_categories=frozenset({"gift_cards"}))


def check(*requested: RequestedLine, days: int = 5, channel: str = "web", b2b: bool = False,
          delivered: bool = True) -> tuple[list[int], dict[str, str]]:
    out = check_eligibility(POLICY, channel=channel, b2b=b2b, delivered_at=T0 if delivered else None,
                            now=T0 + timedelta(days=days), order_lines=LINES, requested=requested)
    return [x.line_no for x in out.eligible], {p.field: p.code for p in out.refusals}


def test_eligibility_follows_the_policy_and_names_each_refused_line() -> None:
    ok, refused = check(RequestedLine(1, 2, R.SIZE_OR_FIT), RequestedLine(2, 1, R.CHANGED_MIND),
                        RequestedLine(3, 1, R.CHANGED_MIND), days=20)
    assert ok == [1]
    assert refused == {"lines.2": "return.final_sale", "lines.3": "return.window_closed"}
    assert check(RequestedLine(1, 3, R.SIZE_OR_FIT))[1] == {"lines.1": "return.quantity_exceeds"}  # 1 already back
    assert check(RequestedLine(1, 1, R.SIZE_OR_FIT), channel="marketplace", days=20)[1] == {
        "lines.1": "return.window_closed"}
    assert check(RequestedLine(1, 1, R.SIZE_OR_FIT), days=29)[0] == [1]


def test_merchant_faults_come_back_whatever_the_window_or_final_sale() -> None:
    ok, refused = check(RequestedLine(2, 1, R.DEFECTIVE), RequestedLine(3, 1, R.DAMAGED_IN_TRANSIT), days=200)
    assert ok == [2, 3] and refused == {}
    assert check(RequestedLine(1, 1, R.WRONG_ITEM), delivered=False)[0] == [1]
    assert check(RequestedLine(1, 1, R.CHANGED_MIND), delivered=False)[1] == {"lines.1": "return.not_delivered"}


def test_b2b_terms_take_back_faults_only_within_their_window() -> None:
    assert check(RequestedLine(1, 1, R.CHANGED_MIND), b2b=True)[1] == {"lines.1": "return.b2b_terms"}
    assert check(RequestedLine(1, 1, R.DEFECTIVE), b2b=True)[0] == [1]
    assert POLICY.fee_pct(b2b=True) == Decimal("15") and POLICY.fee_pct(b2b=False) == Decimal("0")


@pytest.mark.parametrize(("requested", "code"), [
    (RequestedLine(9, 1, R.SIZE_OR_FIT), "return.unknown_line"),
    (RequestedLine(1, 0, R.SIZE_OR_FIT), "return.quantity_invalid"),
    (RequestedLine(1, -2, R.SIZE_OR_FIT), "return.quantity_invalid"),
])
def test_malformed_requests_are_refused_with_the_line(requested: RequestedLine, code: str) -> None:
    assert list(check(requested)[1].values()) == [code]


def test_the_same_line_twice_is_refused_once() -> None:
    ok, refused = check(RequestedLine(1, 1, R.SIZE_OR_FIT), RequestedLine(1, 1, R.SIZE_OR_FIT))
    assert ok == [1] and refused == {"lines.1": "return.duplicate_line"}


# -- disposition

@pytest.mark.parametrize(("grade", "value", "rtv", "expected"), [
    (Grade.NEW, "5", False, Disposition.RESTOCK_NEW),
    (Grade.LIKE_NEW, "500", True, Disposition.OPEN_BOX),
    (Grade.DEFECTIVE, "30", True, Disposition.RETURN_TO_VENDOR),
    (Grade.DEFECTIVE, "10", True, Disposition.LIQUIDATE),
    (Grade.DEFECTIVE, "300", False, Disposition.REFURBISH),
    (Grade.USED, "80", False, Disposition.REFURBISH),
    (Grade.USED, "40", False, Disposition.LIQUIDATE),
    (Grade.DAMAGED, "3", False, Disposition.SCRAP),
    (Grade.UNSALEABLE, "900", True, Disposition.SCRAP),
])
def test_grade_and_value_decide_the_disposition(grade: Grade, value: str, rtv: bool, expected: Disposition) -> None:
    assert disposition_for(grade, Decimal(value), vendor_returnable=rtv, rules=DispositionRules()) is expected
    assert expected.sellable is (expected in (Disposition.RESTOCK_NEW, Disposition.OPEN_BOX))


def test_a_receipt_closed_short_grades_and_refunds_only_what_came() -> None:
    r = rma(reasons=(R.SIZE_OR_FIT, R.DEFECTIVE))
    r.authorise(T0)
    with pytest.raises(ValidationFailed) as nothing:
        r.receive_short(T0, "parcel empty")
    assert nothing.value.problems[0].code == "return.nothing_received"
    r.receive(T0, "rcv-1", {1: 1})
    assert r.status is RmaStatus.AUTHORISED  # still waiting for the rest
    r.receive_short(T0, "the customer kept the rest")
    assert r.status is RmaStatus.RECEIVED
    assert r.grade(T0, "grd-1", 1, Grade.LIKE_NEW, disposition=Disposition.OPEN_BOX).to_status is RmaStatus.DISPOSED
    with pytest.raises(IllegalTransition):
        r.grade(T0, "grd-2", 2, Grade.NEW)  # nothing of line 2 arrived, and the return has moved on
    assert r.refund_due(Decimal("0")) == Decimal("40.00")


def test_a_line_is_graded_once_whatever_the_reference() -> None:
    r = rma(reasons=(R.SIZE_OR_FIT, R.DEFECTIVE))
    r.authorise(T0)
    r.receive(T0, "rcv", {1: 2, 2: 2})
    assert r.grade(T0, "grd-a", 1, Grade.NEW) is None
    with pytest.raises(Replay):
        r.grade(T0, "grd-a", 1, Grade.NEW)
    with pytest.raises(ValidationFailed) as again:
        r.grade(T0, "grd-b", 1, Grade.USED)
    assert again.value.problems[0].code == "return.already_graded" and r.lines[0].grade is Grade.NEW
    change = r.grade(T0, "grd-c", 2, Grade.DEFECTIVE)
    assert change is not None and change.to_status is RmaStatus.GRADED  # dispositions still to decide
    with pytest.raises(Replay):
        r.receive(T0, "rcv", {1: 2, 2: 2})  # a redelivered receipt after grading is still a replay


@pytest.mark.parametrize(("words", "reason"), [
    ("It arrived broken", R.DAMAGED_IN_TRANSIT), ("too small for me", R.SIZE_OR_FIT),
    ("doesn't work at all", R.DEFECTIVE), ("you sent the wrong item", R.WRONG_ITEM),
    ("I changed my mind", R.CHANGED_MIND), ("found it cheaper elsewhere", R.BETTER_PRICE),
    ("ordered it by mistake", R.ORDERED_BY_MISTAKE), ("pieces missing", R.MISSING_PARTS),
    ("defective", R.DEFECTIVE), ("size_or_fit", R.SIZE_OR_FIT), ("", R.OTHER), ("blue is nicer", R.OTHER),
])
def test_the_reason_is_read_from_the_customers_words(words: str, reason: ReturnReason) -> None:
    from engine.domain.returns import reason_from_text

    assert reason_from_text(words) is reason


def test_a_variant_is_another_size_or_colour_of_the_same_product_at_the_same_price() -> None:
    from engine.domain.catalog import Sku
    from engine.domain.returns import REASON_WORDS, ReturnReason

    def tee(code: str, size: str, price: str = "15", product: str = "Crew Tee", category: str = "apparel") -> Sku:
        return Sku(code, f"Tee {size}", category, Decimal(price), Decimal("0.2"),
                   attributes={"brand": "Northwind", "product": product, "color": "Grey", "size": size})

    small = tee("TEE-S", "S")
    assert small.product_key == ("Northwind", "Crew Tee") and small.variant_label == "Grey, S"
    assert tee("TEE-M", "M").is_variant_of(small)
    assert not small.is_variant_of(small)  # not a variant of itself
    assert not tee("TEE-M", "M", price="16").is_variant_of(small)
    assert not tee("HOOD-S", "S", product="Hoodie").is_variant_of(small)
    assert not tee("TEE-X", "M", category="outlet").is_variant_of(small)
    plain = Sku("MUG-1", "Mug", "home", Decimal("15"), Decimal("0.4"))
    other = Sku("MUG-2", "Mug", "home", Decimal("15"), Decimal("0.4"))
    assert plain.product_key is None and plain.variant_label == "Mug" and not other.is_variant_of(plain)
    assert set(REASON_WORDS) == set(ReturnReason)  # every reason can be picked on a form


@pytest.mark.parametrize(("text", "wish"), [
    ("I want to return order 5, it's too small", None),
    ("return it, I want my money back", None),
    ("I bought the large and it's too big, I want to return it", None),
    ("I want to return the navy one", None),
    ("the medium was fine but I changed my mind", None),
    ("it's too small, can I swap it for a medium?", ("M", 0, None)),
    ("exchange it for a size up please", (None, 1, None)),
    ("it runs small, I need a bigger one", (None, 1, None)),
    ("it's a bit large, exchange for a smaller size", (None, -1, None)),
    ("Can I get it in Navy instead?", (None, 0, "Navy")),
    ("exchange for an extra large", ("XL", 0, None)),
    ("swap for XL", ("XL", 0, None)),
    ("exchange it for small or medium", (None, 0, None)),  # two sizes: ask which
    ("send me a replacement, it arrived broken", (None, 0, None)),
])
def test_an_exchange_is_read_from_the_customers_words(text: str, wish: tuple[str | None, int, str | None] | None
                                                      ) -> None:
    from engine.domain.returns import ExchangeWish, exchange_wish

    assert exchange_wish(text, ["Navy", "Heather Grey"]) == (None if wish is None else ExchangeWish(*wish))


def test_the_wish_picks_one_variant_or_none() -> None:
    from engine.domain.returns import ExchangeWish

    grey_s = {"color": "Grey", "size": "S"}
    variants = [("G-M", {"color": "Grey", "size": "M"}), ("G-L", {"color": "Grey", "size": "L"}),
                ("N-S", {"color": "Navy", "size": "S"}), ("N-M", {"color": "Navy", "size": "M"})]
    assert ExchangeWish(size="M").pick(grey_s, variants) == "G-M"  # the colour stays
    assert ExchangeWish(step=1).pick(grey_s, variants) == "G-M"
    assert ExchangeWish(step=-1).pick(grey_s, variants) is None  # nothing smaller than S here
    assert ExchangeWish(colour="Navy").pick(grey_s, variants) == "N-S"  # the size stays
    assert ExchangeWish(size="M", colour="navy").pick(grey_s, variants) == "N-M"
    assert ExchangeWish(size="XXL").pick(grey_s, variants) is None
    assert ExchangeWish(step=1).pick({"color": "Grey", "size": "XXL"}, variants) is None
