"""Who may act on a churn alert and who may log work on an account (issue 14's rules).

Kept as plain functions so the shared permission policy (``bot/policy.py``) can absorb them:

- acknowledge, snooze, assign, create task: the account's owner, the person the alert is
  assigned to, or a lead (``HANDOFF_APPROVERS``); anyone when the account has no owner;
- log a note on an alert, ``/log``, "Log to account": any member of the workspace (recording
  work done changes no decision; the note is kept with who wrote it).

A request reaches these only after its signature and team were verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from tools.models_followup import ActionKind

RESTRICTED = frozenset(
    {
        ActionKind.ACKNOWLEDGED,
        ActionKind.SNOOZED,
        ActionKind.ASSIGNED,
        ActionKind.TASK_CREATED,
    }
)


@dataclass(frozen=True)
class Decision:
    """Allowed, or refused with a reason the person can act on."""

    allowed: bool
    reason: str = ""


def leads(settings: Settings) -> frozenset[str]:
    """The Slack ids of CS leads (``HANDOFF_APPROVERS``)."""
    return frozenset(u.strip() for u in settings.handoff_approvers.split(",") if u.strip())


def may_act_on_alert(
    settings: Settings,
    *,
    user_id: str | None,
    action: ActionKind,
    owner_slack_id: str | None,
    assignee: str | None,
) -> Decision:
    """Whether ``user_id`` may do ``action`` to a churn alert on ``owner_slack_id``'s account."""
    if not user_id:
        return Decision(False, "I could not tell who pressed the button.")
    if action not in RESTRICTED or owner_slack_id is None:
        return Decision(True)
    if user_id in {owner_slack_id, assignee} or user_id in leads(settings):
        return Decision(True)
    return Decision(
        False,
        "Only the account's owner, the person the alert is assigned to, or a CS lead "
        "(HANDOFF_APPROVERS) can acknowledge, snooze, assign or create a task for this alert.",
    )


def may_log_interaction(user_id: str | None) -> Decision:
    """Whether ``user_id`` may log an interaction (any workspace member)."""
    if not user_id:
        return Decision(False, "I could not tell who you are.")
    return Decision(True)
