"""The backtest run: score every observed account on each past date as the product would have
then (no look-ahead), label what happened next, and measure per date and pooled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel import Session

from tools.backtest.labels import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_UPSELL_DAYS,
    RENEWAL_GRACE_DAYS,
    Outcome,
    Term,
    data_end,
    history_start,
    load_terms,
    outcome,
)
from tools.backtest.metrics import (
    BOOTSTRAP_SAMPLES,
    auc,
    base_rate,
    flag_metrics,
    monotonic_problems,
    precision_at_k,
    top_fraction_lift,
)
from tools.backtest.report import (
    BacktestReport,
    ChurnMetrics,
    ExpansionMetrics,
    Observation,
    PeriodResult,
)
from tools.churn import churn_from_raw
from tools.expansion import expansion_opportunities
from tools.expansion_strength import strength_matrix
from tools.facts import active_contracts
from tools.facts.extract import extract_raw
from tools.health import score_raw
from tools.results import Band, RiskLevel
from tools.scoring_config import ScoringConfig

MIN_HISTORY_DAYS = 90
DEFAULT_K = 50
LEVEL_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the end of shorter months."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def monthly_dates(first: date, last: date) -> list[date]:
    """``first``, then every calendar month after it, up to ``last`` inclusive."""
    dates: list[date] = []
    k = 0
    while (d := add_months(first, k)) <= last:
        dates.append(d)
        k += 1
    return dates


def labels_cutoff(session: Session, *, today: date, as_of: date | None = None) -> date | None:
    """The last day the labels may use: ``as_of`` if given, else the last day with data;
    never later than ``today``."""
    end = as_of if as_of is not None else data_end(session)
    if end is None:
        return None
    return min(end, today)


def default_observation_dates(
    session: Session,
    *,
    today: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    start: date | None = None,
    end: date | None = None,
    as_of: date | None = None,
) -> list[date]:
    """Monthly dates from ``start`` (default: 90 days into the data) to ``end`` (default: the
    last date whose horizon the data covers)."""
    first = start
    if first is None:
        history = history_start(session)
        if history is None:
            return []
        first = history + timedelta(days=MIN_HISTORY_DAYS)
    last = end
    if last is None:
        cutoff = labels_cutoff(session, today=today, as_of=as_of)
        if cutoff is None:
            return []
        last = cutoff - timedelta(days=horizon_days)
    return monthly_dates(first, last)


def observe(
    session: Session,
    *,
    config: ScoringConfig,
    as_of: date,
    terms: dict[int, list[Term]],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    upsell_days: int = DEFAULT_UPSELL_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
    upsell_observed: bool = True,
) -> list[Observation]:
    """Score every account observed on ``as_of`` with the data knowable then, beside its labels."""
    outcomes: dict[int, Outcome] = {}
    for account_id, account_terms in terms.items():
        labels = outcome(
            account_terms,
            as_of,
            horizon_days=horizon_days,
            upsell_days=upsell_days,
            grace_days=grace_days,
        )
        if labels is not None:
            outcomes[account_id] = labels
    ids = sorted(outcomes)
    if not ids:
        return []
    raw = extract_raw(session, as_of=as_of, config=config, account_ids=ids, use_static_fields=False)
    health = score_raw(session, raw, config=config, use_static_fields=False, trends=False)
    churn = churn_from_raw(raw, config=config, health=health)
    opportunities = expansion_opportunities(session, as_of=as_of, config=config, account_ids=ids)
    contracts = active_contracts(session, on=as_of, account_ids=ids)
    strength = strength_matrix(
        session, as_of=as_of, contracts=contracts, window_days=config.expansion.window_days
    ).strength(config.expansion.strength)
    return [
        Observation(
            account_id=account_id,
            as_of=as_of,
            score=health[account_id].score,
            band=health[account_id].band,
            risk_level=churn[account_id].level,
            opportunities=len(opportunities.get(account_id, [])),
            strength=strength.get(account_id, 0.0),
            churned=outcomes[account_id].churned,
            upsold=outcomes[account_id].upsold if upsell_observed else None,
            signals=[s.key for s in health[account_id].signals if s.score is not None],
        )
        for account_id in ids
        if account_id in health and account_id in churn
    ]


def churn_metrics(rows: Sequence[Observation], *, bootstrap: int = 0) -> ChurnMetrics:
    """Churn metrics over ``rows`` (one date, or all pooled)."""
    churned = [r.churned for r in rows]
    risk = [100.0 - r.score for r in rows]
    level = [float(LEVEL_RANK[r.risk_level]) for r in rows]
    order = [1000.0 * LEVEL_RANK[r.risk_level] + 100.0 - r.score for r in rows]
    groups = [r.account_id for r in rows]
    bands = {
        b.value: flag_metrics([r.band == b for r in rows], churned)
        for b in Band.__members__.values()
    }
    bands = {b: bands[b] for b in (Band.RED.value, Band.AMBER.value, Band.GREEN.value)}
    levels = {
        lv.value: flag_metrics([r.risk_level == lv for r in rows], churned)
        for lv in (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
    }
    return ChurnMetrics(
        observations=len(rows),
        positives=sum(churned),
        base_rate=base_rate(churned),
        auc=auc(risk, churned, groups=groups, samples=bootstrap),
        level_auc=auc(level, churned),
        order_auc=auc(order, churned),
        top_decile_lift=top_fraction_lift(risk, churned),
        bands=bands,
        levels=levels,
        red=bands[Band.RED.value],
        high_risk=levels[RiskLevel.HIGH.value],
        band_order_problems=monotonic_problems(list(bands.items())),
        level_order_problems=monotonic_problems(list(levels.items())),
    )


def expansion_metrics(rows: Sequence[Observation], *, k: int = DEFAULT_K) -> ExpansionMetrics:
    """Upsell metrics over the ``rows`` whose upsell window is fully observed."""
    seen = [r for r in rows if r.upsold is not None]
    upsold = [bool(r.upsold) for r in seen]
    strength = [r.strength for r in seen]
    rate = base_rate(upsold)
    at_k = precision_at_k(strength, upsold, k) if seen else precision_at_k([0.0], [False], 1)
    if not seen:
        at_k = at_k.model_copy(update={"value": None, "reason": "no observations"})
    if at_k.value is None or not rate.value:
        lift = at_k.model_copy(update={"value": None, "reason": at_k.reason or "no positives"})
    else:
        lift = at_k.model_copy(update={"value": at_k.value / rate.value})
    return ExpansionMetrics(
        observations=len(seen),
        positives=sum(upsold),
        base_rate=rate,
        opportunity=flag_metrics([r.opportunities > 0 for r in seen], upsold),
        strength_auc=auc(strength, upsold),
        k=k,
        precision_at_k=at_k,
        lift_at_k=lift,
    )


def period_result(
    as_of: date | None, rows: Sequence[Observation], *, bootstrap: int = 0, k: int = DEFAULT_K
) -> PeriodResult:
    """The churn and expansion metrics over ``rows`` (one date, or all pooled)."""
    return PeriodResult(
        as_of=as_of,
        churn=churn_metrics(rows, bootstrap=bootstrap),
        expansion=expansion_metrics(rows, k=k),
    )


def run_backtest(
    session: Session,
    *,
    config: ScoringConfig,
    today: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    upsell_days: int = DEFAULT_UPSELL_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
    observation_dates: Sequence[date] | None = None,
    start: date | None = None,
    end: date | None = None,
    as_of: date | None = None,
    bootstrap: int = BOOTSTRAP_SAMPLES,
    k: int = DEFAULT_K,
    include_observations: bool = False,
) -> BacktestReport:
    """Recompute the scores as of past dates (no look-ahead) and measure how they called churn
    and upsells.

    ``as_of`` is the last day whose data the labels may use (default: the last day with data,
    never after ``today``): contracts starting later are ignored, and a date whose horizon
    reaches past it is left out (censored) and counted in the report.
    """
    if horizon_days < 1 or upsell_days < 1:
        raise ValueError("horizon_days and upsell_days must be at least 1")
    if grace_days < 0:
        raise ValueError("grace_days must not be negative")
    cutoff = labels_cutoff(session, today=today, as_of=as_of)
    if observation_dates is None:
        requested = default_observation_dates(
            session, today=today, horizon_days=horizon_days, start=start, end=end, as_of=as_of
        )
    else:
        requested = sorted(set(observation_dates))
    horizon = timedelta(days=horizon_days)
    dates = [d for d in requested if cutoff is not None and d + horizon <= cutoff]
    censored = [d for d in requested if d not in set(dates)]
    terms = load_terms(session, known_by=cutoff) if dates else {}
    rows: list[Observation] = []
    per_date: list[PeriodResult] = []
    for day in dates:
        observed = cutoff is not None and day + timedelta(days=upsell_days) <= cutoff
        found = observe(
            session,
            config=config,
            as_of=day,
            terms=terms,
            horizon_days=horizon_days,
            upsell_days=upsell_days,
            grace_days=grace_days,
            upsell_observed=observed,
        )
        rows.extend(found)
        per_date.append(period_result(day, found, k=k))
    pooled = period_result(None, rows, bootstrap=bootstrap, k=k)
    present = _signals_present(rows)
    return BacktestReport(
        today=today,
        data_end=data_end(session),
        labels_until=cutoff,
        horizon_days=horizon_days,
        upsell_days=upsell_days,
        grace_days=grace_days,
        observation_dates=dates,
        censored_dates=censored,
        per_date=per_date,
        pooled=pooled,
        signals_present=present,
        notes=_notes(dates, censored, rows, present, cutoff, horizon_days, upsell_days),
        warnings=_warnings(per_date, pooled),
        observations=rows if include_observations else [],
    )


def _signals_present(rows: Sequence[Observation]) -> dict[str, float]:
    from tools.scoring_config import SIGNAL_KEYS

    if not rows:
        return {}
    counts = dict.fromkeys(SIGNAL_KEYS, 0)
    for r in rows:
        for key in r.signals:
            counts[key] = counts.get(key, 0) + 1
    return {key: round(c / len(rows), 4) for key, c in counts.items()}


def _notes(
    dates: Sequence[date],
    censored: Sequence[date],
    rows: Sequence[Observation],
    present: dict[str, float],
    cutoff: date | None,
    horizon_days: int,
    upsell_days: int,
) -> list[str]:
    notes: list[str] = []
    if censored:
        notes.append(
            f"{len(censored)} observation date(s) left out: their {horizon_days}-day horizon "
            f"reaches past {cutoff or 'the data'} (the last day the labels can see): "
            + ", ".join(d.isoformat() for d in censored)
            + "."
        )
    if not dates:
        notes.append(
            f"No observation date: the data needs {MIN_HISTORY_DAYS} days of history before the "
            f"first one and {horizon_days} days after the last."
        )
    unseen = sum(1 for r in rows if r.upsold is None)
    if unseen:
        notes.append(
            f"{unseen} observation(s) left out of the upsell metrics: their {upsell_days}-day "
            "upsell window reaches past the data."
        )
    if present:
        missing = [k for k, share in present.items() if share == 0]
        shown = ", ".join(f"{k} {share:.0%}" for k, share in present.items() if share > 0)
        notes.append(f"Signals present (share of observations): {shown}.")
        static = [k for k in missing if k == "tam_health"]
        absent = [k for k in missing if k != "tam_health"]
        if absent:
            notes.append(
                "Never present (the data has none; the remaining signals carry the score): "
                + ", ".join(absent)
                + "."
            )
        if static:
            notes.append("tam_health is left out of every backtest: only today's value is stored.")
    return notes


def _warnings(per_date: Sequence[PeriodResult], pooled: PeriodResult) -> list[str]:
    warnings = [
        f"Pooled churn rate is not monotonic across bands: {p}."
        for p in pooled.churn.band_order_problems
    ]
    warnings += [
        f"Pooled churn rate is not monotonic across risk levels: {p}."
        for p in pooled.churn.level_order_problems
    ]
    bad = [r.as_of.isoformat() for r in per_date if r.as_of and r.churn.band_order_problems]
    if bad:
        warnings.append(
            f"Band churn rates are not monotonic on {len(bad)} of {len(per_date)} date(s): "
            + ", ".join(bad)
            + "."
        )
    return warnings
