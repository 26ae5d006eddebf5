"""Expansion hand-off proposals: a record for a person to approve; nothing is sent from here.

The evidence, estimated ARR and talk track come from the deterministic expansion opportunity,
never from free text. One open hand-off per account and opportunity type: proposing again
returns the open one. The full lifecycle (approval, dispatch, Sales' answer) is tools/handoff/.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from tools import handoff
from tools.models import HandoffProposal
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
    return session.exec(
        select(HandoffProposal).where(
            HandoffProposal.key == key, col(HandoffProposal.open_key).is_not(None)
        )
    ).first()


def propose_handoff(
    session: Session,
    *,
    opportunity: ExpansionOpportunity,
    thread_key: str | None = None,
    proposed_by: str | None = None,
    source: handoff.Source = "agent",
) -> HandoffProposalView:
    """Record a proposed hand-off for ``opportunity`` (idempotent: an open one is returned)."""
    try:
        row = handoff.record_opportunity(
            session,
            opportunity=opportunity,
            source=source,
            proposed_by=proposed_by,
            thread_key=thread_key,
        )
    except handoff.DuplicateHandoffError as exc:
        return _view(exc.existing, created=False)
    return _view(row, created=True)
