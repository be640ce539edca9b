"""Semantic catalog matching on the demo catalog: top-1 accuracy, score calibration and the confident threshold.

Run: .venv/bin/python -m evals.perf.matching [--n 300]   (needs the `matching` extra and the model files)
Exits non-zero when no threshold reaches precision >= 0.95.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from engine.adapters.catalog_index import ChromaCatalogIndex
from engine.domain.catalog import Sku
from engine.intake.matching import CatalogMatcher, DraftLine, MatchPolicy
from engine.services.demo import _build_catalog

ABBREVIATIONS = {"large": "lg", "medium": "med", "small": "sm", "black": "blk", "white": "wht", "blue": "blu",
                 "green": "grn", "stainless": "ss", "steel": "stl", "inch": "in", "pack": "pk", "gray": "gry",
                 "grey": "gry", "extra": "x", "cotton": "ctn", "assorted": "asst", "red": "rd"}


def paraphrase(item: Sku, rng: random.Random) -> tuple[str, str]:
    """A buyer's description of `item`, and the kind of damage done to it."""
    words = item.name.replace(",", "").split()
    kind = rng.choice(["typo", "abbrev", "reorder", "drop_detail", "lower"])
    if kind == "typo":
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(1, len(w) - 1)
            words[i] = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif kind == "abbrev":
        words = [ABBREVIATIONS.get(w.lower(), w) for w in words]
    elif kind == "reorder":
        rng.shuffle(words)
    elif kind == "drop_detail":
        detail = [v for k, v in item.attributes.items() if k not in ("brand", "product")]
        text = item.name
        for value in detail[:1]:
            text = text.replace(value, "")
        words = text.replace(",", " ").split()
    return " ".join(words).lower(), kind


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    catalog = {s.sku: Sku(sku=s.sku, name=s.name, category=s.category, unit_price=s.unit_price,
                          weight_kg=s.weight_kg, attributes=dict(s.attributes)) for s in _build_catalog(7)}
    started = time.perf_counter()
    index = ChromaCatalogIndex(None)
    counts = index.sync(catalog.values())
    build_s = time.perf_counter() - started
    again = index.sync(catalog.values())
    rng = random.Random(args.seed)
    sample = rng.sample(sorted(catalog), k=min(args.n, len(catalog)))
    rows: list[tuple[float, float, bool, str]] = []
    started = time.perf_counter()
    for sku in sample:
        text, kind = paraphrase(catalog[sku], rng)
        hits = index.query(text, 5)
        margin = hits[0][1] - hits[1][1] if len(hits) > 1 else 1.0
        rows.append((hits[0][1], margin, hits[0][0] == sku, kind))
    per_line_ms = (time.perf_counter() - started) / len(sample) * 1000
    print(f"catalog {len(catalog)} SKUs; index build {build_s:.1f}s {counts}; re-sync {again}; "
          f"query {per_line_ms:.1f} ms/line")
    print(f"top-1 accuracy {sum(r[2] for r in rows) / len(rows):.3f} on {len(rows)} paraphrases")
    for kind in sorted({r[3] for r in rows}):
        sub = [r for r in rows if r[3] == kind]
        print(f"  {kind:12s} n={len(sub):3d} top-1 {sum(r[2] for r in sub) / len(sub):.3f}")
    print(f"{'score>=':>8} {'margin>=':>9} {'precision':>10} {'recall':>7} {'covered':>8}")
    best: tuple[float, float, float, float] | None = None
    correct_total = sum(r[2] for r in rows)
    for margin in (0.0, 0.01, 0.02, 0.03, 0.05):
        for tenth in range(50, 96, 5):
            threshold = tenth / 100
            chosen = [r for r in rows if r[0] >= threshold and r[1] >= margin]
            if not chosen:
                continue
            precision = sum(r[2] for r in chosen) / len(chosen)
            recall = sum(r[2] for r in chosen) / max(correct_total, 1)
            print(f"{threshold:8.2f} {margin:9.2f} {precision:10.3f} {recall:7.3f} {len(chosen) / len(rows):8.3f}")
            if precision >= 0.95 and (best is None or recall > best[3]):
                best = (threshold, margin, precision, recall)
    if best is None:
        print("no threshold reaches precision 0.95")
        return 1
    policy = MatchPolicy()
    print(f"best: score >= {best[0]:.2f}, margin >= {best[1]:.2f}: precision {best[2]:.3f}, recall {best[3]:.3f} "
          f"(policy in code: score {policy.confident_score}, margin {policy.ambiguous_margin})")
    matcher = CatalogMatcher(catalog, index, policy)
    confident = [matcher.match(DraftLine(description=paraphrase(catalog[s], rng)[0], quantity=1)) for s in sample[:50]]
    print(f"matcher says confident on {sum(r.confident for r in confident)}/50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
