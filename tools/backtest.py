"""Backtest: recompute the scores as of past dates and measure how well they called what happened.

A score is only as good as its record. For each observation date ``d`` every account with a
contract active at ``d`` is scored with the data knowable at ``d`` (the scoring functions filter
every table by date, and static fields such as ``Account.tam_health`` are left out). The labels
come from the contract dates that followed, never from ``Contract.status`` or
``Account.lifecycle_stage`` (those describe today, not ``d``):

- **churned**: the contract active at ``d`` ends in ``(d, d + horizon]`` and no other contract of
  the account starts in ``(d, end + grace]`` ("a contract that ended without renewal"; a renewal
  signed up to ``grace`` days late still counts as a renewal);
- **expanded**: another contract of the account starts in ``(d, d + horizon]`` with a higher ARR
  or more seats than the contract active at ``d``.

Metrics (pure NumPy): the AUC of ``100 - health score`` as a ranking of the churners
(Mann-Whitney, ties count one half), the churn rate among the 10% lowest scores over the base
rate (top-decile lift), precision and recall of band RED and of churn level ``high``, and
precision, recall and lift of "has an expansion opportunity" against actual upsells. A metric
that cannot be computed (no positives, nothing flagged) is ``None`` with the reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tools.churn import churn_risk_portfolio
from tools.expansion import expansion_opportunities
from tools.health import score_portfolio
from tools.models import Contract, UsageDaily
from tools.results import Band, RiskLevel
from tools.scoring_config import ScoringConfig

DEFAULT_HORIZON_DAYS = 60
RENEWAL_GRACE_DAYS = 30
MIN_HISTORY_DAYS = 90
TOP_FRACTION = 0.1

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


# --- Report -------------------------------------------------------------------------------------


class Metric(BaseModel):
    """A metric value, or None with the reason it could not be computed."""

    value: float | None = None
    reason: str | None = Field(default=None, description="Why value is None.")


class FlagMetrics(BaseModel):
    """How a yes/no flag (band RED, level high, has an opportunity) did against the label."""

    flagged: int = Field(description="Observations the flag was raised on.")
    true_positives: int
    precision: Metric = Field(description="Share of flagged observations that were positive.")
    recall: Metric = Field(description="Share of positive observations that were flagged.")
    lift: Metric = Field(description="Precision over the base rate (1 = no better than chance).")


class ChurnMetrics(BaseModel):
    """How well health and churn risk called the churners."""

    observations: int
    positives: int = Field(description="Observations whose contract ended without renewal.")
    base_rate: Metric
    auc: Metric = Field(description="AUC of 100 - health score as a ranking of churners.")
    top_decile_lift: Metric = Field(
        description="Churn rate among the 10% lowest scores over the base rate."
    )
    red: FlagMetrics = Field(description="Band RED as a churn flag.")
    high_risk: FlagMetrics = Field(description="Churn level high as a churn flag.")


class ExpansionMetrics(BaseModel):
    """How well expansion opportunities called the upsells."""

    observations: int
    positives: int = Field(description="Observations followed by a bigger contract.")
    base_rate: Metric
    opportunity: FlagMetrics = Field(description='"Has an expansion opportunity" as a flag.')


class PeriodResult(BaseModel):
    """The metrics of one observation date, or of all of them pooled (``as_of`` None)."""

    as_of: date | None
    churn: ChurnMetrics
    expansion: ExpansionMetrics


class Observation(BaseModel):
    """One account scored on one observation date, with what happened next."""

    account_id: int
    as_of: date
    score: float
    band: Band
    risk_level: RiskLevel
    opportunities: int
    churned: bool
    expanded: bool


class BacktestReport(BaseModel):
    """The record of the scoring model over past observation dates."""

    today: date
    horizon_days: int
    grace_days: int
    observation_dates: list[date]
    per_date: list[PeriodResult]
    pooled: PeriodResult
    notes: list[str] = Field(default_factory=list)
    observations: list[Observation] = Field(
        default_factory=list, description="Per-account rows, only when asked for."
    )


# --- Metrics ------------------------------------------------------------------------------------


def _as_arrays(scores: Iterable[float], labels: Iterable[bool]) -> tuple[FloatArray, BoolArray]:
    s = np.asarray(list(scores), dtype=np.float64)
    y = np.asarray(list(labels), dtype=np.bool_)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s, y


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of ``values``; tied values share the average of their ranks."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def _degenerate(positives: int, n: int) -> str | None:
    if n == 0:
        return "no observations"
    if positives == 0:
        return "no positives"
    return None


def auc(scores: Iterable[float], labels: Iterable[bool]) -> Metric:
    """AUC of ``scores`` (higher = more likely positive): Mann-Whitney U, ties count one half."""
    s, y = _as_arrays(scores, labels)
    positives, n = int(y.sum()), int(y.size)
    reason = _degenerate(positives, n)
    if reason is None and positives == n:
        reason = "every observation is positive"
    if reason is not None:
        return Metric(reason=reason)
    negatives = n - positives
    rank_sum = float(average_ranks(s)[y].sum())
    u = rank_sum - positives * (positives + 1) / 2.0
    return Metric(value=u / (positives * negatives))


def top_fraction_lift(
    scores: Iterable[float], labels: Iterable[bool], fraction: float = TOP_FRACTION
) -> Metric:
    """Positive rate among the ``fraction`` highest scores over the base rate.

    The top group holds ``ceil(fraction * n)`` observations; when the cut falls inside a group of
    tied scores, each tied observation counts in proportion (the expected rate under a random
    tie-break), so the result does not depend on the order of the rows.
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    s, y = _as_arrays(scores, labels)
    positives, n = int(y.sum()), int(y.size)
    reason = _degenerate(positives, n)
    if reason is not None:
        return Metric(reason=reason)
    k = max(1, math.ceil(n * fraction - 1e-9))
    threshold = np.sort(s)[::-1][k - 1]
    above = s > threshold
    tied = s == threshold
    from_tied = k - int(above.sum())
    hits = float(y[above].sum()) + from_tied * float(y[tied].mean())
    return Metric(value=(hits / k) / (positives / n))


