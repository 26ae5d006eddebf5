"""Churn-alert buttons end to end: the daily job posts the alert to FakeSlack, signed requests
press its buttons through the real app, and the message is updated in place, the state stored,
re-alerts suppressed (and back when a snooze ends, on a settable clock), and non-owners refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import select

from bot import alert_action_blocks as ab
from bot.config import Settings
from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_notion import FakeNotion
from bot.jobs.daily_scan import run_daily_scan
from tests.utils.alert_world import AS_OF, LEAD, OTHER, OWNER, at, customer, overdue
from tests.utils.slack_e2e import TOKEN, all_text, driving, e2e_settings
from tools import db, subscriptions
from tools.models import Account, Alert, AlertKind, Interaction
from tools.models_followup import AccountTask, AlertFollowup
from tools.scoring_config import load_config

CHANNEL = "C0ALERTS"
NOW_ = at(AS_OF)
CONFIG = load_config()


class Clock:
    """A clock the test moves; the app and the jobs read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    fake: FakeSlack
    driver: SlackDriver
    engine: Engine
    settings: Settings
    clock: Clock

    def scan(self, day_offset: int) -> list[SlackCall]:
        """Move the clock to AS_OF + ``day_offset`` and run the daily job; its churn posts."""
        self.clock.now = at(AS_OF + timedelta(days=day_offset))
        before = len(self.fake.calls_to("chat.postMessage"))
        run_daily_scan(
            session_factory=db.session_factory(self.engine),
            client=WebClient(token=TOKEN, base_url=self.fake.url),
            settings=self.settings,
            config=CONFIG,
            now=self.clock.now,
        )
        posts = self.fake.calls_to("chat.postMessage")[before:]
        return [
            p for p in posts if p.params.get("channel") == CHANNEL and not p.params.get("thread_ts")
        ]

    def alert_of(self, name: str, post: list[SlackCall]) -> tuple[str, str]:
        """(block id of the buttons, ts) of ``name``'s alert among ``post``."""
        for call in post:
            if name in call.text:
                for block in call.blocks:
                    if str(block.get("block_id", "")).startswith(ab.BLOCK_ACTIONS_PREFIX):
                        return str(block["block_id"]), str(call.response.get("ts"))
        raise AssertionError(f"no alert with buttons for {name}")

    def press(
        self, action_id: str, block_id: str, ts: str, *, user: str = OWNER, **element: Any
    ) -> None:
        ref = ab.alert_ref_of(block_id)
        self.driver.action(
            action_id,
            ref,
            user_id=user,
            channel_id=CHANNEL,
            message_ts=ts,
            block_id=block_id,
            element=element or None,
        )

    def followup(self, name: str) -> AlertFollowup | None:
        with db.session_factory(self.engine)() as session:
            account = session.exec(select(Account).where(Account.name == name)).one()
            alert = session.exec(
                select(Alert)
                .where(Alert.account_id == account.id, Alert.kind == AlertKind.CHURN.value)
                .order_by(Alert.id)  # type: ignore[arg-type]
            ).first()
            assert alert is not None
            return session.exec(
                select(AlertFollowup).where(AlertFollowup.alert_id == alert.id)
            ).first()


@pytest.fixture
def world(fake: FakeSlack, sqlite_engine: Engine) -> Iterator[World]:
    with db.session_factory(sqlite_engine)() as session:
        for name in ("Acme", "Beta", "Gamma"):
            overdue(session, customer(session, name=name))
        session.commit()
    # one message per alert (BOOK_BATCH=false): the three accounts are at risk on the first
    # run, which with book DMs is a quiet first day (test_book.py); here their alerts are posted
    settings = e2e_settings(
        fake, alerts_channel=CHANNEL, handoff_approvers=LEAD, alert_quiet_days=14, book_batch=False
    )
    clock = Clock(at(AS_OF))
    with driving(fake, sqlite_engine, settings=settings, clock=clock) as driver:
        yield World(fake, driver, sqlite_engine, settings, clock)


def _updates(fake: FakeSlack, count: int) -> list[SlackCall]:
    return fake.wait_for("chat.update", count)


