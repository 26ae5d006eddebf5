"""Follow-up tasks end to end, exactly once: the daily job posts a churn alert to FakeSlack,
"Create task" writes its Notion page through the delivery ledger (the real notion-client on
FakeNotion), App Home's "Done" closes it; lost answers, outages, double clicks and non-owners.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import select

from bot import alert_action_blocks as ab
from bot import task_blocks
from bot.config import Settings
from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_notion import FakeNotion
from bot.jobs.daily_scan import run_daily_scan
from bot.notion import NotionPublisher, NotionSender
from tests.utils.alert_world import AS_OF, OTHER, OWNER, at, customer, overdue
from tests.utils.slack_e2e import TOKEN, all_text, driving, e2e_settings
from tools import alert_actions, db
from tools.models import Alert, AlertKind
from tools.models_followup import AccountTask, AlertAction
from tools.scoring_config import load_config

CHANNEL = "C0ALERTS"
CONFIG = load_config()
KEY = "Idempotency key"


@dataclass
class World:
    fake: FakeSlack
    notion: FakeNotion
    driver: SlackDriver
    engine: Engine
    settings: Settings
    now: datetime

    def alert(self) -> tuple[str, str]:
        """Run the daily job; (block id of Acme's alert buttons, its ts)."""
        run_daily_scan(
            session_factory=db.session_factory(self.engine),
            client=WebClient(token=TOKEN, base_url=self.fake.url),
            settings=self.settings,
            config=CONFIG,
            now=self.now,
        )
        for call in self.fake.calls_to("chat.postMessage"):
            if call.params.get("channel") == CHANNEL and "Acme" in call.text:
                for block in call.blocks:
                    if str(block.get("block_id", "")).startswith(ab.BLOCK_ACTIONS_PREFIX):
                        return str(block["block_id"]), str(call.response.get("ts"))
        raise AssertionError("no churn alert for Acme")

    def create_task(self) -> int:
        block_id, ts = self.alert()
        self.driver.action(
            ab.ACTION_TASK,
            ab.alert_ref_of(block_id),
            user_id=OWNER,
            channel_id=CHANNEL,
            message_ts=ts,
            block_id=block_id,
        )
        self.fake.wait_for("chat.update", 1)
        with db.session_factory(self.engine)() as session:
            (task,) = session.exec(select(AccountTask)).all()
            return int(task.id or 0)

    def done(self, task_id: int, *, user: str = OWNER, action_ts: str | None = None) -> None:
        element = {"action_ts": action_ts} if action_ts else None
        self.driver.action(
            task_blocks.ACTION_TASK_DONE,
            str(task_id),
            user_id=user,
            view={"id": "V0HOME", "type": "home"},
            element=element,
        )

    def sender(self, now: datetime, *, max_retries: int = 3) -> NotionSender:
        """What the Notion job runs (``bot.jobs.notion_outbox``), on the fake."""
        publisher = NotionPublisher(
            self.notion.client(),
            qbr_database_id=self.notion.database_id,
            sleep=lambda _: None,
            min_interval=0.0,
            max_retries=max_retries,
        )
        return NotionSender(db.session_factory(self.engine), now, tasks=publisher)

    def deliveries(self, kind: AlertKind) -> list[Alert]:
        with db.session_factory(self.engine)() as session:
            return list(session.exec(select(Alert).where(Alert.kind == kind.value)).all())


@pytest.fixture
def world(fake: FakeSlack, sqlite_engine: Engine) -> Iterator[World]:
    notion = FakeNotion()
    with db.session_factory(sqlite_engine)() as session:
        overdue(session, customer(session, name="Acme"))
        session.commit()
    settings = e2e_settings(
        fake,
        alerts_channel=CHANNEL,
        notion_token=notion.token,
        notion_task_database_id=notion.database_id,
        book_batch=False,  # Acme's alert posted on the first run (with book DMs it is quiet)
    )
    now = at(AS_OF)
    with driving(
        fake, sqlite_engine, settings=settings, clock=lambda: now, notion=notion.client
    ) as driver:
        yield World(fake, notion, driver, sqlite_engine, settings, now)


def _page_key(notion: FakeNotion, page_id: str) -> str:
    items = notion.pages[page_id]["properties"][KEY]["rich_text"]
    return "".join(i["text"]["content"] for i in items)


def _status(notion: FakeNotion, page_id: str) -> str:
    return str(notion.pages[page_id]["properties"]["Status"]["select"]["name"])


def _updates(fake: FakeSlack, count: int) -> list[SlackCall]:
    return fake.wait_for("chat.update", count)


def test_lost_answer_on_create_is_found_not_written_twice(world: World) -> None:
    world.notion.fail_next("POST", "pages", timeout=True, after_commit=True)
    world.create_task()
    (page_id,) = world.notion.pages  # created once, though its answer was lost
    assert len(world.notion.calls("POST", "pages")) == 1
    (delivery,) = world.deliveries(AlertKind.NOTION_TASK)
    assert (delivery.status, delivery.external_id) == ("posted", page_id)
    assert _page_key(world.notion, page_id) == delivery.key
    assert "in Notion" in all_text(_updates(world.fake, 1)[-1])


def test_lost_answer_is_found_by_the_next_run(world: World) -> None:
    block_id, _ = world.alert()
    with db.session_scope(db.session_factory(world.engine)) as session:
        alert_id = alert_actions.resolve_alert_ref(session, ab.alert_ref_of(block_id))
        assert alert_id is not None
        alert_actions.create_task(
            session, alert_id=alert_id, actor=OWNER, now=world.now, key="k", to_notion=True
        )
    # A sender that does not retry in-process: the create lands, its answer is lost.
    world.notion.fail_next("POST", "pages", timeout=True, after_commit=True)
    (first,) = world.sender(world.now, max_retries=0).send_due()
    assert first.status == "claimed"
    assert first.last_error is not None
    assert "timed out" in first.last_error
    (page_id,) = world.notion.pages
    (again,) = world.sender(world.now + timedelta(minutes=5), max_retries=0).send_due()
    assert (again.status, again.page_id, again.attempts) == ("posted", page_id, 2)
    assert len(world.notion.pages) == 1
    assert len(world.notion.calls("POST", "pages")) == 1


def test_failed_write_is_kept_and_retried_later(world: World) -> None:
    world.notion.fail_next("POST", "pages", status=429, retry_after=120)
    world.create_task()
    assert world.notion.pages == {}
    assert "going to Notion" in all_text(_updates(world.fake, 1)[-1])
    (kept,) = world.deliveries(AlertKind.NOTION_TASK)
    assert kept.status == "claimed"
    assert kept.last_error is not None
    assert "429" in kept.last_error
    assert kept.next_attempt_at is not None
    assert kept.next_attempt_at >= world.now + timedelta(seconds=120)
    assert world.sender(world.now + timedelta(seconds=60)).send_due() == []  # not due yet
    (sent,) = world.sender(world.now + timedelta(minutes=5)).send_due()
    assert sent.status == "posted"
    (page_id,) = world.notion.pages
    assert sent.page_id == page_id
    assert world.sender(world.now + timedelta(hours=1)).send_due() == []


def test_done_twice_closes_once_and_updates_notion_and_the_alert(world: World) -> None:
    task_id = world.create_task()
    world.done(task_id, action_ts="1700000001.000001")
    world.done(task_id, action_ts="1700000001.000001")  # Slack's retry of the same press
    world.done(task_id)  # a double click
    world.fake.wait_for("views.publish", 3)
    with db.session_factory(world.engine)() as session:
        task = session.get(AccountTask, task_id)
        assert task is not None
        assert (task.status, task.closed_by) == ("done", OWNER)
        logged = session.exec(select(AlertAction).where(AlertAction.kind == "task_done")).all()
        assert len(logged) == 1
    (page_id,) = world.notion.pages
    assert _status(world.notion, page_id) == "Done"
    (status,) = world.deliveries(AlertKind.NOTION_TASK_STATUS)
    assert status.status == "posted"
    assert len(world.notion.calls("PATCH", "pages")) == 1
    updates = _updates(world.fake, 2)
    assert f"done by <@{OWNER}>" in all_text(updates[-1])
    home = world.fake.calls_to("views.publish")[-1]
    assert "Churn risk follow-up" not in str(home.params.get("view"))
    assert not [c for c in world.fake.calls_to("chat.postMessage") if c.params["channel"] == OWNER]


def test_status_write_during_an_outage_is_retried(world: World) -> None:
    task_id = world.create_task()
    world.notion.fail_next("PATCH", "pages", status=429, retry_after=600)
    world.done(task_id)
    world.fake.wait_for("views.publish", 1)
    (page_id,) = world.notion.pages
    assert _status(world.notion, page_id) == "To do"
    (pending,) = world.deliveries(AlertKind.NOTION_TASK_STATUS)
    assert pending.status == "claimed"
    world.sender(world.now + timedelta(minutes=15)).send_due()
    assert _status(world.notion, page_id) == "Done"
    assert [d.status for d in world.deliveries(AlertKind.NOTION_TASK_STATUS)] == ["posted"]


def test_a_non_owner_cannot_close_a_task(world: World) -> None:
    task_id = world.create_task()
    world.done(task_id, user=OTHER)
    calls = world.fake.wait_until(
        lambda seen: any(c.params.get("channel") == OTHER for c in seen), what="a refusal"
    )
    (refused,) = [c for c in calls if c.params.get("channel") == OTHER]
    assert "Only the account's owner" in all_text(refused)
    with db.session_factory(world.engine)() as session:
        task = session.get(AccountTask, task_id)
        assert task is not None
        assert task.status == "open"
    assert world.deliveries(AlertKind.NOTION_TASK_STATUS) == []
