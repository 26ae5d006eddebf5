"""The fits behind ``csbot calibrate``: scikit-learn's regularised logistic regression (a well-kept
optimiser, not ours), mapped onto the product's additive score so every fitted weight is a health
weight a person can read, review and apply.

- **Churn weights.** ``LogisticRegression`` (L2, ``C``) of "churned within the horizon" on the
  normalised 0-100 signals (health-oriented: higher = healthier), missing values filled with the
  fit period's mean. A signal whose coefficient says "healthier means more churn" cannot be a
  non-negative health weight: the strongest such signal is dropped and the model refitted until
  every coefficient points the right way. ``weight = -coefficient`` (scaled to sum to 100), so the
  product's weighted mean ``Σ w·s / Σ w`` is a monotone map of the fitted linear predictor.
- **Renewal horizon.** ``renewal_proximity = 100·clip(days to renewal / H)``; the ``H`` with the
  best fit-period AUC of the resulting score wins (the churn horizon itself is a candidate: an
  annual account whose term ends after it cannot churn inside it).
- **Band edges.** Whole-number score quantiles of the fit period, the first pair in a preference
  list whose churn rates fall strictly RED > AMBER > GREEN.
- **Risk-level rule.** ``churn.renewal_window_days``: the candidate with the best fit-period AUC
  of the ``/churn`` order (level, then score).
- **Expansion strength.** ``LogisticRegression`` of "upsold within the upsell window" on the
  strength components; intercept and coefficients become ``[expansion.strength]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sqlmodel import Session

from tools.backtest.metrics import auc
from tools.calibrate.samples import BoolArray, FloatArray, Sample
from tools.churn import churn_from_raw
from tools.expansion_strength import COMPONENTS, StrengthWeights
from tools.health import composite, score_raw
from tools.results import RiskLevel
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig

# Only today's value is stored: there is no history to fit it on.
UNFITTABLE: tuple[str, ...] = ("tam_health",)
# (share of fit-period scores in RED, share below GREEN), tried in this order.
BAND_PREFERENCES: tuple[tuple[float, float], ...] = tuple(
    (red, green)
    for green in (0.5, 0.4, 0.6, 0.3, 0.7, 0.8)
    for red in (0.1, 0.15, 0.2, 0.05, 0.25, 0.3)
    if red < green
)
LEVEL_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}
RENEWAL_COLUMN = SIGNAL_KEYS.index("renewal_proximity")


@dataclass
class ChurnFit:
    """Health weights (summing to 100) and the renewal horizon that scored best."""

    weights: dict[str, float]
    renewal_horizon_days: int
    dropped: list[str]  # fitted with the wrong sign: weight 0
    absent: list[str]  # never present in the fit period: weight 0
    fit_auc: float | None


@dataclass
class BandFit:
    green: float
    amber: float
    monotonic: bool
    rates: dict[str, float | None]


def design(samples: Sequence[Sample], renewal_horizon_days: int) -> FloatArray:
    """The signal matrix of every sample, with renewal proximity on the candidate horizon."""
    blocks = []
    for s in samples:
        x = s.signals.copy()
        days = s.raw.days_to_renewal
        x[:, RENEWAL_COLUMN] = np.where(
            s.raw.active, 100.0 * np.clip(days / renewal_horizon_days, 0.0, 1.0), np.nan
        )
        blocks.append(x)
    return np.vstack(blocks) if blocks else np.zeros((0, len(SIGNAL_KEYS)))


def labels(samples: Sequence[Sample]) -> BoolArray:
    """Churn labels of every sample, stacked."""
    return np.concatenate([s.churned for s in samples]) if samples else np.zeros(0, np.bool_)


def _fit_signs(x: FloatArray, y: BoolArray, keys: list[str], c: float) -> dict[str, float]:
    """Non-negative health weights: refit without the worst wrong-signed signal until none."""
    active = list(keys)
    while active:
        cols = [SIGNAL_KEYS.index(k) for k in active]
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(x[:, cols] / 100.0, y)
        coefs = model.coef_[0]
        worst = int(np.argmax(coefs))
        if coefs[worst] <= 0:
            return {k: float(-v) for k, v in zip(active, coefs, strict=True)}
        active.pop(worst)
    return {}


def fit_churn(
    samples: Sequence[Sample], *, renewal_candidates: Sequence[int], c: float = 1.0
) -> ChurnFit | None:
    """The health weights and renewal horizon that best rank the fit period's churners."""
    y = labels(samples)
    if y.sum() < 2 or y.all():
        return None
    best: ChurnFit | None = None
    for horizon in sorted(set(renewal_candidates)):
        x = design(samples, horizon)
        present = ~np.isnan(x)
        absent = [
            k for j, k in enumerate(SIGNAL_KEYS) if not present[:, j].any() and k not in UNFITTABLE
        ]
        keys = [k for k in SIGNAL_KEYS if k not in UNFITTABLE and k not in absent]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.where(
                present.any(axis=0), np.nanmean(np.where(present, x, np.nan), axis=0), 50.0
            )
        filled = np.where(present, x, means[np.newaxis, :])
        raw_weights = _fit_signs(filled, y, keys, c)
        total = sum(raw_weights.values())
        if total <= 0:
            continue
        weights = {k: round(100.0 * raw_weights.get(k, 0.0) / total, 3) for k in SIGNAL_KEYS}
        vector = np.array([weights[k] for k in SIGNAL_KEYS])
        scores, _ = composite(x, vector, 50.0)
        got = auc((100.0 - scores).tolist(), y.tolist()).value
        if best is None or (got or 0.0) > (best.fit_auc or 0.0):
            best = ChurnFit(
                weights=weights,
                renewal_horizon_days=horizon,
                dropped=[k for k in keys if k not in raw_weights],
                absent=absent,
                fit_auc=got,
            )
    return best


