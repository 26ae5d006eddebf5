"""Quiet accounts follow the metric layer's activity: an export without a ``login`` event is not
"everyone is quiet" (issue 12, activity is configurable)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

from tests.utils.factories import add_usage, make_account, make_contract
from tools.insights import quiet_accounts
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 6, 30)


def _world(session: Session) -> tuple[str, str, str]:
    """Three customers: one with logins, one whose export has no login event (active users
    only), one silent for 60 days."""
    names = ("Logs In", "No Login Event", "Silent")
    accounts = [make_account(session, name=name) for name in names]
    for account in accounts:
        make_contract(
            session,
            account=account,
            start=AS_OF - timedelta(days=200),
            end=AS_OF + timedelta(days=165),
        )
    add_usage(session, account=accounts[0], start=AS_OF - timedelta(days=40), days=40)
    add_usage(session, account=accounts[1], start=AS_OF - timedelta(days=40), days=40, logins=0)
    add_usage(session, account=accounts[2], start=AS_OF - timedelta(days=120), days=60)
    return names


def test_auto_counts_active_users_when_there_is_no_login_event(session: Session) -> None:
    names = _world(session)
    quiet = quiet_accounts(session, as_of=AS_OF, days=30)
    assert [q.account.name for q in quiet] == [names[2]]
    assert quiet[0].last_active == AS_OF - timedelta(days=61)
    assert quiet[0].days_since_active == 61


def test_logins_measure_counts_only_logins(session: Session) -> None:
    names = _world(session)
    config = ScoringConfig.model_validate({"activity": {"measure": "logins"}})
    quiet = quiet_accounts(session, as_of=AS_OF, days=30, config=config)
    assert [q.account.name for q in quiet] == [names[1], names[2]]
    assert quiet[0].last_active is None  # never logged in: longest silence first
