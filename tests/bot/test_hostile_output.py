"""Property: hostile strings in imported data and in the model's answers never reach Slack raw.

The demo portfolio's account names, contact names, ticket subjects and NPS comments are replaced
by a corpus of Slack control sequences (plus long, RTL and emoji text), the fake model answers
with the same corpus, and every posting path runs: slash commands, buttons and cards, the App
Home, a streamed conversation, the daily scan's alerts and outreach drafts, QBR DMs and the
digest; then what people do: every churn-alert button (acknowledge, snooze, assign, create task,
log a note with hostile text), ``/log`` and the "Log to account" shortcut with hostile text, and
a QBR revision with hostile section text. Every call the fake Slack recorded is then checked: no
control sequence that our own helpers did not create (tests/utils/hostile.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import col, select

from bot import alert_action_blocks as ab
from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.jobs.daily_scan import run_daily_scan
from bot.jobs.digest import run_weekly_digest
from tests.utils.demo_db import demo_database
from tests.utils.hostile import HOSTILE, hostile, strings_of, unescaped
from tests.utils.slack_e2e import NOW, TODAY, TOKEN, driving, e2e_settings
from tools import db
from tools.models import (
    Account,
    Alert,
    AlertKind,
    AlertStatus,
    Contact,
    NpsResponse,
    QbrDraft,
    Ticket,
)
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


# -- what people do: alert buttons, notes, /log, the shortcut, QBR revisions -----------------

LEAD = "U0CSM001"  # a CS lead here (HANDOFF_APPROVERS): may act on every alert
QBR_CHANNEL = "C0QBRHOSTILE"


def posted_alert(engine: Engine) -> tuple[str, str, str]:
    """(key, channel, ts) of one churn alert the daily scan posted with its buttons."""
    with db.session_factory(engine)() as session:
        alert = session.exec(
            select(Alert)
            .where(Alert.kind == AlertKind.CHURN.value, Alert.status == AlertStatus.POSTED.value)
            .where(col(Alert.message_ts).is_not(None))
            .order_by(col(Alert.id))
        ).first()
    assert alert is not None, "the daily scan posted no churn alert to press"
    return alert.key, str(alert.channel), str(alert.message_ts)


def opened_view(fake: FakeSlack, count: int) -> dict[str, Any]:
    view = fake.wait_for("views.open", count)[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)


def press_every_alert_button(driver: SlackDriver, fake: FakeSlack, engine: Engine) -> None:
    """Acknowledge, snooze, assign (also to a forged "user"), create a task and log hostile
    notes through the note modal."""
    key, channel, ts = posted_alert(engine)
    block_id = ab.BLOCK_ACTIONS_PREFIX + key

    def press(action_id: str, **element: Any) -> None:
        driver.action(action_id, key, user_id=LEAD, channel_id=channel, message_ts=ts,
                      block_id=block_id, element=element or None)  # fmt: skip

    press(ab.ACTION_ACK)
    press(ab.ACTION_SNOOZE, type="static_select", selected_option={"value": "7"})
    press(ab.ACTION_ASSIGN, type="users_select", selected_user="U0CSM002")
    press(ab.ACTION_ASSIGN, type="users_select", selected_user="U0X> <!channel")
    press(ab.ACTION_TASK)
    for i, text in enumerate(HOSTILE[:6]):
        press(ab.ACTION_NOTE)
        view = opened_view(fake, i + 1)
        values = {ab.BLOCK_NOTE: {ab.INPUT_NOTE: {"type": "plain_text_input", "value": text}}}
        driver.view_submission(ab.VIEW_NOTE, values, view["private_metadata"], view_id=f"V0N{i}")
        settle(fake)


def log_work(driver: SlackDriver, fake: FakeSlack) -> None:
    """``/log`` and the "Log to account" shortcut with hostile text (and a hostile message)."""
    for i, text in enumerate(HOSTILE[:6]):
        driver.command("/log", f"acme {('call', 'note', 'email')[i % 3]} {text}")
    opened = len(fake.calls_to("views.open"))
    for i, text in enumerate(HOSTILE):
        driver.message_shortcut(ab.SHORTCUT_LOG, f"The customer wrote: {text}")
        view = opened_view(fake, opened + i + 1)
        values = {
            ab.BLOCK_ACCOUNT: {ab.INPUT_ACCOUNT: {"type": "plain_text_input", "value": "acme"}},
            ab.BLOCK_KIND: {ab.INPUT_KIND: {"selected_option": {"value": "note"}}},
            ab.BLOCK_TEXT: {ab.INPUT_TEXT: {"type": "plain_text_input", "value": text}},
        }
        driver.view_submission(ab.VIEW_LOG, values, view["private_metadata"], view_id=f"V0L{i}")
    settle(fake)
    driver.command("/health", "acme")  # the latest interactions: the notes just logged


def revise_a_qbr(driver: SlackDriver, fake: FakeSlack, model: FakeMessagesAPI) -> None:
    """A QBR thread, revised by the model with hostile text in a section and in its answer."""

    def in_thread(calls: list[SlackCall]) -> list[SlackCall]:
        return [
            c
            for c in calls
            if c.params.get("channel") == QBR_CHANNEL and c.method == "chat.postMessage"
        ]

    driver.command("/qbr", "acme", channel_id=QBR_CHANNEL)
    fake.wait_until(lambda calls: len(in_thread(calls)) >= 4, timeout=60)  # draft, prep, deck
    settle(fake)
    thread = str(in_thread(fake.calls)[0].response["ts"])
    drafted = len(in_thread(fake.calls))
    text = "\n".join(f"- {t}" for t in HOSTILE[:8])
    model.enqueue_tool_use(
        [("revise_qbr_section", {"account": "acme", "section": "deck.next_steps", "text": text})]
    )
    model.enqueue_text(f"Revised the next steps: {hostile(0)} {hostile(3)}")
    driver.event({"type": "app_mention", "channel": QBR_CHANNEL, "user": LEAD,
                  "text": f"<@U0CSBOT> reword the next steps {hostile(4)}",
                  "ts": f"{time.time():.6f}", "thread_ts": thread})  # fmt: skip
    fake.wait_until(  # the streamed answer, then the revised draft with its controls
        lambda calls: (
            any(c.method == "chat.stopStream" for c in calls) and len(in_thread(calls)) > drafted
        ),
        timeout=60,
    )
    settle(fake)


@pytest.fixture
def acting(
    slack_server: FakeSlack, demo_engine: Engine
) -> Iterator[tuple[SlackDriver, FakeMessagesAPI]]:
    """The app on the poisoned demo with a model of its own (nothing left in its script)."""
    model = FakeMessagesAPI()
    settings = e2e_settings(slack_server, handoff_approvers=LEAD, sales_reps="U0REP001")
    with driving(
        slack_server, demo_engine, settings=settings, anthropic_client=model.client()
    ) as served:
        yield served, model


def test_hostile_strings_stay_escaped_when_people_act_log_and_revise(
    acting: tuple[SlackDriver, FakeMessagesAPI], fake: FakeSlack, demo_engine: Engine
) -> None:
    driver, model = acting
    run_jobs(fake, demo_engine)  # today's alerts (posted once, whichever test runs first)
    settle(fake)
    press_every_alert_button(driver, fake, demo_engine)
    log_work(driver, fake)
    revise_a_qbr(driver, fake, model)
    settle(fake)

    methods = {c.method for c in fake.calls}
    assert {"chat.update", "views.open", "chat.postEphemeral", "response_url"} <= methods
    updates = "\n".join(t for c in fake.calls_to("chat.update") for _, t in strings_of(c.params))
    assert "Acknowledged by" in updates
    assert "6 notes logged" in updates
    everything = "\n".join(text for c in fake.calls for _, text in strings_of(c.params))
    assert "&lt;!channel&gt;" in everything  # the notes, the log receipts, the revision ...
    assert "&lt;@U0EVIL666&gt;" in everything
    assert "U0X&gt; &lt;!channel" in everything  # the forged assignee, shown as text
    with db.session_factory(demo_engine)() as session:
        drafts = session.exec(select(QbrDraft)).all()
    assert any(HOSTILE[0] in json.dumps(d.sections) for d in drafts), "the revision was stored"
    bad = unescaped(fake.calls)
    assert bad == [], "\n".join(bad)  # ... and never as a live control sequence


def test_the_checker_finds_what_it_must(fake: FakeSlack) -> None:
    raw = WebClient(token=TOKEN, base_url=fake.url)  # no boundary: what an escape bug looks like
    raw.chat_postMessage(channel="C0TEST", text="hi <!channel>", blocks=json.dumps([]))
    assert unescaped(fake.calls)
