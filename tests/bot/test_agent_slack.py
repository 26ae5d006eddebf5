"""Claude in Slack: DMs and mentions go through the agent loop (real SDK, fake Messages API),
answers stream into the thread, the conversation survives a restart, and Claude being down
falls back to the deterministic router's answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.harness import FakeSlack, SlackDriver
from bot.harness.fake_anthropic import FakeMessagesAPI
from tests.utils.slack_e2e import NOW, driving

THREAD = "1762070001.000200"
DEMO_ACCOUNTS = 20  # a small portfolio: these tests only look at Acme


@pytest.fixture
def driver(fake: FakeSlack, claude: FakeMessagesAPI, demo_engine: Engine) -> Iterator[SlackDriver]:
    with driving(fake, demo_engine, anthropic_client=claude.client()) as served:
        yield served


def dm(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D0CSM001",
        "channel_type": "im",
        "user": "U0CSM001",
        "text": text,
        "ts": f"{time.time():.6f}",
        "thread_ts": THREAD,
    }


def test_dm_goes_through_claude_and_streams_into_the_thread(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI
) -> None:
    claude.enqueue_tool_use([("account_health", {"account": "acme"})])
    claude.enqueue_text("Acme Corp is at risk: renewal in 45 days.")
    driver.event(dm("why is acme at risk?"))
    (stop,) = fake.wait_for("chat.stopStream")
    (start,) = fake.calls_to("chat.startStream")
    appended = fake.calls_to("chat.appendStream")
    assert start.params["thread_ts"] == THREAD
    streamed = "".join(
        str(c.params.get("markdown_text", "")) + str(c.params.get("chunks", ""))
        for c in [start, *appended, stop]
    )
    assert "Acme Corp is at risk" in streamed
    assert fake.calls_to("assistant.threads.setStatus"), "no status while working"
    # the model saw the tool's real numbers, in a tool_result answering its tool_use
    second = claude.requests[1]["messages"][-1]["content"]
    assert second[0]["type"] == "tool_result"
    assert "Acme Corp" in str(second[0]["content"])


def test_follow_up_in_the_thread_continues_the_conversation(
    fake: FakeSlack, claude: FakeMessagesAPI, demo_engine: Engine, driver: SlackDriver
) -> None:
    claude.enqueue_text("Acme renews in 45 days.")
    driver.event(dm("when does acme renew?"))
    fake.wait_for("chat.stopStream")
    claude.enqueue_text("Its champion is still there.")
    driver.event(dm("and its champion?"))
    fake.wait_for("chat.stopStream", count=2)
    history = claude.requests[-1]["messages"]
    texts = [str(m["content"]) for m in history]
    assert any("when does acme renew?" in t for t in texts)
    assert any("Acme renews in 45 days." in t for t in texts)


def test_claude_down_falls_back_to_the_router(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI
) -> None:
    claude.enqueue_error(529, times=3)
    driver.event(dm("who is at risk?"))
    (reply,) = fake.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == THREAD
    assert reply.blocks, "the router's answer carries blocks"
    assert not fake.calls_to("chat.startStream")


def test_claude_is_not_used_without_a_key(fake: FakeSlack, demo_engine: Engine) -> None:
    with driving(fake, demo_engine) as served:
        served.event(dm("who is at risk?"))
        (reply,) = fake.wait_for("chat.postMessage")
    assert reply.blocks
    assert not fake.calls_to("chat.startStream")


def test_today_is_the_clock_date() -> None:
    assert NOW.date() == date(2026, 11, 2)


def test_csbot_question_goes_through_claude_ephemerally(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI
) -> None:
    claude.enqueue_tool_use([("account_overview", {"account": "acme"})])
    claude.enqueue_text("Acme Corp is AMBER; renewal in 45 days.")
    driver.command("/csbot", "how is acme doing?")
    (reply,) = fake.wait_for("response_url")
    assert reply.params["response_type"] == "ephemeral"
    shown = str(reply.blocks)
    assert "Acme Corp is AMBER; renewal in 45 days." in shown
    assert "Answered by Claude" in shown
    assert "only you can see this" in shown
    assert len(claude.requests) == 2  # one tool call, one answer: <= 2 model calls
    assert claude.requests[0]["messages"][0]["content"][0]["text"] == "how is acme doing?"


def test_csbot_falls_back_to_the_router_when_claude_is_down(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI
) -> None:
    claude.enqueue_error(529, times=3)
    driver.command("/csbot", "what's our NRR?")
    (reply,) = fake.wait_for("response_url")
    assert "NRR" in reply.params["text"]
    assert "Answered by Claude" not in str(reply.blocks)


def test_csbot_help_never_calls_claude(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI
) -> None:
    driver.command("/csbot", "help")
    fake.wait_for("response_url")
    assert claude.requests == []


def test_explain_button_shows_claudes_checked_narrative_once_a_day(
    driver: SlackDriver, fake: FakeSlack, claude: FakeMessagesAPI, demo_engine: Engine
) -> None:
    import json

    from tests.utils.slack_e2e import account_id

    claude.enqueue_text(json.dumps({"narrative": "Acme Corp needs a sponsor call this week."}))
    acme = str(account_id(demo_engine, "acme"))
    driver.action("health_explain", acme)
    (first,) = fake.wait_for("response_url")
    driver.action("health_explain", acme)  # same evidence, same day: from the cache
    second = fake.wait_for("response_url", count=2)[1]
    for reply in (first, second):
        shown = str(reply.blocks)
        assert "Acme Corp needs a sponsor call this week." in shown
        assert "written by Claude · numbers checked" in shown
    assert len(claude.requests) == 1
