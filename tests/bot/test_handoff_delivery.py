"""A hand-off's Sales card and the CSM's notice are deliveries in the one delivery ledger.

Signed requests through the real app, FakeSlack at the HTTP boundary (it can drop a response
after the post took effect, or fail like Slack does) and the Notion fake: a lost
``chat.postMessage`` response, a second click and a Slack outage each leave exactly one card in
the sales channel, and the hand-off is marked sent (and its Notion page written) once it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import Settings
from bot.deps import Deps
from bot.handoff_flow import answer, notify, retry_notion_tasks
from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_notion import FakeNotion
from bot.jobs.delivery import DeliveryCounts, metadata_key
from bot.jobs.slack_retry import run_slack_retry
from tests.utils.slack_e2e import (
    NOW,
    TODAY,
    TOKEN,
    all_text,
    button_values,
    driving,
    e2e_settings,
)
from tools import db, handoff
from tools.alerts import ledger
from tools.alerts.ledger import LEASE
from tools.expansion import expansion_opportunities
from tools.handoff import delivery as handoff_delivery
from tools.models import Alert, AlertKind
from tools.scoring_config import ScoringConfig

SALES = "C0SALES"
REP = "U0REP001"
DATABASE = "db-tasks"
SCHEMA = {"Task": "title", "Account": "rich_text", "Idempotency key": "rich_text"}


@pytest.fixture(scope="module")
def notion() -> FakeNotion:
    return FakeNotion(database_id=DATABASE, data_source_id="ds-tasks-1", schema=dict(SCHEMA))


@pytest.fixture(scope="module")
def settings(slack_server: FakeSlack) -> Settings:
    return e2e_settings(
        slack_server,
        sales_channel=SALES,
        handoff_approvers="U0CSM001",  # the driver's default user acts as a CS lead
        sales_reps=REP,
        notion_token="ntn_test_token",
        notion_task_database_id=DATABASE,
    )


@pytest.fixture(scope="module")
def driver(
    slack_server: FakeSlack, demo_engine: Engine, notion: FakeNotion, settings: Settings
) -> Iterator[SlackDriver]:
    with driving(slack_server, demo_engine, settings=settings, notion=notion.client) as served:
        yield served


@pytest.fixture(autouse=True)
def clean(fake: FakeSlack, notion: FakeNotion) -> Iterator[None]:
    notion.reset()
    yield
    fake.heal()  # a test that dropped responses must not leave it on for the next one


def propose(driver: SlackDriver, fake: FakeSlack, engine: Engine) -> int:
    """Propose an opportunity without an open hand-off; its id."""
    with db.session_factory(engine)() as session:
        taken = {(r.account_id, r.kind) for r in handoff.open_handoffs(session)}
        found = expansion_opportunities(session, as_of=TODAY, config=ScoringConfig())
    acct, kind = next(
        (o.account_id, o.kind)
        for items in found.values()
        for o in items
        if (o.account_id, o.kind) not in taken
    )
    driver.action("handoff_propose", json.dumps({"a": acct, "k": kind}))
    (call,) = fake.wait_for("response_url")
    fake.reset()
    return int(button_values(call)["handoff_approve"])


def sales_cards(fake: FakeSlack) -> list[dict[str, Any]]:
    """The messages that landed in the sales channel (dropped responses included)."""
    return fake.posted(SALES)


def answers(fake: FakeSlack, count: int = 1) -> list[SlackCall]:
    """The CSM's redrawn cards (each approve press answers through its response_url)."""
    calls = fake.wait_for("response_url", count=count)
    assert not fake.errors, fake.errors
    return calls


def card_delivery(engine: Engine, hid: int) -> Alert:
    with db.session_factory(engine)() as session:
        row = handoff.get_handoff(session, handoff_id=hid)
        found = handoff_delivery.sales_card(session, hid, row.account_id)
    assert found is not None
    return found


def retry(engine: Engine, fake: FakeSlack, settings: Settings, now: datetime) -> DeliveryCounts:
    """The Slack retry job at ``now``."""
    return run_slack_retry(
        session_factory=db.session_factory(engine),
        client=WebClient(token=TOKEN, base_url=fake.url),
        settings=settings,
        config=ScoringConfig(),
        now=now,
    )


def deps_at(settings: Settings, engine: Engine, notion: FakeNotion, now: datetime) -> Deps:
    return Deps(
        settings=settings,
        sessions=db.session_factory(engine),
        clock=lambda: now,
        config=ScoringConfig(),
        notion=notion.client,
    )


# -- the Sales card --------------------------------------------------------------------------


def test_a_lost_response_and_a_second_click_post_one_card(
    driver: SlackDriver,
    fake: FakeSlack,
    notion: FakeNotion,
    demo_engine: Engine,
    settings: Settings,
) -> None:
    hid = propose(driver, fake, demo_engine)
    fake.drop_responses("chat.postMessage", every=1)  # Slack posts it; the answer is lost

    driver.action("handoff_approve", str(hid))
    (first,) = answers(fake)
    driver.action("handoff_approve", str(hid))  # the CSM clicks again, or Slack redelivers
    second = answers(fake, count=2)[1]

    (card,) = sales_cards(fake)
    assert metadata_key(card) == f"handoff_sales:{get_account(demo_engine, hid)}:handoff-{hid}"
    assert fake.dropped  # the one post's response was really lost
    with db.session_factory(demo_engine)() as session:
        sent = handoff.handoff_card(session, handoff_id=hid)
    assert (sent.status, sent.sales_channel, sent.sales_ts) == ("sent", SALES, card["ts"])
    assert "Sent to Sales" in all_text(first)
    assert f"Hand-off #{hid} is already sent" in all_text(second)
    delivery = card_delivery(demo_engine, hid)
    assert (delivery.status, delivery.attempts, delivery.message_ts) == ("posted", 1, card["ts"])
    assert len(notion.pages) == 1  # queued with the "sent" and written once

    fake.heal()
    assert retry(demo_engine, fake, settings, NOW + LEASE * 2).posted == 0
    assert len(sales_cards(fake)) == 1


