"""Account reports: who an account is, its health and churn risk, Lean and expansion findings.

``account_report`` is everything ``/health <account>`` shows; ``book_reports`` and
``at_risk_accounts`` the lists (App Home, ``/churn``); ``scanned_at_risk`` ranks the day's scan
without rescoring the portfolio.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlmodel import Session, col

from tools.churn import churn_from_raw
from tools.expansion import expansion_of, expansion_opportunities
from tools.facts.definitions import cents
from tools.facts.extract import (
    IN_LIST_LIMIT,
    RawMetrics,
    Scope,
    account_ids_in,
    contract_terms,
    extract_raw,
    seats_used_by_account,
)
from tools.health import UnknownAccountError, extract_with_history, score_raw, trend_baselines
from tools.lean import lean_findings, lean_findings_of
from tools.models import Account, HealthSnapshot
from tools.onboarding import OnboardingConfig, lifecycle_stage
from tools.results import AccountReport, AccountSummary, ChurnRisk, HealthResult, RiskLevel
from tools.scoring_config import ScoringConfig

LEVEL_RANK = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}


def _summaries(
    session: Session,
    ids: list[int],
    terms: dict[str, Any],
    seats_used: dict[int, int],
    onboarding: OnboardingConfig,
) -> dict[int, AccountSummary]:
    accounts = _loaded_accounts(session, ids)
    unloaded = [a for a in ids if a not in accounts]
    if unloaded:
        stmt = select(Account)
        if len(unloaded) <= IN_LIST_LIMIT:
            stmt = stmt.where(col(Account.id).in_(unloaded))
        accounts.update({a.id: a for a in session.execute(stmt).scalars() if a.id is not None})
    out: dict[int, AccountSummary] = {}
    for i, account_id in enumerate(ids):
        account = accounts.get(account_id)
        if account is None:
            continue
        active = bool(terms["active"][i])
        out[account_id] = AccountSummary(
            account_id=account_id,
            external_id=account.external_id,
            name=account.name,
            segment=account.segment,
            industry=account.industry,
            owner_email=account.owner_email,
            owner_slack_id=account.owner_slack_id,
            lifecycle_stage=_stage(account.lifecycle_stage, terms, i, active, onboarding),
            plan=terms["plan"][i],
            arr=cents(terms["arr"][i]) if active else Decimal("0"),
            seats_purchased=int(terms["seats_purchased"][i]) if active else 0,
            seats_used=seats_used.get(account_id),
            renewal_date=terms["renewal_date"][i],
            churned=not active,
        )
    return out


def _loaded_accounts(session: Session, ids: list[int]) -> dict[int, Account]:
    """The accounts among ``ids`` this session already holds, loaded (e.g. the one ``/health``
    just resolved): a query would return these same objects, so none is run for them."""
    out: dict[int, Account] = {}
    for account_id in ids:
        found = session.identity_map.get(session.identity_key(Account, account_id))
        if isinstance(found, Account) and not inspect(found).expired_attributes:
            out[account_id] = found
    return out


def _stage(
    stored: str, terms: dict[str, Any], i: int, active: bool, onboarding: OnboardingConfig
) -> str:
    """The imported lifecycle stage, else the one derived from tenure and renewal."""

    def days(key: str) -> int | None:
        values = terms.get(key)
        value = float(values[i]) if values is not None else float("nan")
        return None if value != value else int(value)

    return lifecycle_stage(
        stored,
        age_days=days("tenure_days"),
        days_to_renewal=days("days_to_renewal"),
        active=active,
        config=onboarding,
    )


def account_summaries(
    session: Session,
    *,
    as_of: date,
    account_ids: Sequence[int] | None = None,
    config: ScoringConfig | None = None,
) -> dict[int, AccountSummary]:
    """Who each account is and its contract in force on ``as_of`` (churned = none in force);
    seats used is the metric layer's (peak daily active users, usage window, complete days)."""
    scope = Scope(account_ids)
    ids, _ = account_ids_in(session, scope, raw_tam=False)
    terms = contract_terms(session, scope, ids, as_of)
    config = config or ScoringConfig()
    window = config.health.normalise.usage_window_days
    seats = seats_used_by_account(session, scope, as_of, window)
    return _summaries(session, ids.tolist(), terms, seats, config.onboarding)


