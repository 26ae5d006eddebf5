"""The texts the voice of the customer reads, for a set of accounts over a window of days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from tools.models import Interaction, InteractionKind, NpsResponse, Ticket

NOTE_KINDS = (InteractionKind.NOTE.value,)
MAX_ITEMS = 200_000


@dataclass(frozen=True)
class VocItem:
    """One piece of customer voice: where it came from, when, how it scored, and its text."""

    source: str  # "nps" | "csat" | "ticket" | "note"
    ref: int
    account_id: int
    day: date
    text: str
    score: int | None = None  # survey score (NPS 0-10, CSAT 1-5)
    sentiment: float | None = None  # recorded sentiment (tickets), -1..1


def window_bounds(as_of: date, window_days: int) -> tuple[datetime, datetime]:
    """[start, end) in UTC for the ``window_days`` complete days before ``as_of`` (through the end
    of ``as_of - 1``, like every other window: a scan at 00:30 and at 23:30 agree)."""
    end = datetime.combine(as_of, time.min, tzinfo=UTC)
    return end - timedelta(days=window_days), end


def load_items(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    account_ids: list[int] | None = None,
) -> list[VocItem]:
    """Survey comments, ticket subjects and logged notes in [start, end), oldest first."""
    items = _surveys(session, start, end, account_ids)
    items += _tickets(session, start, end, account_ids)
    items += _notes(session, start, end, account_ids)
    items.sort(key=lambda i: (i.day, i.source, i.ref))
    return items[-MAX_ITEMS:]


def load_family(session: Session, family: str, *, start: datetime, end: datetime) -> list[VocItem]:
    """The portfolio's items of one family in [start, end), oldest first: "comments" (survey
    comments and notes) or "tickets" (ticket subjects)."""
    if family == "tickets":
        items = _tickets(session, start, end, None)
    else:
        items = _surveys(session, start, end, None) + _notes(session, start, end, None)
    items.sort(key=lambda i: (i.day, i.source, i.ref))
    return items[-MAX_ITEMS:]


def fingerprint(
    session: Session, family: str, *, start: datetime, end: datetime
) -> tuple[object, ...]:
    """Row count, newest id and total text length of one family in [start, end): what changes
    when any of its texts is added, removed or edited (one aggregate query per table)."""
    tables = (
        [(Ticket.id, Ticket.subject, Ticket.opened_at, None)]
        if family == "tickets"
        else [
            (NpsResponse.id, NpsResponse.comment, NpsResponse.responded_at, None),
            (Interaction.id, Interaction.summary, Interaction.occurred_at, Interaction.kind),
        ]
    )
    found: list[object] = []
    for ref, text, at, kind in tables:
        query = select(func.count(), func.max(col(ref)), func.sum(func.length(col(text)))).where(
            col(at) >= start, col(at) < end
        )
        if kind is not None:
            query = query.where(col(kind).in_(NOTE_KINDS))
        found.extend(session.execute(query).one())
    return tuple(found)


def _surveys(
    session: Session, start: datetime, end: datetime, ids: list[int] | None
) -> list[VocItem]:
    query = select(
        col(NpsResponse.id),
        col(NpsResponse.account_id),
        col(NpsResponse.responded_at),
        col(NpsResponse.kind),
        col(NpsResponse.score),
        col(NpsResponse.comment),
    ).where(col(NpsResponse.responded_at) >= start, col(NpsResponse.responded_at) < end)
    if ids is not None:
        query = query.where(col(NpsResponse.account_id).in_(ids))
    return [
        VocItem(kind, int(ref or 0), account, at.date(), text.strip(), score=score)
        for ref, account, at, kind, score, text in session.execute(query).all()
        if text and text.strip()
    ]


def _tickets(
    session: Session, start: datetime, end: datetime, ids: list[int] | None
) -> list[VocItem]:
    query = select(
        col(Ticket.id),
        col(Ticket.account_id),
        col(Ticket.opened_at),
        col(Ticket.subject),
        col(Ticket.sentiment),
    ).where(col(Ticket.opened_at) >= start, col(Ticket.opened_at) < end)
    if ids is not None:
        query = query.where(col(Ticket.account_id).in_(ids))
    return [
        VocItem("ticket", int(ref or 0), account, at.date(), text.strip(), sentiment=sentiment)
        for ref, account, at, text, sentiment in session.execute(query).all()
        if text and text.strip()
    ]


def _notes(
    session: Session, start: datetime, end: datetime, ids: list[int] | None
) -> list[VocItem]:
    query = select(
        col(Interaction.id),
        col(Interaction.account_id),
        col(Interaction.occurred_at),
        col(Interaction.summary),
    ).where(
        col(Interaction.occurred_at) >= start,
        col(Interaction.occurred_at) < end,
        col(Interaction.kind).in_(NOTE_KINDS),
    )
    if ids is not None:
        query = query.where(col(Interaction.account_id).in_(ids))
    return [
        VocItem("note", int(ref or 0), account, at.date(), text.strip())
        for ref, account, at, text in session.execute(query).all()
        if text and text.strip()
    ]
