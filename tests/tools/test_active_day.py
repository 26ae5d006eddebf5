"""One definition of an active day (issue 12): quiet accounts, the card's facts and the
``no_usage`` trigger count the same days, under every ``[activity] measure``, on data shaped
unlike the demo: an export without a ``login`` event (logins are 0, active users are real),
monthly and annual contracts, activity on the as-of day itself (not a complete day yet)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from sqlmodel import Session, select

from tests.utils.factories import add_usage, make_account, make_contract
from tools.churn import churn_risk_for
from tools.facts.definitions import active_day
from tools.facts.view import account_facts
from tools.insights import quiet_accounts
from tools.models import Account
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 6, 30)
WINDOW = ScoringConfig().health.normalise.usage_window_days  # 28


def _monthly(session: Session, account: Account) -> None:
    """Monthly contracts back to back, the current one ending in 10 days."""
    end = AS_OF + timedelta(days=10)
    for _ in range(8):
        start = end - timedelta(days=29)
        make_contract(session, account=account, start=start, end=end, arr=12_000, seats=20)
        end = start - timedelta(days=1)


def _annual(session: Session, account: Account) -> None:
    start = AS_OF - timedelta(days=200)
    make_contract(session, account=account, start=start, end=start + timedelta(days=364))


def _world(session: Session) -> dict[str, bool]:
    """Accounts without any login, each with whether it was active in the usage window
    (``AS_OF`` - 28 .. ``AS_OF`` - 1) under ``auto`` and ``active_users``."""
    expected: dict[str, bool] = {}

    def account(name: str, contract: str, last_day: date, active: bool) -> Account:
        made = make_account(session, name=name)
        (_monthly if contract == "monthly" else _annual)(session, made)
        first = AS_OF - timedelta(days=150)
        add_usage(session, account=made, start=first, days=(last_day - first).days + 1, logins=0)
        expected[name] = active
        return made

    account("monthly active", "monthly", AS_OF - timedelta(days=1), True)
    account("annual active", "annual", AS_OF - timedelta(days=1), True)
    account("monthly quiet", "monthly", AS_OF - timedelta(days=40), False)
    account("first day of the window", "annual", AS_OF - timedelta(days=WINDOW), True)
    account("day before the window", "annual", AS_OF - timedelta(days=WINDOW + 1), False)
    # Quiet for weeks, then a row dated the as-of day (what a 23:30 scan would see).
    today_only = account("only today", "monthly", AS_OF - timedelta(days=40), False)
    add_usage(session, account=today_only, start=AS_OF, days=1, logins=0, active_users=30)
    session.commit()
    return expected


def _surfaces(session: Session, config: ScoringConfig) -> tuple[set[str], set[str], set[str]]:
    """(quiet accounts, no active day on the card's facts, no_usage trigger), by name."""
    listed = quiet_accounts(session, as_of=AS_OF, days=WINDOW, config=config)
    quiet = {q.account.name for q in listed}
    inactive: set[str] = set()
    no_usage: set[str] = set()
    for account in session.exec(select(Account)).all():
        assert account.id is not None
        facts = account_facts(session, account_id=account.id, as_of=AS_OF, config=config)
        if facts.active_days == 0:
            inactive.add(account.name)
        risk = churn_risk_for(session, account_id=account.id, as_of=AS_OF, config=config)
        if any(t.key == "no_usage" for t in risk.triggers):
            no_usage.add(account.name)
    return quiet, inactive, no_usage


@pytest.mark.parametrize("measure", ["auto", "active_users"])
def test_quiet_card_and_no_usage_agree_without_a_login_event(
    session: Session, measure: str
) -> None:
    expected = _world(session)
    config = ScoringConfig.model_validate({"activity": {"measure": measure}})

    quiet, inactive, no_usage = _surfaces(session, config)

    silent = {name for name, active in expected.items() if not active}
    assert quiet == silent
    assert inactive == silent
    assert no_usage == silent


def test_logins_measure_makes_every_account_without_logins_inactive(session: Session) -> None:
    expected = _world(session)
    config = ScoringConfig.model_validate({"activity": {"measure": "logins"}})

    quiet, inactive, no_usage = _surfaces(session, config)

    assert quiet == inactive == no_usage == set(expected)


def test_active_day_is_one_rule_for_sql_and_arrays() -> None:
    logins = np.array([0, 3, 0, 2])
    users = np.array([0, 0, 4, 5])
    assert active_day("auto", logins, users).tolist() == [False, True, True, True]
    assert active_day("logins", logins, users).tolist() == [False, True, False, True]
    assert active_day("active_users", logins, users).tolist() == [False, False, True, True]
