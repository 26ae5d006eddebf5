"""People facts as of some days: contacts, the champion, the last meaningful interaction.

A contact whose ``left_on`` is D or later is still there. Recency facts count through the end
of D (a call logged today shows at once; they are not rates or trends): the last meaningful
interaction and a champion's last engagement. "Days since" are counted from D.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlmodel import col

from tools.facts.extract.arrays import (
    FloatArray,
    IntArray,
    days_since,
    nan_array,
    positions,
    scatter_or,
    sum_by_account,
)
from tools.facts.extract.sql import Reader, Scope, count_if, end_of, fetch, statement
from tools.models import Contact, ContactRole, Interaction


def _latest_by(column: Any, day: date, *also: Any, only_day: bool = False) -> Any:
    """``MAX(column)`` over the rows up to the end of ``day`` (and meeting ``also``); plain
    ``MAX`` when ``only_day`` (the statement reads no later rows, nor others)."""
    if only_day:
        return func.max(column)
    return func.max(case((and_(column < end_of(day), *also), column), else_=None))


def people(
    session: Reader, scope: Scope, ids: IntArray, days: Sequence[date]
) -> tuple[list[dict[str, Any]], list[FloatArray]]:
    """Per day: contacts present and known, the champion (present, engaged days, name; the
    latest to leave, when none is present); and days since the last meaningful interaction
    (NaN when there was none). Two statements for a few accounts (contacts, interactions) for
    every day; four for the portfolio."""

    contact_rows = _contact_rows(session, scope, days)
    width = len(days) + 1
    summed = [sum_by_account(ids, [(r[0], r[5 + k]) for r in contact_rows]) for k in range(width)]
    champ_rows = [(r[1], r[0], r[2], r[3], r[4]) for r in contact_rows if r[1] is not None]
    touch_rows = _interaction_rows(session, scope, days)
    n_days = len(days)
    contacts_by_day, since_by_day = [], []
    for k, as_of in enumerate(days):
        last_touch: dict[int, datetime] = {}
        latest: dict[int, Any] = {}
        for row in touch_rows:
            account_id, champion = row[0], row[1]
            meaningful, touched = row[2 + k], row[2 + n_days + k]
            if meaningful is not None:
                latest[account_id] = max(meaningful, latest.get(account_id, meaningful))
            if champion is not None and touched is not None:
                last_touch[champion] = max(touched, last_touch.get(champion, touched))
        day = _champions(ids, champ_rows, last_touch, as_of)
        day["contacts"], day["contacts_known"] = summed[k], summed[-1]
        contacts_by_day.append(day)
        since = [(a, days_since(as_of, when)) for a, when in latest.items()]
        since_by_day.append(scatter_or(ids, sorted(since), np.nan, 1)[0])
    return contacts_by_day, since_by_day


def _champion_of_contact() -> Any:
    """The contact's id when it is a champion, else NULL."""
    return case((col(Contact.role) == ContactRole.CHAMPION.value, col(Contact.id)), else_=None)


def _contact_rows(session: Reader, scope: Scope, days: Sequence[date]) -> list[Any]:
    """Rows ``(account_id, champion or None, name, left_on, last_engaged_at, contacts present
    per day..., contacts)``: one per champion, and one for the account's other contacts.

    A few accounts: one statement. The portfolio: the counts per account and the champions as
    two plain statements (cheaper than grouping every contact by account and champion).
    """
    account = col(Contact.account_id)
    key = (tuple(days), scope.kind)

    def present() -> list[Any]:
        left_on = col(Contact.left_on)
        return [count_if(or_(left_on.is_(None), left_on >= d)) for d in days]

    details = (Contact.name, Contact.left_on, Contact.last_engaged_at)
    if scope.scoped:

        def build() -> Any:
            champion = _champion_of_contact().label("champion")
            grouped = [func.max(col(c)) for c in details]
            stmt = select(account, champion, *grouped, *present(), func.count())
            stmt = scope.where(stmt.group_by(account, champion), account)
            return stmt.order_by(account, champion)

        return list(fetch(session, statement(("contacts", *key), build), scope))

    def build_counts() -> Any:
        return scope.where(select(account, *present(), func.count()).group_by(account), account)

    def build_champions() -> Any:
        champions = select(account, col(Contact.id), *[col(c) for c in details]).where(
            col(Contact.role) == ContactRole.CHAMPION.value
        )
        return scope.where(champions, account).order_by(account, col(Contact.id))

    counts = fetch(session, statement(("contact_counts", *key), build_counts), scope)
    champions = fetch(session, statement(("champions", *key), build_champions), scope)
    zeros = (0,) * (len(days) + 1)
    return [(r[0], None, None, None, None, *r[1:]) for r in counts] + [
        (*r, *zeros) for r in champions
    ]


