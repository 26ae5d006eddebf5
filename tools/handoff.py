"""Expansion hand-offs to Sales: proposal, edit, approval, dispatch and Sales' answer.

Lifecycle: ``proposed -> approved -> sent -> accepted | declined``; ``proposed`` or ``approved``
may be ``dismissed``. Every transition is one conditional ``UPDATE ... WHERE status IN
(<expected>)``, so a double click or a Slack retry applies it at most once: each function returns
whether *this* call changed the row, and only the caller that won goes on to post to Sales.
Each transition also writes a ``HandoffEvent`` to the hand-off's timeline.

One open hand-off per account and opportunity type: ``open_key`` is ``{account_id}:{kind}``
while open (unique), cleared when closed. Nothing here talks to Slack or Notion (bot/ does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.expansion import expansion_opportunities
from tools.facts import active_contracts
from tools.models import Account, HandoffEvent, HandoffProposal, HandoffStatus, utcnow
from tools.results import ExpansionOpportunity

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

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
MAX_NOTION_ATTEMPTS = 8

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
NOTION_WRITING = "writing"
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
    best = max(opps, key=lambda o: o.estimated_arr)
    return record_opportunity(
        session,
        opportunity=best,
        source=source,
        proposed_by=proposed_by,
        thread_key=thread_key,
    )


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
    _event(session, row, EVENT_PROPOSED, proposed_by, detail)
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
    open_keys = set(
        session.exec(
            select(HandoffProposal.open_key).where(col(HandoffProposal.open_key).is_not(None))
        ).all()
    )
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


# -- transitions -----------------------------------------------------------------------------


def _transition(
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


def _event(
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


def _changed(
    session: Session,
    handoff_id: int,
    expected: Sequence[str],
    values: dict[str, Any],
    event: tuple[str, str | None, dict[str, Any]],
) -> bool:
    row = get_handoff(session, handoff_id=handoff_id)  # HandoffNotFoundError for a stale button
    if not _transition(session, handoff_id, expected, values):
        return False
    kind, actor, detail = event
    _event(session, row, kind, actor, detail)
    return True


_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([km]?)$", re.IGNORECASE)


def parse_arr(text: str) -> Decimal:
    """A dollar amount typed by a person: ``24000``, ``$24,000``, ``24k``, ``1.2m``."""
    cleaned = text.replace("$", "").replace(",", "").strip()
    found = _AMOUNT.match(cleaned)
    if not found:
        raise InvalidHandoffEditError(
            "Enter the estimated ARR as a number of dollars, e.g. 24000 or 24k.", "estimated_arr"
        )
    try:
        amount = Decimal(found.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets numbers through
        raise InvalidHandoffEditError("That is not a number.", "estimated_arr") from exc
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[found.group(2).lower()]
    return check_arr(amount * scale)


def check_arr(amount: Decimal) -> Decimal:
    """``amount`` rounded to cents, if it is a plausible positive ARR."""
    if amount <= 0:
        raise InvalidHandoffEditError("The estimated ARR must be more than $0.", "estimated_arr")
    if amount > MAX_ESTIMATED_ARR:
        raise InvalidHandoffEditError("That estimated ARR is too large.", "estimated_arr")
    return amount.quantize(Decimal("0.01"))


def check_talk_track(text: str) -> str:
    """A talk track with its whitespace trimmed, if it is not empty nor too long."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidHandoffEditError("The talk track cannot be empty.", "talk_track")
    if len(cleaned) > MAX_TALK_TRACK:
        raise InvalidHandoffEditError(
            f"Keep the talk track under {MAX_TALK_TRACK:,} characters.", "talk_track"
        )
    return cleaned


def edit_handoff(
    session: Session,
    *,
    handoff_id: int,
    editor: str | None,
    estimated_arr: Decimal | None = None,
    talk_track: str | None = None,
) -> bool:
    """Change a proposed hand-off's ARR estimate and/or talk track (only while proposed)."""
    row = get_handoff(session, handoff_id=handoff_id)
    values: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    if estimated_arr is not None:
        amount = check_arr(estimated_arr)
        if amount != row.estimated_arr:
            values["estimated_arr"] = amount
            detail["estimated_arr"] = [str(row.estimated_arr), str(amount)]
    if talk_track is not None:
        track = check_talk_track(talk_track)
        if track != row.talk_track:
            values["talk_track"] = track
            detail["talk_track"] = track
    if not values:
        return False
    if "estimated_arr" in values:
        values["formula"] = f"edited by {editor or 'a person'} (was: {row.formula})"[:1000]
    return _changed(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value,),
        values,
        (EVENT_EDITED, editor, detail),
    )


def approve_handoff(session: Session, *, handoff_id: int, approver: str | None) -> bool:
    """proposed -> approved. True only for the one call that approved it (then send it)."""
    return _changed(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value,),
        {"status": HandoffStatus.APPROVED.value, "approved_by": approver},
        (EVENT_APPROVED, approver, {}),
    )


