"""Block Kit for acting on churn alerts and logging work: the alert's buttons, the follow-up
line its message is updated with, the note and "Log to account" modals, App Home sections.

Button values, block ids and ``private_metadata`` carry ids only (an alert id, an account id);
everything else is re-read from the database. Free text (notes, account names) is escaped;
mentions are made only from ids that look like Slack user ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.blocks import (
    Block,
    Rendered,
    actions,
    button,
    clip,
    context,
    esc,
    header,
    message,
    plain,
    section,
)
from bot.slack_out import mention as slack_mention
from tools.alert_actions import SNOOZE_DAYS, FollowupView
from tools.interactions import LOGGABLE_KINDS, InteractionView
from tools.models_followup import ActionKind
from tools.subscriptions import SubscriptionView

ACTION_ACK = "alert_acknowledge"
ACTION_SNOOZE = "alert_snooze"
ACTION_ASSIGN = "alert_assign"
ACTION_TASK = "alert_create_task"
ACTION_NOTE = "alert_log_note"
ACTIONS = frozenset({ACTION_ACK, ACTION_SNOOZE, ACTION_ASSIGN, ACTION_TASK, ACTION_NOTE})
VIEW_NOTE = "alert_note_modal"
VIEW_LOG = "log_interaction_modal"
SHORTCUT_LOG = "log_to_account"
ACTION_MINE_DM = "home_alerts_mine_dm"
ACTION_MINE_CHANNEL = "home_alerts_mine_channel"
HOME_ACTIONS = frozenset({ACTION_MINE_DM, ACTION_MINE_CHANNEL})

BLOCK_ACTIONS_PREFIX = "churn_alert_actions:"
BLOCK_FOLLOWUP = "churn_alert_followup"
BLOCK_NOTE, INPUT_NOTE = "note", "note_text"
BLOCK_ACCOUNT, INPUT_ACCOUNT = "account", "account_name"
BLOCK_KIND, INPUT_KIND = "kind", "interaction_kind"
BLOCK_TEXT, INPUT_TEXT = "text", "interaction_text"
MAX_MODAL_TEXT = 2900


def mention(user_id: str | None) -> str:
    """``<@U…>`` for a Slack user id (bot/slack_out.py's typed helper); anything else is shown
    escaped, never as markup."""
    return slack_mention(user_id) if user_id else "someone"


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else ""


# -- the alert's buttons ----------------------------------------------------------------------


def alert_actions(alert_ref: str) -> Block:
    """The buttons under a churn alert; ``alert_ref`` (the alert key or id) rides in the
    block id, so every element (buttons, the snooze menu, the user picker) finds its alert."""
    snooze = {
        "type": "static_select",
        "action_id": ACTION_SNOOZE,
        "placeholder": plain("Snooze…", 75),
        "options": [{"text": plain(f"{d} days", 75), "value": str(d)} for d in SNOOZE_DAYS],
    }
    assign = {
        "type": "users_select",
        "action_id": ACTION_ASSIGN,
        "placeholder": plain("Assign to…", 75),
    }
    return actions(
        button("Acknowledge", ACTION_ACK, alert_ref, style="primary"),
        snooze,
        assign,
        button("Create task", ACTION_TASK, alert_ref),
        button("Log a note", ACTION_NOTE, alert_ref),
        block_id=BLOCK_ACTIONS_PREFIX + alert_ref,
    )


def alert_ref_of(block_id: str, value: str = "") -> str:
    """The alert reference of a pressed element (its block id, else a button's value)."""
    if block_id.startswith(BLOCK_ACTIONS_PREFIX):
        return block_id[len(BLOCK_ACTIONS_PREFIX) :]
    return value


def followup_lines(view: FollowupView) -> list[str]:
    """Who did what to the alert and when, newest state first."""
    lines = []
    if view.acknowledged_at is not None:
        lines.append(
            f":white_check_mark: Acknowledged by {mention(view.acknowledged_by)} "
            f"at {_when(view.acknowledged_at)}"
        )
    if view.snoozed_until is not None:
        lines.append(
            f":zzz: Snoozed {view.snoozed_days} days by {mention(view.snoozed_by)} "
            f"until {view.snoozed_until.date().isoformat()}"
        )
    if view.assignee:
        lines.append(f":bust_in_silhouette: Assigned to {mention(view.assignee)}")
    if view.task is not None:
        where = {"written": "in Notion", "pending": "going to Notion"}
        place = where.get(view.task.notion_status, "in App Home")
        lines.append(f":clipboard: Task #{view.task.task_id} created {place}")
        if view.task.closed_at is not None:
            lines.append(
                f":ballot_box_with_check: Task #{view.task.task_id} done by "
                f"{mention(view.task.closed_by)} at {_when(view.task.closed_at)}"
            )
    if view.notes:
        lines.append(f":memo: {view.notes} note{'s' if view.notes != 1 else ''} logged")
    if len(view.actions) > 1:
        last = view.actions[-1]
        lines.append(f"_Last: {_verb(last.kind)} by {mention(last.actor)} at {_when(last.at)}_")
    return lines


def _verb(kind: str) -> str:
    return {
        ActionKind.ACKNOWLEDGED.value: "acknowledged",
        ActionKind.SNOOZED.value: "snoozed",
        ActionKind.ASSIGNED.value: "assigned",
        ActionKind.TASK_CREATED.value: "task created",
        ActionKind.TASK_DONE.value: "task done",
        ActionKind.NOTE_LOGGED.value: "note logged",
    }.get(kind, esc(kind))


def updated_alert(view: FollowupView) -> Rendered:
    """The alert message as posted, with the follow-up line above its buttons."""
    original = [b for b in view.payload.get("blocks", []) if isinstance(b, dict)]
    original = [b for b in original if b.get("block_id") != BLOCK_FOLLOWUP]
    lines = followup_lines(view)
    status: list[Block] = []
    if lines:
        status = [{**section("\n".join(lines)), "block_id": BLOCK_FOLLOWUP}]
    at = next(
        (
            i
            for i, b in enumerate(original)
            if str(b.get("block_id", "")).startswith(BLOCK_ACTIONS_PREFIX)
        ),
        len(original),
    )
    blocks = [*original[:at], *status, *original[at:]]
    text = str(view.payload.get("text") or f"Churn risk: {view.account_name}")
    return message(blocks, text)


def action_receipt(kind: ActionKind, view: FollowupView, *, applied: bool) -> Rendered:
    """The ephemeral answer to whoever pressed a button."""
    name = esc(view.account_name)
    if applied:
        text = f":white_check_mark: {_verb(kind.value).capitalize()} — *{name}*."
    else:
        text = f":information_source: Nothing changed — *{name}* is already in that state."
    if kind == ActionKind.TASK_CREATED and view.task is not None and not applied:
        text = f":information_source: *{name}* already has task #{view.task.task_id}."
    return message([section(text)], clip(text, 200))


def refusal(reason: str) -> Rendered:
    """An ephemeral refusal (not allowed, out of date)."""
    return message([section(f":no_entry: {reason}")], reason)


# -- modals -----------------------------------------------------------------------------------


def _input(block_id: str, label: str, element: Block, *, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }


def _text_input(action_id: str, *, initial: str = "", multiline: bool = True) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": MAX_MODAL_TEXT,
    }
    if initial:
        element["initial_value"] = clip(initial, MAX_MODAL_TEXT)
    return element


def _kind_options() -> list[dict[str, Any]]:
    return [{"text": plain(k.capitalize(), 75), "value": k} for k in LOGGABLE_KINDS]


def note_modal(alert_id: int, account_name: str) -> dict[str, Any]:
    """The "Log a note" modal of an alert (``private_metadata``: the alert id)."""
    return {
        "type": "modal",
        "callback_id": VIEW_NOTE,
        "title": plain("Log a note", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"alert": alert_id}),
        "blocks": [
            section(f"A note on *{esc(account_name)}*, kept with the account's interactions."),
            _input(BLOCK_NOTE, "Note", _text_input(INPUT_NOTE)),
        ],
    }


