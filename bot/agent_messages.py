"""The pieces of a Claude turn: usage, tool calls and the turn's result, the Messages API
transcript shaping (tool results, cache breakpoints, dangling tool calls), a thread's stored
conversation and the Retry-After cap (``bot.agent`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2
from sqlmodel import Session, select

from bot.agent_prompt import EPHEMERAL
from tools.db import SessionFactory, session_scope
from tools.models import Conversation
from tools.registry import CreatedRecord, ToolResult

MAX_RETRY_AFTER_SECONDS = 2.0


@dataclass
class Usage:
    """Token usage of the model calls in a turn or a conversation."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model_calls: int = 0

    def add(self, usage: Any) -> None:
        """Add the ``usage`` of one Messages API reply."""
        self.input_tokens += int(getattr(usage, "input_tokens", 0) or 0)
        self.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_read_tokens += int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        self.cache_write_tokens += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        self.model_calls += 1

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


@dataclass
class ToolCall:
    """One tool call Claude made during the turn."""

    name: str
    input: dict[str, Any]
    is_error: bool


@dataclass
class TurnResult:
    """What one turn produced; ``fell_back`` is True when Claude did not answer."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    created: list[CreatedRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    fell_back: bool = False
    stop_reason: str | None = None


class ClaudeUnavailableError(Exception):
    """Claude did not give a usable answer; the reason is for logs only."""


def cap_retry_after(response: httpx2.Response) -> None:
    """Shorten a server's Retry-After before the SDK sleeps on it: someone is waiting in Slack,
    and the fallback answers at once, so waiting a minute between retries helps nobody."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = response.headers.get(name)
        if raw is None:
            continue
        try:
            too_long = float(raw) / scale > MAX_RETRY_AFTER_SECONDS
        except ValueError:  # an HTTP date
            too_long = True
        if too_long:
            response.headers[name] = str(int(MAX_RETRY_AFTER_SECONDS * scale))


def load_conversation(sessions: SessionFactory, thread_key: str) -> Conversation | None:
    """The stored conversation of a thread, or None."""
    with session_scope(sessions) as session:
        return conversation_of(session, thread_key)


def conversation_of(session: Session, thread_key: str) -> Conversation | None:
    return session.exec(select(Conversation).where(Conversation.thread_key == thread_key)).first()


def content_dicts(reply: Any) -> list[dict[str, Any]]:
    """The reply's content blocks exactly as received (thinking signatures intact)."""
    blocks: list[dict[str, Any]] = []
    for block in reply.content:
        data = block.to_dict() if hasattr(block, "to_dict") else block
        if not isinstance(data, dict) or "type" not in data:
            raise ClaudeUnavailableError("malformed content block")
        blocks.append(data)
    return blocks


def tool_result_block(tool_use_id: str, outcome: ToolResult) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": outcome.content,
    }
    if outcome.is_error:
        block["is_error"] = True
    return block


def with_user_text(history: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """History plus the new user text; joins a trailing user message (tool results stay first)."""
    messages = list(history)
    block = {"type": "text", "text": text}
    if messages and messages[-1].get("role") == "user":
        last = messages[-1]
        content = last["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        messages[-1] = {"role": "user", "content": [*content, block]}
    else:
        messages.append({"role": "user", "content": [block]})
    return messages


def with_cache_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy whose last user block carries a cache breakpoint (tool loops re-read the prefix)."""
    if not messages or messages[-1].get("role") != "user":
        return messages
    last = messages[-1]
    content = [dict(b) for b in last["content"]]
    if content and content[-1].get("type") in ("text", "tool_result"):
        content[-1]["cache_control"] = EPHEMERAL
    return [*messages[:-1], {"role": "user", "content": content}]


def close_dangling_tool_uses(messages: list[dict[str, Any]]) -> None:
    """If the transcript ends with unanswered tool calls, answer them so the next turn is valid."""
    if not messages or messages[-1].get("role") != "assistant":
        return
    ids = [b.get("id") for b in messages[-1]["content"] if b.get("type") == "tool_use"]
    if ids:
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": i,
                        "content": "Not run: the turn ended.",
                        "is_error": True,
                    }
                    for i in ids
                ],
            }
        )
