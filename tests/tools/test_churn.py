"""Churn risk: trigger edges, levels, churned accounts, ARR at risk."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from tests.utils.factories import (
    add_usage,
    make_account,
    make_contact,
    make_contract,
    make_invoice,
    make_nps,
    make_ticket,
)
from tools.churn import churn_risk_for, churn_risk_portfolio, level_for
from tools.models import Account
from tools.results import Band, ChurnRisk, HealthResult, RiskLevel, Severity, TriggerHit
from tools.scoring_config import load_config

AS_OF = date(2026, 6, 30)
CONFIG = load_config()


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def customer(session: Session, *, renewal_in: int = 300, arr: int = 120_000) -> Account:
    account = make_account(session)
    make_contract(
        session,
        account=account,
        start=days_ago(400),
        end=AS_OF + timedelta(days=renewal_in),
        arr=arr,
    )
    # steady usage so that only what a test adds can fire
    add_usage(session, account=account, start=days_ago(56), days=56, logins=50, active_users=10)
    return account


def risk(session: Session, account: Account, band: Band = Band.GREEN) -> ChurnRisk:
    session.commit()
    assert account.id is not None
    health = HealthResult(
        account_id=account.id, as_of=AS_OF, score=60, band=band, signals=[], drivers=[]
    )
    return churn_risk_portfolio(session, as_of=AS_OF, config=CONFIG, health={account.id: health})[
        account.id
    ]


def keys(r: ChurnRisk) -> set[str]:
    return {t.key for t in r.triggers}


@pytest.mark.parametrize(
    ("renewal_in", "band", "fires"),
    [
        (60, Band.AMBER, True),  # exactly 60 days: inclusive
        (61, Band.AMBER, False),
        (0, Band.RED, True),
        (30, Band.GREEN, False),
    ],
)
def test_renewal_window_edges(session: Session, renewal_in: int, band: Band, fires: bool) -> None:
    r = risk(session, customer(session, renewal_in=renewal_in), band)
    assert ("renewal_window" in keys(r)) is fires
    if fires:
        assert r.level == RiskLevel.HIGH
        assert r.days_to_renewal == renewal_in
        assert r.arr_at_risk == Decimal("120000.00")


def test_healthy_account_is_low_risk(session: Session) -> None:
    r = risk(session, customer(session))
    assert r.level == RiskLevel.LOW
    assert r.triggers == []
    assert r.arr_at_risk == 0


@pytest.mark.parametrize(("recent", "fires"), [(37, True), (38, False)])
def test_logins_declining_threshold(session: Session, recent: int, fires: bool) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(400), end=days_ago(-300))
    add_usage(session, account=account, start=days_ago(56), days=28, logins=50, active_users=10)
    add_usage(session, account=account, start=days_ago(28), days=28, logins=recent, active_users=10)
    r = risk(session, account)  # 37/50 = -26% fires, 38/50 = -24% does not
    assert ("logins_declining" in keys(r)) is fires


def test_no_usage_at_all_is_a_severe_trigger(session: Session) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(400), end=days_ago(-300))
    r = risk(session, account)
    assert keys(r) == {"no_usage"}
    assert r.triggers[0].severity == Severity.HIGH
    assert r.level == RiskLevel.MEDIUM


def test_brand_new_account_without_usage_fires_nothing(session: Session) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(3), end=days_ago(-362))
    assert risk(session, account).triggers == []


def test_champion_left(session: Session) -> None:
    account = customer(session)
    make_contact(session, account=account, name="Jane Doe", left_on=days_ago(35))
    r = risk(session, account)
    assert keys(r) == {"champion_left"}
    assert "champion Jane Doe left 35 days ago" in r.triggers[0].evidence
    old = customer(session)
    make_contact(session, account=old, left_on=days_ago(91))
    assert risk(session, old).triggers == []


def test_detractor_nps(session: Session) -> None:
    account = customer(session)
    make_nps(session, account=account, day=days_ago(10), score=5)
    make_nps(session, account=account, day=days_ago(10), score=7)
    assert "detractor_nps" in keys(risk(session, account))  # mean 6.0 <= 6
    fine = customer(session)
    make_nps(session, account=fine, day=days_ago(10), score=9)
    make_nps(session, account=fine, day=days_ago(100), score=0)  # older than 90 days
    assert risk(session, fine).triggers == []


def test_ticket_spike_vs_baseline(session: Session) -> None:
    account = customer(session)
    for n in (40, 70, 100):
        make_ticket(session, account=account, opened=days_ago(n), closed=days_ago(n - 1))
    for n in range(2, 5):  # 3 in the last 30 days vs 1 per 30 days before
        make_ticket(session, account=account, opened=days_ago(n), closed=days_ago(n - 1))
    assert "ticket_spike" in keys(risk(session, account))
    quiet = customer(session)
    for n in (2, 3):
        make_ticket(session, account=quiet, opened=days_ago(n), closed=days_ago(n - 1))
    assert "ticket_spike" not in keys(risk(session, quiet))


@pytest.mark.parametrize(("overdue_days", "fires"), [(15, True), (14, False)])
def test_overdue_invoice(session: Session, overdue_days: int, fires: bool) -> None:
    account = customer(session)
    make_invoice(
        session, account=account, issued=days_ago(overdue_days + 30), due=days_ago(overdue_days)
    )
    assert ("overdue_invoice" in keys(risk(session, account))) is fires


def test_tam_escalation_open_escalated_ticket(session: Session) -> None:
    account = customer(session)
    make_ticket(session, account=account, opened=days_ago(10), closed=days_ago(-1), escalated=True)
    r = risk(session, account)
    assert keys(r) == {"tam_escalation"}
    assert r.level == RiskLevel.MEDIUM


def test_churned_account_is_low_with_no_triggers(session: Session) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(500), end=days_ago(135))
    make_contact(session, account=account, left_on=days_ago(10))
    r = risk(session, account, Band.RED)
    assert r.level == RiskLevel.LOW
    assert r.triggers == []
    assert r.arr_at_risk == 0
    assert r.renewal_date is None


def test_churn_risk_for_computes_health(session: Session) -> None:
    account = customer(session, renewal_in=20)
    make_contact(session, account=account, left_on=days_ago(10))
    session.commit()
    assert account.id is not None
    r = churn_risk_for(session, account_id=account.id, as_of=AS_OF, config=CONFIG)
    assert "champion_left" in keys(r)


def hit(key: str, severity: Severity, kind: str = "behavioural") -> TriggerHit:
    return TriggerHit(key=key, kind=kind, label=key, evidence="", severity=severity)


M, H = Severity.MEDIUM, Severity.HIGH


@pytest.mark.parametrize(
    ("triggers", "band", "level"),
    [
        ([], Band.GREEN, RiskLevel.LOW),
        ([], Band.RED, RiskLevel.MEDIUM),
        ([hit("renewal_window", M, "renewal")], Band.AMBER, RiskLevel.HIGH),
        ([hit("a", H)], Band.GREEN, RiskLevel.MEDIUM),
        ([hit("a", M), hit("b", M)], Band.GREEN, RiskLevel.MEDIUM),
        ([hit("a", M), hit("b", H)], Band.GREEN, RiskLevel.HIGH),
        ([hit("a", M), hit("b", M), hit("c", M)], Band.GREEN, RiskLevel.HIGH),
    ],
)
def test_level_rule(triggers: list[TriggerHit], band: Band, level: RiskLevel) -> None:
    assert level_for(triggers, band) == level
