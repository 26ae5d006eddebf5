"""The local Slack harness: the fake Web API, the signed driver, the HTTP adapter, the terminal."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from slack_bolt import Ack, App, BoltRequest, Respond, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.harness import FakeSlack, SlackDriver, serve_app
from bot.harness.terminal import (
    TerminalSlack,
    buttons_in,
    mrkdwn_to_plain,
    render_message,
    render_plain,
)

SECRET = "harness-test-signing-secret"
Served = tuple[SlackDriver, list[dict[str, Any]]]
TOKEN = "xoxb-harness-test"


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, label: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


# -- FakeSlack ----------------------------------------------------------------------------------


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


# -- SlackDriver + serve_app --------------------------------------------------------------------


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


def tiny_app(client: WebClient, seen: list[dict[str, Any]], secret: str = SECRET) -> App:
    """One command, one action, one event, one view: enough to exercise every payload."""
    app = App(client=client, signing_secret=secret)

    @app.command("/health")
    def health(ack: Ack, respond: Respond, command: dict[str, Any]) -> None:
        ack()
        seen.append(command)
        respond(
            text=f"health of {command['text']}",
            blocks=[
                section(f"*{command['text']}* is GREEN"),
                {"type": "actions", "elements": [button("draft_qbr", "Draft QBR", "acme")]},
            ],
        )

    @app.action("draft_qbr")
    def draft(ack: Ack, body: dict[str, Any], say: Say) -> None:
        ack()
        seen.append(body)
        say(text=f"drafting the QBR for {body['actions'][0]['value']}")

    @app.event("message")
    def message(event: dict[str, Any], say: Say, request: BoltRequest) -> None:
        seen.append({"retry": request.headers.get("x-slack-retry-num"), **event})
        say(text=f"you said {event['text']}", thread_ts=event.get("thread_ts"))

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Your book"}},
                    {"type": "actions", "elements": [button("draft_qbr", "Draft QBR", "home")]},
                ],
            },
        )

    @app.view("qbr_modal")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        ack()
        seen.append(view)

    return app


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


# -- terminal rendering -------------------------------------------------------------------------

SAMPLE = [
    {"type": "header", "text": {"type": "plain_text", "text": "Acme Corp — health 42"}},
    section("*RED* since _Tuesday_: usage down 30%, see <https://x.test/acme|the dashboard>"),
    {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*Renewal*\nin 45 days"},
            {"type": "mrkdwn", "text": "*ARR*\n$120,000"},
            {"type": "mrkdwn", "text": "*Champion*\n<@U0CHAMP>"},
        ],
    },
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "drivers: logins, tickets"}]},
    {
        "type": "actions",
        "elements": [
            button("draft_qbr", "Draft QBR", "acme"),
            button("open_notion", "Open in Notion", "acme"),
        ],
    },
]


def test_render_plain_reads_like_the_message() -> None:
    assert render_plain(SAMPLE, "Acme Corp health 42").splitlines() == [
        "# Acme Corp — health 42",
        "RED since Tuesday: usage down 30%, see the dashboard",
        "Renewal in 45 days  ARR $120,000",
        "Champion @U0CHAMP",
        "-" * 40,
        "drivers: logins, tickets",
        "[1] Draft QBR  [2] Open in Notion",
    ]


def test_render_plain_falls_back_to_text() -> None:
    assert render_plain([], "*Acme* is <!here|here> &amp; fine") == "Acme is @here & fine"


def test_mrkdwn_leaves_snake_case_alone() -> None:
    assert mrkdwn_to_plain("see health_score_for and 2*3*4") == "see health_score_for and 2*3*4"


def test_rich_rendering_knows_slack_emoji_names() -> None:
    text = render_message([], ":large_yellow_circle: *AMBER*")
    assert isinstance(text, Text)
    assert text.plain == "\N{LARGE YELLOW CIRCLE} AMBER"


def test_buttons_are_numbered_in_reading_order() -> None:
    buttons = buttons_in(SAMPLE, first=3)
    assert [(b.number, b.label, b.action_id, b.value) for b in buttons] == [
        (3, "Draft QBR", "draft_qbr", "acme"),
        (4, "Open in Notion", "open_notion", "acme"),
    ]


def test_render_message_prints_in_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render_message(SAMPLE, "fallback"))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Acme Corp — health 42" in output
    assert "RED since Tuesday" in output
    assert "[1]" in output
    assert "Draft QBR" in output


# -- the interactive session --------------------------------------------------------------------


def test_terminal_session_drives_the_app() -> None:
    seen: list[dict[str, Any]] = []
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)

    def factory(settings: Settings, sessions: Any, fake: FakeSlack) -> App:
        assert settings.slack_api_url == fake.url
        assert settings.slack_bot_token is not None
        assert settings.slack_signing_secret is not None
        token = settings.slack_bot_token.get_secret_value()
        secret = settings.slack_signing_secret.get_secret_value()
        return tiny_app(WebClient(token=token, base_url=fake.url), seen, secret)

    with TerminalSlack(
        Settings(_env_file=None),  # type: ignore[call-arg]
        session_factory=lambda: None,  # type: ignore[arg-type,return-value]
        console=console,
        app_factory=factory,
        first_reply_timeout=2.0,
        settle=0.2,
    ) as session:
        assert session.handle("/health acme")
        assert "acme is GREEN" in out.getvalue()
        assert session.handle("1")
        assert "drafting the QBR for acme" in out.getvalue()
        assert session.handle("home")
        assert "Your book" in out.getvalue()
        assert session.handle("hello there")
        assert "you said hello there" in out.getvalue()
        assert not session.handle("quit")
    assert "xoxb" not in out.getvalue()


def test_button_numbers_stay_with_their_message_when_a_late_dm_arrives() -> None:
    seen: list[dict[str, Any]] = []
    out = io.StringIO()

    def factory(settings: Settings, sessions: Any, fake: FakeSlack) -> App:
        assert settings.slack_bot_token is not None
        assert settings.slack_signing_secret is not None
        token = settings.slack_bot_token.get_secret_value()
        client = WebClient(token=token, base_url=fake.url)
        return tiny_app(client, seen, settings.slack_signing_secret.get_secret_value())

    with TerminalSlack(
        Settings(_env_file=None),  # type: ignore[call-arg]
        session_factory=lambda: None,  # type: ignore[arg-type,return-value]
        console=Console(file=out, width=100, color_system=None),
        app_factory=factory,
        first_reply_timeout=2.0,
        settle=0.2,
    ) as session:
        assert session.handle("/health acme")  # shows [1] Draft QBR (value acme)
        late = [{"type": "actions", "elements": [button("draft_qbr", "Draft QBR", "late-dm")]}]
        WebClient(token="xoxb-late", base_url=session.fake.url).chat_postMessage(
            channel="D0CSM001", text="a late DM", blocks=late
        )
        assert session.handle("1")  # the late DM is shown first, as [2]; 1 is still acme's
        assert re.search(r"\[2\]\s+Draft QBR", out.getvalue())
        assert session.handle("2")
    pressed = [b["actions"][0]["value"] for b in seen if isinstance(b, dict) and "actions" in b]
    assert pressed == ["acme", "late-dm"]


def test_binary_file_upload_is_recorded_byte_for_byte(fake: FakeSlack, client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    client.files_upload_v2(channel="C0CSM", content=png, filename="trend.png", title="Trend")
    (upload,) = fake.calls_to("file_upload")
    assert upload.params["_bytes"] == png
    (complete,) = fake.calls_to("files.completeUploadExternal")
    assert complete.params.get("channel_id") == "C0CSM"
