"""Scheduled jobs, exactly once: churn alerts, QBR drafts and the digest against a fake Slack."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.alert_blocks import ACTION_QBR_CONTINUE
from bot.config import Settings
from bot.harness.fake_slack import FakeSlack, SlackCall
from bot.jobs.daily_scan import DailyScanReport, run_daily_scan
from bot.jobs.digest import run_weekly_digest
from bot.jobs.qbr_drafts import run_quarterly_qbr
from bot.jobs.schedule import (
    JOB_DAILY_SCAN,
    JOB_QUARTERLY_QBR,
    JOB_WEEKLY_DIGEST,
    SCHEDULE,
    build_scheduler,
    guard_job,
    next_runs,
)
from tests.utils.alert_world import customer as steady_customer
from tests.utils.factories import (
    make_invoice,
    make_nps,
)
from tools import db
from tools.models import Account, Alert, AlertKind, AlertStatus, QbrDocumentRecord, QbrDraft
from tools.scoring_config import load_config

AS_OF = date(2026, 3, 2)
CONFIG = load_config()
OWNER = "U0CSM001"


def at(day: date, hour: int = 7) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def make_settings(**overrides: Any) -> Settings:
    """Per-item delivery (BOOK_BATCH=false): these tests follow single messages; the book DMs
    that batch them are tested in test_book.py."""
    return Settings(_env_file=None, **{"book_batch": False, **overrides})


def customer(
    session: Session,
    *,
    name: str,
    owner: str | None = OWNER,
    segment: str = "mid-market",
    renewal_in: int = 200,
) -> Account:
    """An active, steadily used account; nothing fires until a test adds a problem."""
    return steady_customer(
        session,
        name=name,
        owner=owner,
        segment=segment,
        renewal_in=renewal_in,
        champion="Jo",
        champion_engaged=AS_OF,
    )


def overdue(session: Session, account: Account) -> None:
    make_invoice(
        session,
        account=account,
        issued=AS_OF - timedelta(days=50),
        due=AS_OF - timedelta(days=20),
        amount=30_000,
    )


def portfolio(sessions: db.SessionFactory, *, segment: str = "enterprise") -> int:
    """Acme (at risk: an overdue invoice) and Beta (healthy); returns Acme's id."""
    with sessions() as session:
        acme = customer(session, name="Acme", segment=segment)
        overdue(session, acme)
        customer(session, name="Beta", owner="U0CSM002")
        session.commit()
        assert acme.id is not None
        return acme.id


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url)


def daily(
    sessions: db.SessionFactory,
    client: WebClient | None,
    day: date,
    settings: Settings | None = None,
    **kwargs: Any,
) -> DailyScanReport:
    return run_daily_scan(
        session_factory=sessions,
        client=client,
        settings=settings or make_settings(),
        config=CONFIG,
        now=at(day),
        **kwargs,
    )


def top_level_posts(fake: FakeSlack) -> list[SlackCall]:
    return [c for c in fake.calls_to("chat.postMessage") if not c.params.get("thread_ts")]


def alerts_in(sessions: db.SessionFactory) -> list[Alert]:
    """The ledger's messages (not the daily-run markers)."""
    with sessions() as session:
        rows = session.exec(
            select(Alert).where(Alert.kind != AlertKind.DAILY_RUN.value).order_by(col(Alert.id))
        )
        return list(rows)


# -- churn alerts ----------------------------------------------------------------------------


