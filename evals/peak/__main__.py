"""A peak day through the whole engine with planted faults: how much flows through untouched, and whether every
fault is caught and every escalation comes with a recommendation.

    python -m evals.peak [--seed 7] [--history-days 14] [--history-per-day 100] [--orders 1000] [--json PATH]

Method (`evals.peak.simulate`): the demo network (`seed_demo`) in a temporary SQLite database, driven by a
simulated clock. Stock is bought ahead for the demand to come (the demo is stocked for a few hundred orders).
History: `--history-days` days of `--history-per-day` clean orders (`demo_orders`: web, marketplace, mobile,
POS, EDI and email, consumers as guests drawn from 4,000 shoppers), each screened and routed by
`app.exceptions.process`, most of them shipped and delivered, so cold-start rules and the anomaly model have
data. Peak day: `--orders` orders over 14 hours, paid orders with their payment signal, with faults planted at
a few % each (a misspelled city, an unverifiable address, an unknown SKU, a B2B line priced 5-15% off list, a
declined payment, a fraud-review score, the same order resubmitted under a new external id minutes later, a
consumer order above the high-value threshold, a consumer quantity spike). Afterwards, on cleanly allocated
orders: short picks at release, cycle counts of zero under a reservation (every order whose reservation the
count broke is counted as faulted) and a carrier outage into the busiest region (every allocated order on
that carrier to there is faulted).

Scoring, per order: touchless = reached allocated or beyond with no case left for a person (auto-resolved
cases are fine); escalated = an open case; false escalation = escalated with nothing planted (listed with the
cases' reasons); missed = something planted, yet no case at all and not refused at placement.

Targets (exit 1 when one is missed): touchless >= 90% on the B2C mix (web, marketplace, mobile, POS);
0 missed faults; every escalation's open cases carry a recommendation with an action and a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.peak.simulate import run

TARGET_B2C_TOUCHLESS = 0.90
TARGET_MISSED = 0
TARGET_RECOMMENDATION_SHARE = 1.0


def checks(report: dict[str, Any]) -> dict[str, bool]:
    return {"b2c_touchless": report["b2c"]["touchless"] >= TARGET_B2C_TOUCHLESS,
            "missed_faults": report["overall"]["missed"] <= TARGET_MISSED,
            "recommendation_share": report["recommendation_share"] >= TARGET_RECOMMENDATION_SHARE}


def _tables(report: dict[str, Any], console: Console) -> None:
    t = report["timing"]
    rates = Table(title=f"Peak day, seed {report['params']['seed']}: {report['overall']['orders']:,} orders "
                        f"after {report['params']['history_days']} days of history "
                        f"({t['peak_orders_per_s']:.1f} orders/s on the peak day; total {t['total_s']:.0f} s)",
                  title_justify="left")
    for col in ("slice", "orders", "touchless", "auto-resolved", "escalated", "false esc.", "missed"):
        rates.add_column(col, justify="right" if col != "slice" else "left")
    slices = [("all", report["overall"]), ("B2C mix", report["b2c"]),
              *[(f"  {ch}", b) for ch, b in report["by_channel"].items()]]
    for name, b in slices:
        rates.add_row(name, f"{b['orders']:,}", f"{b['touchless']:.1%}", f"{b['auto_resolved']:.1%}",
                      f"{b['escalated']:.1%}", str(b["false_escalations"]), str(b["missed"]))
    console.print(rates)
    faults = Table(title="Planted faults", title_justify="left")
    for col in ("fault", "planted", "refused", "auto-resolved", "escalated", "other case", "missed"):
        faults.add_column(col, justify="right" if col != "fault" else "left")
    for name, k in report["by_fault"].items():
        faults.add_row(name, str(k.get("planted", 0)), str(k.get("refused", 0)), str(k.get("auto", 0)),
                       str(k.get("escalated", 0)), str(k.get("caught", 0)),
                       f"[red]{k['missed']}[/]" if k.get("missed") else "0")
    console.print(faults)
    if report["false_escalation_reasons"]:
        why = Table(title="Open cases on orders with nothing planted (false escalations)", title_justify="left")
        why.add_column("case type/subtype")
        why.add_column("cases", justify="right")
        why.add_column("example reason")
        for key, n in report["false_escalation_reasons"].items():
            example = next(c for fe in report["false_escalations"] for c in fe["cases"] if c.startswith(key + ":"))
            why.add_row(key, str(n), example[len(key) + 2:][:110])
        console.print(why)
    ok = checks(report)
    result = Table(title="Targets", title_justify="left")
    for col in ("target", "value", "wanted", "result"):
        result.add_column(col)
    values = {"b2c_touchless": (f"{report['b2c']['touchless']:.1%}", f">= {TARGET_B2C_TOUCHLESS:.0%}"),
              "missed_faults": (str(report["overall"]["missed"]), f"<= {TARGET_MISSED}"),
              "recommendation_share": (f"{report['recommendation_share']:.1%}",
                                       f">= {TARGET_RECOMMENDATION_SHARE:.0%}")}
    for name, (value, wanted) in values.items():
        result.add_row(name, value, wanted, "[green]pass[/]" if ok[name] else "[red]MISS[/]")
    console.print(result)
    if report["missed_faults"]:
        console.print("missed: " + ", ".join(f"order {m['order_id']} {'+'.join(m['faults'])} ({m['status']})"
                                             for m in report["missed_faults"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7, help="demo network and order seed")
    parser.add_argument("--history-days", type=int, default=14, help="days of clean history before the peak")
    parser.add_argument("--history-per-day", type=int, default=100, help="clean orders per history day")
    parser.add_argument("--orders", type=int, default=1000, help="orders on the peak day")
    parser.add_argument("--later-share", type=float, default=0.02,
                        help="short picks and cycle counts, each as a share of the peak day's orders")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    with console.status("simulating history and the peak day through the engine"):
        report = run(args.seed, args.history_days, args.history_per_day, args.orders, later_share=args.later_share)
    _tables(report, console)
    ok = checks(report)
    report["checks"] = ok
    report["targets"] = {"b2c_touchless": TARGET_B2C_TOUCHLESS, "missed_faults": TARGET_MISSED,
                         "recommendation_share": TARGET_RECOMMENDATION_SHARE}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
