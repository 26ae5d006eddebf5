"""The book DMs of the daily scan: one message per owner a day instead of one per item.

``deliver_books`` gathers, per owner, today's T-90 QBR drafts, new expansion proposals and the
churn alerts over the per-owner cap (and, in a "state of your book", every account of theirs
at risk), claims one book message per owner and, in the same transaction, each item it carries
(an item row is held ``via`` its book: announced by nothing else while the book is pending,
posted when the book is, released for the next run if the book fails for good), then delivers
the books exactly once like any message. A dry run plans the same without writing.
See ``tools.alerts.book`` for when an owner gets which message and ``book.settle_items``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from bot.blocks import renewal_label
from bot.book_blocks import Book, ProposalLine, RenewalLine, RiskLine, book_message
from bot.config import Settings
from bot.jobs.delivery import DeliveryCounts, PlannedAlert, Poster, planned
from bot.jobs.qbr_drafts import draft_qbr
from tools import handoff
from tools.alerts import book, dates, ledger, policy
from tools.alerts.book import UNOWNED, CappedAlerts, Mode
from tools.db import SessionFactory
from tools.models import Account, AlertKind, AlertStatus, HandoffProposal, HandoffStatus
from tools.results import AccountReport
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)


class BookRunReport(BaseModel):
    """The book messages a daily run sent (or, in a dry run, would send)."""

    planned: list[PlannedAlert] = Field(default_factory=list)
    counts: DeliveryCounts = Field(default_factory=DeliveryCounts)
    items: int = Field(default=0, description="Items (accounts, renewals, proposals) carried.")


@dataclass
class _Draft:
    """One owner's book while it is being gathered."""

    owner: str
    mode: Mode
    at_risk: list[tuple[AccountReport, str]] = field(default_factory=list)
    overflow: list[policy.ChurnDecision] = field(default_factory=list)
    renewals: list[tuple[dates.RenewalDue, str]] = field(default_factory=list)
    proposals: list[ProposalLine] = field(default_factory=list)
    cards: list[handoff.HandoffCard] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.at_risk or self.renewals or self.proposals)


def _risk_line(report: AccountReport, note: str, day: date) -> RiskLine:
    return RiskLine(
        account_id=report.account.account_id,
        name=report.account.name,
        level=report.churn.level,
        band=report.health.band.value,
        score=report.health.score,
        arr_at_risk=report.churn.arr_at_risk or report.account.arr,
        renewal=renewal_label(report.account, day),
        note=note,
    )


def _gather(
    session: Session,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
    reports: list[AccountReport],
    capped: CappedAlerts,
    propose: bool,
) -> list[_Draft]:
    """Every owner's book for today (proposals recorded when ``propose``, else only found)."""
    alerted = {d.report.account.account_id for d in capped.channel}
    contracts = dates.contracts_due_for_t90(session, today=day)
    announced = ledger.latest_alerts(  # a released item (its book failed) is due again
        session,
        kind=AlertKind.QBR_T90,
        account_ids=[c.account_id for c in contracts],
        statuses=(AlertStatus.CLAIMED, AlertStatus.HELD, AlertStatus.POSTED),
    )
    due = [
        c
        for c in contracts
        if c.account_id not in announced or announced[c.account_id].period != c.contract_external_id
    ]
    accounts = _accounts(session, {c.account_id for c in due})
    owner_of_account = {a: (acct.owner_slack_id or UNOWNED) for a, acct in accounts.items()}
    proposals = _proposals(session, config=config, day=day, propose=propose)
    candidates = {book.owner_of(r) for r in reports}
    candidates |= {book.owner_of(d.report) for d in capped.overflow}
    candidates |= set(owner_of_account.values())
    candidates |= {owner for owner, _, _ in proposals}
    modes = book.modes(
        session,
        owners=sorted(candidates),
        today=day,
        catch_up_days=settings.book_catch_up_days,
    )
    drafts = {o: _Draft(owner=o, mode=m) for o, m in modes.items()}
    overflowed = {d.report.account.account_id: d for d in capped.overflow}
    for decision in capped.overflow:
        drafts[book.owner_of(decision.report)].overflow.append(decision)
    for report in sorted(reports, key=book.severity):
        owner = drafts[book.owner_of(report)]
        account_id = report.account.account_id
        if account_id in overflowed:
            owner.at_risk.append((report, overflowed[account_id].reason))
        elif owner.mode == "state":
            note = f"alerted in {settings.alerts_channel} today" if account_id in alerted else ""
            owner.at_risk.append((report, note))
    for contract in due:
        owner_key = owner_of_account.get(contract.account_id)
        if owner_key is not None:
            name = accounts[contract.account_id].name
            drafts[owner_key].renewals.append((contract, name))
    for owner_id, line, card in proposals:  # strongest evidence first (fresh_opportunities)
        drafts[owner_id].proposals.append(line)
        if card is not None:
            drafts[owner_id].cards.append(card)
    return [d for d in drafts.values() if not d.empty]


