"""Score history for the 30- and 90-day trends: stored snapshots first, else computed.

A snapshot counts for day D when it is at most ``TREND_TOLERANCE_DAYS`` older than D (weekly
backfills land within a week). Both trend days are read in one statement; accounts without a
snapshot are scored as of D from history the caller already extracted (``extract_days``), or
extracted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel import Session, col

from tools.facts.extract import RawMetrics, Scope, extract_days, extract_raw
from tools.facts.extract.sql import fetch, statement
from tools.health.signals import composite, signal_matrix, signal_weights
from tools.models import HealthSnapshot
from tools.scoring_config import ScoringConfig

# Trend snapshots may be up to this many days older than the exact as_of-30/-90 day.
TREND_TOLERANCE_DAYS = 6
TREND_DAYS = (30, 90)
# Past scores per day: {day: {account_id: score}}.
ScoresByDay = dict[date, dict[int, float]]
Baselines = tuple[dict[int, float], dict[int, float]]


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
    return composite_scores(raw, config)


def trend_days(as_of: date) -> list[date]:
    """The days the 30- and 90-day trends compare with."""
    return [as_of - timedelta(days=d) for d in TREND_DAYS]


def stored_scores(
    session: Session, days: Sequence[date], account_ids: Sequence[int] | None
) -> ScoresByDay:
    """Per day, the score of each account's latest snapshot within the tolerance before it, in
    one statement for every day."""
    tolerance = timedelta(days=TREND_TOLERANCE_DAYS)
    scope = Scope(account_ids)

    def build() -> Any:
        day = col(HealthSnapshot.day)
        stmt = select(col(HealthSnapshot.account_id), day, col(HealthSnapshot.score)).where(
            or_(*[and_(day >= d - tolerance, day <= d) for d in days])
        )
        return scope.where(stmt, col(HealthSnapshot.account_id))

    stmt = statement(("stored_scores", tuple(days), scope.kind), build)
    rows = fetch(session, stmt, scope)
    best: dict[date, dict[int, tuple[date, float]]] = {d: {} for d in days}
    for account_id, snap_day, score in rows:
        for d in days:
            if d - tolerance <= snap_day <= d:
                seen = best[d].get(account_id)
                if seen is None or snap_day > seen[0]:
                    best[d][account_id] = (snap_day, float(score))
    return {d: {a: s for a, (_, s) in found.items()} for d, found in best.items()}


def missing_days(stored: ScoresByDay, account_ids: Sequence[int]) -> list[date]:
    """The days on which some of ``account_ids`` have no stored score."""
    return [d for d, found in stored.items() if any(a not in found for a in account_ids)]


def scores_on(
    session: Session,
    *,
    days: Sequence[date],
    config: ScoringConfig,
    account_ids: Sequence[int],
    use_static_fields: bool = True,
    stored: ScoresByDay | None = None,
    history: dict[date, RawMetrics] | None = None,
) -> ScoresByDay:
    """Scores of ``account_ids`` on each of ``days``: stored snapshots where present (read here
    unless given), the rest from ``history`` (raw metrics already extracted for that day) or
    extracted in one pass for every day still missing."""
    if stored is None:
        stored = (
            stored_scores(session, days, account_ids)
            if use_static_fields
            else {d: {} for d in days}
        )
    history = dict(history or {})
    wanted = list(dict.fromkeys(account_ids))
    out: ScoresByDay = {d: {a: stored[d][a] for a in wanted if a in stored[d]} for d in days}
    to_extract = [d for d in days if len(out[d]) < len(wanted) and d not in history]
    if to_extract:
        lacking = sorted({a for d in to_extract for a in wanted if a not in out[d]})
        extracted = extract_days(
            session,
            days=to_extract,
            config=config,
            account_ids=lacking,
            use_static_fields=use_static_fields,
        )
        history.update(zip(to_extract, extracted, strict=True))
    for d in days:
        if len(out[d]) < len(wanted):
            computed = composite_scores(history[d], config)
            out[d].update({a: s for a, s in computed.items() if a not in out[d] and a in wanted})
    return out


def composite_scores(raw: RawMetrics, config: ScoringConfig) -> dict[int, float]:
    """The composite score of every account of ``raw``."""
    m = signal_matrix(raw, config)
    scores, _ = composite(m.scores, signal_weights(config), config.health.all_missing_score)
    return dict(zip(raw.ids.tolist(), scores.tolist(), strict=True))


def past_scores(
    session: Session,
    *,
    day: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    use_static_fields: bool = True,
) -> dict[int, float]:
    """Scores on ``day``: stored snapshots where present, the rest computed in one batch."""
    return scores_on(
        session,
        days=[day],
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
    )[day]


def trend_baselines(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    use_static_fields: bool = True,
    stored: ScoresByDay | None = None,
    history: dict[date, RawMetrics] | None = None,
) -> Baselines:
    """The scores the 30- and 90-day trends of ``account_ids`` compare with."""
    days = trend_days(as_of)
    found = scores_on(
        session,
        days=days,
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
        stored=stored,
        history=history,
    )
    return found[days[0]], found[days[1]]