def _summaries_from_raw(
    session: Session, raw: RawMetrics, account_ids: Sequence[int], onboarding: OnboardingConfig
) -> dict[int, AccountSummary]:
    wanted = [raw.position(a) for a in account_ids]
    terms = {
        "active": [raw.active[p] for p in wanted],
        "plan": [raw.plan[p] for p in wanted],
        "arr": [raw.arr[p] for p in wanted],
        "seats_purchased": [raw.seats_purchased[p] for p in wanted],
        "renewal_date": [raw.renewal_date[p] for p in wanted],
        "tenure_days": [raw.tenure_days[p] for p in wanted],
        "days_to_renewal": [raw.days_to_renewal[p] for p in wanted],
    }
    seats = {
        int(raw.ids[p]): int(raw.seats_used[p]) for p in wanted if raw.usage_rows_recent[p] > 0
    }
    return _summaries(session, list(account_ids), terms, seats, onboarding)


def _reports(
    session: Session,
    *,
    raw: RawMetrics,
    as_of: date,
    config: ScoringConfig,
    health: dict[int, HealthResult],
    risks: dict[int, ChurnRisk],
    account_ids: Sequence[int],
) -> list[AccountReport]:
    ids = list(account_ids)
    if not ids:
        return []
    summaries = _summaries_from_raw(session, raw, ids, config.onboarding)
    facts = raw.extra.get("findings")
    if facts is not None:  # read with the report's own extraction
        wanted = {a: facts[a] for a in ids if a in facts}
        lean = lean_findings_of(session, facts=wanted, config=config)
        expansion = expansion_of(wanted, config=config)
    else:
        lean = lean_findings(session, as_of=as_of, config=config, account_ids=ids)
        expansion = expansion_opportunities(session, as_of=as_of, config=config, account_ids=ids)
    return [
        AccountReport(
            account=summaries[a],
            health=health[a],
            churn=risks[a],
            lean=lean.get(a, []),
            expansion=expansion.get(a, []),
        )
        for a in ids
        if a in summaries
    ]


def book_reports(
    session: Session, *, as_of: date, config: ScoringConfig, account_ids: Sequence[int]
) -> list[AccountReport]:
    """Health and churn of the active accounts among ``account_ids``, in that order, from one
    extraction: no trends, Lean or expansion (lists and the App Home don't show them)."""
    ids = list(account_ids)
    if not ids:
        return []
    raw = extract_raw(session, as_of=as_of, config=config, account_ids=ids)
    health = score_raw(session, raw, config=config, trends=False)
    active = set(raw.ids[raw.active].tolist())
    health = {a: h for a, h in health.items() if a in active}
    risks = churn_from_raw(raw, config=config, health=health)
    summaries = _summaries_from_raw(session, raw, list(health), config.onboarding)
    return [
        AccountReport(account=summaries[a], health=health[a], churn=risks[a], lean=[], expansion=[])
        for a in ids
        if a in health and a in summaries
    ]


def account_report(
    session: Session, *, account_id: int, as_of: date, config: ScoringConfig
) -> AccountReport:
    """Everything ``/health <account>`` shows: summary, health, churn risk, Lean, expansion."""
    raw, baselines = extract_with_history(
        session, as_of=as_of, config=config, account_ids=[account_id], findings=True
    )
    if account_id not in raw.ids.tolist():
        raise UnknownAccountError(f"no account with id {account_id}")
    health = score_raw(session, raw, config=config, baselines=baselines)
    risks = churn_from_raw(raw, config=config, health=health)
    reports = _reports(
        session,
        raw=raw,
        as_of=as_of,
        config=config,
        health=health,
        risks=risks,
        account_ids=[account_id],
    )
    return reports[0]


