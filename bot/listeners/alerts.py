"""Churn-alert buttons: Acknowledge, Snooze, Assign to…, Create task, Log a note.

Each press is acknowledged at once; the lazy part checks the permission policy, applies the
change through ``tools.alert_actions`` (a conditional update: a double click or a retried
request changes nothing the second time), updates the alert message in place
(``chat.update``) and tells the presser what happened. The alert is found from the id carried
in the actions block's id; everything else is re-read from the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import alert_action_blocks as ab
from bot.blocks import Rendered
from bot.deps import Deps
from bot.handoff_notion import notion_configured
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import respond_privately, user_of
from bot.notion.delivery import send_task_page
from bot.policy import Action, alert_resource, policy_for
from bot.router import Reply
from tools import alert_actions
from tools.alert_actions import ActionResult, AlertActionError, FollowupView
from tools.db import session_scope
from tools.models_followup import ActionKind

logger = logging.getLogger(__name__)

ACTIONS = ab.ACTIONS
VIEWS = frozenset({ab.VIEW_NOTE})

Apply = Callable[[Any, int, str, dict[str, Any], Deps], ActionResult]


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0] if isinstance(actions, list) and actions else {}
    return first if isinstance(first, dict) else {}


def _alert_id(body: dict[str, Any], deps: Deps) -> int | None:
    action = _action(body)
    ref = ab.alert_ref_of(str(action.get("block_id", "")), str(action.get("value", "")))
    with session_scope(deps.sessions) as session:
        return alert_actions.resolve_alert_ref(session, ref) if ref else None


def _show(rendered: Rendered, body: dict[str, Any], context: BoltContext) -> None:
    respond_privately(Reply(blocks=rendered[0], text=rendered[1]), body, context)


def _request_key(body: dict[str, Any]) -> str:
    """What makes one request unique: Slack's action_ts (the same on a retried request)."""
    action = _action(body)
    return str(action.get("action_ts") or body.get("trigger_id") or "")


def update_alert_message(client: WebClient, view: FollowupView) -> None:
    """Redraw the alert wherever it was posted (the original message and every subscriber's DM
    copy, whichever one was pressed) with who did what and when. A copy that cannot be updated
    (say, its DM is gone) is logged and skipped; the others are still updated."""
    blocks, text = ab.updated_alert(view)
    where = [(view.channel, view.message_ts)] if view.channel and view.message_ts else []
    where += [(copy.channel, copy.ts) for copy in view.copies]
    for channel, ts in where:
        try:
            client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            if (channel, ts) == (view.channel, view.message_ts):
                raise
            logger.warning(
                "could not update a copy of alert %s in %s: %s",
                view.alert_id,
                channel,
                exc.response.get("error"),
            )


POLICY_ACTIONS = {
    ActionKind.ACKNOWLEDGED: Action.ALERT_ACKNOWLEDGE,
    ActionKind.SNOOZED: Action.ALERT_SNOOZE,
    ActionKind.ASSIGNED: Action.ALERT_ASSIGN,
    ActionKind.TASK_CREATED: Action.ALERT_TASK,
    ActionKind.NOTE_LOGGED: Action.ALERT_NOTE,
}


def refusal_for(
    kind: ActionKind, alert_id: int, user: str | None, client: Any, deps: Deps
) -> str | None:
    """None when the permission policy lets ``user`` do ``kind`` to the alert, else why not."""
    with session_scope(deps.sessions) as session:
        resource = alert_resource(session, alert_id)
    if resource is None:
        return "That alert is no longer known."
    policy = policy_for(deps.settings, client)
    action = POLICY_ACTIONS[kind]
    return None if policy.can(user, action, resource) else policy.refusal(action, resource)


def _permitted(
    kind: ActionKind, alert_id: int, body: dict[str, Any], context: BoltContext, deps: Deps
) -> bool:
    reason = refusal_for(kind, alert_id, user_of(body), context.client, deps)
    if reason is not None:
        _show(ab.refusal(reason), body, context)
    return reason is None


def _apply_ack(
    session: Any, alert_id: int, user: str, body: dict[str, Any], deps: Deps
) -> ActionResult:
    return alert_actions.acknowledge(
        session, alert_id=alert_id, actor=user, now=deps.now(), key=_request_key(body)
    )


def _apply_snooze(
    session: Any, alert_id: int, user: str, body: dict[str, Any], deps: Deps
) -> ActionResult:
    selected = (_action(body).get("selected_option") or {}).get("value")
    days = int(str(selected)) if str(selected or "").isdigit() else 0
    return alert_actions.snooze(
        session, alert_id=alert_id, actor=user, days=days, now=deps.now(), key=_request_key(body)
    )


def _apply_assign(
    session: Any, alert_id: int, user: str, body: dict[str, Any], deps: Deps
) -> ActionResult:
    assignee = str(_action(body).get("selected_user") or "")
    return alert_actions.assign(
        session,
        alert_id=alert_id,
        actor=user,
        assignee=assignee,
        now=deps.now(),
        key=_request_key(body),
    )


