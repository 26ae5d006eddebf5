"""Slash commands: ack at once, answer from a lazy listener through the router.

Replies are ephemeral (only the caller sees them) until someone presses "Share to channel";
``/qbr`` is the exception: it starts a visible thread where the draft will be worked on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt import App, BoltContext

from bot import blocks
from bot.agent import Agent
from bot.deps import Deps
from bot.listeners import handoff, subscribe
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import post_thread, respond_privately
from bot.qbr_thread import thread_linker
from bot.router import Intent, IntentKind, Reply, answer, controls_for_created, route

COMMANDS = frozenset({"/health", "/churn", "/qbr", "/expansion", "/csbot"})

_MINE_WORDS = frozenset({"mine", "me", "my", "my-book", "own"})
_DAYS = re.compile(r"^(\d{1,3})(?:d|days?)?$")

CLAUDE_CHUNK = 2_900
MAX_CLAUDE_SECTIONS = 10

IntentBuilder = Callable[[str, str], Intent | Reply]


def health_intent(text: str, user_id: str) -> Intent | Reply:
    """``/health <account>``."""
    return Intent(IntentKind.HEALTH, account=text, user_id=user_id, command="/health")


def churn_intent(text: str, user_id: str) -> Intent | Reply:
    """``/churn [mine] [days]``: the portfolio, the caller's book, renewals within N days."""
    mine, within = False, None
    for word in text.lower().split():
        days = _DAYS.match(word)
        if word in _MINE_WORDS:
            mine = True
        elif days:
            within = max(1, min(int(days.group(1)), 365))
        else:
            rendered = blocks.usage_message(
                "/churn",
                f"I don't understand “{blocks.esc(word)}” here.",
                examples=("mine", "60", "mine 90"),
            )
            return Reply(blocks=rendered[0], text=rendered[1], found=False)
    return Intent(IntentKind.AT_RISK, user_id=user_id, mine=mine, within_days=within)


def qbr_intent(text: str, user_id: str) -> Intent | Reply:
    """``/qbr <account>``."""
    return Intent(IntentKind.QBR, account=text, user_id=user_id, command="/qbr")


def expansion_intent(text: str, user_id: str) -> Intent | Reply:
    """``/expansion [account]``."""
    return Intent(IntentKind.EXPANSION, account=text, user_id=user_id, command="/expansion")


def csbot_intent(text: str, user_id: str) -> Intent | Reply:
    """``/csbot [question | help]``: help, or any question the router understands."""
    return Intent(IntentKind.HELP) if not text else replace(route(text), user_id=user_id)


BUILDERS: dict[str, IntentBuilder] = {
    "/health": health_intent,
    "/churn": churn_intent,
    "/qbr": qbr_intent,
    "/expansion": expansion_intent,
    "/csbot": csbot_intent,
}


def run_command(
    body: dict[str, Any], context: BoltContext, deps: Deps, agent: Agent | None = None
) -> None:
    """Answer one slash command (runs after the ack)."""
    command = str(body.get("command", ""))
    text = " ".join(str(body.get("text", "")).split())
    if command == "/expansion" and not text:  # open hand-offs + opportunities not yet proposed
        handoff.expansion_overview(body, context, deps)
        return
    if command == "/csbot" and subscribe.wants_subscriptions(text):
        respond_privately(
            subscribe.subscription_reply(text, str(body.get("user_id")), deps), body, context
        )
        return
    if command == "/csbot" and agent is not None and text and text.lower() != "help":
        ask_claude(text, body, context, deps, agent)
        return
    built = BUILDERS[command](text, str(body.get("user_id", "")))
    reply = built if isinstance(built, Reply) else answer(built, deps)
    if reply.thread is not None:
        post_thread(reply, body, context, on_started=thread_linker(reply, deps))
        return
    respond_privately(reply, body, context)


def ask_claude(
    text: str, body: dict[str, Any], context: BoltContext, deps: Deps, agent: Agent
) -> None:
    """``/csbot <question>`` with Claude: answered ephemerally (only the asker sees it; a slash
    command has no thread), each command its own conversation. Drafts Claude created come with
    their buttons; when Claude is unavailable the router answers instead."""
    user = str(body.get("user_id", ""))
    key = f"slash:{body.get('channel_id', '')}:{user}:{body.get('trigger_id') or deps.now()}"
    result = agent.run_turn(key, text, user_id=user)
    if result.fell_back:
        respond_privately(answer(replace(route(text), user_id=user), deps), body, context)
        return
    parts = [result.text[i : i + CLAUDE_CHUNK] for i in range(0, len(result.text), CLAUDE_CHUNK)]
    note = "Answered by Claude · only you can see this · @mention me to continue in a thread"
    shown = [blocks.section(part) for part in parts[:MAX_CLAUDE_SECTIONS]]
    rendered = blocks.message([*shown, blocks.context(note)], result.text)
    respond_privately(Reply(blocks=rendered[0], text=rendered[1]), body, context)
    for control in controls_for_created(result.created, deps):
        respond_privately(control, body, context)


def register(app: App, deps: Deps, agent: Agent | None = None) -> None:
    """Register every slash command in ``COMMANDS``; ``agent`` (Claude) answers ``/csbot``
    questions when given."""

    def work(body: dict[str, Any], context: BoltContext) -> None:
        run_command(body, context, deps, agent)

    for command in sorted(COMMANDS):
        name = "run_" + command.strip("/")
        app.command(command)(ack=acknowledge, lazy=[guarded(name, work)])
