"""The CP-SAT sourcing model on hand-made orders whose best plan is known."""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from engine.routing.check import check_solution
from engine.routing.instance import (
    RateBracket,
    RoutingConfig,
    RoutingInstance,
    RoutingPolicy,
    RoutingSolution,
    RoutingStatus,
    ServiceOption,
)
from engine.routing.solver import SourcingSolver

from .builders import flat_service, instance, line, node, policy, stock


def solve(inst: RoutingInstance, pol: RoutingPolicy | None = None, **config: object) -> RoutingSolution:
    pol = pol or policy()
    solution = SourcingSolver(inst, pol, RoutingConfig.model_validate(config)).solve()
    assert check_solution(inst, solution, pol) == []
    return solution


def nodes_used(solution: RoutingSolution) -> set[str]:
    return {a.node for a in solution.assignments}


def two_lines_three_nodes(**fields: object) -> RoutingInstance:
    return instance(
        lines=[line(1, "A"), line(2, "B")],
        nodes=[node("N1"), node("N2"), node("N3")],
        stock=[stock("N1", "A", 5), stock("N2", "B", 5), stock("N3", "A", 5), stock("N3", "B", 5)],
        services=[flat_service("N1", 5), flat_service("N2", 5), flat_service("N3", 12)],
        **fields,
    )


def test_a_single_line_ships_from_the_cheapest_node() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=2)],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 5), stock("N2", "A", 5)],
        services=[flat_service("N1", 9), flat_service("N2", 4)],
    )
    solution = solve(inst)
    assert solution.status is RoutingStatus.OPTIMAL
    assert nodes_used(solution) == {"N2"}
    assert solution.objective == pytest.approx(4.0)
    assert solution.best_bound == pytest.approx(4.0)


def test_without_a_split_penalty_two_cheap_shipments_beat_one_dear_one() -> None:
    solution = solve(two_lines_three_nodes(), policy(split_penalty=0))
    assert nodes_used(solution) == {"N1", "N2"}
    assert solution.cost.total == pytest.approx(10.0)


def test_a_split_penalty_flips_the_plan_to_one_shipment() -> None:
    solution = solve(two_lines_three_nodes(), policy(split_penalty=5))
    assert nodes_used(solution) == {"N3"}
    assert solution.cost.total == pytest.approx(12.0)
    assert solution.cost.split == 0


def test_ship_complete_keeps_the_order_in_one_shipment() -> None:
    solution = solve(two_lines_three_nodes(ship_complete=True))
    assert nodes_used(solution) == {"N3"}
    assert len(solution.shipments) == 1


def test_the_sla_excludes_the_cheap_far_node() -> None:
    def order(deadline: int) -> RoutingInstance:
        return instance(
            deadline_days=deadline,
            lines=[line(1, "A")],
            nodes=[node("FAR"), node("NEAR", days_to_ship=1)],
            stock=[stock("FAR", "A", 1), stock("NEAR", "A", 1)],
            services=[flat_service("FAR", 4, transit=5), flat_service("NEAR", 9, transit=1)],
        )

    assert nodes_used(solve(order(deadline=2))) == {"NEAR"}
    assert nodes_used(solve(order(deadline=6))) == {"FAR"}


def test_a_hazmat_line_goes_to_the_hazmat_capable_node() -> None:
    inst = instance(
        lines=[line(1, "FUEL", hazmat=True), line(2, "A")],
        nodes=[node("N1"), node("HZ", hazmat_capable=True)],
        stock=[stock("N1", "FUEL", 3), stock("N1", "A", 3), stock("HZ", "FUEL", 3)],
        services=[flat_service("N1", 2), flat_service("HZ", 8)],
    )
    solution = solve(inst)
    assert {(a.line_no, a.node) for a in solution.assignments} == {(1, "HZ"), (2, "N1")}


def test_a_b2b_only_node_serves_only_b2b_orders() -> None:
    def order(b2b: bool) -> RoutingInstance:
        return instance(
            b2b=b2b,
            lines=[line(1, "A")],
            nodes=[node("B2B", b2b_only=True), node("DC")],
            stock=[stock("B2B", "A", 1), stock("DC", "A", 1)],
            services=[flat_service("B2B", 2), flat_service("DC", 7)],
        )

    assert nodes_used(solve(order(b2b=False))) == {"DC"}
    assert nodes_used(solve(order(b2b=True))) == {"B2B"}


def test_pick_capacity_forces_a_second_node() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=5)],
        nodes=[node("N1", capacity=3), node("N2", capacity=3)],
        stock=[stock("N1", "A", 10), stock("N2", "A", 10)],
        services=[flat_service("N1", 3), flat_service("N2", 6)],
    )
    solution = solve(inst)
    assert {(a.node, a.quantity) for a in solution.assignments} == {("N1", 3), ("N2", 2)}


def test_lines_of_the_same_sku_share_the_stock_of_a_node() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=2), line(2, "A", quantity=2)],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 3), stock("N2", "A", 4)],
        services=[flat_service("N1", 1), flat_service("N2", 2)],
    )
    solution = solve(inst)
    assert sum(a.quantity for a in solution.assignments if a.node == "N1") <= 3


