"""Proposing hand-offs: from a person or Claude (one account), and from the daily scan.

One open hand-off per account and opportunity type; an opportunity key proposed in the last
``SCAN_COOLDOWN_DAYS`` is not proposed again by the scan.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.expansion import expansion_opportunities
from tools.facts import active_contracts
from tools.handoff.store import (
    EVENT_PROPOSED,
    KINDS,
    SCAN_COOLDOWN_DAYS,
    ChurnedAccountError,
    DuplicateHandoffError,
    HandoffError,
    HandoffNotFoundError,
    NoOpportunityError,
    Source,
    add_event,
    open_handoff_of,
    open_key_for,
)
from tools.models import Account, HandoffProposal, HandoffStatus, utcnow
from tools.results import ExpansionOpportunity

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig


def propose_handoff(
    session: Session,
    *,
    account_id: int,
    source: Source,
    proposed_by: str | None,
    as_of: date,
    config: ScoringConfig,
    opportunity_key: str | None = None,
    kind: str | None = None,
    thread_key: str | None = None,
) -> HandoffProposal:
    """Propose a hand-off for the account's opportunity ``opportunity_key`` (or of ``kind``;
    default: its largest). Refuses churned accounts and duplicates of an open hand-off.
    """
    opps = _opportunities_of(session, account_id, as_of, config, opportunity_key, kind)
    best = max(opps, key=lambda o: o.estimated_arr)
    return record_opportunity(
        session,
        opportunity=best,
        source=source,
        proposed_by=proposed_by,
        thread_key=thread_key,
    )


def _opportunities_of(
    session: Session,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    opportunity_key: str | None = None,
    kind: str | None = None,
) -> list[ExpansionOpportunity]:
    """The account's current opportunities (optionally one key or type); refuses an unknown
    account or type, a churned account, and an account without a matching opportunity."""
    account = session.get(Account, account_id)
    if account is None:
        raise HandoffNotFoundError(f"There is no account with id {account_id}.")
    if kind is not None and kind not in KINDS:
        raise HandoffError(f"Unknown opportunity type {kind!r}: use one of {', '.join(KINDS)}.")
    if not active_contracts(session, on=as_of, account_ids=[account_id]):
        raise ChurnedAccountError(
            f"{account.name} has no active contract (churned), so there is nothing to expand: "
            "no hand-off was proposed."
        )
    found = expansion_opportunities(session, as_of=as_of, config=config, account_ids=[account_id])
    opps = [
        o
        for o in found.get(account_id, [])
        if opportunity_key in (None, o.key) and kind in (None, o.kind)
    ]
    if not opps:
        what = f"{kind} " if kind else ""
        raise NoOpportunityError(
            f"The data shows no open {what}expansion opportunity for {account.name}, "
            "so there is nothing to hand off."
        )
    return opps


def _open_keys(session: Session) -> set[str]:
    """The ``open_key`` of every open hand-off."""
    keys = session.exec(
        select(HandoffProposal.open_key).where(col(HandoffProposal.open_key).is_not(None))
    ).all()
    return {key for key in keys if key is not None}


def record_opportunity(
    session: Session,
    *,
    opportunity: ExpansionOpportunity,
    source: Source,
    proposed_by: str | None = None,
    thread_key: str | None = None,
) -> HandoffProposal:
    """Store a proposal for ``opportunity``; DuplicateHandoffError when one of its type is open."""
    account = session.get(Account, opportunity.account_id)
    if account is None:
        raise HandoffNotFoundError(f"There is no account with id {opportunity.account_id}.")
    existing = open_handoff_of(session, account_id=opportunity.account_id, kind=opportunity.kind)
    if existing is not None:
        raise _duplicate(account, existing)
    row = HandoffProposal(
        account_id=opportunity.account_id,
        kind=opportunity.kind,
        key=opportunity.key,
        open_key=open_key_for(opportunity.account_id, opportunity.kind),
        title=opportunity.title,
        evidence=list(opportunity.evidence),
        estimated_arr=opportunity.estimated_arr,
        formula=opportunity.formula,
        talk_track=opportunity.talk_track,
        status=HandoffStatus.PROPOSED.value,
        source=source,
        owner_slack_id=account.owner_slack_id,
        thread_key=thread_key,
        proposed_by=proposed_by,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request proposed one of this type first
        existing = open_handoff_of(
            session, account_id=opportunity.account_id, kind=opportunity.kind
        )
        if existing is None:
            raise
        raise _duplicate(account, existing) from None
    detail = {"source": source, "key": row.key, "estimated_arr": str(row.estimated_arr)}
    add_event(session, row, EVENT_PROPOSED, proposed_by, detail)
    return row


def _duplicate(account: Account, existing: HandoffProposal) -> DuplicateHandoffError:
    return DuplicateHandoffError(
        f"{account.name} already has an open {existing.kind} hand-off #{existing.id} "
        f"(status: {existing.status}): {existing.title}. Work on that one instead of "
        "proposing it again.",
        existing,
    )


def fresh_opportunities(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    cooldown_days: int = SCAN_COOLDOWN_DAYS,
) -> list[ExpansionOpportunity]:
    """The portfolio's opportunities the daily scan would propose today (reads only).

    Skips an account's type with an open hand-off, and any opportunity key proposed in the last
    ``cooldown_days`` days (a dismissed or declined hand-off is not re-proposed every morning);
    one per account and type, the strongest evidence first.
    """
    since = utcnow() - timedelta(days=cooldown_days)
    recent = set(
        session.exec(
            select(HandoffProposal.key).where(col(HandoffProposal.created_at) >= since)
        ).all()
    )
    open_keys = _open_keys(session)
    fresh: list[ExpansionOpportunity] = []
    found = expansion_opportunities(session, as_of=as_of, config=config)
    # Strongest evidence first (tools/expansion_strength.py), then the money, then the id.
    ranked = sorted(
        (opp for opps in found.values() for opp in opps),
        key=lambda o: (-o.strength, -o.estimated_arr, o.account_id),
    )
    for opp in ranked:
        open_key = open_key_for(opp.account_id, opp.kind)
        if opp.key in recent or open_key in open_keys:
            continue
        fresh.append(opp)
        open_keys.add(open_key)
    return fresh


def propose_from_scan(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    cooldown_days: int = SCAN_COOLDOWN_DAYS,
) -> list[HandoffProposal]:
    """Proposals for the portfolio's new opportunities (``fresh_opportunities``), recorded."""
    created: list[HandoffProposal] = []
    for opp in fresh_opportunities(
        session, as_of=as_of, config=config, cooldown_days=cooldown_days
    ):
        try:
            created.append(record_opportunity(session, opportunity=opp, source="scan"))
        except DuplicateHandoffError:  # another replica's scan got there first
            continue
    return created


