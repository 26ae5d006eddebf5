"""The scoring facade: scan the portfolio, back-fill history, build account reports.

Slack, the scheduler, Claude and the CLI call these functions; they never call health/churn
internals. Every function takes ``as_of`` explicitly (a settable clock) and is set-based.

Snapshots: ``scan_portfolio`` writes one ``HealthSnapshot`` per account with an active contract
on ``as_of`` (churned and not-yet-signed accounts are not snapshotted) and one
``ChurnTriggerRecord`` per fired trigger. Re-running a scan for the same day replaces that day's
rows, so it is idempotent. It commits.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, delete, func, insert, select
from sqlmodel import Session, col

from tools.churn import churn_from_bands, churn_from_raw
from tools.expansion import expansion_opportunities
from tools.health import (
    SnapshotPayload,
    UnknownAccountError,
    past_scores,
    score_raw,
    snapshot_payloads,
)
from tools.lean import lean_findings
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot, UsageDaily, utcnow
from tools.results import (
    AccountReport,
    AccountSummary,
    Band,
    BandMix,
    ChurnRisk,
    HealthResult,
    RiskLevel,
)
from tools.scoring_config import ScoringConfig
from tools.signals import (
    IN_LIST_LIMIT,
    RawMetrics,
    Scope,
    account_ids_in,
    contract_terms,
    extract_raw,
)

log = logging.getLogger(__name__)

LEVEL_RANK = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}
SUMMARY_USAGE_DAYS = 28

Progress = Callable[[date, int, int], None]


class ScanReport(BaseModel):
    """What one portfolio scan found and wrote."""

    as_of: date
    accounts_scored: int = Field(description="Accounts with an active contract on as_of.")
    snapshots_written: int
    triggers_written: int
    band_mix: BandMix
    high_risk: int = 0
    medium_risk: int = 0
    arr_at_risk: Decimal = Decimal("0")
    newly_risky: list[int] = Field(
        default_factory=list,
        description="Accounts whose churn level rose (vs their previous snapshot) to medium/high.",
    )
    seconds: float = 0.0


def _previous_levels(session: Session, as_of: date) -> dict[int, str]:
    """Churn level of each account's latest snapshot before ``as_of`` (last 120 days)."""
    # The latest day per account comes from the (account_id, day) index; only those rows are
    # read, not every snapshot of the last 120 days.
    latest = (
        select(
            col(HealthSnapshot.account_id).label("account_id"),
            func.max(col(HealthSnapshot.day)).label("day"),
        )
        .where(
            col(HealthSnapshot.day) < as_of,
            col(HealthSnapshot.day) >= as_of - timedelta(days=120),
        )
        .group_by(col(HealthSnapshot.account_id))
        .subquery()
    )
    stmt = select(col(HealthSnapshot.account_id), col(HealthSnapshot.churn_level)).join(
        latest,
        and_(
            col(HealthSnapshot.account_id) == latest.c.account_id,
            col(HealthSnapshot.day) == latest.c.day,
        ),
    )
    return {int(a): str(level) for a, level in session.execute(stmt).all()}


def _snapshot_row(p: SnapshotPayload, day: date, level: RiskLevel, now: Any) -> dict[str, Any]:
    return {
        "account_id": p.account_id,
        "day": day,
        "score": p.score,
        "band": p.band.value,
        "churn_level": level.value,
        "signals": p.signals,
        "drivers": p.drivers,
        "computed_at": now,
    }


def _trigger_rows(risk: ChurnRisk) -> list[dict[str, Any]]:
    return [
        {
            "account_id": risk.account_id,
            "day": risk.as_of,
            "key": t.key,
            "kind": t.kind,
            "label": t.label[:256],
            "evidence": t.evidence[:2000],
            "severity": t.severity.value,
        }
        for t in risk.triggers
    ]


def _write_day(
    session: Session,
    as_of: date,
    payloads: list[SnapshotPayload],
    risks: dict[int, ChurnRisk],
) -> tuple[int, int]:
    session.execute(delete(ChurnTriggerRecord).where(col(ChurnTriggerRecord.day) == as_of))
    session.execute(delete(HealthSnapshot).where(col(HealthSnapshot.day) == as_of))
    now = utcnow()
    snapshots = [_snapshot_row(p, as_of, risks[p.account_id].level, now) for p in payloads]
    triggers = [row for risk in risks.values() for row in _trigger_rows(risk)]
    # Core executemany on the session's connection: no ORM bulk-insert bookkeeping.
    conn = session.connection()
    if snapshots:
        conn.execute(insert(HealthSnapshot.__table__), snapshots)  # type: ignore[attr-defined]
    if triggers:
        conn.execute(insert(ChurnTriggerRecord.__table__), triggers)  # type: ignore[attr-defined]
    return len(snapshots), len(triggers)


