"""The rule-based baselines and the greedy fallback: valid plans, priced with the same cost function."""

from __future__ import annotations

import pytest

from engine.routing.baselines import fixed_priority, nearest_with_stock
from engine.routing.check import check_solution
from engine.routing.greedy import greedy_solution
from engine.routing.instance import RoutingStatus

from .builders import flat_service, instance, line, node, policy, stock


def test_fixed_priority_takes_the_first_listed_node_that_holds_the_whole_line() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=3)],
        nodes=[node("N1"), node("N2"), node("N3")],
        stock=[stock("N1", "A", 2), stock("N2", "A", 5), stock("N3", "A", 5)],
        services=[flat_service("N1", 1), flat_service("N2", 9), flat_service("N3", 4)],
    )
    pol = policy()
    solution = fixed_priority(inst, pol, ["N1", "N2", "N3"])
    assert check_solution(inst, solution, pol) == []
    assert [(a.node, a.quantity) for a in solution.assignments] == [("N2", 3)]
    assert solution.cost.total == pytest.approx(9.0)


def test_fixed_priority_splits_down_the_list_only_when_no_node_holds_the_line() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=6)],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 4), stock("N2", "A", 5)],
        services=[flat_service("N1", 1), flat_service("N2", 2)],
    )
    pol = policy()
    solution = fixed_priority(inst, pol, ["N1", "N2"])
    assert check_solution(inst, solution, pol) == []
    assert {(a.node, a.quantity) for a in solution.assignments} == {("N1", 4), ("N2", 2)}


def test_nearest_with_stock_starts_at_the_lowest_zone_and_splits_greedily() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=4)],
        nodes=[node("NEAR"), node("FAR")],
        stock=[stock("NEAR", "A", 1), stock("FAR", "A", 9)],
        services=[flat_service("NEAR", 3, zone=2), flat_service("FAR", 8, zone=7)],
    )
    pol = policy()
    solution = nearest_with_stock(inst, pol)
    assert check_solution(inst, solution, pol) == []
    assert {(a.node, a.quantity) for a in solution.assignments} == {("NEAR", 1), ("FAR", 3)}
    assert solution.cost.total == pytest.approx(11.0)


def test_a_baseline_that_breaks_the_shipment_limit_reports_infeasible() -> None:
    inst = instance(
        max_shipments=1,
        lines=[line(1, "A"), line(2, "B")],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 1), stock("N2", "B", 1), stock("N2", "A", 1)],
        services=[flat_service("N1", 1, zone=1), flat_service("N2", 2, zone=5)],
    )
    solution = nearest_with_stock(inst, policy())
    assert solution.status is RoutingStatus.INFEASIBLE
    assert [r.constraint for r in solution.reasons] == ["max_shipments"]


def test_greedy_merges_lines_into_fewer_shipments_when_splitting_costs_more() -> None:
    inst = instance(
        lines=[line(1, "A"), line(2, "B")],
        nodes=[node("N1"), node("N2")],
        stock=[stock("N1", "A", 1), stock("N1", "B", 1), stock("N2", "B", 1)],
        services=[flat_service("N1", 5), flat_service("N2", 4)],
    )
    pol = policy(split_penalty=3)
    solution = greedy_solution(inst, pol)
    assert check_solution(inst, solution, pol) == []
    assert solution.status is RoutingStatus.FALLBACK
    assert {a.node for a in solution.assignments} == {"N1"}


def test_greedy_finds_the_one_node_for_a_ship_complete_order() -> None:
    inst = instance(
        ship_complete=True,
        lines=[line(1, "A"), line(2, "B")],
        nodes=[node("N1"), node("N2"), node("N3")],
        stock=[stock("N1", "A", 1), stock("N2", "B", 1), stock("N3", "A", 1), stock("N3", "B", 1)],
        services=[flat_service("N1", 1), flat_service("N2", 1), flat_service("N3", 9)],
    )
    pol = policy()
    solution = greedy_solution(inst, pol)
    assert check_solution(inst, solution, pol) == []
    assert {a.node for a in solution.assignments} == {"N3"}