def propose_for_account(
    session: Session,
    *,
    account_id: int,
    source: Source,
    proposed_by: str | None,
    as_of: date,
    config: ScoringConfig,
) -> list[tuple[HandoffProposal, bool]]:
    """Propose every opportunity type the account shows; an already open hand-off of a type
    is returned with ``False`` (not created). Refuses churned accounts and accounts without any.
    """
    opps = sorted(
        _opportunities_of(session, account_id, as_of, config), key=lambda o: -o.estimated_arr
    )
    results: list[tuple[HandoffProposal, bool]] = []
    for opp in opps:
        try:
            row = record_opportunity(
                session, opportunity=opp, source=source, proposed_by=proposed_by
            )
        except DuplicateHandoffError as exc:
            results.append((exc.existing, False))
        else:
            results.append((row, True))
    return results


class UnproposedOpportunity(BaseModel):
    """A current opportunity with no open hand-off of its type."""

    account_id: int
    account_name: str
    owner_slack_id: str | None
    opportunity: ExpansionOpportunity


def unproposed_opportunities(
    session: Session, *, as_of: date, config: ScoringConfig
) -> list[UnproposedOpportunity]:
    """Opportunities not yet proposed (no open hand-off of their type), largest first."""
    found = expansion_opportunities(session, as_of=as_of, config=config)
    open_keys = _open_keys(session)
    ids = [a for a, opps in found.items() if opps]
    accounts = {
        a.id: a for a in session.exec(select(Account).where(col(Account.id).in_(ids or [0]))).all()
    }
    items = [
        UnproposedOpportunity(
            account_id=account_id,
            account_name=accounts[account_id].name,
            owner_slack_id=accounts[account_id].owner_slack_id,
            opportunity=opp,
        )
        for account_id in ids
        for opp in found[account_id]
        if open_key_for(account_id, opp.kind) not in open_keys and account_id in accounts
    ]
    items.sort(
        key=lambda u: (-u.opportunity.strength, -u.opportunity.estimated_arr, u.account_name)
    )
    return items
