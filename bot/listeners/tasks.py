"""The "Done" button on App Home's task list: close a follow-up task once.

The press is acknowledged at once; the lazy part checks the permission policy (the account's
owner, the task's assignee or a CS lead), closes the task with a conditional update (a double
click or a Slack retry closes it once), writes the Notion status when the task has a page (a
delivery in the ledger: a failure is retried by the Notion job), records it on the alert's
message, and redraws the presser's App Home.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot import task_blocks
from bot.alert_action_blocks import refusal
from bot.deps import Deps
from bot.listeners.alerts import update_alert_message
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import respond_privately, user_of
from bot.notion.delivery import NotionSender
from bot.notion.tasks import task_publisher
from bot.policy import Action, policy_for, task_resource
from bot.router import Reply, home_view
from tools import alert_actions, tasks
from tools.alert_actions import AlertActionError
from tools.db import session_scope

logger = logging.getLogger(__name__)

ACTIONS = task_blocks.ACTIONS


def _task_id(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or [{}]
    value = str((actions[0] if isinstance(actions, list) and actions else {}).get("value", ""))
    return int(value) if value.isdigit() else None


def _request_key(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    first = actions[0] if isinstance(actions, list) and actions else {}
    return str(first.get("action_ts") or body.get("trigger_id") or "")


def _show(
    text_blocks: tuple[list[dict[str, Any]], str], body: dict[str, Any], ctx: BoltContext
) -> None:
    respond_privately(Reply(blocks=text_blocks[0], text=text_blocks[1]), body, ctx)


def close(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Policy, close once, Notion status, alert message, App Home."""
    task_id, user = _task_id(body), user_of(body)
    with session_scope(deps.sessions) as session:
        resource = task_resource(session, task_id) if task_id is not None else None
    if task_id is None or resource is None:
        _show(refusal("That task is no longer known."), body, context)
        return
    policy = policy_for(deps.settings, context.client)
    if not policy.can(user, Action.TASK_CLOSE, resource):
        _show(refusal(policy.refusal(Action.TASK_CLOSE, resource)), body, context)
        return
    with session_scope(deps.sessions) as session:
        closed = tasks.close_task(
            session, task_id=task_id, actor=str(user), now=deps.now(), key=_request_key(body)
        )
    if closed.status_delivery is not None:
        publisher = task_publisher(deps.settings, deps.notion, min_interval=0.0, max_retries=1)
        sender = NotionSender(deps.sessions, deps.now(), tasks=publisher, config=deps.config)
        sender.send(closed.status_delivery)  # a failure stays queued for the Notion job
    if closed.applied and closed.task.alert_id is not None:
        try:
            with session_scope(deps.sessions) as session:
                view = alert_actions.followup_view(session, alert_id=closed.task.alert_id)
            update_alert_message(context.client, view)
        except AlertActionError:
            pass  # the alert is gone; the task is closed all the same
    if body.get("response_url"):  # pressed in a message: say what happened there
        _show(task_blocks.task_done_receipt(closed.task, applied=closed.applied), body, context)
    if user:  # App Home redrawn: the task leaves the open list (no DM for every press)
        context.client.views_publish(user_id=str(user), view=home_view(str(user), deps))


def register(app: App, deps: Deps) -> None:
    """Register the "Done" button."""

    def work(body: dict[str, Any], context: BoltContext) -> None:
        close(body, context, deps)

    app.action(task_blocks.ACTION_TASK_DONE)(ack=acknowledge, lazy=[guarded("on_task_done", work)])
