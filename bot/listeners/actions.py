"""Buttons: ack at once, then answer from a lazy listener.

Health-card buttons carry the account id; "Show more" buttons carry a small JSON page cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot import blocks
from bot.deps import Deps
from bot.listeners import handoff
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import post_thread, respond_in_channel, respond_privately, user_of
from bot.narrator import explain_account
from bot.qbr_thread import thread_linker
from bot.router import (
    Intent,
    IntentKind,
    Reply,
    account_id_from,
    answer,
    intent_from_more_button,
    shared_health,
)

Handler = Callable[[str, dict[str, Any], BoltContext, Deps], None]


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value", "")) if isinstance(actions[0], dict) else ""


def _stale(body: dict[str, Any], context: BoltContext) -> None:
    rendered = blocks.error_message("That button is out of date. Run the command again.")
    respond_privately(Reply(blocks=rendered[0], text=rendered[1]), body, context)


def _account_intent(kind: IntentKind) -> Handler:
    def handle(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
        account_id = account_id_from(value)
        if account_id is None:
            _stale(body, context)
            return
        reply = answer(Intent(kind, account_id=account_id, user_id=user_of(body)), deps)
        if reply.thread is not None:
            post_thread(reply, body, context, on_started=thread_linker(reply, deps))
        else:
            respond_privately(reply, body, context)

    return handle


def _explain(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """The "Explain" button under /health: the account's narrative, written by Claude with
    every number checked (cached for the day), or the template; only the presser sees it."""
    account_id = account_id_from(value)
    if account_id is None:
        _stale(body, context)
        return
    respond_privately(explain_account(account_id, deps), body, context)


def _share(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    account_id = account_id_from(value)
    if account_id is None:
        _stale(body, context)
        return
    reply = shared_health(account_id, deps, shared_by=user_of(body) or "someone")
    respond_in_channel(reply, body, context)


def _propose_expansion(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """The "Propose expansion" button under /health: proposals for the CSM to approve."""
    account_id = account_id_from(value)
    if account_id is None:
        _stale(body, context)
        return
    handoff.propose_account(account_id, body, context, deps)


def _more(kind: IntentKind) -> Handler:
    def handle(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
        intent = intent_from_more_button(kind, value, user_id=user_of(body))
        respond_privately(answer(intent, deps), body, context, replace=True)

    return handle


HANDLERS: dict[str, Handler] = {
    blocks.ACTION_OPEN_HEALTH: _account_intent(IntentKind.HEALTH),
    blocks.ACTION_QBR: _account_intent(IntentKind.QBR),
    blocks.ACTION_HISTORY: _account_intent(IntentKind.HISTORY),
    blocks.ACTION_EXPLAIN: _explain,
    blocks.ACTION_EXPANSION: _propose_expansion,
    blocks.ACTION_SHARE: _share,
    blocks.ACTION_MORE_AT_RISK: _more(IntentKind.AT_RISK),
    blocks.ACTION_MORE_EXPANSION: _more(IntentKind.EXPANSION),
}
ACTIONS = frozenset(HANDLERS)


def register(app: App, deps: Deps) -> None:
    """Register a listener for every action id in ``ACTIONS``."""
    for action_id, handler in sorted(HANDLERS.items()):

        def work(body: dict[str, Any], context: BoltContext, handler: Handler = handler) -> None:
            handler(_value(body), body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])
