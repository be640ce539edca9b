"""Catalog matching for intake lines: exact SKU, buyer part cross-reference, then semantic search.

Pure logic: the semantic index is a small port (`SemanticIndex`) so tests use a fake; the real one
(embeddings + Chroma) lives in `engine.adapters.catalog_index`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from engine.domain.catalog import Sku
from engine.domain.customers import PriceList
from engine.domain.errors import Problem

Method = Literal["exact_sku", "xref", "semantic", "none"]
PriceStatus = Literal["ok", "mismatch", "no_price"]

# Units that need no pack size: how many catalog eaches one of them holds.
FIXED_UNITS: dict[str, int] = {"EA": 1, "EACH": 1, "PC": 1, "PCS": 1, "PCE": 1, "UN": 1, "UNIT": 1,
                               "DZ": 12, "DOZ": 12, "DOZEN": 12, "PR": 2, "PAIR": 2, "GR": 144, "GROSS": 144}
# Pack units whose size comes from the cross-reference or the unit itself ("CS12", "CS of 12", "BX/6").
PACK_UNITS = frozenset({"CS", "CA", "CASE", "BX", "BOX", "PK", "PACK", "PKG", "CT", "CTN", "CARTON", "BG", "BAG"})
_PACK_WITH_SIZE = re.compile(r"^([A-Z]{2,6})\s*(?:/|-|OF|X)?\s*(\d{1,5})$")
MAX_TEXT = 500


class SemanticIndex(Protocol):
    """Nearest SKUs to a free-text description, best first, with a cosine similarity in [-1, 1]."""

    def query(self, text: str, k: int) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class BuyerPart:
    """One account's own part number for one of our SKUs, and how their unit converts to ours."""

    account_code: str
    buyer_part: str
    sku: str
    buyer_uom: str = "EA"
    units_per_buyer_uom: int = 1
    description: str = ""


@dataclass(frozen=True)
class DraftLine:
    buyer_part: str | None = None
    sku: str | None = None
    description: str | None = None
    quantity: Decimal | int | str | None = None
    unit: str | None = None
    unit_price: Decimal | str | None = None


@dataclass(frozen=True)
class PriceCheck:
    status: PriceStatus
    expected: Decimal | None = None
    got: Decimal | None = None


@dataclass(frozen=True)
class MatchResult:
    sku: str | None
    method: Method
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    quantity: int | None = None
    unit: str | None = None
    price_check: PriceCheck = PriceCheck("no_price")
    problems: tuple[Problem, ...] = ()

    @property
    def confident(self) -> bool:
        doubts = {"matching.ambiguous", "matching.low_confidence", "matching.no_match", "matching.no_index"}
        return self.sku is not None and not any(p.code in doubts for p in self.problems)


@dataclass(frozen=True)
class MatchPolicy:
    """Thresholds for semantic matches; defaults measured on the demo catalog (see evals/perf/matching.py)."""

    confident_score: float = 0.80
    ambiguous_margin: float = 0.02
    min_candidate_score: float = 0.35
    candidates: int = 5
    price_tolerance: Decimal = Decimal("0.01")  # relative: 1 %


