"""The Claude tool-use loop: a plain, bounded loop over ``messages.create``.

``Agent.run_turn`` loads the thread's conversation, sends it with the registry's tools, runs the
tools Claude asks for (all results first in the next user message), and stops on ``end_turn``
or a limit. Whatever goes wrong (no key, network, overload, timeout, malformed reply, refusal)
the caller gets a ``TurnResult`` with ``fell_back=True`` and a useful deterministic answer: it
never raises and never shows exception text.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeoutError
from datetime import date, datetime
from typing import Any, cast

from anthropic import Anthropic, APIError, DefaultHttpxClient
from anthropic.types import MessageParam, TextBlockParam, ToolParam
from sqlalchemy.exc import IntegrityError

from bot.agent_messages import (
    MAX_RETRY_AFTER_SECONDS,
    ClaudeUnavailableError,
    ToolCall,
    TurnResult,
    Usage,
    cap_retry_after,
    close_dangling_tool_uses,
    content_dicts,
    conversation_of,
    load_conversation,
    tool_result_block,
    with_cache_breakpoint,
    with_user_text,
)
from bot.agent_prompt import (
    EPHEMERAL,
    SLASH_COMMANDS,
    SYSTEM_PROMPT,
    Clock,
    Fallback,
    default_fallback,
    router_fallback,
    system_blocks,
    unavailable_message,
)
from bot.config import Settings
from bot.deps import Deps
from bot.voc_blocks import theme_labeller
from tools.db import SessionFactory, session_scope
from tools.models import Conversation, utcnow
from tools.registry import Registry, ToolContext
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_TURN_SECONDS = 20.0
"""A conversational turn's total deadline; then the user gets the deterministic fallback."""

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TURN_SECONDS",
    "EPHEMERAL",
    "MAX_RETRY_AFTER_SECONDS",
    "SLASH_COMMANDS",
    "SYSTEM_PROMPT",
    "Agent",
    "ClaudeUnavailableError",
    "Clock",
    "Fallback",
    "ToolCall",
    "TurnResult",
    "Usage",
    "cap_retry_after",
    "default_fallback",
    "load_conversation",
    "router_fallback",
    "system_blocks",
    "unavailable_message",
]


