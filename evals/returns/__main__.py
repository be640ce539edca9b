"""The returns evaluation: the abuse score's precision and recall on planted abusers, and restock routing's
cost against sending every return back to the node it shipped from.

    python -m evals.returns [--seed 7] [--customers 1500] [--returns 3000] [--json PATH]

Abuse. `evals.returns.generate` builds two populations (seed, seed + 1) with 180 days of orders and returns
and one return request each; abusers (wardrobers, swappers, serial returners) are planted among honest
ordinary shoppers, size bracketers and gift givers. The model (engine/returns/abuse.py) is fitted on the
first population, its threshold set there for precision >= 0.85, and it is measured on the second,
which it has never seen. A flagged request goes to a person with the evidence; nothing is refused.

Restock. Returned units of the demo catalog come back from customers across the US to the demo network's
nodes; each SKU sells into a few regions, and some nodes are short of it. Restock routing
(engine/returns/restock.py) picks the cheapest node (inbound parcel + the expected outbound parcel to where
the SKU sells - a credit where the node is short); the baseline sends the unit back to where it shipped
from (the node nearest the customer that had it). Both are priced with the demo rate card.

Targets (exit code 1 when missed): precision >= 0.80 at recall >= 0.60; restock cost below back-to-origin,
and below it on shipping alone when the shortage credit is left out (the saving is not only the credit).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.domain import commands as c
from engine.domain.geo import PRINCIPAL_ZIP3, ZIP3_BY_PREFIX, Zip3Region, miles_between
from engine.domain.network import ServiceLevel
from engine.returns.abuse import FEATURES, AbuseModel, default_model, features
from engine.returns.restock import NodeOption, choose_restock_node, leg_cost, origin_cost
from engine.services.demo import demo_plan, list_rate
from evals.returns.generate import population

PRECISION_TARGET, RECALL_TARGET = 0.80, 0.60


def measure(model: AbuseModel, test: list[Any]) -> dict[str, Any]:
    """Precision and recall of `model` (at its own threshold) on a population it was not fitted on."""
    flagged: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    tp = fp = fn = 0
    for x in test:
        hit = model.flags(features(x.history, x.request))
        totals[x.kind] += 1
        flagged[x.kind] += hit
        tp += hit and x.abuser
        fp += hit and not x.abuser
        fn += (not hit) and x.abuser
    return {"precision": round(tp / (tp + fp) if tp + fp else 0.0, 4),
            "recall": round(tp / (tp + fn) if tp + fn else 0.0, 4), "true_positives": tp, "false_positives": fp,
            "false_negatives": fn,
            "flagged_by_kind": {k: {"flagged": flagged[k], "of": totals[k]} for k in sorted(totals)}}


def abuse(seed: int, customers: int) -> tuple[dict[str, Any], AbuseModel]:
    train = population(seed, customers)
    test = population(seed + 1, customers)
    rows = [features(x.history, x.request) for x in train]
    started = time.perf_counter()
    model = AbuseModel().fit(rows, [x.abuser for x in train])
    threshold = model.calibrate(rows, [x.abuser for x in train], min_precision=0.85)
    fit_s = time.perf_counter() - started
    example = next(x for x in test if x.abuser)
    shipped = measure(default_model(), test)
    return ({"train_customers": len(train), "test_customers": len(test), "threshold": round(threshold, 4),
             **measure(model, test), "fit_seconds": round(fit_s, 2),
             "weights": dict(zip(FEATURES, (round(w, 3) for w in model.weights), strict=True)),
             "example_evidence": model.evidence(features(example.history, example.request))[:3],
             "shipped_model": {k: shipped[k] for k in ("precision", "recall", "true_positives", "false_positives",
                                                       "false_negatives")}}, model)


def restock(seed: int, returns: int) -> dict[str, Any]:
    rng = random.Random(f"orderloom-restock:{seed}")
    plan = demo_plan(seed)
    nodes_cmds = [x for _, cmds in plan.master for x in cmds if isinstance(x, c.UpsertNode)]
    regions = {n.code: ZIP3_BY_PREFIX[n.postal_code[:3]] for n in nodes_cmds if n.postal_code[:3] in ZIP3_BY_PREFIX}
    skus = list(plan.skus)[:200]
    weights = [r.population_k for r in PRINCIPAL_ZIP3]

    def rate(zone: int, pounds: int) -> float:
        return list_rate(ServiceLevel.GROUND, zone, pounds)

    ours = base = ours_ship = base_ship = ship_only = 0.0
    moved = 0
    chosen: Counter[str] = Counter()
    for _ in range(returns):
        sku = rng.choice(skus)
        pounds = max(1, round(float(sku.weight_kg) * 2.2046 + 0.49))
        # Where this SKU sells: a few regions, one of them strong.
        markets = rng.sample(PRINCIPAL_ZIP3, 4)
        demand: dict[Zip3Region, float] = {m: rng.uniform(0.5, 1.0) for m in markets}
        demand[markets[0]] *= 4
        customer = rng.choices(PRINCIPAL_ZIP3, weights)[0]
        options = [NodeOption(code, region, cover_days=rng.choice((5.0, 12.0, 30.0, 60.0, 90.0)))
                   for code, region in sorted(regions.items())]
        origin = min(options, key=lambda o: miles_between(o.region, customer) + rng.uniform(0, 300))
        pick = choose_restock_node(options, customer, demand, pounds, rate)
        plain = choose_restock_node(options, customer, demand, pounds, rate, shortage_credit=0.0)
        ship_only += plain.inbound + plain.outbound
        ours += pick.cost
        base += origin_cost(origin, customer, demand, pounds, rate)
        ours_ship += pick.inbound + pick.outbound
        base_ship += leg_cost(customer, origin.region, pounds, rate) + sum(
            s * leg_cost(origin.region, r, pounds, rate) for r, s in demand.items()) / sum(demand.values())
        moved += pick.node != origin.code
        chosen[pick.node] += 1
    return {"returns": returns, "restock_cost": round(ours, 2), "origin_cost": round(base, 2),
            "saving_pct": round(100 * (base - ours) / base, 2) if base else 0.0,
            "restock_shipping_only": round(ours_ship, 2), "origin_shipping_only": round(base_ship, 2),
            "shipping_only_policy": round(ship_only, 2),
            "sent_elsewhere_than_origin": moved, "by_node": dict(chosen.most_common())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.returns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--returns", type=int, default=3000)
    parser.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    parser.add_argument("--write-model", type=Path, default=None,
                        help="write the model fitted on the training population here (what the engine ships)")
    args = parser.parse_args(argv)
    a, model = abuse(args.seed, args.customers)
    if args.write_model:
        args.write_model.write_text(json.dumps(model.to_dict(), indent=2) + "\n")
    r = restock(args.seed, args.returns)
    s = a["shipped_model"]
    ok_abuse = (a["precision"] >= PRECISION_TARGET and a["recall"] >= RECALL_TARGET
                and s["precision"] >= PRECISION_TARGET and s["recall"] >= RECALL_TARGET)
    ok_restock = r["restock_cost"] < r["origin_cost"] and r["shipping_only_policy"] < r["origin_shipping_only"]
    console = Console()
    table = Table(title=f"Return abuse score (fitted on seed {args.seed}, measured on seed {args.seed + 1})",
                  title_justify="left")
    for col in ("customers", "kind", "flagged", "of"):
        table.add_column(col, justify="right" if col != "kind" else "left")
    for kind, v in a["flagged_by_kind"].items():
        table.add_row(str(a["test_customers"]), kind, str(v["flagged"]), str(v["of"]))
    console.print(table)
    console.print(f"precision {a['precision']:.1%} (target >= {PRECISION_TARGET:.0%}), recall {a['recall']:.1%} "
                  f"(target >= {RECALL_TARGET:.0%}); threshold {a['threshold']}; fit {a['fit_seconds']} s: "
                  + ("pass" if ok_abuse else "FAIL"))
    console.print(f"the model the engine ships (engine/returns/abuse_model.json) on the same unseen population: "
                  f"precision {s['precision']:.1%}, recall {s['recall']:.1%}")
    t2 = Table(title=f"Restock routing on {r['returns']:,} returned units", title_justify="left")
    for col in ("policy", "total cost", "shipping only"):
        t2.add_column(col, justify="right" if col != "policy" else "left")
    t2.add_row("back to origin", f"{r['origin_cost']:,.2f}", f"{r['origin_shipping_only']:,.2f}")
    t2.add_row("restock routing", f"{r['restock_cost']:,.2f}", f"{r['restock_shipping_only']:,.2f}")
    t2.add_row("restock routing, no shortage credit", "", f"{r['shipping_only_policy']:,.2f}")
    console.print(t2)
    console.print(f"restock routing {r['saving_pct']:.1f}% cheaper; {r['sent_elsewhere_than_origin']:,} units sent "
                  "elsewhere than their origin: " + ("pass" if ok_restock else "FAIL"))
    if args.json:
        args.json.write_text(json.dumps({"abuse": a, "restock": r, "pass": ok_abuse and ok_restock}, indent=2))
    return 0 if ok_abuse and ok_restock else 1


if __name__ == "__main__":
    sys.exit(main())
