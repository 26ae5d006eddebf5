"""The permission policy: who may do what (bot/policy.py)."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.policy import Action, Policy, Resource

OWNER, LEAD, REP, STRANGER = "U0OWNER", "U0LEAD", "U0REP", "U0STRANGER"
OWNED = Resource(kind="hand-off", id=1, owner=OWNER)
DRAFT = Resource(kind="QBR draft", id=2, owner=OWNER, creator="U0ASKER")
ORPHAN = Resource(kind="hand-off", id=3, owner=None)


def policy(
    approvers: str = LEAD, reps: str = REP, groups: dict[str, list[str]] | None = None
) -> Policy:
    settings = Settings(_env_file=None, handoff_approvers=approvers, sales_reps=reps)
    members = (lambda g: (groups or {})[g]) if groups is not None else None
    return Policy(settings, group_members=members)


@pytest.mark.parametrize(
    "action",
    [Action.HANDOFF_EDIT, Action.HANDOFF_APPROVE, Action.HANDOFF_DISMISS, Action.ALERT_SNOOZE],
)
def test_owner_work_is_for_the_owner_and_leads(action: Action) -> None:
    p = policy()
    assert p.can(OWNER, action, OWNED)
    assert p.can(LEAD, action, OWNED)
    assert not p.can(STRANGER, action, OWNED)
    assert not p.can(REP, action, OWNED)
    assert not p.can(None, action, OWNED)
    assert not p.can("", action, OWNED)


def test_a_qbr_draft_is_also_its_creators() -> None:
    p = policy()
    for action in (Action.QBR_PUBLISH, Action.QBR_DISCARD):
        assert p.can("U0ASKER", action, DRAFT)
        assert p.can(OWNER, action, DRAFT)
        assert not p.can(STRANGER, action, DRAFT)


def test_an_account_without_owner_needs_a_lead_when_there_are_leads() -> None:
    assert not policy().can(STRANGER, Action.HANDOFF_APPROVE, ORPHAN)
    assert policy().can(LEAD, Action.HANDOFF_APPROVE, ORPHAN)
    assert policy(approvers="").can(STRANGER, Action.HANDOFF_APPROVE, ORPHAN)


def test_only_sales_answers_for_sales() -> None:
    p = policy()
    for action in (Action.SALES_ACCEPT, Action.SALES_DECLINE):
        assert p.can(REP, action, OWNED)
        assert p.can(LEAD, action, OWNED)
        assert not p.can(OWNER, action, OWNED)
        assert not p.can(STRANGER, action, OWNED)
    assert not policy(reps="").can(REP, Action.SALES_ACCEPT, OWNED)  # the default: leads only


def test_sales_user_groups_are_expanded_and_a_failed_lookup_refuses() -> None:
    p = policy(reps="S0SALES", groups={"S0SALES": ["U0GROUPREP"]})
    assert p.can("U0GROUPREP", Action.SALES_ACCEPT, OWNED)
    assert not p.can(STRANGER, Action.SALES_ACCEPT, OWNED)
    broken = policy(reps="S0OTHER", groups={})  # KeyError in the lookup
    assert not broken.can("U0GROUPREP", Action.SALES_ACCEPT, OWNED)


def test_drafts_are_anyones_and_refusals_name_the_rule() -> None:
    p = policy()
    assert p.can(STRANGER, Action.HANDOFF_PROPOSE, OWNED)
    assert "HANDOFF_APPROVERS" in p.refusal(Action.HANDOFF_EDIT, OWNED)
    assert "SALES_REPS" in p.refusal(Action.SALES_ACCEPT, OWNED)
