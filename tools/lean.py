"""Lean waste: Muda (unused licences), Mura (erratic usage), Muri (support overload).

Definitions (complete days before ``as_of``, from the metric layer ``tools.facts``; accounts
without a contract in force get nothing; thresholds in ``LeanConfig``):
- Muda: seats used = the metric layer's seats used, the *peak* daily active users over the
  usage window (``health.normalise.usage_window_days``, a conservative choice: it never
  overstates waste), the same figure every surface shows; unused = purchased - used; a
  finding when the unused share >= 20%; annual cost = unused x ARR / seats purchased, rounded
  to dollars. No seats purchased, no finding. No usage rows at all means no seat was used.
- Mura: weekly active users = mean daily active users of each of the last 12 weeks (missing
  days count as zero, weeks before the first active week are dropped, >= 4 weeks needed);
  erratic when std / mean >= 0.35. A gap = consecutive days without active users, counted from
  the first active day in the window, including the run up to ``as_of`` - 1; >= 7 days is a finding.
- Muri: tickets opened in the ticket window (``health.normalise.ticket_window_days``) / seats
  used (at least 1), compared with the median of that ratio over all accounts that filed a
  ticket (always the whole portfolio, whatever ``account_ids``); >= 2x with >= 5 tickets is
  overload. Also urgent tickets open at the start of ``as_of`` opened more than 7 days before.

Performance: a call for a few accounts reads only those accounts' rows, except for the Muri
portfolio median, which needs every account. On large portfolios (more than
``MEDIAN_CACHE_MIN_USAGE_ROWS`` usage rows) that median is cached in-process per (engine,
``as_of``, window), at most ``MEDIAN_CACHE_SIZE`` entries per engine. An entry is reused only
while no ticket or usage row was appended since (largest ids unchanged) and for at most
``MEDIAN_CACHE_TTL_SECONDS``; every whole-portfolio call recomputes it and refreshes the entry.
Small portfolios are always computed exactly.
"""

from __future__ import annotations

import threading
import time as monotonic_clock
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, Engine, Integer, and_, bindparam, case, func, literal, or_, select
from sqlalchemy import cast as sa_cast
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from tools.facts.definitions import TIER_RANK, data_end, dollars, money_text
from tools.facts.extract import Scope, seats_used_by_account
from tools.models import Account, Contract, Ticket, TicketPriority, UsageDaily
from tools.results import LeanFinding, Playbook, PlaybookStep, Severity
from tools.wording import plural

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig


class LeanConfig(BaseModel):
    """Thresholds for the Lean waste findings (TOML section ``[lean]``)."""

    model_config = ConfigDict(extra="forbid")

    # Muda: unused licences.
    muda_min_unused_share: float = Field(default=0.2, ge=0, le=1)
    muda_medium_share: float = Field(default=0.35, ge=0, le=1)
    muda_high_share: float = Field(default=0.5, ge=0, le=1)
    muda_min_unused_seats: int = Field(default=1, ge=1)
    # Mura: erratic usage.
    mura_weeks: int = Field(default=12, ge=2, description="Weeks of weekly active users.")
    mura_cv_threshold: float = Field(default=0.35, ge=0, description="Coefficient of variation.")
    mura_cv_high: float = Field(default=0.6, ge=0)
    mura_gap_days: int = Field(default=7, ge=1, description="Consecutive zero-usage days.")
    mura_gap_high_days: int = Field(default=14, ge=1)
    # Muri: support overload.
    muri_ratio_multiple: float = Field(
        default=2.0, ge=1, description="Tickets per active user vs the portfolio median."
    )
    muri_ratio_high_multiple: float = Field(default=4.0, ge=1)
    muri_min_tickets: int = Field(default=5, ge=1, description="Ignore tiny ticket counts.")
    muri_urgent_open_days: int = Field(default=7, ge=0)
    muri_urgent_high_count: int = Field(default=3, ge=1)