def test_slack_down_keeps_the_card_and_the_retry_job_posts_it_once(
    driver: SlackDriver,
    fake: FakeSlack,
    notion: FakeNotion,
    demo_engine: Engine,
    settings: Settings,
) -> None:
    hid = propose(driver, fake, demo_engine)
    fake.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)

    driver.action("handoff_approve", str(hid))
    (first,) = answers(fake)
    assert "it will be posted to Sales shortly" in all_text(first)
    assert not sales_cards(fake)
    delivery = card_delivery(demo_engine, hid)
    assert (delivery.status, delivery.attempts) == ("claimed", 1)
    assert "internal_error" in str(delivery.last_error)
    assert delivery.next_attempt_at is not None
    with db.session_factory(demo_engine)() as session:
        assert handoff.handoff_card(session, handoff_id=hid).status == "approved"
    assert not notion.pages  # the Notion page waits for the card

    driver.action("handoff_approve", str(hid))  # a second click changes nothing
    assert f"Hand-off #{hid} is already approved" in all_text(answers(fake, count=2)[1])

    assert retry(demo_engine, fake, settings, NOW + LEASE / 2).retried == 0  # not due yet
    later = retry(demo_engine, fake, settings, NOW + LEASE * 2)
    assert (later.retried, later.posted) == (1, 1)
    assert retry(demo_engine, fake, settings, NOW + LEASE * 4).retried == 0

    (card,) = sales_cards(fake)
    delivery = card_delivery(demo_engine, hid)
    assert (delivery.status, delivery.attempts, delivery.message_ts) == ("posted", 2, card["ts"])
    with db.session_factory(demo_engine)() as session:
        sent = handoff.handoff_card(session, handoff_id=hid)
    assert (sent.status, sent.sales_ts, sent.notion_status) == ("sent", card["ts"], "pending")
    assert retry_notion_tasks(deps_at(settings, demo_engine, notion, NOW + LEASE * 2)) == 1
    assert len(notion.pages) == 1


def test_dismissing_an_approved_handoff_withdraws_its_unposted_card(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine, settings: Settings
) -> None:
    hid = propose(driver, fake, demo_engine)
    fake.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)
    driver.action("handoff_approve", str(hid))
    answers(fake)

    driver.action("handoff_dismiss", str(hid))
    assert "Dismissed" in all_text(answers(fake, count=2)[1])
    assert retry(demo_engine, fake, settings, NOW + LEASE * 2).retried == 0
    assert not sales_cards(fake)
    delivery = card_delivery(demo_engine, hid)
    assert (delivery.status, delivery.last_error) == ("failed", handoff_delivery.WITHDRAWN)


# -- the CSM's notice ------------------------------------------------------------------------


def test_the_csm_notice_is_posted_once_through_a_lost_response_and_an_outage(
    driver: SlackDriver,
    fake: FakeSlack,
    notion: FakeNotion,
    demo_engine: Engine,
    settings: Settings,
) -> None:
    first, second = propose(driver, fake, demo_engine), propose(driver, fake, demo_engine)
    for hid in (first, second):
        driver.action("handoff_approve", str(hid))
    answers(fake, count=2)
    fake.reset()
    deps = deps_at(settings, demo_engine, notion, NOW)
    client = WebClient(token=TOKEN, base_url=fake.url)

    # Sales accepts the first: the DM lands, its answer is lost; it is found, not re-posted.
    changed, card, notice = answer(deps, first, accepted=True, rep=REP)
    again = answer(deps, first, accepted=False, rep=REP)  # a late second answer
    assert (changed, card.status, again[0], again[2]) == (True, "accepted", False, None)
    fake.drop_responses("chat.postMessage", every=1)
    outcome = notify(deps, client, notice)
    fake.heal()
    assert outcome is not None
    assert outcome.status == "posted"
    (opened,) = fake.calls_to("conversations.open")
    assert opened.params["users"] == card.owner_slack_id
    (dm,) = fake.posted()
    assert f"<@{REP}> accepted expansion hand-off #{first}" in dm["text"]

    # Sales declines the second while Slack is down: kept, then posted once by the retry job.
    fake.reset()
    fake.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)
    changed, card, notice = answer(deps, second, accepted=False, rep=REP)
    outcome = notify(deps, client, notice)
    assert outcome is not None
    assert outcome.status == "claimed"
    assert "internal_error" in str(outcome.error)
    assert not fake.posted()
    assert retry(demo_engine, fake, settings, NOW + LEASE * 2).posted == 1
    assert retry(demo_engine, fake, settings, NOW + LEASE * 4).retried == 0
    (dm,) = fake.posted()
    assert f"declined expansion hand-off #{second}" in dm["text"]
    with db.session_factory(demo_engine)() as session:
        key = f"{AlertKind.HANDOFF_NOTICE.value}:{card.account_id}:handoff-{second}:declined"
        kept = ledger.by_key(session, key)
    assert kept is not None
    assert (kept.status, kept.attempts) == ("posted", 2)


def get_account(engine: Engine, hid: int) -> int:
    with db.session_factory(engine)() as session:
        return handoff.get_handoff(session, handoff_id=hid).account_id
