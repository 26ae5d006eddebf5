"""Who may do what: the one permission policy, checked before every state change.

Every action, view submission and command that changes state asks ``Policy.can(user, action,
resource)`` and, when refused, tells the user ``Policy.refusal(action, resource)``. Resources
are re-read from the database by id (``handoff_resource``, ``qbr_resource``,
``account_resource``): button values and ``private_metadata`` carry ids only, never the owner
or anything else the decision depends on.

The rules (docs/security.md):
- **Account work** (hand-off edit/approve/dismiss, QBR draft publish/discard, alert
  acknowledge/snooze/assign/task/note, closing a follow-up task ("Done"), logging work with
  ``/log`` or "Log to account"): the account's owner (``owner_slack_id``), the person a churn
  alert or a task is assigned to, or an approver (``HANDOFF_APPROVERS``: CS leads). A QBR
  draft's creator may also publish or discard it. An
  account without an owner: approvers; when no approver is configured, any member of the
  workspace (the tenant gate has already refused every other organisation).
- **Sales answers** (accept/decline a sent hand-off): members of ``SALES_REPS`` (user ids, and
  user group ids ``S…`` whose members are looked up with ``usergroups.users.list``) or an
  approver. With ``SALES_REPS`` unset nobody but an approver may answer for Sales.
- **Drafts** (proposing a hand-off, asking for a QBR draft): any member; nothing leaves a draft
  until one of the people above presses a button.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from bot.config import Settings
from tools import handoff
from tools.alert_actions import AlertActionError, followup_view
from tools.models import Account, QbrDraft
from tools.models_followup import AccountTask

logger = logging.getLogger(__name__)

GroupMembers = Callable[[str], Iterable[str]]
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
SLACK_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


class Action(StrEnum):
    """Everything a person can do that changes state."""

    HANDOFF_EDIT = "handoff.edit"
    HANDOFF_APPROVE = "handoff.approve"
    HANDOFF_DISMISS = "handoff.dismiss"
    HANDOFF_PROPOSE = "handoff.propose"
    SALES_ACCEPT = "sales.accept"
    SALES_DECLINE = "sales.decline"
    QBR_DRAFT = "qbr.draft"
    QBR_PUBLISH = "qbr.publish"
    QBR_DISCARD = "qbr.discard"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    ALERT_SNOOZE = "alert.snooze"
    ALERT_ASSIGN = "alert.assign"
    ALERT_TASK = "alert.task"
    ALERT_NOTE = "alert.note"
    TASK_CLOSE = "task.close"
    INTERACTION_LOG = "interaction.log"


OWNER_ACTIONS = frozenset(
    {
        Action.HANDOFF_EDIT,
        Action.HANDOFF_APPROVE,
        Action.HANDOFF_DISMISS,
        Action.QBR_PUBLISH,
        Action.QBR_DISCARD,
        Action.ALERT_ACKNOWLEDGE,
        Action.ALERT_SNOOZE,
        Action.ALERT_ASSIGN,
        Action.ALERT_TASK,
        Action.ALERT_NOTE,
        Action.TASK_CLOSE,
        Action.INTERACTION_LOG,
    }
)
SALES_ACTIONS = frozenset({Action.SALES_ACCEPT, Action.SALES_DECLINE})
DRAFT_ACTIONS = frozenset({Action.HANDOFF_PROPOSE, Action.QBR_DRAFT})


@dataclass(frozen=True)
class Resource:
    """What an action is about, as read from the database: its account's owner and creator."""

    kind: str
    id: int | None
    owner: str | None = None
    creator: str | None = None
    assignee: str | None = None
    """Whom a churn alert was assigned to ("Assign to…"): they may act on it like its owner."""


def split_ids(raw: str) -> frozenset[str]:
    """``"U1, U2,,S3"`` -> ``{"U1", "U2", "S3"}``."""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


