"""The schedule table and its wiring, the CLI (`csbot scan`, `csbot jobs`), and two schedulers
racing on one PostgreSQL database."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from bot.harness.fake_slack import FakeSlack
from bot.jobs.daily_scan import DailyScanReport, run_daily_scan
from bot.jobs.schedule import (
    JOB_DAILY_SCAN,
    JOB_QUARTERLY_QBR,
    JOB_SLACK_RETRY,
    JOB_WEEKLY_DIGEST,
    SCHEDULE,
    build_scheduler,
    guard_job,
    next_runs,
)
from tests.utils.daily_run import (
    AS_OF,
    CONFIG,
    alerts_in,
    at,
    customer,
    dms,
    make_settings,
    overdue,
    portfolio,
    top_level_posts,
)
from tools import db
from tools.models import Alert, AlertKind, AlertStatus, QbrDraft

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

    assert set(runs) == {JOB_DAILY_SCAN, JOB_WEEKLY_DIGEST, JOB_QUARTERLY_QBR, JOB_SLACK_RETRY}
    assert str(scheduler.get_job(JOB_SLACK_RETRY).trigger) == "interval[0:05:00]"
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
    # a quiet first day: Acme (at risk, nothing to compare with, not urgent) is in its owner's
    # "state of your book" DM, not in the channel
    assert "Would post 1 message(s) to 1 recipient(s)" in result.output
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
