"""Durable Notion publishing: the real notion-client against bot.harness.fake_notion's limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import Settings
from bot.harness.fake_notion import FakeNotion
from bot.notion import (
    NOT_CONFIGURED,
    NotionPublisher,
    make_publisher,
    publish_draft_to_notion,
    publish_pending,
)
from tools import db
from tools.accounts import resolve_account
from tools.demo import generate_demo
from tools.models import Alert, AlertKind, QbrDraft
from tools.outbox import request_publish
from tools.qbr import create_qbr_draft, load_qbr
from tools.qbr_documents import publish_blocks
from tools.scoring_config import load_config

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
LONG_PARAGRAPH = "word " * 900  # 4,500 characters: split into three rich-text items


class Sleeps:
    """An injected sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sessions(sqlite_engine: Engine) -> db.SessionFactory:
    factory = db.session_factory(sqlite_engine)
    generate_demo(session_factory=factory, today=TODAY, accounts=20, months=6, seed=42)
    return factory


@pytest.fixture
def fake() -> FakeNotion:
    return FakeNotion()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def publisher(fake: FakeNotion, sleeps: Sleeps) -> Iterator[NotionPublisher]:
    client = fake.client()
    yield NotionPublisher(client, qbr_database_id=fake.database_id, sleep=sleeps, min_interval=0.0)
    client.close()


def _draft(sessions: db.SessionFactory, *, long: bool = False) -> int:
    with db.session_scope(sessions) as session:
        acme = resolve_account(session, query="acme")
        view = create_qbr_draft(
            session, account_id=acme.id or 0, as_of=TODAY, config=load_config(None)
        )
        if not long:
            return view.draft_id
        # A revision longer than the agent's tools allow: 250 steps and a 4,500-char paragraph.
        text = "\n".join(f"- step {i}: follow up" for i in range(250)) + "\n" + LONG_PARAGRAPH
        base = session.get(QbrDraft, view.draft_id)
        assert base is not None
        revised = QbrDraft(
            account_id=base.account_id,
            version=base.version + 1,
            sections={**base.sections, "deck.next_steps": text},
        )
        session.add(revised)
        session.flush()
        return revised.id or 0


def _expected_blocks(sessions: db.SessionFactory, draft_id: int) -> list[dict[str, Any]]:
    with sessions() as session:
        return publish_blocks(load_qbr(session, draft_id=draft_id))


def _signature(block: dict[str, Any]) -> tuple[str, str]:
    kind = block["type"]
    text = "".join(t["text"]["content"] for t in block[kind].get("rich_text", []))
    return kind, text


def _notion_rows(session: Any) -> list[Alert]:
    """The Notion deliveries in the ledger."""
    stmt = select(Alert).where(Alert.kind == AlertKind.NOTION_QBR.value)
    return list(session.exec(stmt).all())


def _only_page(fake: FakeNotion) -> str:
    assert len(fake.pages) == 1, f"expected one page, found {len(fake.pages)}"
    return next(iter(fake.pages))


def test_long_document_is_sent_in_batches_in_order(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions, long=True)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "published", outcome.message
    page = _only_page(fake)
    assert outcome.url == f"https://www.notion.so/{page.replace('-', '')}"
    expected = _expected_blocks(sessions, draft_id)
    assert len(expected) > 250
    stored = fake.page_children(page)
    assert [_signature(b) for b in stored] == [_signature(b) for b in expected]
    creates = fake.calls("POST", "pages")
    appends = fake.calls("PATCH", "blocks")
    assert len(creates[0].body["children"]) == 100
    rest = len(expected) - 100
    assert [len(a.body["children"]) for a in appends] == [100] * (rest // 100) + (
        [rest % 100] if rest % 100 else []
    )
    assert sum(len(a.body["children"]) for a in appends) == len(expected) - 100
    long_items = [b for b in stored if _signature(b)[1].startswith("word word")]
    assert len(long_items) == 1
    assert len(long_items[0]["paragraph"]["rich_text"]) == 3
    assert fake.plain_title(page) == "Acme Corp — Q4 2026 QBR"
    props = fake.pages[page]["properties"]
    assert props["Status"] == {"select": {"name": "Published"}}
    assert props["Band"]["select"]["name"] in {"GREEN", "AMBER", "RED"}
    assert props["Renewal date"]["date"]["start"] == "2027-01-05"
    assert fake.calls("POST", "pages")[0].body["parent"]["data_source_id"] == fake.data_source_id


