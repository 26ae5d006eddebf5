"""Work logged from Slack: ``/log <account> <call|meeting|email|note> [text]`` and the
"Log to account" message shortcut (a modal to pick the account and the kind).

Both record an interaction through ``tools.interactions.log_interaction``, keyed by the Slack
request (the command's trigger id, the modal's view id) so a retry logs once. The logged text
is the person's or the message's words: stored as data, escaped when shown.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import Session

from bot import alert_action_blocks as ab
from bot import blocks
from bot.deps import Deps
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import channel_of, respond_privately, user_of
from bot.policy import Action, account_resource, policy_for
from bot.router import Reply
from tools.accounts import AccountLookupError, AmbiguousAccount, resolve_account
from tools.db import session_scope
from tools.interactions import (
    LOGGABLE_KINDS,
    InteractionError,
    InteractionView,
    log_command_readings,
    log_interaction,
)
from tools.models import Account

COMMAND = "/log"
COMMANDS = frozenset({COMMAND})
SHORTCUTS = frozenset({ab.SHORTCUT_LOG})
VIEWS = frozenset({ab.VIEW_LOG})
EXAMPLES = ("acme call Talked to Jane about the renewal", "globex meeting QBR prep", "acme note")


def _usage(problem: str) -> Reply:
    rendered = blocks.usage_message(COMMAND, problem, examples=EXAMPLES)
    return Reply(blocks=rendered[0], text=rendered[1], found=False)


def _lookup_problem(exc: AccountLookupError) -> str:
    if isinstance(exc, AmbiguousAccount):
        names = ", ".join(f"“{blocks.esc(c.name)}”" for c in exc.candidates[:5])
        return f"“{blocks.esc(exc.query)}” matches several accounts: {names}. Be more specific."
    return f"I couldn't find an account called “{blocks.esc(exc.query)}”."


def _resolve_reading(session: Session, text: str) -> tuple[Account, str, str] | str:
    """The account, kind and text of ``/log`` text, or what is wrong with it."""
    readings = log_command_readings(text)
    if not readings:
        kinds = "|".join(LOGGABLE_KINDS)
        return f"Say which account and what it was: `/log <account> <{kinds}> [text]`."
    first_problem = ""
    for account_text, kind, rest in readings:
        try:
            return resolve_account(session, query=account_text), kind, rest
        except AccountLookupError as exc:
            first_problem = first_problem or _lookup_problem(exc)
    return first_problem


def refusal_for(
    session: Session, account: Account, user: str | None, client: Any, deps: Deps
) -> str | None:
    """None when the permission policy lets ``user`` log work on ``account``, else why not."""
    resource = account_resource(session, int(account.id or 0))
    if resource is None:
        return "That account is no longer known."
    policy = policy_for(deps.settings, client)
    if policy.can(user, Action.INTERACTION_LOG, resource):
        return None
    return policy.refusal(Action.INTERACTION_LOG, resource)


def run_log(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """``/log``: record the interaction and say what was recorded (only to the caller)."""
    user = user_of(body)
    text = str(body.get("text", "")).strip()
    with session_scope(deps.sessions) as session:
        found = _resolve_reading(session, text)
        refused = (
            None
            if isinstance(found, str)
            else refusal_for(session, found[0], user, context.client, deps)
        )
        if isinstance(found, str):
            reply = _usage(found)
        elif refused is not None:
            rendered = ab.refusal(refused)
            reply = Reply(blocks=rendered[0], text=rendered[1], found=False)
        else:
            account, kind, rest = found
            logged = log_interaction(
                session,
                account_id=int(account.id or 0),
                kind=kind,
                text=rest,
                logged_by=str(user),
                key=f"cmd:{body.get('trigger_id') or ''}",
                now=deps.now(),
            )
            rendered = ab.logged_receipt(logged)
            reply = Reply(blocks=rendered[0], text=rendered[1])
    respond_privately(reply, body, context)


# -- the message shortcut ---------------------------------------------------------------------


def open_log_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """ "Log to account" on a message: open the modal at once, prefilled with its text."""
    ack()
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    view = ab.log_modal(
        message_text=str((message or {}).get("text") or ""),
        channel=channel_of(body),
        message_ts=str((message or {}).get("ts") or "") or None,
    )
    client.views_open(trigger_id=str(body["trigger_id"]), view=view)


def _state(body: dict[str, Any]) -> dict[str, Any]:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _field(body: dict[str, Any], block_id: str, action_id: str) -> str:
    element = (_state(body).get(block_id) or {}).get(action_id) or {}
    if element.get("selected_option"):
        return str(element["selected_option"].get("value") or "")
    return str(element.get("value") or "")


def save_log(ack: Ack, body: dict[str, Any], client: WebClient, deps: Deps) -> None:
    """The modal's submission: field errors, or record it (once per view) and close."""
    user = user_of(body)
    query = _field(body, ab.BLOCK_ACCOUNT, ab.INPUT_ACCOUNT).strip()
    kind = _field(body, ab.BLOCK_KIND, ab.INPUT_KIND)
    text = _field(body, ab.BLOCK_TEXT, ab.INPUT_TEXT)
    view_id = str((body.get("view") or {}).get("id") or "")
    try:
        with session_scope(deps.sessions) as session:
            account = resolve_account(session, query=query)
            refused = refusal_for(session, account, user, client, deps)
            if refused is not None:
                ack(response_action="errors", errors={ab.BLOCK_ACCOUNT: _plain(refused)})
                return
            logged = log_interaction(
                session,
                account_id=int(account.id or 0),
                kind=kind,
                text=text,
                logged_by=str(user),
                key=f"view:{view_id}",
                now=deps.now(),
            )
    except AccountLookupError as exc:
        ack(response_action="errors", errors={ab.BLOCK_ACCOUNT: _plain(_lookup_problem(exc))})
        return
    except InteractionError as exc:
        ack(response_action="errors", errors={ab.BLOCK_KIND: str(exc)})
        return
    ack()
    _confirm(client, body, logged)


def _plain(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")[:150]


def _confirm(client: WebClient, body: dict[str, Any], logged: InteractionView) -> None:
    """Tell the person what was logged: ephemerally where the message was, else by DM."""
    user = user_of(body)
    if not user:
        return
    text_blocks, text = ab.logged_receipt(logged)
    try:
        meta = json.loads(str((body.get("view") or {}).get("private_metadata") or "{}"))
    except ValueError:
        meta = {}
    channel = meta.get("channel") if isinstance(meta, dict) else None
    if isinstance(channel, str) and channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=text_blocks)
    else:
        client.chat_postMessage(channel=user, text=text, blocks=text_blocks)


def register(app: App, deps: Deps) -> None:
    """Register ``/log``, the "Log to account" shortcut and its modal."""

    def work(body: dict[str, Any], context: BoltContext) -> None:
        run_log(body, context, deps)

    app.command(COMMAND)(ack=acknowledge, lazy=[guarded("run_log", work)])
    app.shortcut(ab.SHORTCUT_LOG)(open_log_modal)

    def submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        save_log(ack, body, client, deps)

    app.view(ab.VIEW_LOG)(submit)
