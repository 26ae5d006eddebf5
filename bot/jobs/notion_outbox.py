"""The Notion outbox: queued QBR pages and pending hand-off tasks, retried every few minutes.

Notion writes have their own outbox (``tools.outbox``: a request stored before sending, claimed
with a lease, and a page looked up by its idempotency key before it is created again) — the
same claim / look-up-before-resend discipline as Slack posts, against Notion.
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
    """The Notion retries as one job: queued QBR pages (``bot.notion.publish_pending``),
    pending hand-off tasks (``bot.handoff_flow.retry_notion_tasks``) and alert follow-up tasks
    (``bot.task_notion.retry_task_writes``); None without Notion."""
    from bot.deps import Deps
    from bot.handoff_flow import retry_notion_tasks
    from bot.handoff_notion import notion_configured
    from bot.notion import make_publisher, publish_pending
    from bot.task_notion import retry_task_writes

    publisher = make_publisher(settings)
    tasks = notion_configured(settings)
    if publisher is None and not tasks:
        return None

    def publish(now: datetime) -> object:
        pages = (
            publish_pending(session_factory, publisher, now=now, config=config) if publisher else []
        )
        written = alert_tasks = 0
        if tasks:
            deps = Deps(
                settings=settings, sessions=session_factory, clock=lambda: now, config=config
            )
            written = retry_notion_tasks(deps)
            alert_tasks = retry_task_writes(deps)
        return {"qbr_pages": len(pages), "handoff_tasks": written, "alert_tasks": alert_tasks}

    return publish
