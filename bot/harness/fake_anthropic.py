"""A scripted fake of the Anthropic Messages API, for tests and ``make bench``.

The real SDK runs against it through ``httpx2.MockTransport``: enqueue the replies the "model"
should give, run the code under test, then assert on ``requests`` (the JSON bodies received).

    fake = FakeMessagesAPI()
    fake.enqueue_tool_use([("account_health", {"account": "acme"})])
    fake.enqueue_text("Acme is AMBER (61/100).")
    client = fake.client()

Usage numbers are estimates (characters / 4) computed from the real request body; the prompt
cache is simulated: a request whose ``tools`` + ``system`` prefix carries ``cache_control`` and is
at least 512 estimated tokens writes the cache the first time and reads it afterwards.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from anthropic import Anthropic

MIN_CACHEABLE_TOKENS = 512
FAKE_API_KEY = "sk-ant-fake-key-for-tests"

Responder = Callable[[dict[str, Any]], dict[str, Any]]
SideResponder = Callable[[dict[str, Any]], dict[str, Any] | None]


def estimate_tokens(value: object) -> int:
    """A rough token count: JSON characters / 4."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return max(1, len(text) // 4)


@dataclass
class _Step:
    """One scripted reply: a message body, an HTTP error, a raised exception or a responder."""

    message: dict[str, Any] | None = None
    responder: Responder | None = None
    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raise_timeout: bool = False


class FakeMessagesAPI:
    """A queue of scripted replies served on ``POST /v1/messages``; records every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._queue: deque[_Step] = deque()
        self._ids = itertools.count(1)
        self._cached_prefixes: set[str] = set()
        self.unscripted_calls = 0
        self.side: SideResponder | None = None
        """Answers a request before the queue when it returns a reply (None: the queue serves
        it): calls the code under test makes on the side, whose number depends on what is
        cached (Claude naming voice-of-the-customer themes inside a tool)."""

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, response: dict[str, Any]) -> None:
        """Serve ``response`` (a Messages API reply; missing fields are filled in)."""
        self._queue.append(_Step(message=response))

    def enqueue_responder(self, responder: Responder) -> None:
        """Serve whatever ``responder(request_body)`` returns (a reply dict)."""
        self._queue.append(_Step(responder=responder))

    def enqueue_text(
        self,
        text: str,
        *,
        stop_reason: str = "end_turn",
        thinking: str | None = None,
        redacted_thinking: str | None = None,
    ) -> None:
        """A text reply, optionally preceded by a thinking block."""
        content = self._thinking_blocks(thinking, redacted_thinking)
        content.append({"type": "text", "text": text})
        self.enqueue({"content": content, "stop_reason": stop_reason})

    def enqueue_tool_use(
        self,
        calls: list[tuple[str, dict[str, Any]]],
        *,
        text: str | None = None,
        thinking: str | None = None,
        redacted_thinking: str | None = None,
    ) -> None:
        """A ``tool_use`` reply calling each ``(name, input)`` in ``calls`` (parallel calls)."""
        content = self._thinking_blocks(thinking, redacted_thinking)
        if text:
            content.append({"type": "text", "text": text})
        content.extend(self.tool_use_block(name, args) for name, args in calls)
        self.enqueue({"content": content, "stop_reason": "tool_use"})

    def enqueue_error(
        self, status: int, *, retry_after: float | None = None, times: int = 1
    ) -> None:
        """An API error reply (e.g. 429, 500, 529), ``times`` times in a row."""
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        body = json.dumps({"type": "error", "error": {"type": kind, "message": f"fake {status}"}})
        headers = {"content-type": "application/json"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        for _ in range(times):
            self._queue.append(_Step(status=status, body=body.encode(), headers=headers))

    def enqueue_timeout(self, *, times: int = 1) -> None:
        """Raise ``httpx2.ReadTimeout`` in the transport, ``times`` times in a row."""
        for _ in range(times):
            self._queue.append(_Step(raise_timeout=True))

    def enqueue_malformed(self, body: bytes = b'{"type": "message", "content": [') -> None:
        """A 200 reply whose body is not valid JSON."""
        headers = {"content-type": "application/json"}
        self._queue.append(_Step(body=body, headers=headers))

    def tool_use_block(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A ``tool_use`` content block with a fresh id."""
        return {
            "type": "tool_use",
            "id": f"toolu_fake_{next(self._ids):04d}",
            "name": name,
            "input": args,
        }

    @staticmethod
    def _thinking_blocks(thinking: str | None, redacted: str | None) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if thinking is not None:
            blocks.append(
                {"type": "thinking", "thinking": thinking, "signature": "sig-" + thinking[:16]}
            )
        if redacted is not None:
            blocks.append({"type": "redacted_thinking", "data": redacted})
        return blocks

    @property
    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        return len(self._queue)

    # -- serving -----------------------------------------------------------------------------

    @property
    def transport(self) -> httpx2.MockTransport:
        """The transport to give ``httpx2.Client``."""
        return httpx2.MockTransport(self.handle)

    def client(self, *, max_retries: int = 0, timeout: float = 5.0) -> Anthropic:
        """A real ``Anthropic`` client whose HTTP goes to this fake."""
        return Anthropic(
            api_key=FAKE_API_KEY,
            base_url="http://fake-anthropic.test",
            max_retries=max_retries,
            timeout=timeout,
            http_client=httpx2.Client(transport=self.transport),
        )

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        """Serve the next scripted step for one HTTP request."""
        body: dict[str, Any] = json.loads(request.content or b"{}")
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        side = self.side(body) if self.side is not None else None
        if side is not None:
            return httpx2.Response(200, json=self._complete(side, body))
        if not self._queue:
            self.unscripted_calls += 1
            return self._error_response(500, "no scripted response left")
        step = self._queue.popleft()
        if step.raise_timeout:
            raise httpx2.ReadTimeout("fake read timeout", request=request)
        if step.body is not None:
            return httpx2.Response(step.status, content=step.body, headers=step.headers)
        reply = step.responder(body) if step.responder else dict(step.message or {})
        return httpx2.Response(200, json=self._complete(reply, body))

    def _complete(self, reply: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        message = {
            "id": f"msg_fake_{next(self._ids):04d}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "claude-fake"),
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "content": [],
        }
        message.update(reply)
        message.setdefault("usage", self._usage(request, message["content"]))
        return message

    def _usage(self, request: dict[str, Any], content: list[Any]) -> dict[str, int]:
        prefix = {"tools": request.get("tools", []), "system": request.get("system", "")}
        prefix_tokens = estimate_tokens(prefix)
        total = estimate_tokens({**prefix, "messages": request.get("messages", [])})
        cache_read = cache_write = 0
        if _has_cache_control(prefix) and prefix_tokens >= MIN_CACHEABLE_TOKENS:
            key = json.dumps(prefix, sort_keys=True)
            if key in self._cached_prefixes:
                cache_read = prefix_tokens
            else:
                cache_write = prefix_tokens
                self._cached_prefixes.add(key)
        return {
            "input_tokens": total - cache_read - cache_write,
            "output_tokens": estimate_tokens(content),
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        }

    @staticmethod
    def _error_response(status: int, message: str) -> httpx2.Response:
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return httpx2.Response(status, json=body)


def _has_cache_control(value: object) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cache_control(v) for v in value)
    return False