@dataclass
class CatalogMatcher:
    catalog: Mapping[str, Sku]
    index: SemanticIndex | None = None
    policy: MatchPolicy = field(default_factory=MatchPolicy)

    def match(self, line: DraftLine, *, xref: Mapping[str, BuyerPart] | None = None,
              price_list: PriceList | None = None) -> MatchResult:
        """Match one draft line for one account (`xref` is that account's parts by buyer part number)."""
        problems: list[Problem] = []
        sku, method, confidence, candidates, part = self._identify(line, xref or {}, problems)
        quantity, unit = (None, None)
        price = PriceCheck("no_price")
        if sku is not None:
            quantity, unit = self._convert(line, self.catalog[sku], part, problems)
            price = self._check_price(line, sku, quantity, price_list, problems)
        return MatchResult(sku, method, round(confidence, 4), tuple(candidates), quantity, unit, price,
                           tuple(problems))

    def _identify(self, line: DraftLine, xref: Mapping[str, BuyerPart], problems: list[Problem]
                  ) -> tuple[str | None, Method, float, list[tuple[str, float]], BuyerPart | None]:
        sku = _clean(line.sku)
        if sku is not None and sku.upper() in self.catalog:
            return sku.upper(), "exact_sku", 1.0, [(sku.upper(), 1.0)], None
        buyer_part = _clean(line.buyer_part)
        if buyer_part is not None and (part := xref.get(buyer_part) or xref.get(buyer_part.upper())) is not None:
            if part.sku in self.catalog:
                return part.sku, "xref", 1.0, [(part.sku, 1.0)], part
            problems.append(Problem("matching.xref_stale", "buyer_part",
                                    f"buyer part {buyer_part!r} points at unknown SKU {part.sku!r}",
                                    "fix the account's cross-reference"))
        text = _clean(line.description)
        if text is None:
            problems.append(Problem("matching.no_match", "sku", "the line has no known SKU, buyer part or description",
                                    "send a SKU, a cross-referenced buyer part, or a description"))
            return None, "none", 0.0, [], None
        return self._semantic(text, sku, problems)

    def _semantic(self, text: str, sent_sku: str | None, problems: list[Problem]
                  ) -> tuple[str | None, Method, float, list[tuple[str, float]], BuyerPart | None]:
        if self.index is None:
            problems.append(Problem("matching.no_index", "description", "semantic matching is not configured",
                                    "install the matching extra and build the catalog index"))
            return None, "none", 0.0, [], None
        hits = [(s, float(score)) for s, score in self.index.query(text, self.policy.candidates)
                if s in self.catalog and score >= self.policy.min_candidate_score]
        candidates = [(s, round(score, 4)) for s, score in hits]
        if not hits:
            problems.append(Problem("matching.no_match", "description", f"nothing in the catalog resembles {text!r}",
                                    "check the description or send a SKU", {"sku_sent": sent_sku}))
            return None, "none", 0.0, [], None
        best, score = hits[0]
        margin = score - hits[1][1] if len(hits) > 1 else 1.0
        confidence = calibrated_confidence(score, margin, self.policy)
        if margin < self.policy.ambiguous_margin:
            problems.append(Problem("matching.ambiguous", "description",
                                    f"{text!r} matches {hits[0][0]} and {hits[1][0]} almost equally",
                                    "pick one of the candidates", {"candidates": candidates[:2]}))
        elif score < self.policy.confident_score:
            problems.append(Problem("matching.low_confidence", "description",
                                    f"best match for {text!r} is {best} with score {score:.2f}",
                                    "confirm the SKU", {"candidates": candidates}))
        return best, "semantic", confidence, candidates, None

    def _convert(self, line: DraftLine, item: Sku, part: BuyerPart | None, problems: list[Problem]
                 ) -> tuple[int | None, str | None]:
        quantity = _decimal(line.quantity)
        if quantity is None or quantity <= 0:
            problems.append(Problem("validation.quantity", "quantity", f"quantity {line.quantity!r} is not positive",
                                    "send a positive number"))
            return None, item.unit_of_measure
        unit = (_clean(line.unit) or (part.buyer_uom if part else None) or item.unit_of_measure).upper()
        factor = self._factor(unit, item, part)
        if factor is None:
            problems.append(Problem("matching.unknown_unit", "unit",
                                    f"cannot convert {unit!r} to {item.unit_of_measure}",
                                    "send EA, DZ, or a pack size such as CS12, or add it to the cross-reference",
                                    {"unit": unit[:20]}))
            return None, item.unit_of_measure
        converted = quantity * factor
        if converted != converted.to_integral_value():
            problems.append(Problem("validation.quantity", "quantity", f"{quantity} {unit} is not a whole number of "
                                    f"{item.unit_of_measure}", "send whole units"))
            return None, item.unit_of_measure
        return int(converted), item.unit_of_measure

    @staticmethod
    def _factor(unit: str, item: Sku, part: BuyerPart | None) -> int | None:
        base = item.unit_of_measure.upper()
        if unit == base:
            return 1
        if part is not None and unit == part.buyer_uom.upper() and part.units_per_buyer_uom > 0:
            return part.units_per_buyer_uom
        if unit in FIXED_UNITS and FIXED_UNITS.get(base) == 1:
            return FIXED_UNITS[unit]
        m = _PACK_WITH_SIZE.match(unit)
        if m and m.group(1) in PACK_UNITS and int(m.group(2)) > 0 and FIXED_UNITS.get(base) == 1:
            return int(m.group(2))
        return None

    def _check_price(self, line: DraftLine, sku: str, quantity: int | None, price_list: PriceList | None,
                     problems: list[Problem]) -> PriceCheck:
        got = _decimal(line.unit_price)
        expected = price_list.price_for(sku) if price_list is not None else None
        if expected is None or got is None:
            return PriceCheck("no_price", expected, got)
        line_qty = _decimal(line.quantity)
        # The buyer prices their own unit: compare per catalog unit.
        per_unit = got * line_qty / quantity if quantity and line_qty else got
        if abs(per_unit - expected) <= abs(expected) * self.policy.price_tolerance:
            return PriceCheck("ok", expected, per_unit)
        problems.append(Problem("pricing.mismatch", "unit_price",
                                f"price {per_unit:.2f} differs from the price list's {expected:.2f}",
                                "confirm the price with the buyer", {"expected": str(expected), "got": str(per_unit)}))
        return PriceCheck("mismatch", expected, per_unit.quantize(Decimal("0.0001")))


def calibrated_confidence(score: float, margin: float, policy: MatchPolicy) -> float:
    """Map a cosine score to [0, 1]; an ambiguous top-2 caps it below the confident line."""
    span = max(policy.confident_score - policy.min_candidate_score, 1e-6)
    confidence = 0.5 + 0.5 * (score - policy.confident_score) / max(1.0 - policy.confident_score, 1e-6) \
        if score >= policy.confident_score else 0.5 * (score - policy.min_candidate_score) / span
    if margin < policy.ambiguous_margin:
        confidence = min(confidence, 0.49)
    return max(0.0, min(1.0, confidence))


def index_by_buyer_part(parts: Sequence[BuyerPart]) -> dict[str, BuyerPart]:
    return {p.buyer_part: p for p in parts}


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_TEXT]
    return text or None


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() and abs(number) < Decimal("1e9") else None
