"""Decision latency of the sourcing model on seeded random orders: `python -m evals.routing.latency`.

A measurement, not a test (the full benchmark with the scenario generator belongs in `evals/`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

from engine.routing.baselines import fixed_priority, nearest_with_stock
from engine.routing.check import check_solution
from engine.routing.instance import PolicyWeights, RoutingConfig, RoutingPolicy
from engine.routing.solver import SourcingSolver
from evals.routing.random_instances import random_instance

POLICY = RoutingPolicy(
    version=1,
    name="balanced",
    weights=PolicyWeights(split_penalty=3, sla_risk=20, markdown_credit=1, capacity_balance=5),
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    config = RoutingConfig(time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
    wall: list[float] = []
    cpu: list[float] = []
    statuses: Counter[str] = Counter()
    costs = {"cp-sat": 0.0, "fixed-priority": 0.0, "nearest-with-stock": 0.0}
    compared = 0
    for index in range(args.orders):
        instance = random_instance(rng, lines=args.lines, nodes=args.nodes, order_id=f"B{index}")
        started, started_cpu = time.perf_counter(), time.process_time()
        solution = SourcingSolver(instance, POLICY, config).solve()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        statuses[solution.status.value] += 1
        if check_solution(instance, solution, POLICY):
            raise SystemExit(f"invalid solution for order {index}")
        baselines = [
            fixed_priority(instance, POLICY, [n.code for n in instance.nodes]),
            nearest_with_stock(instance, POLICY),
        ]
        if solution.is_feasible and all(b.is_feasible for b in baselines):
            compared += 1
            costs["cp-sat"] += solution.cost.total
            for baseline in baselines:
                costs[baseline.solver] += baseline.cost.total
    print(f"{args.orders} orders, {args.lines} lines x {args.nodes} nodes, workers={args.workers}")
    print(f"statuses: {dict(statuses)}")
    print(f"{'latency ms':<12}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}{'mean':>9}")
    for name, values in (("wall", wall), ("cpu", cpu)):
        row = [percentile(values, 0.5), percentile(values, 0.9), percentile(values, 0.99), max(values)]
        print(f"{name:<12}" + "".join(f"{v:9.1f}" for v in [*row, statistics.fmean(values)]))
    print(f"total cost over {compared} orders every method could route:")
    for name, total in costs.items():
        print(f"  {name:<20}{total:12.2f}")


if __name__ == "__main__":
    main()