def flag_metrics(flags: Iterable[bool], labels: Iterable[bool]) -> FlagMetrics:
    """Precision, recall and lift of a yes/no flag against the labels."""
    f = np.asarray(list(flags), dtype=np.bool_)
    y = np.asarray(list(labels), dtype=np.bool_)
    if f.shape != y.shape:
        raise ValueError(f"{f.size} flags but {y.size} labels")
    n, flagged, positives = int(y.size), int(f.sum()), int(y.sum())
    tp = int((f & y).sum())
    precision = Metric(value=tp / flagged) if flagged else Metric(reason="nothing flagged")
    reason = _degenerate(positives, n)
    recall = Metric(value=tp / positives) if reason is None else Metric(reason=reason)
    if precision.value is None:
        lift = Metric(reason=precision.reason)
    elif reason is not None:
        lift = Metric(reason=reason)
    else:
        lift = Metric(value=precision.value / (positives / n))
    return FlagMetrics(
        flagged=flagged, true_positives=tp, precision=precision, recall=recall, lift=lift
    )


def base_rate(labels: Sequence[bool]) -> Metric:
    """Share of positive labels."""
    if not labels:
        return Metric(reason="no observations")
    return Metric(value=sum(labels) / len(labels))


# --- Labels -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """The dates and size of one contract: all the labels need."""

    start: date
    end: date
    arr: Decimal
    seats: int


@dataclass(frozen=True)
class Outcome:
    """What happened to an account in the horizon after an observation date."""

    churned: bool
    expanded: bool


def active_term(terms: Sequence[Term], as_of: date) -> Term | None:
    """The contract active on ``as_of`` (start <= as_of <= end); the latest-ending if several."""
    active = [t for t in terms if t.start <= as_of <= t.end]
    return max(active, key=lambda t: (t.end, t.start)) if active else None


