"""Follow-up tasks in the Notion task database (the one hand-offs use): the page, its status.

The task database's schema belongs to the team: the title goes into whichever property is the
title, and "Account", "Status" (select) and "Task ID" are filled only when the data source has
them with that type. The "Idempotency key" text property is required: it holds the page's
delivery key, which is how a create whose answer was lost is found instead of written twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from notion_client import Client

from bot.config import Settings
from bot.handoff_notion import MAX_RICH_TEXT, notion_configured
from bot.notion.publisher import NotionPublisher, PublishedPage
from tools.alert_actions import TaskView
from tools.models_followup import TaskStatus

OPTIONAL_PROPERTIES = {"Account": "rich_text", "Status": "select", "Task ID": "rich_text"}
STATUS_OPEN = "To do"
STATUS_DONE = "Done"


def _text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": value[:MAX_RICH_TEXT]}}]


def task_properties(task: TaskView, schema: dict[str, Any]) -> dict[str, Any]:
    """The page properties for ``task`` given the data source's property ``schema``."""
    title_name = next(
        (name for name, prop in schema.items() if prop.get("type") == "title"), "Name"
    )
    status = STATUS_DONE if task.status == TaskStatus.DONE.value else STATUS_OPEN
    values = {"Account": task.account_name, "Status": status, "Task ID": f"task-{task.task_id}"}
    properties: dict[str, Any] = {title_name: {"title": _text(task.title)}}
    for name, kind in OPTIONAL_PROPERTIES.items():
        if schema.get(name, {}).get("type") != kind:
            continue
        if kind == "rich_text":
            properties[name] = {"rich_text": _text(values[name])}
        else:
            properties[name] = {"select": {"name": values[name][:100]}}
    return properties


def write_task_page(publisher: NotionPublisher, task: TaskView, *, key: str) -> PublishedPage:
    """The task's page, created once under ``key`` (found again after a lost answer)."""
    paragraph = {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": _text(f"From a churn alert on {task.account_name}.")},
    }
    properties = task_properties(task, publisher.schema())
    return publisher.create_page(properties, [paragraph], idempotency_key=key)


def write_task_status(publisher: NotionPublisher, *, page_id: str, status: str) -> PublishedPage:
    """Set the page's "Status" select (when the database has one); idempotent."""
    if publisher.schema().get("Status", {}).get("type") == "select":
        publisher.update_properties(page_id, {"Status": {"select": {"name": status[:100]}}})
    url = f"https://www.notion.so/{page_id.replace('-', '')}"
    return PublishedPage(page_id=page_id, url=url, created=False, blocks=0)


def task_publisher(
    settings: Settings, notion: Callable[[], Any] | None = None, **options: Any
) -> NotionPublisher | None:
    """A publisher on the task database (``NOTION_TASK_DATABASE_ID``), or None without one."""
    if not notion_configured(settings) or settings.notion_token is None:
        return None
    if notion is not None:
        client = notion()
    else:
        client = Client(
            auth=settings.notion_token.get_secret_value(),
            client=httpx.Client(timeout=httpx.Timeout(15.0)),
            retry=False,  # every retry goes through the publisher's look-up first
            logger=logging.getLogger("bot.notion.sdk"),
        )
    return NotionPublisher(
        client, qbr_database_id=settings.notion_task_database_id or "", **options
    )
