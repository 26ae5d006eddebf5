"""Send an approved hand-off to Sales: the sales-channel card, the Notion task, the bookkeeping.

Only the request that won ``approve_handoff`` calls ``dispatch``, so a double click or a retried
request posts one card and writes one Notion page. The Notion page is a delivery in the one
delivery ledger (``tools.outbox.handoff_claim``), queued in the transaction that marks the
hand-off sent and written by ``bot.notion.NotionSender`` (looked up by its idempotency key before
it is created). A Notion failure never loses the hand-off: it stays sent (the card is in Slack)
with its Notion write pending in the ledger, and the Notion job retries it with backoff.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot import handoff_blocks
from bot.deps import Deps
from bot.handoff_notion import notion_configured
from bot.notion.delivery import NotionSender
from bot.notion.tasks import task_publisher
from tools import handoff, outbox
from tools.alerts import ledger
from tools.db import session_scope
from tools.handoff import HandoffCard
from tools.models import AlertKind, AlertStatus

logger = logging.getLogger(__name__)


def card_of(deps: Deps, handoff_id: int) -> HandoffCard:
    """The hand-off as renderers need it, fresh from the database."""
    with session_scope(deps.sessions) as session:
        return handoff.handoff_card(session, handoff_id=handoff_id)


def dispatch(deps: Deps, client: WebClient, handoff_id: int) -> HandoffCard:
    """Post the approved hand-off to the sales channel, write its Notion task, mark it sent."""
    card = card_of(deps, handoff_id)
    blocks, text = handoff_blocks.sales_card(card.model_copy(update={"status": "sent"}))
    posted = client.chat_postMessage(
        channel=deps.settings.sales_channel, text=text, blocks=blocks, unfurl_links=False
    )
    with session_scope(deps.sessions) as session:
        sent = handoff.mark_sent(
            session,
            handoff_id=handoff_id,
            slack_channel=str(posted["channel"]),
            slack_ts=str(posted["ts"]),
            notion_pending=notion_configured(deps.settings),
        )
        if sent and notion_configured(deps.settings):  # queued with the "sent" it belongs to
            claim = outbox.handoff_claim(handoff_id, card.account_id)
            outbox.enqueue(session, claim, now=deps.now())
    write_notion_task(deps, handoff_id)
    return card_of(deps, handoff_id)


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


def notify_csm(client: WebClient, card: HandoffCard) -> None:
    """Tell the CSM (owner, else approver) in a DM that Sales accepted or declined."""
    user = card.owner_slack_id or card.approved_by or card.proposed_by
    if not user:
        return
    blocks, text = handoff_blocks.csm_notice(card)
    client.chat_postMessage(channel=user, text=text, blocks=blocks)