_SLACK_TOKEN = re.compile(r"<([^<>]*)>")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_BROADCASTS = {"!channel": "@channel", "!here": "@here", "!everyone": "@everyone"}


def _readable_token(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target in _BROADCASTS:
        return _BROADCASTS[target]
    if target.startswith("!"):  # !subteam^S…|@team, !date^…|fallback
        return label or target[1:].split("^")[0]
    if target[:1] in "@#":
        return target[0] + label.lstrip("@#") if label else target
    return f"{label} ({target})" if label and label != target else target


def readable_message(text: str) -> str:
    """A Slack message's text as plain words for an editable field: its mentions, channels and
    links (``<!channel>``, ``<@U…|jo>``, ``<https://…|label>``) as ``@channel``, ``@jo``,
    ``label (https://…)``; entities (``&lt;``) left as Slack sent them. No Slack markup is sent
    back, even inside a text input."""
    return _SLACK_TOKEN.sub(_readable_token, _PRIVATE_USE.sub("", text))


def log_modal(*, message_text: str, channel: str | None, message_ts: str | None) -> dict[str, Any]:
    """The "Log to account" modal: pick the account and the kind; the message is the text."""
    kind = {
        "type": "static_select",
        "action_id": INPUT_KIND,
        "options": _kind_options(),
        "initial_option": _kind_options()[0],
    }
    account = _text_input(INPUT_ACCOUNT, multiline=False)
    account["placeholder"] = plain("Account name", 150)
    meta = {"channel": channel, "ts": message_ts}
    return {
        "type": "modal",
        "callback_id": VIEW_LOG,
        "title": plain("Log to account", 24),
        "submit": plain("Log", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(meta),
        "blocks": [
            _input(BLOCK_ACCOUNT, "Account", account),
            _input(BLOCK_KIND, "What was it?", kind),
            _input(
                BLOCK_TEXT,
                "Summary",
                _text_input(INPUT_TEXT, initial=readable_message(message_text)),
            ),
        ],
    }


def logged_receipt(logged: InteractionView) -> Rendered:
    """The answer to ``/log`` or the shortcut: what was recorded."""
    who = f" with {esc(logged.contact_name)}" if logged.contact_name else ""
    counts = "counts" if logged.meaningful else "does not count"
    state = "Logged" if logged.created else "Already logged"
    article = "an" if logged.kind[:1] in "aeiou" else "a"
    text = (
        f":memo: {state} {article} *{esc(logged.kind)}*{who} on *{esc(logged.account_name)}* "
        f"({counts} as a meaningful interaction)."
    )
    blocks = [section(text)]
    if logged.summary:
        blocks.append(context(esc(clip(logged.summary, 300))))
    return message(blocks, clip(text, 200))


def interactions_section(items: Sequence[InteractionView]) -> Block | None:
    """ "Latest interactions" for ``/health`` (None when there are none)."""
    if not items:
        return None
    lines = []
    for item in items:
        by = f" · by {mention(item.logged_by)}" if item.logged_by else ""
        who = f" with {esc(item.contact_name)}" if item.contact_name else ""
        summary = f" — {esc(clip(item.summary, 140))}" if item.summary else ""
        lines.append(
            f"• {item.occurred_at.date().isoformat()} *{esc(item.kind)}*{who}{by}{summary}"
        )
    return section("*Latest interactions*\n" + "\n".join(lines))


def with_interactions(rendered: Rendered, items: Sequence[InteractionView]) -> Rendered:
    """A ``/health`` card with its latest interactions above its buttons (if any)."""
    extra = interactions_section(items)
    if extra is None:
        return rendered
    card, text = rendered
    at = next((i for i, b in enumerate(card) if b.get("type") == "actions"), len(card))
    return message([*card[:at], extra, *card[at:]], text)


# -- App Home ---------------------------------------------------------------------------------


def home_settings(
    subscriptions: Sequence[SubscriptionView], segments: Sequence[str]
) -> list[Block]:
    """The alert-subscription settings of the viewer."""
    if subscriptions:
        current = "\n".join(f"• `{esc(s.scope)}` by {esc(s.delivery)}" for s in subscriptions)
    else:
        current = "_no subscriptions: churn alerts go to the alerts channel_"
    hint = esc(
        "`/csbot subscribe mine dm` · `/csbot subscribe segment:<name>` · "
        "`/csbot subscribe all` · `/csbot unsubscribe <scope>`"
    )
    seg = ", ".join(esc(s) for s in segments) or "—"
    by_dm = any(s.scope == "mine" and s.delivery == "dm" for s in subscriptions)
    return [
        header("Alert settings"),
        section(f"*Your churn-alert subscriptions*\n{current}"),
        actions(
            button(
                "Alerts on my accounts by DM",
                ACTION_MINE_DM,
                "dm",
                style=None if by_dm else "primary",
            ),
            button("Keep them in the channel", ACTION_MINE_CHANNEL, "channel"),
            block_id="home_alert_settings",
        ),
        context(hint, f"Segments: {seg}"),
    ]


def subscriptions_reply(text: str, subscriptions: Sequence[SubscriptionView]) -> Rendered:
    """The answer to ``/csbot subscribe|unsubscribe|subscriptions``."""
    if subscriptions:
        listed = "\n".join(f"• `{esc(s.scope)}` by {esc(s.delivery)}" for s in subscriptions)
    else:
        listed = "_none: churn alerts go to the alerts channel (ALERT_ROUTES)_"
    return message([section(text), section(f"*Your subscriptions*\n{listed}")], text)
