"""Send an approved hand-off to Sales: the sales-channel card, the Notion task, the bookkeeping.

Only the request that won ``approve_handoff`` calls ``dispatch``, so a double click or a retried
request posts one card and writes one Notion page. A Notion failure never loses the hand-off: it
stays sent (the card is in Slack) with its Notion write pending, and ``retry_notion_tasks``
(the scheduler calls it) writes it later.
"""

from __future__ import annotations

import logging

import httpx
from notion_client.errors import NotionClientErrorBase
from slack_sdk import WebClient

from bot import handoff_blocks
from bot.deps import Deps
from bot.handoff_notion import default_notion_factory, notion_configured, write_task
from tools import handoff
from tools.db import session_scope
from tools.handoff import HandoffCard

logger = logging.getLogger(__name__)

NOTION_ERRORS = (NotionClientErrorBase, httpx.HTTPError, OSError, KeyError, IndexError)


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
        handoff.mark_sent(
            session,
            handoff_id=handoff_id,
            slack_channel=str(posted["channel"]),
            slack_ts=str(posted["ts"]),
            notion_pending=notion_configured(deps.settings),
        )
    write_notion_task(deps, handoff_id)
    return card_of(deps, handoff_id)


def write_notion_task(deps: Deps, handoff_id: int) -> bool:
    """Write the hand-off's pending Notion task (claimed, so at most one writer); True if done."""
    if not notion_configured(deps.settings):
        return False
    with session_scope(deps.sessions) as session:
        if not handoff.claim_notion_write(session, handoff_id=handoff_id):
            return False
        card = handoff.handoff_card(session, handoff_id=handoff_id)
    factory = deps.notion or default_notion_factory(deps.settings)
    database_id = deps.settings.notion_task_database_id or ""
    try:
        page_id = write_task(factory(), database_id=database_id, card=card)
    except NOTION_ERRORS as exc:
        logger.warning("notion task for hand-off %s failed: %s", handoff_id, type(exc).__name__)
        with session_scope(deps.sessions) as session:
            handoff.record_notion_result(
                session, handoff_id=handoff_id, page_id=None, error=_describe(exc)
            )
        return False
    with session_scope(deps.sessions) as session:
        handoff.record_notion_result(session, handoff_id=handoff_id, page_id=page_id)
    return True


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    return " ".join(str(p) for p in (type(exc).__name__, status, code) if p)


def retry_notion_tasks(deps: Deps, *, limit: int = 50) -> int:
    """Write every pending Notion task (the scheduler's retry); returns how many were written."""
    with session_scope(deps.sessions) as session:
        ids = [r.id for r in handoff.pending_notion_writes(session, limit=limit) if r.id]
    return sum(1 for handoff_id in ids if write_notion_task(deps, handoff_id))


def notify_csm(client: WebClient, card: HandoffCard) -> None:
    """Tell the CSM (owner, else approver) in a DM that Sales accepted or declined."""
    user = card.owner_slack_id or card.approved_by or card.proposed_by
    if not user:
        return
    blocks, text = handoff_blocks.csm_notice(card)
    client.chat_postMessage(channel=user, text=text, blocks=blocks)