def scan_portfolio(session: Session, *, as_of: date, config: ScoringConfig) -> ScanReport:
    """Score every active account as of ``as_of``, store the day's snapshots and triggers."""
    started = clock.perf_counter()
    previous = _previous_levels(session, as_of)
    raw = extract_raw(session, as_of=as_of, config=config)
    matrix, payloads = snapshot_payloads(raw, config)
    payloads = [p for p, active in zip(payloads, raw.active.tolist(), strict=True) if active]
    bands = {p.account_id: p.band for p in payloads}
    risks = churn_from_bands(raw, config=config, bands=bands, matrix=matrix)
    written, fired = _write_day(session, as_of, payloads, risks)
    session.commit()
    levels = [r.level for r in risks.values()]
    newly = [
        a
        for a, r in risks.items()
        if r.level != RiskLevel.LOW
        and LEVEL_RANK[r.level] < LEVEL_RANK[RiskLevel(previous.get(a, RiskLevel.LOW.value))]
    ]
    report = ScanReport(
        as_of=as_of,
        accounts_scored=len(payloads),
        snapshots_written=written,
        triggers_written=fired,
        band_mix=BandMix(
            green=sum(p.band == Band.GREEN for p in payloads),
            amber=sum(p.band == Band.AMBER for p in payloads),
            red=sum(p.band == Band.RED for p in payloads),
        ),
        high_risk=levels.count(RiskLevel.HIGH),
        medium_risk=levels.count(RiskLevel.MEDIUM),
        arr_at_risk=sum((r.arr_at_risk for r in risks.values()), Decimal("0")),
        newly_risky=sorted(newly),
        seconds=round(clock.perf_counter() - started, 3),
    )
    log.info("scan %s: %d accounts, %d high risk", as_of, report.accounts_scored, report.high_risk)
    return report


def backfill_snapshots(
    session: Session,
    *,
    start: date,
    end: date,
    step_days: int,
    config: ScoringConfig,
    progress: Progress | None = None,
) -> list[ScanReport]:
    """Scan every ``step_days`` from ``start`` to ``end`` (inclusive), oldest first."""
    if step_days < 1:
        raise ValueError("step_days must be at least 1")
    if end < start:
        raise ValueError("end is before start")
    days = [start + timedelta(days=k) for k in range(0, (end - start).days + 1, step_days)]
    if days[-1] != end:
        days.append(end)
    reports = []
    for n, day in enumerate(days, start=1):
        reports.append(scan_portfolio(session, as_of=day, config=config))
        if progress is not None:
            progress(day, n, len(days))
    return reports


def _peak_seats_used(session: Session, as_of: date, scope: Scope) -> dict[int, int]:
    stmt = (
        select(col(UsageDaily.account_id), func.max(col(UsageDaily.active_users)))
        .where(
            col(UsageDaily.day) > as_of - timedelta(days=SUMMARY_USAGE_DAYS),
            col(UsageDaily.day) <= as_of,
        )
        .group_by(col(UsageDaily.account_id))
    )
    stmt = scope.apply(stmt, col(UsageDaily.account_id))
    return {int(a): int(m or 0) for a, m in session.execute(stmt).all()}


def _summaries(
    session: Session, ids: list[int], terms: dict[str, Any], seats_used: dict[int, int]
) -> dict[int, AccountSummary]:
    stmt = select(Account)
    if len(ids) <= IN_LIST_LIMIT:
        stmt = stmt.where(col(Account.id).in_(ids))
    accounts = {a.id: a for a in session.execute(stmt).scalars()}
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
            lifecycle_stage=account.lifecycle_stage,
            plan=terms["plan"][i],
            arr=_money(terms["arr"][i]) if active else Decimal("0"),
            seats_purchased=int(terms["seats_purchased"][i]) if active else 0,
            seats_used=seats_used.get(account_id),
            renewal_date=terms["renewal_date"][i],
            churned=not active,
        )
    return out


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2))).quantize(Decimal("0.01"))


def account_summaries(
    session: Session, *, as_of: date, account_ids: Sequence[int] | None = None
) -> dict[int, AccountSummary]:
    """Who each account is and its contract in force on ``as_of`` (churned = none in force)."""
    scope = Scope(account_ids)
    ids, _ = account_ids_in(session, scope, raw_tam=False)
    terms = contract_terms(session, scope, ids, as_of)
    seats = _peak_seats_used(session, as_of, scope)
    return _summaries(session, ids.tolist(), terms, seats)


def _summaries_from_raw(
    session: Session, raw: RawMetrics, account_ids: Sequence[int]
) -> dict[int, AccountSummary]:
    wanted = [raw.position(a) for a in account_ids]
    terms = {
        "active": [raw.active[p] for p in wanted],
        "plan": [raw.plan[p] for p in wanted],
        "arr": [raw.arr[p] for p in wanted],
        "seats_purchased": [raw.seats_purchased[p] for p in wanted],
        "renewal_date": [raw.renewal_date[p] for p in wanted],
    }
    seats = {
        int(raw.ids[p]): int(raw.seats_used[p]) for p in wanted if raw.usage_rows_recent[p] > 0
    }
    return _summaries(session, list(account_ids), terms, seats)


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
    summaries = _summaries_from_raw(session, raw, ids)
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


def account_report(
    session: Session, *, account_id: int, as_of: date, config: ScoringConfig
) -> AccountReport:
    """Everything ``/health <account>`` shows: summary, health, churn risk, Lean, expansion."""
    raw = extract_raw(session, as_of=as_of, config=config, account_ids=[account_id])
    if account_id not in raw.ids.tolist():
        raise UnknownAccountError(f"no account with id {account_id}")
    health = score_raw(session, raw, config=config)
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


def _owned_by(session: Session, owner_slack_id: str) -> list[int]:
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
    scope_ids = None if owner_slack_id is None else _owned_by(session, owner_slack_id)
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


def _add_trends(
    session: Session,
    raw: RawMetrics,
    health: dict[int, HealthResult],
    account_ids: list[int],
    config: ScoringConfig,
) -> None:
    if not account_ids:
        return
    for days, field in ((30, "trend_30d"), (90, "trend_90d")):
        past = past_scores(
            session, day=raw.as_of - timedelta(days=days), config=config, account_ids=account_ids
        )
        for a in account_ids:
            if a in past:
                setattr(health[a], field, round(health[a].score - past[a], 1))
