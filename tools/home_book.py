"""The App Home's book of business: one CSM's active accounts with the health band and score,
churn level, triggers and ARR at risk that ``/health`` and ``/churn`` show.

Freshness: on a day that has a scan (the daily job, or ``csbot scan``), the book is read from
that scan's snapshots and churn triggers, with the contract terms (ARR, seats, plan, renewal,
tenure) the scan read through the metric layer and stored with each snapshot: no rescoring and
no contract reads on an App Home open (snapshots from before migration 0016 have no terms: those
are read from the contracts, ``contract_terms``). The values are the scan's, which are the
cards' for the same day (the scan and the cards score the same complete days); data imported
after the scan shows after the next scan. A day without a scan is scored live, as the cards are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlmodel import Session, col

from tools.churn import arr_at_risk
from tools.facts.definitions import cents
from tools.facts.extract import IN_LIST_LIMIT, Scope, contract_terms
from tools.facts.query import rows
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.onboarding import OnboardingConfig, derived_stage, effective_stage
from tools.results import AccountReport, AccountSummary, Band, RiskLevel, Severity, TriggerHit
from tools.scoring import book_reports
from tools.scoring_config import ScoringConfig


@dataclass(frozen=True)
class BookEntry:
    """One account of a CSM's book, as App Home shows it."""

    account: AccountSummary
    score: float
    band: Band
    level: RiskLevel
    triggers: list[TriggerHit] = field(default_factory=list)
    arr_at_risk: Decimal = Decimal("0")
    started_on: date | None = field(default=None, compare=False)
    """When the first contract started, where the scan stored it (not shown: it lets App Home
    skip accounts too old to be onboarding)."""

    @classmethod
    def of(cls, report: AccountReport) -> BookEntry:
        """The entry of a scored account report."""
        return cls(
            account=report.account,
            score=report.health.score,
            band=report.health.band,
            level=report.churn.level,
            triggers=list(report.churn.triggers),
            arr_at_risk=report.churn.arr_at_risk,
        )


def has_scan(session: Session, *, as_of: date) -> bool:
    """Whether ``as_of`` has a scan (any snapshot written for that day)."""
    stmt = select(col(HealthSnapshot.id)).where(col(HealthSnapshot.day) == as_of).limit(1)
    return bool(rows(session, stmt))


def home_book(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    owner_slack_id: str | None = None,
) -> list[BookEntry]:
    """The active accounts among ``account_ids`` (in that order): from the day's scan when
    there is one, else scored now (see the module docstring).

    ``owner_slack_id``, when ``account_ids`` are that owner's accounts (App Home), has the
    day's rows read by owner: the same few statements whatever the size of the book.
    """
    ids = list(account_ids)
    if not ids:
        return []
    if not has_scan(session, as_of=as_of):
        reports = book_reports(session, as_of=as_of, config=config, account_ids=ids)
        return [BookEntry.of(r) for r in reports]
    return scanned_book(
        session, as_of=as_of, config=config, account_ids=ids, owner_slack_id=owner_slack_id
    )


def maybe_onboarding(
    book: Sequence[BookEntry], owned: Sequence[int], as_of: date, config: OnboardingConfig
) -> list[int]:
    """The ``owned`` accounts that may still be onboarding: all but those the scan knows
    started ``config.window_days`` or more ago (their onboarding start, the first contract's,
    is that day), so that a large book reads the start dates of a few accounts only."""
    old = {
        e.account.account_id
        for e in book
        if e.started_on is not None and (as_of - e.started_on).days >= config.window_days
    }
    return [a for a in owned if a not in old]