def outcome(
    terms: Sequence[Term],
    as_of: date,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
) -> Outcome | None:
    """The churn and expansion labels of an account at ``as_of``; None if no contract is active."""
    current = active_term(terms, as_of)
    if current is None:
        return None
    horizon_end = as_of + timedelta(days=horizon_days)
    later = [t for t in terms if t.start > as_of]
    ends_in_horizon = as_of < current.end <= horizon_end
    renewed = any(t.start <= current.end + timedelta(days=grace_days) for t in later)
    expanded = any(
        t.start <= horizon_end and (t.arr > current.arr or t.seats > current.seats) for t in later
    )
    return Outcome(churned=ends_in_horizon and not renewed, expanded=expanded)


def load_terms(session: Session) -> dict[int, list[Term]]:
    """Every account's contract terms (dates, ARR, seats; never the status column)."""
    stmt = sa_select(
        col(Contract.account_id),
        col(Contract.start_date),
        col(Contract.end_date),
        col(Contract.arr),
        col(Contract.seats_purchased),
    )
    terms: dict[int, list[Term]] = defaultdict(list)
    for account_id, start, end, arr, seats in session.connection().execute(stmt):
        terms[account_id].append(Term(start=start, end=end, arr=Decimal(arr), seats=seats))
    return dict(terms)


# --- Observation dates --------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the end of shorter months."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def history_start(session: Session) -> date | None:
    """The first day of the data: the earliest usage day, else the earliest contract start."""
    first_usage = session.exec(select(func.min(UsageDaily.day))).one()
    if first_usage is not None:
        return first_usage
    first_contract: date | None = session.exec(select(func.min(Contract.start_date))).one()
    return first_contract


def monthly_dates(first: date, last: date) -> list[date]:
    """``first``, then every calendar month after it, up to ``last`` inclusive."""
    dates: list[date] = []
    k = 0
    while (d := add_months(first, k)) <= last:
        dates.append(d)
        k += 1
    return dates


def default_observation_dates(
    session: Session,
    *,
    today: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
) -> list[date]:
    """Monthly dates from 90 days into the data's history to the last date whose labels are known.

    A label at ``d`` is known once ``d + horizon + grace`` has passed: a contract ending on the
    last day of the horizon needs the grace period to show whether it was renewed.
    """
    start = history_start(session)
    if start is None:
        return []
    first = start + timedelta(days=MIN_HISTORY_DAYS)
    last = today - timedelta(days=horizon_days + grace_days)
    return monthly_dates(first, last)


# --- The run ------------------------------------------------------------------------------------


def observe(
    session: Session,
    *,
    config: ScoringConfig,
    as_of: date,
    terms: dict[int, list[Term]],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
) -> list[Observation]:
    """Score every account active on ``as_of`` with the data knowable then, next to its labels."""
    outcomes: dict[int, Outcome] = {}
    for account_id, account_terms in terms.items():
        labels = outcome(account_terms, as_of, horizon_days=horizon_days, grace_days=grace_days)
        if labels is not None:
            outcomes[account_id] = labels
    ids = sorted(outcomes)
    if not ids:
        return []
    health = score_portfolio(
        session,
        as_of=as_of,
        config=config,
        account_ids=ids,
        use_static_fields=False,
        trends=False,
    )
    churn = churn_risk_portfolio(
        session, as_of=as_of, config=config, health=health, use_static_fields=False
    )
    opportunities = expansion_opportunities(session, as_of=as_of, config=config, account_ids=ids)
    return [
        Observation(
            account_id=account_id,
            as_of=as_of,
            score=health[account_id].score,
            band=health[account_id].band,
            risk_level=churn[account_id].level,
            opportunities=len(opportunities.get(account_id, [])),
            churned=outcomes[account_id].churned,
            expanded=outcomes[account_id].expanded,
        )
        for account_id in ids
        if account_id in health and account_id in churn
    ]


