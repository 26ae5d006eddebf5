"""The QBR thread conversation through the real app: draft -> three revisions -> publish.

Without a key the follow-ups are understood deterministically; with a key they go through
Claude (the real SDK against the fake Messages API) and its revise_qbr_section tool. Either way
each revision is a new version, and the customer deck that reaches Notion carries no internal
risk language.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.harness.fake_notion import FakeNotion
from tests.utils.slack_e2e import all_text, button_values, driving, e2e_settings
from tools import db
from tools.models import QbrDraft
from tools.qbr_documents import FORBIDDEN_DECK_TERMS, internal_terms_in

CHANNEL = "C0CSTEAM"
WAIT = 60.0
OWNER = "U0CSM001"
_ts = itertools.count(1)
FOLLOW_UPS = (
    "shorter ROI",
    "add their goal of cutting onboarding time",
    "make the tone more formal",
)


def mention(text: str, thread_ts: str) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "channel": CHANNEL,
        "user": OWNER,
        "text": f"<@U0CSBOT> {text}",
        "ts": f"1762100{next(_ts):03d}.000100",
        "thread_ts": thread_ts,
    }


def posts(fake: FakeSlack) -> list[SlackCall]:
    return fake.calls_to("chat.postMessage")


def start(driver: SlackDriver, fake: FakeSlack) -> str:
    driver.command("/qbr", "acme", channel_id=CHANNEL)
    calls = fake.wait_for("chat.postMessage", count=4, timeout=WAIT)
    return str(calls[0].response["ts"])


def publish(driver: SlackDriver, call: SlackCall, thread_ts: str) -> None:
    draft_id = button_values(call)["qbr_publish_notion"]
    driver.action(
        "qbr_publish_notion",
        draft_id,
        user_id=OWNER,
        channel_id=CHANNEL,
        message_ts=str(call.response["ts"]),
        message={"ts": call.response["ts"], "thread_ts": thread_ts},
    )


def _controls(fake: FakeSlack) -> list[SlackCall]:
    return [c for c in posts(fake) if "qbr_publish_notion" in button_values(c)]


def _published(calls: list[SlackCall]) -> bool:
    return any(c.method == "chat.postMessage" and "notion.so" in c.text for c in calls)


def page_text(notion: FakeNotion) -> str:
    (page_id,) = notion.pages
    return json.dumps(notion.page_children(page_id), ensure_ascii=False)


def versions(engine: Engine) -> list[int]:
    with db.session_factory(engine)() as session:
        return list(session.exec(select(QbrDraft.version).order_by(col(QbrDraft.version))).all())


@pytest.fixture
def notion() -> FakeNotion:
    return FakeNotion()


@pytest.fixture
def fresh(demo_engine: Engine) -> Iterator[Engine]:
    yield demo_engine
    with db.session_scope(db.session_factory(demo_engine)) as session:
        for draft in session.exec(select(QbrDraft)).all():
            session.delete(draft)


def test_the_forbidden_terms_are_the_internal_ones() -> None:
    for term in ("churn", "ARR at risk", "risk", "right-size", "AMBER", "RED", "health score"):
        assert internal_terms_in(f"Some text with {term} in it.") != []
    assert internal_terms_in("Your team saved an estimated 120 hours; a redesign helped.") == []


def test_keyless_thread_draft_three_revisions_publish(
    fake: FakeSlack, fresh: Engine, notion: FakeNotion
) -> None:
    settings = e2e_settings(fake, notion_qbr_database_id=notion.database_id)
    with driving(fake, fresh, settings=settings, notion=notion.client) as driver:
        thread = start(driver, fake)
        prep, deck = posts(fake)[2:4]
        assert "Internal prep" in prep.text
        assert "ARR at risk" in all_text(prep)
        assert "Stakeholder map" in all_text(prep)
        assert "Customer deck" in deck.text
        deck_body = all_text(deck).split("Customer-facing", 1)[1]
        assert internal_terms_in(deck_body.split("\n", 1)[1]) == []
        for n, text in enumerate(FOLLOW_UPS, start=1):
            driver.event(mention(text, thread))
            fake.wait_for("chat.postMessage", count=4 + n, timeout=WAIT)
        revisions = posts(fake)[4:7]
        publish(driver, revisions[-1], thread)
        fake.wait_until(lambda calls: _published(calls), timeout=WAIT)
    assert versions(fresh) == [1, 2, 3, 4]
    assert "v2*: revised Value delivered (shorter)" in all_text(revisions[0])
    assert "Cutting onboarding time" in all_text(revisions[1])
    assert "more formal" in all_text(revisions[2])
    for call in revisions:
        assert call.params["thread_ts"] == thread
        assert "qbr_publish_notion" in button_values(call)
    published = page_text(notion)
    assert "Cutting onboarding time" in published
    assert "Objectives you have shared with us" in published  # the formal wording
    assert "Assumptions behind these estimates" in published
    assert internal_terms_in(published) == [], FORBIDDEN_DECK_TERMS


def test_follow_up_without_a_section_asks_which(fake: FakeSlack, fresh: Engine) -> None:
    with driving(fake, fresh) as driver:
        thread = start(driver, fake)
        driver.event(mention("make it shorter", thread))
        (*_, asked) = fake.wait_for("chat.postMessage", count=5, timeout=WAIT)
    assert "Which section" in asked.text
    assert versions(fresh) == [1]


def _section(engine: Engine, key: str) -> str:
    with db.session_factory(engine)() as session:
        latest = session.exec(select(QbrDraft).order_by(col(QbrDraft.version).desc())).first()
        assert latest is not None
        return str(latest.sections[key])


def name_themes(request: dict[str, Any]) -> dict[str, Any]:
    """Claude naming themes: "About <first term>" for each."""
    from tests.tools.voc.test_labels import name_by_first_term

    return name_by_first_term(request)


def test_claude_thread_draft_three_revisions_publish(
    fake: FakeSlack, fresh: Engine, notion: FakeNotion, claude: FakeMessagesAPI
) -> None:
    settings = e2e_settings(fake, notion_qbr_database_id=notion.database_id)
    parts = ("executive_summary", "health_summary", "roi_impact", "adoption_scorecard")
    narratives = {p: "A steady quarter." for p in (*parts, "expansion_next_steps")}
    # /qbr: Claude names the voice of the customer's themes (one call for the quarter's; the
    # prep's are the same themes, from the cache), then writes the narratives in one call
    claude.enqueue_responder(name_themes)
    claude.enqueue_text(json.dumps(narratives))
    with driving(
        fake, fresh, settings=settings, notion=notion.client, anthropic_client=claude.client()
    ) as driver:
        thread = start(driver, fake)
        value = _section(fresh, "deck.value_delivered")
        shorter = "\n".join(value.splitlines()[:3])
        # 1: Claude first slips internal language into the deck; the tool refuses, it retries
        claude.enqueue_tool_use(
            [
                (
                    "revise_qbr_section",
                    {
                        "account": "acme",
                        "section": "deck.value_delivered",
                        "text": shorter + "\nThis lowers your churn risk.",
                    },
                )
            ]
        )
        claude.enqueue_tool_use(
            [
                (
                    "revise_qbr_section",
                    {"account": "acme", "section": "deck.value_delivered", "text": shorter},
                )
            ]
        )
        claude.enqueue_text("Done: the value section is shorter (v2).")
        driver.event(mention(FOLLOW_UPS[0], thread))
        fake.wait_for("chat.stopStream", timeout=WAIT)
        goals = _section(fresh, "deck.goals_outcomes").replace(
            "- To confirm together in this review.", "- Cut onboarding time."
        )
        claude.enqueue_tool_use(
            [
                (
                    "revise_qbr_section",
                    {"account": "acme", "section": "deck.goals_outcomes", "text": goals},
                )
            ]
        )
        claude.enqueue_text("Added their goal (v3).")
        driver.event(mention(FOLLOW_UPS[1], thread))
        fake.wait_for("chat.stopStream", count=2, timeout=WAIT)
        steps = _section(fresh, "deck.next_steps").replace("Explore", "We propose to explore")
        claude.enqueue_tool_use(
            [
                (
                    "revise_qbr_section",
                    {"account": "acme", "section": "deck.next_steps", "text": steps},
                )
            ]
        )
        claude.enqueue_text("The next steps now read more formally (v4).")
        driver.event(mention(FOLLOW_UPS[2], thread))
        fake.wait_for("chat.stopStream", count=3, timeout=WAIT)
        fake.wait_until(lambda _: len(_controls(fake)) == 3, timeout=WAIT)
        publish(driver, _controls(fake)[-1], thread)
        fake.wait_until(lambda calls: _published(calls), timeout=WAIT)
    assert versions(fresh) == [1, 2, 3, 4]
    turns = [r for r in claude.requests if r.get("tools")]  # the agent's, not the writers'
    refused = turns[1]["messages"][-1]["content"][0]
    assert refused["is_error"] is True
    assert "internal terms" in str(refused["content"])
    first_turn = turns[0]["messages"][0]["content"][-1]["text"]
    assert "this thread holds the QBR draft of Acme Corp" in first_turn
    assert claude.unscripted_calls == 0
    assert "**About " in _section(fresh, "prep.themes")  # the themes named by Claude
    published = page_text(notion)
    assert "Cut onboarding time." in published
    assert internal_terms_in(published) == []
