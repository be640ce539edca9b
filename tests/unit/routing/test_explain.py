"""Explanations name the nodes considered, the chosen costs, the best alternative and binding constraints."""

from __future__ import annotations

import json

from engine.routing.check import check_solution
from engine.routing.explain import explain
from engine.routing.instance import RoutingConfig, RoutingInstance
from engine.routing.solver import SourcingSolver

from .builders import flat_service, instance, line, node, policy, stock


def sla_bound_order() -> RoutingInstance:
    return instance(
        deadline_days=2,
        lines=[line(1, "A"), line(2, "FUEL", hazmat=True)],
        nodes=[node("FAR"), node("NEAR"), node("HZ", hazmat_capable=True), node("OFF", ship_from_enabled=False)],
        stock=[
            stock("FAR", "A", 1),
            stock("NEAR", "A", 1),
            stock("NEAR", "FUEL", 1),
            stock("HZ", "FUEL", 1),
            stock("OFF", "A", 1),
        ],
        services=[
            flat_service("FAR", 3, transit=5),
            flat_service("NEAR", 6),
            flat_service("HZ", 7),
            flat_service("OFF", 1),
        ],
    )


def test_the_explanation_names_why_each_node_was_or_was_not_eligible() -> None:
    inst, pol = sla_bound_order(), policy(version=7)
    solution = SourcingSolver(inst, pol, RoutingConfig()).solve()
    assert check_solution(inst, solution, pol) == []
    nodes = {n.node: n for n in explain(inst, pol, solution).nodes}
    assert nodes["NEAR"].eligible_lines == [1]
    assert any(reason.startswith("hazmat") for reason in nodes["NEAR"].ineligible[2])
    assert any(reason.startswith("sla") for reason in nodes["FAR"].ineligible[1])
    assert any(reason.startswith("ship_from") for reason in nodes["OFF"].ineligible[1])


def test_the_explanation_reports_the_binding_sla_and_the_best_alternative() -> None:
    inst, pol = sla_bound_order(), policy(version=7)
    solution = SourcingSolver(inst, pol, RoutingConfig()).solve()
    explanation = explain(inst, pol, solution)
    binding = {(b.line_no, b.node): b for b in explanation.binding}
    assert binding[1, "FAR"].constraints == ["sla"]
    assert binding[1, "FAR"].saving == 3.0
    assert "ship_from" in binding[1, "OFF"].constraints
    alternatives = {a.line_no: a for a in explanation.alternatives}
    assert alternatives[1].chosen_nodes == ["NEAR"]
    assert alternatives[2].node is None


def test_the_explanation_reads_as_text_and_as_json() -> None:
    inst, pol = sla_bound_order(), policy(version=7)
    solution = SourcingSolver(inst, pol, RoutingConfig()).solve()
    explanation = explain(inst, pol, solution)
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["policy_version"] == 7
    assert data["cost"]["total"] == solution.cost.total
    text = explanation.to_text()
    assert "policy v7" in text
    assert "binding for line 1: FAR would save 3.00 but sla rule(s) it out" in text


def test_an_infeasible_order_explains_its_reasons() -> None:
    inst = instance(
        lines=[line(1, "A", quantity=3)],
        nodes=[node("N1")],
        stock=[stock("N1", "A", 1)],
        services=[flat_service("N1", 5)],
    )
    pol = policy()
    explanation = explain(inst, pol, SourcingSolver(inst, pol).solve())
    assert explanation.status == "infeasible"
    assert explanation.reasons and explanation.reasons[0].startswith("line 1: stock")


def test_each_node_that_could_ship_the_whole_order_shows_what_that_would_cost() -> None:
    inst = instance(deadline_days=5, lines=[line(1, "A"), line(2, "B")],
                    nodes=[node("ONE"), node("TWO"), node("HALF")],
                    stock=[stock("ONE", "A", 1), stock("ONE", "B", 1), stock("TWO", "A", 1), stock("TWO", "B", 1),
                           stock("HALF", "A", 1)],
                    services=[flat_service("ONE", 4), flat_service("TWO", 9), flat_service("HALF", 1)])
    pol = policy(version=1)
    solution = SourcingSolver(inst, pol, RoutingConfig()).solve()
    nodes = {n.node: n for n in explain(inst, pol, solution).nodes}
    assert {s.node for s in solution.shipments} == {"ONE"}  # 4 alone beats 1 + 4 split
    assert nodes["ONE"].whole_order_cost == solution.cost.total
    assert nodes["TWO"].whole_order_cost is not None and nodes["TWO"].whole_order_cost > nodes["ONE"].whole_order_cost
    assert nodes["HALF"].whole_order_cost is None  # it holds no B
    assert "alone it would cost" in explain(inst, pol, solution).to_text()
