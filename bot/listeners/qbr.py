"""QBR draft buttons: "Publish to Notion" and "Discard" under a draft in its thread.

Publishing is durable (bot/notion.py + tools/outbox.py): the request is stored before anything
is sent, retried with backoff, and left in the outbox for the scheduler when Notion is down, so
the thread always learns the outcome: the page URL, "queued, will publish", or why it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot import blocks
from bot.deps import Deps
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import channel_of, user_of
from bot.notion import NotionPublisher, make_publisher, publish_draft_to_notion
from tools.db import session_scope
from tools.qbr_draft import discard_draft

Handler = Callable[[int, dict[str, Any], BoltContext, Deps], None]


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
        _say_in_thread(f"<@{user_of(body)}> discarded this QBR draft.", body, context)


HANDLERS: dict[str, Handler] = {
    blocks.ACTION_QBR_PUBLISH: publish,
    blocks.ACTION_QBR_DISCARD: discard,
}
ACTIONS = frozenset(HANDLERS)


def register(app: App, deps: Deps) -> None:
    """Register the QBR draft buttons."""
    for action_id, handler in sorted(HANDLERS.items()):

        def work(body: dict[str, Any], context: BoltContext, handler: Handler = handler) -> None:
            actions = body.get("actions") or [{}]
            value = str(actions[0].get("value", ""))
            if value.isdigit():
                handler(int(value), body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])
