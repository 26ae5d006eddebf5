"""A small book for alert follow-up tests: steady customers, one problem each, posted alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from tests.utils.factories import (
    add_usage,
    make_account,
    make_contact,
    make_contract,
    make_interaction,
    make_invoice,
)
from tools.models import Account, Alert, AlertKind, AlertStatus

AS_OF = date(2026, 3, 2)
OWNER = "U0CSM001"
OTHER = "U0CSM002"
LEAD = "U0LEAD001"


def at(day: date, hour: int = 7) -> datetime:
    """A UTC time on ``day``."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def customer(
    session: Session,
    *,
    name: str,
    owner: str | None = OWNER,
    segment: str = "mid-market",
    champion: str = "Jo Champion",
    last_touch_days: int = 0,
    renewal_in: int = 200,
    champion_engaged: date | None = None,
) -> Account:
    """An active, steadily used account; nothing fires until a test adds a problem.

    Its champion was last met ``last_touch_days`` before ``AS_OF`` (then weekly before that).
    """
    account = make_account(
        session, name=name, external_id=name.lower(), owner_slack_id=owner, segment=segment
    )
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=400),
        end=AS_OF + timedelta(days=renewal_in),
        arr=120_000,
    )
    add_usage(
        session,
        account=account,
        start=AS_OF - timedelta(days=90),
        days=150,
        logins=50,
        active_users=40,
    )
    contact = make_contact(session, account=account, name=champion, last_engaged=champion_engaged)
    for k in range(last_touch_days, last_touch_days + 60, 7):
        make_interaction(session, account=account, day=AS_OF - timedelta(days=k), contact=contact)
    return account


def overdue(session: Session, account: Account) -> None:
    """An invoice 20 days overdue: the account is at churn risk."""
    make_invoice(
        session,
        account=account,
        issued=AS_OF - timedelta(days=50),
        due=AS_OF - timedelta(days=20),
        amount=30_000,
    )


def posted_alert(
    session: Session, account: Account, *, day: date = AS_OF, channel: str = "C0ALERTS"
) -> Alert:
    """A churn alert already posted for ``account`` on ``day``."""
    assert account.id is not None
    alert = Alert(
        key=f"{AlertKind.CHURN.value}:{account.id}:{day.isoformat()}",
        kind=AlertKind.CHURN.value,
        account_id=account.id,
        period=day.isoformat(),
        status=AlertStatus.POSTED.value,
        level="medium",
        band="AMBER",
        triggers=["overdue_invoice"],
        payload={"text": f"Churn risk: {account.name}", "blocks": [], "reason": "overdue"},
        channel=channel,
        message_ts="1700000000.000100",
        claimed_by="test",
        claimed_at=at(day),
        posted_at=at(day),
        attempts=1,
    )
    session.add(alert)
    session.flush()
    return alert
