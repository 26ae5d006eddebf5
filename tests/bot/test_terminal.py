"""The terminal Slack: Block Kit rendered readably, and the interactive ``csbot chat`` session."""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console
from rich.text import Text
from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.harness import FakeSlack
from bot.harness.render import buttons_in, mrkdwn_to_plain, render_message, render_plain
from bot.harness.terminal import TerminalSlack
from tests.utils.tiny_slack_app import button, section, tiny_app

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
