"""`check_solution` catches every broken rule in a tampered plan."""

from __future__ import annotations

from engine.routing.check import check_solution
from engine.routing.instance import Assignment, RoutingInstance, RoutingSolution, RoutingStatus
from engine.routing.solver import SourcingSolver

from .builders import flat_service, instance, line, node, policy, stock

POLICY = policy()


def order() -> RoutingInstance:
    return instance(
        deadline_days=2,
        max_shipments=2,
        lines=[line(1, "A", quantity=2), line(2, "B")],
        nodes=[node("N1", capacity=3), node("N2"), node("SLOW"), node("HZ", hazmat_capable=True)],
        stock=[stock("N1", "A", 2), stock("N1", "B", 1), stock("N2", "A", 1), stock("SLOW", "A", 5)],
        services=[
            flat_service("N1", 5),
            flat_service("N2", 4),
            flat_service("SLOW", 1, transit=4),
            flat_service("HZ", 1),
        ],
    )


def solved() -> RoutingSolution:
    return SourcingSolver(order(), POLICY).solve()


def with_assignments(solution: RoutingSolution, assignments: list[Assignment]) -> RoutingSolution:
    return solution.model_copy(update={"assignments": assignments})


def test_the_solvers_plan_is_valid() -> None:
    assert check_solution(order(), solved(), POLICY) == []


def test_a_short_line_is_caught() -> None:
    broken = with_assignments(
        solved(), [Assignment(line_no=1, node="N1", quantity=1), Assignment(line_no=2, node="N1", quantity=1)]
    )
    assert any("line 1: 1 of 2 units assigned" in p for p in check_solution(order(), broken, POLICY))


def test_taking_more_than_the_stock_is_caught() -> None:
    broken = with_assignments(
        solved(), [Assignment(line_no=1, node="N2", quantity=2), Assignment(line_no=2, node="N1", quantity=1)]
    )
    assert any(p.startswith("stock:") for p in check_solution(order(), broken, POLICY))


def test_a_node_without_an_sla_service_is_caught() -> None:
    broken = with_assignments(
        solved(), [Assignment(line_no=1, node="SLOW", quantity=2), Assignment(line_no=2, node="N1", quantity=1)]
    )
    assert any("breaks sla" in p for p in check_solution(order(), broken, POLICY))


def test_a_reported_cost_that_does_not_add_up_is_caught() -> None:
    solution = solved()
    broken = solution.model_copy(update={"cost": solution.cost.model_copy(update={"total": 0.5})})
    assert any(p.startswith("cost breakdown") for p in check_solution(order(), broken, POLICY))


def test_an_infeasible_status_needs_reasons() -> None:
    empty = RoutingSolution(status=RoutingStatus.INFEASIBLE, policy_version=1)
    assert check_solution(order(), empty) == ["infeasible without reasons"]
