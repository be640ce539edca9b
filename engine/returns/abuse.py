"""Return-abuse score: features from a customer's own history, a logistic model fitted on labelled history.

The score never refuses anything: a high score sends the return to a person with the evidence (the
features, each with the customer's value and what is usual), because most frequent returners are honest
(sizes, gifts) and a wrong accusation loses a customer.

Features, each computed from the customer's orders and returns before the request (`ReturnHistory`):
- return_rate       units returned / units bought (last 180 days)
- serial            returns in the last 90 days
- velocity          returns in the last 7 days
- wardrobing        share of past returns claimed "changed mind / size" that the inspector graded used
- address_mismatch  the return comes from another ZIP than the order shipped to (this request), and the share
                    of past returns that did
- high_value_only   mean unit price of what they return / mean unit price of what they buy
- kept_nothing      share of orders returned in full (last 180 days)
Pure Python (no numpy): a handful of features, a few thousand customers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources

FEATURES = ("return_rate", "serial", "velocity", "wardrobing", "address_mismatch", "high_value_only",
            "kept_nothing")
USUAL = {"return_rate": "below 0.25", "serial": "0-2", "velocity": "0", "wardrobing": "below 0.2",
         "address_mismatch": "0", "high_value_only": "about 1", "kept_nothing": "below 0.2"}


@dataclass(frozen=True)
class PastOrder:
    at: datetime
    units: int
    value: float          # merchandise value
    ship_postal: str


@dataclass(frozen=True)
class PastReturn:
    at: datetime
    units: int
    value: float
    reason: str           # a ReturnReason value
    from_postal: str
    order_ship_postal: str
    whole_order: bool     # every unit of the order came back
    graded_used: bool | None = None   # the inspector's finding, once graded


@dataclass(frozen=True)
class ReturnHistory:
    orders: Sequence[PastOrder]
    returns: Sequence[PastReturn]


@dataclass(frozen=True)
class ReturnRequestFacts:
    at: datetime
    units: int
    value: float
    from_postal: str
    order_ship_postal: str


def features(history: ReturnHistory, request: ReturnRequestFacts) -> dict[str, float]:
    now = request.at
    recent_orders = [o for o in history.orders if now - timedelta(days=180) <= o.at < now]
    past = [r for r in history.returns if r.at < now]
    recent_returns = [r for r in past if r.at >= now - timedelta(days=180)]
    bought = sum(o.units for o in recent_orders)
    returned = sum(r.units for r in recent_returns) + request.units
    soft = [r for r in past if r.reason in ("changed_mind", "size_or_fit") and r.graded_used is not None]
    mean_bought = (sum(o.value for o in recent_orders) / bought) if bought else 0.0
    mean_returned = (sum(r.value for r in recent_returns) + request.value) / returned if returned else 0.0
    mismatched = [r for r in past if r.from_postal[:5] != r.order_ship_postal[:5]]
    return {
        "return_rate": min(returned / bought, 3.0) if bought else 1.0,
        "serial": float(sum(1 for r in past if r.at >= now - timedelta(days=90)) + 1),
        "velocity": float(sum(1 for r in past if r.at >= now - timedelta(days=7))),
        "wardrobing": (sum(1 for r in soft if r.graded_used) / len(soft)) if soft else 0.0,
        "address_mismatch": float(request.from_postal[:5] != request.order_ship_postal[:5])
        + (len(mismatched) / len(past) if past else 0.0),
        "high_value_only": min(mean_returned / mean_bought, 5.0) if mean_bought else 1.0,
        "kept_nothing": (sum(1 for r in recent_returns if r.whole_order) / len(recent_orders))
        if recent_orders else 0.0,
    }


def _vector(f: dict[str, float]) -> list[float]:
    # serial and velocity are counts: their logarithm keeps one prolific customer from dominating the fit
    return [f["return_rate"], math.log1p(f["serial"]), math.log1p(f["velocity"]), f["wardrobing"],
            f["address_mismatch"], math.log(max(f["high_value_only"], 0.05)), f["kept_nothing"]]


@dataclass
class AbuseModel:
    """Logistic regression on standardised features, fitted by gradient descent with L2."""

    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    threshold: float = 0.5

    def fit(self, rows: Sequence[dict[str, float]], labels: Sequence[bool], *, epochs: int = 400,
            rate: float = 0.3, l2: float = 1e-3) -> AbuseModel:
        if not rows or len(rows) != len(labels):
            raise ValueError("fit needs as many labels as rows, and at least one row")
        xs = [_vector(r) for r in rows]
        n, k = len(xs), len(xs[0])
        self.means = [sum(x[j] for x in xs) / n for j in range(k)]
        self.scales = [max(1e-6, math.sqrt(sum((x[j] - self.means[j]) ** 2 for x in xs) / n)) for j in range(k)]
        zs = [[(x[j] - self.means[j]) / self.scales[j] for j in range(k)] for x in xs]
        ys = [1.0 if y else 0.0 for y in labels]
        positives = sum(ys)
        # Abusers are rare: weight the classes so the fit is not just "nobody abuses".
        w_pos = n / (2 * positives) if positives else 1.0
        w_neg = n / (2 * (n - positives)) if n - positives else 1.0
        self.weights, self.bias = [0.0] * k, 0.0
        for _ in range(epochs):
            grad, gbias = [0.0] * k, 0.0
            for z, y in zip(zs, ys, strict=True):
                p = _sigmoid(self.bias + sum(w * v for w, v in zip(self.weights, z, strict=True)))
                err = (p - y) * (w_pos if y else w_neg)
                gbias += err
                for j in range(k):
                    grad[j] += err * z[j]
            self.bias -= rate * gbias / n
            self.weights = [w - rate * (g / n + l2 * w) for w, g in zip(self.weights, grad, strict=True)]
        return self

    def score(self, f: dict[str, float]) -> float:
        x = _vector(f)
        z = [(v - m) / s for v, m, s in zip(x, self.means, self.scales, strict=True)]
        return _sigmoid(self.bias + sum(w * v for w, v in zip(self.weights, z, strict=True)))

    def calibrate(self, rows: Sequence[dict[str, float]], labels: Sequence[bool], min_precision: float) -> float:
        """The lowest threshold whose precision on (rows, labels) is at least `min_precision`: the most abusers
        found while keeping false alarms on honest customers rare."""
        scored = sorted(((self.score(r), y) for r, y in zip(rows, labels, strict=True)), reverse=True)
        best, tp, fp = 1.0, 0, 0
        for s, y in scored:
            tp, fp = tp + bool(y), fp + (not y)
            if tp and tp / (tp + fp) >= min_precision:
                best = s
        self.threshold = best
        return best

    def to_dict(self) -> dict[str, object]:
        return {"features": list(FEATURES), "weights": self.weights, "bias": self.bias, "means": self.means,
                "scales": self.scales, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AbuseModel:
        if data.get("features") != list(FEATURES):
            raise ValueError("the stored model was fitted on other features")
        k = len(FEATURES)
        parts = {name: [float(v) for v in data[name]] for name in ("weights", "means", "scales")}  # type: ignore[attr-defined]
        if any(len(v) != k for v in parts.values()):
            raise ValueError(f"the stored model needs {k} weights, means and scales")
        return cls(weights=parts["weights"], bias=float(data["bias"]), means=parts["means"],  # type: ignore[arg-type]
                   scales=parts["scales"], threshold=float(data["threshold"]))  # type: ignore[arg-type]

    def flags(self, f: dict[str, float]) -> bool:
        return self.score(f) >= self.threshold

    def evidence(self, f: dict[str, float]) -> list[dict[str, object]]:
        """What a person sees: each feature's value, what is usual, and how much it pushed the score."""
        z = [(v - m) / s for v, m, s in zip(_vector(f), self.means, self.scales, strict=True)]
        parts = [{"feature": name, "value": round(f[name], 3), "usual": USUAL[name],
                  "push": round(w * v, 3)} for name, w, v in zip(FEATURES, self.weights, z, strict=True)]
        return sorted(parts, key=lambda p: -float(p["push"]))  # type: ignore[arg-type]


