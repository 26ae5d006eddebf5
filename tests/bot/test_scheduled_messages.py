"""Scheduled messages besides churn alerts, exactly once against a fake Slack: T-90 and
quarterly QBR drafts, the weekly digest, expansion proposals from the scan, the Notion job."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.alert_blocks import ACTION_QBR_CONTINUE
from bot.harness.fake_slack import FakeSlack
from bot.jobs.digest import run_weekly_digest
from bot.jobs.qbr_drafts import run_quarterly_qbr
from tests.utils.daily_run import (
    AS_OF,
    CONFIG,
    at,
    customer,
    daily,
    dms,
    make_settings,
    portfolio,
    slack_client,
)
from tools import db
from tools.models import QbrDocumentRecord, QbrDraft


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return slack_client(fake)


# -- QBR drafts ------------------------------------------------------------------------------


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
