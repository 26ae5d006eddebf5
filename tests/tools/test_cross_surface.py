"""Every surface shows the same facts: for every demo account, /health, /churn, App Home, the
QBR, the digest and Claude's tools report the same seats used, ARR, ARR at risk, usage trend,
trigger set and adoption (same value, same rounding)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from bot import blocks
from tests.utils.demo_db import demo_database
from tools import agent_tools, db
from tools.agent_tools.insights import account_tickets
from tools.facts import is_at_risk, money_text
from tools.facts.onboarding import start_dates
from tools.facts.view import account_facts
from tools.home_book import BookEntry, home_book
from tools.insights import quiet_accounts
from tools.metrics import portfolio_metrics
from tools.models import Account
from tools.qbr import build_qbr
from tools.registry import ToolContext
from tools.results import AccountReport
from tools.scoring import (
    account_report,
    at_risk_accounts,
    book_reports,
    scan_portfolio,
    scanned_at_risk,
)
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine_iter = demo_database(tmp_path_factory, "cross", today=TODAY, accounts=40)
    engine = next(engine_iter)
    with db.session_factory(engine)() as session:
        scan_portfolio(session, as_of=TODAY, config=CONFIG, workers=1)
    yield engine
    for _ in engine_iter:
        pass


def _signal(report: AccountReport, key: str) -> float | None:
    return next(s.raw for s in report.health.signals if s.key == key)


def _facts(report: AccountReport) -> tuple[Any, ...]:
    """What must agree: seats used, ARR, ARR at risk, usage trend, triggers, adoption."""
    return (
        report.account.seats_used,
        report.account.arr,
        report.churn.arr_at_risk,
        _signal(report, "usage_trend"),
        sorted(t.key for t in report.churn.triggers),
        _signal(report, "adoption"),
        report.health.score,
        report.churn.level,
    )


def _book_facts(entry: BookEntry) -> tuple[Any, ...]:
    """What App Home's book shows: ARR, ARR at risk, renewal, score, band, level, triggers."""
    return (
        entry.account.arr,
        entry.arr_at_risk,
        entry.account.renewal_date,
        entry.score,
        entry.band,
        entry.level,
        [(t.key, t.label, t.evidence, t.severity) for t in entry.triggers],
    )


def test_every_surface_reports_the_same_facts(demo: Engine) -> None:
    sessions = db.session_factory(demo)
    with sessions() as session:
        ids = [int(a) for a in session.execute(select(col(Account.id))).scalars()]
        cards = {a: account_report(session, account_id=a, as_of=TODAY, config=CONFIG) for a in ids}
        book = {
            r.account.account_id: r
            for r in book_reports(session, as_of=TODAY, config=CONFIG, account_ids=ids)
        }
        home = {  # App Home reads the day's scan
            e.account.account_id: e
            for e in home_book(session, as_of=TODAY, config=CONFIG, account_ids=ids)
        }
        churn = at_risk_accounts(session, as_of=TODAY, config=CONFIG, limit=10_000)
        scanned = scanned_at_risk(session, as_of=TODAY, config=CONFIG, limit=10_000)
        metrics = portfolio_metrics(session, as_of=TODAY, config=CONFIG)
    active = [a for a in ids if not cards[a].account.churned]
    assert len(active) >= 20
    assert list(home) == active  # the book: the active accounts, in the order asked
    ctx = ToolContext(sessions=sessions, as_of=TODAY, config=CONFIG)
    for a in active:
        card = cards[a]
        assert _facts(book[a]) == _facts(card)  # lists scored live
        assert _book_facts(home[a]) == _book_facts(BookEntry.of(card))  # App Home
        with sessions() as session:
            facts = account_facts(session, account_id=a, as_of=TODAY, config=CONFIG)
        assert facts.seats_used == (card.account.seats_used or 0)
        assert facts.arr == card.account.arr
        assert facts.usage_trend_pct == _signal(card, "usage_trend")
        tool = agent_tools.churn_risk(ctx, account=card.account.external_id)
        assert tool["arr_at_risk"] == card.churn.arr_at_risk
        assert sorted(t["key"] for t in tool["triggers"]) == sorted(
            t.key for t in card.churn.triggers
        )
        overview = agent_tools.account_overview(ctx, account=card.account.external_id)
        assert overview["account"].seats_used == card.account.seats_used
        assert overview["churn"]["arr_at_risk"] == card.churn.arr_at_risk
        # The card's text shows the same seats and ARR, in the one money format.
        _, text = blocks.health_report(card)
        assert f"ARR {money_text(card.account.arr)}" in text
    # /churn lists exactly the at-risk accounts, with the card's facts; the scan's summary too.
    listed = {r.account.account_id: r for r in churn}
    assert set(listed) == {a for a in active if is_at_risk(cards[a].churn.level)}
    for a, r in listed.items():
        assert _facts(r) == _facts(cards[a])
    assert [r.account.account_id for r in scanned] == [r.account.account_id for r in churn]
    # Portfolio metrics (App Home team view, the digest): ARR at risk of renewals = the cards'.
    for bucket in metrics.renewals:
        horizon = TODAY + timedelta(days=bucket.days)
        expected = sum(
            (
                cards[a].churn.arr_at_risk
                for a in active
                if cards[a].account.renewal_date is not None
                and TODAY <= cards[a].account.renewal_date <= horizon
            ),
            Decimal("0"),
        )
        assert bucket.arr_at_risk == expected, bucket


