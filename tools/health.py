"""Composite health score: twelve signals, each normalised to 0-100, weighted into one score.

Raw metrics come from the metric layer, ``tools.facts.extract.extract_raw`` (set-based, complete
days); everything below is NumPy over whole arrays. Parameters live in ``[health.normalise]`` of
the scoring config (defaults in brackets); ``clip`` limits to [0, 1].

==================== ============================================================================
signal               0-100 normalisation
==================== ============================================================================
adoption             rate = distinct features used in the last ``adoption_window_days`` [30] /
                     features available to the plan tier (capped at 1);
                     ``100·clip(rate / adoption_target [0.6])``. Missing when the account has no
                     feature-usage rows in the last 3 windows or the catalogue is empty.
tickets              per10 = tickets opened in ``ticket_window_days`` [90], per 30 days, per 10
                     active seats (seats used, at least 1);
                     volume = ``100·clip(1 - per10 / tickets_per_10_users_max [2])``;
                     sentiment = ``(mean sentiment + 1)·50``; score = ``share·volume + (1-share)·
                     sentiment`` with share = ``ticket_volume_share`` [0.5] (volume alone when no
                     ticket has a sentiment). No tickets = 100. Missing for an account that has
                     never had a contract (as for escalations).
interaction_recency  d = days since the last meaningful interaction; 100 when d ≤
                     ``interaction_recent_days`` [14], 0 when d ≥ ``interaction_stale_days`` [90],
                     linear between. Missing when there has never been one.
login_frequency      x = logins in the last ``usage_window_days`` [28] per week per active seat
                     (seats used = peak daily active users in that window);
                     ``100·clip(x / logins_per_seat_week_target [10])`` (two sessions a working
                     day). No usage rows in the window = 0, unless the account is younger than
                     ``new_account_days`` [14] and has no earlier usage (then missing).
usage_trend          change = the worse of the relative change of logins and of active-user-days,
                     last window vs the window before;
                     ``50 + 50·clip(change / usage_trend_full_scale [0.5], -1, 1)``
                     (-50% → 0, flat → 50, +50% → 100). Missing when the prior window has no
                     usage rows (new accounts).
payment              Missing when no invoice was issued by as_of. Nothing overdue = 100; else
                     ``overdue_cap [80]·(1 - clip(days overdue of the oldest overdue invoice /
                     overdue_zero_days [90]))``.
stakeholder          Missing when the account has no contacts. No champion present = 0. A present
                     champion engaged d days ago: 100 when d ≤ ``champion_engaged_days`` [30],
                     ``champion_stale_score`` [40] when d ≥ ``champion_stale_days`` [90] or never,
                     linear between (the best present champion counts).
nps                  NPS = %promoters (9-10) - %detractors (0-6) of the NPS answers in
                     ``nps_window_days`` [180], scored ``(NPS + 100) / 2``; mean CSAT (1-5) scored
                     ``(csat-1)·25``; the mean of the two that exist. Missing when none.
renewal_proximity    Missing without an active contract; ``100·clip(days to renewal /
                     renewal_horizon_days [180])`` (auto-renewal does not change it: the customer
                     can still give notice).
seat_utilisation     u = seats used / seats purchased; ``100·clip(u / seat_target_utilisation
                     [0.85])``. Missing without an active contract or with 0 seats purchased.
escalations          ``100 - escalation_penalty [20]·escalated tickets opened in
                     escalation_window_days [180] - open_escalation_penalty [20]·escalated tickets
                     still open``, floored at 0.
tam_health           ``Account.tam_health`` as is; missing when unset or when
                     ``use_static_fields=False``.
tenure               ``100·clip(days since the first contract / tenure_full_days [730])``; missing
                     without any contract. Weight 0 by default (contract feature for calibrate).
term_length          ``100·clip(days in the contract in force / term_full_days [365])`` (monthly
                     ≈ 8, annual = 100); missing without an active contract. Weight 0 by default.
seat_trend           ``50 + 50·clip(change of active-user-days / usage_trend_full_scale, -1, 1)``,
                     last window vs the one before; missing like usage_trend. Weight 0 by default.
==================== ============================================================================

Composite: weights ``w`` from ``[health.weights]``; a missing signal drops out and the others are
re-weighted, ``effective_weight = w / Σ w(present)``; ``score = Σ effective_weight · signal``,
rounded to 0.1. A signal's ``contribution`` is ``effective_weight · signal`` (they add up to the
score); a driver's ``impact`` is ``effective_weight · (signal - 50)``, points vs a neutral 50.
Drivers list the harmful signals first (most harmful first), then the helpful ones, up to
``max_drivers`` [4], skipping impacts under 0.05 points.
If every signal is missing (or every present weight is 0) the score is ``all_missing_score``
[62] (mid-AMBER with the default bands): we know nothing, which is neither healthy nor failing.
Bands: GREEN ≥ ``green`` [70], AMBER ≥ ``amber`` [55], else RED, on the score rounded as shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlmodel import Session, col

from tools.facts.extract import RawMetrics, extract_raw
from tools.models import HealthSnapshot
from tools.results import Band, Driver, HealthResult, SignalScore
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig
from tools.wording import days_from_now, plural

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

# Trend snapshots may be up to this many days older than the exact as_of-30/-90 day (weekly
# backfills land within a week).
TREND_TOLERANCE_DAYS = 6


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


def _fmt_money(value: float) -> str:
    return f"${value:,.0f}"


def _plural(count: float, word: str) -> str:
    c = round(count)
    return f"{c} {word}" if c == 1 else f"{c} {word}s"


def driver_text(key: str, m: SignalMatrix, i: int, config: ScoringConfig) -> str:
    """Plain-language sentence, with its number, for signal ``key`` of account row ``i``."""
    r = m.raw_metrics
    norm = config.health.normalise
    if key == "adoption":
        used, avail = r.features_used[i], r.features_available[i]
        pct = 100.0 * min(used / avail, 1.0) if avail > 0 else 0.0
        return (
            f"uses {int(used)} of {int(avail)} plan features ({pct:.0f}%) "
            f"in the last {norm.adoption_window_days} days"
        )
    if key == "tickets":
        text = (
            f"{_plural(r.tickets_window[i], 'ticket')} in the last {norm.ticket_window_days} days"
        )
        if not np.isnan(r.sentiment_mean[i]):
            text += f", average sentiment {r.sentiment_mean[i]:+.2f}"
        return text
    if key == "interaction_recency":
        return f"last meaningful interaction {days_from_now(-int(r.days_since_interaction[i]))}"
    if key == "login_frequency":
        what = "logins" if r.activity_is_logins[i] else "active days"
        if r.active_days_recent[i] <= 0 or r.activity_recent[i] <= 0:
            none = "logins" if r.activity_is_logins[i] else "activity"
            return f"no {none} in the last {norm.usage_window_days} days"
        per_seat = m.raw[i, SIGNAL_KEYS.index("login_frequency")]
        return f"{per_seat:.1f} {what} per active seat per week"
    if key == "usage_trend":
        # The figure is the signal's value (the worse of the two changes), as on every surface.
        change = m.logins_change[i]
        metric = "logins" if r.activity_is_logins[i] else "active users"
        if m.users_change[i] < change:
            change, metric = m.users_change[i], "active users"
        weeks = norm.usage_window_days // 7
        direction = "down" if change < 0 else "up"
        if abs(change) < 0.005:
            return f"{metric} flat vs the prior {weeks} weeks"
        return f"{metric} {direction} {abs(change) * 100:.0f}% vs the prior {weeks} weeks"
    if key == "payment":
        if r.overdue_amount[i] > 0:
            return (
                f"{_fmt_money(r.overdue_amount[i])} overdue for "
                f"{plural(int(np.nan_to_num(r.overdue_days[i])), 'day')}"
            )
        return "all invoices paid on time"
    if key == "stakeholder":
        return _stakeholder_text(r, i, config)
    if key == "nps":
        if r.nps_count[i] > 0:
            nps = m.raw[i, SIGNAL_KEYS.index("nps")]
            return (
                f"NPS {nps:+.0f} from {_plural(r.nps_count[i], 'response')} in the last "
                f"{norm.nps_window_days} days (average score {r.nps_mean[i]:.1f}/10)"
            )
        return f"average CSAT {r.csat_mean[i]:.1f}/5 in the last {norm.nps_window_days} days"
    if key == "renewal_proximity":
        when = r.renewal_date[i]
        suffix = " (auto-renews)" if r.auto_renew[i] else ""
        return f"renewal in {int(r.days_to_renewal[i])} days on {when}{suffix}"
    if key == "seat_utilisation":
        purchased, used = r.seats_purchased[i], r.seats_used[i]
        unused = max(purchased - used, 0.0) / purchased * 100.0
        if used < purchased:
            return f"{unused:.0f}% of {int(purchased)} seats unused"
        return f"{int(used)} of {int(purchased)} seats in use"
    if key == "escalations":
        text = f"{_plural(r.escalated_window[i], 'escalated ticket')} in the last "
        text += f"{norm.escalation_window_days} days"
        if r.open_escalated[i] > 0:
            text += f", {int(r.open_escalated[i])} still open"
        return text
    if key == "tenure":
        return f"a customer for {_plural(r.tenure_days[i], 'day')}"
    if key == "term_length":
        return f"on a {_plural(r.term_days[i], 'day')} term"
    if key == "seat_trend":
        change = m.users_change[i]
        direction = "down" if change < 0 else "up"
        weeks = norm.usage_window_days // 7
        return f"active users {direction} {abs(change) * 100:.0f}% vs the prior {weeks} weeks"
    return f"TAM technical health {r.tam_health[i]:.0f}/100"


def _stakeholder_text(r: RawMetrics, i: int, config: ScoringConfig) -> str:
    if not r.champion_present[i]:
        if r.champion_left_name[i] is not None:
            return (
                f"champion {r.champion_left_name[i]} left "
                f"{days_from_now(-int(r.champion_left_days[i]))}; no champion now"
            )
        return "no champion on record"
    name = r.champion_name[i]
    days = r.champion_engaged_days[i]
    if np.isnan(days):
        return f"champion {name} has never been engaged"
    return f"champion {name} last engaged {days_from_now(-int(days))}"


def _results(
    m: SignalMatrix,
    scores: FloatArray,
    effective: FloatArray,
    config: ScoringConfig,
    trends: tuple[dict[int, float], dict[int, float]],
) -> dict[int, HealthResult]:
    weights = config.health.weights.as_dict()
    impacts = np.where(np.isnan(m.scores), 0.0, effective * (np.nan_to_num(m.scores) - 50.0))
    contributions = np.where(np.isnan(m.scores), 0.0, effective * np.nan_to_num(m.scores))
    # Harmful drivers first (most harmful first), then helpful ones (most helpful first).
    order = np.argsort(np.where(impacts < 0, impacts - 1000.0, -impacts), axis=1, kind="stable")
    max_drivers = config.health.max_drivers
    as_of = m.raw_metrics.as_of
    out: dict[int, HealthResult] = {}
    ids = m.raw_metrics.ids.tolist()
    score_list = scores.tolist()
    for i, account_id in enumerate(ids):
        signals = [
            SignalScore.model_construct(
                key=key,
                label=LABELS[key][0],
                raw=None if np.isnan(m.raw[i, j]) else round(float(m.raw[i, j]), 2),
                unit=LABELS[key][1],
                score=None if np.isnan(m.scores[i, j]) else round(float(m.scores[i, j]), 1),
                weight=weights[key],
                effective_weight=round(float(effective[i, j]), 4),
                contribution=round(float(contributions[i, j]), 2),
            )
            for j, key in enumerate(SIGNAL_KEYS)
        ]
        drivers = [
            Driver.model_construct(
                signal=SIGNAL_KEYS[j],
                text=driver_text(SIGNAL_KEYS[j], m, i, config),
                impact=round(float(impacts[i, j]), 1),
            )
            for j in order[i, :max_drivers].tolist()
            if abs(impacts[i, j]) >= 0.05
        ]
        score = score_list[i]
        past30, past90 = trends[0].get(account_id), trends[1].get(account_id)
        out[account_id] = HealthResult.model_construct(
            account_id=account_id,
            as_of=as_of,
            score=score,
            band=band_for(score, config),
            signals=signals,
            drivers=drivers,
            trend_30d=None if past30 is None else round(score - past30, 1),
            trend_90d=None if past90 is None else round(score - past90, 1),
        )
    return out


def _weights(config: ScoringConfig) -> FloatArray:
    w = config.health.weights.as_dict()
    return np.array([w[k] for k in SIGNAL_KEYS], dtype=np.float64)


def scores_only(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
) -> dict[int, float]:
    """Composite scores only (no drivers, no trends): the cheap path used for history."""
    raw = extract_raw(
        session,
        as_of=as_of,
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
    )
    m = signal_matrix(raw, config)
    scores, _ = composite(m.scores, _weights(config), config.health.all_missing_score)
    return dict(zip(raw.ids.tolist(), scores.tolist(), strict=True))


def _stored_scores(
    session: Session, day: date, account_ids: Sequence[int] | None
) -> dict[int, float]:
    stmt = select(
        col(HealthSnapshot.account_id), col(HealthSnapshot.day), col(HealthSnapshot.score)
    ).where(
        col(HealthSnapshot.day) >= day - timedelta(days=TREND_TOLERANCE_DAYS),
        col(HealthSnapshot.day) <= day,
    )
    if account_ids is not None and len(account_ids) <= 500:
        stmt = stmt.where(col(HealthSnapshot.account_id).in_(list(account_ids)))
    best: dict[int, tuple[date, float]] = {}
    for account_id, snap_day, score in session.execute(stmt).all():
        if account_id not in best or snap_day > best[account_id][0]:
            best[account_id] = (snap_day, float(score))
    return {a: s for a, (_, s) in best.items()}


def past_scores(
    session: Session,
    *,
    day: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    use_static_fields: bool = True,
) -> dict[int, float]:
    """Scores on ``day``: stored snapshots where present, the rest computed in one batch."""
    stored = _stored_scores(session, day, account_ids) if use_static_fields else {}
    wanted = set(account_ids)
    found = {a: s for a, s in stored.items() if a in wanted}
    missing = [a for a in account_ids if a not in found]
    if missing:
        computed = scores_only(
            session,
            as_of=day,
            config=config,
            account_ids=missing,
            use_static_fields=use_static_fields,
        )
        found.update(computed)
    return found


def score_raw(
    session: Session,
    raw: RawMetrics,
    *,
    config: ScoringConfig,
    use_static_fields: bool = True,
    trends: bool = True,
) -> dict[int, HealthResult]:
    """Health results from already-extracted raw metrics (shared by scan and churn)."""
    m = signal_matrix(raw, config)
    scores, effective = composite(m.scores, _weights(config), config.health.all_missing_score)
    past: tuple[dict[int, float], dict[int, float]] = ({}, {})
    if trends and len(raw):
        ids = raw.ids.tolist()
        past = (
            past_scores(
                session,
                day=raw.as_of - timedelta(days=30),
                config=config,
                account_ids=ids,
                use_static_fields=use_static_fields,
            ),
            past_scores(
                session,
                day=raw.as_of - timedelta(days=90),
                config=config,
                account_ids=ids,
                use_static_fields=use_static_fields,
            ),
        )
    return _results(m, scores, effective, config, past)


def score_portfolio(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
    trends: bool = True,
) -> dict[int, HealthResult]:
    """Health of every account (or of ``account_ids``) as of ``as_of``, set-based."""
    raw = extract_raw(
        session,
        as_of=as_of,
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
    )
    return score_raw(
        session, raw, config=config, use_static_fields=use_static_fields, trends=trends
    )


class UnknownAccountError(LookupError):
    """No account with that id."""


def health_score_for(
    session: Session, *, account_id: int, as_of: date, config: ScoringConfig
) -> HealthResult:
    """Health of one account: the portfolio code path filtered to ``account_id``."""
    results = score_portfolio(session, as_of=as_of, config=config, account_ids=[account_id])
    if account_id not in results:
        raise UnknownAccountError(f"no account with id {account_id}")
    return results[account_id]


# The JSON text the snapshot columns store: exactly ``json.dumps`` of the lists of dicts (the
# JSON column's encoding), filled in with ``%`` (``str(float)`` is ``repr``, as in ``json``).
_SIGNALS_JSON = (
    "["
    + ", ".join(
        '{"key": ' + json.dumps(key) + ', "raw": %s, "score": %s, "contribution": %s}'
        for key in SIGNAL_KEYS
    )
    + "]"
)
_DRIVER_JSON = '{"signal": %s, "text": %s, "impact": %s}'
_KEYS_JSON = [json.dumps(key) for key in SIGNAL_KEYS]
_NULL = "null"


@dataclass
class SnapshotRows:
    """What the daily snapshots store for some accounts of ``raw`` (lists aligned together).

    ``signals`` and ``drivers`` are the JSON texts of the lists the ``HealthSnapshot`` columns
    hold: signals ``{key, raw, score, contribution}`` and drivers ``{signal, text, impact}``.
    """

    matrix: SignalMatrix
    positions: list[int]
    account_ids: list[int]
    scores: list[float]
    bands: list[Band]
    signals: list[str]
    drivers: list[str]


def snapshot_rows(
    raw: RawMetrics, config: ScoringConfig, include: npt.NDArray[np.bool_] | None = None
) -> SnapshotRows:
    """Scores, bands, signals and drivers (as JSON text) of the accounts of ``raw`` in ``include``.

    The scan's fast path: no ``HealthResult`` objects, no dicts; the same numbers, rounding and
    driver order as ``score_raw``.
    """
    m = signal_matrix(raw, config)
    n = len(raw)
    scores, effective = composite(m.scores, _weights(config), config.health.all_missing_score)
    present = ~np.isnan(m.scores)
    filled = np.nan_to_num(m.scores)
    impacts = np.where(present, effective * (filled - 50.0), 0.0)
    contributions = np.round(np.where(present, effective * filled, 0.0), 2)
    order = np.argsort(np.where(impacts < 0, impacts - 1000.0, -impacts), axis=1, kind="stable")
    top = order[:, : config.health.max_drivers]
    # Object arrays with "null" where the value is missing: one ``%`` per account fills them in.
    rounded_scores = np.round(m.scores, 1).astype(object)
    rounded_scores[~present] = _NULL
    rounded_raw = np.round(m.raw, 2).astype(object)
    rounded_raw[np.isnan(m.raw)] = _NULL
    values = np.stack([rounded_raw, rounded_scores, contributions.astype(object)], axis=2)
    # ``str`` spells NaN and infinities differently from ``json``: such rows take the slow path.
    numbers = [np.where(np.isnan(m.raw), 0.0, m.raw), np.where(present, m.scores, 0.0), impacts]
    finite = np.asarray(np.isfinite(np.hstack(numbers)).all(axis=1), dtype=np.bool_)
    rounded_impacts = np.round(impacts, 1)
    shown: npt.NDArray[np.bool_] = np.abs(impacts) >= 0.05
    positions = list(range(n)) if include is None else np.flatnonzero(include).tolist()
    score_list = scores.tolist()
    ids = raw.ids.tolist()
    out = SnapshotRows(m, positions, [], [], [], [], [])
    if not positions:
        return out
    value_rows = values[positions].reshape(len(positions), -1).tolist()
    top_rows = top[positions].tolist()
    impact_rows = rounded_impacts[positions].tolist()
    shown_rows: list[list[bool]] = shown[positions].tolist()
    finite_rows = finite[positions].tolist()
    for k, i in enumerate(positions):
        impact_row, shown_row = impact_rows[k], shown_rows[k]
        shown_top = [j for j in top_rows[k] if shown_row[j]]
        if finite_rows[k]:
            signals = _SIGNALS_JSON % tuple(value_rows[k])
            drivers = (
                "["
                + ", ".join(
                    _DRIVER_JSON
                    % (
                        _KEYS_JSON[j],
                        encode_basestring_ascii(driver_text(SIGNAL_KEYS[j], m, i, config)),
                        impact_row[j],
                    )
                    for j in shown_top
                )
                + "]"
            )
        else:
            signals, drivers = _json_lists(m, i, value_rows[k], shown_top, impact_row, config)
        score = float(score_list[i])
        out.account_ids.append(ids[i])
        out.scores.append(score)
        out.bands.append(band_for(score, config))
        out.signals.append(signals)
        out.drivers.append(drivers)
    return out


def _json_lists(
    m: SignalMatrix,
    i: int,
    values: list[Any],
    shown_top: list[int],
    impacts: list[float],
    config: ScoringConfig,
) -> tuple[str, str]:
    """The signals and drivers JSON of row ``i`` through ``json.dumps`` (non-finite numbers)."""
    signals = [
        {
            "key": key,
            "raw": None if isinstance(values[3 * j], str) else values[3 * j],
            "score": None if isinstance(values[3 * j + 1], str) else values[3 * j + 1],
            "contribution": values[3 * j + 2],
        }
        for j, key in enumerate(SIGNAL_KEYS)
    ]
    drivers = [
        {
            "signal": SIGNAL_KEYS[j],
            "text": driver_text(SIGNAL_KEYS[j], m, i, config),
            "impact": impacts[j],
        }
        for j in shown_top
    ]
    return json.dumps(signals), json.dumps(drivers)
