"""Work logged from Slack: calls, meetings, emails and notes recorded as account interactions.

A logged interaction is an ``interaction`` row like an imported one, so it feeds the same
signals: interaction recency (meaningful interactions only) and stakeholder engagement (an
interaction with a champion contact counts as touching them). ``external_id`` is
``slack:<key>`` where the key is unique to the Slack request (a trigger id, a view id), so a
retried or double-submitted request logs once. The text is stored as data, never read as
instructions, and is escaped wherever it is shown.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.models import Account, Contact, Interaction

LOGGABLE_KINDS: tuple[str, ...] = ("call", "meeting", "email", "note")
"""What can be logged from Slack (``qbr`` interactions come from the QBR flow or an import)."""
MEANINGFUL_BY_DEFAULT = {"call": True, "meeting": True, "email": True, "note": False}
"""A note is a record, not a conversation with the customer: it does not reset the recency."""
MAX_SUMMARY = 4000
EXTERNAL_PREFIX = "slack:"


class InteractionError(ValueError):
    """A logged interaction that cannot be stored (unknown kind, unknown account)."""


class InteractionView(BaseModel):
    """One interaction as surfaces show it (the summary is untrusted text: escape it)."""

    interaction_id: int
    account_id: int
    account_name: str
    kind: str
    occurred_at: datetime
    meaningful: bool
    summary: str
    logged_by: str | None
    contact_name: str | None
    created: bool = True
    """False when the same Slack request had already logged it (a retry or double submit)."""


def parse_kind(word: str) -> str:
    """The interaction kind named by ``word`` (case-insensitive), or InteractionError."""
    kind = word.strip().lower()
    if kind not in LOGGABLE_KINDS:
        raise InteractionError(f"the kind must be one of {', '.join(LOGGABLE_KINDS)}")
    return kind


def contact_in_text(session: Session, *, account_id: int, text: str) -> int | None:
    """The account contact whose full name appears in ``text`` (the longest name wins)."""
    lowered = " ".join(text.lower().split())
    if not lowered:
        return None
    best: tuple[int, int] | None = None
    for contact_id, name in session.execute(
        select(col(Contact.id), col(Contact.name)).where(col(Contact.account_id) == account_id)
    ).all():
        words = " ".join(str(name).lower().split())
        if len(words) < 3 or contact_id is None:
            continue
        named = re.search(rf"(?<!\w){re.escape(words)}(?!\w)", lowered) is not None
        if named and (best is None or len(words) > best[1]):
            best = (int(contact_id), len(words))
    return best[0] if best else None


def _existing(session: Session, external_id: str) -> Interaction | None:
    stmt = select(Interaction).where(col(Interaction.external_id) == external_id)
    return session.execute(stmt).scalars().first()


def log_interaction(
    session: Session,
    *,
    account_id: int,
    kind: str,
    text: str,
    logged_by: str,
    key: str,
    now: datetime,
    meaningful: bool | None = None,
    contact_id: int | None = None,
) -> InteractionView:
    """Record an interaction logged from Slack, once per ``key``; flushes, the caller commits.

    ``meaningful`` defaults by kind (calls, meetings and emails are; notes are not). Without a
    ``contact_id``, a contact of the account named in the text is linked (which is what makes
    a call with the champion count as stakeholder engagement).
    """
    kind = parse_kind(kind)
    account = session.get(Account, account_id)
    if account is None or account.id is None:
        raise InteractionError(f"no account with id {account_id}")
    external_id = (EXTERNAL_PREFIX + key)[:128]
    found = _existing(session, external_id)
    if found is not None:
        return _view(session, found, account, created=False)
    summary = text.strip()[:MAX_SUMMARY]
    if contact_id is None:
        contact_id = contact_in_text(session, account_id=account.id, text=summary)
    row = Interaction(
        external_id=external_id,
        account_id=account.id,
        contact_id=contact_id,
        kind=kind,
        occurred_at=now,
        meaningful=MEANINGFUL_BY_DEFAULT[kind] if meaningful is None else meaningful,
        summary=summary,
        logged_by=logged_by[:64],
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent retry stored it first
        found = _existing(session, external_id)
        if found is None:
            raise
        return _view(session, found, account, created=False)
    return _view(session, row, account, created=True)


def _view(
    session: Session, row: Interaction, account: Account, *, created: bool
) -> InteractionView:
    contact = session.get(Contact, row.contact_id) if row.contact_id is not None else None
    return InteractionView(
        interaction_id=int(row.id or 0),
        account_id=int(row.account_id),
        account_name=account.name,
        kind=row.kind,
        occurred_at=row.occurred_at,
        meaningful=row.meaningful,
        summary=row.summary,
        logged_by=row.logged_by,
        contact_name=contact.name if contact is not None else None,
        created=created,
    )


def latest_interactions(
    session: Session, *, account_id: int, before: datetime | None = None, limit: int = 3
) -> list[InteractionView]:
    """The account's newest interactions (imported or logged), newest first."""
    account = session.get(Account, account_id)
    if account is None:
        return []
    stmt = select(Interaction).where(col(Interaction.account_id) == account_id)
    if before is not None:
        stmt = stmt.where(col(Interaction.occurred_at) < before)
    stmt = stmt.order_by(col(Interaction.occurred_at).desc(), col(Interaction.id).desc())
    rows = session.execute(stmt.limit(limit)).scalars().all()
    return [_view(session, row, account, created=False) for row in rows]


def log_command_readings(text: str) -> list[tuple[str, str, str]]:
    """The ways to read ``<account> <kind> [text]``: (account, kind, text) for every word that
    names a kind after at least one account word, first first (an account name may itself
    contain "call" or "note"; the caller keeps the first reading whose account exists)."""
    words = text.split()
    readings = []
    for i, word in enumerate(words):
        if i >= 1 and word.lower() in LOGGABLE_KINDS:
            readings.append((" ".join(words[:i]), word.lower(), " ".join(words[i + 1 :])))
    return readings
