"""The peak-day simulator at a small size: the report's shape, no missed fault, a recommendation on every
escalation (the touchless target is for the full run: `python -m evals.peak`)."""

from __future__ import annotations

import json
from pathlib import Path

from evals.peak.__main__ import main


def test_a_small_peak_day_misses_no_fault_and_every_escalation_carries_a_recommendation(tmp_path: Path) -> None:
    out = tmp_path / "peak.json"
    main(["--seed", "7", "--history-days", "2", "--history-per-day", "110", "--orders", "150",
          "--json", str(out)])
    report = json.loads(out.read_text())
    for part in ("overall", "b2c"):
        assert set(report[part]) == {"orders", "touchless", "auto_resolved", "escalated", "false_escalations",
                                     "missed"}
    assert report["overall"]["orders"] == 150
    assert set(report["by_channel"]) <= {"web", "marketplace", "mobile", "pos", "b2b_edi", "email"}
    assert {"carrier_outage", "short_pick", "cycle_count"} <= set(report["by_fault"])
    assert report["anomaly_wired"] is True
    assert report["missed_faults"] == [] and report["overall"]["missed"] == 0
    assert report["recommendation_share"] == 1.0
    assert report["checks"]["missed_faults"] and report["checks"]["recommendation_share"]
