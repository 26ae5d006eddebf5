"""`csbot alerts stats` and the weekly digest: one source, and only posted alerts count.

A real run through the daily job against a fake Slack (settable clock): one churn alert in the
channel, two over the per-owner cap listed in the owner's book DM, an acknowledgement five hours
after posting. The CLI, ``alert_stats`` and the digest must say the same.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from bot.alert_blocks import digest_follow_up
from bot.cli_alerts import stats_lines
from bot.harness.fake_slack import FakeSlack
from bot.jobs.digest import run_weekly_digest
from tests.utils.daily_run import (
    AS_OF,
    CONFIG,
    at,
    customer,
    daily,
    make_settings,
    overdue,
    slack_client,
)
from tools import alert_actions, db
from tools.alert_outcomes import AlertStats, alert_stats
from tools.models_followup import AlertFollowup


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return slack_client(fake)


def alerted_week(sessions: db.SessionFactory, client: WebClient) -> int:
    """Day 0: three healthy accounts; day 1: all three turn risky, the cap is one. Returns the
    channel alert's id, acknowledged five hours after it was posted."""
    settings = make_settings(book_batch=True, alert_max_per_owner=1)
    with sessions() as session:
        risky = [customer(session, name=f"Risky{n}") for n in range(3)]
        session.commit()
    daily(sessions, client, AS_OF, settings)
    with sessions() as session:  # all three worse than in yesterday's snapshot
        for account in risky:
            overdue(session, session.merge(account))
        session.commit()
    report = daily(sessions, client, AS_OF + timedelta(days=1), settings)
    [posted] = report.planned
    with sessions() as session:
        alert_id = alert_actions.resolve_alert_ref(session, posted.key)
        assert alert_id is not None
        alert_actions.acknowledge(
            session,
            alert_id=alert_id,
            actor="U0CSM001",
            now=at(AS_OF + timedelta(days=1), hour=12),
            key="press-1",
        )
        session.commit()
    return alert_id


def test_stats_count_only_posted_alerts_and_the_capped_apart(
    sessions: db.SessionFactory, client: WebClient
) -> None:
    alerted_week(sessions, client)

    with sessions() as session:
        stats = alert_stats(session, until=AS_OF + timedelta(days=1))

    assert (stats.alerts, stats.capped, stats.accounts) == (1, 2, 1)
    assert (stats.acted, stats.acknowledged) == (1, 1)
    assert stats.median_hours_to_first_action == 5.0
    lines = stats_lines(stats)
    assert "1 alerts on 1 accounts" in lines[0]
    assert lines[1].endswith(": 2")


def test_the_cli_and_the_weekly_digest_show_the_same_figures(
    sqlite_engine: Engine,
    fake: FakeSlack,
    client: WebClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    sessions = db.session_factory(sqlite_engine)
    alerted_week(sessions, client)
    day = AS_OF + timedelta(days=2)
    monkeypatch.chdir(tmp_path)
    from bot.cli import app

    result = CliRunner().invoke(
        app,
        ["alerts", "stats", "--json", "--until", day.isoformat(), "--db", str(sqlite_engine.url)],
    )
    assert result.exit_code == 0, result.output
    cli = AlertStats.model_validate(json.loads(result.output))

    run_weekly_digest(
        session_factory=sessions,
        client=client,
        settings=make_settings(),
        config=CONFIG,
        now=at(day),
    )
    [digest] = [
        c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "#cs-leaders"
    ]
    shown = json.dumps(digest.blocks, ensure_ascii=False)
    assert (cli.alerts, cli.capped) == (1, 2)
    assert f"{cli.alerts} this week (+{cli.capped} listed in book DMs)" in shown
    assert digest_follow_up(cli) in shown
    assert "1/1 acted on, median 5.0 h to first action" in shown
    assert f"{cli.alerts} alerts sent" in digest.text


def test_stats_until_a_past_day_know_only_the_outcomes_known_by_then(
    sqlite_engine: Engine,
    client: WebClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The alerted account's contract ends (no renewal) 200 days after AS_OF; the clock says it
    is 300 days after. Stats ``--until`` a day before the end know no outcome yet, and record
    none; stats until the clock's today know the churn."""
    from bot.cli import app
    from bot.cli.common import Context

    sessions = db.session_factory(sqlite_engine)
    alerted_week(sessions, client)
    clock = AS_OF + timedelta(days=300)
    monkeypatch.setattr(Context, "today", lambda self: clock)
    monkeypatch.chdir(tmp_path)

    def cli_stats(until: date) -> AlertStats:
        args = ["alerts", "stats", "--json", "--until", until.isoformat()]
        result = CliRunner().invoke(app, [*args, "--db", str(sqlite_engine.url)])
        assert result.exit_code == 0, result.output
        return AlertStats.model_validate(json.loads(result.output))

    before_the_end = cli_stats(AS_OF + timedelta(days=100))
    assert (before_the_end.churned, before_the_end.pending) == (0, 1)
    with sessions() as session:
        recorded = session.exec(select(AlertFollowup.outcome)).all()
    assert [o for o in recorded if o is not None] == []

    today = cli_stats(clock)
    assert (today.churned, today.pending, today.precision) == (1, 0, 1.0)
    again = cli_stats(AS_OF + timedelta(days=100))  # the churn is stored now, dated after
    assert (again.churned, again.pending) == (0, 1)
