"""Portfolio metrics for CS leaders: retention, logo churn, health mix, NPS, renewals, pipeline.

Definitions (all as of a day; contracts in force on it, answers and usage before it):
- an account is *active* on a day when a contract is in force (start_date <= day <= end_date);
  its ARR is that contract's ARR (the latest-starting one when renewals overlap);
- the *cohort* is the accounts active exactly 12 months before ``as_of``; accounts that started
  since are left out of retention, as is usual;
- NRR = sum of the cohort's ARR now (0 when churned) / sum of its ARR then, so expansion counts;
- GRR = the same with each account's ARR now capped at its ARR then (contraction and churn only);
- logo churn = cohort accounts not active now / cohort size;
- all three are ratios (1.0 = 100%), None when the cohort is empty;
- NPS = % promoters (9-10) - % detractors (0-6) over the NPS answers of the 90 complete days
  before ``as_of`` (``as_of`` - 90 .. ``as_of`` - 1, the metric layer's windows);
- renewals: active accounts whose contract ends within 30/60/90 days (cumulative windows);
  ARR at risk is the ARR of those **at risk** — churn risk medium or high, the one definition
  (``tools.facts.definitions``) that ``/churn``, App Home, the digest and Claude use;
- time to value: the median days to first value of the accounts started in each of the last
  12 months (``tools.onboarding.time_to_value_by_cohort``, the App Home team view's line).

Freshness: the figures of a day that has a scan (the daily job, or ``csbot scan``) are
computed once, by the scan itself (``scan_portfolio(team_figures=True)``:
``store_team_figures`` with the scan's own rows, the expansion pipeline its processes counted
range by range, and the ``book_figures`` a worker computed while the scan wrote; else at the
first read after the scan), and stored in
``portfolio_metrics_cache`` under a key made of that scan (its snapshot count and write time)
and the scoring config; every later read that day (App Home, the digest, the metrics question,
Claude's tool) gets the stored figures. A rescan (after an import, say) or another config makes
a new key: the next read recomputes. A day without a scan is computed on every read. The open
hand-offs are "now", never stored: they are read on every call.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from tools.expansion import expansion_opportunities, pipeline_total
from tools.facts import rows
from tools.facts.contracts import accounts_with_contracts, arr_in_force
from tools.facts.definitions import is_at_risk
from tools.facts.surveys import nps_counts
from tools.handoff import expansion_pipeline
from tools.models import HealthSnapshot
from tools.models_cache import PortfolioMetricsRecord
from tools.onboarding import time_to_value_by_cohort
from tools.results import (
    Band,
    BandMix,
    CohortTimeToValue,
    HealthResult,
    PortfolioMetrics,
    RenewalBucket,
    RiskLevel,
)

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

RENEWAL_WINDOWS: tuple[int, ...] = (30, 60, 90)
NPS_WINDOW_DAYS = 90
CACHE_DAYS = 7
"""Stored metrics older than this (before the day being stored) are deleted."""

log = logging.getLogger(__name__)


def one_year_before(day: date) -> date:
    """The same calendar day a year earlier (29 February maps to 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


InForce = Mapping[int, tuple[Decimal, date]]
"""Each account's contract in force on a day: its ARR and end date (``arr_in_force``)."""


def retention(then: InForce, now: InForce) -> tuple[float | None, float | None, float | None]:
    """(NRR, GRR, logo churn) of the accounts in ``then`` (see the module docstring)."""
    if not then:
        return None, None, None
    start = np.array([float(arr) for arr, _ in then.values()], dtype=np.float64)
    end = np.array([float(now[a][0]) if a in now else 0.0 for a in then], dtype=np.float64)
    lost = sum(1 for a in then if a not in now)
    logo_churn = round(lost / len(then), 4)
    base = float(start.sum())
    if base <= 0:
        return None, None, logo_churn
    nrr = round(float(end.sum()) / base, 4)
    grr = round(float(np.minimum(end, start).sum()) / base, 4)
    return nrr, grr, logo_churn


def net_promoter_score(
    session: Session, *, as_of: date, days: int = NPS_WINDOW_DAYS
) -> float | None:
    """NPS over the NPS answers of the ``days`` complete days before ``as_of``; None when there
    are none."""
    counts = nps_counts(session, as_of=as_of, days=days)
    if not counts.total:
        return None
    return round(100.0 * (counts.promoters - counts.detractors) / counts.total, 1)


def latest_health(session: Session, *, as_of: date) -> dict[int, tuple[float, Band]]:
    """Score and band of each account's latest health snapshot on or before ``as_of``."""
    return {a: (score, band) for a, (score, band, _) in latest_states(session, as_of=as_of).items()}


def latest_states(
    session: Session, *, as_of: date, within_days: int | None = None
) -> dict[int, tuple[float, Band, RiskLevel]]:
    """Score, band and churn level of each account's latest snapshot on or before ``as_of``
    (and, with ``within_days``, no older than that)."""
    window = [col(HealthSnapshot.day) <= as_of]
    if within_days is not None:
        window.append(col(HealthSnapshot.day) > as_of - timedelta(days=within_days))
    latest = (
        select(
            col(HealthSnapshot.account_id).label("account_id"),
            func.max(col(HealthSnapshot.day)).label("day"),
        )
        .where(*window)
        .group_by(col(HealthSnapshot.account_id))
        .subquery()
    )
    stmt = select(
        col(HealthSnapshot.account_id),
        col(HealthSnapshot.score),
        col(HealthSnapshot.band),
        col(HealthSnapshot.churn_level),
    ).join(
        latest,
        and_(
            col(HealthSnapshot.account_id) == latest.c.account_id,
            col(HealthSnapshot.day) == latest.c.day,
        ),
    )
    result: dict[int, tuple[float, Band, RiskLevel]] = {}
    levels = {level.value for level in RiskLevel}
    for account_id, score, band, level in rows(session, stmt):
        if band in Band.__members__.values():
            risk = RiskLevel(level) if level in levels else RiskLevel.LOW
            result[int(account_id)] = (float(score), Band(band), risk)
    return result


def _band_mix(bands: Mapping[int, tuple[float, Band]]) -> tuple[float | None, BandMix]:
    if not bands:
        return None, BandMix()
    scores = np.array([s for s, _ in bands.values()], dtype=np.float64)
    counts = {b: 0 for b in Band}
    for _, band in bands.values():
        counts[band] += 1
    mix = BandMix(green=counts[Band.GREEN], amber=counts[Band.AMBER], red=counts[Band.RED])
    return round(float(scores.mean()), 1), mix


Due = tuple[int, Decimal, date]
"""An account in force whose contract ends within the longest renewal window: (account id,
ARR, end date)."""


def renewals_due(now: InForce, *, as_of: date) -> tuple[Due, ...]:
    """The accounts of ``now`` renewing within the longest of ``RENEWAL_WINDOWS``."""
    horizon = as_of + timedelta(days=max(RENEWAL_WINDOWS))
    return tuple((a, arr, end) for a, (arr, end) in now.items() if as_of <= end <= horizon)


def renewal_buckets(
    due: tuple[Due, ...], levels: Mapping[int, RiskLevel], *, as_of: date
) -> list[RenewalBucket]:
    """Renewals due within each of ``RENEWAL_WINDOWS`` (cumulative), their ARR and ARR at risk
    (the accounts whose churn level is at risk, see ``tools.facts.definitions``)."""
    buckets: list[RenewalBucket] = []
    for days in RENEWAL_WINDOWS:
        horizon = as_of + timedelta(days=days)
        within = [(a, arr) for a, arr, end in due if as_of <= end <= horizon]
        at_risk = [arr for a, arr in within if is_at_risk(levels.get(a, RiskLevel.LOW))]
        buckets.append(
            RenewalBucket(
                days=days,
                count=len(within),
                arr=sum((arr for _, arr in within), Decimal("0")),
                arr_at_risk=sum(at_risk, Decimal("0")),
            )
        )
    return buckets


def portfolio_metrics(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    health: Mapping[int, HealthResult] | None = None,
    levels: Mapping[int, RiskLevel] | None = None,
) -> PortfolioMetrics:
    """Retention, logo churn, health mix, NPS, renewals, expansion pipeline and time to value
    on ``as_of``; the open hand-offs as of now.

    ``health`` gives the bands to use; without it the latest health snapshot of each account on
    or before ``as_of`` is read. Only accounts active on ``as_of`` count towards health.
    Without ``health`` and ``levels``, a day that has a scan is computed once after that scan
    and stored (see "Freshness" in the module docstring).
    """
    if health is not None or levels is not None:
        computed = compute_portfolio_metrics(
            session, as_of=as_of, config=config, health=health, levels=levels
        )
        return _with_handoffs(session, computed)
    key = scan_key(session, as_of=as_of, config=config)
    stored = _stored(session, as_of=as_of, key=key) if key is not None else None
    if stored is None:
        stored = compute_portfolio_metrics(session, as_of=as_of, config=config)
        if key is not None:
            _store(session, as_of=as_of, key=key, metrics=stored)
    return _with_handoffs(session, stored)


@dataclass(frozen=True)
class BookFigures:
    """The team figures that come from the data alone, not from the scores: accounts, the
    contracts in force (how many, their ARR, who renews soon), retention, NPS and time to
    value. Small and picklable: a scan computes them in a worker process while it scores."""

    as_of: date
    accounts: int
    active_ids: frozenset[int]
    total_arr: Decimal
    nrr: float | None
    grr: float | None
    logo_churn: float | None
    nps: float | None
    due: tuple[Due, ...]
    time_to_value: list[CohortTimeToValue]


def book_figures(session: Session, *, as_of: date, config: ScoringConfig) -> BookFigures:
    """``BookFigures`` of ``as_of`` (see the module docstring for each definition)."""
    now = arr_in_force(session, on=as_of)
    then = arr_in_force(session, on=one_year_before(as_of))
    nrr, grr, logo_churn = retention(then, now)
    return BookFigures(
        as_of=as_of,
        accounts=accounts_with_contracts(session, by=as_of),
        active_ids=frozenset(now),
        total_arr=sum((arr for arr, _ in now.values()), Decimal("0")),
        nrr=nrr,
        grr=grr,
        logo_churn=logo_churn,
        nps=net_promoter_score(session, as_of=as_of),
        due=renewals_due(now, as_of=as_of),
        time_to_value=time_to_value_by_cohort(session, as_of=as_of, config=config.onboarding),
    )


@dataclass(frozen=True)
class ScannedFigures:
    """What the day's scan found that the team figures use, so they do not read it again:
    each scanned account's (score, band, churn level), the expansion pipeline of the accounts
    in force (how many opportunities ``expansion_opportunities`` finds, and their estimated
    ARR; found range by range, ``tools.expansion.pipeline_of``) and, when a worker process
    computed them while the scan scored, the day's ``BookFigures``."""

    states: dict[int, tuple[float, Band, RiskLevel]]
    pipeline_count: int
    pipeline_arr: Decimal
    book: BookFigures | None = None


def store_team_figures(
    session: Session, *, as_of: date, config: ScoringConfig, scanned: ScannedFigures
) -> None:
    """The portfolio metrics of ``as_of`` computed from its scan (``scanned``: the same values
    as read back from the stored snapshots) and stored under that scan's key, as
    ``portfolio_metrics`` would store them at the first read. Commits. A failure is logged, not
    raised: the scan is stored, and the first reader computes them."""
    started = time.perf_counter()
    try:
        key = scan_key(session, as_of=as_of, config=config)
        if key is not None:
            metrics = compute_portfolio_metrics(
                session, as_of=as_of, config=config, scanned=scanned
            )
            _store(session, as_of=as_of, key=key, metrics=metrics)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("scan %s: team figures not stored", as_of, exc_info=True)
        return
    log.info("scan %s: team figures in %.2fs", as_of, time.perf_counter() - started)


def compute_portfolio_metrics(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    health: Mapping[int, HealthResult] | None = None,
    levels: Mapping[int, RiskLevel] | None = None,
    scanned: ScannedFigures | None = None,
) -> PortfolioMetrics:
    """``portfolio_metrics`` computed from the data, never read from the cache; the hand-off
    pipeline is left at zero (it is read live by ``portfolio_metrics``). ``scanned`` (the
    day's scan, just written) stands for the day's snapshots and the expansion reader, and
    for the book figures when it carries them."""
    book = scanned.book if scanned is not None else None
    if book is None or book.as_of != as_of:
        book = book_figures(session, as_of=as_of, config=config)
    if scanned is not None:
        states = scanned.states
    elif health is None or levels is None:
        states = latest_states(session, as_of=as_of)
    else:
        states = {}
    if health is None:
        all_bands = {a: (score, band) for a, (score, band, _) in states.items()}
    else:
        all_bands = {a: (h.score, h.band) for a, h in health.items()}
    if levels is None:
        levels = {a: level for a, (_, _, level) in states.items()}
    bands = {a: v for a, v in all_bands.items() if a in book.active_ids}
    average_health, mix = _band_mix(bands)
    pipeline_count, pipeline_arr = (
        (scanned.pipeline_count, scanned.pipeline_arr)
        if scanned is not None
        else pipeline_total(expansion_opportunities(session, as_of=as_of, config=config))
    )
    return PortfolioMetrics(
        as_of=as_of,
        accounts=book.accounts,
        active_accounts=len(book.active_ids),
        total_arr=book.total_arr,
        nrr=book.nrr,
        grr=book.grr,
        logo_churn=book.logo_churn,
        average_health=average_health,
        band_mix=mix,
        nps=book.nps,
        renewals=renewal_buckets(book.due, levels, as_of=as_of),
        expansion_pipeline_count=pipeline_count,
        expansion_pipeline_arr=pipeline_arr,
        time_to_value=list(book.time_to_value),
    )


def _with_handoffs(session: Session, metrics: PortfolioMetrics) -> PortfolioMetrics:
    handoffs, handoff_arr = expansion_pipeline(session)  # open hand-offs now, not as of a date
    return metrics.model_copy(
        update={"handoff_pipeline_count": handoffs, "handoff_pipeline_arr": handoff_arr}
    )


# -- the per-scan cache ---------------------------------------------------------------------


def scan_key(session: Session, *, as_of: date, config: ScoringConfig) -> str | None:
    """What the stored metrics of ``as_of`` must have been computed from: that day's scan (how
    many snapshots, when written) and the scoring config. None when the day has no scan."""
    stmt = select(func.count(), func.max(col(HealthSnapshot.computed_at))).where(
        col(HealthSnapshot.day) == as_of
    )
    count, written = rows(session, stmt)[0]
    if not count:
        return None
    seed = f"{int(count)}|{written}|{config.model_dump_json()}"
    return hashlib.sha256(seed.encode()).hexdigest()


def _stored(session: Session, *, as_of: date, key: str) -> PortfolioMetrics | None:
    stmt = select(col(PortfolioMetricsRecord.payload)).where(
        col(PortfolioMetricsRecord.day) == as_of, col(PortfolioMetricsRecord.key) == key
    )
    found = rows(session, stmt)
    return PortfolioMetrics.model_validate(found[0][0]) if found else None


def _store(session: Session, *, as_of: date, key: str, metrics: PortfolioMetrics) -> None:
    """Keep ``metrics`` for the day's scan (replacing the day's older rows and any row older
    than ``CACHE_DAYS``); a failed write (another process stored it first, a read-only
    database) only costs the next reader a recomputation."""
    stale = or_(
        col(PortfolioMetricsRecord.day) == as_of,
        col(PortfolioMetricsRecord.day) < as_of - timedelta(days=CACHE_DAYS),
    )
    record = {"day": as_of, "key": key, "payload": metrics.model_dump(mode="json")}
    try:
        with session.begin_nested():
            session.execute(delete(PortfolioMetricsRecord).where(stale))
            session.execute(insert(PortfolioMetricsRecord), [record])
    except SQLAlchemyError as exc:
        log.info("portfolio metrics of %s not stored: %s", as_of, type(exc).__name__)