def test_qbr_numbers_are_the_cards(demo: Engine) -> None:
    sessions = db.session_factory(demo)
    ctx = ToolContext(sessions=sessions, as_of=TODAY, config=CONFIG)
    checked = 0
    with sessions() as session:
        ids = [int(a) for a in session.execute(select(col(Account.id))).scalars()]
        for a in ids[:12]:
            card = account_report(session, account_id=a, as_of=TODAY, config=CONFIG)
            if card.account.churned:
                continue
            doc = build_qbr(session, account_id=a, as_of=TODAY, config=CONFIG)
            assert doc.account.seats_used == card.account.seats_used
            assert doc.roi.seats_used == card.account.seats_used
            assert doc.adoption.peak_active_users == (card.account.seats_used or 0)
            assert doc.account.arr == card.account.arr
            for row in doc.adoption.rows:  # no feature has more users than seats used
                assert row.users <= max(card.account.seats_used or 0, 1) or row.users == 0
                assert row.adoption <= 1.0
            assert money_text(doc.account.arr) == money_text(card.account.arr)
            # Tickets over the same complete days: the card's signal, the QBR prep, Claude's tool.
            tickets = int(_signal(card, "tickets") or 0)
            assert CONFIG.health.normalise.ticket_window_days == 90
            assert f"- Tickets, 90 days: {tickets} opened," in doc.prep["prep.themes"]
            tool = account_tickets(ctx, account=card.account.external_id, days=90)
            assert tool["opened"] == tickets
            checked += 1
    assert checked >= 6


def test_quiet_accounts_are_the_no_usage_ones(demo: Engine) -> None:
    """One active day: /quiet over the usage window lists exactly the accounts with no active
    day on the card's facts, and those with the no_usage trigger (plus brand-new accounts,
    which the trigger leaves alone)."""
    window = CONFIG.health.normalise.usage_window_days
    with db.session_factory(demo)() as session:
        quiet = {
            q.account.account_id
            for q in quiet_accounts(session, as_of=TODAY, days=window, config=CONFIG)
        }
        starts = start_dates(session, None)
        ids = [int(a) for a in session.execute(select(col(Account.id))).scalars()]
        for a in ids:
            card = account_report(session, account_id=a, as_of=TODAY, config=CONFIG)
            if card.account.churned:
                continue
            facts = account_facts(session, account_id=a, as_of=TODAY, config=CONFIG)
            assert (a in quiet) == (facts.active_days == 0), a
            no_usage = any(t.key == "no_usage" for t in card.churn.triggers)
            new = (TODAY - starts[a]).days < CONFIG.health.normalise.new_account_days
            assert no_usage == (a in quiet and not new), a


def test_stories_table_is_computed_like_the_cards(demo: Engine) -> None:
    """The demo's Stories table reads the metric layer: its trend, seats and ARR are the card's."""
    from tools.demo import STORIES
    from tools.demo_facts import FACTS, account_by_external_id

    with db.session_factory(demo)() as session:
        checked = 0
        for story in STORIES:
            account_id = account_by_external_id(session, story.external_id)
            if account_id is None:
                continue
            card = account_report(session, account_id=account_id, as_of=TODAY, config=CONFIG)
            fact = FACTS[story.kind](session, account_id, TODAY)
            trend = _signal(card, "usage_trend")
            if story.kind in ("renewal_risk", "champion_left") and trend is not None:
                assert f"{trend:+.0f}% vs prior 4 weeks" in fact, (story.kind, fact, trend)
                checked += 1
            if story.kind == "renewal_risk":
                assert f"ARR {money_text(card.account.arr)}" in fact
            if story.kind == "ticket_overload":
                tickets = _signal(card, "tickets")
                assert f"{int(tickets or 0)} tickets in " in fact
    assert checked >= 1