def mark_sent(
    session: Session,
    *,
    handoff_id: int,
    slack_channel: str,
    slack_ts: str,
    notion_page_id: str | None = None,
    notion_pending: bool = False,
) -> bool:
    """approved -> sent: the task is in the sales channel (and Notion, or queued for it)."""
    notion = NOTION_WRITTEN if notion_page_id else NOTION_PENDING if notion_pending else NOTION_NONE
    detail = {"channel": slack_channel, "ts": slack_ts, "notion_page_id": notion_page_id}
    return _changed(
        session,
        handoff_id,
        (HandoffStatus.APPROVED.value,),
        {
            "status": HandoffStatus.SENT.value,
            "sales_channel": slack_channel,
            "sales_ts": slack_ts,
            "notion_page_id": notion_page_id,
            "notion_status": notion,
        },
        (EVENT_DISPATCHED, None, detail),
    )


def record_sales_response(
    session: Session, *, handoff_id: int, accepted: bool, rep: str | None
) -> bool:
    """sent -> accepted | declined, by the Sales rep; closes the hand-off."""
    status = HandoffStatus.ACCEPTED if accepted else HandoffStatus.DECLINED
    return _changed(
        session,
        handoff_id,
        (HandoffStatus.SENT.value,),
        {"status": status.value, "sales_rep": rep, "open_key": None},
        (status.value, rep, {}),
    )


def dismiss_handoff(
    session: Session, *, handoff_id: int, actor: str | None, reason: str = ""
) -> bool:
    """proposed | approved (not yet sent) -> dismissed; closes the hand-off."""
    return _changed(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value, HandoffStatus.APPROVED.value),
        {"status": HandoffStatus.DISMISSED.value, "open_key": None},
        (EVENT_DISMISSED, actor, {"reason": reason[:500]} if reason else {}),
    )


# -- the Notion task (written by bot/, retried until done) -----------------------------------


def claim_notion_write(session: Session, *, handoff_id: int) -> bool:
    """pending -> writing for one writer; False when someone else has it or it is done."""
    stmt = (
        update(HandoffProposal)
        .where(
            col(HandoffProposal.id) == handoff_id,
            col(HandoffProposal.notion_status) == NOTION_PENDING,
        )
        .values(notion_status=NOTION_WRITING, notion_attempts=HandoffProposal.notion_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    changed = session.connection().execute(stmt).rowcount == 1
    session.expire_all()
    return changed


def record_notion_result(
    session: Session, *, handoff_id: int, page_id: str | None, error: str | None = None
) -> None:
    """The outcome of a claimed Notion write: written, or pending again (failed after many)."""
    row = get_handoff(session, handoff_id=handoff_id)
    event: tuple[str, dict[str, Any]]
    if page_id is not None:
        values: dict[str, Any] = {
            "notion_status": NOTION_WRITTEN,
            "notion_page_id": page_id,
            "notion_error": None,
        }
        event = (EVENT_NOTION_WRITTEN, {"page_id": page_id})
    else:
        gave_up = row.notion_attempts >= MAX_NOTION_ATTEMPTS
        values = {
            "notion_status": NOTION_FAILED if gave_up else NOTION_PENDING,
            "notion_error": (error or "unknown error")[:500],
        }
        event = (EVENT_NOTION_FAILED, {"error": values["notion_error"], "gave_up": gave_up})
    _transition(session, handoff_id, (row.status,), values)
    _event(session, row, event[0], None, event[1])


def pending_notion_writes(session: Session, *, limit: int = 50) -> list[HandoffProposal]:
    """Sent hand-offs whose Notion task is still to be written (oldest first)."""
    stmt = (
        select(HandoffProposal)
        .where(HandoffProposal.notion_status == NOTION_PENDING)
        .order_by(col(HandoffProposal.updated_at), col(HandoffProposal.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())


# -- what the Slack surfaces list ------------------------------------------------------------


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
    account = session.get(Account, account_id)
    if account is None:
        raise HandoffNotFoundError(f"There is no account with id {account_id}.")
    if not active_contracts(session, on=as_of, account_ids=[account_id]):
        raise ChurnedAccountError(
            f"{account.name} has no active contract (churned), so there is nothing to expand: "
            "no hand-off was proposed."
        )
    found = expansion_opportunities(session, as_of=as_of, config=config, account_ids=[account_id])
    opps = sorted(found.get(account_id, []), key=lambda o: -o.estimated_arr)
    if not opps:
        raise NoOpportunityError(
            f"The data shows no open expansion opportunity for {account.name}, "
            "so there is nothing to hand off."
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
    open_keys = set(
        session.exec(
            select(HandoffProposal.open_key).where(col(HandoffProposal.open_key).is_not(None))
        ).all()
    )
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
