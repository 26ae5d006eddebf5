"""Signal normalisation (0-100 per signal, NumPy over whole arrays), the composite and bands.

The formulas are in the ``tools.health`` docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tools.facts.extract import RawMetrics
from tools.results import Band
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig

FloatArray = npt.NDArray[np.float64]

LABELS: dict[str, tuple[str, str]] = {
    "adoption": ("Feature adoption", "% of plan features"),
    "tickets": ("Support tickets", "tickets / 90 days"),
    "interaction_recency": ("Last meaningful interaction", "days ago"),
    "login_frequency": ("Login frequency", "logins / active seat / week"),
    "usage_trend": ("Usage trend", "% change vs prior 4 weeks"),
    "payment": ("Invoices & payment", "$ overdue"),
    "stakeholder": ("Stakeholder engagement", "days since champion engaged"),
    "nps": ("NPS / CSAT", "NPS (-100..100), else mean CSAT (1-5)"),
    "renewal_proximity": ("Renewal proximity", "days to renewal"),
    "seat_utilisation": ("Seats used vs purchased", "% of seats used"),
    "escalations": ("Escalation history", "escalated tickets / 180 days"),
    "tam_health": ("TAM technical health", "/100"),
    "tenure": ("Customer tenure", "days since the first contract"),
    "term_length": ("Contract term", "days in the current term"),
    "seat_trend": ("Active-user trend", "% change in active-user days vs prior 4 weeks"),
}


def band_for(score: float, config: ScoringConfig) -> Band:
    """GREEN / AMBER / RED for a composite score, judged as shown: rounded to a whole number,
    so a card never reads "70/100 · AMBER" with the GREEN edge at 70."""
    shown = round(score)
    if shown >= config.health.green:
        return Band.GREEN
    if shown >= config.health.amber:
        return Band.AMBER
    return Band.RED


def _clip01(x: FloatArray) -> FloatArray:
    return np.clip(x, 0.0, 1.0)


def _linear_decay(days: FloatArray, full: float, zero: float, floor: float = 0.0) -> FloatArray:
    """100 up to ``full`` days, ``floor`` from ``zero`` days on, linear in between."""
    share = _clip01((days - full) / (zero - full))
    return 100.0 - (100.0 - floor) * share


@dataclass
class SignalMatrix:
    """Normalised scores and raw values, shape (accounts, signals); NaN = missing."""

    raw_metrics: RawMetrics
    scores: FloatArray
    raw: FloatArray
    logins_change: FloatArray
    users_change: FloatArray


def _usage_change(recent: FloatArray, prior: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(prior > 0, (recent - prior) / np.where(prior > 0, prior, 1.0), 0.0)
    return np.where((prior <= 0) & (recent > 0), 1.0, change)


def signal_matrix(raw: RawMetrics, config: ScoringConfig) -> SignalMatrix:
    """Every signal of every account, normalised to 0-100 (formulas in the module docstring)."""
    norm = config.health.normalise
    n = len(raw)
    nan = np.full(n, np.nan)
    scores: dict[str, FloatArray] = {}
    values: dict[str, FloatArray] = {}

    available = raw.features_available
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.minimum(raw.features_used / np.where(available > 0, available, 1.0), 1.0)
    adoption_missing = (raw.feature_rows <= 0) | (available <= 0)
    values["adoption"] = np.where(adoption_missing, nan, rate * 100.0)
    scores["adoption"] = np.where(
        adoption_missing, nan, 100.0 * _clip01(rate / norm.adoption_target)
    )

    months = norm.ticket_window_days / 30.0
    per10 = raw.tickets_window / months / np.maximum(raw.seats_used, 1.0) * 10.0
    volume = 100.0 * _clip01(1.0 - per10 / norm.tickets_per_10_users_max)
    sentiment = (np.clip(raw.sentiment_mean, -1.0, 1.0) + 1.0) * 50.0
    share = norm.ticket_volume_share
    tickets = np.where(np.isnan(sentiment), volume, share * volume + (1.0 - share) * sentiment)
    # No tickets is good news only for a customer: without any contract it is missing.
    scores["tickets"] = np.where(raw.has_contract, tickets, nan)
    values["tickets"] = raw.tickets_window.copy()

    days = raw.days_since_interaction
    scores["interaction_recency"] = np.where(
        np.isnan(days),
        nan,
        _linear_decay(days, norm.interaction_recent_days, norm.interaction_stale_days),
    )
    values["interaction_recency"] = days.copy()

    weeks = norm.usage_window_days / 7.0
    per_seat = raw.activity_recent / weeks / np.maximum(raw.seats_used, 1.0)
    target = np.where(
        raw.activity_is_logins,
        norm.logins_per_seat_week_target,
        config.activity.active_days_per_seat_week_target,
    )
    no_recent = raw.active_days_recent <= 0
    brand_new = ~(raw.tenure_days >= norm.new_account_days) & (raw.active_days_prior <= 0)
    login_missing = no_recent & brand_new
    per_seat = np.where(no_recent, 0.0, per_seat)
    values["login_frequency"] = np.where(login_missing, nan, per_seat)
    scores["login_frequency"] = np.where(login_missing, nan, 100.0 * _clip01(per_seat / target))

    logins_change = _usage_change(raw.activity_recent, raw.activity_prior)
    users_change = _usage_change(raw.user_days_recent, raw.user_days_prior)
    change = np.minimum(logins_change, users_change)
    trend_missing = raw.active_days_prior <= 0
    values["usage_trend"] = np.where(trend_missing, nan, change * 100.0)
    scores["usage_trend"] = np.where(
        trend_missing,
        nan,
        50.0 + 50.0 * np.clip(change / norm.usage_trend_full_scale, -1.0, 1.0),
    )

    overdue_days = np.nan_to_num(raw.overdue_days, nan=0.0)
    payment = np.where(
        raw.overdue_amount > 0,
        norm.overdue_cap * (1.0 - _clip01(overdue_days / norm.overdue_zero_days)),
        100.0,
    )
    scores["payment"] = np.where(raw.invoices <= 0, nan, payment)
    values["payment"] = np.where(raw.invoices <= 0, nan, raw.overdue_amount)

    engaged = raw.champion_engaged_days
    champion = np.where(
        np.isnan(engaged),
        norm.champion_stale_score,
        _linear_decay(
            engaged, norm.champion_engaged_days, norm.champion_stale_days, norm.champion_stale_score
        ),
    )
    stakeholder = np.where(raw.champion_present, champion, 0.0)
    scores["stakeholder"] = np.where(raw.contacts_known <= 0, nan, stakeholder)
    values["stakeholder"] = np.where(raw.champion_present, engaged, nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        nps_value = 100.0 * (raw.nps_promoters - raw.nps_detractors) / raw.nps_count
    nps_value = np.where(raw.nps_count > 0, nps_value, nan)
    nps = (nps_value + 100.0) / 2.0
    csat = np.clip((raw.csat_mean - 1.0) * 25.0, 0.0, 100.0)
    both = np.stack([nps, csat])
    has_any = ~np.all(np.isnan(both), axis=0)
    with np.errstate(invalid="ignore"):
        survey = np.where(
            has_any,
            np.nansum(both, axis=0) / np.maximum(np.sum(~np.isnan(both), axis=0), 1),
            np.nan,
        )
    scores["nps"] = survey
    values["nps"] = np.where(np.isnan(nps_value), raw.csat_mean, nps_value)

    to_renewal = raw.days_to_renewal
    renewal = 100.0 * _clip01(to_renewal / norm.renewal_horizon_days)
    scores["renewal_proximity"] = np.where(raw.active, renewal, nan)
    values["renewal_proximity"] = np.where(raw.active, to_renewal, nan)

    purchased = raw.seats_purchased
    seat_ok = raw.active & (np.nan_to_num(purchased, nan=0.0) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(seat_ok, raw.seats_used / np.where(seat_ok, purchased, 1.0), nan)
    scores["seat_utilisation"] = np.where(
        seat_ok, 100.0 * _clip01(util / norm.seat_target_utilisation), nan
    )
    values["seat_utilisation"] = util * 100.0

    escalations = (
        100.0
        - norm.escalation_penalty * raw.escalated_window
        - norm.open_escalation_penalty * raw.open_escalated
    )
    scores["escalations"] = np.where(raw.has_contract, np.maximum(escalations, 0.0), nan)
    values["escalations"] = raw.escalated_window.copy()

    scores["tam_health"] = np.clip(raw.tam_health, 0.0, 100.0)
    values["tam_health"] = raw.tam_health.copy()

    scores["tenure"] = np.where(
        raw.has_contract, 100.0 * _clip01(raw.tenure_days / norm.tenure_full_days), nan
    )
    values["tenure"] = np.where(raw.has_contract, raw.tenure_days, nan)
    scores["term_length"] = np.where(
        raw.active, 100.0 * _clip01(raw.term_days / norm.term_full_days), nan
    )
    values["term_length"] = np.where(raw.active, raw.term_days, nan)
    scores["seat_trend"] = np.where(
        trend_missing,
        nan,
        50.0 + 50.0 * np.clip(users_change / norm.usage_trend_full_scale, -1.0, 1.0),
    )
    values["seat_trend"] = np.where(trend_missing, nan, users_change * 100.0)

    width = len(SIGNAL_KEYS)
    score_matrix = np.column_stack([scores[k] for k in SIGNAL_KEYS]) if n else np.zeros((0, width))
    raw_matrix = np.column_stack([values[k] for k in SIGNAL_KEYS]) if n else np.zeros((0, width))
    return SignalMatrix(
        raw_metrics=raw,
        scores=score_matrix.astype(np.float64),
        raw=raw_matrix.astype(np.float64),
        logins_change=logins_change,
        users_change=users_change,
    )


def composite(
    scores: FloatArray, weights: FloatArray, all_missing_score: float
) -> tuple[FloatArray, FloatArray]:
    """Composite scores (rounded to 0.1) and effective weights; missing signals re-weighted.

    ``scores`` is (accounts, signals) with NaN for missing; ``weights`` is (signals,). Rows where
    no present signal has weight get ``all_missing_score`` and all-zero effective weights.
    """
    present = ~np.isnan(scores)
    raw_weights = np.where(present, weights[np.newaxis, :], 0.0)
    totals = raw_weights.sum(axis=1)
    safe_totals = np.where(totals > 0, totals, 1.0)
    effective = raw_weights / safe_totals[:, np.newaxis]
    weighted = np.where(present, scores, 0.0) * effective
    composite_scores = np.where(totals > 0, weighted.sum(axis=1), all_missing_score)
    return np.round(np.clip(composite_scores, 0.0, 100.0), 1), effective


def signal_weights(config: ScoringConfig) -> FloatArray:
    w = config.health.weights.as_dict()
    return np.array([w[k] for k in SIGNAL_KEYS], dtype=np.float64)