def test_acknowledge_updates_the_message_once_and_silences_the_account(world: World) -> None:
    posted = world.scan(0)
    assert {"Acme", "Beta", "Gamma"} <= {
        n for n in ("Acme", "Beta", "Gamma") if any(n in p.text for p in posted)
    }
    block_id, ts = world.alert_of("Acme", posted)
    world.press(ab.ACTION_ACK, block_id, ts)
    (update,) = _updates(world.fake, 1)
    assert update.params["channel"] == CHANNEL
    assert update.params["ts"] == ts
    assert f"Acknowledged by <@{OWNER}>" in all_text(update)
    assert any(
        str(b.get("block_id", "")).startswith(ab.BLOCK_ACTIONS_PREFIX) for b in update.blocks
    )
    # a double click and a retried request: stored once, no second update
    world.press(ab.ACTION_ACK, block_id, ts)
    world.fake.wait_for("response_url", 2)
    assert len(world.fake.calls_to("chat.update")) == 1
    row = world.followup("Acme")
    assert row is not None
    assert row.acknowledged_by == OWNER
    # quiet period over: Beta and Gamma are re-alerted, the acknowledged Acme is not
    again = world.scan(15)
    names = {n for n in ("Acme", "Beta", "Gamma") if any(n in p.text for p in again)}
    assert names == {"Beta", "Gamma"}


def test_snooze_keeps_it_quiet_until_the_snooze_ends(world: World) -> None:
    block_id, ts = world.alert_of("Acme", world.scan(0))
    world.press(
        ab.ACTION_SNOOZE,
        block_id,
        ts,
        type="static_select",
        selected_option={"value": "7"},
    )
    (update,) = _updates(world.fake, 1)
    assert "Snoozed 7 days by" in all_text(update)
    assert not any("Acme" in p.text for p in world.scan(6))
    back = [p for p in world.scan(7) if "Acme" in p.text]
    assert len(back) == 1
    assert "snooze has ended" in all_text(back[0])


def test_a_non_owner_is_refused_and_a_lead_is_not(world: World) -> None:
    block_id, ts = world.alert_of("Acme", world.scan(0))
    world.press(ab.ACTION_ACK, block_id, ts, user=OTHER)
    (refusal,) = world.fake.wait_for("response_url")
    assert "Only the account's owner" in all_text(refusal)
    assert world.fake.calls_to("chat.update") == []
    assert world.followup("Acme") is None
    world.press(
        ab.ACTION_SNOOZE,
        block_id,
        ts,
        user=LEAD,
        type="static_select",
        selected_option={"value": "14"},
    )
    (update,) = _updates(world.fake, 1)
    assert f"by <@{LEAD}>" in all_text(update)


def test_assign_then_create_task_lists_it_in_app_home(world: World) -> None:
    block_id, ts = world.alert_of("Acme", world.scan(0))
    world.press(ab.ACTION_ASSIGN, block_id, ts, type="users_select", selected_user=OTHER)
    _updates(world.fake, 1)
    # the assignee may now act on it
    world.press(ab.ACTION_TASK, block_id, ts, user=OTHER)
    updates = _updates(world.fake, 2)
    assert f"Assigned to <@{OTHER}>" in all_text(updates[-1])
    assert "Task #" in all_text(updates[-1])
    world.press(ab.ACTION_TASK, block_id, ts, user=OTHER)  # a second press: the same task
    world.fake.wait_for("response_url", 3)
    with db.session_factory(world.engine)() as session:
        (task,) = session.exec(select(AccountTask)).all()
        assert (task.assignee, task.status) == (OTHER, "open")
    world.driver.event({"type": "app_home_opened", "user": OTHER, "tab": "home"})
    (home,) = world.fake.wait_for("views.publish")
    assert "Churn risk follow-up: Acme" in json.dumps(home.params.get("view"))


