"""End to end: the real Bolt app over HTTP on loopback, signed requests in, a fake Slack out.

One demo portfolio (30 accounts) is generated per module; the app is served once and every test
sends real signed slash commands, events and button clicks, then asserts on what FakeSlack
received (valid blocks, the right content, how many posts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.harness import FakeSlack, SlackCall, SlackDriver
from tests.utils.slack_e2e import (
    TODAY,
    account_id,
    all_text,
    assert_valid,
    button_values,
    driving,
)
from tools import db

ACME_OWNER = "U0CSM001"

pytestmark = pytest.mark.usefixtures("fake")  # every test starts from a clean fake Slack


def only_response(fake: FakeSlack) -> SlackCall:
    (call,) = fake.wait_for("response_url")
    assert not fake.errors, fake.errors
    assert_valid(call)
    return call


def dm_event(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D0CSM001",
        "channel_type": "im",
        "user": ACME_OWNER,
        "text": text,
        "ts": f"{time.time():.6f}",
        **extra,
    }


# -- slash commands ------------------------------------------------------------------------------


def test_health_acme_shows_band_renewal_trigger_and_buttons(
    driver: SlackDriver, fake: FakeSlack
) -> None:
    resp = driver.command("/health", "acme")
    assert resp.status == 200
    assert resp.elapsed < 3.0
    call = only_response(fake)
    assert call.params.get("response_type") == "ephemeral"
    text = all_text(call)
    assert "Acme Corp" in text
    assert any(band in text for band in ("GREEN", "AMBER", "RED"))
    assert "Renewal at risk" in text  # the renewal-window churn trigger of the Acme story
    assert "$180,000" in text
    assert f"<@{ACME_OWNER}>" in text
    buttons = button_values(call)
    assert {"health_draft_qbr", "health_show_history", "health_share"} <= set(buttons)


@pytest.mark.parametrize("query", ["acm", "ACME corp.", "acne corp", "Acme"])
def test_health_resolves_partial_names_case_and_typos(
    driver: SlackDriver, fake: FakeSlack, query: str
) -> None:
    driver.command("/health", query)
    assert "Acme Corp ·" in all_text(only_response(fake))


def test_health_unknown_account_gets_suggestions(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/health", "zzz")
    text = all_text(only_response(fake))
    assert "couldn't find an account matching" in text
    assert "Try:" in text
    assert "/health" in text


def test_health_near_miss_offers_buttons(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/health", "umbrelaa helth")
    call = only_response(fake)
    assert "Umbrella Health" in all_text(call)


def test_health_without_account_gets_usage(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/health", "   ")
    text = all_text(only_response(fake))
    assert "Which account?" in text
    assert "Usage:" in text


def test_churn_ranks_at_risk_accounts(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/churn")
    call = only_response(fake)
    text = all_text(call)
    assert "At-risk accounts" in text
    assert "Acme Corp" in text
    assert "Globex" in text


def test_churn_mine_is_the_callers_book(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    driver.command("/churn", "mine", user_id=ACME_OWNER)
    call = only_response(fake)
    text = all_text(call)
    assert "Your at-risk accounts" in text
    assert "Acme Corp" in text
    assert "Globex" not in text  # owned by U0CSM002
    owners = {line for line in text.split() if line.startswith("<@U0CSM")}
    assert owners <= {f"<@{ACME_OWNER}>"}


def test_churn_with_bad_argument_gets_usage(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/churn", "everything")
    assert "Usage:" in all_text(only_response(fake))


def test_expansion_lists_opportunities(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/expansion")
    text = all_text(only_response(fake))
    assert "Expansion opportunities" in text
    assert "Initech" in text  # the over-cap story


def test_expansion_for_one_account(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/expansion", "initech")
    text = all_text(only_response(fake))
    assert "Initech · expansion opportunities" in text
    assert "Talk track" in text


@pytest.mark.parametrize("text", ["help", ""])
def test_csbot_help(driver: SlackDriver, fake: FakeSlack, text: str) -> None:
    driver.command("/csbot", text)
    out = all_text(only_response(fake))
    assert "cs-copilot help" in out
    assert "/health &lt;account&gt;" in out  # escaped: Slack would read <account> as a link


def test_csbot_answers_questions(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/csbot", "what renews next month?")
    assert "Renewals 01 Dec to 31 Dec 2026" in all_text(only_response(fake))


def test_qbr_starts_a_thread_with_the_health_summary(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/qbr", "acme", channel_id="C0CSTEAM")
    starter, summary, prep, deck = fake.wait_for("chat.postMessage", count=4, timeout=30)
    assert "Internal prep" in prep.text
    assert "Customer deck" in deck.text
    assert_valid(starter)
    assert_valid(summary)
    assert starter.params["channel"] == "C0CSTEAM"
    assert "QBR draft v" in all_text(starter)
    assert "Acme Corp" in all_text(starter)
    assert summary.params["thread_ts"] == starter.response["ts"]
    assert "Acme Corp — Q4 2026 QBR" in all_text(summary)
    assert {"qbr_publish_notion", "qbr_discard"} <= set(button_values(summary))
    (upload,) = fake.wait_for("file_upload")
    assert upload.params["_bytes"].startswith(b"\x89PNG")
    (complete,) = fake.wait_for("files.completeUploadExternal")
    assert complete.params.get("thread_ts") == starter.response["ts"]
    assert not fake.calls_to("response_url")


def test_qbr_unknown_account_answers_privately(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/qbr", "zzz")
    assert "couldn't find" in all_text(only_response(fake))
    assert not fake.calls_to("chat.postMessage")


# -- buttons -------------------------------------------------------------------------------------


def test_share_to_channel_posts_the_card_in_channel(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    acme = account_id(demo_engine, "acme")
    resp = driver.action("health_share", str(acme), user_id="U0CSM009")
    assert resp.status == 200
    call = only_response(fake)
    assert call.params.get("response_type") == "in_channel"
    text = all_text(call)
    assert "Acme Corp ·" in text
    assert "Shared by <@U0CSM009>" in text
    assert "health_share" not in button_values(call)


def test_history_button(driver: SlackDriver, fake: FakeSlack, demo_engine: Engine) -> None:
    driver.action("health_show_history", str(account_id(demo_engine, "acme")))
    text = all_text(only_response(fake))
    assert "Acme Corp · health history" in text
    assert TODAY.isoformat() in text


def test_propose_expansion_button(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    driver.action("health_propose_expansion", str(account_id(demo_engine, "initech")))
    assert "Initech · expansion opportunities" in all_text(only_response(fake))


def test_draft_qbr_button_starts_the_thread(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    driver.action("health_draft_qbr", str(account_id(demo_engine, "acme")), channel_id="C0CS")
    starter, *_ = fake.wait_for("chat.postMessage", count=4, timeout=30)
    assert starter.params["channel"] == "C0CS"


def test_open_health_button_and_stale_value(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    driver.action("health_open", str(account_id(demo_engine, "globex")))
    assert "Globex ·" in all_text(only_response(fake))
    fake.reset()
    driver.action("health_open", "not-an-id")
    assert "out of date" in all_text(only_response(fake))
    fake.reset()
    driver.action("health_open", "999999")
    assert "no longer exists" in all_text(only_response(fake))


def test_show_more_pages_the_at_risk_list(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.action("churn_show_more", json.dumps({"offset": 5, "mine": False}))
    call = only_response(fake)
    assert call.params.get("replace_original") is True
    assert "showing 6-" in all_text(call)


# -- events --------------------------------------------------------------------------------------


def test_dm_who_is_at_risk(driver: SlackDriver, fake: FakeSlack) -> None:
    resp = driver.event(dm_event("who is at risk?"))
    assert resp.status == 200
    (call,) = fake.wait_for("chat.postMessage")
    assert_valid(call)
    assert call.params["channel"] == "D0CSM001"
    assert "At-risk accounts" in all_text(call)


def test_dm_unknown_question_gets_a_useful_fallback(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.event(dm_event("what's the weather in Paris?"))
    (call,) = fake.wait_for("chat.postMessage")
    text = all_text(call)
    assert "can't answer" in text
    assert "who is at risk?" in text


def test_mention_replies_in_thread(driver: SlackDriver, fake: FakeSlack) -> None:
    event = {
        "type": "app_mention",
        "channel": "C0CSTEAM",
        "user": ACME_OWNER,
        "text": "<@U0CSBOT> how is acme doing?",
        "ts": "1762070000.000100",
    }
    driver.event(event)
    (call,) = fake.wait_for("chat.postMessage")
    assert call.params["thread_ts"] == "1762070000.000100"
    assert "Acme Corp ·" in all_text(call)


def test_agent_thread_started_sets_suggested_prompts(driver: SlackDriver, fake: FakeSlack) -> None:
    event = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": ACME_OWNER,
            "context": {},
            "channel_id": "D0CSM001",
            "thread_ts": "1762070001.000200",
        },
        "event_ts": "1762070001.000300",
    }
    driver.event(event)
    (call,) = fake.wait_for("assistant.threads.setSuggestedPrompts")
    assert call.params["thread_ts"] == "1762070001.000200"
    prompts = call.params["prompts"]
    prompts = json.loads(prompts) if isinstance(prompts, str) else prompts
    assert any(p["message"] == "Who is at risk?" for p in prompts)


def test_agent_thread_message_sets_status_and_replies_in_thread(
    driver: SlackDriver, fake: FakeSlack
) -> None:
    driver.event(dm_event("what renews next month?", thread_ts="1762070001.000200"))
    (reply,) = fake.wait_for("chat.postMessage")
    (status,) = fake.calls_to("assistant.threads.setStatus")
    assert fake.calls.index(status) < fake.calls.index(reply)
    assert status.params["thread_ts"] == "1762070001.000200"
    assert reply.params["thread_ts"] == "1762070001.000200"
    assert "Renewals" in all_text(reply)


@pytest.mark.parametrize(
    "extra",
    [
        {"bot_id": "B0OTHER"},
        {"subtype": "message_changed"},
        {"subtype": "channel_join"},
        {"channel_type": "channel", "channel": "C0CSTEAM"},
    ],
)
def test_ignores_bots_subtypes_and_channel_chatter(
    driver: SlackDriver, fake: FakeSlack, extra: dict[str, Any]
) -> None:
    resp = driver.event(dm_event("who is at risk?", **extra))
    assert resp.status == 200
    time.sleep(0.5)
    assert not fake.calls_to("chat.postMessage")


def test_retried_event_posts_once(driver: SlackDriver, fake: FakeSlack) -> None:
    event = dm_event("help")
    first = driver.event(event, event_id="Ev0RETRY0001")
    retry = driver.event(event, event_id="Ev0RETRY0001", retry_num=1)
    assert first.status == retry.status == 200
    fake.wait_for("chat.postMessage")
    time.sleep(0.5)
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_app_home_publishes_book_and_team_view(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.event({"type": "app_home_opened", "user": ACME_OWNER, "channel": "D0", "tab": "home"})
    (call,) = fake.wait_for("views.publish")
    assert not fake.errors, fake.errors
    assert call.params["user_id"] == ACME_OWNER
    assert_valid(call, max_blocks=100)
    text = all_text(call)
    assert "Your book of business" in text
    assert "Acme Corp" in text
    assert "Team view" in text
    assert "Renewals in the next 90 days" in text


def test_app_home_messages_tab_publishes_nothing(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.event({"type": "app_home_opened", "user": ACME_OWNER, "tab": "messages"})
    time.sleep(0.5)
    assert not fake.calls_to("views.publish")


# -- request verification ------------------------------------------------------------------------


def test_bad_signature_is_refused(driver: SlackDriver) -> None:
    body = b"command=%2Fhealth&text=acme"
    headers = driver.signed_headers(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert driver.raw(body, headers).status == 401


def test_stale_timestamp_is_refused(driver: SlackDriver) -> None:
    body = b"command=%2Fhealth&text=acme"
    headers = driver.signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert driver.raw(body, headers).status == 401


# -- the error boundary --------------------------------------------------------------------------


def test_database_failure_gets_a_short_message_not_a_traceback(
    fake: FakeSlack, tmp_path: Path
) -> None:
    empty = db.make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")  # no tables at all
    with driving(fake, empty) as served:
        served.command("/health", "acme")
        call = only_response(fake)
    text = all_text(call)
    assert "can't reach the account database" in text
    assert "ref `" in text
    assert "no such table" not in text
    assert "Traceback" not in text
    empty.dispose()


def test_churn_with_days_limits_to_renewals_in_window(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.command("/churn", "60")
    text = all_text(only_response(fake))
    assert "At-risk accounts renewing within 60 days" in text
    assert "Acme Corp" in text  # renews in ~45 days


def test_expansion_show_more_pages(driver: SlackDriver, fake: FakeSlack) -> None:
    driver.action("expansion_show_more", json.dumps({"offset": 2}))
    call = only_response(fake)
    assert call.params.get("replace_original") is True
    assert "Expansion opportunities" in all_text(call)


def test_explain_button_without_claude_shows_the_template(
    driver: SlackDriver, fake: FakeSlack, demo_engine: Engine
) -> None:
    driver.action("health_explain", str(account_id(demo_engine, "acme")))
    (reply,) = fake.wait_for("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert "Acme Corp is at" in str(reply.blocks)
    assert "'template'" in str(reply.blocks)
