"""Alert follow-ups in tools/: each action changes state once, suppression, outcomes, stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from tests.utils.alert_world import AS_OF, OWNER, at, customer, overdue, posted_alert
from tests.utils.factories import make_contract
from tools import alert_actions
from tools.alert_outcomes import alert_stats, outcome_after, quiet_reason, record_outcomes
from tools.alerts.policy import churn_alert_reason
from tools.models import Alert, AlertKind, Contract, Interaction
from tools.models_followup import AccountTask, AlertAction, AlertFollowup, AlertOutcome
from tools.scoring import account_report
from tools.scoring_config import load_config

NOW = at(AS_OF, 10)
CONFIG = load_config()


def _alert(session: Session, name: str = "Acme") -> Alert:
    account = customer(session, name=name)
    overdue(session, account)
    return posted_alert(session, account)


def _actions(session: Session, alert_id: int) -> list[str]:
    stmt = select(AlertAction.kind).where(AlertAction.alert_id == alert_id)
    return list(session.exec(stmt).all())


def test_acknowledge_applies_once_and_logs_who_and_when(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    first = alert_actions.acknowledge(session, alert_id=alert.id, actor=OWNER, now=NOW, key="1.1")
    again = alert_actions.acknowledge(
        session, alert_id=alert.id, actor="U0OTHER", now=NOW + timedelta(minutes=1), key="1.2"
    )
    assert (first.applied, again.applied) == (True, False)
    assert again.followup.acknowledged_by == OWNER
    assert again.followup.acknowledged_at == NOW
    assert _actions(session, alert.id) == ["acknowledged"]
    row = session.exec(select(AlertFollowup).where(AlertFollowup.alert_id == alert.id)).one()
    assert (row.first_action, row.first_action_at) == ("acknowledged", NOW)


def test_snooze_same_days_is_a_no_op_other_days_restart(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    one = alert_actions.snooze(session, alert_id=alert.id, actor=OWNER, days=7, now=NOW, key="a")
    two = alert_actions.snooze(session, alert_id=alert.id, actor=OWNER, days=7, now=NOW, key="b")
    three = alert_actions.snooze(session, alert_id=alert.id, actor=OWNER, days=30, now=NOW, key="c")
    assert [one.applied, two.applied, three.applied] == [True, False, True]
    assert three.followup.snoozed_until == NOW + timedelta(days=30)
    with pytest.raises(alert_actions.AlertActionError):
        alert_actions.snooze(session, alert_id=alert.id, actor=OWNER, days=3, now=NOW, key="d")


def test_assign_changes_the_assignee_and_the_open_task(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    made = alert_actions.create_task(
        session, alert_id=alert.id, actor=OWNER, now=NOW, key="t", to_notion=False
    )
    assert made.task is not None
    assert made.task.assignee == OWNER
    first = alert_actions.assign(
        session, alert_id=alert.id, actor=OWNER, assignee="U0HELPER", now=NOW, key="x"
    )
    same = alert_actions.assign(
        session, alert_id=alert.id, actor=OWNER, assignee="U0HELPER", now=NOW, key="y"
    )
    assert (first.applied, same.applied) == (True, False)
    assert session.get(AccountTask, made.task.task_id).assignee == "U0HELPER"  # type: ignore[union-attr]


def test_create_task_twice_keeps_one_task(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    results = [
        alert_actions.create_task(
            session, alert_id=alert.id, actor=OWNER, now=NOW, key=k, to_notion=True
        )
        for k in ("p1", "p2")
    ]
    assert [r.applied for r in results] == [True, False]
    assert results[0].task is not None
    assert results[1].task is not None
    assert results[0].task.task_id == results[1].task.task_id
    assert results[0].task.notion_status == "pending"
    assert session.exec(select(func.count()).select_from(AccountTask)).one() == 1


def test_a_note_is_an_interaction_logged_once_per_request(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    text = "Called <!channel> about the invoice & renewal"
    first = alert_actions.log_note(
        session, alert_id=alert.id, actor=OWNER, text=text, now=NOW, key="V1"
    )
    retry = alert_actions.log_note(
        session, alert_id=alert.id, actor=OWNER, text=text, now=NOW, key="V1"
    )
    other = alert_actions.log_note(
        session, alert_id=alert.id, actor=OWNER, text="second", now=NOW, key="V2"
    )
    assert [first.applied, retry.applied, other.applied] == [True, False, True]
    assert other.followup.notes == 2
    notes = session.exec(
        select(Interaction).where(col(Interaction.external_id).startswith("slack:"))
    ).all()
    assert sorted(n.summary for n in notes) == sorted([text, "second"])  # stored verbatim
    assert all(n.logged_by == OWNER and n.kind == "note" and not n.meaningful for n in notes)


def test_only_posted_churn_alerts_can_be_acted_on(session: Session) -> None:
    alert = _alert(session)
    alert.kind = AlertKind.DIGEST.value
    session.add(alert)
    session.flush()
    assert alert.id is not None
    with pytest.raises(alert_actions.AlertActionError):
        alert_actions.acknowledge(session, alert_id=alert.id, actor=OWNER, now=NOW, key="k")


def test_alert_refs_resolve_by_key_or_id(session: Session) -> None:
    alert = _alert(session)
    assert alert.id is not None
    assert alert_actions.resolve_alert_ref(session, alert.key) == alert.id
    assert alert_actions.resolve_alert_ref(session, str(alert.id)) == alert.id
    assert alert_actions.resolve_alert_ref(session, "churn_alert:999:2026-01-01") is None


# -- suppression ----------------------------------------------------------------------------


def _followup(**values: object) -> AlertFollowup:
    return AlertFollowup(alert_id=1, account_id=1, **values)  # type: ignore[arg-type]


def test_quiet_reason_acknowledged_snoozed_and_ended() -> None:
    level = "medium"
    args = {"since_last": 20, "quiet_days": 14, "level": level}
    assert quiet_reason(None, today=AS_OF, **args) is not None  # quiet period over
    assert quiet_reason(None, today=AS_OF, since_last=3, quiet_days=14, level=level) is None
    acked = _followup(acknowledged_at=NOW, acknowledged_by=OWNER)
    assert quiet_reason(acked, today=AS_OF + timedelta(days=60), **args) is None
    snoozed = _followup(snoozed_until=NOW + timedelta(days=7), snoozed_days=7)
    assert quiet_reason(snoozed, today=AS_OF + timedelta(days=6), **args) is None
    ended = quiet_reason(
        snoozed, today=AS_OF + timedelta(days=7), since_last=7, quiet_days=14, level=level
    )
    assert ended is not None
    assert "snooze has ended" in ended


def test_an_acknowledged_account_is_realerted_only_when_it_gets_worse(session: Session) -> None:
    acme = customer(session, name="Acme")
    overdue(session, acme)
    assert acme.id is not None
    report = account_report(session, account_id=acme.id, as_of=AS_OF, config=CONFIG)
    alert = posted_alert(session, acme, day=AS_OF - timedelta(days=30))
    alert.level, alert.band = report.churn.level.value, report.health.band.value
    alert.triggers = sorted(t.key for t in report.churn.triggers)
    acked = _followup(acknowledged_at=NOW, acknowledged_by=OWNER)
    kwargs = {"today": AS_OF, "quiet_days": 14}
    assert churn_alert_reason(report, alert, **kwargs) is not None  # quiet period over
    assert churn_alert_reason(report, alert, followup=acked, **kwargs) is None
    alert.triggers = []  # the last alert knew fewer triggers: today is worse
    assert churn_alert_reason(report, alert, followup=acked, **kwargs) is not None


# -- outcomes and stats ---------------------------------------------------------------------


def _contract(start_days: int, end_days: int, status: str = "active") -> Contract:
    return Contract(
        external_id="c",
        account_id=1,
        start_date=AS_OF + timedelta(days=start_days),
        end_date=AS_OF + timedelta(days=end_days),
        status=status,
    )


def test_outcome_after_an_alert() -> None:
    current = _contract(-300, 60)
    later = AS_OF + timedelta(days=120)
    assert outcome_after([current], alerted_on=AS_OF, today=AS_OF) is None  # not known yet
    churned = outcome_after([current], alerted_on=AS_OF, today=later)
    assert churned == (AlertOutcome.CHURNED, AS_OF + timedelta(days=60))
    renewal = _contract(61, 426)
    renewed = outcome_after([current, renewal], alerted_on=AS_OF, today=later)
    assert renewed == (AlertOutcome.RENEWED, AS_OF + timedelta(days=61))
    marked = outcome_after([_contract(-300, 60, "renewed")], alerted_on=AS_OF, today=AS_OF)
    assert marked is not None
    assert marked[0] == AlertOutcome.RENEWED


def test_stats_precision_counts_churned_and_saved_accounts(session: Session) -> None:
    saved, lost, ignored, pending = (customer(session, name=n) for n in ("Sa", "Lo", "Ig", "Pe"))
    alerts = {a.name: posted_alert(session, a) for a in (saved, lost, ignored, pending)}
    for account in (saved, ignored):  # both renew 40 days after the alert
        make_contract(
            session,
            account=account,
            start=AS_OF + timedelta(days=40),
            end=AS_OF + timedelta(days=400),
        )
    for contract in session.exec(select(Contract).where(Contract.account_id == lost.id)).all():
        contract.end_date, contract.status = AS_OF + timedelta(days=20), "churned"
        session.add(contract)
    saved_id = alerts["Sa"].id
    assert saved_id is not None
    alert_actions.acknowledge(
        session, alert_id=saved_id, actor=OWNER, now=NOW + timedelta(hours=2), key="k"
    )
    later = AS_OF + timedelta(days=60)
    assert record_outcomes(session, today=later, now=at(later)) == 3
    assert record_outcomes(session, today=later, now=at(later)) == 0  # stored once
    stats = alert_stats(session, until=later)
    assert (stats.alerts, stats.accounts, stats.acted) == (4, 4, 1)
    assert (stats.churned, stats.saved, stats.renewed_without_action, stats.pending) == (1, 1, 1, 1)
    assert stats.precision == pytest.approx(2 / 3, abs=1e-3)
    assert stats.median_hours_to_first_action == pytest.approx(5.0)  # posted 07:00, acted 12:00
