"""QBR draft buttons: "Publish to Notion" and "Discard" under a draft in its thread.

Publishing is durable (bot/notion/ + tools/outbox.py): the page is queued in the delivery
ledger before anything is sent, retried with backoff, and left there for the Notion job when
Notion is down, so the thread always learns the outcome: the page URL, "queued, will publish",
or why it failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot import blocks
from bot.alert_blocks import ACTION_QBR_CONTINUE
from bot.deps import Deps
from bot.handoff_blocks import refusal
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import channel_of, post_in_thread, respond_privately, user_of
from bot.notion import NotionPublisher, make_publisher, publish_draft_to_notion
from bot.policy import Action, policy_for, qbr_resource
from bot.router import Reply, qbr_draft_reply
from bot.slack_out import mention
from tools.db import session_scope
from tools.qbr_draft import discard_draft

DraftHandler = Callable[[int, dict[str, Any], BoltContext, Deps], None]
Handler = Callable[[str, dict[str, Any], BoltContext, Deps], None]


def _by_draft_id(action: Action, handler: DraftHandler) -> Handler:
    """A button whose value is a draft id; a stale or tampered value does nothing, and only
    someone the policy allows (the draft's owner or an approver) gets past it."""

    def handle(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
        if not (value.isascii() and value.isdigit()):
            return
        draft_id = int(value)
        with session_scope(deps.sessions) as session:
            resource = qbr_resource(session, draft_id)
        if resource is None:
            return
        policy = policy_for(deps.settings, context.client)
        if not policy.can(user_of(body), action, resource):
            reason = policy.refusal(action, resource)
            respond_privately(Reply(blocks=refusal(reason)[0], text=reason), body, context)
            return
        handler(draft_id, body, context, deps)

    return handle


def publisher_for(deps: Deps) -> NotionPublisher | None:
    """The QBR publisher: the injected Notion client when there is one, else from settings."""
    database = deps.settings.notion_qbr_database_id
    if deps.notion is not None and database:
        return NotionPublisher(deps.notion(), qbr_database_id=database)
    return make_publisher(deps.settings)


def thread_of(body: dict[str, Any]) -> str | None:
    """The thread the pressed message lives in (its own ts when it starts one)."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    return message.get("thread_ts") or container.get("thread_ts") or message.get("ts")


def _say_in_thread(text: str, body: dict[str, Any], context: BoltContext) -> None:
    channel = channel_of(body) or user_of(body)
    if channel:
        rendered, fallback = blocks.qbr_status(text)
        context.client.chat_postMessage(
            channel=channel, thread_ts=thread_of(body), text=fallback, blocks=rendered
        )


def publish(draft_id: int, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Publish the draft version to Notion and tell the thread what happened."""
    outcome = publish_draft_to_notion(
        deps.sessions,
        publisher_for(deps),
        draft_id,
        now=deps.now(),
        requested_by=user_of(body),
        channel=channel_of(body),
        thread_ts=thread_of(body),
        config=deps.config,
    )
    _say_in_thread(outcome.message, body, context)


def discard(draft_id: int, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Discard the draft (once, however often the button is pressed)."""
    with session_scope(deps.sessions) as session:
        changed = discard_draft(session, draft_id=draft_id)
    if changed:
        _say_in_thread(f"{mention(user_of(body))} discarded this QBR draft.", body, context)


def continue_draft(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """The scheduled QBR DM's "Continue in a thread": the draft, its chart and its buttons go
    in a thread under the DM, where the CSM can ask for revisions."""
    try:
        draft_id = int(json.loads(value)["draft_id"])
    except (ValueError, KeyError, TypeError):
        draft_id = -1
    reply = qbr_draft_reply(draft_id, deps) if draft_id > 0 else None
    channel = channel_of(body) or user_of(body)
    message = body.get("message") or {}
    if reply is None or not channel:
        _say_in_thread(
            "That QBR draft no longer exists. Run `/qbr <account>` again.", body, context
        )
        return
    post_in_thread(reply, context, channel=channel, ts=str(message.get("ts") or thread_of(body)))


HANDLERS: dict[str, Handler] = {
    blocks.ACTION_QBR_PUBLISH: _by_draft_id(Action.QBR_PUBLISH, publish),
    blocks.ACTION_QBR_DISCARD: _by_draft_id(Action.QBR_DISCARD, discard),
    ACTION_QBR_CONTINUE: continue_draft,
}
ACTIONS = frozenset(HANDLERS)


def register(app: App, deps: Deps) -> None:
    """Register the QBR draft buttons."""
    for action_id, handler in sorted(HANDLERS.items()):

        def work(body: dict[str, Any], context: BoltContext, handler: Handler = handler) -> None:
            actions = body.get("actions") or [{}]
            handler(str(actions[0].get("value", "")), body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])
