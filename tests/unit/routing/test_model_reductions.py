"""Model reductions are exact or checked: rate segments, reachable weights and candidate-node pruning."""

from __future__ import annotations

import itertools
import random

import pytest

from engine.routing.check import check_solution
from engine.routing.costing import (
    rate_segments,
    reachable_weights,
    service_cost_scaled,
    step_breakpoints,
)
from engine.routing.greedy import greedy_plan
from engine.routing.instance import RoutingConfig, RoutingStatus
from engine.routing.solver import SourcingSolver, candidate_nodes
from evals.routing.latency import POLICY
from evals.routing.random_instances import random_instance

from .test_rate_cards import LONG_CARD, SHORT_CARD

EPS = 1e-6


def test_rate_segments_price_every_weight_as_the_cheapest_service_does() -> None:
    services = [SHORT_CARD, LONG_CARD]
    segments = rate_segments(services, 10_000, POLICY)
    assert segments[0].lower == 0 and segments[-1].upper == max(step_breakpoints(services, 10_000))
    for before, after in itertools.pairwise(segments):
        assert after.lower == before.upper + 1
        assert after.cost != before.cost  # equal neighbours are merged
    for segment in segments:
        for weight in range(max(1, segment.lower), segment.upper + 1, 97):
            assert segment.cost == min(service_cost_scaled(s, weight, POLICY) for s in services)


def test_rate_segments_stop_at_the_heaviest_possible_shipment() -> None:
    full = rate_segments([SHORT_CARD, LONG_CARD], 10_000, POLICY)
    light = rate_segments([SHORT_CARD, LONG_CARD], 1_500, POLICY)
    assert light == [s for s in full if s.lower <= 1_500]


@pytest.mark.parametrize("seed", range(20))
def test_reachable_weights_match_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    items = [(rng.randint(0, 700), rng.randint(0, 4)) for _ in range(rng.randint(1, 4))]
    cap = rng.randint(100, 3_000)
    sums = {0}
    for grams, upper in items:
        sums = {s + grams * q for s in sums for q in range(upper + 1)}
    expected = {s for s in sums if s <= cap}
    reach = reachable_weights(items, cap)
    assert {w for w in range(cap + 1) if reach >> w & 1} == expected


@pytest.mark.parametrize("seed", range(25))
def test_the_pruned_model_reaches_the_full_models_optimum(seed: int) -> None:
    inst = random_instance(random.Random(3000 + seed), lines=10, nodes=20, order_id=f"P{seed}")
    full = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=30, seed=seed, candidate_nodes=None)).solve()
    pruned = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=30, seed=seed)).solve()
    assert check_solution(inst, pruned, POLICY) == []
    assert pruned.is_feasible == full.is_feasible  # never turns a feasible order infeasible
    if full.is_feasible:
        assert full.status is RoutingStatus.OPTIMAL and pruned.status is RoutingStatus.OPTIMAL
        assert pruned.objective == pytest.approx(full.objective, abs=EPS)


@pytest.mark.parametrize("seed", range(40))
def test_candidate_nodes_always_hold_the_greedy_plan(seed: int) -> None:
    inst = random_instance(random.Random(4000 + seed), lines=10, nodes=20)
    plan = greedy_plan(inst, POLICY)
    if plan is None:
        return
    kept = candidate_nodes(inst, POLICY, plan, extra=0)
    assert {node for _, node in plan} <= kept
    solution = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=5, candidate_nodes=0)).solve()
    assert solution.is_feasible
    assert check_solution(inst, solution, POLICY) == []


def test_a_pruned_model_reports_no_bound_and_the_full_model_does() -> None:
    for seed in range(30):
        inst = random_instance(random.Random(5000 + seed), lines=10, nodes=20)
        plan = greedy_plan(inst, POLICY)
        if plan is None or len(candidate_nodes(inst, POLICY, plan, extra=1)) >= len(inst.nodes):
            continue
        pruned = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=5, candidate_nodes=1)).solve()
        full = SourcingSolver(inst, POLICY, RoutingConfig(time_limit_s=30, candidate_nodes=None)).solve()
        assert pruned.best_bound is None
        assert full.best_bound == pytest.approx(full.objective)
        assert full.objective <= pruned.objective + EPS
        return
    pytest.fail("no random order had nodes to prune")
