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

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from tools.facts.extract import IN_LIST_LIMIT, RawMetrics, extract_days, extract_raw
from tools.health.drivers import driver_text, results
from tools.health.signals import (
    LABELS,
    SignalMatrix,
    band_for,
    composite,
    signal_matrix,
    signal_weights,
)
from tools.health.snapshots import SnapshotRows, snapshot_rows
from tools.health.trends import (
    TREND_DAYS,
    TREND_TOLERANCE_DAYS,
    Baselines,
    missing_days,
    past_scores,
    scores_on,
    scores_only,
    stored_scores,
    trend_baselines,
    trend_days,
)
from tools.results import HealthResult
from tools.scoring_config import ScoringConfig


def score_raw(
    session: Session,
    raw: RawMetrics,
    *,
    config: ScoringConfig,
    use_static_fields: bool = True,
    trends: bool = True,
    baselines: Baselines | None = None,
) -> dict[int, HealthResult]:
    """Health results from already-extracted raw metrics (shared by scan and churn).

    Trends compare with ``baselines`` when given (``extract_with_history``), else with the
    scores ``trend_baselines`` finds; none when ``trends`` is False.
    """
    m = signal_matrix(raw, config)
    scores, effective = composite(m.scores, signal_weights(config), config.health.all_missing_score)
    past: Baselines = ({}, {})
    if baselines is not None:
        past = baselines
    elif trends and len(raw):
        past = trend_baselines(
            session,
            as_of=raw.as_of,
            config=config,
            account_ids=raw.ids.tolist(),
            use_static_fields=use_static_fields,
        )
    return results(m, scores, effective, config, past)


def extract_with_history(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    use_static_fields: bool = True,
    findings: bool = False,
) -> tuple[RawMetrics, Baselines]:
    """Raw metrics of ``account_ids`` as of ``as_of`` and their trend baselines, reading each
    table once: the stored snapshots first (one statement), then ``as_of`` and the trend days
    without a snapshot in the same extraction statements (with ``findings``, also what Lean and
    expansion need: ``raw.extra["findings"]``)."""
    days = trend_days(as_of)
    stored = (
        stored_scores(session, days, account_ids) if use_static_fields else {d: {} for d in days}
    )
    history_days = missing_days(stored, account_ids)
    raws = extract_days(
        session,
        days=[as_of, *history_days],
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
        findings=findings,
    )
    baselines = trend_baselines(
        session,
        as_of=as_of,
        config=config,
        account_ids=raws[0].ids.tolist(),
        use_static_fields=use_static_fields,
        stored=stored,
        history=dict(zip(history_days, raws[1:], strict=True)),
    )
    return raws[0], baselines


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
    if trends and account_ids is not None and len(account_ids) <= IN_LIST_LIMIT:
        raw, baselines = extract_with_history(
            session,
            as_of=as_of,
            config=config,
            account_ids=account_ids,
            use_static_fields=use_static_fields,
        )
        return score_raw(session, raw, config=config, baselines=baselines)
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


__all__ = [
    "LABELS",
    "TREND_DAYS",
    "TREND_TOLERANCE_DAYS",
    "Baselines",
    "SignalMatrix",
    "SnapshotRows",
    "UnknownAccountError",
    "band_for",
    "composite",
    "driver_text",
    "extract_with_history",
    "health_score_for",
    "past_scores",
    "score_portfolio",
    "score_raw",
    "scores_on",
    "scores_only",
    "signal_matrix",
    "signal_weights",
    "snapshot_rows",
    "trend_baselines",
]