def test_new_risk_is_alerted_with_mention_and_a_draft_email_in_the_thread(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    portfolio(sessions)

    report = daily(sessions, client, AS_OF)

    assert [p.account_name for p in report.planned] == ["Acme"]
    assert report.counts.posted == 1
    posts = fake.calls_to("chat.postMessage")
    assert len(posts) == 2
    alert, reply = posts
    assert alert.params["channel"] == "#cs-alerts"
    assert f"<@{OWNER}>" in alert.text
    rendered = json.dumps(alert.blocks)
    assert f"<@{OWNER}>" in rendered
    assert "Overdue invoice" in rendered
    assert "$120,000" in rendered  # ARR at risk
    assert "2026-09-18" in rendered  # renewal date
    assert "playbook" in rendered.lower()
    assert reply.params["thread_ts"] == alert.response["ts"]
    assert "DRAFT" in reply.text
    assert "not sent" in reply.text
    assert fake.errors == []
    [row] = alerts_in(sessions)
    assert row.status == AlertStatus.POSTED.value
    assert row.message_ts == alert.response["ts"]
    assert row.reply_ts == reply.response["ts"]
    assert row.key == f"churn_alert:{row.account_id}:2026-03-02"


def test_a_risky_account_is_not_alerted_again_the_next_day(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    portfolio(sessions)
    daily(sessions, client, AS_OF)

    again = daily(sessions, client, AS_OF + timedelta(days=1))
    same_day = daily(sessions, client, AS_OF)

    assert again.planned == []
    assert same_day.planned == []
    assert len(top_level_posts(fake)) == 1


def test_an_account_already_as_risky_before_alerting_began_is_not_news(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    acme_id = portfolio(sessions)
    # yesterday's snapshot (scored, nothing claimed) already had the overdue invoice
    daily(sessions, None, AS_OF - timedelta(days=1), dry_run=True)

    quiet = daily(sessions, client, AS_OF)
    with sessions() as session:
        acme = session.get(Account, acme_id)
        assert acme is not None
        make_nps(session, account=acme, day=AS_OF, score=1)
        session.commit()
    worse = daily(sessions, client, AS_OF + timedelta(days=1))

    assert quiet.planned == []
    assert [p.reason for p in worse.planned] == [
        "churn risk rose from medium to high; new: Detractor NPS"
    ]
    assert len(top_level_posts(fake)) == 1


def test_worsening_is_alerted_again(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    acme_id = portfolio(sessions)
    daily(sessions, client, AS_OF)
    with sessions() as session:
        acme = session.get(Account, acme_id)
        assert acme is not None
        make_nps(session, account=acme, day=AS_OF, score=1)
        session.commit()

    report = daily(sessions, client, AS_OF + timedelta(days=1))

    assert len(report.planned) == 1
    assert "Detractor NPS" in report.planned[0].reason
    posts = top_level_posts(fake)
    assert len(posts) == 2
    assert "Detractor NPS" in posts[1].text


def test_quiet_period_then_realert(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    portfolio(sessions)
    settings = make_settings(alert_quiet_days=3)
    daily(sessions, client, AS_OF, settings)
    assert daily(sessions, client, AS_OF + timedelta(days=2), settings).planned == []

    report = daily(sessions, client, AS_OF + timedelta(days=3), settings)

    assert [p.reason for p in report.planned] == [
        "still at medium churn risk 3 days after the last alert"
    ]
    assert len(top_level_posts(fake)) == 2


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"segment:enterprise": "#cs-enterprise"}, "#cs-enterprise"),
        ({"segment:enterprise": "#cs-enterprise", f"owner:{OWNER}": "#team-a"}, "#team-a"),
        ({"segment:smb": "#cs-smb", "owner:U0OTHER": "#team-b"}, "#cs-alerts"),
    ],
)
def test_alert_routing_by_segment_and_owner(
    sqlite_engine: Any, fake: FakeSlack, client: WebClient, routes: dict[str, str], expected: str
) -> None:
    sessions = db.session_factory(sqlite_engine)
    portfolio(sessions, segment="enterprise")

    daily(sessions, client, AS_OF, make_settings(alert_routes=routes))

    [post] = top_level_posts(fake)
    assert post.params["channel"] == expected


def test_routes_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_ROUTES", '{"segment:enterprise": "#cs-enterprise"}')
    assert make_settings().alert_routes == {"segment:enterprise": "#cs-enterprise"}


class Crash(BaseException):
    """The process dying between claim and post (not an Exception: nothing catches it)."""


class CrashingClient(WebClient):
    def chat_postMessage(self, **kwargs: Any) -> SlackResponse:
        raise Crash("killed before posting")


def test_crash_between_claim_and_post_is_posted_exactly_once_by_the_next_run(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    portfolio(sessions)
    crashing = CrashingClient(token="xoxb-test", base_url=fake.url)
    with pytest.raises(Crash):
        daily(sessions, crashing, AS_OF)
    [claimed] = alerts_in(sessions)
    assert claimed.status == AlertStatus.CLAIMED.value
    assert fake.calls_to("chat.postMessage") == []

    # a run within the lease leaves it alone: the claimer might still be posting
    run_daily_scan(
        session_factory=sessions,
        client=client,
        settings=make_settings(),
        config=CONFIG,
        now=at(AS_OF) + timedelta(minutes=2),
    )
    assert fake.calls_to("chat.postMessage") == []

    recovered = daily(sessions, client, AS_OF + timedelta(days=1))
    daily(sessions, client, AS_OF + timedelta(days=2))

    assert recovered.counts.retried == 1
    assert recovered.planned == []  # the recovered alert is the one; no new one on top
    assert len(top_level_posts(fake)) == 1
    assert len(fake.calls_to("chat.postMessage")) == 2  # the alert and its draft email
    [row] = alerts_in(sessions)
    assert row.status == AlertStatus.POSTED.value
    assert row.attempts == 2


def test_a_permanent_slack_error_marks_the_alert_failed(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    portfolio(sessions)
    fake.fail_next("chat.postMessage", error="channel_not_found", status=200, retry_after=None)

    report = daily(sessions, client, AS_OF)

    assert report.counts.failed == 1
    [row] = alerts_in(sessions)
    assert row.status == AlertStatus.FAILED.value
    assert "channel_not_found" in (row.last_error or "")

    # never seen, so no baseline: once the channel works, the next run alerts
    again = daily(sessions, client, AS_OF + timedelta(days=1))
    assert again.counts.posted == 1


def test_narrator_hook_writes_the_narrative_and_falls_back_on_error(
    sqlite_engine: Any, fake: FakeSlack, client: WebClient
) -> None:
    sessions = db.session_factory(sqlite_engine)
    portfolio(sessions)

    daily(sessions, client, AS_OF, narrator=lambda report: f"Claude says {report.account.name}")

    assert "Claude says Acme" in json.dumps(top_level_posts(fake)[0].blocks)


def test_dry_run_posts_nothing_and_claims_nothing(
    sessions: db.SessionFactory, fake: FakeSlack
) -> None:
    portfolio(sessions)

    report = daily(sessions, None, AS_OF, dry_run=True)

    assert report.dry_run
    assert [p.account_name for p in report.planned] == ["Acme"]
    assert fake.calls == []
    assert alerts_in(sessions) == []


# -- QBR drafts ------------------------------------------------------------------------------


def dms(fake: FakeSlack) -> list[SlackCall]:
    return [
        c for c in fake.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("D")
    ]


def test_t90_qbr_draft_is_stored_and_dmed_once_including_a_contract_imported_late(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    with sessions() as session:
        customer(session, name="Gamma", renewal_in=91, owner="U0CSM003")
        session.commit()
    assert daily(sessions, client, AS_OF).qbr_t90.planned == []

    report = daily(sessions, client, AS_OF + timedelta(days=1))  # T-90 exactly

    assert [p.account_name for p in report.qbr_t90.planned] == ["Gamma"]
    [dm] = dms(fake)
    assert fake.calls_to("conversations.open")[0].params["users"] == "U0CSM003"
    assert dm.params["channel"] == "D0CSM003"
    [button] = [e for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ACTION_QBR_CONTINUE
    with sessions() as session:
        [draft] = session.exec(select(QbrDraft)).all()
        [document] = session.exec(select(QbrDocumentRecord)).all()
    assert document.draft_id == draft.id  # the structured QBR, ready to publish to Notion
    assert json.loads(button["value"]) == {"account_id": draft.account_id, "draft_id": draft.id}
    assert fake.errors == []

    # imported long after its own T-90 date, but not ended: drafted on the next run
    with sessions() as session:
        customer(session, name="Delta", renewal_in=30, owner="U0CSM004")
        ended = customer(session, name="Omega", renewal_in=-1, owner="U0CSM005")
        assert ended.id is not None
        session.commit()
    later = daily(sessions, client, AS_OF + timedelta(days=2))

    assert [p.account_name for p in later.qbr_t90.planned] == ["Delta"]
    assert [c.params["channel"] for c in dms(fake)] == ["D0CSM003", "D0CSM004"]


def quarterly(sessions: db.SessionFactory, client: WebClient, now: datetime) -> list[str]:
    report = run_quarterly_qbr(
        session_factory=sessions,
        client=client,
        settings=make_settings(timezone="Europe/Paris"),
        config=CONFIG,
        now=now,
    )
    return [p.key for p in report.planned]


def test_quarterly_qbr_boundaries_march_31_vs_april_1(
    sqlite_engine: Any, fake: FakeSlack, client: WebClient
) -> None:
    sessions = db.session_factory(sqlite_engine)
    with sessions() as session:
        acme = customer(session, name="Acme")
        session.commit()
    paris = ZoneInfo("Europe/Paris")

    march = quarterly(sessions, client, datetime(2026, 3, 31, 12, tzinfo=paris))
    # 23:30 UTC on March 31 is already April 1 in Paris
    april = quarterly(sessions, client, datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    april_again = quarterly(sessions, client, datetime(2026, 4, 1, 15, tzinfo=paris))

    assert march == [f"qbr_quarterly:{acme.id}:2026-Q1"]
    assert april == [f"qbr_quarterly:{acme.id}:2026-Q2"]
    assert april_again == []
    assert len(dms(fake)) == 2
    with sessions() as session:
        assert len(session.exec(select(QbrDraft)).all()) == 2


# -- the weekly digest -----------------------------------------------------------------------


def test_weekly_digest_is_posted_once_per_iso_week(
    sqlite_engine: Any, fake: FakeSlack, client: WebClient
) -> None:
    sessions = db.session_factory(sqlite_engine)
    portfolio(sessions)
    daily(sessions, client, AS_OF - timedelta(days=7), dry_run=True)
    daily(sessions, client, AS_OF)  # Monday: Acme alerted
    settings = make_settings()

    def digest(day: date) -> int:
        report = run_weekly_digest(
            session_factory=sessions, client=client, settings=settings, config=CONFIG, now=at(day)
        )
        return report.counts.posted

    assert [
        digest(AS_OF),
        digest(AS_OF + timedelta(days=3)),
        digest(AS_OF + timedelta(days=7)),
    ] == [
        1,
        0,
        1,
    ]
    posts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "#cs-leaders"]
    assert len(posts) == 2
    first = json.dumps(posts[0].blocks)
    assert "2026-W10" in posts[0].text
    assert "Acme" in first  # a new risk this week
    assert "Renewals next 90 days" in first
    assert "1 this week" in first  # churn alerts sent
    assert fake.errors == []


# -- the scheduler ---------------------------------------------------------------------------


def test_scheduler_jobs_ids_triggers_and_next_runs(sqlite_engine: Any) -> None:
    settings = make_settings(
        timezone="Europe/Paris", scan_time="06:30", digest_day="fri", digest_time="16:00"
    )
    scheduler = build_scheduler(
        settings,
        session_factory=db.session_factory(sqlite_engine),
        client=WebClient(token="xoxb-test"),
        clock=lambda: datetime.now(UTC),
        config=CONFIG,
    )
    paris = ZoneInfo("Europe/Paris")
    runs = dict(next_runs(scheduler, datetime(2026, 3, 31, 10, tzinfo=paris)))

    assert set(runs) == {JOB_DAILY_SCAN, JOB_WEEKLY_DIGEST, JOB_QUARTERLY_QBR}
    assert runs[JOB_DAILY_SCAN] == datetime(2026, 4, 1, 6, 30, tzinfo=paris)
    assert runs[JOB_WEEKLY_DIGEST] == datetime(2026, 4, 3, 16, 0, tzinfo=paris)
    assert runs[JOB_QUARTERLY_QBR] == datetime(2026, 4, 1, 9, 0, tzinfo=paris)
    for job in scheduler.get_jobs():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time
        assert job.misfire_grace_time >= 60
    quarterly_trigger = str(scheduler.get_job(JOB_QUARTERLY_QBR).trigger)
    assert "month='1,4,7,10'" in quarterly_trigger
    assert "day='1'" in quarterly_trigger


def test_scheduler_adds_an_outbox_job_when_given_one(sqlite_engine: Any) -> None:
    scheduler = build_scheduler(
        make_settings(),
        session_factory=db.session_factory(sqlite_engine),
        client=WebClient(token="xoxb-test"),
        clock=lambda: datetime.now(UTC),
        config=CONFIG,
        outbox_job=lambda now: None,
    )
    assert scheduler.get_job("notion_outbox") is not None


def test_a_failing_job_is_logged_with_context_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(now: datetime) -> object:
        raise RuntimeError("database is down")

    job = guard_job("daily_scan", broken, lambda: datetime(2026, 3, 2, 7, tzinfo=UTC))
    with caplog.at_level(logging.ERROR, logger="bot.jobs.schedule"):
        job()

    assert "scheduled job daily_scan failed (now=2026-03-02T07:00:00+00:00)" in caplog.text
    assert "database is down" in caplog.text


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_scan_dry_run_prints_alerts_and_claims_nothing(
    sqlite_engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from bot.cli import app

    sessions = db.session_factory(sqlite_engine)
    portfolio(sessions)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-must-not-be-used")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")  # nothing listens there
    url = str(sqlite_engine.url)

    result = CliRunner().invoke(
        app, ["scan", "--dry-run", "--date", AS_OF.isoformat(), "--db", url]
    )

    assert result.exit_code == 0, result.output
    # the churn alert in the channel and Acme's owner's "state of your book" DM
    assert "Would post 2 message(s) to 2 recipient(s)" in result.output
    assert "#cs-alerts" in result.output
    assert "DM U0CSM001" in result.output
    assert "Acme" in result.output
    assert "nothing was claimed or posted" in result.output
    assert alerts_in(sessions) == []


def test_cli_scan_of_a_past_date_posts_nothing(
    sqlite_engine: Any, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from bot.cli import app

    sessions = db.session_factory(sqlite_engine)
    portfolio(sessions)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", fake.url)

    result = CliRunner().invoke(
        app, ["scan", "--date", AS_OF.isoformat(), "--db", str(sqlite_engine.url)]
    )

    assert result.exit_code == 0, result.output
    assert "only for today's scan" in result.output
    assert fake.calls == []
    assert alerts_in(sessions) == []


def test_cli_jobs_lists_next_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from bot.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/jobs.db")
    result = CliRunner().invoke(app, ["jobs"])

    assert result.exit_code == 0, result.output
    for row in SCHEDULE:  # every job of the table, including the ones that are off
        assert row.id in result.output
    assert "off:" in result.output  # the Notion outbox, with why (Notion is not configured)


# -- two schedulers, one PostgreSQL database -------------------------------------------------


@pytest.fixture
def race_database() -> Iterator[str]:
    """A scratch schema of our own on the PostgreSQL server (others' runs reset ``public``).

    A schema rather than a database: dropping a database forces a checkpoint, slow on a busy
    server. Connections reach it through ``search_path``, so the app code runs unchanged.
    """
    from tests.conftest import POSTGRES_URL

    name = f"csbot_race_{os.getpid()}"
    try:
        admin = db.make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # any failure means "no server"
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_database_post_each_alert_once(
    race_database: str, fake: FakeSlack
) -> None:
    setup = db.make_engine(race_database)
    db.upgrade(setup)
    with db.session_factory(setup)() as session:
        for n in range(6):
            account = customer(session, name=f"Risky{n}", owner=f"U0CSM1{n}")
            overdue(session, account)
        customer(session, name="Renewing", renewal_in=80, owner="U0CSM200")
        customer(session, name="Calm", owner="U0CSM300")
        session.commit()
    setup.dispose()

    barrier = threading.Barrier(2)
    reports: list[DailyScanReport] = []
    errors: list[BaseException] = []

    def scheduler_replica(worker: str) -> None:
        engine = db.make_engine(race_database)
        try:
            client = WebClient(token="xoxb-test", base_url=fake.url)
            barrier.wait(timeout=10)
            reports.append(
                run_daily_scan(
                    session_factory=db.session_factory(engine),
                    client=client,
                    settings=make_settings(),
                    config=CONFIG,
                    now=at(AS_OF),
                    worker=worker,
                )
            )
        except BaseException as exc:  # report it to the test thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=scheduler_replica, args=(f"replica-{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(reports) == 2
    alerts = [c for c in top_level_posts(fake) if c.params["channel"] == "#cs-alerts"]
    assert sorted(c.text.split(":")[1].split("(")[0].strip() for c in alerts) == [
        f"Risky{n}" for n in range(6)
    ]
    assert len(dms(fake)) == 1  # the T-90 QBR draft of "Renewing"
    assert sum(r.counts.posted for r in reports) == 6
    assert sum(r.qbr_t90.counts.posted for r in reports) == 1
    # the slower replica either lost each claim or saw the alert already made: never both post
    assert sum(r.counts.already_claimed + r.counts.posted for r in reports) <= 12
    check = db.make_engine(race_database)
    with db.session_factory(check)() as session:
        rows = session.exec(select(Alert).where(Alert.kind != AlertKind.DAILY_RUN.value)).all()
        assert len(rows) == 7
        assert {r.status for r in rows} == {AlertStatus.POSTED.value}
        assert len(session.exec(select(QbrDraft)).all()) == 1
    check.dispose()


# -- expansion proposals from the scan -------------------------------------------------------------


def test_the_scan_proposes_new_expansion_and_dms_the_owner_once(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    from tools.models import Contract, HandoffProposal

    with sessions() as session:
        grow = customer(session, name="Grow")  # 40 active users every day
        contract = session.exec(select(Contract).where(Contract.account_id == grow.id)).one()
        contract.seats_purchased = 40  # at its cap for weeks: a seats opportunity
        session.add(contract)
        session.commit()

    dry = daily(sessions, None, AS_OF, dry_run=True)
    assert dry.handoffs.claimed == 0
    with sessions() as session:
        assert not session.exec(select(HandoffProposal)).all(), "a dry run proposes nothing"

    first = daily(sessions, client, AS_OF)
    assert first.handoffs.posted == 1
    dms = [c for c in fake.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("D")]
    assert len(dms) == 1
    assert "Grow" in dms[0].text
    assert "handoff_approve" in json.dumps(dms[0].blocks), "the owner approves; nothing is sent"
    with sessions() as session:
        proposals = session.exec(select(HandoffProposal)).all()
        assert [(p.kind, p.status, p.source) for p in proposals] == [("seats", "proposed", "scan")]

    fake.reset()
    second = daily(sessions, client, AS_OF + timedelta(days=1))
    assert second.handoffs.claimed == 0
    assert not [c for c in fake.calls_to("chat.postMessage") if c.params["channel"][0] == "D"]


def test_the_notion_job_also_retries_handoff_tasks(sessions: db.SessionFactory) -> None:
    from bot.jobs.notion_outbox import notion_outbox_job

    assert notion_outbox_job(make_settings(), session_factory=sessions, config=CONFIG) is None
    settings = make_settings(notion_token="ntn_test_token", notion_task_database_id="db-tasks")
    job = notion_outbox_job(settings, session_factory=sessions, config=CONFIG)
    assert job is not None, "hand-off tasks alone need the job"
    assert job(at(AS_OF)) == {"qbr_pages": 0, "handoff_tasks": 0, "alert_tasks": 0}
