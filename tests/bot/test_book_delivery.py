"""The items a book DM carries follow the book: delivered when it is posted, pending while it is
retried, announced again when it failed for good, and never twice.

Settable clock throughout: every run takes ``now``; the fake Slack fails the book's post.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.harness.fake_slack import FakeSlack
from tests.utils.daily_run import (
    AS_OF,
    OWNER,
    alerts_in,
    customer,
    daily,
    dms,
    make_settings,
    overdue,
    slack_client,
)
from tools import db
from tools.alerts.book import RELEASED_ERROR
from tools.models import Alert, AlertKind, AlertStatus, Contract

BOOKS = (AlertKind.BOOK_STATE.value, AlertKind.BOOK_TODAY.value)
ITEMS = (AlertKind.QBR_T90.value, AlertKind.HANDOFF_PROPOSAL.value, AlertKind.CHURN.value)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return slack_client(fake)


def book_world(session: Session) -> None:
    """One owner: a renewal inside 90 days (a T-90 QBR), an account at its seat cap (an
    expansion proposal) and one at risk (an overdue invoice): three kinds of book items."""
    customer(session, name="Renewing", renewal_in=40)
    grow = customer(session, name="Grow")
    contract = session.exec(select(Contract).where(Contract.account_id == grow.id)).one()
    contract.seats_purchased = 40  # 40 active users every day: at the cap for weeks
    session.add(contract)
    overdue(session, customer(session, name="Risky"))
    session.commit()


def run(sessions: db.SessionFactory, client: WebClient, offset: int, **kw: Any) -> Any:
    return daily(sessions, client, AS_OF + timedelta(days=offset), make_settings(book_batch=True))


def items(sessions: db.SessionFactory) -> dict[str, str]:
    """Each book item's kind and status (released ones apart: they were not delivered)."""
    return {
        a.kind: a.status
        for a in alerts_in(sessions)
        if a.kind in ITEMS and a.last_error != RELEASED_ERROR
    }


def delivered(fake: FakeSlack) -> list[Any]:
    """The DMs Slack accepted."""
    return [c for c in dms(fake) if c.response.get("ok")]


def book_texts(fake: FakeSlack) -> list[str]:
    return [f"{c.text}\n{c.blocks}" for c in delivered(fake)]


def test_a_book_posted_delivers_its_items(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    with sessions() as session:
        book_world(session)

    run(sessions, client, 0)

    [text] = book_texts(fake)
    assert all(name in text for name in ("Renewing", "Grow", "Risky"))
    assert items(sessions) == dict.fromkeys(ITEMS, AlertStatus.POSTED.value)


def test_a_book_whose_post_fails_leaves_its_items_pending_and_the_retry_posts_them_once(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    with sessions() as session:
        book_world(session)
    fake.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)

    first = run(sessions, client, 0)

    assert first.books.counts.pending == 1
    assert book_texts(fake) == []
    assert items(sessions) == dict.fromkeys(ITEMS, AlertStatus.HELD.value), "not delivered yet"
    assert run(sessions, client, 0).books.planned == []  # a second run today: nothing new

    later = run(sessions, client, 1)  # the retry posts yesterday's book; today's has nothing new

    assert later.counts.retried == 1
    [text] = book_texts(fake)
    assert all(name in text for name in ("Renewing", "Grow", "Risky"))
    assert items(sessions) == dict.fromkeys(ITEMS, AlertStatus.POSTED.value)
    run(sessions, client, 2)
    assert len(book_texts(fake)) == 1, "never announced twice"


def test_a_book_that_fails_for_good_releases_its_items_to_the_next_run(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    with sessions() as session:
        book_world(session)
    fake.fail_next("chat.postMessage", error="user_not_found", status=200, retry_after=None)

    first = run(sessions, client, 0)

    assert first.books.counts.failed == 1
    assert items(sessions) == {}, "released: the book never arrived"

    second = run(sessions, client, 1)

    [book] = second.books.planned
    assert book.kind == AlertKind.BOOK_STATE.value, "the owner never got their state of the book"
    [text] = book_texts(fake)
    assert all(name in text for name in ("Renewing", "Grow", "Risky"))
    assert items(sessions) == dict.fromkeys(ITEMS, AlertStatus.POSTED.value)
    run(sessions, client, 2)
    assert len(book_texts(fake)) == 1
    with sessions() as session:
        statuses = [a.status for a in session.exec(select(Alert)).all() if a.kind in BOOKS]
    assert sorted(statuses) == [AlertStatus.FAILED.value, AlertStatus.POSTED.value]


def test_the_owner_of_a_pending_book_is_not_sent_a_second_state(
    sessions: db.SessionFactory, fake: FakeSlack, client: WebClient
) -> None:
    with sessions() as session:
        book_world(session)
    fake.fail_next("chat.postMessage", error="internal_error", status=500, retry_after=None)
    run(sessions, client, 0)

    run(sessions, client, 1)

    kinds = [str(c.params.get("metadata", "")) for c in delivered(fake)]
    assert len(kinds) == 1
    assert f"{AlertKind.BOOK_STATE.value}:-:{AS_OF}:{OWNER}" in kinds[0]
