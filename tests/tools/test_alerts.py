"""Alert claims, churn-alert decisions, routing, periods and T-90 due dates (no Slack)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from tests.utils.factories import add_usage, make_account, make_contract, make_invoice
from tools.alerts import (
    AlertClaim,
    ChurnState,
    alert_key,
    churn_alert_reason,
    churn_playbook,
    claim_alert,
    contracts_due_for_t90,
    iso_week_of,
    latest_alerts,
    mark_posted,
    outreach_email,
    quarter_of,
    record_failure,
    route_channel,
    stale_claims,
    take_over,
    template_narrative,
)
from tools.models import Account, Alert, AlertKind, AlertStatus
from tools.results import AccountReport, Band, RiskLevel, Severity, TriggerHit
from tools.scoring import account_report
from tools.scoring_config import load_config

AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 7, tzinfo=UTC)
CONFIG = load_config()


def claim(account_id: int | None = None, period: str = "2026-03-02") -> AlertClaim:
    return AlertClaim(
        kind=AlertKind.CHURN, account_id=account_id, period=period, payload={"text": "hi"}
    )


def test_keys_and_periods() -> None:
    assert alert_key(AlertKind.CHURN, 17, "2026-11-21") == "churn_alert:17:2026-11-21"
    assert alert_key(AlertKind.DIGEST, None, "2026-W47") == "digest:-:2026-W47"
    assert quarter_of(date(2026, 3, 31)) == "2026-Q1"
    assert quarter_of(date(2026, 4, 1)) == "2026-Q2"
    assert quarter_of(date(2026, 12, 31)) == "2026-Q4"
    assert iso_week_of(date(2026, 11, 21)) == "2026-W47"
    assert iso_week_of(date(2027, 1, 1)) == "2026-W53"  # ISO years differ from calendar years


def test_a_key_is_claimed_once(session: Session) -> None:
    account = make_account(session)
    session.commit()

    first = claim_alert(session, claim=claim(account.id), claimed_by="a", now=NOW)
    session.commit()
    second = claim_alert(session, claim=claim(account.id), claimed_by="b", now=NOW)
    session.commit()
    digest = AlertClaim(kind=AlertKind.DIGEST, account_id=None, period="2026-W10", payload={})
    third = claim_alert(session, claim=digest, claimed_by="a", now=NOW)
    fourth = claim_alert(session, claim=digest, claimed_by="b", now=NOW)  # NULL account: still once
    session.commit()

    assert first is not None
    assert third is not None
    assert second is None
    assert fourth is None
    rows = session.exec(select(Alert)).all()
    assert len(rows) == 2
    assert {r.claimed_by for r in rows} == {"a"}


def test_mark_posted_only_once_and_only_by_the_owner(session: Session) -> None:
    alert_id = claim_alert(session, claim=claim(), claimed_by="a", now=NOW)
    session.commit()
    assert alert_id is not None

    assert mark_posted(session, alert_id=alert_id, claimed_by="b", now=NOW) is False
    assert mark_posted(session, alert_id=alert_id, claimed_by="a", now=NOW) is True
    assert mark_posted(session, alert_id=alert_id, claimed_by="a", now=NOW) is False


def test_stale_claims_are_taken_over_by_one_worker_after_the_lease(session: Session) -> None:
    alert_id = claim_alert(session, claim=claim(), claimed_by="crashed", now=NOW)
    session.commit()
    assert alert_id is not None

    assert stale_claims(session, now=NOW + timedelta(minutes=5)) == []
    later = NOW + timedelta(hours=1)
    assert [a.id for a in stale_claims(session, now=later)] == [alert_id]
    assert take_over(session, alert_id=alert_id, claimed_by="b", now=later) is True
    assert take_over(session, alert_id=alert_id, claimed_by="c", now=later) is False
    assert stale_claims(session, now=later) == []
    session.expire_all()
    row = session.get(Alert, alert_id)
    assert row is not None
    assert row.claimed_by == "b"
    assert row.attempts == 2
    assert stale_claims(session, now=NOW + timedelta(days=4)) == []  # too old to be news


def test_transient_failures_retry_until_the_attempts_run_out(session: Session) -> None:
    alert_id = claim_alert(session, claim=claim(), claimed_by="a", now=NOW)
    session.commit()
    assert alert_id is not None

    assert record_failure(session, alert_id=alert_id, error="ratelimited", permanent=False) == (
        AlertStatus.CLAIMED.value
    )
    assert (
        record_failure(
            session, alert_id=alert_id, error="ratelimited", permanent=False, max_attempts=1
        )
        == AlertStatus.FAILED.value
    )


def test_latest_alerts_per_account(session: Session) -> None:
    a, b = make_account(session), make_account(session)
    session.commit()
    for account, period in ((a, "2026-03-01"), (a, "2026-03-02"), (b, "2026-03-01")):
        claim_alert(session, claim=claim(account.id, period), claimed_by="x", now=NOW)
    session.commit()
    assert a.id is not None
    assert b.id is not None

    latest = latest_alerts(session, kind=AlertKind.CHURN)

    assert {k: v.period for k, v in latest.items()} == {a.id: "2026-03-02", b.id: "2026-03-01"}
    assert latest_alerts(session, kind=AlertKind.QBR_T90) == {}


# -- churn alert decisions -------------------------------------------------------------------


def risky_report(session: Session) -> AccountReport:
    account = make_account(session, name="Acme", owner_slack_id="U0CSM001")
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=400),
        end=AS_OF + timedelta(days=200),
        arr=120_000,
    )
    add_usage(session, account=account, start=AS_OF - timedelta(days=90), days=91, logins=50)
    make_invoice(
        session, account=account, issued=AS_OF - timedelta(days=50), due=AS_OF - timedelta(days=20)
    )
    session.commit()
    assert account.id is not None
    return account_report(session, account_id=account.id, as_of=AS_OF, config=CONFIG)


def previous(
    report: AccountReport, *, days_ago: int, level: str, band: str, triggers: list[str]
) -> Alert:
    return Alert(
        key="x",
        kind=AlertKind.CHURN.value,
        account_id=report.account.account_id,
        period=(AS_OF - timedelta(days=days_ago)).isoformat(),
        level=level,
        band=band,
        triggers=triggers,
    )


def test_churn_alert_reasons(session: Session) -> None:
    report = risky_report(session)
    assert report.churn.level == RiskLevel.MEDIUM
    band = report.health.band.value

    def same(days_ago: int) -> Alert:
        return previous(
            report, days_ago=days_ago, level="medium", band=band, triggers=["overdue_invoice"]
        )

    def reason(alert: Alert | None, quiet: int = 14) -> str | None:
        return churn_alert_reason(report, alert, today=AS_OF, quiet_days=quiet)

    assert reason(None) == "newly at medium churn risk (Overdue invoice)"
    calm = ChurnState(level="low", band="GREEN")
    as_before = ChurnState(level="medium", band=band, triggers=frozenset({"overdue_invoice"}))
    assert churn_alert_reason(report, None, today=AS_OF, quiet_days=14, previous=as_before) is None
    assert churn_alert_reason(report, None, today=AS_OF, quiet_days=14, previous=calm) == (
        "churn risk rose from low to medium; new: Overdue invoice"
    )
    assert reason(same(1)) is None
    assert reason(same(13)) is None
    assert reason(same(14)) == ("still at medium churn risk 14 days after the last alert")
    lower = previous(report, days_ago=1, level="low", band="GREEN", triggers=[])
    assert reason(lower) == "churn risk rose from low to medium; new: Overdue invoice"
    worse = report.model_copy(deep=True)
    worse.health.band = Band.RED
    worse.churn.triggers.append(
        TriggerHit(
            key="champion_left",
            kind="behavioural",
            label="Champion left",
            evidence="",
            severity=Severity.HIGH,
        )
    )
    reasons = churn_alert_reason(
        worse,
        same(1),
        today=AS_OF,
        quiet_days=14,
    )
    assert reasons == f"health band fell from {report.health.band.value} to RED; new: Champion left"
    healthy = report.model_copy(deep=True)
    healthy.churn.level = RiskLevel.LOW
    healthy.churn.triggers = []
    healthy.health.band = Band.GREEN
    assert churn_alert_reason(healthy, None, today=AS_OF, quiet_days=14) is None


def test_alert_content_is_built_from_the_report(session: Session) -> None:
    report = risky_report(session)

    narrative = template_narrative(report, as_of=AS_OF)
    email = outreach_email(report, as_of=AS_OF)

    assert "Acme is at medium churn risk" in narrative
    assert "overdue" in narrative
    assert "2026-09-18" in narrative
    assert churn_playbook(report).key == "renewal_save"
    assert "Acme" in email.subject
    assert "open invoice" in email.body


def test_route_channel_owner_beats_segment() -> None:
    routes = {"segment:enterprise": "#ent", "owner:U1": "#team-1"}
    assert (
        route_channel(routes, default="#a", segment="enterprise", owner_slack_id="U1") == "#team-1"
    )
    assert route_channel(routes, default="#a", segment="enterprise", owner_slack_id="U2") == "#ent"
    assert route_channel(routes, default="#a", segment="smb", owner_slack_id=None) == "#a"


# -- T-90 ------------------------------------------------------------------------------------


def contract(session: Session, account: Account, *, ends_in: int, status: str = "active") -> None:
    made = make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=300),
        end=AS_OF + timedelta(days=ends_in),
    )
    made.status = status
    session.add(made)
    session.flush()


@pytest.mark.parametrize(
    ("ends_in", "status", "due"),
    [
        (91, "active", False),  # T-91
        (90, "active", True),  # T-90 exactly
        (30, "active", True),  # imported late, after its T-90 date
        (0, "active", True),  # ends today: not ended yet
        (-1, "active", False),  # ended
        # Contract.status is never read: a contract in force by its dates is due (the metric
        # layer's one definition, as /health's renewal and App Home's renewals count it).
        (45, "churned", True),
    ],
)
def test_contracts_due_for_t90(session: Session, ends_in: int, status: str, due: bool) -> None:
    account = make_account(session)
    contract(session, account, ends_in=ends_in, status=status)
    session.commit()

    found = contracts_due_for_t90(session, today=AS_OF)

    assert bool(found) is due
