"""Available to promise: which nodes count, and what protection, safety stock and caps take away."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from engine.domain.catalog import Sku
from engine.domain.channels import Channel, ChannelCap, ChannelKind
from engine.domain.inventory import StockBalance
from engine.domain.network import FulfillmentNode, NodeType
from engine.services.views import compute_atp

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WEB = Channel("web", "Web", ChannelKind.WEB)
MARKETPLACE = Channel("marketplace", "Marketplace", ChannelKind.MARKETPLACE)
EDI = Channel("b2b_edi", "EDI", ChannelKind.B2B_EDI, priority=True)


def node(code: str, **kw: object) -> FulfillmentNode:
    values: dict[str, object] = {
        "name": code, "node_type": NodeType.WAREHOUSE, "city": "Reno", "state": "NV", "postal_code": "89502",
        "latitude": 39.5, "longitude": -119.8, "timezone": "America/Los_Angeles", "daily_pick_capacity": 1000,
        "cutoff_local": time(15, 0), **kw}
    return FulfillmentNode(code=code, **values)  # type: ignore[arg-type]


def sku(hazmat: bool = False) -> Sku:
    return Sku("SKU-1", "Lamp", "home", Decimal("20"), Decimal("1"), hazmat=hazmat)


def balance(node_code: str, on_hand: int, reserved: int = 0, safety: int = 0, protected: int = 0,
            priority_reserved: int = 0) -> StockBalance:
    return StockBalance("SKU-1", node_code, on_hand, reserved, safety, protected, priority_reserved)


def test_non_priority_channels_exclude_protected_units_and_priority_channels_may_use_them() -> None:
    atp = compute_atp(sku(), [node("DC-A")], [balance("DC-A", 100, reserved=10, safety=5, protected=20)],
                      [WEB, EDI], {}, NOW)
    row = atp.nodes[0]
    assert (row.available, row.available_priority, row.protected_remaining) == (65, 85, 20)
    assert atp.for_channel("web").available == 65  # type: ignore[union-attr]
    assert atp.for_channel("b2b_edi").available == 85  # type: ignore[union-attr]


def test_protection_shrinks_as_priority_channels_reserve_it() -> None:
    atp = compute_atp(sku(), [node("DC-A")], [balance("DC-A", 100, reserved=15, protected=20, priority_reserved=15)],
                      [WEB], {}, NOW)
    assert atp.nodes[0].protected_remaining == 5
    assert atp.for_channel("web").available == 80  # type: ignore[union-attr]


def test_an_active_channel_cap_limits_that_channel_to_the_caps_remaining_units() -> None:
    cap = ChannelCap("marketplace", "SKU-1", cap=50, used=42, starts_at=NOW - timedelta(hours=1),
                     ends_at=NOW + timedelta(hours=1))
    atp = compute_atp(sku(), [node("DC-A")], [balance("DC-A", 100)], [WEB, MARKETPLACE], {"marketplace": cap}, NOW)
    market = atp.for_channel("marketplace")
    assert market is not None
    assert (market.available, market.uncapped, market.cap, market.cap_remaining) == (8, 100, 50, 8)
    assert atp.for_channel("web").available == 100  # type: ignore[union-attr]


def test_a_cap_outside_its_window_limits_nothing() -> None:
    ended = ChannelCap("marketplace", "SKU-1", cap=5, ends_at=NOW - timedelta(minutes=1))
    atp = compute_atp(sku(), [node("DC-A")], [balance("DC-A", 30)], [MARKETPLACE], {"marketplace": ended}, NOW)
    assert atp.for_channel("marketplace").available == 30  # type: ignore[union-attr]


def test_b2b_only_nodes_count_for_b2b_channels_only() -> None:
    nodes = [node("DC-A"), node("DC-B2B", b2b_only=True)]
    atp = compute_atp(sku(), nodes, [balance("DC-A", 10), balance("DC-B2B", 40)], [WEB, EDI], {}, NOW)
    assert atp.total.available == 50
    assert atp.for_channel("web").available == 10  # type: ignore[union-attr]
    assert atp.for_channel("b2b_edi").available == 50  # type: ignore[union-attr]


def test_only_active_ship_from_nodes_count_and_hazmat_needs_a_capable_node() -> None:
    nodes = [node("DC-A", hazmat_capable=True), node("DC-B"), node("DC-OFF", active=False),
             node("ST-NOSHIP", node_type=NodeType.STORE, ship_from_enabled=False)]
    stock = [balance(n.code, 10) for n in nodes]
    plain = compute_atp(sku(), nodes, stock, [WEB], {}, NOW)
    assert [r.node for r in plain.nodes] == ["DC-A", "DC-B"]
    hazmat = compute_atp(sku(hazmat=True), nodes, stock, [WEB], {}, NOW)
    assert [r.node for r in hazmat.nodes] == ["DC-A"]
    assert hazmat.for_channel("web").available == 10  # type: ignore[union-attr]


def test_availability_is_never_negative_and_nodes_without_a_balance_show_zero() -> None:
    atp = compute_atp(sku(), [node("DC-A"), node("DC-B")], [balance("DC-A", 3, reserved=2, safety=5)], [WEB], {},
                      NOW)
    assert [(r.node, r.on_hand, r.available) for r in atp.nodes] == [("DC-A", 3, 0), ("DC-B", 0, 0)]
    assert atp.for_channel("web").available == 0  # type: ignore[union-attr]


def test_the_view_turns_into_plain_json_data() -> None:
    atp = compute_atp(sku(), [node("DC-A")], [balance("DC-A", 7)], [WEB], {}, NOW)
    data = atp.to_dict()
    assert data["as_of"] == NOW.isoformat()
    assert data["total"]["on_hand"] == 7
    assert data["channels"][0] == {"channel": "web", "name": "Web", "priority": False, "available": 7,
                                   "uncapped": 7, "cap": None, "cap_remaining": None}
