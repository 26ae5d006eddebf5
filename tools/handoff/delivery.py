"""A hand-off's Slack posts are deliveries in the one delivery ledger (``tools.alerts.ledger``).

The Sales card is claimed in the transaction that approves the hand-off, and the CSM's notice in
the one that records Sales' answer; ``bot.jobs.delivery.Poster`` posts both (the same sender as
the alerts: the key in the message metadata, a lost response looked up before anything is
posted again, attempts and the last error kept, a failure retried by the Slack retry job). So a
double click, a Slack retry or a lost ``chat.postMessage`` response never posts twice, and a
Slack outage never loses the card.

When the Sales card is marked posted, ``card_posted`` marks the hand-off sent in the same
transaction (and queues its Notion page when the approval asked for one). Not imported by
``tools.handoff`` (which ``tools.metrics`` imports): bot/ imports it where it posts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col

from tools import outbox
from tools.alerts import ledger
from tools.alerts.ledger import AlertClaim
from tools.handoff.lifecycle import dismiss_handoff, mark_sent
from tools.handoff.store import get_handoff
from tools.models import Alert, AlertKind, AlertStatus, HandoffStatus

WITHDRAWN = "withdrawn: the hand-off was dismissed before its card was posted"


def sales_card_claim(
    handoff_id: int,
    account_id: int,
    *,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]],
    notion: bool,
) -> AlertClaim:
    """The Sales card of an approved hand-off: one per hand-off, whoever approves it how often.
    ``notion`` says whether its Notion page is queued once the card is posted."""
    return AlertClaim(
        kind=AlertKind.HANDOFF_SALES,
        account_id=account_id,
        period=f"handoff-{handoff_id}",
        payload={
            "handoff_id": handoff_id,
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "notion": notion,
        },
    )


def notice_claim(
    handoff_id: int,
    account_id: int,
    *,
    answer: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]],
) -> AlertClaim:
    """The CSM's DM that Sales ``answer``-ed (accepted / declined) the hand-off: one per answer."""
    return AlertClaim(
        kind=AlertKind.HANDOFF_NOTICE,
        account_id=account_id,
        period=f"handoff-{handoff_id}:{answer}",
        payload={
            "handoff_id": handoff_id,
            "channel": user,
            "dm_user": user,
            "text": text,
            "blocks": blocks,
        },
    )


def sales_card(session: Session, handoff_id: int, account_id: int) -> Alert | None:
    """The ledger row of the hand-off's Sales card, if it was approved since cards are in it."""
    return ledger.by_key(
        session, ledger.alert_key(AlertKind.HANDOFF_SALES, account_id, f"handoff-{handoff_id}")
    )


def card_posted(session: Session, delivery_id: int, *, now: datetime) -> None:
    """The Sales card ``delivery_id`` is in Slack: approved -> sent (with its channel and ts),
    and its Notion page queued. Runs in the transaction that marks the delivery posted."""
    delivery = session.get(Alert, delivery_id)
    if delivery is None or delivery.message_ts is None:
        return
    handoff_id = int(delivery.payload["handoff_id"])
    notion = bool(delivery.payload.get("notion"))
    sent = mark_sent(
        session,
        handoff_id=handoff_id,
        slack_channel=str(delivery.channel),
        slack_ts=str(delivery.message_ts),
        notion_pending=notion,
    )
    if sent and notion:
        row = get_handoff(session, handoff_id=handoff_id)
        outbox.enqueue(session, outbox.handoff_claim(handoff_id, row.account_id), now=now)


def withdraw_sales_card(session: Session, handoff_id: int, account_id: int) -> bool:
    """Stop the Sales card of a hand-off that is being dismissed: True when it can no longer be
    posted (it failed, waits for a retry, or there is none); False when it is posted or being
    posted right now. Does not commit."""
    card = sales_card(session, handoff_id, account_id)
    if card is None:
        return True
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.id) == card.id,
            col(Alert.message_ts).is_(None),
            or_(
                col(Alert.status) == AlertStatus.FAILED.value,
                and_(
                    col(Alert.status) == AlertStatus.CLAIMED.value,
                    col(Alert.next_attempt_at).is_not(None),
                ),
            ),
        )
        .values(status=AlertStatus.FAILED.value, last_error=WITHDRAWN, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def dismiss(session: Session, *, handoff_id: int, actor: str | None, reason: str = "") -> bool:
    """Dismiss a proposed hand-off, or an approved one whose Sales card is not (being) posted;
    True when this call dismissed it. Does not commit."""
    row = get_handoff(session, handoff_id=handoff_id)
    if row.status == HandoffStatus.APPROVED.value and not withdraw_sales_card(
        session, handoff_id, row.account_id
    ):
        return False
    return dismiss_handoff(session, handoff_id=handoff_id, actor=actor, reason=reason)
