"""The Claude loop fails open: API errors, retries, deadlines and a missing key all give the
fallback answer, never an error detail."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlmodel import select

from bot.agent import Agent, load_conversation, unavailable_message
from bot.harness.fake_anthropic import FAKE_API_KEY, FakeMessagesAPI
from tests.utils.agent_fakes import FALLBACK_TEXT, TODAY, make_agent, tiny_registry
from tools import db
from tools.models import Conversation
from tools.scoring_config import ScoringConfig


def _script_failure(fake: FakeMessagesAPI, kind: str) -> None:
    scripts = {
        "overloaded": lambda: fake.enqueue_error(529, retry_after=0, times=2),
        "server_error": lambda: fake.enqueue_error(500, retry_after=0, times=2),
        "rate_limited": lambda: fake.enqueue_error(429, retry_after=0.01, times=2),
        "timeout": lambda: fake.enqueue_timeout(times=2),
        "malformed_json": lambda: fake.enqueue_malformed(),
        "wrong_shape": lambda: fake.enqueue({"content": "not a list"}),
        "bad_request": lambda: fake.enqueue_error(400),
        "refusal": lambda: fake.enqueue_text("", stop_reason="refusal"),
        "unknown_stop": lambda: fake.enqueue_text("x", stop_reason="something_new"),
        "empty": lambda: fake.enqueue({"content": []}),
    }
    scripts[kind]()


@pytest.mark.parametrize(
    "kind",
    [
        "overloaded",
        "server_error",
        "rate_limited",
        "timeout",
        "malformed_json",
        "wrong_shape",
        "bad_request",
        "refusal",
        "unknown_stop",
        "empty",
    ],
)
def test_failures_fall_back_without_raising(sqlite_sessions: db.SessionFactory, kind: str) -> None:
    fake = FakeMessagesAPI()
    _script_failure(fake, kind)
    agent = make_agent(fake, sqlite_sessions, max_retries=1)

    result = agent.run_turn("T10", "how is acme?", user_id="U1")

    assert result.fell_back
    assert result.text == FALLBACK_TEXT
    assert fake.pending == 0
    assert load_conversation(sqlite_sessions, "T10") is None  # a failed turn is not persisted


def test_failure_after_tools_keeps_the_previous_transcript(
    sqlite_sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("First.")
    agent = make_agent(fake, sqlite_sessions)
    agent.run_turn("T11", "q1", user_id=None)
    fake.enqueue_tool_use([("portfolio", {})])
    fake.enqueue_error(529)

    result = agent.run_turn("T11", "q2", user_id=None)

    assert result.fell_back
    assert [c.name for c in result.tool_calls] == ["portfolio"]
    stored = load_conversation(sqlite_sessions, "T11")
    assert stored is not None
    assert len(stored.messages) == 2


def test_sdk_retries_then_succeeds(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_error(529, retry_after=0)
    fake.enqueue_text("Recovered.")
    result = make_agent(fake, sqlite_sessions, max_retries=2).run_turn("T12", "q", user_id=None)
    assert (result.text, result.fell_back) == ("Recovered.", False)
    assert len(fake.requests) == 2


def test_no_client_falls_back_without_calling_anyone(sqlite_sessions: db.SessionFactory) -> None:
    agent = Agent(
        client=None,
        session_factory=sqlite_sessions,
        clock=lambda: TODAY,
        config=ScoringConfig(),
        registry=tiny_registry(),
    )
    result = agent.run_turn("T13", "how is acme?", user_id=None)
    assert result.fell_back
    assert "Claude is unavailable" in result.text or result.text
    with sqlite_sessions() as s:
        assert s.exec(select(Conversation)).all() == []


def test_unavailable_message_lists_the_slash_commands() -> None:
    text = unavailable_message()
    for command in ("/health", "/churn", "/qbr", "/expansion"):
        assert command in text


def test_fallback_text_never_contains_error_details(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_error(401)
    agent = Agent(
        client=fake.client(),
        session_factory=sqlite_sessions,
        clock=lambda: TODAY,
        config=ScoringConfig(),
        registry=tiny_registry(),
    )
    result = agent.run_turn("T14", "q", user_id=None)
    assert result.fell_back
    assert FAKE_API_KEY not in result.text
    assert "401" not in result.text
    assert "fake" not in result.text


def test_long_retry_after_is_capped(
    sqlite_sessions: db.SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anthropic._base_client
    import httpx2
    from anthropic import Anthropic

    from bot.agent import MAX_RETRY_AFTER_SECONDS, cap_retry_after

    fake = FakeMessagesAPI()
    fake.enqueue_error(429, retry_after=3600)
    fake.enqueue_text("After the wait.")
    client = Anthropic(
        api_key=FAKE_API_KEY,
        base_url="http://fake-anthropic.test",
        max_retries=1,
        http_client=httpx2.Client(
            transport=fake.transport, event_hooks={"response": [cap_retry_after]}
        ),
    )
    agent = make_agent(fake, sqlite_sessions)
    agent.client = client
    slept: list[float] = []
    monkeypatch.setattr(anthropic._base_client.time, "sleep", slept.append)
    result = agent.run_turn("T15", "q", user_id=None)
    assert result.text == "After the wait."
    assert len(slept) == 1  # the SDK retried once, after a capped wait (not an hour)
    assert slept[0] == pytest.approx(MAX_RETRY_AFTER_SECONDS)  # the cap, not the hour


def test_from_settings_without_a_key_has_no_client(sqlite_sessions: db.SessionFactory) -> None:
    from bot.config import Settings

    agent = Agent.from_settings(
        Settings(anthropic_api_key=None, anthropic_model="claude-haiku-5-5"),
        session_factory=sqlite_sessions,
        clock=lambda: TODAY,
        config=ScoringConfig(),
    )
    assert agent.client is None
    assert agent.model == "claude-haiku-5-5"
    keyed = Agent.from_settings(
        Settings(anthropic_api_key="sk-ant-test-123"),
        session_factory=sqlite_sessions,
        clock=lambda: TODAY,
        config=ScoringConfig(),
    )
    assert keyed.client is not None
    assert keyed.client.max_retries == 2
    assert keyed.client.timeout == 20.0
    assert keyed.model == "claude-sonnet-5-5"


def test_a_slow_model_gets_the_fallback_at_the_turn_deadline(
    sqlite_sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    release = threading.Event()

    def slow(body: dict[str, Any]) -> dict[str, Any]:
        release.wait(10)  # a model that answers only long after the deadline
        return {"content": [{"type": "text", "text": "late"}], "stop_reason": "end_turn"}

    fake.enqueue_responder(slow)
    agent = make_agent(fake, sqlite_sessions, turn_seconds=0.2)
    try:
        result = agent.run_turn("T-slow", "how is acme?", user_id="U1")
    finally:
        release.set()
    assert result.fell_back
    assert result.text == FALLBACK_TEXT
    assert load_conversation(sqlite_sessions, "T-slow") is None  # the late answer is not kept


def test_the_deadline_covers_the_whole_turn_not_each_call(
    sqlite_sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    now = [0.0]

    def tool_use_that_takes_21_seconds(body: dict[str, Any]) -> dict[str, Any]:
        now[0] += 21.0  # each call alone is under a 20 s budget; the turn is not
        return {
            "content": [fake.tool_use_block("portfolio", {})],
            "stop_reason": "tool_use",
        }

    fake.enqueue_responder(tool_use_that_takes_21_seconds)
    fake.enqueue_text("never asked for")
    agent = make_agent(fake, sqlite_sessions, turn_seconds=20.0, timer=lambda: now[0])
    result = agent.run_turn("T-long", "portfolio?", user_id="U1")
    assert result.fell_back
    assert result.text == FALLBACK_TEXT
    assert len(fake.requests) == 1
    assert fake.pending == 1
