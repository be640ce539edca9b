"""The anomaly eval runs end to end at a small size and meets its targets."""

from __future__ import annotations

from evals.anomaly.__main__ import TARGET_INCIDENT_RECALL, TARGET_PRECISION, run


def test_the_anomaly_eval_meets_its_targets_on_a_small_population() -> None:
    report = run(seed=11, customers=400, days=21, test_days=5)
    assert report["incidents"] >= 5 and report["anomalies"] > 0
    assert report["precision"] >= TARGET_PRECISION and report["incident_recall"] >= TARGET_INCIDENT_RECALL
    assert set(report["by_pattern"]) == {"binge", "card_testing", "quantity_spike", "reshipper", "stolen_card"}