def test_publishing_twice_returns_the_same_page(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions)
    first = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    second = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert first.status == second.status == "published"
    assert first.url == second.url
    assert first.request_id == second.request_id
    assert len(fake.calls("POST", "pages")) == 1
    _only_page(fake)


def test_rate_limit_honours_retry_after(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher, sleeps: Sleeps
) -> None:
    draft_id = _draft(sessions)
    fake.fail_next("POST", "pages", status=429, retry_after=7)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "published"
    assert 7.0 in sleeps.calls
    _only_page(fake)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_retried_with_backoff(
    sessions: db.SessionFactory,
    fake: FakeNotion,
    publisher: NotionPublisher,
    sleeps: Sleeps,
    status: int,
) -> None:
    draft_id = _draft(sessions)
    fake.fail_next("POST", "pages", status=status, times=2)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "published"
    assert sleeps.calls[:2] == [1.0, 2.0]
    _only_page(fake)


def test_lost_answer_after_create_does_not_duplicate(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions, long=True)
    fake.fail_next("POST", "pages", timeout=True, after_commit=True)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "published"
    page = _only_page(fake)
    assert len(fake.page_children(page)) == len(_expected_blocks(sessions, draft_id))


def test_lost_answer_after_append_does_not_duplicate_blocks(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions, long=True)
    fake.fail_next("PATCH", "blocks", timeout=True, after_commit=True)
    fake.fail_next("PATCH", "blocks", status=500, after_commit=True)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "published"
    page = _only_page(fake)
    expected = _expected_blocks(sessions, draft_id)
    assert [_signature(b) for b in fake.page_children(page)] == [_signature(b) for b in expected]


def test_outage_leaves_it_queued_and_a_later_run_publishes(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions, long=True)
    fake.fail_next("PATCH", "blocks", status=529, times=4)  # page created, appends keep failing
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "queued"
    assert "will publish" in outcome.message
    with sessions() as session:
        stored = _notion_rows(session)[0]
        assert stored.status == "claimed"
        assert stored.next_attempt_at is not None
        assert stored.next_attempt_at > NOW
        assert stored.last_error
        assert "529" in stored.last_error
    assert publish_pending(sessions, publisher, now=NOW) == []  # not due yet
    later = publish_pending(sessions, publisher, now=NOW + timedelta(hours=1))
    assert [o.status for o in later] == ["published"]
    page = _only_page(fake)
    assert len(fake.page_children(page)) == len(_expected_blocks(sessions, draft_id))
    assert publish_pending(sessions, publisher, now=NOW + timedelta(hours=2)) == []


def test_timeouts_count_as_transient(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions)
    fake.fail_next("POST", "data_sources", timeout=True, times=4)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "queued"
    assert fake.pages == {}
    later = publish_pending(sessions, publisher, now=NOW + timedelta(hours=1))
    assert [o.status for o in later] == ["published"]
    _only_page(fake)