def test_the_rate_bracket_follows_the_shipment_weight() -> None:
    def order(weight: float) -> RoutingInstance:
        bracketed = ServiceOption(
            node="BR",
            carrier="UPS",
            service_level="ground",
            zone=3,
            transit_days=1,
            on_time_probability=0.95,
            brackets=[RateBracket(max_weight_kg=1, price=5), RateBracket(max_weight_kg=5, price=8)],
            price_per_kg_beyond=1.0,
        )
        return instance(
            lines=[line(1, "A", weight=weight)],
            nodes=[node("BR"), node("FLAT")],
            stock=[stock("BR", "A", 1), stock("FLAT", "A", 1)],
            services=[bracketed, flat_service("FLAT", 10.5)],
        )

    light = solve(order(weight=4.9))
    assert nodes_used(light) == {"BR"}
    assert light.shipments[0].price == pytest.approx(8.0)
    # 7.2 kg: 8.00 for the last bracket plus three started kilograms at 1.00.
    heavy = solve(order(weight=7.2))
    assert nodes_used(heavy) == {"FLAT"}
    assert heavy.cost.total == pytest.approx(10.5)


def test_the_sla_risk_weight_prefers_the_more_reliable_service() -> None:
    def chosen(sla_risk: float) -> str:
        inst = instance(
            lines=[line(1, "A")],
            nodes=[node("N1")],
            stock=[stock("N1", "A", 1)],
            services=[
                flat_service("N1", 5, on_time=0.5),
                flat_service("N1", 6, on_time=0.99, carrier="FDX", level="expedited"),
            ],
        )
        shipment = solve(inst, policy(sla_risk=sla_risk)).shipments[0]
        return f"{shipment.carrier}/{shipment.service_level}"

    assert chosen(sla_risk=0) == "UPS/ground"
    assert chosen(sla_risk=10) == "FDX/expedited"


def test_a_markdown_credit_pulls_stock_from_the_node_at_risk() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=2)],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 2), stock("N2", "A", 2)],
        services=[flat_service("N1", 5), flat_service("N2", 5.5)],
        markdown=[{"node": "N2", "sku": "A", "credit_per_unit": 1.0}],
    )
    solution = solve(inst, policy(markdown_credit=1))
    assert nodes_used(solution) == {"N2"}
    assert solution.cost.markdown == pytest.approx(-2.0)
    assert solution.cost.total == pytest.approx(3.5)


def test_capacity_balance_spares_the_node_that_is_nearly_full() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=2)],
        nodes=[node("TIGHT", capacity=4), node("ROOMY", capacity=1000)],
        stock=[stock("TIGHT", "A", 2), stock("ROOMY", "A", 2)],
        services=[flat_service("TIGHT", 5), flat_service("ROOMY", 5.5)],
    )
    assert nodes_used(solve(inst, policy(capacity_balance=0))) == {"TIGHT"}
    assert nodes_used(solve(inst, policy(capacity_balance=10))) == {"ROOMY"}


def test_a_short_line_is_infeasible_with_the_line_and_the_best_node_named() -> None:
    inst = instance(
        lines=[line(1, "A"), line(2, "X", quantity=5)],
        nodes=[node("DC-A"), node("DC-B", ship_from_enabled=False)],
        stock=[stock("DC-A", "A", 1), stock("DC-A", "X", 3), stock("DC-B", "X", 9)],
        services=[flat_service("DC-A", 5), flat_service("DC-B", 5)],
    )
    solution = solve(inst)
    assert solution.status is RoutingStatus.INFEASIBLE
    assert solution.assignments == []
    [reason] = solution.reasons
    assert (reason.line_no, reason.constraint) == (2, "stock")
    assert "DC-A 3" in reason.detail


def test_an_unreachable_deadline_is_infeasible_for_sla() -> None:
    inst = instance(
        deadline_days=2,
        lines=[line(1, "A")],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 1), stock("N2", "A", 1)],
        services=[flat_service("N1", 5, transit=5), flat_service("N2", 5, transit=3)],
    )
    [reason] = solve(inst).reasons
    assert (reason.line_no, reason.constraint) == (1, "sla")
    assert "no service from any stocked node arrives within 2 days" in reason.detail


def test_too_few_allowed_shipments_is_infeasible_for_max_shipments() -> None:
    inst = instance(
        max_shipments=2,
        lines=[line(1, "A"), line(2, "B"), line(3, "C")],
        nodes=[node("N1"), node("N2"), node("N3")],
        stock=[stock("N1", "A", 1), stock("N2", "B", 1), stock("N3", "C", 1)],
        services=[flat_service("N1", 5), flat_service("N2", 5), flat_service("N3", 5)],
    )
    solution = solve(inst)
    assert solution.status is RoutingStatus.INFEASIBLE
    assert [r.constraint for r in solution.reasons] == ["max_shipments"]


def test_the_policys_shipment_limit_binds_too() -> None:
    solution = solve(two_lines_three_nodes(), RoutingPolicy(version=2, name="one box", max_shipments=1))
    assert nodes_used(solution) == {"N3"}
    assert solution.policy_version == 2


def test_the_greedy_fallback_answers_when_the_solver_runs_out_of_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cp_model.CpSolver, "solve", lambda self, model, *args: cp_model.UNKNOWN)
    solution = solve(two_lines_three_nodes(), policy(split_penalty=5))
    assert solution.status is RoutingStatus.FALLBACK
    assert solution.solver == "greedy"


def test_without_the_fallback_a_timeout_is_an_infeasible_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cp_model.CpSolver, "solve", lambda self, model, *args: cp_model.UNKNOWN)
    solution = solve(two_lines_three_nodes(), greedy_fallback=False)
    assert solution.status is RoutingStatus.INFEASIBLE
    assert [r.constraint for r in solution.reasons] == ["time_limit"]
