"""Precision and recall of the anomaly model on a synthetic history with planted patterns.

    python -m evals.anomaly [--seed 7] [--customers 1000] [--days 42] [--test-days 7] [--json PATH]

Method: `evals.anomaly.generate` builds a clean history (consumers at Poisson rates, case buyers) and a
test day with planted quantity spikes, card testing, a reshipping address, stolen-card first orders and a
customer ordering ten times in a few hours. The model is fitted on the history; each test-day order is
scored, in time order, against the test-day orders before it that share its customer, card or address
(what the exception desk passes). An order counts as flagged when any signal fires.

Two recalls: per order counts every planted order, including the first orders of a burst (a card's first
test, a binger's first orders) that no model can tell apart at the moment they are placed; per incident
counts a burst as caught when any of its orders is flagged, which is what brings it to a person (who then
sees the whole burst in the case's evidence).

Targets (exit code 1 when missed): precision >= 0.80 and incident recall >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.exceptions.anomaly import AnomalyModel, OrderFacts
from evals.anomaly import generate, recent_index

TARGET_PRECISION = 0.80
TARGET_INCIDENT_RECALL = 0.90


def run(seed: int, customers: int, days: int, test_days: int) -> dict[str, object]:
    started = time.perf_counter()
    history, test = generate(seed, customers, days, test_days)
    model = AnomalyModel.fit(history)
    fitted = time.perf_counter()
    seen: list[OrderFacts] = []
    index: dict[str, list[OrderFacts]] = {}
    planted: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    incidents: dict[int, tuple[str, bool]] = {}
    flagged = tp = fp = 0
    kinds: Counter[str] = Counter()
    false_kinds: Counter[str] = Counter()
    for p in test:
        o = p.order
        recent = {r.order_id: r for key in (o.customer_key, o.payment_key, o.address_key) if key
                  for r in index.get(key, [])}
        signals = model.score(o, list(recent.values()))
        if p.anomalous:
            planted[p.pattern] += 1
            incidents[p.incident] = (p.pattern, incidents.get(p.incident, ("", False))[1] or bool(signals))
        if signals:
            flagged += 1
            kinds.update({s.kind for s in signals})
            if p.anomalous:
                tp += 1
                caught[p.pattern] += 1
            else:
                fp += 1
                false_kinds.update({s.kind for s in signals})
        seen.append(o)
        for key, items in recent_index([o]).items():
            index.setdefault(key, []).extend(items)
    anomalies = sum(planted.values())
    precision = tp / flagged if flagged else 1.0
    recall = tp / anomalies if anomalies else 1.0
    incident_recall = sum(hit for _p, hit in incidents.values()) / len(incidents) if incidents else 1.0
    by_incident: dict[str, list[int]] = {}
    for pattern, hit in incidents.values():
        row = by_incident.setdefault(pattern, [0, 0])
        row[0] += 1
        row[1] += hit
    return {"seed": seed, "history_orders": len(history), "test_orders": len(test), "anomalies": anomalies,
            "flagged": flagged, "true_positives": tp, "false_positives": fp, "precision": round(precision, 4),
            "recall": round(recall, 4), "incidents": len(incidents), "incident_recall": round(incident_recall, 4),
            "by_pattern": {k: {"planted": planted[k], "caught": caught[k], "incidents": by_incident[k][0],
                               "incidents_caught": by_incident[k][1]} for k in sorted(planted)},
            "signals": dict(sorted(kinds.items())), "false_positive_signals": dict(sorted(false_kinds.items())),
            "fit_s": round(fitted - started, 2), "score_ms_per_order": round(
                1000 * (time.perf_counter() - fitted) / max(1, len(test)), 3),
            "passed": precision >= TARGET_PRECISION and incident_recall >= TARGET_INCIDENT_RECALL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.anomaly", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=42, help="days of history")
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args.seed, args.customers, args.days, args.test_days)
    console = Console()
    table = Table(title=f"Anomaly model, seed {args.seed}: {report['history_orders']:,} orders of history, "
                        f"{report['test_orders']:,} in the test period", title_justify="left")
    for col in ("pattern", "orders planted", "orders flagged", "order recall", "incidents", "incidents caught"):
        table.add_column(col, justify="right" if col != "pattern" else "left")
    for name, row in report["by_pattern"].items():  # type: ignore[attr-defined]
        table.add_row(name, str(row["planted"]), str(row["caught"]),
                      f"{row['caught'] / row['planted']:.0%}" if row["planted"] else "-", str(row["incidents"]),
                      str(row["incidents_caught"]))
    table.add_row("[b]all[/b]", str(report["anomalies"]), str(report["true_positives"]), f"{report['recall']:.1%}",
                  str(report["incidents"]), f"{report['incident_recall']:.0%}")
    console.print(table)
    ok = "[green]pass[/green]" if report["passed"] else "[red]FAIL[/red]"
    console.print(f"precision {report['precision']:.1%} (target >= {TARGET_PRECISION:.0%}), incident recall "
                  f"{report['incident_recall']:.1%} (target >= {TARGET_INCIDENT_RECALL:.0%}), order recall "
                  f"{report['recall']:.1%}: {ok}; false positives "
                  f"{report['false_positives']} {report['false_positive_signals']}; fit {report['fit_s']} s, "
                  f"{report['score_ms_per_order']} ms per order scored")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
