"""The expansion hand-off lifecycle: proposals, guarded transitions, timeline, scan, pipeline.

Runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from tests.utils.factories import (
    add_feature_usage,
    add_usage,
    make_account,
    make_contract,
    make_feature,
)
from tools import handoff, handoff_draft
from tools.db import SessionFactory, session_scope
from tools.expansion import expansion_opportunities
from tools.metrics import portfolio_metrics
from tools.models import Account, HandoffEvent, HandoffProposal
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 3, 31)
CONFIG = ScoringConfig()
OWNER = "U0OWNER1"


def growing_account(session: Session, name: str = "Initech", *, module: bool = False) -> int:
    """An account over its 100-seat cap for 8 weeks (a seats opportunity), and optionally
    heavy on an enterprise feature (a module opportunity)."""
    account = make_account(session, name=name, owner_slack_id=OWNER)
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=200),
        end=AS_OF + timedelta(days=165),
        arr=120_000,
        seats=100,
    )
    add_usage(session, account=account, start=AS_OF - timedelta(days=60), days=60, active_users=130)
    if module:
        feature = make_feature(session, key=f"analytics_{name.lower()}", tier="enterprise")
        add_feature_usage(
            session, account=account, feature=feature, day=AS_OF - timedelta(days=1), users=40
        )
    assert account.id is not None
    return account.id


def churned_account(session: Session) -> int:
    account = make_account(session, name="Gone Inc", owner_slack_id=OWNER)
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=500),
        end=AS_OF - timedelta(days=135),
        seats=10,
    )
    add_usage(session, account=account, start=AS_OF - timedelta(days=60), days=60, active_users=30)
    assert account.id is not None
    return account.id


def propose(session: Session, account_id: int, **kwargs: object) -> HandoffProposal:
    args: dict[str, object] = {"source": "command", "proposed_by": OWNER, **kwargs}
    return handoff.propose_handoff(
        session,
        account_id=account_id,
        as_of=AS_OF,
        config=CONFIG,
        **args,  # type: ignore[arg-type]
    )


def events(session: Session, handoff_id: int) -> list[str]:
    return [e.kind for e in handoff.timeline(session, handoff_id=handoff_id)]


def sent(session: Session, handoff_id: int) -> None:
    assert handoff.approve_handoff(session, handoff_id=handoff_id, approver=OWNER)
    assert handoff.mark_sent(
        session, handoff_id=handoff_id, slack_channel="C0SALES", slack_ts="1.0", notion_page_id="p"
    )


# -- proposing -------------------------------------------------------------------------------


def test_propose_records_the_opportunity_with_evidence_formula_and_owner(
    session: Session,
) -> None:
    account_id = growing_account(session)

    row = propose(session, account_id)

    assert row.id is not None
    assert (row.kind, row.status, row.source) == ("seats", "proposed", "command")
    assert row.key.endswith(":seats:cap")
    assert row.open_key == f"{account_id}:seats"
    assert row.owner_slack_id == OWNER
    assert row.estimated_arr == Decimal("51600.00")  # ceil(130 x 1.1) - 100 = 43 x $1,200
    assert "43 extra seats" in row.formula
    assert row.evidence
    assert row.talk_track
    assert events(session, row.id) == ["proposed"]


def test_propose_picks_the_type_asked_for(session: Session) -> None:
    account_id = growing_account(session, module=True)

    module = propose(session, account_id, kind="module")
    seats = propose(session, account_id, kind="seats")

    assert (module.kind, seats.kind) == ("module", "seats")
    assert module.estimated_arr == Decimal("60000.00")  # $120,000 x 50% enterprise uplift


def test_propose_refuses_a_churned_account(session: Session) -> None:
    account_id = churned_account(session)

    with pytest.raises(handoff.ChurnedAccountError, match="Gone Inc has no active contract"):
        propose(session, account_id)
    assert session.exec(select(HandoffProposal)).all() == []


def test_propose_refuses_a_duplicate_naming_the_open_one_and_its_status(session: Session) -> None:
    account_id = growing_account(session)
    first = propose(session, account_id)
    assert handoff.approve_handoff(session, handoff_id=first.id or 0, approver=OWNER)

    with pytest.raises(handoff.DuplicateHandoffError) as refused:
        propose(session, account_id, source="button")

    message = str(refused.value)
    assert f"open seats hand-off #{first.id}" in message
    assert "status: approved" in message
    assert refused.value.existing.id == first.id


def test_a_closed_handoff_can_be_proposed_again(session: Session) -> None:
    account_id = growing_account(session)
    first = propose(session, account_id)
    assert handoff.dismiss_handoff(session, handoff_id=first.id or 0, actor=OWNER)

    again = propose(session, account_id)

    assert again.id != first.id
    assert handoff.get_handoff(session, handoff_id=first.id or 0).open_key is None


def test_propose_without_an_opportunity_is_refused(session: Session) -> None:
    account_id = growing_account(session)
    with pytest.raises(handoff.NoOpportunityError, match="no open integration expansion"):
        propose(session, account_id, kind="integration")
    with pytest.raises(handoff.HandoffError, match="Unknown opportunity type"):
        propose(session, account_id, kind="crystal-balls")


def test_the_agent_draft_api_still_returns_the_open_proposal(session: Session) -> None:
    account_id = growing_account(session)
    (opp,) = expansion_opportunities(session, as_of=AS_OF, config=CONFIG, account_ids=[account_id])[
        account_id
    ]

    first = handoff_draft.propose_handoff(session, opportunity=opp, proposed_by="U0AGENT")
    again = handoff_draft.propose_handoff(session, opportunity=opp, proposed_by="U0AGENT")

    assert (first.created, again.created) == (True, False)
    assert first.proposal_id == again.proposal_id
    assert handoff_draft.open_proposal(session, key=opp.key) is not None


# -- transitions -----------------------------------------------------------------------------


def test_full_lifecycle_to_accepted_writes_the_timeline(session: Session) -> None:
    row = propose(session, growing_account(session))
    hid = row.id or 0

    assert handoff.edit_handoff(
        session, handoff_id=hid, editor=OWNER, estimated_arr=Decimal("40000"), talk_track=" Hi "
    )
    assert handoff.approve_handoff(session, handoff_id=hid, approver=OWNER)
    assert handoff.mark_sent(
        session, handoff_id=hid, slack_channel="C0SALES", slack_ts="123.456", notion_page_id="pg1"
    )
    assert handoff.record_sales_response(session, handoff_id=hid, accepted=True, rep="U0REP")

    done = handoff.get_handoff(session, handoff_id=hid)
    assert (done.status, done.estimated_arr, done.talk_track) == (
        "accepted",
        Decimal("40000"),
        "Hi",
    )
    assert (done.approved_by, done.sales_rep, done.sales_ts) == (OWNER, "U0REP", "123.456")
    assert (done.notion_status, done.notion_page_id, done.open_key) == ("written", "pg1", None)
    assert "edited by" in done.formula
    assert events(session, hid) == [
        "proposed",
        "edited",
        "approved",
        "dispatch_expansion_handoff",
        "accepted",
    ]
    edited = handoff.timeline(session, handoff_id=hid)[1]
    assert edited.detail["estimated_arr"] == ["51600.00", "40000.00"]


def test_decline_closes_the_handoff(session: Session) -> None:
    hid = propose(session, growing_account(session)).id or 0
    sent(session, hid)

    assert handoff.record_sales_response(session, handoff_id=hid, accepted=False, rep="U0REP")
    assert not handoff.record_sales_response(session, handoff_id=hid, accepted=True, rep="U0REP2")

    row = handoff.get_handoff(session, handoff_id=hid)
    assert (row.status, row.sales_rep, row.open_key) == ("declined", "U0REP", None)


def test_each_transition_applies_once(session: Session) -> None:
    hid = propose(session, growing_account(session)).id or 0

    assert handoff.approve_handoff(session, handoff_id=hid, approver="U1")
    assert not handoff.approve_handoff(session, handoff_id=hid, approver="U2")  # double click
    assert not handoff.edit_handoff(
        session, handoff_id=hid, editor="U1", estimated_arr=Decimal("1")
    )
    assert handoff.mark_sent(session, handoff_id=hid, slack_channel="C", slack_ts="1.0")
    assert not handoff.mark_sent(session, handoff_id=hid, slack_channel="C", slack_ts="2.0")
    assert not handoff.dismiss_handoff(session, handoff_id=hid, actor="U1")  # already sent

    row = handoff.get_handoff(session, handoff_id=hid)
    assert (row.status, row.approved_by) == ("sent", "U1")
    assert events(session, hid) == ["proposed", "approved", "dispatch_expansion_handoff"]


def test_sales_cannot_answer_before_it_is_sent(session: Session) -> None:
    hid = propose(session, growing_account(session)).id or 0
    assert not handoff.record_sales_response(session, handoff_id=hid, accepted=True, rep="U0REP")
    assert handoff.get_handoff(session, handoff_id=hid).status == "proposed"


@pytest.mark.parametrize("approve_first", [False, True])
def test_dismiss_before_sending(session: Session, approve_first: bool) -> None:
    hid = propose(session, growing_account(session)).id or 0
    if approve_first:
        handoff.approve_handoff(session, handoff_id=hid, approver=OWNER)

    assert handoff.dismiss_handoff(session, handoff_id=hid, actor=OWNER, reason="too early")
    assert not handoff.dismiss_handoff(session, handoff_id=hid, actor=OWNER)
    assert not handoff.approve_handoff(session, handoff_id=hid, approver=OWNER)

    row = handoff.get_handoff(session, handoff_id=hid)
    assert (row.status, row.open_key) == ("dismissed", None)
    assert handoff.timeline(session, handoff_id=hid)[-1].detail == {"reason": "too early"}


def test_edit_validates_and_ignores_no_change(session: Session) -> None:
    row = propose(session, growing_account(session))
    hid = row.id or 0

    with pytest.raises(handoff.InvalidHandoffEditError, match="more than"):
        handoff.edit_handoff(session, handoff_id=hid, editor=OWNER, estimated_arr=Decimal("0"))
    with pytest.raises(handoff.InvalidHandoffEditError) as empty:
        handoff.edit_handoff(session, handoff_id=hid, editor=OWNER, talk_track="   ")
    assert empty.value.field == "talk_track"
    assert not handoff.edit_handoff(
        session, handoff_id=hid, editor=OWNER, estimated_arr=row.estimated_arr
    )
    assert events(session, hid) == ["proposed"]


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("24000", "24000"), ("$24,000.50", "24000.50"), ("24k", "24000"), ("1.2M", "1200000")],
)
def test_parse_arr_accepts_what_people_type(typed: str, amount: str) -> None:
    assert handoff.parse_arr(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["", "lots", "-5", "0", "12 34", "1e3", "9999999999999"])
def test_parse_arr_refuses_the_rest(typed: str) -> None:
    with pytest.raises(handoff.InvalidHandoffEditError) as refused:
        handoff.parse_arr(typed)
    assert refused.value.field == "estimated_arr"


def test_unknown_handoff(session: Session) -> None:
    with pytest.raises(handoff.HandoffNotFoundError, match="#999"):
        handoff.approve_handoff(session, handoff_id=999, approver=OWNER)


def test_concurrent_approvals_from_two_sessions_apply_once(sessions: SessionFactory) -> None:
    with session_scope(sessions) as s:
        hid = propose(s, growing_account(s)).id or 0
    first, second = sessions(), sessions()
    try:
        won_first = handoff.approve_handoff(first, handoff_id=hid, approver="U1")
        first.commit()
        won_second = handoff.approve_handoff(second, handoff_id=hid, approver="U2")
        second.commit()
    finally:
        first.close()
        second.close()
    assert (won_first, won_second) == (True, False)
    with session_scope(sessions) as s:
        approvals = s.exec(select(HandoffEvent).where(HandoffEvent.kind == "approved")).all()
        assert len(approvals) == 1


# -- Notion write bookkeeping ----------------------------------------------------------------


def test_the_notion_delivery_outcome_is_shown_on_the_proposal(session: Session) -> None:
    hid = propose(session, growing_account(session)).id or 0
    handoff.approve_handoff(session, handoff_id=hid, approver=OWNER)
    handoff.mark_sent(
        session, handoff_id=hid, slack_channel="C", slack_ts="1.0", notion_pending=True
    )
    assert handoff.get_handoff(session, handoff_id=hid).notion_status == "pending"

    handoff.record_notion_delivery(
        session, handoff_id=hid, status="claimed", page_id=None, error="503", attempts=1
    )
    row = handoff.get_handoff(session, handoff_id=hid)
    assert (row.status, row.notion_status, row.notion_error) == ("sent", "pending", "503")

    handoff.record_notion_delivery(
        session, handoff_id=hid, status="posted", page_id="page-9", error=None, attempts=2
    )
    row = handoff.get_handoff(session, handoff_id=hid)
    assert (row.notion_status, row.notion_page_id, row.notion_attempts) == ("written", "page-9", 2)
    assert row.notion_error is None
    assert events(session, hid)[-2:] == ["notion_failed", "notion_written"]


# -- lists, pipeline, scan -------------------------------------------------------------------


def test_open_handoffs_and_pipeline(session: Session) -> None:
    mine = propose(session, growing_account(session, "Initech"))
    other_id = growing_account(session, "Hooli")
    session.get(Account, other_id).owner_slack_id = "U0OTHER"  # type: ignore[union-attr]
    session.flush()
    other = propose(session, other_id)
    closed = propose(session, growing_account(session, "Stark"))
    handoff.dismiss_handoff(session, handoff_id=closed.id or 0, actor=OWNER)

    assert {r.id for r in handoff.open_handoffs(session)} == {mine.id, other.id}
    assert [r.id for r in handoff.open_handoffs(session, owner_slack_id=OWNER)] == [mine.id]
    assert handoff.expansion_pipeline(session) == (2, Decimal("103200.00"))
    metrics = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert (metrics.handoff_pipeline_count, metrics.handoff_pipeline_arr) == (2, Decimal("103200"))
    (card,) = handoff.handoff_cards(session, [mine])
    assert (card.account_name, card.owner_slack_id, card.status) == ("Initech", OWNER, "proposed")


def test_propose_from_scan_is_new_only_and_respects_the_cooldown(session: Session) -> None:
    first_id = growing_account(session, "Initech", module=True)
    second_id = growing_account(session, "Hooli")
    churned_account(session)

    created = handoff.propose_from_scan(session, as_of=AS_OF, config=CONFIG)

    assert sorted((r.account_id, r.kind) for r in created) == sorted(
        [(first_id, "module"), (first_id, "seats"), (second_id, "seats")]
    )
    assert {r.source for r in created} == {"scan"}
    assert handoff.propose_from_scan(session, as_of=AS_OF, config=CONFIG) == []
    dismissed = next(r for r in created if r.account_id == second_id)
    handoff.dismiss_handoff(session, handoff_id=dismissed.id or 0, actor=OWNER)
    assert handoff.propose_from_scan(session, as_of=AS_OF, config=CONFIG) == []  # cooldown
    assert handoff.propose_from_scan(session, as_of=AS_OF, config=CONFIG, cooldown_days=0) != []