def _interaction_rows(session: Reader, scope: Scope, days: Sequence[date]) -> list[Any]:
    """Rows ``(account_id, champion or None, latest meaningful interaction per day..., latest
    interaction per day...)``, up to the end of each day: one row per account and champion
    (None: anyone else).

    A few accounts: one statement. The portfolio: the latest meaningful interaction of each
    account and the latest interaction of each champion as two statements, each reading only
    its rows (the merged one would join every interaction to its contact).
    """
    occurred, meaningful = col(Interaction.occurred_at), col(Interaction.meaningful)
    account = col(Interaction.account_id)
    key = (tuple(days), scope.kind)
    # Expressions are built inside ``build*`` only: the statements are cached.
    one_day = len(days) == 1

    def until() -> Any:
        return occurred < end_of(max(days))  # recency: today counts

    def latest(*also: Any) -> list[Any]:
        return [_latest_by(occurred, d, *also, only_day=one_day and not also) for d in days]

    if scope.scoped:

        def build() -> Any:
            champion = _champion_of_contact().label("champion")
            stmt = (
                select(account, champion, *latest(meaningful.is_(True)), *latest())
                .select_from(Interaction)
                .outerjoin(Contact, col(Contact.id) == col(Interaction.contact_id))
                .where(until())
                .group_by(account, champion)
            )
            return scope.where(stmt, account)

        return list(fetch(session, statement(("interactions", *key), build), scope))

    def build_meaningful() -> Any:
        stmt = select(account, *latest()).where(until(), meaningful.is_(True)).group_by(account)
        return scope.where(stmt, account)

    def build_touched() -> Any:
        contact = col(Interaction.contact_id)
        stmt = (
            select(account, contact, *latest())
            .join(Contact, col(Contact.id) == contact)
            .where(col(Contact.role) == ContactRole.CHAMPION.value, until())
            .group_by(account, contact)
        )
        return scope.where(stmt, account)

    none = (None,) * len(days)
    rows = [
        (r[0], None, *r[1:], *none)
        for r in fetch(session, statement(("meaningful", *key), build_meaningful), scope)
    ]
    touched = fetch(session, statement(("champion_touches", *key), build_touched), scope)
    return rows + [(r[0], r[1], *none, *r[2:]) for r in touched]


def _champions(
    ids: IntArray, champ_rows: Sequence[Any], last_touch: dict[int, datetime], as_of: date
) -> dict[str, Any]:
    n = len(ids)
    out: dict[str, Any] = {
        "champion_present": np.zeros(n, dtype=np.bool_),
        "champion_engaged_days": nan_array(n),
        "champion_name": [None] * n,
        "champion_left_name": [None] * n,
        "champion_left_days": nan_array(n),
    }
    pos, found = positions(ids, [r[1] for r in champ_rows])
    end = end_of(as_of)  # champion engagement is recency, like interactions
    as_of_ord = as_of.toordinal()
    for row, p, ok in zip(champ_rows, pos.tolist(), found.tolist(), strict=True):
        if not ok:
            continue
        contact_id, _, name, left_on, engaged_at = row
        if left_on is not None and left_on < as_of:
            days = float(as_of_ord - left_on.toordinal())
            previous = out["champion_left_days"][p]
            if np.isnan(previous) or days < previous:
                out["champion_left_days"][p] = days
                out["champion_left_name"][p] = name
            continue
        candidates = [t for t in (engaged_at, last_touch.get(contact_id)) if t is not None]
        candidates = [t for t in candidates if t < end]
        engaged_days = (
            float(as_of_ord - max(candidates).date().toordinal()) if candidates else np.nan
        )
        current = out["champion_engaged_days"][p]
        better = not out["champion_present"][p] or (
            not np.isnan(engaged_days) and (np.isnan(current) or engaged_days < current)
        )
        out["champion_present"][p] = True
        if better:
            out["champion_engaged_days"][p] = engaged_days
            out["champion_name"][p] = name
    return out
