"""A loopback fake of the Slack Web API: answers like Slack, records every call, checks Block Kit.

Start it with ``with FakeSlack() as fake:`` and point a ``WebClient(base_url=fake.url)`` (or
``Settings.slack_api_url``) at it. Slash-command ``response_url`` values come from
``fake.response_url()``; what the app posts there is recorded as method ``"response_url"``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from bot.harness.block_kit_checks import (
    MESSAGE_BLOCKS_MAX,
    VIEW_METHODS,
    block_problem,
    decode_blocks,
    json_or_none,
    maybe_json,
    validate_call,
)
from bot.harness.fake_slack_http import (
    DROP,
    channel_id,
    dm_channel,
    handler_for,
    has_token,
    ok_response,
    page_of,
)

logger = logging.getLogger(__name__)

RESPONSE_URL = "response_url"
"""The pseudo-method under which posts to a ``response_url`` are recorded."""
UPLOAD = "file_upload"
"""The pseudo-method under which file bytes posted to an upload URL are recorded."""

TEAM_ID = "T0TEST"
BOT_USER_ID = "U0CSBOT"
BOT_ID = "B0CSBOT"
APP_ID = "A0CSBOT"


WAIT_SECONDS = 20.0
"""How long a wait for calls may take by default: generous, because a loaded machine (CI, two
cores) can take seconds to build a QBR; a wait returns as soon as the calls have arrived."""


@dataclass
class SlackCall:
    """One request the fake received: the Web API method, its decoded parameters and headers."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    path: str = ""
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.perf_counter)
    """When the request arrived (``time.perf_counter()``), for latency measurements."""

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The message's blocks (``view.blocks`` for views), decoded from JSON when form-encoded."""
        source = self.params.get("view") if self.method in VIEW_METHODS else self.params
        if isinstance(source, str):
            source = json_or_none(source)
        if not isinstance(source, dict):
            return []
        return decode_blocks(source.get("blocks"))

    @property
    def text(self) -> str:
        """The message's ``text`` (or ``markdown_text`` for streams), or ``""``."""
        value = self.params.get("text") or self.params.get("markdown_text") or ""
        return str(value)


@dataclass
class SlackError:
    """A request the fake refused, and why (what Slack would only hint at)."""

    method: str
    error: str
    detail: str


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None


