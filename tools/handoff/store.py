"""Hand-off storage: states, errors, the card every renderer reads, reads and guarded updates.

Every state change is ``transition`` (one conditional ``UPDATE``) plus ``add_event`` on the
hand-off's timeline; ``change`` does both for the lifecycle in ``tools.handoff.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tools.models import Account, HandoffEvent, HandoffProposal, HandoffStatus, utcnow

Source = Literal["scan", "agent", "command", "button"]
KINDS = ("seats", "module", "integration")
OPEN_STATES = (HandoffStatus.PROPOSED.value, HandoffStatus.APPROVED.value, HandoffStatus.SENT.value)
CLOSED_STATES = (
    HandoffStatus.ACCEPTED.value,
    HandoffStatus.DECLINED.value,
    HandoffStatus.DISMISSED.value,
)
SCAN_COOLDOWN_DAYS = 90
MAX_ESTIMATED_ARR = Decimal("999999999999.99")  # NUMERIC(14, 2)
MAX_TALK_TRACK = 4000

# Timeline event kinds.
EVENT_PROPOSED = "proposed"
EVENT_EDITED = "edited"
EVENT_APPROVED = "approved"
EVENT_DISPATCHED = "dispatch_expansion_handoff"
EVENT_NOTION_WRITTEN = "notion_written"
EVENT_NOTION_FAILED = "notion_failed"
EVENT_DISMISSED = "dismissed"

# notion_status values.
NOTION_NONE = "none"
NOTION_PENDING = "pending"
NOTION_WRITTEN = "written"
NOTION_FAILED = "failed"


class HandoffError(ValueError):
    """A hand-off request that cannot be done; the message is safe to show a user."""


class HandoffNotFoundError(HandoffError):
    """No hand-off (or account) with that id."""


class ChurnedAccountError(HandoffError):
    """The account has no active contract: there is nothing to expand."""


class NoOpportunityError(HandoffError):
    """The data shows no matching expansion opportunity."""


class DuplicateHandoffError(HandoffError):
    """An open hand-off of the same type already exists for the account."""

    def __init__(self, message: str, existing: HandoffProposal) -> None:
        super().__init__(message)
        self.existing = existing


class InvalidHandoffEditError(HandoffError):
    """An edit with a bad value; ``field`` names the input (``estimated_arr``/``talk_track``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class HandoffCard(BaseModel):
    """A hand-off with its account, as every renderer (Slack, Notion, Claude) needs it."""

    handoff_id: int
    account_id: int
    account_name: str
    external_id: str
    owner_slack_id: str | None
    kind: str
    key: str
    title: str
    evidence: list[str]
    estimated_arr: Decimal
    formula: str
    talk_track: str
    status: str
    source: str
    proposed_by: str | None
    approved_by: str | None
    sales_rep: str | None
    sales_channel: str | None
    sales_ts: str | None
    notion_status: str
    notion_page_id: str | None


def open_key_for(account_id: int, kind: str) -> str:
    """The unique key an open hand-off of ``kind`` holds for an account."""
    return f"{account_id}:{kind}"


# -- reading ---------------------------------------------------------------------------------


def get_handoff(session: Session, *, handoff_id: int) -> HandoffProposal:
    """The hand-off with ``handoff_id`` (fresh from the database)."""
    row = session.exec(select(HandoffProposal).where(HandoffProposal.id == handoff_id)).first()
    if row is None:
        raise HandoffNotFoundError(f"There is no hand-off #{handoff_id}.")
    session.refresh(row)
    return row


def open_handoff_of(session: Session, *, account_id: int, kind: str) -> HandoffProposal | None:
    """The open hand-off of ``kind`` for an account, if any."""
    key = open_key_for(account_id, kind)
    return session.exec(select(HandoffProposal).where(HandoffProposal.open_key == key)).first()


def open_handoffs(session: Session, *, owner_slack_id: str | None = None) -> list[HandoffProposal]:
    """Open hand-offs (proposed, approved, sent), newest first; optionally one CSM's."""
    stmt = select(HandoffProposal).where(col(HandoffProposal.status).in_(OPEN_STATES))
    if owner_slack_id is not None:
        stmt = stmt.where(HandoffProposal.owner_slack_id == owner_slack_id)
    stmt = stmt.order_by(col(HandoffProposal.created_at).desc(), col(HandoffProposal.id).desc())
    return list(session.exec(stmt).all())


def expansion_pipeline(session: Session) -> tuple[int, Decimal]:
    """Count and estimated ARR of the open hand-offs (the pipeline handed to Sales)."""
    count, arr = session.exec(
        select(func.count(), func.coalesce(func.sum(HandoffProposal.estimated_arr), 0)).where(
            col(HandoffProposal.status).in_(OPEN_STATES)
        )
    ).one()
    return int(count or 0), Decimal(str(arr or 0)).quantize(Decimal("0.01"))


def timeline(session: Session, *, handoff_id: int) -> list[HandoffEvent]:
    """Every event of a hand-off, oldest first."""
    stmt = (
        select(HandoffEvent)
        .where(HandoffEvent.handoff_id == handoff_id)
        .order_by(col(HandoffEvent.at), col(HandoffEvent.id))
    )
    return list(session.exec(stmt).all())


def handoff_cards(session: Session, rows: Sequence[HandoffProposal]) -> list[HandoffCard]:
    """``rows`` with their accounts, ready to render."""
    ids = {r.account_id for r in rows}
    accounts = {
        a.id: a for a in session.exec(select(Account).where(col(Account.id).in_(ids or [0]))).all()
    }
    return [_card(r, accounts[r.account_id]) for r in rows if r.account_id in accounts]


def handoff_card(session: Session, *, handoff_id: int) -> HandoffCard:
    """One hand-off with its account, fresh from the database."""
    return handoff_cards(session, [get_handoff(session, handoff_id=handoff_id)])[0]


def _card(row: HandoffProposal, account: Account) -> HandoffCard:
    return HandoffCard(
        handoff_id=row.id or 0,
        account_id=row.account_id,
        account_name=account.name,
        external_id=account.external_id,
        owner_slack_id=row.owner_slack_id or account.owner_slack_id,
        kind=row.kind,
        key=row.key,
        title=row.title,
        evidence=list(row.evidence),
        estimated_arr=row.estimated_arr,
        formula=row.formula,
        talk_track=row.talk_track,
        status=row.status,
        source=row.source,
        proposed_by=row.proposed_by,
        approved_by=row.approved_by,
        sales_rep=row.sales_rep,
        sales_channel=row.sales_channel,
        sales_ts=row.sales_ts,
        notion_status=row.notion_status,
        notion_page_id=row.notion_page_id,
    )


# -- proposing -------------------------------------------------------------------------------


# -- transitions -----------------------------------------------------------------------------


def transition(
    session: Session,
    handoff_id: int,
    expected: Sequence[str],
    values: dict[str, Any],
) -> bool:
    """``UPDATE ... WHERE id = :id AND status IN :expected``; True when a row changed."""
    stmt = (
        update(HandoffProposal)
        .where(col(HandoffProposal.id) == handoff_id, col(HandoffProposal.status).in_(expected))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = session.connection().execute(stmt).rowcount == 1
    session.expire_all()
    return changed


def add_event(
    session: Session,
    row: HandoffProposal,
    kind: str,
    actor: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        HandoffEvent(
            handoff_id=row.id or 0,
            account_id=row.account_id,
            kind=kind,
            actor=actor,
            at=utcnow(),
            detail=detail or {},
        )
    )
    session.flush()


def change(
    session: Session,
    handoff_id: int,
    expected: Sequence[str],
    values: dict[str, Any],
    outcome: tuple[str, str | None, dict[str, Any]],
) -> bool:
    """``transition``, and when this call won it, the event ``outcome`` on the timeline."""
    row = get_handoff(session, handoff_id=handoff_id)  # HandoffNotFoundError for a stale button
    if not transition(session, handoff_id, expected, values):
        return False
    kind, actor, detail = outcome
    add_event(session, row, kind, actor, detail)
    return True
