"""How a ``Reply`` reaches Slack: ephemeral via ``response_url``, in a channel, or in a thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext

from bot.qbr_blocks import upload_chart
from bot.router import Reply


def user_of(body: dict[str, Any]) -> str | None:
    """The id of the person behind a command, action or event."""
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id")) if user.get("id") else None
    event = body.get("event")
    if isinstance(event, dict) and event.get("user"):
        return str(event["user"])
    return str(body["user_id"]) if body.get("user_id") else None


def channel_of(body: dict[str, Any]) -> str | None:
    """The conversation a command or message action came from (None for App Home)."""
    if body.get("channel_id"):
        return str(body["channel_id"])
    channel = body.get("channel")
    if isinstance(channel, dict) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, dict) and container.get("channel_id"):
        return str(container["channel_id"])
    return None


def respond_privately(
    reply: Reply, body: dict[str, Any], context: BoltContext, *, replace: bool = False
) -> None:
    """Show ``reply`` only to the person who asked (their DM when there is no response_url)."""
    if body.get("response_url") and context.respond is not None:
        context.respond(
            text=reply.text,
            blocks=reply.blocks,
            response_type="ephemeral",
            replace_original=replace,
        )
        return
    user = user_of(body)
    if user:
        context.client.chat_postMessage(channel=user, text=reply.text, blocks=reply.blocks)


def respond_in_channel(reply: Reply, body: dict[str, Any], context: BoltContext) -> None:
    """Post ``reply`` visibly to the whole conversation it was asked from."""
    if body.get("response_url") and context.respond is not None:
        context.respond(
            text=reply.text, blocks=reply.blocks, response_type="in_channel", replace_original=False
        )
        return
    channel = channel_of(body) or user_of(body)
    if channel:
        context.client.chat_postMessage(channel=channel, text=reply.text, blocks=reply.blocks)


def post_thread(
    reply: Reply,
    body: dict[str, Any],
    context: BoltContext,
    *,
    on_started: Callable[[str, str], None] | None = None,
) -> tuple[str, str] | None:
    """Post ``reply`` as a thread starter in the conversation, then ``reply.thread`` under it;
    ``on_started(channel, ts)`` runs before anything is posted in the thread. Returns the
    thread's (channel, ts)."""
    channel = channel_of(body) or user_of(body)
    if not channel:
        return None
    started = context.client.chat_postMessage(channel=channel, text=reply.text, blocks=reply.blocks)
    where = (str(started["channel"]), str(started["ts"]))
    if on_started is not None:
        on_started(*where)
    if reply.thread is not None:
        post_in_thread(reply.thread, context, channel=where[0], ts=where[1])
    return where


def post_in_thread(reply: Reply, context: BoltContext, *, channel: str, ts: str) -> None:
    """Post ``reply`` under the message ``ts``, then its chart (``extra["chart_png"]``) if any."""
    context.client.chat_postMessage(
        channel=channel, thread_ts=ts, text=reply.text, blocks=reply.blocks
    )
    png = reply.extra.get("chart_png")
    if isinstance(png, bytes):
        upload_chart(context.client, channel=channel, thread_ts=ts, png=png)
    for document in reply.extra.get("documents") or ():  # a QBR's prep doc and customer deck
        context.client.chat_postMessage(
            channel=channel, thread_ts=ts, text=document.text, blocks=document.blocks
        )


def reply_in_conversation(
    reply: Reply,
    context: BoltContext,
    *,
    channel: str,
    thread_ts: str | None,
    on_started: Callable[[str, str], None] | None = None,
) -> str:
    """Answer a message or mention where it was asked (in its thread when there is one);
    returns the ts of the thread the answer lives in."""
    posted = context.client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=reply.text, blocks=reply.blocks
    )
    ts = thread_ts or str(posted["ts"])
    if on_started is not None:
        on_started(channel, ts)
    if reply.thread is not None:
        post_in_thread(reply.thread, context, channel=channel, ts=ts)
    return ts
