"""Expansion hand-offs end to end: signed requests through the real app, FakeSlack for Slack and
an ``httpx.MockTransport`` fake of the Notion API (2025-09-03: pages under a data source).

propose -> edit in the modal -> approve -> the rep accepts; double clicks and retries create one
task; churned accounts and duplicates of an open hand-off are refused with a clear message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import Settings
from bot.deps import Deps
from bot.handoff_flow import retry_notion_tasks
from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_notion import FakeNotion
from tests.utils.slack_e2e import (
    NOW,
    TODAY,
    account_id,
    all_text,
    assert_valid,
    button_values,
    driving,
    e2e_settings,
)
from tools import db, handoff
from tools.expansion import expansion_opportunities
from tools.facts import active_contracts
from tools.models import Account
from tools.scoring_config import ScoringConfig

SALES = "C0SALES"
REP = "U0REP001"
DATABASE = "db-tasks"
DATA_SOURCE = "ds-tasks-1"
SCHEMA = {
    "Task": "title",
    "Account": "rich_text",
    "Type": "select",
    "Estimated ARR": "number",
    "Idempotency key": "rich_text",
}


@pytest.fixture(scope="module")
def notion() -> FakeNotion:
    """The shared Notion fake with a task database (no Status property)."""
    return FakeNotion(database_id=DATABASE, data_source_id=DATA_SOURCE, schema=dict(SCHEMA))


@pytest.fixture(scope="module")
def settings(slack_server: FakeSlack) -> Settings:
    return e2e_settings(
        slack_server,
        sales_channel=SALES,
        handoff_approvers="U0CSM001",  # the driver's default user acts as a CS lead
        sales_reps=f"{REP},U0REP002",
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
def clean(fake: FakeSlack, notion: FakeNotion) -> None:
    notion.reset()


def opportunity_accounts(engine: Engine) -> list[tuple[int, str]]:
    """(account id, kind) of every current opportunity in the demo, largest first."""
    with db.session_factory(engine)() as session:
        found = expansion_opportunities(session, as_of=TODAY, config=ScoringConfig())
    opps = sorted((o for items in found.values() for o in items), key=lambda o: -o.estimated_arr)
    return [(o.account_id, o.kind) for o in opps]


def churned_account(engine: Engine) -> int:
    with db.session_factory(engine)() as session:
        active = active_contracts(session, on=TODAY)
        ids = [a for a in session.exec(select(Account.id)).all() if a not in active]
    assert ids, "the demo portfolio has churned accounts"
    return int(ids[0] or 0)


def get(engine: Engine, handoff_id: int) -> handoff.HandoffCard:
    with db.session_factory(engine)() as session:
        return handoff.handoff_card(session, handoff_id=handoff_id)


def responses(fake: FakeSlack, count: int = 1) -> list[SlackCall]:
    calls = fake.wait_for("response_url", count=count)
    assert not fake.errors, fake.errors
    for call in calls:
        assert_valid(call)
    return calls


def sales_posts(fake: FakeSlack) -> list[SlackCall]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == SALES]


def propose_via_overview(driver: SlackDriver, fake: FakeSlack, acct: int, kind: str) -> int:
    driver.action("handoff_propose", json.dumps({"a": acct, "k": kind}))
    (call,) = responses(fake)
    fake.reset()
    return int(button_values(call)["handoff_approve"])


def propose_a_fresh_opportunity(
    driver: SlackDriver, fake: FakeSlack, engine: Engine
) -> tuple[int, int, str]:
    """Propose an opportunity that has no open hand-off yet: (hand-off id, account id, type)."""
    with db.session_factory(engine)() as session:
        open_types = {(r.account_id, r.kind) for r in handoff.open_handoffs(session)}
    acct, kind = next(p for p in opportunity_accounts(engine) if p not in open_types)
    return propose_via_overview(driver, fake, acct, kind), acct, kind


# -- the whole story ---------------------------------------------------------------------------


def test_propose_edit_approve_and_the_rep_accepts(
    driver: SlackDriver, fake: FakeSlack, notion: FakeNotion, demo_engine: Engine
) -> None:
    initech = account_id(demo_engine, "initech")

    # 1. "Propose expansion" under /health: a proposal card per opportunity type.
    driver.action("health_propose_expansion", str(initech))
    (card,) = responses(fake)
    text = all_text(card)
    assert "Initech · expansion opportunities" in text
    assert "nothing reaches Sales until you press Approve" in text
    buttons = button_values(card)
    assert {"handoff_approve", "handoff_edit", "handoff_dismiss"} <= set(buttons)
    hid = int(buttons["handoff_approve"])
    assert get(demo_engine, hid).status == "proposed"
    assert not sales_posts(fake)
    fake.reset()

    # 2. Edit opens a modal (views.open) with the estimate and the talk track.
    response_url = fake.response_url()
    driver.action("handoff_edit", str(hid), response_url=response_url)
    (opened,) = fake.wait_for("views.open")
    assert_valid(opened, max_blocks=100)
    raw_view = opened.params["view"]
    view = json.loads(raw_view) if isinstance(raw_view, str) else raw_view
    assert view["callback_id"] == "handoff_edit_modal"
    metadata = view["private_metadata"]
    assert json.loads(metadata)["id"] == hid

    def values(arr: str, track: str) -> dict[str, Any]:
        return {
            "handoff_arr": {"arr": {"type": "plain_text_input", "value": arr}},
            "handoff_talk_track": {"talk_track": {"type": "plain_text_input", "value": track}},
        }

    bad = driver.view_submission("handoff_edit_modal", values("lots", "  "), metadata)
    assert bad.status == 200
    answer = bad.json()
    assert answer["response_action"] == "errors"
    assert "number of dollars" in answer["errors"]["handoff_arr"]
    assert "cannot be empty" in answer["errors"]["handoff_talk_track"]
    assert get(demo_engine, hid).estimated_arr != 45000

    good = driver.view_submission(
        "handoff_edit_modal", values("$45k", "Initech keeps hitting its seat cap."), metadata
    )
    assert good.status == 200
    assert not good.body  # the modal closes
    edited = get(demo_engine, hid)
    assert edited.estimated_arr == 45000
    assert edited.talk_track == "Initech keeps hitting its seat cap."
    (redrawn,) = responses(fake)
    assert "Saved your changes" in all_text(redrawn)
    assert redrawn.params.get("replace_original") is True
    fake.reset()

    # 3. Approve: one card in the sales channel with Accept / Decline, one Notion task.
    driver.action("handoff_approve", str(hid))
    (posted,) = fake.wait_for("chat.postMessage")
    (updated,) = responses(fake)
    assert posted.params["channel"] == SALES
    assert_valid(posted)
    sales_text = all_text(posted)
    assert "Expansion hand-off: Initech" in sales_text
    assert "$45,000" in sales_text
    assert "Initech keeps hitting its seat cap." in sales_text
    assert set(button_values(posted)) == {"handoff_accept", "handoff_decline"}
    assert "Sent to Sales in <#C0SALES> and written to Notion" in all_text(updated)
    assert "handoff_approve" not in button_values(updated)

    (page,) = notion.pages.values()
    assert page["parent"] == {"type": "data_source_id", "data_source_id": DATA_SOURCE}
    title = page["properties"]["Task"]["title"][0]["text"]["content"]
    assert title.startswith("Expansion: Initech")
    assert page["properties"]["Estimated ARR"] == {"number": 45000.0}
    assert page["properties"]["Account"]["rich_text"][0]["text"]["content"] == "Initech"
    assert "Status" not in page["properties"]  # not in this database's schema
    assert notion.calls("GET", f"databases/{DATABASE}")
    sent = get(demo_engine, hid)
    assert (sent.status, sent.sales_channel, sent.notion_status) == ("sent", SALES, "written")
    assert sent.sales_ts == posted.response["ts"]
    fake.reset()

    # 4. The rep accepts: the sales card is updated and the CSM gets a DM.
    driver.action(
        "handoff_accept", str(hid), user_id=REP, channel_id=SALES, message_ts=sent.sales_ts
    )
    (update,) = fake.wait_for("chat.update")
    (dm,) = fake.wait_for("chat.postMessage")
    assert (update.params["channel"], update.params["ts"]) == (SALES, sent.sales_ts)
    assert "Accepted by Sales" in all_text(update)
    assert "handoff_accept" not in button_values(update)
    (opened,) = fake.calls_to("conversations.open")  # the DM goes through the delivery ledger
    assert opened.params["users"] == sent.owner_slack_id
    assert dm.params["channel"] == opened.response["channel"]["id"]
    assert f"<@{REP}> accepted expansion hand-off #{hid}" in all_text(dm)
    done = get(demo_engine, hid)
    assert (done.status, done.sales_rep) == ("accepted", REP)
    with db.session_factory(demo_engine)() as session:
        kinds = [e.kind for e in handoff.timeline(session, handoff_id=hid)]
    assert kinds == [
        "proposed",
        "edited",
        "approved",
        "dispatch_expansion_handoff",
        "notion_written",
        "accepted",
    ]

    # A second answer (another rep, or a retry) changes nothing and says so.
    fake.reset()
    driver.action("handoff_decline", str(hid), user_id="U0REP002", channel_id=SALES)
    (late,) = responses(fake)
    assert f"already accepted by <@{REP}>" in all_text(late)
    assert not fake.calls_to("chat.update")


def test_double_clicks_and_a_retry_create_one_task(
    driver: SlackDriver, fake: FakeSlack, notion: FakeNotion, demo_engine: Engine
) -> None:
    acct, kind = next(
        (a, k)
        for a, k in opportunity_accounts(demo_engine)
        if a != account_id(demo_engine, "initech")
    )
    hid = propose_via_overview(driver, fake, acct, kind)

    clicks = [
        threading.Thread(target=driver.action, args=("handoff_approve", str(hid))) for _ in range(3)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    fake.wait_for("response_url", count=3)
    driver.action("handoff_approve", str(hid))  # Slack redelivers the same click
    fake.wait_for("response_url", count=4)

    assert len(sales_posts(fake)) == 1
    assert len(notion.pages) == 1
    card = get(demo_engine, hid)
    assert card.status == "sent"
    answers = [all_text(c) for c in fake.calls_to("response_url")]
    assert sum("is already" in a for a in answers) == 3
    with db.session_factory(demo_engine)() as session:
        kinds = [e.kind for e in handoff.timeline(session, handoff_id=hid)]
    assert kinds.count("approved") == kinds.count("dispatch_expansion_handoff") == 1


def test_a_notion_failure_keeps_the_handoff_and_is_retried(
    driver: SlackDriver,
    fake: FakeSlack,
    notion: FakeNotion,
    demo_engine: Engine,
    settings: Settings,
) -> None:
    hid = propose_a_fresh_opportunity(driver, fake, demo_engine)[0]
    notion.fail_next("POST", "pages", status=503, times=2)  # the write and its quick retry

    driver.action("handoff_approve", str(hid))
    (updated,) = responses(fake)
    assert len(sales_posts(fake)) == 1
    assert "the Notion task will be written shortly" in all_text(updated)
    card = get(demo_engine, hid)
    assert (card.status, card.notion_status) == ("sent", "pending")

    assert retry_notion_tasks(job_deps(settings, demo_engine, notion, NOW)) == 0  # backing off
    later = job_deps(settings, demo_engine, notion, NOW + timedelta(minutes=5))
    assert retry_notion_tasks(later) == 1
    assert retry_notion_tasks(later) == 0
    assert len(notion.pages) == 1
    card = get(demo_engine, hid)
    assert (card.notion_status, card.notion_page_id) == ("written", next(iter(notion.pages)))
    assert len(sales_posts(fake)) == 1  # the retry never re-posts to Slack


def test_a_lost_answer_on_the_page_create_leaves_one_page(
    driver: SlackDriver,
    fake: FakeSlack,
    notion: FakeNotion,
    demo_engine: Engine,
    settings: Settings,
) -> None:
    hid = propose_a_fresh_opportunity(driver, fake, demo_engine)[0]
    notion.fail_next("POST", "pages", status=502, after_commit=True)  # written, answer lost

    driver.action("handoff_approve", str(hid))
    responses(fake)
    later = job_deps(settings, demo_engine, notion, NOW + timedelta(minutes=5))
    assert retry_notion_tasks(later) == 0  # nothing left to write
    assert len(notion.pages) == 1
    card = get(demo_engine, hid)
    assert (card.notion_status, card.notion_page_id) == ("written", next(iter(notion.pages)))
    (page,) = notion.pages.values()
    assert "notion_handoff:" in json.dumps(page)


def job_deps(settings: Settings, engine: Engine, notion: FakeNotion, now: datetime) -> Deps:
    """What the Notion job runs with, at ``now``."""
    return Deps(
        settings=settings,
        sessions=db.session_factory(engine),
        clock=lambda: now,
        config=ScoringConfig(),
        notion=notion.client,
    )


# -- refusals ------------------------------------------------------------------------------------


def test_a_churned_account_is_refused(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    churned = churned_account(demo_engine)
    driver.action("handoff_propose", json.dumps({"a": churned, "k": "seats"}))
    text = all_text(responses(fake)[0])
    assert "has no active contract (churned)" in text
    assert "no hand-off was proposed" in text

    fake.reset()
    driver.action("health_propose_expansion", str(churned))
    assert "has no active contract (churned)" in all_text(responses(fake)[0])
    assert not sales_posts(fake)


def test_a_duplicate_of_an_open_handoff_is_refused(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    hid, acct, kind = propose_a_fresh_opportunity(driver, fake, demo_engine)

    driver.action("handoff_propose", json.dumps({"a": acct, "k": kind}))
    text = all_text(responses(fake)[0])
    assert f"already has an open {kind} hand-off #{hid} (status: proposed)" in text
    assert "handoff_approve" not in text

    fake.reset()
    driver.action("health_propose_expansion", str(acct))
    assert f"Already open as hand-off #{hid} (proposed); not proposed again." in all_text(
        responses(fake)[0]
    )


def test_dismiss_closes_the_card(driver: SlackDriver, fake: FakeSlack, demo_engine: Engine) -> None:
    hid = propose_a_fresh_opportunity(driver, fake, demo_engine)[0]

    driver.action("handoff_dismiss", str(hid))
    (call,) = responses(fake)
    assert "Dismissed" in all_text(call)
    assert not button_values(call)
    assert get(demo_engine, hid).status == "dismissed"
    fake.reset()
    driver.action("handoff_approve", str(hid))
    assert "is already dismissed" in all_text(responses(fake)[0])
    assert not sales_posts(fake)


def test_only_the_owner_or_a_lead_can_approve(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    hid = propose_a_fresh_opportunity(driver, fake, demo_engine)[0]
    owner = handoff_card_owner(demo_engine, hid)
    assert owner not in (None, "U0CSM009")

    driver.action("handoff_approve", str(hid), user_id="U0CSM009")
    (refused,) = responses(fake)
    assert "Only the account's owner" in all_text(refused)
    assert get(demo_engine, hid).status == "proposed"
    assert not sales_posts(fake)
    fake.reset()

    driver.action("handoff_approve", str(hid), user_id=str(owner))
    fake.wait_for("response_url")  # the CSM's card is redrawn once the task is sent
    assert len(sales_posts(fake)) == 1
    assert get(demo_engine, hid).status == "sent"


def test_a_non_owner_can_neither_edit_nor_answer_for_sales(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    hid = propose_a_fresh_opportunity(driver, fake, demo_engine)[0]
    before = get(demo_engine, hid)
    stranger = "U0CSM009"

    driver.action("handoff_edit", str(hid), user_id=stranger)
    (refused,) = responses(fake)
    assert "Only the account's owner" in all_text(refused)
    assert not fake.calls_to("views.open")

    # A forged submission: someone else's id and a URL in private_metadata, ARR set to $1.
    values = {
        "handoff_arr": {"arr": {"type": "plain_text_input", "value": "1"}},
        "handoff_talk_track": {"talk_track": {"type": "plain_text_input", "value": "pwned"}},
    }
    evil = fake.response_url()
    forged = json.dumps({"id": hid, "url": evil})
    answer = driver.view_submission("handoff_edit_modal", values, forged, user_id=stranger).json()
    assert answer["response_action"] == "errors"
    assert "Only the account's owner" in answer["errors"]["handoff_arr"]
    after = get(demo_engine, hid)
    assert (after.estimated_arr, after.talk_track) == (before.estimated_arr, before.talk_track)

    # The owner's own submission never calls a URL taken from private_metadata.
    owner = str(before.owner_slack_id)
    driver.view_submission("handoff_edit_modal", values, forged, user_id=owner)
    fake.wait_for("chat.postMessage")  # no modal was opened by the owner: the card comes by DM
    assert not [c for c in fake.calls if c.path.endswith(urlsplit(evil).path)]

    # A CSM pressing Accept on the sales card is not Sales.
    fake.reset()
    driver.action("handoff_approve", str(hid), user_id=owner)
    responses(fake)  # the owner's card is redrawn once the task is sent
    assert len(sales_posts(fake)) == 1
    fake.reset()
    driver.action("handoff_accept", str(hid), user_id=stranger, channel_id=SALES)
    (refused,) = responses(fake)
    assert "Only Sales" in all_text(refused)
    assert get(demo_engine, hid).status == "sent"
    assert not fake.calls_to("chat.update")


def handoff_card_owner(engine: Engine, hid: int) -> str | None:
    with db.session_factory(engine)() as session:
        return handoff.handoff_card(session, handoff_id=hid).owner_slack_id


def test_expansion_lists_open_handoffs_and_unproposed_opportunities(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    hid, acct, kind = propose_a_fresh_opportunity(driver, fake, demo_engine)

    driver.command("/expansion")
    (call,) = responses(fake)
    text = all_text(call)
    assert "Expansion hand-offs" in text
    assert f"#{hid} " in text
    assert "Proposed, waiting for your approval" in text
    assert "Expansion opportunities not yet proposed" in text
    proposes = [json.loads(v) for k, v in button_values(call).items() if k == "handoff_propose"]
    assert all((p["a"], p["k"]) != (acct, kind) for p in proposes)
