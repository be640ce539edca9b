"""The day-of-orders routing eval (`python -m evals.routing`) on a small day: structure and invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.routing.check import check_solution
from engine.routing.instance import Assignment
from evals.routing.__main__ import METHODS, check_bound, main, run_day
from evals.routing.instances import DayState, business_days_between
from evals.routing.latency import POLICY
from evals.scenarios.network import generate_network
from evals.scenarios.orders import generate_day


@pytest.fixture(scope="module")
def day() -> tuple[dict, dict]:
    return run_day(orders=60, seed=3, nodes=10, time_limit_ms=45.0, window_min=10.0)


def test_report_has_every_method_and_metric(day: tuple[dict, dict]) -> None:
    runs, report = day
    assert set(report["methods"]) == set(METHODS) == set(runs)
    for result in report["methods"].values():
        assert result["orders"] == 60
        assert result["routed"] + result["infeasible"] == 60
        assert result["routed"] > 0
        assert 0 <= result["sla_hit_rate"] <= 1
        assert result["shipments_per_order"] >= 1
        assert {"p50", "p99", "max", "p99_up_to_10_lines"} <= set(result["latency_ms"])
    assert {"cost_saving_vs_nearest", "sla_not_lower", "p99_latency_ms_up_to_10_lines", "met"} <= set(
        report["targets"]
    )
    bound = report["bound"]
    assert bound["common_orders"] == report["methods"]["orderloom"]["common_orders"]
    for result in report["methods"].values():  # a lower bound on every method's cost of the same orders
        assert bound["common_total_cost"] <= result["common_total_cost"] + 1e-6
    json.dumps(report)  # serialisable as written by --json


def test_every_recorded_solution_passed_check_solution(day: tuple[dict, dict]) -> None:
    runs, report = day
    for name, run in runs.items():
        assert report["methods"][name]["check_failures"] == 0
        assert len(run.decisions) == 60
        for decision in run.decisions.values():
            assert decision.problems == []
            assert check_solution(decision.instance, decision.solution, POLICY) == []


def test_stock_and_capacity_never_go_negative_and_match_the_decisions(day: tuple[dict, dict]) -> None:
    runs, _ = day
    network = generate_network(3, nodes=10)
    start = DayState(network)
    for run in runs.values():
        assert run.min_stock >= 0
        assert run.min_capacity >= 0
        taken: dict[tuple[str, str], int] = {}
        for decision in run.decisions.values():
            for a in decision.solution.assignments:
                key = (a.node, decision.instance.line(a.line_no).sku)
                taken[key] = taken.get(key, 0) + a.quantity
        for key, quantity in taken.items():
            assert start.stock[key] - quantity == run.state.stock[key] >= 0


def test_each_instance_sees_the_stock_its_method_left() -> None:
    network = generate_network(3, nodes=10)
    orders = generate_day(network, 3, orders=5)
    state = DayState(network)
    instance = state.instance(orders[0])
    assert len(instance.nodes) == 10
    assert instance.deadline_days == business_days_between(orders[0].placed_at.date(), orders[0].promised_by)
    position = instance.stock[0]
    other = state.copy()
    sku_line = next(ln for ln in instance.lines if ln.sku == position.sku)
    state.commit(instance, [Assignment(line_no=sku_line.line_no, node=position.node, quantity=1)])
    assert state.instance(orders[0]).available(position.node, position.sku) == position.available - 1
    assert other.instance(orders[0]).available(position.node, position.sku) == position.available


def test_cli_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "day.json"
    code = main(["--orders", "15", "--seed", "1", "--nodes", "10", "--bound-ms", "0", "--json", str(out)])
    report = json.loads(out.read_text())
    assert code in (0, 1)
    assert code == (0 if report["targets"]["met"] else 1)
    assert report["config"]["orders"] == 15
    assert report["bound"] is None


def test_a_bound_above_any_methods_cost_is_refused(day: tuple[dict, dict]) -> None:
    runs, report = day
    run = runs["orderloom"]
    routed = [k for k, d in run.decisions.items() if d.solution.is_feasible]
    too_high = {k: run.decisions[k].solution.cost.total + 1 for k in routed}
    bound = {"per_order": too_high, "common_total_cost": sum(too_high.values())}
    with pytest.raises(AssertionError):
        check_bound(bound, {"orderloom": run})
    assert report["methods"]["orderloom"]["at_time_limit"] is not None
