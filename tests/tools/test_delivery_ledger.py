"""The one delivery ledger shared by Slack posts and Notion writes: queueing, retry timing,
take-over, re-queueing, and Slack and Notion retries never picking up each other's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from tests.utils.factories import make_account
from tools import outbox
from tools.alerts import ledger
from tools.alerts.ledger import AlertClaim
from tools.models import Alert, AlertKind

NOW = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _notion(account_id: int, period: str = "draft-1:v1") -> AlertClaim:
    return AlertClaim(
        kind=AlertKind.NOTION_QBR, account_id=account_id, period=period, payload={"draft_id": 1}
    )


def _slack(account_id: int) -> AlertClaim:
    return AlertClaim(
        kind=AlertKind.CHURN, account_id=account_id, period="2026-03-02", payload={"text": "hi"}
    )


def test_a_queued_notion_write_is_due_now_and_taken_over_once(session: Session) -> None:
    account = make_account(session)
    queued = outbox.enqueue(session, _notion(account.id or 0), now=NOW)
    again = outbox.enqueue(session, _notion(account.id or 0), now=NOW)
    session.commit()
    assert queued.id == again.id
    assert (queued.attempts, queued.claimed_by, queued.next_attempt_at) == (0, "", NOW)
    # the Slack retry never sees Notion deliveries, the Notion sender does
    assert ledger.stale_claims(session, now=NOW) == []
    due = ledger.stale_claims(session, now=NOW, kinds=ledger.NOTION_KINDS)
    assert [d.id for d in due] == [queued.id]
    assert ledger.take_over(session, alert_id=queued.id or 0, claimed_by="a", now=NOW)
    assert not ledger.take_over(session, alert_id=queued.id or 0, claimed_by="b", now=NOW)
    assert ledger.stale_claims(session, now=NOW, kinds=ledger.NOTION_KINDS) == []


def test_notion_failures_back_off_and_honour_retry_after(session: Session) -> None:
    account = make_account(session)
    row = outbox.enqueue(session, _notion(account.id or 0), now=NOW)
    session.commit()
    delivery_id = row.id or 0
    waits = []
    for attempt in range(1, 4):
        assert ledger.take_over(session, alert_id=delivery_id, claimed_by="w", now=NOW)
        status = ledger.record_failure(
            session, alert_id=delivery_id, error="Notion answered 529", permanent=False, now=NOW
        )
        assert status == "claimed"
        stored = session.get(Alert, delivery_id, populate_existing=True)
        assert stored is not None
        assert stored.attempts == attempt
        assert stored.next_attempt_at is not None
        waits.append(stored.next_attempt_at - NOW)
        session.execute(  # due again: move the retry to now
            update(Alert).where(col(Alert.id) == delivery_id).values(next_attempt_at=NOW)
        )
        session.commit()
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert ledger.take_over(session, alert_id=delivery_id, claimed_by="w", now=NOW)
    ledger.record_failure(
        session,
        alert_id=delivery_id,
        error="429",
        permanent=False,
        now=NOW,
        retry_after=timedelta(minutes=30),
    )
    stored = session.get(Alert, delivery_id, populate_existing=True)
    assert stored is not None
    assert stored.next_attempt_at == NOW + timedelta(minutes=30)


def test_a_slack_failure_waits_for_the_lease_as_before(session: Session) -> None:
    account = make_account(session)
    alert_id = ledger.claim_alert(session, claim=_slack(account.id or 0), claimed_by="a", now=NOW)
    session.commit()
    assert alert_id is not None
    later = NOW + timedelta(minutes=3)
    ledger.record_failure(session, alert_id=alert_id, error="x", permanent=False, now=later)
    stored = session.get(Alert, alert_id, populate_existing=True)
    assert stored is not None
    assert stored.next_attempt_at == NOW + ledger.LEASE
    assert ledger.stale_claims(session, now=NOW + timedelta(minutes=9)) == []
    assert len(ledger.stale_claims(session, now=NOW + timedelta(minutes=11))) == 1


def test_a_failed_write_is_kept_and_requeued_when_asked_again(session: Session) -> None:
    account = make_account(session)
    row = outbox.enqueue(session, _notion(account.id or 0), now=NOW)
    session.commit()
    delivery_id = row.id or 0
    assert ledger.take_over(session, alert_id=delivery_id, claimed_by="w", now=NOW)
    status = ledger.record_failure(
        session, alert_id=delivery_id, error="Band is not a property", permanent=True, now=NOW
    )
    assert status == "failed"
    assert (
        ledger.stale_claims(session, now=NOW + timedelta(days=1), kinds=ledger.NOTION_KINDS) == []
    )
    later = NOW + timedelta(hours=2)
    again = outbox.enqueue(session, _notion(account.id or 0), now=later)
    session.commit()
    assert (again.id, again.status, again.attempts, again.last_error) == (
        delivery_id,
        "claimed",
        0,
        "Band is not a property",
    )
    assert ledger.take_over(session, alert_id=delivery_id, claimed_by="w", now=later)
    ledger.record_target(session, alert_id=delivery_id, external_id="page-1", url="https://n/1")
    assert ledger.mark_posted(session, alert_id=delivery_id, claimed_by="w", now=later)
    posted = outbox.enqueue(session, _notion(account.id or 0), now=later)
    assert (posted.status, posted.external_id) == ("posted", "page-1")