def test_log_a_note_through_the_modal_once(world: World) -> None:
    block_id, ts = world.alert_of("Acme", world.scan(0))
    world.press(ab.ACTION_NOTE, block_id, ts)
    (opened,) = world.fake.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ab.VIEW_NOTE
    values = {
        ab.BLOCK_NOTE: {
            ab.INPUT_NOTE: {"type": "plain_text_input", "value": "Spoke to <@U0X> & co"}
        }
    }
    for _ in range(2):  # a retried submission of the same view
        response = world.driver.view_submission(
            ab.VIEW_NOTE, values, view["private_metadata"], view_id="V0NOTE1"
        )
        assert response.status == 200
    (update,) = _updates(world.fake, 1)
    assert "1 note logged" in all_text(update)
    with db.session_factory(world.engine)() as session:
        notes = session.exec(select(Interaction).where(Interaction.kind == "note")).all()
        assert [n.summary for n in notes] == ["Spoke to <@U0X> & co"]


def test_create_task_writes_one_notion_page(fake: FakeSlack, sqlite_engine: Engine) -> None:
    notion = FakeNotion()
    with db.session_factory(sqlite_engine)() as session:
        overdue(session, customer(session, name="Acme"))
        session.commit()
    settings = e2e_settings(
        fake,
        alerts_channel=CHANNEL,
        notion_token=notion.token,
        notion_task_database_id=notion.database_id,
        book_batch=False,
    )
    clock = Clock(at(AS_OF))
    with driving(fake, sqlite_engine, settings=settings, clock=clock, notion=notion.client) as drv:
        world = World(fake, drv, sqlite_engine, settings, clock)
        block_id, ts = world.alert_of("Acme", world.scan(0))
        world.press(ab.ACTION_TASK, block_id, ts)
        world.press(ab.ACTION_TASK, block_id, ts)
        fake.wait_for("response_url", 2)
        (update,) = _updates(fake, 1)
    assert "in Notion" in all_text(update)
    assert len(notion.pages) == 1


def test_subscriptions_route_alerts_to_the_owners_dm_and_copy_subscribers(world: World) -> None:
    with db.session_factory(world.engine)() as session:
        subscriptions.subscribe(session, user_id=OWNER, scope="mine", delivery="dm", now=NOW_)
        subscriptions.subscribe(session, user_id=LEAD, scope="all", delivery="dm", now=NOW_)
        session.commit()
    assert world.scan(0) == []  # every account is OWNER's: nothing in the channel
    opened = {c.params.get("users") for c in world.fake.calls_to("conversations.open")}
    assert opened == {OWNER, LEAD}
    dms = [
        c
        for c in world.fake.calls_to("chat.postMessage")
        if str(c.params.get("channel", "")).startswith("D")
        and not c.params.get("thread_ts")
        and "churn_alert" in str(c.params.get("metadata"))  # not the owner's book DM
    ]
    assert len(dms) == 6  # three alerts to the owner, three copies to the lead
    owner_dm = next(c for c in dms if "Acme" in c.text and c.params["channel"].endswith(OWNER[1:]))
    block_id, ts = world.alert_of("Acme", [owner_dm])
    world.press(ab.ACTION_ACK, block_id, ts)
    lead_dm = next(c for c in dms if "Acme" in c.text and c.params["channel"].endswith(LEAD[1:]))
    # the original (the owner's DM) and the lead's copy both show who acknowledged, and when
    updates = _updates(world.fake, 2)
    assert {(u.params["channel"], u.params["ts"]) for u in updates} == {
        (owner_dm.response["channel"], owner_dm.response["ts"]),
        (lead_dm.response["channel"], lead_dm.response["ts"]),
    }
    for update in updates:
        assert f"Acknowledged by <@{OWNER}>" in all_text(update)

    # ... and the other way round: the lead snoozes from their copy, the owner's message shows it
    copy_block, copy_ts = world.alert_of("Acme", [lead_dm])
    world.press(ab.ACTION_SNOOZE, copy_block, copy_ts, user=LEAD, selected_option={"value": "7"})
    later = _updates(world.fake, 4)[2:]
    assert {u.params["channel"] for u in later} == {
        owner_dm.response["channel"],
        lead_dm.response["channel"],
    }
    for update in later:
        text = all_text(update)
        assert f"Acknowledged by <@{OWNER}>" in text
        assert f"Snoozed 7 days by <@{LEAD}>" in text
