"""Notion: QBR pages and follow-up tasks, written exactly once through the delivery ledger.

- ``bot.notion.publisher``: ``NotionPublisher`` (idempotent pages, bounded retries, setup check).
- ``bot.notion.tasks``: follow-up task pages and their status.
- ``bot.notion.delivery``: ``NotionSender`` sends queued Notion deliveries from the ledger; the
  "Publish to Notion" button (``publish_draft_to_notion``) and the Notion job use it.
"""

from bot.notion.delivery import (
    NotionSender,
    PublishOutcome,
    outcome_for,
    publish_draft_to_notion,
    publish_pending,
)
from bot.notion.publisher import (
    NOT_CONFIGURED,
    CheckReport,
    NotionPublisher,
    PermanentPublishError,
    PublishedPage,
    PublishError,
    TransientPublishError,
    enforce_limits,
    make_publisher,
    missing_settings,
)

__all__ = [
    "NOT_CONFIGURED",
    "CheckReport",
    "NotionPublisher",
    "NotionSender",
    "PermanentPublishError",
    "PublishError",
    "PublishOutcome",
    "PublishedPage",
    "TransientPublishError",
    "enforce_limits",
    "make_publisher",
    "missing_settings",
    "outcome_for",
    "publish_draft_to_notion",
    "publish_pending",
]
