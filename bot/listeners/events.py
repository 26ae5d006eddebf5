"""Conversation events: @mentions, DMs and the agent surface (assistant threads).

Every Events API delivery is claimed by its ``event_id`` in the database before any listener
runs, so a Slack retry (``X-Slack-Retry-Num``) of an event already handled posts nothing twice,
even across replicas. Bot messages and message subtypes (edits, joins, deletions) are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.agent import Agent
from bot.deps import Deps
from bot.listeners.boundary import guarded
from bot.listeners.replies import reply_in_conversation
from bot.qbr_thread import revise_in_thread, thread_linker, thread_note
from bot.router import Reply, answer, clean_text, controls_for_created, route
from tools.db import session_scope
from tools.idempotency import claim_event, forget_events_before

logger = logging.getLogger(__name__)

EVENTS = frozenset(
    {"app_mention", "message", "assistant_thread_started", "assistant_thread_context_changed"}
)

SUGGESTED_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "Who is at risk?", "message": "Who is at risk?"},
    {"title": "My at-risk accounts", "message": "Which of my accounts are at risk?"},
    {"title": "Renewals next month", "message": "What renews next month?"},
    {"title": "Expansion", "message": "Expansion opportunities"},
)
CLAIM_RETENTION = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)
WORKING_STATUS = "is looking that up…"
GREETING = (
    "Hi! Ask me about an account (“how is Acme doing?”), who is at risk, what renews next "
    "month or where to expand."
)


def is_person_in_dm(event: dict[str, Any]) -> bool:
    """A new message typed by a person in a DM with the bot (no subtype, no bot)."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") is None
        and not event.get("bot_id")
        and bool(event.get("user"))
        and bool(str(event.get("text") or "").strip())
    )


def _answer_text(text: str, user_id: str | None, deps: Deps) -> Reply:
    return answer(replace(route(text), user_id=user_id), deps)


def converse(
    event: dict[str, Any],
    context: BoltContext,
    deps: Deps,
    agent: Agent | None,
    *,
    thread_ts: str | None,
) -> None:
    """Answer a person's message: through Claude when configured, else the intent router.

    Claude's answer is streamed into the thread (chat.startStream/appendStream/stopStream) and
    the conversation is keyed by channel + thread, so a follow-up continues it. When Claude is
    unavailable the router answers with its blocks, as if Claude were not configured.
    """
    text, user, channel = str(event.get("text", "")), event.get("user"), str(event["channel"])
    if agent is None or agent.client is None:
        revised = (
            revise_in_thread(
                clean_text(text), user_id=user, channel=channel, thread_ts=thread_ts, deps=deps
            )
            if thread_ts
            else None
        )
        reply = revised or _answer_text(text, user, deps)
        reply_in_conversation(
            reply,
            context,
            channel=channel,
            thread_ts=thread_ts,
            on_started=thread_linker(reply, deps),
        )
        return
    thread_ts = thread_ts or str(event["ts"])  # Claude's answers always go in a thread
    streams: list[Any] = []

    def stream_text(chunk: str) -> None:
        if not streams:
            streams.append(
                context.client.chat_stream(
                    channel=channel,
                    thread_ts=thread_ts,
                    recipient_user_id=user,
                    recipient_team_id=context.team_id,
                )
            )
        streams[0].append(markdown_text=chunk)

    def show_status(status: str) -> None:
        if context.set_status is not None:
            context.set_status(status=status)

    note = thread_note(deps, channel=channel, thread_ts=thread_ts)
    result = agent.run_turn(
        f"{channel}:{thread_ts}",
        f"{note}\n\n{text}" if note else text,
        user_id=user,
        on_text=stream_text,
        on_status=show_status,
    )
    if streams:
        streams[0].stop()
    elif result.fell_back:
        reply_in_conversation(
            _answer_text(text, user, deps), context, channel=channel, thread_ts=thread_ts
        )
    else:
        context.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=result.text)
    for control in controls_for_created(result.created, deps):
        reply_in_conversation(control, context, channel=channel, thread_ts=thread_ts)


def on_mention(body: dict[str, Any], context: BoltContext, deps: Deps, agent: Agent | None) -> None:
    """Answer an @mention in its thread."""
    event = body["event"]
    converse(event, context, deps, agent, thread_ts=event.get("thread_ts") or event.get("ts"))


def on_direct_message(
    body: dict[str, Any], context: BoltContext, deps: Deps, agent: Agent | None
) -> None:
    """Answer a DM; in an assistant thread, show a status while working and reply in it."""
    event = body["event"]
    thread_ts = event.get("thread_ts")
    if thread_ts and context.set_status is not None:
        context.set_status(status=WORKING_STATUS)
    converse(event, context, deps, agent, thread_ts=thread_ts)


def on_thread_started(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """A new assistant thread: greet and offer suggested prompts."""
    thread = body["event"]["assistant_thread"]
    channel, thread_ts = str(thread["channel_id"]), str(thread["thread_ts"])
    context.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=GREETING)
    context.client.assistant_threads_setSuggestedPrompts(
        channel_id=channel,
        thread_ts=thread_ts,
        title="Try asking:",
        prompts=list(SUGGESTED_PROMPTS),
    )


def make_dedupe(deps: Deps) -> Callable[..., BoltResponse | None]:
    """Global middleware: skip an Events API delivery whose ``event_id`` was already claimed.

    Claims older than ``CLAIM_RETENTION`` (Slack stops retrying after minutes) are pruned at most
    once per ``PRUNE_EVERY`` by each process, so the table stays small.
    """
    last_prune: list[datetime] = []

    def prune(now: datetime) -> None:
        if last_prune and now - last_prune[0] < PRUNE_EVERY:
            return
        last_prune[:] = [now]
        with session_scope(deps.sessions) as session:
            forget_events_before(session, cutoff=now - CLAIM_RETENTION)

    def dedupe_events(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            now = deps.now()
            prune(now)
            with session_scope(deps.sessions) as session:
                first = claim_event(session, event_id=str(event_id), received_at=now)
            if not first:
                logger.info("skipping event %s: already handled (a Slack retry)", event_id)
                return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe_events


def _ignore() -> None:
    """Events we subscribe to but act on elsewhere or not at all."""


def register(app: App, deps: Deps, agent: Agent | None = None) -> None:
    """Register the dedupe middleware and the conversation listeners."""
    app.middleware(make_dedupe(deps))

    def lazy(name: str, handler: Callable[..., None]) -> Any:
        def work(body: dict[str, Any], context: BoltContext) -> None:
            if handler is on_thread_started:
                handler(body, context, deps)
            else:
                handler(body, context, deps, agent)

        return guarded(name, work)

    app.event("app_mention")(ack=_ignore, lazy=[lazy("on_mention", on_mention)])
    app.event("message", matchers=[_person_dm_matcher])(
        ack=_ignore, lazy=[lazy("on_direct_message", on_direct_message)]
    )
    app.event("message")(_ignore)  # bot messages, edits, joins, channel chatter: nothing to do
    app.event("assistant_thread_started")(
        ack=_ignore, lazy=[lazy("on_thread_started", on_thread_started)]
    )
    # The router does not use the channel the user is viewing yet; acknowledge and move on.
    app.event("assistant_thread_context_changed")(_ignore)


def _person_dm_matcher(body: dict[str, Any]) -> bool:
    event = body.get("event")
    return isinstance(event, dict) and is_person_in_dm(event)
