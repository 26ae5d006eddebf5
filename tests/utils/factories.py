"""Small typed factories for tests: each adds one row (or a run of usage days) and flushes.

Every factory takes keyword arguments only, fills sensible defaults, and returns the model with its
id set. Dates are explicit so that tests control the clock.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlmodel import Session

from tools.models import (
    Account,
    Contact,
    Contract,
    Feature,
    FeatureUsage,
    Interaction,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
)

_ids = itertools.count(1)


def _ext(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def at(day: date, hour: int = 12) -> datetime:
    """A UTC timestamp on ``day``."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def make_account(
    session: Session,
    *,
    name: str | None = None,
    external_id: str | None = None,
    owner_slack_id: str | None = None,
    tam_health: int | None = None,
    segment: str = "mid-market",
) -> Account:
    ext = external_id or _ext("acct")
    account = Account(
        external_id=ext,
        name=name or ext.title(),
        owner_slack_id=owner_slack_id,
        tam_health=tam_health,
        segment=segment,
    )
    session.add(account)
    session.flush()
    return account


def make_contract(
    session: Session,
    *,
    account: Account,
    start: date,
    end: date,
    arr: Decimal | int = 100_000,
    seats: int = 100,
    plan: str = "pro",
    auto_renew: bool = False,
) -> Contract:
    assert account.id is not None
    contract = Contract(
        external_id=_ext("ctr"),
        account_id=account.id,
        start_date=start,
        end_date=end,
        arr=Decimal(arr),
        seats_purchased=seats,
        plan=plan,
        auto_renew=auto_renew,
    )
    session.add(contract)
    session.flush()
    return contract


def add_usage(
    session: Session,
    *,
    account: Account,
    start: date,
    days: int,
    logins: int = 100,
    active_users: int = 50,
) -> None:
    """One UsageDaily row per day for ``days`` days from ``start`` (bulk insert)."""
    assert account.id is not None
    rows = [
        {
            "account_id": account.id,
            "day": start + timedelta(days=k),
            "logins": logins,
            "active_users": active_users,
        }
        for k in range(days)
    ]
    if rows:
        session.execute(insert(UsageDaily), rows)


def make_feature(session: Session, *, key: str | None = None, tier: str = "starter") -> Feature:
    feature = Feature(key=key or _ext("feat"), name=key or "Feature", tier=tier)
    session.add(feature)
    session.flush()
    return feature


def add_feature_usage(
    session: Session, *, account: Account, feature: Feature, day: date, users: int = 5
) -> None:
    assert account.id is not None
    assert feature.id is not None
    session.add(
        FeatureUsage(
            account_id=account.id, feature_id=feature.id, day=day, users=users, events=users * 10
        )
    )
    session.flush()


def make_ticket(
    session: Session,
    *,
    account: Account,
    opened: date,
    closed: date | None = None,
    escalated: bool = False,
    sentiment: float | None = None,
    priority: str = "normal",
    subject: str = "Help",
) -> Ticket:
    assert account.id is not None
    ticket = Ticket(
        external_id=_ext("tkt"),
        account_id=account.id,
        subject=subject,
        priority=priority,
        status="closed" if closed else "open",
        sentiment=sentiment,
        escalated=escalated,
        opened_at=at(opened, 9),
        closed_at=at(closed, 17) if closed else None,
    )
    session.add(ticket)
    session.flush()
    return ticket


def make_contact(
    session: Session,
    *,
    account: Account,
    name: str = "Jane Doe",
    role: str = "champion",
    left_on: date | None = None,
    last_engaged: date | None = None,
) -> Contact:
    assert account.id is not None
    contact = Contact(
        external_id=_ext("ctc"),
        account_id=account.id,
        name=name,
        role=role,
        left_on=left_on,
        last_engaged_at=at(last_engaged) if last_engaged else None,
    )
    session.add(contact)
    session.flush()
    return contact


def make_invoice(
    session: Session,
    *,
    account: Account,
    issued: date,
    due: date,
    amount: Decimal | int = 10_000,
    paid: date | None = None,
    status: str | None = None,
) -> Invoice:
    assert account.id is not None
    invoice = Invoice(
        external_id=_ext("inv"),
        account_id=account.id,
        issued_on=issued,
        due_on=due,
        paid_on=paid,
        amount=Decimal(amount),
        status=status or ("paid" if paid else "open"),
    )
    session.add(invoice)
    session.flush()
    return invoice


def make_nps(
    session: Session,
    *,
    account: Account,
    day: date,
    score: int,
    kind: str = "nps",
    comment: str = "",
) -> NpsResponse:
    assert account.id is not None
    response = NpsResponse(
        external_id=_ext("nps"),
        account_id=account.id,
        kind=kind,
        score=score,
        comment=comment,
        responded_at=at(day),
    )
    session.add(response)
    session.flush()
    return response


def make_interaction(
    session: Session,
    *,
    account: Account,
    day: date,
    contact: Contact | None = None,
    meaningful: bool = True,
    kind: str = "meeting",
    summary: str = "",
) -> Interaction:
    assert account.id is not None
    interaction = Interaction(
        external_id=_ext("int"),
        account_id=account.id,
        contact_id=contact.id if contact else None,
        kind=kind,
        occurred_at=at(day),
        meaningful=meaningful,
        summary=summary,
    )
    session.add(interaction)
    session.flush()
    return interaction