def _accounts(session: Session, ids: set[int]) -> dict[int, Account]:
    found = {a: session.get(Account, a) for a in sorted(ids)}
    return {a: acct for a, acct in found.items() if acct is not None}


_Proposal = tuple[str, ProposalLine, handoff.HandoffCard | None]


def _proposals(
    session: Session, *, config: ScoringConfig, day: date, propose: bool
) -> list[_Proposal]:
    """Today's new expansion proposals of owned accounts: recorded when ``propose``, else only
    found (a dry run), plus the proposals whose book failed to arrive. Unowned ones wait in
    /expansion."""
    again = _released_proposals(session)
    if propose:
        cards = handoff.handoff_cards(
            session, [*handoff.propose_from_scan(session, as_of=day, config=config), *again]
        )
        return [(c.owner_slack_id, _proposal_line(c), c) for c in cards if c.owner_slack_id]
    opps = handoff.fresh_opportunities(session, as_of=day, config=config)
    accounts = _accounts(session, {o.account_id for o in opps})
    found: list[_Proposal] = [
        (c.owner_slack_id, _proposal_line(c), None)
        for c in handoff.handoff_cards(session, again)
        if c.owner_slack_id
    ]
    for opp in opps:
        account = accounts.get(opp.account_id)
        if account is None or not account.owner_slack_id:
            continue
        line = ProposalLine(
            account_id=opp.account_id,
            name=account.name,
            title=opp.title,
            estimated_arr=opp.estimated_arr,
        )
        found.append((account.owner_slack_id, line, None))
    return found


def _proposal_line(card: handoff.HandoffCard) -> ProposalLine:
    return ProposalLine(
        account_id=card.account_id,
        name=card.account_name,
        title=card.title,
        estimated_arr=card.estimated_arr,
    )


def _released_proposals(session: Session) -> list[HandoffProposal]:
    """Still-proposed hand-offs whose announcement rode in a book that failed."""
    ids = book.released_proposals(session)
    rows = [session.get(HandoffProposal, i) for i in sorted(ids)]
    return [r for r in rows if r is not None and r.status == HandoffStatus.PROPOSED.value]


def _book(draft: _Draft, *, settings: Settings, day: date, versions: dict[int, int | None]) -> Book:
    return Book(
        mode=draft.mode,
        owner_slack_id=None if draft.owner == UNOWNED else draft.owner,
        as_of=day,
        alerts_channel=settings.alerts_channel,
        at_risk=[_risk_line(r, note, day) for r, note in draft.at_risk],
        renewals=[
            RenewalLine(
                account_id=c.account_id,
                name=name,
                end_date=c.end_date,
                days=(c.end_date - day).days,
                arr=c.arr,
                draft_version=versions.get(c.account_id),
            )
            for c, name in draft.renewals
        ],
        proposals=draft.proposals,
    )


def _payload(draft: _Draft, rendered: Book, *, settings: Settings) -> dict[str, Any]:
    blocks, text = book_message(rendered, max_items=settings.book_max_items)
    payload: dict[str, Any] = {
        "channel": settings.alerts_channel,
        "text": text,
        "blocks": blocks,
        "account_name": "book of "
        + ("unowned accounts" if draft.owner == UNOWNED else draft.owner),
        "reason": (
            f"{'state of the book' if draft.mode == 'state' else 'book today'}: "
            f"{len(rendered.at_risk)} at risk, {len(rendered.renewals)} renewals, "
            f"{len(rendered.proposals)} proposals"
        ),
    }
    if draft.owner != UNOWNED:
        payload["dm_user"] = draft.owner
    return payload