# --------------------------------------------------------------------------------------------
# Shared set-based readers (also used by tools.expansion and tools.metrics).
# --------------------------------------------------------------------------------------------

__all__ = ["TIER_RANK", "dollars", "format_money"]  # re-exported for older imports


@dataclass(frozen=True)
class ActiveContract:
    """The contract in force for an account on a day (the latest-starting one if several)."""

    account_id: int
    external_id: str
    plan: str
    arr: Decimal
    seats_purchased: int
    start_date: date
    end_date: date


def in_ids(column: Any, account_ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN (...)`` rendered inline, so 100k ids do not hit the bind-parameter limit."""
    ids = sorted({int(i) for i in account_ids})
    return cast(
        ColumnElement[bool],
        column.in_(bindparam("account_ids", ids, expanding=True, literal_execute=True)),
    )


def rows(session: Session, stmt: Executable) -> Sequence[Any]:
    """Run a Core ``select`` on the session's connection and return all rows."""
    return session.connection().execute(stmt).all()


def day_cutoff(day: date) -> datetime:
    """The first instant after ``day`` (UTC); timestamps before it are on/before ``day``."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def active_contracts(
    session: Session, *, on: date, account_ids: Sequence[int] | None = None
) -> dict[int, ActiveContract]:
    """Contracts in force on ``on`` (start_date <= on <= end_date), one per account."""
    stmt = (
        select(
            col(Contract.account_id),
            col(Account.external_id),
            col(Contract.plan),
            col(Contract.arr),
            col(Contract.seats_purchased),
            col(Contract.start_date),
            col(Contract.end_date),
        )
        .join(Account, col(Account.id) == col(Contract.account_id))
        .where(col(Contract.start_date) <= on, col(Contract.end_date) >= on)
        .order_by(col(Contract.account_id), col(Contract.start_date), col(Contract.id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(Contract.account_id), account_ids))
    result: dict[int, ActiveContract] = {}
    for row in rows(session, stmt):
        # Ordered by start date: a renewal overlapping its predecessor wins.
        result[row[0]] = ActiveContract(
            account_id=row[0],
            external_id=row[1],
            plan=row[2],
            arr=Decimal(row[3] or 0),
            seats_purchased=int(row[4] or 0),
            start_date=row[5],
            end_date=row[6],
        )
    return result


def seats_used(
    session: Session, *, as_of: date, config: ScoringConfig, account_ids: Sequence[int] | None
) -> dict[int, int]:
    """Seats used per account: the metric layer's one definition (peak daily active users over
    the usage window of complete days)."""
    window = config.health.normalise.usage_window_days
    return seats_used_by_account(session, Scope(account_ids), as_of, window)


@dataclass(frozen=True)
class WeeklyUsage:
    """Per-account weekly usage, oldest week first; week ``w`` ends ``7*(weeks-1-w)`` days
    before ``as_of``. ``mean_dau`` counts missing days as zero."""

    account_ids: npt.NDArray[np.int64]
    mean_dau: npt.NDArray[np.float64]  # shape (accounts, weeks)
    peak_dau: npt.NDArray[np.float64]  # shape (accounts, weeks)

    def index(self) -> dict[int, int]:
        """Row index of each account id."""
        return {int(a): i for i, a in enumerate(self.account_ids)}


def weekly_usage(
    session: Session, *, as_of: date, weeks: int, account_ids: Sequence[int] | None = None
) -> WeeklyUsage:
    """Mean and peak daily active users per week for the ``weeks`` complete weeks before
    ``as_of`` (the last week ends on ``as_of`` - 1).

    Accounts with no active user at all in those weeks are absent.
    """
    # One aggregate column per week: grouping by a computed week number is far slower on
    # SQLite (it cannot use the (account_id, day) index order).
    columns: list[Any] = [col(UsageDaily.account_id)]
    last = as_of - timedelta(days=1)  # complete days only
    for w in range(weeks):
        hi = last - timedelta(days=7 * (weeks - 1 - w))
        in_week = col(UsageDaily.day) >= hi - timedelta(days=6)
        if w < weeks - 1:
            in_week = and_(in_week, col(UsageDaily.day) <= hi)
        users = case((in_week, col(UsageDaily.active_users)), else_=0)
        columns.extend([func.sum(users), func.max(users)])
    start = as_of - timedelta(days=7 * weeks)
    stmt = (
        select(*columns)
        .where(
            col(UsageDaily.day) >= start,
            col(UsageDaily.day) < as_of,
            col(UsageDaily.active_users) > 0,  # zeros change neither the sum nor the peak
        )
        .group_by(col(UsageDaily.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(UsageDaily.account_id), account_ids))
    result = rows(session, stmt)
    if not result:
        empty = np.zeros((0, weeks), dtype=np.float64)
        return WeeklyUsage(np.zeros(0, dtype=np.int64), empty, empty.copy())
    data = np.array([[float(v or 0) for v in row] for row in result], dtype=np.float64)
    return WeeklyUsage(
        account_ids=data[:, 0].astype(np.int64),
        mean_dau=data[:, 1::2] / 7.0,
        peak_dau=data[:, 2::2],
    )


# --------------------------------------------------------------------------------------------
# Formatting helpers.
# --------------------------------------------------------------------------------------------


format_money = money_text  # the one money formatter (tools.facts.definitions)


def pct(share: float) -> str:
    return f"{round(share * 100)}%"


# --------------------------------------------------------------------------------------------
# Playbooks.
# --------------------------------------------------------------------------------------------


def licence_optimisation_playbook() -> Playbook:
    """What to do about unused licences."""
    return Playbook(
        key="licence_optimisation",
        title="Licence optimisation plan",
        goal="Turn unused seats into active users before renewal, or right-size honestly.",
        steps=[
            PlaybookStep(
                title="Identify inactive users",
                detail="Pull the list of licensed users with no activity in 30 days; "
                "share it with the admin.",
            ),
            PlaybookStep(
                title="Decide: drive adoption or right-size",
                detail="With the champion, decide which teams should be using the product; "
                "plan to right-size at renewal only the seats with no owner.",
            ),
            PlaybookStep(
                title="Run an enablement campaign",
                detail="Onboarding sessions and in-app guides for the inactive teams.",
                owner="CSM",
            ),
            PlaybookStep(
                title="Re-measure in 30 days",
                detail="Compare seats used vs purchased and report the change at the next QBR.",
            ),
        ],
    )


def adoption_training_playbook() -> Playbook:
    """What to do about erratic usage."""
    return Playbook(
        key="adoption_training",
        title="Adoption and training plan",
        goal="Make usage steady: a habit, not a campaign.",
        steps=[
            PlaybookStep(
                title="Find the cause of the dips",
                detail="Ask the champion what happened in the low weeks "
                "(seasonality, projects, outages, turnover).",
            ),
            PlaybookStep(
                title="Anchor a recurring workflow",
                detail="Tie the product to a weekly team ritual (report, stand-up, review).",
            ),
            PlaybookStep(
                title="Train the occasional users",
                detail="Short role-based training for users active only in peak weeks.",
            ),
            PlaybookStep(
                title="Watch weekly active users",
                detail="Review weekly active users every two weeks until variability falls.",
            ),
        ],
    )


def qbr_support_alignment_playbook() -> Playbook:
    """What to do about support overload."""
    return Playbook(
        key="qbr_support_alignment",
        title="QBR and support alignment",
        goal="Cut the ticket load at its source and clear the urgent backlog.",
        steps=[
            PlaybookStep(
                title="Clear urgent tickets",
                detail="Escalate urgent tickets open past the target with the support lead.",
                owner="Support",
            ),
            PlaybookStep(
                title="Theme the tickets",
                detail="Group the last 90 days of tickets by theme; find the top three causes.",
                owner="Support",
            ),
            PlaybookStep(
                title="Fix the root causes",
                detail="Targeted training, documentation or product fixes for each theme.",
            ),
            PlaybookStep(
                title="Review at the QBR",
                detail="Walk the customer through the ticket trend and the agreed actions.",
            ),
        ],
    )


# --------------------------------------------------------------------------------------------
# The findings.
# --------------------------------------------------------------------------------------------


def _severity(value: float, medium: float, high: float) -> Severity:
    if value >= high:
        return Severity.HIGH
    if value >= medium:
        return Severity.MEDIUM
    return Severity.LOW


def _muda(
    contract: ActiveContract, peak_used: int, cfg: LeanConfig, days: int
) -> LeanFinding | None:
    purchased = contract.seats_purchased
    if purchased <= 0:
        return None
    used = min(peak_used, purchased)
    unused = purchased - used
    share = unused / purchased
    if unused < cfg.muda_min_unused_seats or share < cfg.muda_min_unused_share:
        return None
    seat_price = contract.arr / purchased
    annual_cost = dollars(seat_price * unused)
    evidence = [
        f"{unused:,} of {purchased:,} seats unused ({pct(share)}) over the last {days} days",
        f"peak daily active users in the last {days} days: {peak_used:,}",
        f"price per seat: {format_money(seat_price)}/year "
        f"(ARR {format_money(contract.arr)} / {purchased:,} seats)",
        f"renewal on {contract.end_date.isoformat()}",
    ]
    return LeanFinding(
        account_id=contract.account_id,
        kind="muda",
        title=f"{format_money(annual_cost)}/year of unused capacity",
        severity=_severity(share, cfg.muda_medium_share, cfg.muda_high_share),
        evidence=evidence,
        annual_cost=annual_cost,
        playbook=licence_optimisation_playbook(),
    )


def _longest_gaps(
    session: Session, *, as_of: date, days: int, account_ids: Sequence[int] | None
) -> dict[int, int]:
    """Longest run of consecutive days without active users, per account, in the window.

    Measured from the first active day in the window (days before it are not a gap: the
    account may be new), including the run from the last active day up to ``as_of``.
    Missing usage rows count as zero. Accounts with no active day in the window are absent.
    """
    start = as_of - timedelta(days=days)
    day_no = _day_number(session, col(UsageDaily.day))
    active = select(
        col(UsageDaily.account_id).label("account_id"),
        col(UsageDaily.day).label("day"),
        day_no.label("dn"),
        func.lag(day_no)
        .over(partition_by=col(UsageDaily.account_id), order_by=day_no)
        .label("prev"),
    ).where(
        col(UsageDaily.day) >= start,
        col(UsageDaily.day) < as_of,
        col(UsageDaily.active_users) > 0,
    )
    if account_ids is not None:
        active = active.where(in_ids(col(UsageDaily.account_id), account_ids))
    sub = active.subquery()
    stmt = select(
        sub.c.account_id,
        func.max(sub.c.dn - sub.c.prev - 1),
        func.max(sub.c.day),
    ).group_by(sub.c.account_id)
    gaps: dict[int, int] = {}
    for account_id, inner_gap, last_day in rows(session, stmt):
        last = last_day if isinstance(last_day, date) else date.fromisoformat(str(last_day))
        trailing = (as_of - last).days - 1  # days after the last active one, up to as_of - 1
        gaps[int(account_id)] = max(int(inner_gap or 0), trailing)
    return gaps


def _day_number(session: Session, column: Any) -> ColumnElement[int]:
    """An integer day number for a DATE column, on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "sqlite":
        return sa_cast(func.julianday(column), Integer)
    return sa_cast(column - literal(date(1970, 1, 1), Date), Integer)


