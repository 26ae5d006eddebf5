"""The Claude loop, driven through the real Anthropic SDK against the scripted fake API."""

from __future__ import annotations

import json
import re

import pytest

from bot.agent import SYSTEM_PROMPT, load_conversation
from bot.harness.fake_anthropic import FakeMessagesAPI
from tests.utils.agent_fakes import make_agent
from tools import db

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# -- the happy path, on SQLite and PostgreSQL ----------------------------------------------------


def test_tool_turn_sends_well_formed_requests(sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use([("account_score", {"account": "acme"})], thinking="look it up")
    fake.enqueue_text("Acme is *AMBER* at 61/100.")
    agent = make_agent(fake, sessions)

    result = agent.run_turn("T1:1.0", "How is Acme?", user_id="U1")

    assert not result.fell_back
    assert result.text == "Acme is *AMBER* at 61/100."
    assert [c.name for c in result.tool_calls] == ["account_score"]
    assert len(fake.requests) == 2
    first, second = fake.requests
    for body in fake.requests:
        assert body["model"] == "claude-test-model"
        assert body["tool_choice"] == {"type": "auto"}
        assert "temperature" not in body
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert body["system"][0]["text"] == SYSTEM_PROMPT
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        for tool in body["tools"]:
            assert TOOL_NAME.match(tool["name"])
            assert tool["input_schema"]["type"] == "object"
    assert first["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "How is Acme?", "cache_control": {"type": "ephemeral"}}
            ],
        }
    ]
    # The assistant turn goes back exactly as received, thinking signature included.
    assistant = second["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "look it up",
        "signature": "sig-look it up",
    }
    tool_use = assistant["content"][1]
    results = second["messages"][2]["content"]
    assert results[0]["type"] == "tool_result"
    assert results[0]["tool_use_id"] == tool_use["id"]
    assert json.loads(results[0]["content"])["score"] == 61
    assert "is_error" not in results[0]

    stored = load_conversation(sessions, "T1:1.0")
    assert stored is not None
    assert stored.model_calls == 2
    assert stored.input_tokens == result.usage.input_tokens > 0
    assert stored.output_tokens == result.usage.output_tokens > 0
    assert [m["role"] for m in stored.messages] == ["user", "assistant", "user", "assistant"]