def default_model() -> AbuseModel:
    """The model shipped with Orderloom: fitted by `python -m evals.returns --write-model` on a generated
    population (no customer data), measured there on a second population it never saw. A store with its own
    labelled history refits it the same way."""
    text = (resources.files("engine.returns") / "abuse_model.json").read_text(encoding="utf-8")
    return AbuseModel.from_dict(json.loads(text))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


# -- refitting on a store's own decisions -------------------------------------------------------------------

MIN_DECIDED, MIN_REFUSED = 200, 20
PRECISION_TARGET, RECALL_TARGET = 0.80, 0.60


@dataclass(frozen=True)
class Decision:
    """One return a person (or the policy) decided: the features it was scored on when asked for, and whether
    a person refused it."""

    at: datetime
    features: dict[str, float]
    refused: bool


@dataclass
class RefitReport:
    decided: int
    refused: int
    fitted_on: int
    measured_on: int
    threshold: float
    precision: float
    recall: float
    meets_targets: bool
    model: AbuseModel | None

    def to_dict(self) -> dict[str, object]:
        return {"decided": self.decided, "refused": self.refused, "fitted_on": self.fitted_on,
                "measured_on": self.measured_on, "threshold": round(self.threshold, 4),
                "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "precision_target": PRECISION_TARGET, "recall_target": RECALL_TARGET,
                "meets_targets": self.meets_targets,
                "weights": dict(zip(FEATURES, (round(w, 3) for w in self.model.weights), strict=True))
                if self.model else None}