class FakeSlack:
    """A Slack Web API on 127.0.0.1 (port 0) in a daemon thread; see the module docstring."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: list[SlackCall] = []
        self.errors: list[SlackError] = []
        self.users: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._failures: dict[str, list[_Failure]] = {}
        self._drop_every: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self.dropped: list[SlackCall] = []
        self._counter = itertools.count(1)
        self._clock = itertools.count(1)
        self._server = ThreadingHTTPServer((host, port), handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL, ending in ``/api/`` (for ``WebClient(base_url=...)``)."""
        return f"{self.base}/api/"

    def start(self) -> Self:
        """Serve in a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test helpers -------------------------------------------------------------------------

    def response_url(self) -> str:
        """A fresh ``response_url`` that records what is posted to it."""
        return f"{self.base}/response/{next(self._counter)}"

    def calls_to(self, method: str) -> list[SlackCall]:
        """Every recorded call to ``method``, oldest first."""
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[SlackCall]:
        """Block until ``method`` was called ``count`` times; raise ``TimeoutError`` otherwise."""
        calls = self.wait_until(
            lambda seen: sum(c.method == method for c in seen) >= count,
            timeout=timeout,
            what=f"{count} call(s) to {method}",
        )
        return [c for c in calls if c.method == method]

    def wait_until(
        self,
        predicate: Callable[[list[SlackCall]], bool],
        *,
        timeout: float = WAIT_SECONDS,
        what: str = "condition",
    ) -> list[SlackCall]:
        """Block until ``predicate(calls)`` holds; return a snapshot of the calls."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.calls):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(c.method for c in self.calls) or "nothing"
                    raise TimeoutError(f"waited {timeout}s for {what}; received: {seen}")
                self._cond.wait(remaining)
            return list(self.calls)

    def wait_for_new(self, since: int, timeout: float) -> list[SlackCall]:
        """Calls recorded after index ``since``; waits up to ``timeout`` for at least one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.calls) <= since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.calls[since:]

    def reset(self) -> None:
        """Forget recorded calls, errors and pending failures."""
        with self._cond:
            self.calls.clear()
            self.errors.clear()
            self._failures.clear()
            self.dropped.clear()

    def drop_responses(self, method: str = "chat.postMessage", *, every: int = 3) -> None:
        """Accept every ``every``-th call to ``method`` and then drop its HTTP response.

        The call takes effect (a posted message is in the history) but the client sees the
        connection close without an answer: a lost response. ``every=0`` stops dropping.
        """
        with self._cond:
            if every:
                self._drop_every[method] = every
            else:
                self._drop_every.pop(method, None)
            self._seen[method] = 0

    def heal(self) -> None:
        """Stop failing and dropping; recorded calls (and so the history) are kept."""
        with self._cond:
            self._failures.clear()
            self._drop_every.clear()

    def _should_drop(self, method: str) -> bool:
        with self._cond:
            every = self._drop_every.get(method)
            if not every:
                return False
            self._seen[method] = self._seen.get(method, 0) + 1
            return self._seen[method] % every == 0

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
    ) -> None:
        """Make the next call to ``method`` fail like Slack does (429 carries ``Retry-After``)."""
        with self._cond:
            self._failures.setdefault(method, []).append(_Failure(error, status, retry_after))

    # -- request handling (called from server threads) ----------------------------------------

    def _record(self, call: SlackCall) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _reject(self, method: str, error: str, detail: str) -> dict[str, Any]:
        with self._cond:
            self.errors.append(SlackError(method, error, detail))
        logger.info("fake slack refused %s: %s (%s)", method, error, detail)
        return {"ok": False, "error": error}

    def _take_failure(self, method: str) -> _Failure | None:
        with self._cond:
            pending = self._failures.get(method)
            return pending.pop(0) if pending else None

    def _ts(self) -> str:
        return f"{1_700_000_000 + next(self._clock)}.{next(self._counter):06d}"

    def handle(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any] | str]:
        """Answer one request: (status, extra headers, JSON body or plain text)."""
        if path.startswith("/response/"):
            return self._handle_response_url(path, params, headers)
        if path.startswith("/upload/"):
            self._record(SlackCall(UPLOAD, params, headers, path))
            return 200, {}, f"OK - {len(params.get('_bytes', b''))}"
        if not path.startswith("/api/"):
            return 404, {}, {"ok": False, "error": "not_found"}
        method = path.removeprefix("/api/")
        call = SlackCall(method, params, headers, path)
        failure = self._take_failure(method)
        if failure is not None:
            call.response = {"ok": False, "error": failure.error}
            self._record(call)
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            return failure.status, extra, call.response
        call.response = self._answer(method, params, headers)
        self._record(call)
        if call.response.get("ok") and self._should_drop(method):
            with self._cond:
                self.dropped.append(call)
            return DROP, {}, call.response
        return 200, {}, call.response

    def _handle_response_url(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any] | str]:
        call = SlackCall(RESPONSE_URL, params, headers, path)
        failure = self._take_failure(RESPONSE_URL)
        if failure is not None:
            call.response = {"ok": False, "error": failure.error}
            self._record(call)
            return failure.status, {}, call.response
        problem = block_problem(decode_blocks(params.get("blocks")), MESSAGE_BLOCKS_MAX)
        if problem is not None:
            call.response = self._reject(RESPONSE_URL, "invalid_blocks", problem)
            self._record(call)
            return 400, {}, call.response
        call.response = {"ok": True}
        self._record(call)
        return 200, {}, call.response

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        if not has_token(params, headers):
            return self._reject(method, "not_authed", "no token in Authorization or params")
        handler = self._handlers().get(method)
        if handler is None:
            return self._reject(method, "unknown_method", f"the fake does not know {method}")
        problem = validate_call(method, params)
        if problem is not None:
            error, detail = problem
            return self._reject(method, error, detail)
        return handler(params)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        ok = ok_response
        return {
            "auth.test": lambda p: ok(
                url="https://cs-test.slack.com/",
                team="CS Test",
                user="csbot",
                team_id=TEAM_ID,
                user_id=BOT_USER_ID,
                bot_id=BOT_ID,
                is_enterprise_install=False,
            ),
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": lambda p: ok(message_ts=self._ts()),
            "chat.update": lambda p: ok(
                channel=p.get("channel"), ts=p.get("ts"), text=p.get("text")
            ),
            "chat.delete": lambda p: ok(channel=p.get("channel"), ts=p.get("ts")),
            "chat.startStream": lambda p: ok(channel=p.get("channel"), ts=self._ts()),
            "chat.appendStream": lambda p: ok(channel=p.get("channel"), ts=p.get("ts")),
            "chat.stopStream": lambda p: ok(
                channel=p.get("channel"),
                ts=p.get("ts"),
                message={"ts": p.get("ts"), "text": p.get("markdown_text", "")},
            ),
            "views.publish": self._view,
            "views.open": self._view,
            "views.update": self._view,
            "views.push": self._view,
            "conversations.open": lambda p: ok(channel={"id": dm_channel(p)}),
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "conversations.list": self._list_channels,
            "conversations.info": lambda p: ok(
                channel={"id": p.get("channel"), "name": "cs-test", "is_im": False}
            ),
            "users.info": lambda p: ok(user=self._user(str(p.get("user", "")))),
            "users.lookupByEmail": lambda p: ok(user=self._user("U0CSM001")),
            "assistant.threads.setStatus": lambda p: ok(),
            "assistant.threads.setSuggestedPrompts": lambda p: ok(),
            "assistant.threads.setTitle": lambda p: ok(),
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "reactions.add": lambda p: ok(),
            "reactions.remove": lambda p: ok(),
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        metadata = maybe_json(params.get("metadata"))
        if isinstance(metadata, dict):
            message["metadata"] = metadata
        return ok_response(channel=channel_id(params.get("channel")), ts=ts, message=message)

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message that landed (dropped responses included), oldest first."""
        with self._cond:
            calls = [c for c in self.calls if c.method == "chat.postMessage"]
        return [
            dict(c.response["message"], channel=c.response["channel"])
            for c in calls
            if c.response.get("ok")
            and isinstance(c.response.get("message"), dict)
            and (channel is None or c.response.get("channel") == channel)
        ]

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first, paged by ``limit``/``cursor``;
        metadata only with ``include_all_metadata`` (as Slack does)."""
        channel = str(params.get("channel", ""))
        messages = [m for m in self.posted(channel) if m.get("thread_ts") in (None, m.get("ts"))]
        return page_of(list(reversed(messages)), params)

    def _list_channels(self, params: dict[str, Any]) -> dict[str, Any]:
        names = {"cs-alerts", "cs-leaders", "sales-handoffs"}
        with self._cond:
            for call in self.calls:
                target = str(call.params.get("channel") or "")
                if target.startswith("#"):
                    names.add(target[1:])
        channels = [{"id": channel_id("#" + n), "name": n} for n in sorted(names)]
        return ok_response(channels=channels, response_metadata={"next_cursor": ""})

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = json_or_none(view) if isinstance(view, str) else view
        view = dict(view) if isinstance(view, dict) else {}
        view.setdefault("id", params.get("view_id") or f"V{next(self._counter):08d}")
        view.setdefault("team_id", TEAM_ID)
        view.setdefault("app_id", APP_ID)
        view.setdefault("bot_id", BOT_ID)
        view.setdefault("hash", f"{next(self._counter)}.abcdef")
        view.setdefault("state", {"values": {}})
        return ok_response(view=view)

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_ts = str(params.get("ts", ""))
        channel = str(params.get("channel", ""))
        with self._cond:
            posted = [c for c in self.calls if c.method == "chat.postMessage"]
        messages: list[dict[str, Any]] = []
        for call in posted:
            msg = call.response.get("message")
            if not isinstance(msg, dict) or call.response.get("channel") != channel:
                continue
            if msg.get("ts") == thread_ts or msg.get("thread_ts") == thread_ts:
                messages.append(msg)
        return page_of(messages, params)

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id in self.users:
            return self.users[user_id]
        name = user_id.lower() or "someone"
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"Test User {user_id}",
            "tz": "UTC",
            "is_bot": False,
            "profile": {
                "real_name": f"Test User {user_id}",
                "display_name": name,
                "email": f"{name}@example.com",
            },
        }

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._counter):08d}"
        return ok_response(upload_url=f"{self.base}/upload/{file_id}", file_id=file_id)

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        files = json_or_none(files) if isinstance(files, str) else files
        listed = files if isinstance(files, list) else []
        return ok_response(files=[{"id": f.get("id"), "title": f.get("title")} for f in listed])
