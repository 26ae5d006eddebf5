"""The signed driver and the HTTP adapter: a Bolt app served locally, driven like Slack would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.harness import FakeSlack, SlackDriver, serve_app
from tests.utils.tiny_slack_app import SECRET, tiny_app

Served = tuple[SlackDriver, list[dict[str, Any]]]


def test_driver_signatures_verify() -> None:
    driver = SlackDriver("http://127.0.0.1:9", SECRET)
    body = b"command=%2Fhealth&text=acme"
    headers = driver.signed_headers(body)

    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert not SignatureVerifier("another-secret").is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )


@pytest.fixture
def served(fake: FakeSlack, client: WebClient) -> Iterator[Served]:
    seen: list[dict[str, Any]] = []
    with serve_app(tiny_app(client, seen)) as app_server:
        yield SlackDriver(app_server.url, SECRET, fake=fake), seen


def test_serve_app_round_trips_a_signed_command(fake: FakeSlack, served: Served) -> None:
    driver, seen = served
    response = driver.command("/health", "acme")

    assert response.status == 200
    (reply,) = fake.wait_for("response_url")
    assert reply.params["text"] == "health of acme"
    assert seen[0]["user_id"] == "U0CSM001"
    assert seen[0]["response_url"].startswith(fake.base)


def test_unsigned_requests_are_refused(served: Served) -> None:
    driver, seen = served
    body = b"command=%2Fhealth&text=acme"
    bad = driver.raw(body, {"Content-Type": "application/x-www-form-urlencoded"})
    forged = driver.raw(
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert (bad.status, forged.status) == (401, 401)
    assert seen == []


def test_action_payload_reaches_the_listener(fake: FakeSlack, served: Served) -> None:
    driver, seen = served
    response = driver.action("draft_qbr", "acme", channel_id="C0CS", message_ts="1700000000.000100")

    assert response.status == 200
    (posted,) = fake.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C0CS"
    assert posted.params["text"] == "drafting the QBR for acme"
    assert seen[0]["container"]["message_ts"] == "1700000000.000100"


def test_event_retries_carry_the_retry_header(fake: FakeSlack, served: Served) -> None:
    driver, seen = served
    event = {
        "type": "message",
        "channel": "D0CSM001",
        "channel_type": "im",
        "user": "U0CSM001",
        "text": "hi",
        "ts": "1700000000.000200",
    }
    assert driver.event(event, retry_num=1).status == 200

    fake.wait_for("chat.postMessage")
    assert seen[0]["retry"] == ["1"]
    assert seen[0]["text"] == "hi"


def test_view_submission_reaches_the_listener(
    served: Served,
) -> None:
    driver, seen = served
    values = {"account": {"name": {"type": "plain_text_input", "value": "Acme"}}}
    response = driver.view_submission("qbr_modal", values, private_metadata="acct-1")

    assert response.status == 200
    assert seen[0]["state"]["values"] == values
    assert seen[0]["private_metadata"] == "acct-1"


def test_healthz_answers_ok(served: Served) -> None:
    import urllib.request

    driver, _ = served
    url = driver.url.removesuffix("/slack/events") + "/healthz"
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback only
        assert resp.read() == b"ok"
