"""Send an approved hand-off to Sales and tell the CSM Sales' answer, through the delivery ledger.

The Sales card is a delivery in the one delivery ledger (``tools.handoff.delivery``), claimed in
the transaction that approves the hand-off, so only the request that won ``approve_handoff``
has one to post; the CSM's notice is claimed with Sales' answer the same way. Both are posted
at once by ``bot.jobs.delivery.Poster``, the sender of the alerts: the delivery key rides in the
message metadata, a lost ``chat.postMessage`` response is looked up in the channel before
anything is posted again, and a failure is kept (attempts, last error) and retried by the
``slack_retry`` job. The hand-off is marked sent when its card is marked posted (same
transaction), and its Notion page is queued then: a delivery too, written at once here and
retried by the Notion job (looked up by its idempotency key before it is created).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from sqlmodel import Session

from bot import handoff_blocks
from bot.deps import Deps
from bot.handoff_notion import notion_configured
from bot.jobs.delivery import default_worker
from bot.jobs.slack_retry import Outcome, post_now
from bot.notion.delivery import NotionSender
from bot.notion.tasks import task_publisher
from tools import handoff, outbox
from tools.alerts import ledger
from tools.db import session_scope
from tools.handoff import HandoffCard
from tools.handoff import delivery as handoff_delivery
from tools.models import AlertKind, AlertStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A delivery this request claimed: it posts it."""

    delivery_id: int
    worker: str
    now: datetime


def card_of(deps: Deps, handoff_id: int) -> HandoffCard:
    """The hand-off as renderers need it, fresh from the database."""
    with session_scope(deps.sessions) as session:
        return handoff.handoff_card(session, handoff_id=handoff_id)


def approve(
    deps: Deps, client: WebClient, handoff_id: int, approver: str | None
) -> tuple[bool, HandoffCard, Outcome | None]:
    """proposed -> approved with its Sales card claimed in the same transaction; the call that
    won posts the card (and writes the Notion page once it is sent). Returns whether this call
    approved it, the hand-off after it, and what became of the card."""
    claimed = None
    with session_scope(deps.sessions) as session:
        if handoff.approve_handoff(session, handoff_id=handoff_id, approver=approver):
            card = handoff.handoff_card(session, handoff_id=handoff_id)
            blocks, text = handoff_blocks.sales_card(card.model_copy(update={"status": "sent"}))
            claim = handoff_delivery.sales_card_claim(
                handoff_id,
                card.account_id,
                channel=deps.settings.sales_channel,
                text=text,
                blocks=blocks,
                notion=notion_configured(deps.settings),
            )
            claimed = _claim(session, claim, deps.now())
    if claimed is None:
        return False, card_of(deps, handoff_id), None
    outcome = post_now(deps.sessions, client, claimed.delivery_id, claimed.worker, claimed.now)
    write_notion_task(deps, handoff_id)
    return True, card_of(deps, handoff_id), outcome


def answer(
    deps: Deps, handoff_id: int, *, accepted: bool, rep: str | None
) -> tuple[bool, HandoffCard, Claimed | None]:
    """sent -> accepted | declined by the rep, with the CSM's notice claimed in the same
    transaction (post it with ``notify``). Returns whether this call changed it, the hand-off
    after it, and the claimed notice (None without a CSM to tell)."""
    with session_scope(deps.sessions) as session:
        changed = handoff.record_sales_response(
            session, handoff_id=handoff_id, accepted=accepted, rep=rep
        )
        card = handoff.handoff_card(session, handoff_id=handoff_id)
        user = card.owner_slack_id or card.approved_by or card.proposed_by
        claimed = None
        if changed and user:
            blocks, text = handoff_blocks.csm_notice(card)
            claim = handoff_delivery.notice_claim(
                handoff_id, card.account_id, answer=card.status, user=user, text=text, blocks=blocks
            )
            claimed = _claim(session, claim, deps.now())
    return changed, card, claimed


def notify(deps: Deps, client: WebClient, claimed: Claimed | None) -> Outcome | None:
    """Post the CSM's notice claimed by ``answer``."""
    if claimed is None:
        return None
    return post_now(deps.sessions, client, claimed.delivery_id, claimed.worker, claimed.now)


def _claim(session: Session, claim: ledger.AlertClaim, now: datetime) -> Claimed | None:
    worker = default_worker()
    delivery_id = ledger.claim_alert(session, claim=claim, claimed_by=worker, now=now)
    return None if delivery_id is None else Claimed(delivery_id, worker, now)


def write_notion_task(deps: Deps, handoff_id: int) -> bool:
    """Write the hand-off's queued Notion task now (one sender at a time); True when written.
    A failure stays in the delivery ledger for the Notion job."""
    publisher = task_publisher(deps.settings, deps.notion, min_interval=0.0, max_retries=1)
    if publisher is None:
        return False
    with deps.sessions() as session:
        row = handoff.get_handoff(session, handoff_id=handoff_id)
        page = ledger.by_key(session, outbox.handoff_claim(handoff_id, row.account_id).key)
        delivery_id = page.id if page is not None else None
    if delivery_id is None:
        return False
    sender = NotionSender(deps.sessions, deps.now(), tasks=publisher, config=deps.config)
    sent = sender.send(delivery_id)
    return sent is not None and sent.status == AlertStatus.POSTED.value


def retry_notion_tasks(deps: Deps, *, limit: int = 50) -> int:
    """Write every due Notion task (hand-offs' and alerts'); returns how many hand-off pages
    were written. The Notion job does the same with the QBR pages too."""
    publisher = task_publisher(deps.settings, deps.notion, min_interval=0.0)
    if publisher is None:
        return 0
    sender = NotionSender(deps.sessions, deps.now(), tasks=publisher, config=deps.config)
    sent = sender.send_due(limit=limit)
    return sum(
        1
        for d in sent
        if d.kind == AlertKind.NOTION_HANDOFF.value and d.status == AlertStatus.POSTED.value
    )