class Agent:
    """Runs conversational turns through Claude with the tool registry."""

    def __init__(
        self,
        *,
        client: Anthropic | None,
        session_factory: SessionFactory,
        clock: Clock,
        config: ScoringConfig,
        registry: Registry | None = None,
        model: str = DEFAULT_MODEL,
        max_tokens: int = 4096,
        max_iterations: int = 8,
        conversation_token_budget: int = 400_000,
        fallback: Fallback = default_fallback,
        turn_seconds: float = DEFAULT_TURN_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if registry is None:
            from tools.agent_tools import default_registry

            registry = default_registry()
        self.client = client
        self.sessions = session_factory
        self.clock = clock
        self.config = config
        self.registry = registry
        self.model = model
        self.max_tokens = max_tokens
        self.max_iterations = max_iterations
        self.conversation_token_budget = conversation_token_budget
        self.fallback = fallback
        self.turn_seconds = turn_seconds
        self.timer = timer
        self._calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="claude-call")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        session_factory: SessionFactory,
        clock: Clock,
        config: ScoringConfig,
        client: Anthropic | None = None,
        timeout: float = 20.0,
        max_retries: int = 2,
        **kwargs: Any,
    ) -> Agent:
        """An agent with a real client when an API key is configured, else fallback-only."""
        if client is None and settings.anthropic_api_key is not None:
            client = Anthropic(
                api_key=settings.anthropic_api_key.get_secret_value(),
                timeout=timeout,
                max_retries=max_retries,
                http_client=DefaultHttpxClient(event_hooks={"response": [cap_retry_after]}),
            )
        return cls(
            client=client,
            session_factory=session_factory,
            clock=clock,
            config=config,
            model=settings.anthropic_model,
            **{"turn_seconds": settings.agent_turn_seconds, **kwargs},
        )

    @classmethod
    def from_deps(cls, deps: Deps, *, client: Anthropic | None = None, **kwargs: Any) -> Agent:
        """An agent for the Slack app: the app's settings, database, clock and config, with the
        deterministic router as the fallback."""
        kwargs.setdefault("fallback", router_fallback(deps))
        return cls.from_settings(
            deps.settings,
            session_factory=deps.sessions,
            clock=deps.clock,
            config=deps.config,
            client=client,
            **kwargs,
        )

    # -- the turn ----------------------------------------------------------------------------

    def run_turn(
        self,
        thread_key: str,
        user_text: str,
        *,
        user_id: str | None = None,
        on_text: Callable[[str], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> TurnResult:
        """Answer ``user_text`` in the conversation of ``thread_key``; never raises."""
        deadline = self.timer() + self.turn_seconds
        result = TurnResult(text="")
        ctx = ToolContext(
            sessions=self.sessions,
            as_of=self._today(),
            config=self.config,
            thread_key=thread_key,
            user_id=user_id,
            theme_labeller=theme_labeller(self.client, self.model),
        )
        result.created = ctx.created
        if self.client is None:
            return self._fall_back(result, user_text, user_id, "no API key")
        try:
            history, spent = self._load(thread_key)
            if spent >= self.conversation_token_budget:
                result.text = (
                    "This thread has used its token budget. Start a new thread to keep going."
                )
                result.stop_reason = "budget"
                return result
            messages = with_user_text(history, user_text)
            self._loop(messages, ctx, result, on_text, on_status, spent, deadline=deadline)
        except ClaudeUnavailableError as exc:
            return self._fall_back(result, user_text, user_id, str(exc))
        except Exception as exc:  # the loop's error boundary: log the type only, fall back
            log.exception("agent turn failed")
            return self._fall_back(result, user_text, user_id, type(exc).__name__)
        return result

    def _loop(
        self,
        messages: list[dict[str, Any]],
        ctx: ToolContext,
        result: TurnResult,
        on_text: Callable[[str], None] | None,
        on_status: Callable[[str], None] | None,
        spent: int,
        *,
        deadline: float = math.inf,
    ) -> None:
        texts: list[str] = []
        note = ""
        for _ in range(self.max_iterations):
            if spent + result.usage.total_tokens >= self.conversation_token_budget:
                note = "_(Stopped: this thread reached its token budget.)_"
                break
            if on_status is not None:
                on_status("Thinking…")
            reply = self._call(messages, deadline)
            result.usage.add(reply.usage)
            content = content_dicts(reply)
            messages.append({"role": "assistant", "content": content})
            new_text = [b["text"] for b in content if b.get("type") == "text" and b.get("text")]
            texts.extend(new_text)
            if on_text is not None and new_text:
                on_text("\n\n".join(new_text))
            stop = reply.stop_reason
            result.stop_reason = stop
            if stop == "tool_use":
                messages.append(self._run_tools(content, ctx, result, on_status))
                continue
            if stop == "pause_turn":
                continue
            if stop == "refusal":
                raise ClaudeUnavailableError("refusal")
            if stop in ("max_tokens", "model_context_window_exceeded"):
                note = "_(My answer was cut short; ask me to continue or narrow the question.)_"
            elif stop not in ("end_turn", "stop_sequence"):
                raise ClaudeUnavailableError(f"unexpected stop reason {stop!r}")
            break
        else:
            note = f"_(Stopped after {self.max_iterations} steps; ask a narrower question.)_"
        close_dangling_tool_uses(messages)
        result.text = "\n\n".join([*texts, note] if note else texts).strip()
        if not result.text:
            raise ClaudeUnavailableError("empty answer")
        self._save(ctx.thread_key or "", ctx.user_id, messages, result.usage)

    def _call(self, messages: list[dict[str, Any]], deadline: float = math.inf) -> Any:
        """One Messages API call (with the SDK's retries), abandoned at the turn's deadline."""
        assert self.client is not None
        remaining = deadline - self.timer()
        if remaining <= 0:
            raise ClaudeUnavailableError("turn deadline")
        future = self._calls.submit(self._create, messages)
        try:
            reply = future.result(timeout=None if math.isinf(remaining) else remaining)
        except FuturesTimeoutError as exc:  # the late reply is dropped; the user is answered now
            future.cancel()
            raise ClaudeUnavailableError("turn deadline") from exc
        except APIError as exc:
            raise ClaudeUnavailableError(type(exc).__name__) from exc
        except ValueError as exc:  # a body that is not JSON
            raise ClaudeUnavailableError("malformed reply") from exc
        if not isinstance(getattr(reply, "content", None), list) or reply.usage is None:
            raise ClaudeUnavailableError("malformed reply")
        return reply

    def _create(self, messages: list[dict[str, Any]]) -> Any:
        assert self.client is not None
        return self.client.messages.create(
            model=self.model,
            max_tokens=self.max_tokens,
            system=cast(list[TextBlockParam], system_blocks()),
            tools=cast(list[ToolParam], self.registry.definitions(cache=True)),
            tool_choice={"type": "auto"},
            messages=cast(list[MessageParam], with_cache_breakpoint(messages)),
        )

    def _run_tools(
        self,
        content: list[dict[str, Any]],
        ctx: ToolContext,
        result: TurnResult,
        on_status: Callable[[str], None] | None,
    ) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = []
        for block in content:
            if block.get("type") != "tool_use":
                continue
            name = str(block.get("name", ""))
            args = block.get("input")
            if on_status is not None:
                on_status(f"Running {name}…")
            outcome = self.registry.call(name, args if isinstance(args, dict) else {}, ctx)
            result.tool_calls.append(
                ToolCall(name, args if isinstance(args, dict) else {}, outcome.is_error)
            )
            blocks.append(tool_result_block(str(block.get("id", "")), outcome))
        if not blocks:
            raise ClaudeUnavailableError("tool_use without tool calls")
        return {"role": "user", "content": blocks}

    def _fall_back(
        self, result: TurnResult, user_text: str, user_id: str | None, reason: str
    ) -> TurnResult:
        log.warning("Claude unavailable (%s); answering with the fallback", reason)
        result.fell_back = True
        result.text = self.fallback(user_text, user_id)
        return result

    def _today(self) -> date:
        now = self.clock()
        return now.date() if isinstance(now, datetime) else now

    # -- persistence -------------------------------------------------------------------------

    def _load(self, thread_key: str) -> tuple[list[dict[str, Any]], int]:
        with session_scope(self.sessions) as session:
            conv = conversation_of(session, thread_key)
            if conv is None:
                return [], 0
            spent = (
                conv.input_tokens
                + conv.output_tokens
                + conv.cache_read_tokens
                + conv.cache_write_tokens
            )
            return copy.deepcopy(list(conv.messages)), spent

    def _save(
        self,
        thread_key: str,
        user_id: str | None,
        messages: list[dict[str, Any]],
        usage: Usage,
    ) -> None:
        for _attempt in range(2):
            try:
                with session_scope(self.sessions) as session:
                    conv = conversation_of(session, thread_key)
                    if conv is None:
                        conv = Conversation(thread_key=thread_key, user_id=user_id)
                    conv.messages = messages
                    conv.input_tokens += usage.input_tokens
                    conv.output_tokens += usage.output_tokens
                    conv.cache_read_tokens += usage.cache_read_tokens
                    conv.cache_write_tokens += usage.cache_write_tokens
                    conv.model_calls += usage.model_calls
                    conv.updated_at = utcnow()
                    session.add(conv)
                return
            except IntegrityError:  # another worker created the thread first: update it
                continue
        log.warning("could not save the conversation of a thread after a conflict")