def _claim_items(
    session: Session,
    poster: Poster,
    draft: _Draft,
    *,
    via: str,
    settings: Settings,
    config: ScoringConfig,
    day: date,
) -> dict[int, int | None]:
    """Hold every item of ``draft`` for its book (``via``); draft the T-90 QBRs it wins."""
    record = {"via": via}
    versions: dict[int, int | None] = {}
    for decision in draft.overflow:
        payload = {**record, "account_name": decision.report.account.name}
        payload["reason"] = decision.reason
        claim = policy.churn_claim(decision.report, today=day, payload=payload)
        _record(session, poster, claim)
    kept = []
    for contract, name in draft.renewals:
        claim = ledger.AlertClaim(
            kind=AlertKind.QBR_T90,
            account_id=contract.account_id,
            period=contract.contract_external_id,
            payload={**record, "account_name": name},
        )
        if _record(session, poster, claim):
            view = draft_qbr(session, account_id=contract.account_id, day=day, config=config)
            versions[contract.account_id] = view.version
            kept.append((contract, name))
    draft.renewals = kept  # another run announced the rest
    for card in draft.cards:
        claim = ledger.AlertClaim(
            kind=AlertKind.HANDOFF_PROPOSAL,
            account_id=card.account_id,
            period=f"handoff-{card.handoff_id}",
            payload={**record, "account_name": card.account_name},
        )
        _record(session, poster, claim)
    return versions


def _record(session: Session, poster: Poster, claim: ledger.AlertClaim) -> bool:
    won = ledger.claim_alert(
        session, claim=claim, claimed_by=poster.worker, now=poster.now, status=AlertStatus.HELD
    )
    return won is not None


def deliver_books(
    session_factory: SessionFactory,
    poster: Poster | None,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
    reports: list[AccountReport],
    capped: CappedAlerts,
) -> BookRunReport:
    """Gather, claim (items and books in one transaction) and deliver today's book messages."""
    result = BookRunReport()
    if poster is None:  # dry run: plan only
        with session_factory() as session:
            drafts = _gather(
                session,
                settings=settings,
                config=config,
                day=day,
                reports=reports,
                capped=capped,
                propose=False,
            )
            for draft in drafts:
                rendered = _book(draft, settings=settings, day=day, versions={})
                claim = book.book_claim(
                    draft.mode,
                    owner=draft.owner,
                    today=day,
                    payload=_payload(draft, rendered, settings=settings),
                )
                result.planned.append(planned(claim))
                result.items += rendered.items
        return result
    claimed: list[int] = []
    with poster.sessions() as session:
        drafts = _gather(
            session,
            settings=settings,
            config=config,
            day=day,
            reports=reports,
            capped=capped,
            propose=True,
        )
        for draft in drafts:
            claim = book.book_claim(draft.mode, owner=draft.owner, today=day, payload={})
            alert_id = ledger.claim_alert(
                session, claim=claim, claimed_by=poster.worker, now=poster.now
            )
            if alert_id is None:
                result.counts.already_claimed += 1
                continue
            versions = _claim_items(
                session, poster, draft, via=claim.key, settings=settings, config=config, day=day
            )
            rendered = _book(draft, settings=settings, day=day, versions=versions)
            payload = _payload(draft, rendered, settings=settings)
            ledger.set_payload(session, alert_id=alert_id, payload=payload)
            result.planned.append(
                planned(book.book_claim(draft.mode, owner=draft.owner, today=day, payload=payload))
            )
            result.items += rendered.items
            claimed.append(alert_id)
        session.commit()
    for alert_id in claimed:
        result.counts.claimed += 1
        poster.deliver(alert_id, result.counts)
    with poster.sessions() as session:  # the items of the books just posted are posted too
        book.settle_items(session, now=poster.now)
    return result
