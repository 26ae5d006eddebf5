"""The Notion job: every few minutes, write the Notion deliveries that are due again.

Notion writes are deliveries in the same ledger as Slack posts (``tools.alerts.ledger``, queued
by ``tools.outbox``): QBR pages, follow-up task pages and closed tasks' status are sent by
``bot.notion.NotionSender``, which looks each page up by its delivery key before creating it.
Approved expansion hand-offs' task pages are such deliveries too (``notion_handoff``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from tools.db import SessionFactory
from tools.scoring_config import ScoringConfig

OUTBOX_MINUTES = 5


def notion_outbox_job(
    settings: Settings, *, session_factory: SessionFactory, config: ScoringConfig
) -> Callable[[datetime], object] | None:
    """The Notion deliveries as one job (how many QBR pages, hand-off tasks and alert-task
    writes it completed); None without Notion."""
    from bot.handoff_notion import notion_configured
    from bot.notion import NotionSender, make_publisher
    from bot.notion.tasks import task_publisher

    if make_publisher(settings) is None and not notion_configured(settings):
        return None

    def publish(now: datetime) -> object:
        # Fresh publishers each run: a database's schema is looked up again (a property added
        # since the last run counts).
        qbr, tasks = make_publisher(settings), task_publisher(settings)
        sender = NotionSender(session_factory, now, qbr=qbr, tasks=tasks, config=config)
        sent = sender.send_due()
        written = [d.kind for d in sent if d.status == "posted"]
        qbr_pages, handoffs = written.count("notion_qbr"), written.count("notion_handoff")
        return {
            "qbr_pages": qbr_pages,
            "handoff_tasks": handoffs,
            "alert_tasks": len(written) - qbr_pages - handoffs,
        }

    return publish
