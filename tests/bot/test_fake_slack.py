"""The fake Slack Web API: answers like Slack, records every call, refuses what Slack refuses."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.harness import FakeSlack
from tests.utils.tiny_slack_app import TOKEN, button, section


def test_post_message_is_answered_and_recorded(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("*Acme* is healthy")]
    result = client.chat_postMessage(channel="C0TEST", text="Acme is healthy", blocks=blocks)

    assert result["ok"] is True
    assert result["channel"] == "C0TEST"
    assert float(result["ts"]) > 0
    (call,) = fake.calls_to("chat.postMessage")
    assert call.params["channel"] == "C0TEST"
    assert call.blocks == blocks
    assert call.text == "Acme is healthy"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


def test_form_encoded_calls_are_decoded(fake: FakeSlack, client: WebClient) -> None:
    result = client.files_getUploadURLExternal(filename="qbr.md", length=12)

    assert result["upload_url"].startswith(fake.base)
    (call,) = fake.calls_to("files.getUploadURLExternal")
    assert call.params == {"filename": "qbr.md", "length": "12"}


def test_form_encoded_blocks_are_validated_too(fake: FakeSlack) -> None:
    blocks = json.dumps([section("x" * 3001)])
    client = WebClient(token=TOKEN, base_url=fake.url)
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.postMessage", params={"channel": "C1", "text": "t", "blocks": blocks})
    assert raised.value.response["error"] == "invalid_blocks"


def test_consecutive_messages_get_distinct_timestamps(client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="one")["ts"]
    second = client.chat_postMessage(channel="C1", text="two")["ts"]
    assert first != second


def test_thread_replies_come_back_from_conversations_replies(client: WebClient) -> None:
    root = client.chat_postMessage(channel="C1", text="root")["ts"]
    client.chat_postMessage(channel="C1", text="reply", thread_ts=root)

    replies = client.conversations_replies(channel="C1", ts=root)["messages"]
    assert [m["text"] for m in replies] == ["root", "reply"]


TOO_BIG = {
    "51 blocks": [section("x")] * 51,
    "section text": [section("x" * 3001)],
    "11 fields": [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"} for _ in range(11)]}
    ],
    "long field": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
    "header": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "button value": [{"type": "actions", "elements": [button("a", "Go", "v" * 2001)]}],
    "action_id": [{"type": "actions", "elements": [button("a" * 256, "Go")]}],
    "unknown type": [{"type": "no_such_block"}],
}


@pytest.mark.parametrize("blocks", TOO_BIG.values(), ids=TOO_BIG.keys())
def test_blocks_over_slack_limits_are_refused(
    fake: FakeSlack, client: WebClient, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="fallback", blocks=blocks)

    assert raised.value.response["error"] == "invalid_blocks"
    assert [e.method for e in fake.errors] == ["chat.postMessage"]


def test_blocks_at_the_limits_are_accepted(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("x" * 3000)] * 49 + [
        {"type": "actions", "elements": [button("a" * 255, "Go", "v" * 2000)]}
    ]
    assert client.chat_postMessage(channel="C1", text="ok", blocks=blocks)["ok"]
    assert fake.errors == []


def test_blocks_without_text_fallback_are_refused(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised, pytest.warns(UserWarning, match="text"):
        client.chat_postEphemeral(channel="C1", user="U1", blocks=[section("x")])
    assert raised.value.response["error"] == "invalid_blocks"
    assert "text fallback" in fake.errors[0].detail


def test_views_allow_100_blocks_not_101(fake: FakeSlack, client: WebClient) -> None:
    view = {"type": "home", "blocks": [section("x")] * 100}
    assert client.views_publish(user_id="U1", view=view)["view"]["id"]

    with pytest.raises(SlackApiError) as raised:
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("x")] * 101})
    assert raised.value.response["error"] == "invalid_blocks"


def test_calls_without_a_token_are_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=fake.url).auth_test()
    assert raised.value.response["error"] == "not_authed"


def test_fail_next_answers_429_with_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] in ("7", ["7"])


def test_rate_limit_retry_handler_recovers(fake: FakeSlack) -> None:
    client = WebClient(
        token=TOKEN,
        base_url=fake.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", retry_after=0)

    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True
    assert [c.response["ok"] for c in fake.calls_to("chat.postMessage")] == [False, True]


def test_wait_for_sees_calls_made_later(fake: FakeSlack, client: WebClient) -> None:
    def react() -> None:
        client.reactions_add(channel="C1", name="eyes", timestamp="1.2")

    timer = threading.Timer(0.1, react)
    timer.start()
    calls = fake.wait_for("reactions.add", timeout=5)
    timer.join()
    assert calls[0].params["name"] == "eyes"


def test_wait_for_times_out_with_what_it_saw(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(TimeoutError, match=r"auth\.test"):
        fake.wait_for("chat.postMessage", timeout=0.1)


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    url = fake.response_url()
    assert WebhookClient(url).send(text="done", response_type="ephemeral").status_code == 200

    (call,) = fake.wait_for("response_url")
    assert call.params == {"text": "done", "response_type": "ephemeral"}
    assert call.path == url.removeprefix(fake.base)


def test_reset_forgets_calls(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    fake.reset()
    assert fake.calls == []


def test_binary_file_upload_is_recorded_byte_for_byte(fake: FakeSlack, client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    client.files_upload_v2(channel="C0CSM", content=png, filename="trend.png", title="Trend")
    (upload,) = fake.calls_to("file_upload")
    assert upload.params["_bytes"] == png
    (complete,) = fake.calls_to("files.completeUploadExternal")
    assert complete.params.get("channel_id") == "C0CSM"