def owned_account_ids(session: Session, *, owner_slack_id: str) -> list[int]:
    """Ids of the accounts whose CSM owner is ``owner_slack_id``."""
    stmt = select(col(Account.id)).where(col(Account.owner_slack_id) == owner_slack_id)
    return [int(a) for (a,) in session.execute(stmt).all()]


def risk_order(
    report_health: HealthResult, risk: ChurnRisk, arr: float
) -> tuple[int, float, float]:
    """Sort key: level (high first), then score (lowest first), then ARR (largest first)."""
    return (LEVEL_RANK[risk.level], report_health.score, -arr)


def at_risk_accounts(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    owner_slack_id: str | None = None,
    limit: int = 20,
) -> list[AccountReport]:
    """Active accounts at medium or high churn risk, ranked (level, score asc, ARR desc)."""
    scope_ids = (
        None
        if owner_slack_id is None
        else owned_account_ids(session, owner_slack_id=owner_slack_id)
    )
    if scope_ids is not None and not scope_ids:
        return []
    raw = extract_raw(session, as_of=as_of, config=config, account_ids=scope_ids)
    health = score_raw(session, raw, config=config, trends=False)
    active = set(raw.ids[raw.active].tolist())
    health = {a: h for a, h in health.items() if a in active}
    risks = churn_from_raw(raw, config=config, health=health)
    risky = [a for a, r in risks.items() if r.level != RiskLevel.LOW]
    risky.sort(key=lambda a: risk_order(health[a], risks[a], float(raw.arr[raw.position(a)])))
    top = risky[: max(limit, 0)]
    _add_trends(session, raw, health, top, config)
    return _reports(
        session, raw=raw, as_of=as_of, config=config, health=health, risks=risks, account_ids=top
    )


def scanned_at_risk(
    session: Session, *, as_of: date, config: ScoringConfig, limit: int = 10
) -> list[AccountReport]:
    """The top at-risk accounts of the day's scan, ranked like ``at_risk_accounts``, without
    rescoring the portfolio: ranked on the stored snapshots, then only the top few scored.

    Same accounts, order, health and churn as ``at_risk_accounts`` right after
    ``scan_portfolio(as_of)``; like ``book_reports``, no trends, Lean or expansion.
    """
    levels = [level.value for level in LEVEL_RANK if level != RiskLevel.LOW]
    stmt = select(
        col(HealthSnapshot.account_id), col(HealthSnapshot.churn_level), col(HealthSnapshot.score)
    ).where(col(HealthSnapshot.day) == as_of, col(HealthSnapshot.churn_level).in_(levels))
    keys = sorted(
        (LEVEL_RANK[RiskLevel(level)], float(score), int(a))
        for a, level, score in session.execute(stmt).all()
    )
    if not keys or limit <= 0:
        return []
    cutoff = keys[min(limit, len(keys)) - 1][:2]
    candidates = [a for rank, score, a in keys if (rank, score) <= cutoff]  # ties on ARR
    reports = book_reports(session, as_of=as_of, config=config, account_ids=candidates)
    reports.sort(key=lambda r: risk_order(r.health, r.churn, float(r.account.arr)))
    return reports[:limit]


def _add_trends(
    session: Session,
    raw: RawMetrics,
    health: dict[int, HealthResult],
    account_ids: list[int],
    config: ScoringConfig,
) -> None:
    if not account_ids:
        return
    past30, past90 = trend_baselines(
        session, as_of=raw.as_of, config=config, account_ids=account_ids
    )
    for a in account_ids:
        if a in past30:
            health[a].trend_30d = round(health[a].score - past30[a], 1)
        if a in past90:
            health[a].trend_90d = round(health[a].score - past90[a], 1)
