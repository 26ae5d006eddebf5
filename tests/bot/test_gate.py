"""The request gate, through the real app and the fake Slack: nothing unverified acts.

For every listener kind (slash command, event, action, view submission, shortcut, App Home) a
request with a missing, empty, non-integer, float or stale timestamp, or a bad signature, gets
401 and causes no outbound call (no Web API call, no POST to its ``response_url``); an oversized
body gets 413 before it is read; a signed but malformed payload gets 400 and one log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.app import create_app
from bot.gate import MAX_BODY_BYTES, check_signature
from bot.harness import DriverResponse, FakeSlack, SlackDriver
from tests.utils.slack_e2e import SECRET, TOKEN, e2e_settings
from tools import db

OWNER = "U0CSM001"


class CapturingDriver(SlackDriver):
    """Builds exactly the body Slack would send, then keeps it instead of sending it."""

    captured: tuple[bytes, dict[str, str]] | None = None

    def _send(self, body: bytes, headers: Mapping[str, str]) -> DriverResponse:
        self.captured = (body, {**headers, **self.signed_headers(body)})
        return DriverResponse(status=0, body="")


def build(driver: SlackDriver, fake: FakeSlack, kind: str) -> tuple[bytes, dict[str, str]]:
    """The signed body and headers of one request of ``kind``, as Slack would send it."""
    capture = CapturingDriver(driver.url, SECRET, fake=fake)
    send: dict[str, Callable[[], Any]] = {
        "slash": lambda: capture.command("/health", "acme"),
        "event": lambda: capture.event(
            {"type": "app_mention", "user": OWNER, "channel": "C0TEST", "text": "hi", "ts": "1.1"}
        ),
        "action": lambda: capture.action("qbr_discard", "1"),
        "view": lambda: capture.view_submission("handoff_edit", {}, '{"id": 1}'),
        "home": lambda: capture.event({"type": "app_home_opened", "user": OWNER, "tab": "home"}),
    }
    if kind == "shortcut":
        payload = {
            "type": "message_action",
            "callback_id": "log_to_account",
            "trigger_id": "1.2.3",
            "user": {"id": OWNER},
            "team": {"id": driver.team_id},
            "channel": {"id": "C0TEST"},
            "message": {"ts": "1.1", "text": "hi"},
            "response_url": fake.response_url(),
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return body, {
            "Content-Type": "application/x-www-form-urlencoded",
            **driver.signed_headers(body),
        }
    send[kind]()
    assert capture.captured is not None
    return capture.captured


KINDS = ["slash", "event", "action", "view", "shortcut", "home"]
EFFECTS = {  # what a signed request of each kind makes the app call (action, view: nothing)
    "slash": "response_url",
    "event": "chat.postMessage",
    "shortcut": "views.open",
    "home": "views.publish",
}
BAD_TIMESTAMPS = ["abc", "1e3", "x", "", " ", "1.5", "+1", "-1", "0x10", "1\u00b2"]


def assert_no_outbound(fake: FakeSlack, driver: SlackDriver) -> None:
    """Nothing was called: proven by a verified request's reply arriving alone afterwards."""
    driver.event({"type": "app_home_opened", "user": OWNER, "tab": "home"})
    calls = fake.wait_for("views.publish")
    time.sleep(0.2)  # let any stray lazy listener of a refused request show up
    assert [c.method for c in fake.calls] == ["views.publish"]
    assert calls[0].params.get("user_id") == OWNER


@pytest.mark.parametrize("kind", KINDS)
def test_bad_timestamps_and_signatures_get_401_and_no_calls(
    driver: SlackDriver, fake: FakeSlack, kind: str
) -> None:
    body, headers = build(driver, fake, kind)
    now = str(int(time.time()))
    variants: list[dict[str, str]] = [
        {**headers, "X-Slack-Request-Timestamp": ts} for ts in BAD_TIMESTAMPS
    ]
    variants.append({k: v for k, v in headers.items() if k != "X-Slack-Request-Timestamp"})
    variants.append({k: v for k, v in headers.items() if k != "X-Slack-Signature"})
    variants.append({**headers, "X-Slack-Signature": "v0=" + "0" * 64})
    variants.append({**headers, "X-Slack-Signature": "garbage"})
    variants.append({**headers, **driver.signed_headers(body, timestamp=int(now) - 301)})
    variants.append({**headers, "X-Csbot-Verified": "forged"})
    variants[-1]["X-Slack-Signature"] = "v0=" + "1" * 64
    statuses = {driver.raw(body, h).status for h in variants}
    assert statuses == {401}
    assert_no_outbound(fake, driver)


@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_request_of_every_kind_passes_the_gate(
    driver: SlackDriver, fake: FakeSlack, kind: str
) -> None:
    body, headers = build(driver, fake, kind)
    assert driver.raw(body, headers).status in (200, 404)  # 404: no listener for the shortcut
    # Its lazy work finishes here, not in the next test (App Home can take over a second on a
    # loaded machine): wait for the call it makes, then a little for anything after it.
    effect = EFFECTS.get(kind)
    if effect is not None:
        fake.wait_for(effect)
    time.sleep(0.3)