def _mura(
    account_id: int,
    weekly: npt.NDArray[np.float64] | None,
    gap: int | None,
    cfg: LeanConfig,
) -> LeanFinding | None:
    evidence: list[str] = []
    cv: float | None = None
    if weekly is not None:
        nonzero = np.flatnonzero(weekly > 0)
        if nonzero.size:
            # Leading empty weeks are before the account started using the product.
            series = weekly[nonzero[0] :]
            if series.size >= 4 and float(series.mean()) > 0:
                cv = float(series.std() / series.mean())
    erratic = cv is not None and cv >= cfg.mura_cv_threshold
    gappy = gap is not None and gap >= cfg.mura_gap_days
    if not (erratic or gappy):
        return None
    if cv is not None and weekly is not None:
        series = weekly[np.flatnonzero(weekly > 0)[0] :]
        evidence.append(
            f"weekly active users varied by {pct(cv)} (coefficient of variation) over the "
            f"last {series.size} weeks, from {series.min():,.0f} to {series.max():,.0f} "
            "average daily active users"
        )
    if gap is not None and gap > 0:
        evidence.append(
            f"longest run without any active users: {plural(gap, 'day')} in the last "
            f"{cfg.mura_weeks} weeks"
        )
    severity = Severity.MEDIUM
    if (cv is not None and cv >= cfg.mura_cv_high) or (
        gap is not None and gap >= cfg.mura_gap_high_days
    ):
        severity = Severity.HIGH
    title = "Erratic usage" if erratic else "Long gaps in usage"
    if erratic and gappy:
        title = "Erratic usage with long gaps"
    return LeanFinding(
        account_id=account_id,
        kind="mura",
        title=title,
        severity=severity,
        evidence=evidence,
        playbook=adoption_training_playbook(),
    )


