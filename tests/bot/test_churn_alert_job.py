"""The daily scan's churn alerts, exactly once, against a fake Slack: new, worse, quiet period,
routing, a crash between claim and post, a permanent error, the narrator hook, a dry run.

Per-item delivery (BOOK_BATCH=false): the book DMs are tested in test_book*.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.harness.fake_slack import FakeSlack
from bot.jobs.daily_scan import run_daily_scan
from tests.utils.daily_run import (
    AS_OF,
    CONFIG,
    OWNER,
    alerts_in,
    at,
    daily,
    make_settings,
    portfolio,
    slack_client,
    top_level_posts,
)
from tests.utils.factories import make_nps
from tools import db
from tools.models import Account, AlertStatus


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return slack_client(fake)


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
