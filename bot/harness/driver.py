"""Send signed Slack requests (commands, events, actions, view submissions) to a served Bolt app."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from slack_bolt import App
from slack_sdk.signature import SignatureVerifier

from bot.harness.fake_slack import APP_ID, BOT_USER_ID, TEAM_ID
from bot.harness.http import EVENTS_PATH, make_server

if TYPE_CHECKING:
    from bot.harness.fake_slack import FakeSlack

DEFAULT_USER = "U0CSM001"
DEFAULT_CHANNEL = "C0TEST"
# Nothing listens on the discard port: a response_url that can never reach the internet.
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/response/none"


@dataclass
class DriverResponse:
    """What the app answered over HTTP."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    def json(self) -> Any:
        """The body decoded as JSON (an ``ack(...)`` with content)."""
        return json.loads(self.body)


class SlackDriver:
    """Plays Slack's side of the Events API against a running app's ``/slack/events``."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        fake: FakeSlack | None = None,
        team_id: str = TEAM_ID,
        timeout: float = 10.0,
    ) -> None:
        url = base_url.rstrip("/")
        self.url = url if url.endswith(EVENTS_PATH) else url + EVENTS_PATH
        self._verifier = SignatureVerifier(signing_secret)
        self._fake = fake
        self.team_id = team_id
        self.timeout = timeout
        self._ids = itertools.count(1)

    # -- payloads -----------------------------------------------------------------------------

    def command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        team_id: str | None = None,
        response_url: str | None = None,
    ) -> DriverResponse:
        """A slash command, form-encoded like Slack sends it."""
        team = team_id or self.team_id
        form = {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "cs-test",
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else "cs-test",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or self._response_url(),
            "trigger_id": self._trigger_id(),
        }
        return self._send_form(urlencode(form))

    def event(
        self,
        event: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
    ) -> DriverResponse:
        """An Events API ``event_callback`` wrapping ``event``; ``retry_num`` marks a redelivery."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {"Content-Type": "application/json"}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self._send(json.dumps(envelope).encode(), headers)

    def action(
        self,
        action_id: str,
        value: str = "",
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        message_ts: str | None = None,
        response_url: str | None = None,
        block_id: str = "actions",
        view: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        element: Mapping[str, Any] | None = None,
    ) -> DriverResponse:
        """A button press (``block_actions``) in a message, or in ``view`` (App Home, modal).

        ``element`` overrides the action's fields for other elements, e.g. a menu choice
        ``{"type": "static_select", "selected_option": {"value": "7"}}`` or a user picker
        ``{"type": "users_select", "selected_user": "U0…"}``; ``action_ts`` can be set to
        replay the same press.
        """
        now = f"{time.time():.6f}"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": "cs-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": now,
                    **dict(element or {}),
                }
            ],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0HOME")}
            payload["view"] = dict(view)
        else:
            ts = message_ts or now
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": message_ts is None,
            }
            payload["channel"] = {"id": channel_id, "name": "cs-test"}
            payload["message"] = dict(message) if message else {"type": "message", "ts": ts}
            payload["response_url"] = response_url or self._response_url()
        return self._send_form(urlencode({"payload": json.dumps(payload)}))

    def message_shortcut(
        self,
        callback_id: str,
        message_text: str,
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        message_ts: str = "1700000000.000100",
    ) -> DriverResponse:
        """A message shortcut (``message_action``) on a message saying ``message_text``."""
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(),
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team_id, "domain": "cs-test"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "channel": {"id": channel_id, "name": "cs-test"},
            "message": {
                "type": "message",
                "user": "U0CUSTOMER",
                "ts": message_ts,
                "text": message_text,
            },
            "message_ts": message_ts,
            "response_url": self._response_url(),
            "token": "legacy-verification-token",
            "is_enterprise_install": False,
        }
        return self._send_form(urlencode({"payload": json.dumps(payload)}))

    def view_submission(
        self,
        callback_id: str,
        values: Mapping[str, Any],
        private_metadata: str = "",
        *,
        user_id: str = DEFAULT_USER,
        view_id: str = "V0MODAL",
    ) -> DriverResponse:
        """A modal submission; ``values`` is Slack's ``view.state.values`` shape."""
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "cs-test"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": self._trigger_id(),
            "view": {
                "id": view_id,
                "team_id": self.team_id,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": dict(values)},
                "hash": "1.abcdef",
                "blocks": [],
            },
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return self._send_form(urlencode({"payload": json.dumps(payload)}))

    # -- transport ----------------------------------------------------------------------------

    def signed_headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body) or ""
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}

    def raw(self, body: bytes, headers: Mapping[str, str]) -> DriverResponse:
        """POST ``body`` with exactly ``headers`` (no signing): for testing refusals."""
        parts = urlsplit(self.url)
        started = time.perf_counter()
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout)
        try:
            conn.request("POST", parts.path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", errors="replace")
            return DriverResponse(
                status=resp.status,
                body=text,
                headers={k.lower(): v for k, v in resp.getheaders()},
                elapsed=time.perf_counter() - started,
            )
        finally:
            conn.close()

    def _send(self, body: bytes, headers: Mapping[str, str]) -> DriverResponse:
        return self.raw(body, {**headers, **self.signed_headers(body)})

    def _send_form(self, form: str) -> DriverResponse:
        return self._send(form.encode(), {"Content-Type": "application/x-www-form-urlencoded"})

    def _response_url(self) -> str:
        return self._fake.response_url() if self._fake is not None else UNREACHABLE_RESPONSE_URL

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.{uuid.uuid4().hex[:16]}"


@dataclass
class ServedApp:
    """A Bolt app being served over HTTP on loopback."""

    url: str
    host: str
    port: int

    @property
    def events_url(self) -> str:
        """Where Slack would send events, commands and interactions."""
        return self.url + EVENTS_PATH


@contextmanager
def serve_app(app: App, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServedApp]:
    """Serve ``app`` over HTTP in a daemon thread for the duration of the ``with`` block."""
    server = make_server(app, host=host, port=port)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="bolt-http", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    try:
        yield ServedApp(
            url=f"http://{bound_host!s}:{bound_port}", host=str(bound_host), port=int(bound_port)
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
