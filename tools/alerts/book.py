"""The book messages: one DM per owner a day instead of one message per item.

The first daily scan an owner sees (a new database, a new owner, or the first run after
``catch_up_days`` without one) sends a "state of your book": their at-risk accounts (including
the ones that were already at risk before alerting began, which no churn alert announces), their
renewals inside 90 days with QBR drafts ready, their top expansion proposals. Every later day
sends at most one "your book today" with that day's QBR-due and proposal items and the churn
alerts over the per-owner cap. Churn alerts within the cap stay individual in the channel.

An item a book carries (a capped churn alert, a T-90 QBR, a proposal) is claimed ``held`` with
its book (its payload's ``via`` names the book's key) and follows the book's fate
(``settle_items``): posted once the book is, released once the book has failed for good (so the
next run gathers it again), left held while the book is still being retried (so no other
message announces it meanwhile).

No Slack here: ``bot.jobs.book`` renders and delivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from tools.alerts.ledger import AlertClaim, alert_key
from tools.alerts.policy import UNOWNED as UNOWNED  # the book's recipient keys and order
from tools.alerts.policy import ChurnDecision
from tools.alerts.policy import owner_of as owner_of
from tools.alerts.policy import severity as severity
from tools.models import Alert, AlertKind, AlertStatus

Mode = Literal["state", "today"]


@dataclass(frozen=True)
class CappedAlerts:
    """Today's churn alerts split by the per-owner cap."""

    channel: list[ChurnDecision]
    """Posted individually in the channel (at most ``cap`` per owner)."""
    overflow: list[ChurnDecision]
    """Over the cap: listed in the owner's book DM instead."""


def cap_per_owner(decisions: Iterable[ChurnDecision], *, cap: int) -> CappedAlerts:
    """The most severe ``cap`` alerts per owner stay in the channel; the rest overflow."""
    per_owner: dict[str, int] = {}
    channel: list[ChurnDecision] = []
    overflow: list[ChurnDecision] = []
    for decision in sorted(decisions, key=lambda d: severity(d.report)):
        owner = owner_of(decision.report)
        if per_owner.get(owner, 0) < cap:
            per_owner[owner] = per_owner.get(owner, 0) + 1
            channel.append(decision)
        else:
            overflow.append(decision)
    return CappedAlerts(channel=channel, overflow=overflow)


def last_run_day(session: Session, *, before: date) -> date | None:
    """The last day before ``before`` on which the daily scan delivered (its marker)."""
    stmt = select(func.max(col(Alert.period))).where(
        col(Alert.kind) == AlertKind.DAILY_RUN.value, col(Alert.period) < before.isoformat()
    )
    value = session.execute(stmt).scalar_one_or_none()
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def owners_with_a_state(session: Session) -> set[str]:
    """Recipients who already got a "state of your book" (claimed or posted)."""
    stmt = select(col(Alert.period)).where(
        col(Alert.kind) == AlertKind.BOOK_STATE.value,
        col(Alert.status).in_([AlertStatus.CLAIMED.value, AlertStatus.POSTED.value]),
    )
    return {str(p).partition(":")[2] for p in session.execute(stmt).scalars()}


def modes(
    session: Session, *, owners: Sequence[str], today: date, catch_up_days: int
) -> dict[str, Mode]:
    """ "state" for every owner after a downtime (or on the first run), and for an owner who never
    had one; "today" otherwise."""
    last = last_run_day(session, before=today)
    if last is None or (today - last).days > catch_up_days:
        return dict.fromkeys(owners, "state")
    seen = owners_with_a_state(session)
    return {o: "state" if o not in seen else "today" for o in owners}


def book_claim(mode: Mode, *, owner: str, today: date, payload: dict[str, object]) -> AlertClaim:
    """The claim of one owner's book message for ``today``."""
    kind = AlertKind.BOOK_STATE if mode == "state" else AlertKind.BOOK_TODAY
    return AlertClaim(kind=kind, account_id=None, period=f"{today}:{owner}", payload=payload)


def run_marker(today: date) -> AlertClaim:
    """The marker that the daily scan delivered on ``today``."""
    return AlertClaim(
        kind=AlertKind.DAILY_RUN, account_id=None, period=today.isoformat(), payload={}
    )


RELEASED_ERROR = "its book message was not delivered"


@dataclass(frozen=True)
class Settled:
    """What ``settle_items`` did to the held items."""

    posted: int = 0
    released: int = 0


def settle_items(session: Session, *, now: datetime) -> Settled:
    """Held items follow their book: posted with it, released when it failed (or vanished).

    A released item is marked failed under a new key (``<key>#released-<id>``), so its own key
    is free again: the next run gathers it once more (a failed churn alert is no baseline, a
    QBR draft not announced is still due, ``released_proposals`` finds the proposal). Items of
    a book still being retried stay held. Idempotent; commits.
    """
    held = list(
        session.execute(select(Alert).where(col(Alert.status) == AlertStatus.HELD.value))
        .scalars()
        .all()
    )
    if not held:
        return Settled()
    vias = sorted({str(a.payload.get("via", "")) for a in held})
    books = {
        b.key: (b.status, b.posted_at)
        for b in session.execute(select(Alert).where(col(Alert.key).in_(vias))).scalars()
    }
    posted = released = 0
    for item in held:
        status, posted_at = books.get(str(item.payload.get("via", "")), (None, None))
        mine = update(Alert).where(
            col(Alert.id) == item.id, col(Alert.status) == AlertStatus.HELD.value
        )
        if status == AlertStatus.POSTED.value:
            session.execute(
                mine.values(status=AlertStatus.POSTED.value, posted_at=posted_at or now)
            )
            posted += 1
        elif status is None or status == AlertStatus.FAILED.value:
            suffix = f"#released-{item.id}"
            session.execute(
                mine.values(
                    key=item.key[: 255 - len(suffix)] + suffix,
                    status=AlertStatus.FAILED.value,
                    last_error=RELEASED_ERROR,
                )
            )
            released += 1
    session.commit()
    return Settled(posted=posted, released=released)


def released_proposals(session: Session) -> set[int]:
    """Hand-off ids whose proposal item was released (its book failed) and not claimed since."""
    stmt = select(col(Alert.account_id), col(Alert.period)).where(
        col(Alert.kind) == AlertKind.HANDOFF_PROPOSAL.value,
        col(Alert.status) == AlertStatus.FAILED.value,
        col(Alert.last_error) == RELEASED_ERROR,
    )
    found = {
        alert_key(AlertKind.HANDOFF_PROPOSAL, int(a), str(p)): str(p)
        for a, p in session.execute(stmt).all()
        if a is not None
    }
    if not found:
        return set()
    live = set(
        session.execute(select(col(Alert.key)).where(col(Alert.key).in_(sorted(found)))).scalars()
    )
    return {
        int(period.removeprefix("handoff-"))
        for key, period in found.items()
        if key not in live and period.removeprefix("handoff-").isdigit()
    }
