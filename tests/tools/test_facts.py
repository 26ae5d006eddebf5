"""The metric layer: complete days, configurable activity, adoption within the plan."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from tests.utils.factories import (
    add_feature_usage,
    add_usage,
    make_account,
    make_contract,
    make_feature,
    make_ticket,
)
from tools import db
from tools.churn import churn_risk_for
from tools.facts import money_text
from tools.facts.definitions import cents
from tools.health import health_score_for
from tools.importer import import_directory
from tools.models import Account, Ticket, UsageDaily
from tools.scoring import account_report, scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()


def _customer(session: Session) -> Account:
    account = make_account(session)
    make_contract(
        session, account=account, start=TODAY - timedelta(days=400), end=TODAY + timedelta(days=300)
    )
    return account


def _signal(session: Session, account: Account, key: str) -> float | None:
    assert account.id is not None
    result = health_score_for(session, account_id=account.id, as_of=TODAY, config=CONFIG)
    return next(s.raw for s in result.signals if s.key == key)


def test_windows_end_at_the_previous_day(session: Session) -> None:
    """Today's (partial) usage row never enters the trend: 28 complete days vs the 28 before."""
    account = _customer(session)
    add_usage(session, account=account, start=TODAY - timedelta(days=56), days=28, logins=100)
    add_usage(session, account=account, start=TODAY - timedelta(days=28), days=28, logins=80)
    add_usage(session, account=account, start=TODAY, days=1, logins=1)  # today so far
    session.commit()
    assert _signal(session, account, "usage_trend") == pytest.approx(-20.0)


def _churn_keys(session: Session, account: Account) -> set[str]:
    assert account.id is not None
    risk = churn_risk_for(session, account_id=account.id, as_of=TODAY, config=CONFIG)
    return {t.key for t in risk.triggers}


def test_scan_at_0030_and_2330_of_the_same_day_agree(sessions: db.SessionFactory) -> None:
    """Rows that arrive during the day (usage, tickets) change nothing for that day's as_of."""
    with sessions() as session:
        account = _customer(session)
        add_usage(session, account=account, start=TODAY - timedelta(days=56), days=56, logins=90)
        make_ticket(session, account=account, opened=TODAY - timedelta(days=3))
        session.commit()
        early = scan_portfolio(session, as_of=TODAY, config=CONFIG, workers=1)
        assert account.id is not None
        before = account_report(session, account_id=account.id, as_of=TODAY, config=CONFIG)
        # During the day: today's usage lands (few logins so far) and four tickets are opened.
        add_usage(session, account=account, start=TODAY, days=1, logins=2, active_users=1)
        for hour in (1, 9, 15, 23):
            session.add(
                Ticket(
                    external_id=f"t-{hour}",
                    account_id=account.id,
                    subject="x",
                    opened_at=datetime.combine(TODAY, time(hour), tzinfo=UTC),
                )
            )
        session.commit()
        late = scan_portfolio(session, as_of=TODAY, config=CONFIG, workers=1)
        after = account_report(session, account_id=account.id, as_of=TODAY, config=CONFIG)
    assert early.model_dump(exclude={"seconds"}) == late.model_dump(exclude={"seconds"})
    assert before.health.model_dump() == after.health.model_dump()
    assert before.churn.model_dump() == after.churn.model_dump()
    assert before.account.seats_used == after.account.seats_used


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _no_login_export(directory: Path) -> None:
    """Accounts whose raw events carry only feature names: no ``login`` event at all."""
    _write_csv(
        directory / "accounts.csv",
        [{"external_id": f"a{k}", "name": f"Account {k}"} for k in range(3)],
    )
    _write_csv(
        directory / "contracts.csv",
        [
            {
                "external_id": f"k{k}",
                "account_id": f"a{k}",
                "plan": "pro",
                "arr": 12000,
                "seats_purchased": 20,
                "start_date": "2025-01-01",
                "end_date": "2027-01-01",
            }
            for k in range(3)
        ],
    )
    _write_csv(
        directory / "features.csv",
        [{"key": "reports", "name": "Reports", "tier": "pro", "events": "report_run"}],
    )
    events = []
    for day in range(60):
        when = TODAY - timedelta(days=60 - day)
        users = 10 if day < 32 else 6  # a decline in the last four weeks for a0 and a1
        for k in range(2):
            for user in range(users):
                stamp = datetime.combine(when, time(10), tzinfo=UTC).isoformat()
                events.append(
                    {
                        "account_id": f"a{k}",
                        "timestamp": stamp,
                        "event": "report_run" if user % 2 else "page_view",
                        "user_id": f"u{user}",
                    }
                )
    _write_csv(directory / "events.csv", events)  # a2 has no events at all


def test_import_without_login_events(sessions: db.SessionFactory, tmp_path: Path) -> None:
    _no_login_export(tmp_path)
    import_directory(sessions=sessions, directory=tmp_path)
    with sessions() as session:
        accounts = {a.external_id: a for a in session.exec(select(Account)).all()}
        assert not session.exec(select(UsageDaily).where(col(UsageDaily.logins) > 0)).all()
        for ext in ("a0", "a1"):
            account = accounts[ext]
            assert "no_usage" not in _churn_keys(session, account)
            assert (_signal(session, account, "login_frequency") or 0) > 0
            trend = _signal(session, account, "usage_trend")
            assert trend == pytest.approx(-40.0)  # 6 vs 10 active users a day: not 0, not -100
            assert "usage_declining" in _churn_keys(session, account)
        assert "no_usage" in _churn_keys(session, accounts["a2"])


def test_adoption_never_exceeds_the_plan(session: Session) -> None:
    account = _customer(session)  # plan "pro" (factory default)
    in_plan = [make_feature(session, tier="starter"), make_feature(session, tier="pro")]
    above = [make_feature(session, tier="enterprise") for _ in range(3)]
    for feature in [*in_plan, *above]:
        add_feature_usage(session, account=account, feature=feature, day=TODAY - timedelta(days=2))
    session.commit()
    assert account.id is not None
    result = health_score_for(session, account_id=account.id, as_of=TODAY, config=CONFIG)
    adoption = next(s for s in result.signals if s.key == "adoption")
    assert adoption.raw == pytest.approx(100.0)  # 2 of the 2 plan features, not 5 of 2
    driver = next((d.text for d in result.drivers if d.signal == "adoption"), None)
    if driver is not None:
        assert driver.startswith("uses 2 of 2 plan features")


@pytest.mark.parametrize(
    ("amount", "text"),
    [(45000.4, "$45,000"), (0.5, "$1"), (-1200, "-$1,200"), (None, "—"), (135600, "$135,600")],
)
def test_one_money_format(amount: float | None, text: str) -> None:
    assert money_text(amount) == text


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(135000.0, "135000.00"), (12000.125, "12000.12"), (0.1 + 0.2, "0.30"), (99.999, "100.00")],
)
def test_one_rounding_of_float_arr_to_money(amount: float, expected: str) -> None:
    """Cards, lists, App Home and ARR at risk turn the extraction's float ARR into money the
    same way (``cents``): to the cent, from the float's shortest repr."""
    assert cents(amount) == Decimal(expected)
    assert str(cents(amount)) == expected