def test_validation_error_fails_with_a_clear_message_and_can_be_retried(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    del fake.schema["Band"]
    draft_id = _draft(sessions)
    outcome = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert outcome.status == "failed"
    assert "Band is not a property that exists" in outcome.message
    assert "csbot notion check --fix" in outcome.message
    assert publish_pending(sessions, publisher, now=NOW + timedelta(days=1)) == []
    report = publisher.check(fix=True)
    assert report.fixed == ["Band"]
    assert report.ok
    again = publish_draft_to_notion(sessions, publisher, draft_id, now=NOW)
    assert again.status == "published"
    _only_page(fake)


def test_crashed_sender_is_taken_over_after_a_while(
    sessions: db.SessionFactory, fake: FakeNotion, publisher: NotionPublisher
) -> None:
    draft_id = _draft(sessions)
    with db.session_scope(sessions) as session:
        request = request_publish(session, draft_id=draft_id, now=NOW)
        request.claimed_by, request.next_attempt_at = "dead-worker", None  # claimed, then died
        request.attempts = 1
    assert publish_pending(sessions, publisher, now=NOW + timedelta(minutes=1)) == []
    done = publish_pending(sessions, publisher, now=NOW + timedelta(minutes=11))
    assert [o.status for o in done] == ["published"]


def test_not_configured(sessions: db.SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    monkeypatch.delenv("NOTION_QBR_DATABASE_ID", raising=False)
    outcome = publish_draft_to_notion(sessions, None, _draft(sessions), now=NOW)
    assert outcome.status == "not_configured"
    assert outcome.message == NOT_CONFIGURED
    assert make_publisher(Settings(_env_file=None)) is None
    configured = Settings(_env_file=None, notion_token="ntn_x", notion_qbr_database_id="db")
    assert isinstance(make_publisher(configured), NotionPublisher)


def test_check_reports_missing_properties_and_fixes_them(
    fake: FakeNotion, publisher: NotionPublisher
) -> None:
    del fake.schema["ARR"]
    fake.schema["Title"] = fake.schema.pop("Name")
    report = publisher.check(fix=False)
    assert not report.ok
    assert sorted(report.missing) == ["ARR", "Name"]
    fixed = publisher.check(fix=True)
    assert fixed.ok, fixed
    assert fake.schema["Name"] == "title"
    assert fake.schema["ARR"] == "number"
    assert "Title" not in fake.schema
    assert publisher.check().ok


def test_check_explains_a_bad_token_or_database(fake: FakeNotion, sleeps: Sleeps) -> None:
    bad = NotionPublisher(fake.client(token="ntn_wrong"), qbr_database_id=fake.database_id)
    assert "NOTION_TOKEN" in bad.check().problems[0]
    missing = NotionPublisher(fake.client(), qbr_database_id="nope", sleep=sleeps)
    assert "NOTION_QBR_DATABASE_ID" in missing.check().problems[0]


def test_fake_enforces_notion_limits(fake: FakeNotion) -> None:
    from notion_client.errors import APIResponseError

    client = fake.client()
    parent = {"data_source_id": fake.data_source_id}
    title = {"Name": {"title": [{"type": "text", "text": {"content": "x"}}]}}
    para = {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "a"}}]}}
    with pytest.raises(APIResponseError, match="≤ `100`"):
        client.pages.create(parent=parent, properties=title, children=[para] * 101)
    long = {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "a" * 2001}}]}}
    with pytest.raises(APIResponseError, match="≤ `2000`"):
        client.pages.create(parent=parent, properties=title, children=[long])
    with pytest.raises(APIResponseError, match="Title property"):
        client.pages.create(parent=parent, properties={}, children=[])
    with pytest.raises(APIResponseError, match="data_source_id"):
        client.pages.create(parent={"database_id": fake.database_id}, properties=title)
    assert fake.pages == {}


def test_request_publish_is_idempotent(sessions: db.SessionFactory) -> None:
    draft_id = _draft(sessions)
    with db.session_scope(sessions) as session:
        first = request_publish(session, draft_id=draft_id, now=NOW)
        second = request_publish(session, draft_id=draft_id, now=NOW)
        assert first.id == second.id
        draft = session.get(QbrDraft, draft_id)
        assert draft is not None
        assert first.key == f"notion_qbr:{draft.account_id}:draft-{draft_id}:v1"
    with sessions() as session:
        assert len(_notion_rows(session)) == 1