class Policy:
    """The permission policy over the configured roles (see the module docstring)."""

    def __init__(self, settings: Settings, *, group_members: GroupMembers | None = None) -> None:
        self.approvers = split_ids(settings.handoff_approvers)
        reps = split_ids(settings.sales_reps)
        self.sales_users = frozenset(r for r in reps if not SLACK_GROUP_ID.fullmatch(r))
        self.sales_groups = frozenset(r for r in reps if SLACK_GROUP_ID.fullmatch(r))
        self._group_members = group_members

    def can(self, user: str | None, action: Action, resource: Resource) -> bool:
        """Whether ``user`` (a Slack user id) may do ``action`` on ``resource``."""
        if not user:
            return False
        if action in DRAFT_ACTIONS:
            return True
        if user in self.approvers:
            return True
        if action in SALES_ACTIONS:
            return self._is_sales_rep(user)
        if action in OWNER_ACTIONS:
            return self._owns(user, resource)
        return False

    def refusal(self, action: Action, resource: Resource) -> str:
        """What to tell someone ``can`` refused (names the rule, never data)."""
        what = action.value.split(".", 1)[1]
        if action in SALES_ACTIONS:
            return (
                f"Only Sales can {what} a hand-off (the SALES_REPS setting lists who; ask your "
                "admin)."
            )
        creator = " (or the person who asked for it)" if resource.creator else ""
        if resource.assignee:
            creator = " (or the person it is assigned to)"
        return (
            f"Only the account's owner{creator} or a CS lead (HANDOFF_APPROVERS) can {what} "
            f"this {resource.kind}."
        )

    def _owns(self, user: str, resource: Resource) -> bool:
        if user == resource.owner:
            return True
        if resource.creator is not None and user == resource.creator:
            return True
        if resource.assignee is not None and user == resource.assignee:
            return True
        return resource.owner is None and not self.approvers

    def _is_sales_rep(self, user: str) -> bool:
        if user in self.sales_users:
            return True
        if not self.sales_groups or self._group_members is None:
            return False
        for group in sorted(self.sales_groups):
            try:
                if user in set(self._group_members(group)):
                    return True
            except Exception:  # a lookup failure refuses, it never grants
                logger.warning("could not read the members of user group %s", group, exc_info=True)
        return False


# -- resources, re-read from the database ------------------------------------------------------


def handoff_resource(session: Session, handoff_id: int) -> Resource:
    """A hand-off: its account's owner (raises ``handoff.HandoffError`` when it is gone)."""
    card = handoff.handoff_card(session, handoff_id=handoff_id)
    return Resource(kind="hand-off", id=handoff_id, owner=card.owner_slack_id)


def qbr_resource(session: Session, draft_id: int) -> Resource | None:
    """A QBR draft: its account's owner and the person who asked for it; None when gone."""
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        return None
    account = session.get(Account, draft.account_id)
    creator = (
        draft.created_by if draft.created_by and SLACK_USER_ID.fullmatch(draft.created_by) else None
    )
    return Resource(
        kind="QBR draft",
        id=draft_id,
        owner=account.owner_slack_id if account is not None else None,
        creator=creator,
    )


def account_resource(
    session: Session, account_id: int, *, kind: str = "account"
) -> Resource | None:
    """An account (alerts, notes): its owner; None when gone."""
    account = session.get(Account, account_id)
    if account is None:
        return None
    return Resource(kind=kind, id=account_id, owner=account.owner_slack_id)


def alert_resource(session: Session, alert_id: int) -> Resource | None:
    """A churn alert: its account's owner and the person it is assigned to; None when gone."""
    try:
        view = followup_view(session, alert_id=alert_id)
    except AlertActionError:
        return None
    return Resource(
        kind="churn alert", id=alert_id, owner=view.owner_slack_id, assignee=view.assignee
    )


def task_resource(session: Session, task_id: int) -> Resource | None:
    """A follow-up task: its account's owner and the person it is assigned to; None when gone."""
    task = session.get(AccountTask, task_id)
    if task is None:
        return None
    account = session.get(Account, task.account_id)
    return Resource(
        kind="task",
        id=task_id,
        owner=account.owner_slack_id if account is not None else None,
        assignee=task.assignee,
    )


def policy_for(settings: Settings, client: object | None = None) -> Policy:
    """The policy for one request; ``client`` (the request's WebClient) reads user groups."""
    return Policy(settings, group_members=usergroup_members(client) if client else None)


def usergroup_members(client: object) -> GroupMembers:
    """Members of a user group via ``usergroups.users.list`` (needs ``usergroups:read``)."""

    def members(group: str) -> Iterable[str]:
        response = client.usergroups_users_list(usergroup=group)  # type: ignore[attr-defined]
        users = response.get("users") or []
        return [str(u) for u in users]

    return members