def post_raw(driver: SlackDriver, head: str, body: bytes) -> str:
    """Send ``head`` and ``body`` on a socket; the status line the server answered."""
    parts = urlsplit(driver.url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5) as conn:
        conn.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        with contextlib.suppress(OSError):  # the server answered and closed without reading
            conn.sendall(body)
        return conn.recv(200).decode().split("\r\n", 1)[0]


def test_oversized_body_gets_413_without_being_read(driver: SlackDriver, fake: FakeSlack) -> None:
    claimed = 200 * 1024 * 1024  # the rest never comes: the gate must answer without it
    head = f"Content-Length: {claimed}\r\nContent-Type: application/json\r\n"
    assert " 413 " in post_raw(driver, head, b"{" * 1024)
    assert_no_outbound(fake, driver)


def test_signed_body_over_the_cap_gets_413(driver: SlackDriver, fake: FakeSlack) -> None:
    body = urlencode({"command": "/health", "text": "a" * MAX_BODY_BYTES}).encode()
    signed = driver.signed_headers(body)
    head = "".join(f"{k}: {v}\r\n" for k, v in signed.items())
    head += f"Content-Length: {len(body)}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    assert " 413 " in post_raw(driver, head, body)
    assert_no_outbound(fake, driver)


def test_body_without_length_gets_411(driver: SlackDriver) -> None:
    parts = urlsplit(driver.url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5) as conn:
        head = f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.sendall(head.encode() + b"5\r\nhello\r\n")
        assert " 411 " in conn.recv(200).decode()


def _signed(driver: SlackDriver, body: bytes, content_type: str) -> DriverResponse:
    return driver.raw(body, {"Content-Type": content_type, **driver.signed_headers(body)})


def _payload(data: Any) -> bytes:
    return urlencode({"payload": json.dumps(data) if not isinstance(data, str) else data}).encode()


MALFORMED: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"type": "event_callback"}', "application/json"),
    (_payload("{bad json"), "application/x-www-form-urlencoded"),
    (_payload({"type": "block_actions", "actions": []}), "application/x-www-form-urlencoded"),
    (_payload({"type": "block_actions", "actions": [1]}), "application/x-www-form-urlencoded"),
    (_payload({"type": "view_submission", "view": {}}), "application/x-www-form-urlencoded"),
    (_payload({"type": "view_submission"}), "application/x-www-form-urlencoded"),
    (_payload({"actions": [{"action_id": "x"}]}), "application/x-www-form-urlencoded"),
    (b"text=no+command", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_signed_but_malformed_payloads_get_400_and_one_log_line(
    driver: SlackDriver,
    fake: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
) -> None:
    with caplog.at_level(logging.INFO):
        assert _signed(driver, body, content_type).status == 400
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "malformed" in records[0].getMessage()
    assert records[0].exc_info is None
    assert_no_outbound(fake, driver)


def test_unverified_bodies_are_never_logged(
    driver: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"command=%2Fhealth&text=SECRET-MARKER-" + b"z" * 5000
    with caplog.at_level(logging.DEBUG):
        driver.raw(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert "SECRET-MARKER" not in caplog.text


def test_app_error_handler_ignores_requests_that_skipped_the_gate(
    fake: FakeSlack, demo_engine: Engine
) -> None:
    """Defence in depth: dispatched to Bolt directly (no gate), a request with a broken
    timestamp reaches the error handler, which answers 401 and calls nothing."""
    app = create_app(
        e2e_settings(fake),
        session_factory=db.session_factory(demo_engine),
        client=WebClient(token=TOKEN, base_url=fake.url),
    )
    fake.reset()  # building the app checks its token (auth.test); the request must call nothing
    body = urlencode(
        {"command": "/health", "text": "acme", "user_id": OWNER, "channel_id": "C0TEST",
         "response_url": fake.response_url(), "team_id": "T0TEST"}
    )  # fmt: skip
    headers = {"x-slack-request-timestamp": ["1e3"], "x-slack-signature": ["v0=00"]}
    response = app.dispatch(BoltRequest(body=body, headers=headers))
    assert response.status == 401
    time.sleep(0.2)
    assert fake.calls == []


def test_signature_check_refuses_every_malformed_timestamp() -> None:
    body = b"x"
    for ts in [*BAD_TIMESTAMPS, None, "9" * 13, "\u0661\u0662"]:
        assert check_signature(body, ts, "v0=" + "0" * 64, secret=SECRET, now=0.0) is not None
    assert check_signature(body, "100", None, secret="", now=100.0) is not None
    signature = "v0=" + "0" * 64
    assert check_signature(b"\xff", "100", signature, secret=SECRET, now=100.0) is not None
