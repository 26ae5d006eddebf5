"""Who receives which churn alerts: subscriptions kept in the database, not JSON in an env var.

``ALERT_ROUTES`` / ``ALERTS_CHANNEL`` stay the channel default: every churn alert is posted
there unless its owner chose otherwise. A person subscribes to

- ``mine``: the alerts of the accounts they own, by ``dm`` (the alert comes to their DM
  instead of the channel) or ``channel`` (it stays in the routed channel: the default);
- ``segment:<name>`` or ``all``: a DM copy of every alert of that segment, or of every alert.

``alert_route`` turns this into where one alert goes: one primary destination (channel or the
owner's DM, which is where the buttons act) and the people who get a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.models import Account
from tools.models_followup import AlertSubscription, Delivery

MINE = "mine"
ALL = "all"
SEGMENT_PREFIX = "segment:"


class SubscriptionError(ValueError):
    """A subscription that cannot be made (unknown scope or segment, bad delivery)."""


class SubscriptionView(BaseModel):
    """One subscription."""

    user_id: str
    scope: str
    delivery: str


class AlertRoute(BaseModel):
    """Where one churn alert goes: ``dm_user`` set means the owner's DM instead of ``channel``."""

    channel: str
    dm_user: str | None = None
    copies: list[str] = []


def segments(session: Session) -> list[str]:
    """The segments accounts belong to (lower-case), for validation and for App Home."""
    stmt = select(func.lower(col(Account.segment))).distinct()
    return sorted(str(s) for s in session.execute(stmt).scalars() if s)


def parse_scope(session: Session, text: str) -> str:
    """``mine``, ``all`` or ``segment:<name>`` (a segment some account is in)."""
    word = " ".join(text.strip().lower().split())
    if word in (MINE, ALL):
        return word
    if word.startswith(SEGMENT_PREFIX):
        name = word[len(SEGMENT_PREFIX) :].strip()
        known = segments(session)
        if name not in known:
            listed = ", ".join(known) or "none yet"
            raise SubscriptionError(f"no segment called “{name}” (segments: {listed})")
        return SEGMENT_PREFIX + name
    raise SubscriptionError("subscribe to `mine`, `segment:<name>` or `all`")


def parse_delivery(text: str | None, *, scope: str) -> str:
    """``dm`` or ``channel``; ``channel`` is only for ``mine`` (the routed channel is shared)."""
    if not text:
        return Delivery.DM.value
    word = text.strip().lower()
    if word not in (Delivery.DM.value, Delivery.CHANNEL.value):
        raise SubscriptionError("deliver by `dm` or `channel`")
    if word == Delivery.CHANNEL.value and scope != MINE:
        raise SubscriptionError(
            "only `mine` can be delivered to the channel; the alerts channel already gets every "
            "alert (ALERT_ROUTES)"
        )
    return word


def subscribe(
    session: Session, *, user_id: str, scope: str, delivery: str, now: datetime
) -> tuple[SubscriptionView, bool]:
    """Store (or update) a subscription; True when it changed anything. Flushes."""
    stmt = select(AlertSubscription).where(
        col(AlertSubscription.user_id) == user_id, col(AlertSubscription.scope) == scope
    )
    row = session.execute(stmt).scalars().first()
    if row is not None:
        changed = row.delivery != delivery
        row.delivery = delivery
        session.add(row)
        session.flush()
        return _view(row), changed
    row = AlertSubscription(user_id=user_id[:64], scope=scope, delivery=delivery, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent identical request stored it first
        return SubscriptionView(user_id=user_id, scope=scope, delivery=delivery), False
    return _view(row), True


def unsubscribe(session: Session, *, user_id: str, scope: str) -> bool:
    """Remove a subscription; False when there was none."""
    result = session.execute(
        delete(AlertSubscription).where(
            col(AlertSubscription.user_id) == user_id, col(AlertSubscription.scope) == scope
        )
    )
    return int(getattr(result, "rowcount", 0) or 0) > 0


def subscriptions_of(session: Session, *, user_id: str) -> list[SubscriptionView]:
    """``user_id``'s subscriptions, by scope."""
    stmt = (
        select(AlertSubscription)
        .where(col(AlertSubscription.user_id) == user_id)
        .order_by(col(AlertSubscription.scope))
    )
    return [_view(row) for row in session.execute(stmt).scalars()]


def _view(row: AlertSubscription) -> SubscriptionView:
    return SubscriptionView(user_id=row.user_id, scope=row.scope, delivery=row.delivery)


def alert_route(
    session: Session, *, channel: str, owner_slack_id: str | None, segment: str | None
) -> AlertRoute:
    """Where a churn alert goes, given its routed ``channel`` (ALERT_ROUTES / ALERTS_CHANNEL)."""
    scopes: list[str] = [ALL]
    if segment:
        scopes.append(SEGMENT_PREFIX + segment.lower())
    wanted = select(AlertSubscription).where(
        col(AlertSubscription.scope).in_([*scopes, MINE]),
    )
    rows = list(session.execute(wanted).scalars())
    dm_owner = owner_slack_id is not None and any(
        r.scope == MINE and r.user_id == owner_slack_id and r.delivery == Delivery.DM.value
        for r in rows
    )
    copies = _copies(rows, scopes, skip=owner_slack_id if dm_owner else None)
    return AlertRoute(channel=channel, dm_user=owner_slack_id if dm_owner else None, copies=copies)


def _copies(rows: Sequence[AlertSubscription], scopes: list[str], *, skip: str | None) -> list[str]:
    users = {r.user_id for r in rows if r.scope in scopes and r.user_id != skip}
    return sorted(users)
