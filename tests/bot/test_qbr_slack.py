"""QBR drafts in Slack end to end: /qbr posts the draft in a thread; "Publish to Notion" writes
one page through the real notion-client (fake Notion transport) and posts its URL back; Notion
being unconfigured or down is said plainly; "Discard" discards once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from bot.harness import FakeSlack, SlackCall, SlackDriver
from bot.harness.fake_notion import FakeNotion
from tests.utils.slack_e2e import NOW, driving, e2e_settings
from tools import db
from tools.models import Alert, AlertKind, QbrDraft

DEMO_ACCOUNTS = 20  # a small portfolio: these tests only look at Acme


def _page_deliveries(session: Any, draft_id: int) -> list[Alert]:
    """The draft's Notion page deliveries in the delivery ledger."""
    rows = session.exec(select(Alert).where(Alert.kind == AlertKind.NOTION_QBR.value)).all()
    return [r for r in rows if r.payload.get("draft_id") == draft_id]


def serve(fake: FakeSlack, engine: Engine, notion: FakeNotion | None) -> Iterator[SlackDriver]:
    settings = e2e_settings(fake, notion_qbr_database_id=notion.database_id if notion else None)
    with driving(fake, engine, settings=settings, notion=notion.client if notion else None) as d:
        yield d


def start_draft(driver: SlackDriver, fake: FakeSlack) -> tuple[SlackCall, SlackCall, str]:
    driver.command("/qbr", "acme", channel_id="C0CSTEAM")
    starter, summary, *_documents = fake.wait_for("chat.postMessage", count=4, timeout=30)
    draft_id = next(
        e["value"]
        for b in summary.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == "qbr_publish_notion"
    )
    return starter, summary, draft_id


def press(
    driver: SlackDriver, action: str, draft_id: str, summary: SlackCall, user: str = "U0CSM001"
) -> None:
    driver.action(
        action,
        draft_id,
        user_id=user,
        channel_id="C0CSTEAM",
        message_ts=str(summary.response["ts"]),
        message={"ts": summary.response["ts"], "thread_ts": summary.params["thread_ts"]},
    )


def thread_texts(fake: FakeSlack, thread_ts: str) -> list[str]:
    return [
        c.text for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts") == thread_ts
    ]


def test_publish_writes_one_notion_page_and_posts_its_url(
    fake: FakeSlack, demo_engine: Engine
) -> None:
    notion = FakeNotion()
    for driver in serve(fake, demo_engine, notion):
        starter, summary, draft_id = start_draft(driver, fake)
        press(driver, "qbr_publish_notion", draft_id, summary)
        fake.wait_for("chat.postMessage", count=5, timeout=30)
        press(driver, "qbr_publish_notion", draft_id, summary)  # a double click
        fake.wait_for("chat.postMessage", count=6, timeout=30)
    assert len(notion.pages) == 1, "one page however often Publish is pressed"
    (page_id,) = notion.pages
    assert "Acme Corp" in notion.plain_title(page_id)
    replies = thread_texts(fake, str(starter.response["ts"]))
    assert sum("notion" in t.lower() for t in replies) >= 2
    with db.session_factory(demo_engine)() as session:
        (request,) = _page_deliveries(session, int(draft_id))
        assert request.status == "posted"


def test_publish_without_notion_says_how_to_configure_it(
    fake: FakeSlack, demo_engine: Engine
) -> None:
    for driver in serve(fake, demo_engine, None):
        starter, summary, draft_id = start_draft(driver, fake)
        press(driver, "qbr_publish_notion", draft_id, summary)
        fake.wait_for("chat.postMessage", count=5, timeout=30)
    replies = thread_texts(fake, str(starter.response["ts"]))
    assert any("NOTION_TOKEN" in t for t in replies)


def test_notion_down_queues_the_publish_instead_of_failing(
    fake: FakeSlack, demo_engine: Engine
) -> None:
    notion = FakeNotion()
    notion.fail_next("POST", "pages", status=529, times=10)
    for driver in serve(fake, demo_engine, notion):
        starter, summary, draft_id = start_draft(driver, fake)
        press(driver, "qbr_publish_notion", draft_id, summary)
        fake.wait_for("chat.postMessage", count=5, timeout=30)
    replies = thread_texts(fake, str(starter.response["ts"]))
    assert any("queued" in t.lower() for t in replies)
    assert not notion.pages


def test_discard_discards_once(fake: FakeSlack, demo_engine: Engine) -> None:
    for driver in serve(fake, demo_engine, None):
        starter, summary, draft_id = start_draft(driver, fake)
        press(driver, "qbr_discard", draft_id, summary)
        fake.wait_for("chat.postMessage", count=5, timeout=30)
        press(driver, "qbr_discard", draft_id, summary)
    with db.session_factory(demo_engine)() as session:
        assert session.get(QbrDraft, int(draft_id)).status == "discarded"  # type: ignore[union-attr]
    replies = thread_texts(fake, str(starter.response["ts"]))
    assert sum("discarded" in t for t in replies) == 1


def test_a_non_owner_can_neither_publish_nor_discard(fake: FakeSlack, demo_engine: Engine) -> None:
    notion = FakeNotion()
    for driver in serve(fake, demo_engine, notion):
        _, summary, draft_id = start_draft(driver, fake)  # asked for by Acme's owner U0CSM001
        for action in ("qbr_publish_notion", "qbr_discard"):
            press(driver, action, draft_id, summary, user="U0STRANGER")
        refusals = fake.wait_for("response_url", count=2)
    assert all("Only the account's owner" in c.text for c in refusals)
    assert len(fake.calls_to("chat.postMessage")) == 4  # the draft's own four posts, no more
    assert not notion.pages
    with db.session_factory(demo_engine)() as session:
        assert session.get(QbrDraft, int(draft_id)).status == "draft"  # type: ignore[union-attr]
        assert not _page_deliveries(session, int(draft_id))


def test_continue_a_scheduled_draft_in_a_thread(fake: FakeSlack, demo_engine: Engine) -> None:
    import json

    from tools.models import Account
    from tools.qbr import create_qbr_draft
    from tools.scoring_config import load_config

    with db.session_factory(demo_engine)() as session:
        acme = session.exec(select(Account).where(Account.external_id == "acme")).one()
        assert acme.id is not None
        view = create_qbr_draft(session, account_id=acme.id, as_of=NOW.date(), config=load_config())
        session.commit()
    value = json.dumps({"account_id": acme.id, "draft_id": view.draft_id})
    for driver in serve(fake, demo_engine, None):
        driver.action(
            "qbr_continue",
            value,
            channel_id="D0CSM001",
            message_ts="1762070000.000900",
            message={"ts": "1762070000.000900"},
        )
        (reply,) = fake.wait_for("chat.postMessage")
        fake.wait_for("files.completeUploadExternal")
        driver.action("qbr_continue", '{"draft_id": 999999}', channel_id="D0CSM001")
        stale = fake.wait_for("chat.postMessage", count=2)[1]
    assert reply.params["thread_ts"] == "1762070000.000900"
    assert "Acme Corp — Q4 2026 QBR" in reply.text
    values = {
        e["action_id"]: e["value"]
        for b in reply.blocks
        for e in b.get("elements", [])
        if "value" in e
    }
    assert values["qbr_publish_notion"] == str(view.draft_id)
    assert "no longer exists" in stale.text
