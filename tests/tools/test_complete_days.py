"""The QBR's quarter totals and the ticket summary end on the last complete day (issue 12):
"as of D" is data through the end of D-1, as the trend windows are, so rows dated D (which a
scan at 23:30 sees and one at 00:30 does not) never change them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from tests.utils.factories import (
    add_feature_usage,
    add_usage,
    make_account,
    make_contract,
    make_feature,
    make_ticket,
)
from tools.insights import ticket_summary
from tools.models import Account, Feature
from tools.qbr import QUARTER_DAYS, build_qbr
from tools.scoring import account_report
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 6, 30)
CONFIG = ScoringConfig()


def _customer(session: Session) -> tuple[Account, Feature]:
    """An annual customer with 100 logins and 50 active users a day, and one feature used by 5
    users (50 events) a day, every day up to AS_OF - 1."""
    account = make_account(session, name="Complete Days")
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=300),
        end=AS_OF + timedelta(days=65),
    )
    first = AS_OF - timedelta(days=200)
    add_usage(session, account=account, start=first, days=200, logins=100, active_users=50)
    feature = make_feature(session, key="reports")
    for k in range(200):
        add_feature_usage(session, account=account, feature=feature, day=first + timedelta(k))
    session.commit()
    return account, feature


def _roi(session: Session, account: Account) -> dict[str, str]:
    doc = build_qbr(session, account_id=account.id or 0, as_of=AS_OF, config=CONFIG)
    return {m.label: m.value for m in doc.roi.metrics}


def _ticket(session: Session, account: Account, opened: datetime, closed: datetime | None) -> None:
    ticket = make_ticket(session, account=account, opened=opened.date())
    ticket.opened_at, ticket.closed_at = opened, closed
    ticket.status = "closed" if closed else "open"
    session.add(ticket)
    session.flush()


def _on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def test_the_qbr_quarter_is_the_91_complete_days_before_as_of(session: Session) -> None:
    account, _ = _customer(session)

    doc = build_qbr(session, account_id=account.id or 0, as_of=AS_OF, config=CONFIG)
    roi = {m.label: m.value for m in doc.roi.metrics}

    # AS_OF - 91 .. AS_OF - 1: 91 days of rows (a window ending on AS_OF would hold 90).
    assert QUARTER_DAYS == 91
    assert roi["Logins"] == f"{91 * 100:,}"
    assert roi["Product actions"] == f"{91 * 50:,}"
    assert roi["Average daily active users"] == "50"
    assert doc.period_start == AS_OF - timedelta(days=91)
    assert doc.period_end == AS_OF - timedelta(days=1)


def test_rows_dated_as_of_change_neither_the_qbr_nor_the_ticket_summary(
    session: Session,
) -> None:
    """A scan at 00:30 (nothing dated today yet) and one at 23:30 (today's rows imported)."""
    account, feature = _customer(session)
    _ticket(session, account, _on(AS_OF - timedelta(days=5), 9), None)
    session.commit()
    early_roi = _roi(session, account)
    early_tickets = ticket_summary(session, account_id=account.id or 0, as_of=AS_OF)

    add_usage(session, account=account, start=AS_OF, days=1, logins=9_999, active_users=999)
    add_feature_usage(session, account=account, feature=feature, day=AS_OF, users=900)
    _ticket(session, account, _on(AS_OF, 0, 10), None)
    _ticket(session, account, _on(AS_OF, 23, 20), None)
    _ticket(session, account, _on(AS_OF - timedelta(days=1), 8), _on(AS_OF, 11))
    session.commit()

    assert _roi(session, account) == early_roi
    late_tickets = ticket_summary(session, account_id=account.id or 0, as_of=AS_OF)
    assert late_tickets.opened == early_tickets.opened + 1  # only the one opened yesterday
    assert late_tickets.open_now == early_tickets.open_now + 1  # still open at midnight


def test_ticket_summary_counts_the_health_cards_ticket_window(session: Session) -> None:
    account, _ = _customer(session)
    days = CONFIG.health.normalise.ticket_window_days
    first = AS_OF - timedelta(days=days)
    _ticket(session, account, _on(first, 0), None)  # first instant of the window: counted
    _ticket(session, account, _on(first - timedelta(days=1), 23, 59), None)  # before it
    _ticket(session, account, _on(AS_OF - timedelta(days=1), 23, 59), _on(AS_OF, 1))  # counted
    _ticket(session, account, _on(AS_OF, 0, 30), None)  # today: not a complete day yet
    session.commit()

    summary = ticket_summary(session, account_id=account.id or 0, as_of=AS_OF, days=days)
    card = account_report(session, account_id=account.id or 0, as_of=AS_OF, config=CONFIG)
    on_card = next(s.raw for s in card.health.signals if s.key == "tickets")

    assert summary.opened == 2
    assert summary.opened == on_card
    assert (summary.since, summary.until) == (first, AS_OF - timedelta(days=1))
    # Open at the start of AS_OF: the window's two tickets (one closed only at 01:00 today)
    # and the one from before the window; today's ticket was not open yet.
    assert summary.open_now == 3