@dataclass(frozen=True)
class _UrgentOpen:
    count: int
    oldest_days: int


def _ticket_counts(
    session: Session,
    *,
    since: datetime,
    cutoff: datetime,
    account_ids: Sequence[int] | None = None,
) -> dict[int, int]:
    stmt = (
        select(col(Ticket.account_id), func.count())
        .where(col(Ticket.opened_at) >= since, col(Ticket.opened_at) < cutoff)
        .group_by(col(Ticket.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(Ticket.account_id), account_ids))
    return {int(a): int(n) for a, n in rows(session, stmt)}


def _urgent_open(
    session: Session, *, as_of: date, days: int, account_ids: Sequence[int] | None
) -> dict[int, _UrgentOpen]:
    """Urgent tickets still open at the start of ``as_of`` and opened more than ``days`` ago."""
    cutoff = data_end(as_of)
    stmt = (
        select(col(Ticket.account_id), func.count(), func.min(col(Ticket.opened_at)))
        .where(
            col(Ticket.priority) == TicketPriority.URGENT.value,
            col(Ticket.opened_at) < cutoff - timedelta(days=days),
            or_(col(Ticket.closed_at).is_(None), col(Ticket.closed_at) >= cutoff),
        )
        .group_by(col(Ticket.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(Ticket.account_id), account_ids))
    result: dict[int, _UrgentOpen] = {}
    for account_id, n, oldest in rows(session, stmt):
        opened = oldest if isinstance(oldest, datetime) else datetime.fromisoformat(str(oldest))
        if opened.tzinfo is None:
            opened = opened.replace(tzinfo=UTC)
        result[int(account_id)] = _UrgentOpen(int(n), (as_of - opened.date()).days)
    return result


def _muri(
    account_id: int,
    tickets: int,
    active_users: int,
    median_ratio: float | None,
    urgent: _UrgentOpen | None,
    cfg: LeanConfig,
    days: int,
) -> LeanFinding | None:
    ratio = tickets / max(active_users, 1)
    multiple = ratio / median_ratio if median_ratio else None
    overloaded = (
        multiple is not None
        and tickets >= cfg.muri_min_tickets
        and multiple >= cfg.muri_ratio_multiple
    )
    if not overloaded and urgent is None:
        return None
    evidence: list[str] = []
    severity = Severity.LOW
    if overloaded and multiple is not None and median_ratio is not None:
        evidence.append(
            f"{tickets:,} tickets in the last {days} days for "
            f"{active_users:,} active users: {ratio:.2f} per user, {multiple:.1f}x the "
            f"portfolio median of {median_ratio:.2f}"
        )
        severity = max(
            severity,
            _severity(multiple, cfg.muri_ratio_multiple, cfg.muri_ratio_high_multiple),
            key=_RANK.__getitem__,
        )
    if urgent is not None:
        evidence.append(
            f"{urgent.count} urgent ticket{'s' if urgent.count != 1 else ''} open longer than "
            f"{cfg.muri_urgent_open_days} days (oldest {plural(urgent.oldest_days, 'day')})"
        )
        severity = max(
            severity,
            _severity(urgent.count, 1, cfg.muri_urgent_high_count),
            key=_RANK.__getitem__,
        )
    title = "Support overload" if overloaded else "Urgent tickets left open"
    return LeanFinding(
        account_id=account_id,
        kind="muri",
        title=title,
        severity=severity,
        evidence=evidence,
        playbook=qbr_support_alignment_playbook(),
    )


_RANK: dict[Severity, int] = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def _median_ticket_ratio(tickets: dict[int, int], users: dict[int, int]) -> float | None:
    """Median tickets per active user over the accounts that filed any ticket."""
    if not tickets:
        return None
    ratios = np.array(
        [n / max(users.get(a, 0), 1) for a, n in tickets.items() if n > 0], dtype=np.float64
    )
    return float(np.median(ratios)) if ratios.size else None


# --------------------------------------------------------------------------------------------
# The Muri portfolio median, cached per (engine, as_of, window) on large portfolios.
# --------------------------------------------------------------------------------------------

MEDIAN_CACHE_MIN_USAGE_ROWS = 200_000
MEDIAN_CACHE_SIZE = 32
MEDIAN_CACHE_TTL_SECONDS = 300.0

_MedianKey = tuple[date, int, int]
# (largest ticket id, largest usage id): appending rows changes it.
_Fingerprint = tuple[int, int]


@dataclass(frozen=True)
class _MedianEntry:
    fingerprint: _Fingerprint
    expires: float
    median: float | None


_median_lock = threading.Lock()
_median_cache: weakref.WeakKeyDictionary[Engine, OrderedDict[_MedianKey, _MedianEntry]] = (
    weakref.WeakKeyDictionary()
)


def clear_median_cache() -> None:
    """Forget every cached portfolio median (tests, or after bulk edits in place)."""
    with _median_lock:
        _median_cache.clear()


def _fingerprint(session: Session) -> _Fingerprint:
    stmt = select(
        select(func.max(col(Ticket.id))).scalar_subquery(),
        select(func.max(col(UsageDaily.id))).scalar_subquery(),
    )
    tickets, usage = rows(session, stmt)[0]
    return int(tickets or 0), int(usage or 0)


def _engine_of(session: Session) -> Engine | None:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else getattr(bind, "engine", None)


def _muri_tickets(
    session: Session, *, as_of: date, config: ScoringConfig, account_ids: Sequence[int] | None
) -> dict[int, int]:
    """Tickets opened in the ticket window (``health.normalise.ticket_window_days``, complete
    days), per account: the same count as the health card's."""
    days = config.health.normalise.ticket_window_days
    since = data_end(as_of - timedelta(days=days))
    return _ticket_counts(session, since=since, cutoff=data_end(as_of), account_ids=account_ids)


def _compute_median(session: Session, *, as_of: date, config: ScoringConfig) -> float | None:
    tickets = _muri_tickets(session, as_of=as_of, config=config, account_ids=None)
    if not tickets:
        return None
    # Only accounts that filed a ticket enter the median: read just their usage.
    users = seats_used(session, as_of=as_of, config=config, account_ids=list(tickets))
    return _median_ticket_ratio(tickets, users)


def _store_median(
    engine: Engine, key: _MedianKey, fingerprint: _Fingerprint, median: float | None
) -> None:
    entry = _MedianEntry(
        fingerprint, monotonic_clock.monotonic() + MEDIAN_CACHE_TTL_SECONDS, median
    )
    with _median_lock:
        per_engine = _median_cache.setdefault(engine, OrderedDict())
        per_engine[key] = entry
        per_engine.move_to_end(key)
        while len(per_engine) > MEDIAN_CACHE_SIZE:
            per_engine.popitem(last=False)


def _remember_median(
    session: Session, *, as_of: date, config: ScoringConfig, median: float | None
) -> None:
    """Refresh the cache with a median just computed over the whole portfolio."""
    engine = _engine_of(session)
    fingerprint = _fingerprint(session)
    if engine is not None and fingerprint[1] >= MEDIAN_CACHE_MIN_USAGE_ROWS:
        _store_median(engine, _median_key(as_of, config), fingerprint, median)


def _median_key(as_of: date, config: ScoringConfig) -> _MedianKey:
    norm = config.health.normalise
    return (as_of, norm.ticket_window_days, norm.usage_window_days)


def portfolio_median_ticket_ratio(
    session: Session, *, as_of: date, config: ScoringConfig, refresh: bool = False
) -> float | None:
    """Median tickets per active user over the whole portfolio (the Muri baseline).

    Cached on large portfolios (see the module docstring); ``refresh`` recomputes it.
    """
    engine = _engine_of(session)
    fingerprint = _fingerprint(session)
    if engine is None or fingerprint[1] < MEDIAN_CACHE_MIN_USAGE_ROWS:
        return _compute_median(session, as_of=as_of, config=config)
    key = _median_key(as_of, config)
    if not refresh:
        with _median_lock:
            entry = _median_cache.get(engine, OrderedDict()).get(key)
        if (
            entry is not None
            and entry.fingerprint == fingerprint
            and entry.expires > monotonic_clock.monotonic()
        ):
            return entry.median
    median = _compute_median(session, as_of=as_of, config=config)
    _store_median(engine, key, fingerprint, median)
    return median


def lean_findings(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
) -> dict[int, list[LeanFinding]]:
    """Muda, Mura and Muri findings per account with a contract in force on ``as_of``.

    Reads only data dated on or before ``as_of``. Every account in force gets a key (an
    empty list when nothing is found); churned accounts are absent.
    """
    cfg = config.lean
    window = config.health.normalise.usage_window_days
    contracts = active_contracts(session, on=as_of, account_ids=account_ids)
    if not contracts:
        return {}
    ids = list(contracts) if account_ids is not None else None
    # Seats used: the metric layer's one definition, shared by Muda and Muri.
    used = seats_used(session, as_of=as_of, config=config, account_ids=ids)
    weekly = weekly_usage(session, as_of=as_of, weeks=cfg.mura_weeks, account_ids=ids)
    week_row = weekly.index()
    gaps = _longest_gaps(session, as_of=as_of, days=7 * cfg.mura_weeks, account_ids=ids)
    # Muri compares with the whole portfolio median (cached for calls on a few accounts).
    tickets = _muri_tickets(session, as_of=as_of, config=config, account_ids=ids)
    if ids is None:
        median_ratio = _median_ticket_ratio(tickets, used)
        _remember_median(session, as_of=as_of, config=config, median=median_ratio)
    else:
        median_ratio = portfolio_median_ticket_ratio(session, as_of=as_of, config=config)
    urgent = _urgent_open(session, as_of=as_of, days=cfg.muri_urgent_open_days, account_ids=ids)

    findings: dict[int, list[LeanFinding]] = {}
    for account_id, contract in contracts.items():
        row = week_row.get(account_id)
        candidates = [
            _muda(contract, used.get(account_id, 0), cfg, window),
            _mura(
                account_id,
                weekly.mean_dau[row] if row is not None else None,
                gaps.get(account_id),
                cfg,
            ),
            _muri(
                account_id,
                tickets.get(account_id, 0),
                used.get(account_id, 0),
                median_ratio,
                urgent.get(account_id),
                cfg,
                config.health.normalise.ticket_window_days,
            ),
        ]
        findings[account_id] = [f for f in candidates if f is not None]
    return findings
