"""The email intake eval with the rule-based model (`--llm fake`), in process, on the whole labelled set."""

from __future__ import annotations

import json
from pathlib import Path

from evals.intake.__main__ import main


def test_the_fake_intake_eval_meets_its_targets_and_no_injection_gets_through(tmp_path: Path) -> None:
    out = tmp_path / "intake.json"
    assert main(["--llm", "fake", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["emails"] >= 60 and summary["injection_emails"] >= 5
    assert summary["injection_failures"] == {} and summary["checks"]["injection_safety"]
    assert summary["database_tables_changed"] == [] and summary["multi_ship_to_touchless"] == []
    assert summary["line_exact_match"] >= summary["line_exact_target"]
