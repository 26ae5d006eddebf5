"""A quiet first day and a bounded every day: one book DM per owner, capped churn alerts.

Settable clock throughout: every run takes ``now``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.harness.fake_slack import FakeSlack
from bot.jobs.daily_scan import DailyScanReport, run_daily_scan
from bot.jobs.delivery import metadata_key
from tests.utils.daily_run import AS_OF, OWNER, customer, overdue, portfolio
from tests.utils.demo_db import demo_database
from tests.utils.factories import make_nps
from tools import db
from tools.models import Account, AlertKind
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)
CONFIG = load_config()


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "book", today=TODAY, accounts=60)


def run(engine: Engine, fake: FakeSlack, day: date, **settings: Any) -> DailyScanReport:
    return run_daily_scan(
        session_factory=db.session_factory(engine),
        client=WebClient(token="xoxb-test", base_url=fake.url),
        settings=Settings(_env_file=None, **settings),
        config=CONFIG,
        now=datetime.combine(day, time(7), tzinfo=UTC),
    )


def top_level(fake: FakeSlack, since: int = 0) -> list[dict[str, Any]]:
    return [m for m in fake.posted()[since:] if not m.get("thread_ts")]


def kind_of(message: dict[str, Any]) -> str:
    return str(metadata_key(message)).split(":")[0]


def by_recipient(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        grouped[message["channel"]].append(message)
    return grouped


def dm_text(fake: FakeSlack, user: str, since: int = 0) -> str:
    """Everything the DMs to ``user`` say (blocks included)."""
    channel = "D" + user.removeprefix("U")
    calls = [c for c in fake.calls_to("chat.postMessage") if c.response.get("channel") == channel]
    return "\n".join(f"{c.text}\n{c.blocks}" for c in calls[since:])


def test_first_run_on_the_demo_is_one_message_per_owner_plus_the_channel_alerts(
    demo: Engine, fake: FakeSlack
) -> None:
    report = run(demo, fake, TODAY)

    messages = top_level(fake)
    grouped = by_recipient(messages)
    dms = {c: m for c, m in grouped.items() if c.startswith("D")}
    with db.session_factory(demo)() as session:
        owners = {a.owner_slack_id for a in session.exec(select(Account)) if a.owner_slack_id}
    assert 0 < len(dms) <= len(owners)
    assert all(len(m) == 1 for m in dms.values()), "one message per owner"
    assert {kind_of(m[0]) for m in dms.values()} == {AlertKind.BOOK_STATE.value}
    channel = [m for c, sent in grouped.items() if not c.startswith("D") for m in sent]
    assert {kind_of(m) for m in channel} <= {AlertKind.CHURN.value}
    # a quiet first day: only the most urgent few (high risk, renewal close) in the channel
    assert 0 < len(channel) == len(report.planned) <= Settings(_env_file=None).alert_first_day_max
    assert all("high churn risk" in alert.reason for alert in report.planned)
    assert len(messages) == len(dms) + len(channel)
    # the QBR drafts and proposals are inside the books, not one DM each
    assert report.books.items > len(dms)
    assert report.qbr_t90.planned == []


def test_the_demos_acme_is_in_its_owners_first_message(demo: Engine, fake: FakeSlack) -> None:
    with db.session_factory(demo)() as session:
        acme = session.exec(select(Account).where(Account.name == "Acme Corp")).one()
        owner = acme.owner_slack_id
    assert owner

    run(demo, fake, TODAY)

    text = dm_text(fake, owner)
    assert "The state of your book" in text
    assert "Acme Corp" in text


def test_an_account_already_at_risk_before_alerting_began_is_in_its_owners_first_message(
    sessions: db.SessionFactory, engine: Engine, fake: FakeSlack
) -> None:
    portfolio(sessions)  # Acme (at risk: an overdue invoice) and Beta (healthy)
    # yesterday's snapshot (scored, nothing claimed) already had the overdue invoice
    run_daily_scan(
        session_factory=sessions,
        client=None,
        settings=Settings(_env_file=None),
        config=CONFIG,
        now=datetime.combine(AS_OF - timedelta(days=1), time(7), tzinfo=UTC),
        dry_run=True,
    )

    report = run(engine, fake, AS_OF)

    assert report.planned == []  # no churn alert: being at risk is not news for Acme
    [message] = top_level(fake)
    assert kind_of(message) == AlertKind.BOOK_STATE.value
    assert "Acme" in dm_text(fake, OWNER)


def test_the_next_days_send_at_most_one_book_today_per_owner_and_a_downtime_the_state_again(
    demo: Engine, fake: FakeSlack
) -> None:
    run(demo, fake, TODAY)
    for offset in (1, 2):
        since = len(fake.posted())
        run(demo, fake, TODAY + timedelta(days=offset))
        dms = {c: m for c, m in by_recipient(top_level(fake, since)).items() if c[0] == "D"}
        assert all(len(m) == 1 for m in dms.values())
        assert {kind_of(m[0]) for m in dms.values()} <= {AlertKind.BOOK_TODAY.value}

    since = len(fake.posted())
    run(demo, fake, TODAY + timedelta(days=8))  # five days without a run: catch up
    dms = {c: m for c, m in by_recipient(top_level(fake, since)).items() if c[0] == "D"}
    assert dms
    assert all(len(m) == 1 for m in dms.values())
    assert {kind_of(m[0]) for m in dms.values()} == {AlertKind.BOOK_STATE.value}


def test_caps_hold_on_a_day_with_a_large_backlog(
    sessions: db.SessionFactory, engine: Engine, fake: FakeSlack
) -> None:
    owner = "U0CSM001"
    with sessions() as session:
        for n in range(12):  # a large backlog: twelve accounts at risk at once, one owner
            overdue(session, customer(session, name=f"Risky{n:02d}", owner=owner))
        for n in range(4):  # and four renewals inside 90 days (T-90 QBR drafts)
            customer(session, name=f"Renewing{n}", owner=owner, renewal_in=30 + n)
        session.commit()

    report = run(engine, fake, AS_OF, alert_max_per_owner=2, book_max_items=5)

    messages = top_level(fake)
    # a quiet first day: nothing to compare with and nothing urgent, so no channel alert
    assert [m["channel"][0] for m in messages] == ["D"]
    [book] = report.books.planned
    assert book.reason == "state of the book: 12 at risk, 4 renewals, 0 proposals"
    text = dm_text(fake, owner)
    assert "…and 7 more" in text  # 12 at risk, 5 lines shown
    assert "Renewing0" in text

    # the next day: ten more accounts turn risky; two in the channel (the cap), one DM
    with sessions() as session:
        for n in range(10):
            overdue(session, customer(session, name=f"Later{n:02d}", owner=owner))
        session.commit()
    since = len(fake.posted())
    report = run(engine, fake, AS_OF + timedelta(days=1), alert_max_per_owner=2)
    messages = top_level(fake, since)
    assert len([m for m in messages if not m["channel"].startswith("D")]) == 2
    assert [kind_of(m) for m in messages if m["channel"].startswith("D")] == ["book_today"]
    assert "over today's alert cap" in dm_text(fake, owner, since=1)

    # the overflow was told in the DM: not news again the day after
    since = len(fake.posted())
    run(engine, fake, AS_OF + timedelta(days=2), alert_max_per_owner=2)
    assert top_level(fake, since) == []


def urgent(session: Session, name: str, *, renewal_in: int, owner: str = OWNER) -> Account:
    """High churn risk (an overdue invoice and a detractor) renewing in ``renewal_in`` days."""
    account = customer(session, name=name, owner=owner, renewal_in=renewal_in)
    overdue(session, account)
    make_nps(session, account=account, day=AS_OF - timedelta(days=3), score=1)
    return account


def test_a_first_day_posts_only_the_most_urgent_few_in_the_channel(
    sessions: db.SessionFactory, engine: Engine, fake: FakeSlack
) -> None:
    with sessions() as session:
        for n, days in enumerate((20, 45, 50, 55)):  # high risk, renewal inside 60 days
            urgent(session, f"Urgent{n}", renewal_in=days, owner=f"U0CSM00{n}")
        urgent(session, "FarOff", renewal_in=150)  # high risk, renewal far away
        overdue(session, customer(session, name="Medium", renewal_in=20))  # medium risk
        session.commit()

    report = run(engine, fake, AS_OF)

    assert sorted(p.account_name for p in report.planned) == ["Urgent0", "Urgent1", "Urgent2"]
    assert all("renewal in" in p.reason or "high churn risk" in p.reason for p in report.planned)
    owners = {m["channel"] for m in top_level(fake) if m["channel"].startswith("D")}
    assert len(owners) == 4, "one state of the book per owner"
    for name in ("Urgent3", "FarOff", "Medium"):  # the rest: in their owner's book
        assert name in "".join(dm_text(fake, u) for u in ("U0CSM001", "U0CSM003"))

    # the next day is an ordinary day: the held-back accounts are not news any more
    since = len(fake.posted())
    later = run(engine, fake, AS_OF + timedelta(days=1))
    assert later.planned == []
    assert [kind_of(m) for m in top_level(fake, since)] == []


@pytest.mark.parametrize("limit", [0, 1])
def test_the_first_day_channel_volume_is_configurable(
    demo: Engine, fake: FakeSlack, limit: int
) -> None:
    report = run(demo, fake, TODAY, alert_first_day_max=limit)

    channel = [m for m in top_level(fake) if not m["channel"].startswith("D")]
    assert len(channel) == len(report.planned) == limit


def test_dry_run_plans_the_books_and_writes_nothing(demo: Engine, fake: FakeSlack) -> None:
    report = run_daily_scan(
        session_factory=db.session_factory(demo),
        client=None,
        settings=Settings(_env_file=None),
        config=CONFIG,
        now=datetime.combine(TODAY, time(7), tzinfo=UTC),
        dry_run=True,
    )
    recipients = Counter(m.channel for m in report.books.planned)
    assert recipients
    assert all(n == 1 for n in recipients.values())
    assert fake.calls == []
    live = run(demo, fake, TODAY)
    assert Counter(m.channel for m in live.books.planned) == recipients