def scanned_book(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int],
    owner_slack_id: str | None = None,
) -> list[BookEntry]:
    """The book from the snapshots and triggers the scan of ``as_of`` wrote (accounts it did
    not score, i.e. not active at the scan, are left out), with the contract terms the scan
    stored beside each snapshot. Read by owner (``owner_slack_id``), else in chunks of ids short
    enough for an ``IN`` list, so that a large book reads its own rows, not the portfolio's.
    Snapshots written before those terms were stored (migration 0016) get them from the
    contracts, as the metric layer's ``contract_terms`` gives them."""
    wanted = set(account_ids)
    scored: dict[int, tuple[float, Band, RiskLevel]] = {}
    triggers: dict[int, list[TriggerHit]] = {}
    summaries: dict[int, AccountSummary] = {}
    starts: dict[int, date] = {}
    unstored: list[int] = []
    for where in _selections(account_ids, owner_slack_id):
        for row in rows(session, _snapshot_statement(as_of, where)):
            account_id = int(row[0])
            if account_id not in wanted:
                continue
            scored[account_id] = (float(row[1]), Band(row[2]), RiskLevel(row[3]))
            if row[4] is None:
                unstored.append(account_id)
            else:
                summaries[account_id] = _stored_summary(row, as_of, config.onboarding)
                starts[account_id] = as_of - timedelta(days=int(row[8]))
        for account_id, hit in _triggers(session, as_of, where):
            triggers.setdefault(account_id, []).append(hit)
    for chunk in _chunks(unstored):
        summaries.update(_summaries(session, as_of, chunk, config.onboarding))
    book: list[BookEntry] = []
    for account_id in account_ids:
        if account_id not in scored or account_id not in summaries:
            continue
        score, band, level = scored[account_id]
        summary = summaries[account_id]
        book.append(
            BookEntry(
                account=summary,
                score=score,
                band=band,
                level=level,
                triggers=triggers.get(account_id, []),
                arr_at_risk=arr_at_risk(float(summary.arr), level),
                started_on=starts.get(account_id),
            )
        )
    return book


def _chunks(account_ids: Sequence[int]) -> list[list[int]]:
    ids = sorted({int(a) for a in account_ids})
    return [ids[k : k + IN_LIST_LIMIT] for k in range(0, len(ids), IN_LIST_LIMIT)]


Where = Callable[[Any], ColumnElement[bool]]
"""Which accounts' rows to read, given the ``account_id`` column of the table read."""


def _selections(account_ids: Sequence[int], owner_slack_id: str | None) -> list[Where]:
    if owner_slack_id is not None:
        owned = select(col(Account.id)).where(col(Account.owner_slack_id) == owner_slack_id)
        return [lambda column: column.in_(owned)]  # (account_id, day) lookups, owner's ids
    return [partial(_in_ids, ids=ids) for ids in _chunks(account_ids)]


def _in_ids(column: Any, ids: list[int]) -> ColumnElement[bool]:
    return column.in_(ids)  # type: ignore[no-any-return]


_ACCOUNT_COLUMNS = (
    col(Account.external_id),
    col(Account.name),
    col(Account.segment),
    col(Account.industry),
    col(Account.owner_email),
    col(Account.owner_slack_id),
    col(Account.lifecycle_stage),
)


def _snapshot_statement(as_of: date, where: Where) -> Any:
    """The day's snapshots with the stored terms and who the account is: the
    ``(account_id, day)`` index from the owner's accounts (or the ids)."""
    return (
        select(
            col(HealthSnapshot.account_id),
            col(HealthSnapshot.score),
            col(HealthSnapshot.band),
            col(HealthSnapshot.churn_level),
            col(HealthSnapshot.arr),
            col(HealthSnapshot.seats_purchased),
            col(HealthSnapshot.plan),
            col(HealthSnapshot.renewal_date),
            col(HealthSnapshot.tenure_days),
            *_ACCOUNT_COLUMNS,
        )
        .join(Account, col(Account.id) == col(HealthSnapshot.account_id))
        .where(col(HealthSnapshot.day) == as_of, where(col(HealthSnapshot.account_id)))
    )


