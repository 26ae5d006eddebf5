"""The output boundary (bot/slack_out.py): data is escaped, our own mentions and links are not."""

from __future__ import annotations

import json

import pytest

from bot.harness import SlackCall
from bot.slack_out import (
    channel_link,
    escape_data,
    link,
    mention,
    safe_text,
    sanitize_arguments,
    strip_marks,
)
from tests.utils.hostile import HOSTILE, unescaped


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_escaped_in_every_place_a_payload_has_text(text: str) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text},
               "fields": [{"type": "mrkdwn", "text": text}]}  # fmt: skip
    payload = {
        "channel": "C0TEST",
        "text": text,
        "markdown_text": text,
        "initial_comment": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": text}},
            section,
            {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]},
            {"type": "rich_text", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]},
            {"type": "markdown", "text": text},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": text}, "value": "7"}]},
        ],
        "attachments": [{"text": text, "pretext": text, "title": text, "footer": text,
                         "fields": [{"title": text, "value": text, "short": True}]}],
        "view": json.dumps({"type": "home", "blocks": [section]}),
        "chunks": [{"type": "markdown_text", "text": text}],
        "files": json.dumps([{"id": "F1", "title": text}]),
    }  # fmt: skip
    cleaned = sanitize_arguments(payload)
    problems = unescaped([SlackCall("chat.postMessage", cleaned, {})])
    assert problems == []
    assert cleaned["blocks"][5]["elements"][0]["value"] == "7"  # values are data, left alone
    assert cleaned["channel"] == "C0TEST"


def test_our_helpers_survive_and_data_cannot_forge_them() -> None:
    ours = (
        f"{mention('U0CSM001')} in {channel_link('C0SALES')}: {link('https://x.example/p', 'page')}"
    )
    text = escape_data("Acme <!channel> ") + ours
    assert safe_text(text) == (
        "Acme &lt;!channel&gt; <@U0CSM001> in <#C0SALES>: <https://x.example/p|page>"
    )
    forged = ours.replace(ours[1:25], "0" * 24)  # a marker with the wrong secret
    assert "<@" not in safe_text(forged)


def test_helpers_refuse_what_is_not_an_id_or_a_safe_url() -> None:
    assert safe_text(mention("U0X><!channel")) == "U0X&gt;&lt;!channel"
    assert safe_text(channel_link("#cs-alerts")) == "#cs-alerts"
    assert safe_text(link("javascript:alert(1)", "x")) == "x (javascript:alert(1))"
    assert safe_text(link("https://ok.example", "a|b<c>")) == "<https://ok.example|a/b&lt;c&gt;>"


def test_escaping_is_idempotent_and_markdown_links_are_neutralised() -> None:
    once = safe_text("a & b < c")
    assert safe_text(once) == once == "a &amp; b &lt; c"
    assert escape_data(escape_data("<x>")) == "&lt;x&gt;"
    md = safe_text("see [click here](https://evil.example) or [https://a.example](https://a.example)",
                   markdown=True)  # fmt: skip
    assert md == "see click here (https://evil.example) or https://a.example"
    assert strip_marks(mention("U0CSM001")) == "<@U0CSM001>"


def test_ack_errors_are_escaped() -> None:
    cleaned = sanitize_arguments({"response_action": "errors", "errors": {"b": "<!here>"}})
    assert cleaned["errors"] == {"b": "&lt;!here&gt;"}
