"""Event claims: the first delivery wins, retries are refused, old claims can be forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from tools.idempotency import claim_event, forget_events_before

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_first_claim_wins(session: Session) -> None:
    assert claim_event(session, event_id="Ev1", received_at=T0) is True
    assert claim_event(session, event_id="Ev1", received_at=T0 + timedelta(seconds=5)) is False
    assert claim_event(session, event_id="Ev2", received_at=T0) is True


def test_forget_old_claims(session: Session) -> None:
    claim_event(session, event_id="old", received_at=T0 - timedelta(days=2))
    claim_event(session, event_id="new", received_at=T0)
    assert forget_events_before(session, cutoff=T0 - timedelta(days=1)) == 1
    assert claim_event(session, event_id="old", received_at=T0) is True
    assert claim_event(session, event_id="new", received_at=T0) is False
