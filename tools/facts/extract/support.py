"""Support and commercial facts as of some days: tickets, invoices, NPS/CSAT surveys.

Tickets, survey answers: timestamp before the start of D (UTC); a ticket not closed by then is
still open. Invoices: issued before D; one not paid before D is unpaid. Each statement reads
every as-of day at once (conditional aggregates per day, bounded above by that day).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlmodel import col

from tools.facts.extract.arrays import (
    FloatArray,
    IntArray,
    as_date,
    fill_counts,
    per_day,
    scatter_or,
)
from tools.facts.extract.sql import (
    Reader,
    Scope,
    count_if,
    day_start,
    fetch,
    per_account,
    statement,
)
from tools.models import Invoice, InvoiceStatus, NpsResponse, SurveyKind, Ticket, TicketPriority

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

# Per day: tickets in the window, mean sentiment, spike, baseline, escalated (recent); then
# escalated still open, open (backlog).
TICKET_RECENT_WIDTH, TICKET_OPEN_WIDTH = 5, 2


def _ticket_settings(config: ScoringConfig) -> tuple[int, int, int, int]:
    norm, churn = config.health.normalise, config.churn
    return (
        norm.ticket_window_days,
        norm.escalation_window_days,
        churn.ticket_spike_days,
        churn.ticket_baseline_days,
    )


def _ticket_columns(as_of: date, config: ScoringConfig) -> tuple[list[Any], list[Any]]:
    """The recent-window and the open-ticket aggregates of one as-of day."""
    window_days, escalation_days, spike_days, baseline_days = _ticket_settings(config)
    opened, closed = col(Ticket.opened_at), col(Ticket.closed_at)
    end = day_start(as_of)

    def since(days: int) -> Any:
        return and_(opened >= day_start(as_of - timedelta(days=days)), opened < end)

    window = since(window_days)
    baseline = and_(
        since(spike_days + baseline_days),
        opened < day_start(as_of - timedelta(days=spike_days)),
    )
    escalated = col(Ticket.escalated).is_(True)
    still_open = and_(opened < end, or_(closed.is_(None), closed >= end))
    recent = [
        count_if(window),
        func.avg(case((window, col(Ticket.sentiment)), else_=None)),
        count_if(since(spike_days)),
        count_if(baseline),
        count_if(and_(since(escalation_days), escalated)),
    ]
    return recent, [count_if(and_(still_open, escalated)), count_if(still_open)]


def _lookback(as_of: date, config: ScoringConfig) -> Any:
    window_days, escalation_days, spike_days, baseline_days = _ticket_settings(config)
    longest = max(window_days, spike_days + baseline_days, escalation_days)
    return day_start(as_of - timedelta(days=longest))


def tickets(
    session: Reader,
    scope: Scope,
    ids: IntArray,
    days: Sequence[date],
    config: ScoringConfig,
    urgent_days: int | None = None,
) -> tuple[list[list[FloatArray]], dict[int, tuple[int, Any]]]:
    """Per day: tickets in the windows (count, mean sentiment, spike, baseline, escalated), and
    open ones (escalated, all).

    With ``urgent_days`` (a few accounts only), also the urgent tickets still open at the start
    of the first day and opened more than ``urgent_days`` days before it: ``account id ->
    (count, oldest opened_at)`` for the accounts that have any (Lean's Muri).

    For the portfolio, two queries answered from the ``ix_ticket_account_scan`` index alone: the
    recent windows read only each account's last months (through the index, like usage); the
    open tickets (not closed by the start of ``as_of``) whatever their age.
    """
    opened, closed = col(Ticket.opened_at), col(Ticket.closed_at)
    account = col(Ticket.account_id)
    table = Ticket.__table__  # type: ignore[attr-defined]
    key = (tuple(days), scope.kind, *_ticket_settings(config))
    if scope.scoped:
        end = day_start(days[0])

        def build() -> Any:
            columns: list[Any] = []
            for as_of in days:
                recent, still_open = _ticket_columns(as_of, config)
                columns += recent + still_open
            if urgent_days is not None:
                urgent = and_(
                    col(Ticket.priority) == TicketPriority.URGENT.value,
                    opened < end - timedelta(days=urgent_days),
                    or_(closed.is_(None), closed >= end),
                )
                columns += [count_if(urgent), func.min(case((urgent, opened), else_=None))]
            first = min(days)
            relevant = or_(
                opened >= min(_lookback(d, config) for d in days),
                closed.is_(None),
                closed >= day_start(first),
            )
            return per_account(
                scope, table, account, columns, opened < day_start(max(days)), relevant
            )

        width = TICKET_RECENT_WIDTH + TICKET_OPEN_WIDTH
        rows = fetch(session, statement(("tickets", *key, urgent_days), build), scope)
        at = 1 + width * len(days)
        left_open: dict[int, tuple[int, Any]] = {}
        if urgent_days is not None:
            left_open = {int(r[0]): (int(r[at]), r[at + 1]) for r in rows if r[at]}
            rows = [r[:at] for r in rows]
        columns = scatter_or(ids, rows, np.nan, width * len(days))
        return [_ticket_counts(c) for c in per_day(columns, width, len(days))], left_open
    by_day = [_tickets_of_portfolio(session, scope, ids, as_of, config) for as_of in days]
    return by_day, {}


def _ticket_counts(columns: list[FloatArray]) -> list[FloatArray]:
    """Counts with NaN (no row, no ticket) as 0; the mean sentiment stays NaN."""
    return [c if k == 1 else np.nan_to_num(c, nan=0.0) for k, c in enumerate(columns)]


def _tickets_of_portfolio(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> list[FloatArray]:
    opened = col(Ticket.opened_at)
    account = col(Ticket.account_id)
    end = day_start(as_of)

    def build_recent() -> Any:
        recent, _ = _ticket_columns(as_of, config)
        table = Ticket.__table__  # type: ignore[attr-defined]
        start = _lookback(as_of, config)
        return per_account(scope, table, account, recent, opened >= start, opened < end)

    def build_open() -> Any:
        closed = col(Ticket.closed_at)
        _, still_open = _ticket_columns(as_of, config)
        stmt = (
            select(account, *still_open)
            .where(opened < end, or_(closed.is_(None), closed >= end))
            .group_by(account)
        )
        return scope.where(stmt, account)

    settings = _ticket_settings(config)
    recent = statement(("tickets_recent", as_of, scope.kind, *settings), build_recent)
    still_open = statement(("tickets_open", as_of, scope.kind), build_open)
    columns = scatter_or(ids, fetch(session, recent, scope), np.nan, TICKET_RECENT_WIDTH)
    columns += fill_counts(ids, fetch(session, still_open, scope), TICKET_OPEN_WIDTH)
    return _ticket_counts(columns)


def invoices(
    session: Reader, scope: Scope, ids: IntArray, days: Sequence[date]
) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    """Per day: invoices issued before it (not void), the amount overdue, and days overdue of
    the oldest overdue invoice (NaN when none)."""
    issued, due, paid = col(Invoice.issued_on), col(Invoice.due_on), col(Invoice.paid_on)

    def build() -> Any:
        columns: list[Any] = []
        for as_of in days:
            overdue = and_(issued < as_of, due < as_of, or_(paid.is_(None), paid >= as_of))
            columns += [
                count_if(issued < as_of),
                func.sum(case((overdue, col(Invoice.amount)), else_=0)),
                func.min(case((overdue, due), else_=None)),
            ]
        stmt = (
            select(col(Invoice.account_id), *columns)
            .where(issued < max(days), col(Invoice.status) != InvoiceStatus.VOID.value)
            .group_by(col(Invoice.account_id))
        )
        return scope.where(stmt, col(Invoice.account_id))

    rows = fetch(session, statement(("invoices", tuple(days), scope.kind), build), scope)
    out = []
    for k, as_of in enumerate(days):
        plain = [
            (
                r[0],
                float(r[1 + 3 * k] or 0),
                float(r[2 + 3 * k] or 0),
                np.nan
                if r[3 + 3 * k] is None
                else float(as_of.toordinal() - as_date(r[3 + 3 * k]).toordinal()),
            )
            for r in rows
        ]
        count, amount, oldest = scatter_or(ids, plain, np.nan, 3)
        out.append((np.nan_to_num(count), np.nan_to_num(amount), oldest))
    return out


def surveys(
    session: Reader, scope: Scope, ids: IntArray, days: Sequence[date], config: ScoringConfig
) -> list[list[FloatArray]]:
    """Per day: NPS mean, count, CSAT mean, promoters, detractors (NPS window), and the NPS
    mean and count of the detractor window."""
    norm, churn = config.health.normalise, config.churn
    responded = col(NpsResponse.responded_at)

    def starts(as_of: date) -> tuple[Any, Any]:
        return (
            day_start(as_of - timedelta(days=norm.nps_window_days)),
            day_start(as_of - timedelta(days=churn.detractor_window_days)),
        )

    def build() -> Any:
        score = col(NpsResponse.score)
        is_nps = col(NpsResponse.kind) == SurveyKind.NPS.value
        is_csat = col(NpsResponse.kind) == SurveyKind.CSAT.value
        columns: list[Any] = []
        for as_of in days:
            start, recent_start = starts(as_of)
            before = responded < day_start(as_of)
            in_window = and_(responded >= start, before)
            recent_nps = and_(is_nps, responded >= recent_start, before)
            columns += [
                func.avg(case((and_(is_nps, in_window), score), else_=None)),
                count_if(and_(is_nps, in_window)),
                func.avg(case((and_(is_csat, in_window), score), else_=None)),
                count_if(and_(is_nps, in_window, score >= 9)),
                count_if(and_(is_nps, in_window, score <= 6)),
                func.avg(case((recent_nps, score), else_=None)),
                count_if(recent_nps),
            ]
        stmt = (
            select(col(NpsResponse.account_id), *columns)
            .where(
                responded < day_start(max(days)),
                responded >= min(min(starts(d)) for d in days),
            )
            .group_by(col(NpsResponse.account_id))
        )
        return scope.where(stmt, col(NpsResponse.account_id))

    settings = (norm.nps_window_days, churn.detractor_window_days)
    stmt = statement(("surveys", tuple(days), scope.kind, *settings), build)
    columns = scatter_or(ids, fetch(session, stmt, scope), np.nan, 7 * len(days))
    out = []
    for day_columns in per_day(columns, 7, len(days)):
        out.append([c if k in (0, 2, 5) else np.nan_to_num(c) for k, c in enumerate(day_columns)])
    return out
