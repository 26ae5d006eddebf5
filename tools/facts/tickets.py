"""Ticket facts for Lean's Muri: tickets per account in a window, urgent tickets left open, and
the portfolio median of tickets per active user.

Tickets count when opened before the start of ``as_of`` (complete days, as everywhere in the
metric layer); a ticket not closed by then is still open. The median is over every account that
filed a ticket in the window, whatever set of accounts the caller asked about; it is kept in a
``MedianCache`` carried by the session's ``Caches`` (``tools.facts.cache``), never in a module
global, whatever the portfolio's size: its freshness signature is the newest ticket and usage
ids, which a ``/health`` reads with the account it resolves (no statement of its own).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from tools.facts.cache import caches_of, known_version
from tools.facts.definitions import data_end
from tools.facts.extract import Scope, seats_used_by_account
from tools.facts.query import as_utc, in_ids, rows
from tools.models import Ticket, TicketPriority, UsageDaily

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig


def ticket_counts(
    session: Session,
    *,
    since: datetime,
    cutoff: datetime,
    account_ids: Sequence[int] | None = None,
) -> dict[int, int]:
    """Tickets opened in ``[since, cutoff)``, per account (accounts without any are absent)."""
    stmt = (
        select(col(Ticket.account_id), func.count())
        .where(col(Ticket.opened_at) >= since, col(Ticket.opened_at) < cutoff)
        .group_by(col(Ticket.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(Ticket.account_id), account_ids))
    return {int(a): int(n) for a, n in rows(session, stmt)}


def window_tickets(
    session: Session, *, as_of: date, config: ScoringConfig, account_ids: Sequence[int] | None
) -> dict[int, int]:
    """Tickets opened in the ticket window (``health.normalise.ticket_window_days``, complete
    days), per account: the same count as the health card's."""
    days = config.health.normalise.ticket_window_days
    since = data_end(as_of - timedelta(days=days))
    return ticket_counts(session, since=since, cutoff=data_end(as_of), account_ids=account_ids)


@dataclass(frozen=True)
class UrgentOpen:
    """Urgent tickets left open: how many, and the age in days of the oldest."""

    count: int
    oldest_days: int


def urgent_open(
    session: Session, *, as_of: date, days: int, account_ids: Sequence[int] | None
) -> dict[int, UrgentOpen]:
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
    return {
        int(account_id): UrgentOpen(int(n), (as_of - as_utc(oldest).date()).days)
        for account_id, n, oldest in rows(session, stmt)
    }


def account_tickets(
    session: Session, *, account_id: int, since: datetime, until: datetime
) -> list[Ticket]:
    """One account's tickets opened in ``[since, until)``, newest first (the ticket summary:
    ``until`` is ``data_end(as_of)``, so the as-of day's tickets are not counted)."""
    stmt = (
        select(Ticket)
        .where(
            col(Ticket.account_id) == account_id,
            col(Ticket.opened_at) >= since,
            col(Ticket.opened_at) < until,
        )
        .order_by(col(Ticket.opened_at).desc())
    )
    return list(session.execute(stmt).scalars())


def tickets_open_at(session: Session, *, account_id: int, at: datetime) -> list[Ticket]:
    """One account's tickets opened before ``at`` and not closed before it (still open at
    ``at``, as ``urgent_open`` counts them at ``data_end(as_of)``)."""
    stmt = select(Ticket).where(
        col(Ticket.account_id) == account_id,
        col(Ticket.opened_at) < at,
        or_(col(Ticket.closed_at).is_(None), col(Ticket.closed_at) >= at),
    )
    return list(session.execute(stmt).scalars())


def median_ticket_ratio(tickets: dict[int, int], users: dict[int, int]) -> float | None:
    """Median tickets per active user (seats used, at least 1) over the accounts that filed
    any ticket; None when none did."""
    if not tickets:
        return None
    ratios = np.array(
        [n / max(users.get(a, 0), 1) for a, n in tickets.items() if n > 0], dtype=np.float64
    )
    return float(np.median(ratios)) if ratios.size else None


# -- the portfolio median, cached ---------------------------------------------------------------

MedianKey = tuple[date, int, int]  # (as_of, ticket window, usage window)
Fingerprint = tuple[int, int]  # (largest ticket id, largest usage id): appending rows changes it


@dataclass(frozen=True)
class _MedianEntry:
    fingerprint: Fingerprint
    expires: float
    median: float | None


@dataclass
class MedianCache:
    """Portfolio medians per (as_of, windows), on a portfolio of any size. An entry is reused
    while no ticket or usage row was appended since (largest ids unchanged) and for at most
    ``ttl_seconds`` of ``clock`` (rows changed in place are seen after that); at most ``size``
    entries, least recently stored dropped first."""

    size: int = 32
    ttl_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[MedianKey, _MedianEntry] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: MedianKey, fingerprint: Fingerprint) -> tuple[bool, float | None]:
        """``(True, median)`` for a fresh entry of ``key``, else ``(False, None)``."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry.fingerprint != fingerprint or entry.expires <= self.clock():
            return False, None
        return True, entry.median

    def put(self, key: MedianKey, fingerprint: Fingerprint, median: float | None) -> None:
        """Store ``median`` for ``key`` at ``fingerprint``."""
        entry = _MedianEntry(fingerprint, self.clock() + self.ttl_seconds, median)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def _fingerprint(session: Session) -> Fingerprint:
    known = known_version(session)  # read with the account this request resolved
    if known is not None:
        return known.tickets, known.usage
    stmt = select(
        select(func.max(col(Ticket.id))).scalar_subquery(),
        select(func.max(col(UsageDaily.id))).scalar_subquery(),
    )
    tickets, usage = rows(session, stmt)[0]
    return int(tickets or 0), int(usage or 0)


def _median_key(as_of: date, config: ScoringConfig) -> MedianKey:
    norm = config.health.normalise
    return (as_of, norm.ticket_window_days, norm.usage_window_days)


def _compute_median(session: Session, *, as_of: date, config: ScoringConfig) -> float | None:
    tickets = window_tickets(session, as_of=as_of, config=config, account_ids=None)
    if not tickets:
        return None
    # Only accounts that filed a ticket enter the median: read just their usage.
    window = config.health.normalise.usage_window_days
    users = seats_used_by_account(session, Scope(list(tickets)), as_of, window)
    return median_ticket_ratio(tickets, users)


def remember_portfolio_median(
    session: Session, *, as_of: date, config: ScoringConfig, median: float | None
) -> None:
    """Refresh the session's cache with a median just computed over the whole portfolio."""
    cache = caches_of(session).get(MedianCache)
    cache.put(_median_key(as_of, config), _fingerprint(session), median)


def portfolio_median_ticket_ratio(
    session: Session, *, as_of: date, config: ScoringConfig, refresh: bool = False
) -> float | None:
    """Median tickets per active user over the whole portfolio (the Muri baseline), from the
    session's ``MedianCache`` when fresh; ``refresh`` recomputes it."""
    cache = caches_of(session).get(MedianCache)
    fingerprint = _fingerprint(session)
    key = _median_key(as_of, config)
    if not refresh:
        hit, median = cache.get(key, fingerprint)
        if hit:
            return median
    median = _compute_median(session, as_of=as_of, config=config)
    cache.put(key, fingerprint, median)
    return median
