"""``csbot calibrate``: fit the score to the team's own history, time-ordered, and write a TOML
for a person to review (never applied automatically).

1. Observation dates every ``step_days`` [14] from 90 days into the data to the last date whose
   horizon the data covers (the backtest's censoring rule).
2. **Time-ordered split**: dates on or after ``evaluate_from`` (default: the last third) are the
   evaluation period; the fit uses only earlier dates whose horizon closes before it starts, so
   no label of the fit period reaches into the evaluation period. Never a random split.
3. The fits (``tools.calibrate.fit``): health weights incl. the contract features, the renewal
   horizon, band edges with monotonic churn rates, the renewal-window rule, expansion strength.
4. Before/after: the backtest of the evaluation dates with the current config and with the
   calibrated one. The result says plainly whether the later-period AUC improved.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sqlmodel import Session

from tools.backtest import BacktestReport, history_start, load_terms, run_backtest
from tools.backtest.run import MIN_HISTORY_DAYS, labels_cutoff
from tools.calibrate.fit import (
    choose_bands,
    design,
    fit_churn,
    fit_strength,
    labels,
    order_auc,
)
from tools.calibrate.samples import collect
from tools.health import composite
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig, deep_merge, dict_as_toml

WINDOW_CANDIDATES = (30, 45, 60, 90)
EVAL_BOOTSTRAP = 200


class CalibrationError(ValueError):
    """Not enough history to calibrate (too few dates, no churners): the message says which."""


class CalibrationResult(BaseModel):
    """What calibrate fitted, from which dates, and how it did on the later period."""

    fitted_on: date
    fit_dates: list[date]
    evaluate_dates: list[date]
    skipped_fit_dates: list[date] = Field(
        default_factory=list, description="Before evaluate_from, but the horizon reaches into it."
    )
    overrides: dict[str, Any] = Field(description="The TOML tables written (over the defaults).")
    toml: str
    before: BacktestReport
    after: BacktestReport
    improved: bool
    messages: list[str]


def _dates(first: date, last: date, step_days: int) -> list[date]:
    out, d = [], first
    while d <= last:
        out.append(d)
        d += timedelta(days=step_days)
    return out


def calibration_dates(
    session: Session,
    *,
    today: date,
    horizon_days: int,
    step_days: int,
    start: date | None,
    end: date | None,
    as_of: date | None,
) -> list[date]:
    """Observation dates for calibrate (only ones whose horizon the data covers)."""
    cutoff = labels_cutoff(session, today=today, as_of=as_of)
    history = history_start(session)
    if cutoff is None or history is None:
        return []
    first = start or history + timedelta(days=MIN_HISTORY_DAYS)
    last = min(end or cutoff, cutoff - timedelta(days=horizon_days))
    return _dates(first, last, step_days)


def run_calibration(
    session: Session,
    *,
    config: ScoringConfig,
    today: date,
    horizon_days: int = 60,
    upsell_days: int = 90,
    grace_days: int = 30,
    step_days: int = 14,
    start: date | None = None,
    end: date | None = None,
    evaluate_from: date | None = None,
    as_of: date | None = None,
    k: int = 50,
    c: float = 1.0,
) -> CalibrationResult:
    """Fit on the earlier observation dates, evaluate on the later ones, return the TOML."""
    dates = calibration_dates(
        session,
        today=today,
        horizon_days=horizon_days,
        step_days=step_days,
        start=start,
        end=end,
        as_of=as_of,
    )
    if len(dates) < 3:
        raise CalibrationError(
            f"only {len(dates)} observation date(s) fit in the data: calibrate needs at least 3 "
            f"({MIN_HISTORY_DAYS} days of history, then dates every {step_days} days up to "
            f"{horizon_days} days before the data ends)"
        )
    split = evaluate_from or dates[(2 * len(dates)) // 3]
    evaluate = [d for d in dates if d >= split]
    earlier = [d for d in dates if d < split]
    fit_dates = [d for d in earlier if d + timedelta(days=horizon_days) < split]
    skipped = [d for d in earlier if d not in fit_dates]
    if not evaluate or len(fit_dates) < 2:
        raise CalibrationError(
            f"the split at {split} leaves {len(fit_dates)} fit date(s) and {len(evaluate)} "
            "evaluation date(s); calibrate needs at least 2 and 1 (use --evaluate-from)"
        )
    cutoff = labels_cutoff(session, today=today, as_of=as_of)
    terms = load_terms(session, known_by=cutoff)
    upsell_seen = [
        cutoff is not None and d + timedelta(days=upsell_days) < split for d in fit_dates
    ]
    samples = collect(
        session,
        config=config,
        dates=fit_dates,
        terms=terms,
        horizon_days=horizon_days,
        upsell_days=upsell_days,
        grace_days=grace_days,
        upsell_seen=upsell_seen,
    )
    churn = fit_churn(
        samples,
        renewal_candidates=(horizon_days, 2 * horizon_days, 180, 365),
        c=c,
    )
    if churn is None:
        raise CalibrationError(
            f"the fit period ({fit_dates[0]} to {fit_dates[-1]}) has fewer than 2 churned "
            "account-dates: there is nothing to fit the churn weights on"
        )
    messages: list[str] = []
    y = labels(samples)
    x = design(samples, churn.renewal_horizon_days)
    vector = [churn.weights[key] for key in SIGNAL_KEYS]
    scores, _ = composite(x, np.array(vector), 50.0)
    bands = choose_bands(scores, y)
    rates = ", ".join(
        f"{b} {r:.1%}" if r is not None else f"{b} empty" for b, r in bands.rates.items()
    )
    if not bands.monotonic:
        messages.append(
            "No band edges gave churn rates falling strictly RED > AMBER > GREEN on the fit "
            f"period; the edges written give {rates}."
        )
    else:
        messages.append(f"Band edges {bands.amber:g}/{bands.green:g}: fit-period churn {rates}.")
    overrides: dict[str, Any] = {
        "health": {
            "green": bands.green,
            "amber": bands.amber,
            "all_missing_score": round(float(np.median(scores)), 1) if scores.size else 50.0,
            "weights": churn.weights,
            "normalise": {"renewal_horizon_days": churn.renewal_horizon_days},
        },
    }
    window_scores: dict[int, float | None] = {}
    for window in WINDOW_CANDIDATES:
        trial = _apply(config, deep_merge(overrides, {"churn": {"renewal_window_days": window}}))
        window_scores[window] = order_auc(session, samples, trial)
    best_window = max(window_scores, key=lambda w: window_scores[w] or 0.0)
    overrides["churn"] = {"renewal_window_days": best_window}
    strength = fit_strength(samples, c=c)
    if strength is not None:
        overrides["expansion"] = {"strength": strength.model_dump()}
    else:
        messages.append(
            "Too few observed upsells in the fit period to fit the expansion strength: "
            "its weights are left as they are."
        )
    observations = int(y.size)
    overrides["calibration"] = {
        "fitted_on": today,
        "fit_from": fit_dates[0],
        "fit_to": fit_dates[-1],
        "evaluate_from": evaluate[0],
        "evaluate_to": evaluate[-1],
        "horizon_days": horizon_days,
        "observations": observations,
        "churners": int(y.sum()),
        "model": f"scikit-learn LogisticRegression (L2, C={c}), non-negative health weights",
    }
    calibrated = _apply(config, overrides)
    before = run_backtest(
        session,
        config=config,
        today=today,
        horizon_days=horizon_days,
        upsell_days=upsell_days,
        grace_days=grace_days,
        observation_dates=evaluate,
        as_of=as_of,
        bootstrap=EVAL_BOOTSTRAP,
        k=k,
    )
    after = run_backtest(
        session,
        config=calibrated,
        today=today,
        horizon_days=horizon_days,
        upsell_days=upsell_days,
        grace_days=grace_days,
        observation_dates=evaluate,
        as_of=as_of,
        bootstrap=EVAL_BOOTSTRAP,
        k=k,
    )
    old, new = before.pooled.churn.auc.value, after.pooled.churn.auc.value
    improved = old is not None and new is not None and new > old
    if old is None or new is None:
        messages.append("The evaluation period has no churner (or only churners): AUC unknown.")
    elif improved:
        messages.append(f"Later-period churn AUC improved: {old:.3f} -> {new:.3f}.")
    else:
        messages.append(
            f"Later-period churn AUC did NOT improve ({old:.3f} -> {new:.3f}): keep the "
            "current config, or review the fitted weights before applying them."
        )
    if churn.dropped:
        messages.append(
            "Weight 0 (on your history a higher value went with more churn): "
            + ", ".join(churn.dropped)
            + "."
        )
    if churn.absent:
        messages.append("Weight 0 (never present in your data): " + ", ".join(churn.absent) + ".")
    messages.append("Weight 0: tam_health (only today's value is stored; no history to fit).")
    if skipped:
        messages.append(
            f"{len(skipped)} date(s) before the evaluation period were not fitted: their "
            f"{horizon_days}-day labels reach into it."
        )
    return CalibrationResult(
        fitted_on=today,
        fit_dates=fit_dates,
        evaluate_dates=evaluate,
        skipped_fit_dates=skipped,
        overrides=overrides,
        toml=calibration_toml(overrides, messages),
        before=before,
        after=after,
        improved=improved,
        messages=messages,
    )


def _apply(config: ScoringConfig, overrides: dict[str, Any]) -> ScoringConfig:
    return ScoringConfig.model_validate(deep_merge(config.model_dump(mode="python"), overrides))


def calibration_toml(overrides: dict[str, Any], messages: list[str]) -> str:
    """The reviewed-not-applied TOML: a header saying how to apply it, then the tables."""
    info = overrides["calibration"]
    header = [
        "# Written by `csbot calibrate`: REVIEW before applying. Nothing uses this file until",
        "# you point SCORING_CONFIG at it (`csbot config show` then names it and its fit date).",
        f"# Fitted on {info['fit_from']}..{info['fit_to']} ({info['observations']} account-dates,"
        f" {info['churners']} churned within {info['horizon_days']} days);",
        f"# evaluated on {info['evaluate_from']}..{info['evaluate_to']}.",
    ]
    header += [f"# {m}" for m in messages]
    return "\n".join(header) + "\n\n" + dict_as_toml(overrides)
