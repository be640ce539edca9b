"""Saved orders re-solve to their recorded objective, compared by bounds rather than by assignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.routing.check import check_solution
from engine.routing.instance import RoutingConfig
from engine.routing.save import load_saved
from engine.routing.solver import SourcingSolver

SAVED = sorted((Path(__file__).parents[2] / "data" / "routing").glob("*.json"))
# Relative tolerance on the objective: equal plans may differ only by rounding in the saved JSON.
TOLERANCE = 1e-6


def test_there_are_saved_instances() -> None:
    assert len(SAVED) >= 3


@pytest.mark.parametrize("path", SAVED, ids=lambda p: p.stem)
def test_a_saved_instance_re_solves_within_its_recorded_bounds(path: Path) -> None:
    saved = load_saved(path)
    solution = SourcingSolver(saved.instance, saved.policy, RoutingConfig(time_limit_s=30, workers=1)).solve()
    assert check_solution(saved.instance, solution, saved.policy) == []
    assert solution.status.value == saved.status
    assert solution.objective is not None and saved.objective is not None and saved.best_bound is not None
    slack = TOLERANCE * max(1.0, abs(saved.objective))
    assert solution.objective <= saved.objective + slack
    assert solution.objective >= saved.best_bound - slack
