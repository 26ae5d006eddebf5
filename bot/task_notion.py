"""Write an alert's follow-up task to the Notion task database (the one hand-offs use).

The write is claimed first (``tools.tasks.claim_notion_write``), so two clicks, two replicas or
the retry job create at most one page; a failed write stays pending and the Notion job
(``retry_task_writes``) tries again.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from notion_client import Client
from notion_client.errors import NotionClientErrorBase

from bot.deps import Deps
from bot.handoff_notion import MAX_RICH_TEXT, default_notion_factory, notion_configured
from tools import tasks
from tools.alert_actions import TaskView, task_view
from tools.db import session_scope
from tools.models_followup import AccountTask

logger = logging.getLogger(__name__)
NOTION_ERRORS = (NotionClientErrorBase, httpx.HTTPError)
OPTIONAL_PROPERTIES = {"Account": "rich_text", "Status": "select", "Task ID": "rich_text"}


def _text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": value[:MAX_RICH_TEXT]}}]


def task_properties(task: TaskView, schema: dict[str, Any]) -> dict[str, Any]:
    """The page properties for ``task`` given the data source's property ``schema``."""
    title_name = next(
        (name for name, prop in schema.items() if prop.get("type") == "title"), "Name"
    )
    values = {"Account": task.account_name, "Status": "To do", "Task ID": f"task-{task.task_id}"}
    properties: dict[str, Any] = {title_name: {"title": _text(task.title)}}
    for name, kind in OPTIONAL_PROPERTIES.items():
        if schema.get(name, {}).get("type") != kind:
            continue
        if kind == "rich_text":
            properties[name] = {"rich_text": _text(values[name])}
        else:
            properties[name] = {"select": {"name": values[name][:100]}}
    return properties


def write_alert_task(client: Client, *, database_id: str, task: TaskView) -> str:
    """Create the Notion page of ``task``; returns the page id."""
    database: Any = client.databases.retrieve(database_id=database_id)
    data_source_id = str(database["data_sources"][0]["id"])
    source: Any = client.data_sources.retrieve(data_source_id=data_source_id)
    paragraph = {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": _text(f"From a churn alert on {task.account_name}.")},
    }
    page: Any = client.pages.create(
        parent={"type": "data_source_id", "data_source_id": data_source_id},
        properties=task_properties(task, source.get("properties") or {}),
        children=[paragraph],
    )
    return str(page["id"])


def write_task_to_notion(deps: Deps, task_id: int) -> bool:
    """Write the task's pending Notion page (claimed: at most one writer); True when written."""
    if not notion_configured(deps.settings):
        return False
    with session_scope(deps.sessions) as session:
        if not tasks.claim_notion_write(session, task_id=task_id, now=deps.now()):
            return False
        row = session.get(AccountTask, task_id)
        if row is None:
            return False
        view = task_view(session, row)
    factory = deps.notion or default_notion_factory(deps.settings)
    try:
        page_id = write_alert_task(
            factory(), database_id=deps.settings.notion_task_database_id or "", task=view
        )
    except NOTION_ERRORS as exc:
        logger.warning("notion page for task %s failed: %s", task_id, type(exc).__name__)
        with session_scope(deps.sessions) as session:
            tasks.record_notion_result(
                session, task_id=task_id, page_id=None, error=type(exc).__name__
            )
        return False
    with session_scope(deps.sessions) as session:
        tasks.record_notion_result(session, task_id=task_id, page_id=page_id)
    return True


def retry_task_writes(deps: Deps, *, limit: int = 50) -> int:
    """Write every pending task page (the Notion job's retry); returns how many were written."""
    with session_scope(deps.sessions) as session:
        ids = tasks.pending_notion_tasks(session, now=deps.now(), limit=limit)
    return sum(1 for task_id in ids if write_task_to_notion(deps, task_id))
