"""The returns eval runs end to end at a small size and meets its targets."""

from __future__ import annotations

import json
from pathlib import Path

from evals.returns.__main__ import main


def test_the_returns_eval_meets_its_targets_on_a_small_population(tmp_path: Path) -> None:
    out = tmp_path / "returns.json"
    assert main(["--seed", "11", "--customers", "800", "--returns", "400", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["pass"] and report["abuse"]["precision"] >= 0.8 and report["abuse"]["recall"] >= 0.6
    assert report["restock"]["restock_cost"] < report["restock"]["origin_cost"]
    assert report["abuse"]["flagged_by_kind"]["bracketer"]["flagged"] <= 2  # honest frequent returners left alone