class NotEnoughHistory(ValueError):
    """Too few decided returns, or too few refusals, to fit and measure a model honestly."""


def evidence_features(evidence: object) -> dict[str, float]:
    """The feature values stored with a scored return (its evidence), or {} when it was not scored."""
    if not isinstance(evidence, list):
        return {}
    out = {}
    for item in evidence:
        if isinstance(item, dict) and item.get("feature") in FEATURES:
            try:
                value = float(item["value"])
            except (TypeError, ValueError):
                return {}
            if not math.isfinite(value):
                return {}
            out[str(item["feature"])] = value
    return out if set(out) == set(FEATURES) else {}


def refit(decisions: Sequence[Decision], *, holdout: float = 0.3, min_decided: int = MIN_DECIDED,
          min_refused: int = MIN_REFUSED) -> RefitReport:
    """Fit the score on the older part of a store's decided returns and measure it on the newer part it never
    saw (the way it will be used: on what comes next). Refusals by a person are the positives. The threshold
    is the lowest that keeps precision at 0.85 on the fitted part; precision and recall are measured on the
    newer part. Raises NotEnoughHistory, naming the counts, when there is too little to do either honestly."""
    usable = sorted((d for d in decisions if set(d.features) >= set(FEATURES)), key=lambda d: d.at)
    refused = sum(d.refused for d in usable)
    if len(usable) < min_decided or refused < min_refused:
        raise NotEnoughHistory(f"{len(usable)} decided returns with their scores, {refused} refused by a person: "
                               f"fitting needs at least {min_decided} and {min_refused}")
    cut = int(len(usable) * (1 - holdout))
    train, test = usable[:cut], usable[cut:]
    if not any(d.refused for d in train) or not any(d.refused for d in test):
        raise NotEnoughHistory("the refusals all fall on one side of the time split: the older returns to fit on "
                               "and the newer ones to measure on both need some")
    model = AbuseModel().fit([d.features for d in train], [d.refused for d in train])
    threshold = model.calibrate([d.features for d in train], [d.refused for d in train], min_precision=0.85)
    tp = sum(1 for d in test if d.refused and model.flags(d.features))
    fp = sum(1 for d in test if not d.refused and model.flags(d.features))
    fn = sum(1 for d in test if d.refused and not model.flags(d.features))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return RefitReport(decided=len(usable), refused=refused, fitted_on=len(train), measured_on=len(test),
                       threshold=threshold, precision=precision, recall=recall,
                       meets_targets=precision >= PRECISION_TARGET and recall >= RECALL_TARGET, model=model)


def load_model(path: str) -> AbuseModel:
    """A model written by `orderloom returns fit-abuse-model --write PATH`; a clear error when it is unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            return AbuseModel.from_dict(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the abuse model file {path!r} cannot be used: {exc}") from exc
