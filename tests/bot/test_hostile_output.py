"""Property: hostile strings in imported data and in the model's answers never reach Slack raw.

The demo portfolio's account names, contact names, ticket subjects and NPS comments are replaced
by a corpus of Slack control sequences (plus long, RTL and emoji text), the fake model answers
with the same corpus, and every posting path runs: slash commands, buttons and cards, the App
Home, a streamed conversation, the daily scan's alerts and outreach drafts, QBR DMs and the
digest. Every call the fake Slack recorded is then checked: no control sequence that our own
helpers did not create (tests/utils/hostile.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import select

from bot.harness import FakeSlack, SlackDriver
from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.jobs.daily_scan import run_daily_scan
from bot.jobs.digest import run_weekly_digest
from tests.utils.demo_db import demo_database
from tests.utils.hostile import HOSTILE, hostile, strings_of, unescaped
from tests.utils.slack_e2e import NOW, TODAY, TOKEN, driving, e2e_settings
from tools import db
from tools.models import Account, Contact, NpsResponse, Ticket
from tools.scoring_config import ScoringConfig


def poison(engine: Engine) -> None:
    """Put the hostile corpus into every free-text field people import."""
    with db.session_factory(engine)() as session:
        for i, account in enumerate(session.exec(select(Account)).all()):
            account.name = f"{account.name} {hostile(i)}"
            session.add(account)
        for table, column in ((Contact, "name"), (Ticket, "subject"), (NpsResponse, "comment")):
            for i, row in enumerate(session.exec(select(table)).all()):
                setattr(row, column, hostile(i))
                session.add(row)
        session.commit()


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    for engine in demo_database(tmp_path_factory, "hostile", today=TODAY, accounts=30):
        poison(engine)
        yield engine


@pytest.fixture(scope="module")
def model() -> FakeMessagesAPI:
    return FakeMessagesAPI()


@pytest.fixture(scope="module")
def driver(
    slack_server: FakeSlack, demo_engine: Engine, model: FakeMessagesAPI
) -> Iterator[SlackDriver]:
    settings = e2e_settings(slack_server, handoff_approvers="U0CSM001", sales_reps="U0REP001")
    with driving(
        slack_server, demo_engine, settings=settings, anthropic_client=model.client()
    ) as served:
        yield served


def settle(fake: FakeSlack, seconds: float = 0.4) -> None:
    """Wait until no new call has arrived for ``seconds`` (lazy listeners finish)."""
    seen = -1
    while seen != len(fake.calls):
        seen = len(fake.calls)
        time.sleep(seconds)


def buttons(fake: FakeSlack) -> dict[str, str]:
    found: dict[str, str] = {}
    for call in fake.calls:
        for block in call.blocks:
            for element in [block.get("accessory"), *block.get("elements", [])]:
                if isinstance(element, dict) and element.get("type") == "button":
                    found.setdefault(str(element["action_id"]), str(element.get("value", "")))
    return found


def exercise(driver: SlackDriver, fake: FakeSlack, model: FakeMessagesAPI) -> None:
    commands = [("/health", "acme"), ("/churn", ""), ("/expansion", ""), ("/qbr", "acme"),
                ("/csbot", "help"), ("/health", "<!channel>")]  # fmt: skip
    for command, text in commands:
        driver.command(command, text)
    driver.event({"type": "app_home_opened", "user": "U0CSM001", "tab": "home"})
    settle(fake)
    pressed = buttons(fake)
    for action_id in ("health_propose_expansion", "handoff_propose"):
        if action_id in pressed:
            driver.action(action_id, pressed[action_id])
    settle(fake)
    approve = buttons(fake).get("handoff_approve")
    if approve:
        driver.action("handoff_approve", approve)
        settle(fake)
        driver.action("handoff_accept", approve, user_id="U0REP001", channel_id="C0SALES")
    for text in HOSTILE[:6]:
        model.enqueue_text(f"Here is what the customer said: {text}")
    for i in range(3):
        driver.event({"type": "message", "channel": "D0CSM001", "channel_type": "im",
                      "user": "U0CSM001", "text": f"what did acme say? {hostile(i)}",
                      "ts": f"{time.time():.6f}"})  # fmt: skip
        settle(fake)


def run_jobs(fake: FakeSlack, engine: Engine) -> None:
    """The scheduled jobs, called as the scheduler would but with a plain WebClient: the
    poster wraps it in the boundary itself."""
    client = WebClient(token=TOKEN, base_url=fake.url)
    settings = e2e_settings(fake)
    common: dict[str, Any] = {
        "session_factory": db.session_factory(engine),
        "client": client,
        "settings": settings,
        "config": ScoringConfig(),
        "now": NOW,
    }
    run_daily_scan(**common)
    run_weekly_digest(**common)


def test_no_hostile_string_reaches_slack_unescaped(
    driver: SlackDriver, fake: FakeSlack, model: FakeMessagesAPI, demo_engine: Engine
) -> None:
    exercise(driver, fake, model)
    run_jobs(fake, demo_engine)
    settle(fake)
    methods = {c.method for c in fake.calls}
    assert {"response_url", "views.publish", "chat.postMessage"} <= methods
    assert methods & {"chat.appendStream", "chat.startStream", "chat.stopStream"}
    everything = "\n".join(text for c in fake.calls for _, text in strings_of(c.params))
    # the corpus did reach Slack (so the check below has something to find) ...
    assert "&lt;!channel&gt;" in everything
    assert "&lt;@U0EVIL666&gt;" in everything
    # ... and never as a live control sequence
    assert unescaped(fake.calls) == []


def test_the_checker_finds_what_it_must(fake: FakeSlack) -> None:
    raw = WebClient(token=TOKEN, base_url=fake.url)  # no boundary: what an escape bug looks like
    raw.chat_postMessage(channel="C0TEST", text="hi <!channel>", blocks=json.dumps([]))
    assert unescaped(fake.calls)