def _stored_summary(row: Any, as_of: date, onboarding: OnboardingConfig) -> AccountSummary:
    """The summary of a snapshot row with stored terms (the account was active at the scan)."""
    (account_id, _, _, _, arr, seats, plan, renewal, tenure, *who) = row
    return _summary(
        account_id,
        who,
        onboarding,
        tenure=tenure,
        days_to_renewal=(renewal - as_of).days if renewal is not None else None,
        active=True,
        plan=plan,
        arr=cents(float(arr)),
        seats=int(seats),
        renewal=renewal,
    )


def _summary(
    account_id: int,
    who: Sequence[Any],
    onboarding: OnboardingConfig,
    *,
    tenure: int | None,
    days_to_renewal: int | None,
    active: bool,
    plan: str | None,
    arr: Decimal,
    seats: int,
    renewal: date | None,
) -> AccountSummary:
    """One book summary from who the account is (``_ACCOUNT_COLUMNS``) and its terms, wherever
    the terms were read (the scan's snapshot or the contracts); the stage as everywhere."""
    external_id, name, segment, industry, email, slack_id, stored = who
    derived = derived_stage(
        age_days=tenure, days_to_renewal=days_to_renewal, active=active, config=onboarding
    )
    return AccountSummary(
        account_id=int(account_id),
        external_id=external_id,
        name=name,
        segment=segment,
        industry=industry,
        owner_email=email,
        owner_slack_id=slack_id,
        lifecycle_stage=effective_stage(stored, derived),
        plan=plan,
        arr=arr,
        seats_purchased=seats,
        renewal_date=renewal,
        churned=not active,
    )


def _triggers(session: Session, as_of: date, where: Where) -> list[tuple[int, TriggerHit]]:
    stmt = (
        select(
            col(ChurnTriggerRecord.account_id),
            col(ChurnTriggerRecord.key),
            col(ChurnTriggerRecord.kind),
            col(ChurnTriggerRecord.label),
            col(ChurnTriggerRecord.evidence),
            col(ChurnTriggerRecord.severity),
        )
        .where(col(ChurnTriggerRecord.day) == as_of, where(col(ChurnTriggerRecord.account_id)))
        .order_by(col(ChurnTriggerRecord.id))  # the order the scan found them in
    )
    return [
        (
            int(account_id),
            TriggerHit(
                key=key, kind=kind, label=label, evidence=evidence, severity=Severity(severity)
            ),
        )
        for account_id, key, kind, label, evidence, severity in rows(session, stmt)
    ]


def book_summaries(
    session: Session,
    *,
    as_of: date,
    account_ids: Sequence[int],
    config: ScoringConfig | None = None,
) -> dict[int, AccountSummary]:
    """Who each account is and its contract in force on ``as_of`` (the metric layer's
    ``contract_terms``, as ``account_summaries``), without seats used: App Home does not show
    them, and the peak-users query over a whole book is most of what a summary costs."""
    out: dict[int, AccountSummary] = {}
    for ids in _chunks(account_ids):
        out.update(_summaries(session, as_of, ids, (config or ScoringConfig()).onboarding))
    return out


def _summaries(
    session: Session, as_of: date, ids: list[int], onboarding: OnboardingConfig
) -> dict[int, AccountSummary]:
    stmt = select(col(Account.id), *_ACCOUNT_COLUMNS).where(col(Account.id).in_(ids))
    terms = contract_terms(session, Scope(ids), np.array(ids, dtype=np.int64), as_of)
    out: dict[int, AccountSummary] = {}
    position = {a: i for i, a in enumerate(ids)}
    for account_id, *who in rows(session, stmt):
        i = position[int(account_id)]
        active = bool(terms["active"][i])
        out[int(account_id)] = _summary(
            account_id,
            who,
            onboarding,
            tenure=_days(terms["tenure_days"][i]),
            days_to_renewal=_days(terms["days_to_renewal"][i]),
            active=active,
            plan=terms["plan"][i],
            arr=cents(terms["arr"][i]) if active else Decimal("0"),
            seats=int(terms["seats_purchased"][i]) if active else 0,
            renewal=terms["renewal_date"][i],
        )
    return out


def _days(value: float) -> int | None:
    return None if value != value else int(value)  # NaN: unknown
