"""On seeded random orders CP-SAT is valid and never costs more than the greedy plan or the baselines."""

from __future__ import annotations

import json
import random

import pytest

from engine.routing.baselines import fixed_priority, nearest_with_stock
from engine.routing.check import check_solution
from engine.routing.costing import choose_services, cost_of, quick_cost
from engine.routing.explain import explain
from engine.routing.greedy import greedy_solution
from engine.routing.instance import PolicyWeights, RoutingConfig, RoutingPolicy, RoutingStatus
from engine.routing.solver import SourcingSolver
from evals.routing.random_instances import random_instance

POLICY = RoutingPolicy(
    version=3,
    name="balanced",
    weights=PolicyWeights(split_penalty=3, sla_risk=20, markdown_credit=1, capacity_balance=5),
)
SEEDS = range(50)
# Tolerance for costs reported in currency with four decimals.
EPS = 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_cp_sat_is_valid_and_never_costs_more_than_greedy_or_the_baselines(seed: int) -> None:
    inst = random_instance(random.Random(seed), lines=5, nodes=8, order_id=f"S{seed}")
    # The full model (no candidate pruning): its optimum and bound hold over every plan.
    config = RoutingConfig(time_limit_s=30, workers=1, seed=seed, candidate_nodes=None)
    solution = SourcingSolver(inst, POLICY, config).solve()
    assert check_solution(inst, solution, POLICY) == []
    others = [
        greedy_solution(inst, POLICY),
        fixed_priority(inst, POLICY, [n.code for n in inst.nodes]),
        nearest_with_stock(inst, POLICY),
    ]
    for other in others:
        assert check_solution(inst, other, POLICY) == []
        if other.is_feasible:
            assert solution.status is RoutingStatus.OPTIMAL, other.solver
            assert solution.cost.total <= other.cost.total + EPS, other.solver
    if solution.is_feasible:
        assert solution.best_bound == pytest.approx(solution.objective)


def test_quick_cost_equals_the_full_cost_function_on_every_baseline_plan() -> None:
    compared = 0
    for seed in range(30):
        inst = random_instance(random.Random(seed), lines=6, nodes=10)
        plan = nearest_with_stock(inst, POLICY)
        if plan.is_feasible:
            full = cost_of(inst, POLICY, plan.assignments, choose_services(inst, POLICY, plan.assignments))
            assert quick_cost(inst, POLICY, {(a.line_no, a.node): a.quantity for a in plan.assignments}) == (
                full.total_scaled
            )
            compared += 1
    assert compared >= 15


@pytest.mark.parametrize("seed", range(10))
def test_a_tight_time_limit_still_returns_a_valid_plan_no_worse_than_greedy(seed: int) -> None:
    inst = random_instance(random.Random(1000 + seed), lines=10, nodes=20)
    solution = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=0.02, workers=1)).solve()
    assert check_solution(inst, solution, POLICY) == []
    greedy = greedy_solution(inst, POLICY)
    if greedy.is_feasible:
        assert solution.is_feasible
        assert solution.cost.total <= greedy.cost.total + EPS


@pytest.mark.parametrize("seed", range(5))
def test_every_random_decision_can_be_explained_as_json(seed: int) -> None:
    inst = random_instance(random.Random(2000 + seed), lines=6, nodes=10)
    solution = SourcingSolver(inst, POLICY, RoutingConfig(workers=1)).solve()
    explanation = explain(inst, POLICY, solution)
    assert json.loads(json.dumps(explanation.to_dict()))["policy_version"] == POLICY.version
    assert explanation.to_text().startswith(f"Order {inst.order_id}")
    for alternative in explanation.alternatives:
        assert (
            alternative.cost_delta is None or alternative.cost_delta >= -EPS or solution.status != RoutingStatus.OPTIMAL
        )
