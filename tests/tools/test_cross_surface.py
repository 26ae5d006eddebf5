"""Every surface shows the same facts: for every demo account, /health, /churn, App Home, the
QBR, the digest and Claude's tools report the same seats used, ARR, ARR at risk, usage trend,
trigger set and adoption (same value, same rounding)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
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
from tools.importer import import_directory
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


PLANS = ("starter", "pro", "enterprise")
FEATURES = (  # key, tier, is_integration, the event names that use it
    ("reports", "starter", False, "report_viewed"),
    ("exports", "pro", False, "export_csv|export_xlsx"),
    ("sso", "enterprise", True, "sso_sync"),
)
CHURNED_K, SILENT_K, NEW_K, RENEWED_K = 18, 19, 17, 16


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _terms(k: int) -> list[tuple[date, date, int]]:
    """Account ``k``'s contracts (start, end, ARR): monthly terms for even ``k`` (one contract
    per calendar month), annual for odd ``k``; a churned, a new and a renewed account."""
    arr = 6_000 + 1_000 * k
    if k == CHURNED_K:
        return [(date(2025, 5, 1), date(2026, 4, 30), arr)]
    if k == NEW_K:
        return [(date(2026, 6, 10), date(2027, 6, 9), arr)]
    if k == RENEWED_K:  # the renewal overlaps its predecessor by a month, at a higher ARR
        return [
            (date(2025, 7, 16), date(2026, 7, 15), arr),
            (date(2026, 6, 15), date(2027, 6, 14), arr + 3_000),
        ]
    if k % 2:
        return [(date(2025, 9, 1), date(2026, 8, 31), arr)]
    months = []
    start = date(2025, 5, 1)
    while start <= date(2026, 7, 1):
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        months.append((start, end, arr + 100 * len(months)))  # a price step every month
        start = end + timedelta(days=1)
    return months


def _external_export(directory: Path) -> Path:
    """20 accounts' events over 120 days, named after features (no ``login``); every third
    account loses half its users in the last four weeks."""
    _csv(
        directory / "accounts.csv",
        [{"external_id": f"x{k}", "name": f"External {k}"} for k in range(20)],
    )
    contracts = []
    for k in range(20):
        for n, (start, end, arr) in enumerate(_terms(k)):
            contracts.append(
                {
                    "external_id": f"x{k}-{n}",
                    "account_id": f"x{k}",
                    "plan": PLANS[k % 3],
                    "arr": arr,
                    "seats_purchased": 8 + k,
                    "start_date": start.isoformat(),
                    "end_date": end.isoformat(),
                }
            )
    _csv(directory / "contracts.csv", contracts)
    _csv(
        directory / "features.csv",
        [
            {
                "key": key,
                "name": key.title(),
                "tier": tier,
                "is_integration": str(i).lower(),
                "events": names,
            }
            for key, tier, i, names in FEATURES
        ],
    )
    rng = np.random.default_rng(12)
    events = []
    for k in range(20):
        if k == SILENT_K:
            continue
        first = max(TODAY - timedelta(days=120), _terms(k)[0][0])
        last = min(TODAY, _terms(k)[-1][1] + timedelta(days=1))
        day = first
        while day < last:
            users = 4 + k // 2
            if k % 3 == 0 and day >= TODAY - timedelta(days=28):
                users //= 2
            if day.weekday() >= 5:
                users = max(1, users // 3)
            for user in range(int(users)):
                name = ("report_viewed", "export_csv", "export_xlsx", "sso_sync")[
                    int(rng.integers(0, 4 if k % 3 == 2 else 2))
                ]
                stamp = datetime.combine(day, time(9 + user % 8), tzinfo=UTC).isoformat()
                events.append(
                    {
                        "account_id": f"x{k}",
                        "timestamp": stamp,
                        "event": name,
                        "user_id": f"u{user}",
                    }
                )
            day += timedelta(days=1)
    _csv(directory / "events.csv", events)
    return directory


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


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Data we did not design, through the real importer: product events with feature names
    only (no ``login``), monthly and annual terms, an overlapping renewal, a churned account, a
    new one, one without events; no usage, ticket, NPS, invoice, contact or interaction file."""
    directory = _external_export(tmp_path_factory.mktemp("external"))
    engine = db.make_engine(f"sqlite:///{directory / 'external.db'}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    import_directory(sessions=sessions, directory=directory)
    with sessions() as session:
        scan_portfolio(session, as_of=TODAY, config=CONFIG, workers=1)
    yield engine
    engine.dispose()


WORLDS = ["demo", "external"]


@pytest.mark.parametrize("world", WORLDS)
def test_every_surface_reports_the_same_facts(world: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(world)
    sessions = db.session_factory(engine)
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
    assert len(active) >= 15
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


@pytest.mark.parametrize("world", WORLDS)
def test_qbr_numbers_are_the_cards(world: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(world)
    sessions = db.session_factory(engine)
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
            tickets = int(_signal(card, "tickets") or 0)  # 0 without a ticket file
            assert CONFIG.health.normalise.ticket_window_days == 90
            assert f"- Tickets, 90 days: {tickets} opened," in doc.prep["prep.themes"]
            tool = account_tickets(ctx, account=card.account.external_id, days=90)
            assert tool["opened"] == tickets
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize("world", WORLDS)
def test_quiet_accounts_are_the_no_usage_ones(world: str, request: pytest.FixtureRequest) -> None:
    """One active day: /quiet over the usage window lists exactly the accounts with no active
    day on the card's facts, and those with the no_usage trigger (plus brand-new accounts,
    which the trigger leaves alone)."""
    window = CONFIG.health.normalise.usage_window_days
    engine: Engine = request.getfixturevalue(world)
    with db.session_factory(engine)() as session:
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


def test_the_external_world_reads_as_its_data_says(external: Engine) -> None:
    """The facts of the external export: activity without a login event, the contract in force
    under monthly terms and an overlapping renewal, the accounts App Home lists."""
    by_k: dict[int, AccountReport] = {}
    with db.session_factory(external)() as session:
        ids = {
            str(e): int(a)
            for a, e in session.execute(select(col(Account.id), col(Account.external_id)))
        }
        for k in range(20):
            by_k[k] = account_report(session, account_id=ids[f"x{k}"], as_of=TODAY, config=CONFIG)
        home = {
            e.account.account_id
            for e in home_book(session, as_of=TODAY, config=CONFIG, account_ids=list(ids.values()))
        }
    assert by_k[CHURNED_K].account.churned
    assert ids[f"x{CHURNED_K}"] not in home
    for k, card in by_k.items():
        if card.account.churned:
            continue
        assert ids[f"x{k}"] in home
        keys = {t.key for t in card.churn.triggers}
        if k == SILENT_K:
            assert "no_usage" in keys
            continue
        assert "no_usage" not in keys, k  # thousands of events, none named login
        declining = k % 3 == 0
        weekday_users = (4 + k // 2) // 2 if declining else 4 + k // 2
        assert card.account.seats_used == weekday_users, k  # the window's peak day
        trend = _signal(card, "usage_trend")
        if k == NEW_K:  # nothing to compare with: no trend, not a fall
            assert trend is None
            continue
        assert trend is not None, k
        if declining:
            assert trend < -25, (k, trend)  # half the users
        else:
            assert abs(trend) < 10, (k, trend)
    # The contract in force: this month's under monthly terms, the renewal once it started.
    june = next(a for s, e, a in _terms(0) if s <= TODAY <= e)
    assert by_k[0].account.arr == Decimal(june)
    assert by_k[0].account.renewal_date == date(2026, 6, 30)
    renewed = _terms(RENEWED_K)[-1]
    assert by_k[RENEWED_K].account.arr == Decimal(renewed[2])
    assert by_k[RENEWED_K].account.renewal_date == renewed[1]