def period_result(as_of: date | None, rows: Sequence[Observation]) -> PeriodResult:
    """The churn and expansion metrics over ``rows`` (one date, or all pooled)."""
    churned = [r.churned for r in rows]
    risk = [100.0 - r.score for r in rows]
    expanded = [r.expanded for r in rows]
    churn = ChurnMetrics(
        observations=len(rows),
        positives=sum(churned),
        base_rate=base_rate(churned),
        auc=auc(risk, churned),
        top_decile_lift=top_fraction_lift(risk, churned),
        red=flag_metrics([r.band == Band.RED for r in rows], churned),
        high_risk=flag_metrics([r.risk_level == RiskLevel.HIGH for r in rows], churned),
    )
    expansion = ExpansionMetrics(
        observations=len(rows),
        positives=sum(expanded),
        base_rate=base_rate(expanded),
        opportunity=flag_metrics([r.opportunities > 0 for r in rows], expanded),
    )
    return PeriodResult(as_of=as_of, churn=churn, expansion=expansion)


def run_backtest(
    session: Session,
    *,
    config: ScoringConfig,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    observation_dates: Sequence[date] | None = None,
    today: date,
    grace_days: int = RENEWAL_GRACE_DAYS,
    include_observations: bool = False,
) -> BacktestReport:
    """Recompute the scores as of past dates (no look-ahead) and measure how they called churn."""
    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    if grace_days < 0:
        raise ValueError("grace_days must not be negative")
    if observation_dates is None:
        dates = default_observation_dates(
            session, today=today, horizon_days=horizon_days, grace_days=grace_days
        )
    else:
        dates = sorted(set(observation_dates))
    notes = _notes(dates, today=today, horizon_days=horizon_days, grace_days=grace_days)
    terms = load_terms(session)
    rows: list[Observation] = []
    per_date: list[PeriodResult] = []
    for as_of in dates:
        found = observe(
            session,
            config=config,
            as_of=as_of,
            terms=terms,
            horizon_days=horizon_days,
            grace_days=grace_days,
        )
        rows.extend(found)
        per_date.append(period_result(as_of, found))
    return BacktestReport(
        today=today,
        horizon_days=horizon_days,
        grace_days=grace_days,
        observation_dates=dates,
        per_date=per_date,
        pooled=period_result(None, rows),
        notes=notes,
        observations=rows if include_observations else [],
    )


def _notes(dates: Sequence[date], *, today: date, horizon_days: int, grace_days: int) -> list[str]:
    if not dates:
        return [
            f"No observation date: the data needs {MIN_HISTORY_DAYS} days of history before the "
            f"first one and {horizon_days + grace_days} days (horizon + grace) after the last."
        ]
    window = timedelta(days=horizon_days + grace_days)
    unseen = [d.isoformat() for d in dates if d + window > today]
    if not unseen:
        return []
    return [
        "Labels not fully observed (horizon + grace reaches past today) for "
        + ", ".join(unseen)
        + ": churn there is undercounted."
    ]


# --- Terminal summary ---------------------------------------------------------------------------

SUMMARY_COLUMNS: tuple[str, ...] = (
    "Date",
    "Accounts",
    "Churned",
    "AUC",
    "Lift@10%",
    "RED prec",
    "RED rec",
    "High prec",
    "High rec",
    "Upsells",
    "Opp prec",
    "Opp rec",
    "Opp lift",
)


def _fmt(metric: Metric, digits: int = 2) -> str:
    return "—" if metric.value is None else f"{metric.value:.{digits}f}"


def summary_row(result: PeriodResult) -> list[str]:
    """One line of the terminal table: a date (or "pooled") and its headline metrics."""
    churn, expansion = result.churn, result.expansion
    return [
        result.as_of.isoformat() if result.as_of else "pooled",
        str(churn.observations),
        str(churn.positives),
        _fmt(churn.auc),
        _fmt(churn.top_decile_lift),
        _fmt(churn.red.precision),
        _fmt(churn.red.recall),
        _fmt(churn.high_risk.precision),
        _fmt(churn.high_risk.recall),
        str(expansion.positives),
        _fmt(expansion.opportunity.precision),
        _fmt(expansion.opportunity.recall),
        _fmt(expansion.opportunity.lift),
    ]
