"""Save and load routing instances with the objective and bound they were solved to (tests and evals)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from engine.routing.instance import RoutingInstance, RoutingPolicy


class SavedInstance(BaseModel):
    """An instance, the policy it was solved under, and the best objective and bound found then."""

    instance: RoutingInstance
    policy: RoutingPolicy
    objective: float | None
    best_bound: float | None
    status: str
    note: str = ""


def load_saved(path: Path) -> SavedInstance:
    return SavedInstance.model_validate_json(path.read_text())


def write_saved(path: Path, saved: SavedInstance) -> None:
    path.write_text(saved.model_dump_json(indent=1) + "\n")