def band_rates(
    shown: FloatArray, y: BoolArray, green: float, amber: float
) -> dict[str, float | None]:
    """Churn rate per band for scores as shown (rounded)."""
    groups = {
        "RED": shown < amber,
        "AMBER": (shown >= amber) & (shown < green),
        "GREEN": shown >= green,
    }
    return {b: (float(y[m].mean()) if m.any() else None) for b, m in groups.items()}


def choose_bands(scores: FloatArray, y: BoolArray) -> BandFit:
    """Band edges from score quantiles: the first pair with churn rates RED > AMBER > GREEN."""
    shown = np.round(scores)
    fallback: BandFit | None = None
    weak: BandFit | None = None  # RED > AMBER >= GREEN: when no churner is left to split
    for red_q, green_q in BAND_PREFERENCES:
        amber = float(np.round(np.quantile(shown, red_q))) + 1.0  # RED = scores below amber
        green = float(np.round(np.quantile(shown, green_q))) + 1.0
        amber, green = min(amber, 100.0), min(green, 100.0)
        if amber >= green:
            continue
        rates = band_rates(shown, y, green, amber)
        red, mid, top = rates["RED"], rates["AMBER"], rates["GREEN"]
        fit = BandFit(green=green, amber=amber, monotonic=False, rates=rates)
        if fallback is None:
            fallback = fit
        if red is not None and mid is not None and top is not None and red > mid > top:
            fit.monotonic = True
            return fit
        complete = red is not None and mid is not None and top is not None
        if weak is None and complete and red > mid >= top:  # type: ignore[operator]
            weak = fit
    return weak or fallback or BandFit(green=70.0, amber=55.0, monotonic=False, rates={})


def order_auc(session: Session, samples: Sequence[Sample], config: ScoringConfig) -> float | None:
    """AUC of the /churn order (level, then 100 - score) over the samples under ``config``."""
    keys: list[float] = []
    ys: list[bool] = []
    for s in samples:
        health = score_raw(session, s.raw, config=config, use_static_fields=False, trends=False)
        risks = churn_from_raw(s.raw, config=config, health=health)
        for account_id, churned in zip(s.ids, s.churned.tolist(), strict=True):
            if account_id in risks:
                level = LEVEL_RANK[risks[account_id].level]
                keys.append(1000.0 * level + 100.0 - health[account_id].score)
                ys.append(bool(churned))
    return auc(keys, ys).value


def fit_strength(samples: Sequence[Sample], c: float = 1.0) -> StrengthWeights | None:
    """Strength weights fitted to the upsells of the samples whose upsell window is observed."""
    seen = [s for s in samples if s.upsell_seen]
    if not seen:
        return None
    x = np.vstack([s.strength for s in seen])
    y = np.concatenate([s.upsold for s in seen])
    if y.sum() < 3 or y.all():
        return None
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, y)
    values = {k: round(float(v), 4) for k, v in zip(COMPONENTS, model.coef_[0], strict=True)}
    return StrengthWeights(intercept=round(float(model.intercept_[0]), 4), **values)
