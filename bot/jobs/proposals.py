"""Expansion proposals from the daily scan, each DM'd to the account's owner exactly once."""

from __future__ import annotations

from datetime import date

from bot.handoff_blocks import proposal_card
from bot.jobs.delivery import DeliveryCounts, Poster
from tools import handoff
from tools.alerts import ledger
from tools.models import AlertKind
from tools.scoring_config import ScoringConfig

PROPOSAL_NOTE = ":mag: The daily scan found a new expansion opportunity in your book."


def propose_expansions(
    poster: Poster | None, *, config: ScoringConfig, day: date
) -> DeliveryCounts:
    """New expansion opportunities become hand-off proposals, each DM'd to the account's owner.

    The proposals and their DM claims are written in one transaction, so a crash after it is
    recovered by ``retry_stale_claims`` like any alert: no proposal without its DM, no DM twice.
    A dry run proposes nothing.
    """
    counts = DeliveryCounts()
    if poster is None:
        return counts
    claimed: list[int] = []
    with poster.sessions() as session:
        created = handoff.propose_from_scan(session, as_of=day, config=config)
        for card in handoff.handoff_cards(session, created):
            if not card.owner_slack_id:
                continue  # no owner to tell: it waits in /expansion
            blocks, text = proposal_card(card, note=PROPOSAL_NOTE)
            claim = ledger.AlertClaim(
                kind=AlertKind.HANDOFF_PROPOSAL,
                account_id=card.account_id,
                period=f"handoff-{card.handoff_id}",
                payload={
                    "text": text,
                    "blocks": blocks,
                    "channel": card.owner_slack_id,
                    "dm_user": card.owner_slack_id,
                },
            )
            alert_id = ledger.claim_alert(
                session, claim=claim, claimed_by=poster.worker, now=poster.now
            )
            if alert_id is not None:
                claimed.append(alert_id)
        session.commit()
    for alert_id in claimed:
        counts.claimed += 1
        poster.deliver(alert_id, counts)
    return counts
