"""Expansion hand-off proposals: a record for a person to approve; nothing is sent from here.

The evidence, estimated ARR and talk track come from the deterministic expansion opportunity,
never from free text. One open proposal per opportunity key: proposing again returns it.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tools.models import HandoffProposal, HandoffStatus, utcnow
from tools.results import ExpansionOpportunity


class HandoffProposalView(BaseModel):
    """A proposal as tools and renderers see it."""

    proposal_id: int
    account_id: int
    kind: str
    key: str
    title: str
    evidence: list[str]
    estimated_arr: Decimal
    talk_track: str
    status: str
    created: bool


def _view(row: HandoffProposal, *, created: bool) -> HandoffProposalView:
    return HandoffProposalView(
        proposal_id=row.id or 0,
        account_id=row.account_id,
        kind=row.kind,
        key=row.key,
        title=row.title,
        evidence=list(row.evidence),
        estimated_arr=row.estimated_arr,
        talk_track=row.talk_track,
        status=row.status,
        created=created,
    )


def open_proposal(session: Session, *, key: str) -> HandoffProposal | None:
    """The open proposal for an opportunity key, if any."""
    return session.exec(select(HandoffProposal).where(HandoffProposal.open_key == key)).first()


def propose_handoff(
    session: Session,
    *,
    opportunity: ExpansionOpportunity,
    thread_key: str | None = None,
    proposed_by: str | None = None,
) -> HandoffProposalView:
    """Record a proposed hand-off for ``opportunity`` (idempotent on its key)."""
    existing = open_proposal(session, key=opportunity.key)
    if existing is not None:
        return _view(existing, created=False)
    row = HandoffProposal(
        account_id=opportunity.account_id,
        kind=opportunity.kind,
        key=opportunity.key,
        open_key=opportunity.key,
        title=opportunity.title,
        evidence=list(opportunity.evidence),
        estimated_arr=opportunity.estimated_arr,
        talk_track=opportunity.talk_track,
        status=HandoffStatus.PROPOSED.value,
        thread_key=thread_key,
        proposed_by=proposed_by,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request proposed it first
        existing = open_proposal(session, key=opportunity.key)
        if existing is None:
            raise
        return _view(existing, created=False)
    return _view(row, created=True)