def test_follow_up_continues_the_thread_after_a_restart(sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("First answer.", thinking="t1")
    make_agent(fake, sessions).run_turn("T1:2.0", "first question", user_id="U1")

    fake.enqueue_text("Second answer.")
    result = make_agent(fake, sessions).run_turn("T1:2.0", "and then?", user_id="U1")

    assert result.text == "Second answer."
    sent = fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["type"] == "thinking"
    assert sent[1]["content"][0]["signature"] == "sig-t1"
    assert sent[2]["content"][0]["text"] == "and then?"
    stored = load_conversation(sessions, "T1:2.0")
    assert stored is not None
    assert stored.model_calls == 2


# -- loop mechanics (SQLite only) ------------------------------------------------------------


def test_parallel_tool_calls_return_all_results_first(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use(
        [("account_score", {"account": "acme"}), ("portfolio", {"limit": 5})],
        text="Checking both.",
        redacted_thinking="opaque-bytes",
    )
    fake.enqueue_text("Done.")
    result = make_agent(fake, sqlite_sessions).run_turn("T2", "compare", user_id=None)

    assert result.text == "Checking both.\n\nDone."
    sent = fake.requests[1]["messages"]
    uses = [b for b in sent[1]["content"] if b["type"] == "tool_use"]
    assert sent[1]["content"][0] == {"type": "redacted_thinking", "data": "opaque-bytes"}
    blocks = sent[2]["content"]
    assert [b["type"] for b in blocks] == ["tool_result", "tool_result"]
    assert [b["tool_use_id"] for b in blocks] == [u["id"] for u in uses]


def test_tool_failures_become_error_results(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use(
        [
            ("account_score", {"account": "nobody"}),
            ("account_score", {"wrong": 1}),
            ("no_such_tool", {}),
            ("explode", {}),
        ]
    )
    fake.enqueue_text("Sorry, I could not find that account.")
    result = make_agent(fake, sqlite_sessions).run_turn("T3", "how is nobody?", user_id=None)

    assert not result.fell_back
    blocks = fake.requests[1]["messages"][2]["content"]
    assert all(b["is_error"] is True for b in blocks)
    assert blocks[0]["content"] == "No account matches 'nobody'."
    assert blocks[1]["content"].startswith("Invalid input for account_score")
    assert "Unknown tool 'no_such_tool'" in blocks[2]["content"]
    assert "sk-ant" not in blocks[3]["content"]
    assert "secret" not in blocks[3]["content"]
    assert [c.is_error for c in result.tool_calls] == [True, True, True, True]


def test_pause_turn_continues_without_a_new_user_message(
    sqlite_sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("Working…", stop_reason="pause_turn")
    fake.enqueue_text("Finished.")
    result = make_agent(fake, sqlite_sessions).run_turn("T4", "long task", user_id=None)

    assert result.text == "Working…\n\nFinished."
    sent = fake.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant"]
    assert sent[-1]["content"] == [{"type": "text", "text": "Working…"}]


@pytest.mark.parametrize("stop", ["max_tokens", "model_context_window_exceeded"])
def test_truncated_answers_finish_with_a_note(
    sqlite_sessions: db.SessionFactory, stop: str
) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("Partial answer", stop_reason=stop)
    result = make_agent(fake, sqlite_sessions).run_turn("T5", "q", user_id=None)

    assert not result.fell_back
    assert result.text.startswith("Partial answer")
    assert "cut short" in result.text
    assert result.stop_reason == stop


def test_stop_sequence_is_a_normal_end(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("Answer.", stop_reason="stop_sequence")
    result = make_agent(fake, sqlite_sessions).run_turn("T5b", "q", user_id=None)
    assert (result.text, result.fell_back) == ("Answer.", False)


def test_truncated_tool_call_is_closed_for_the_next_turn(
    sqlite_sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue(
        {
            "content": [
                {"type": "text", "text": "Let me check"},
                fake.tool_use_block("account_score", {}),
            ],
            "stop_reason": "max_tokens",
        }
    )
    make_agent(fake, sqlite_sessions).run_turn("T6", "q", user_id=None)
    stored = load_conversation(sqlite_sessions, "T6")
    assert stored is not None
    last = stored.messages[-1]
    assert last["role"] == "user"
    assert last["content"][0]["type"] == "tool_result"
    assert last["content"][0]["is_error"] is True


def test_iteration_cap_stops_the_loop(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    for _ in range(3):
        fake.enqueue_tool_use([("portfolio", {})])
    agent = make_agent(fake, sqlite_sessions, max_iterations=3)
    result = agent.run_turn("T7", "loop forever", user_id=None)

    assert len(fake.requests) == 3
    assert "Stopped after 3 steps" in result.text
    assert not result.fell_back

    # The next turn's text joins the trailing tool results (results stay first).
    fake.enqueue_text("ok")
    agent.run_turn("T7", "next", user_id=None)
    last = fake.requests[-1]["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]


def test_conversation_token_budget(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_text("first")
    agent = make_agent(fake, sqlite_sessions, conversation_token_budget=50)
    agent.run_turn("T8", "q", user_id=None)

    result = agent.run_turn("T8", "q2", user_id=None)

    assert len(fake.requests) == 1
    assert "token budget" in result.text


def test_callbacks_receive_text_and_status(sqlite_sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use([("portfolio", {})], text="Let me look.")
    fake.enqueue_text("240 accounts.")
    texts: list[str] = []
    statuses: list[str] = []
    make_agent(fake, sqlite_sessions).run_turn(
        "T9", "q", user_id=None, on_text=texts.append, on_status=statuses.append
    )
    assert texts == ["Let me look.", "240 accounts."]
    assert "Running portfolio…" in statuses