def _apply_task(
    session: Any, alert_id: int, user: str, body: dict[str, Any], deps: Deps
) -> ActionResult:
    return alert_actions.create_task(
        session,
        alert_id=alert_id,
        actor=user,
        now=deps.now(),
        key=_request_key(body),
        to_notion=notion_configured(deps.settings),
    )


APPLY: dict[str, tuple[ActionKind, Apply]] = {
    ab.ACTION_ACK: (ActionKind.ACKNOWLEDGED, _apply_ack),
    ab.ACTION_SNOOZE: (ActionKind.SNOOZED, _apply_snooze),
    ab.ACTION_ASSIGN: (ActionKind.ASSIGNED, _apply_assign),
    ab.ACTION_TASK: (ActionKind.TASK_CREATED, _apply_task),
}


def act(action_id: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """One alert button: policy, state change, message update, receipt."""
    kind, apply = APPLY[action_id]
    alert_id = _alert_id(body, deps)
    if alert_id is None:
        _show(ab.refusal("That alert is no longer known. It may have been removed."), body, context)
        return
    if not _permitted(kind, alert_id, body, context, deps):
        return
    try:
        with session_scope(deps.sessions) as session:
            result = apply(session, alert_id, str(user_of(body)), body, deps)
    except AlertActionError as exc:
        _show(ab.refusal(str(exc)), body, context)
        return
    view = result.followup
    task = result.task if kind == ActionKind.TASK_CREATED and result.applied else None
    if task is not None and send_task_page(deps, task.task_id):
        with session_scope(deps.sessions) as session:
            view = alert_actions.followup_view(session, alert_id=alert_id)
    if result.applied:
        update_alert_message(context.client, view)
    _show(ab.action_receipt(kind, view, applied=result.applied), body, context)


# -- Log a note (a modal) ---------------------------------------------------------------------


def open_note(ack: Ack, body: dict[str, Any], client: WebClient, deps: Deps) -> None:
    """Open the note modal in the ack phase (the trigger id lasts 3 seconds)."""
    ack()
    alert_id = _alert_id(body, deps)
    if alert_id is None:
        return
    reason = refusal_for(ActionKind.NOTE_LOGGED, alert_id, user_of(body), client, deps)
    channel = ((body.get("container") or {}).get("channel_id")) or None
    if reason is not None:
        if channel and user_of(body):
            text_blocks, text = ab.refusal(reason)
            client.chat_postEphemeral(
                channel=str(channel), user=str(user_of(body)), text=text, blocks=text_blocks
            )
        return
    try:
        with session_scope(deps.sessions) as session:
            view = alert_actions.followup_view(session, alert_id=alert_id)
    except AlertActionError:
        return
    client.views_open(
        trigger_id=str(body["trigger_id"]), view=ab.note_modal(alert_id, view.account_name)
    )


def _note_text(body: dict[str, Any]) -> str:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return str((values.get(ab.BLOCK_NOTE) or {}).get(ab.INPUT_NOTE, {}).get("value") or "")


def _note_alert(body: dict[str, Any]) -> int | None:
    try:
        meta = json.loads(str((body.get("view") or {}).get("private_metadata") or "{}"))
    except ValueError:
        return None
    alert = meta.get("alert") if isinstance(meta, dict) else None
    return alert if isinstance(alert, int) else None


def check_note(ack: Ack, body: dict[str, Any]) -> None:
    """The note modal's submission, ack phase: field errors, else close it."""
    if not _note_text(body).strip():
        ack(response_action="errors", errors={ab.BLOCK_NOTE: "Write a note first."})
        return
    if _note_alert(body) is None:
        ack(response_action="errors", errors={ab.BLOCK_NOTE: "This form is out of date."})
        return
    ack()


def save_note(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """After the modal closed: store the note once (keyed by the view id), update the alert."""
    alert_id, user = _note_alert(body), user_of(body)
    if alert_id is None:
        return
    if refusal_for(ActionKind.NOTE_LOGGED, alert_id, user, context.client, deps) is not None:
        return  # the modal only opens for those allowed; a forged submission changes nothing
    key = str((body.get("view") or {}).get("id") or "")
    with session_scope(deps.sessions) as session:
        result = alert_actions.log_note(
            session,
            alert_id=alert_id,
            actor=str(user),
            text=_note_text(body),
            now=deps.now(),
            key=key,
        )
    if result.applied:
        update_alert_message(context.client, result.followup)


def register(app: App, deps: Deps) -> None:
    """Register the alert buttons and the note modal."""
    for action_id in sorted(APPLY):

        def work(body: dict[str, Any], context: BoltContext, action_id: str = action_id) -> None:
            act(action_id, body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])

    def note(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_note(ack, body, client, deps)

    app.action(ab.ACTION_NOTE)(note)

    def saved(body: dict[str, Any], context: BoltContext) -> None:
        save_note(body, context, deps)

    app.view(ab.VIEW_NOTE)(ack=check_note, lazy=[guarded("save_alert_note", saved)])
