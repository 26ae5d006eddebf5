"""Exactly-once handling of deliveries that may arrive twice (Slack retries events).

The database is the arbiter: the first caller to insert a key wins, every later caller (another
retry, another replica) sees the unique constraint and is told the key was already claimed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from tools.models import ProcessedEvent


def claim_event(session: Session, *, event_id: str, received_at: datetime) -> bool:
    """Record ``event_id`` as handled; False when it was already recorded (a retry)."""
    session.add(ProcessedEvent(event_id=event_id[:64], received_at=received_at))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def forget_events_before(session: Session, *, cutoff: datetime) -> int:
    """Delete claims older than ``cutoff`` (Slack retries within minutes); returns the count."""
    result = session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.received_at) < cutoff))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
