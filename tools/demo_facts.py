"""One-line facts about the demo's named stories (the tour's Stories table).

The numbers a card also shows (seats used, usage trend, tickets, ARR, renewal) come from the
metric layer (``tools.facts.view.AccountFacts``), so the table and the cards agree; the rest
(weekly swings, gaps, API calls) are story-specific descriptions of the generated data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table, func, select
from sqlmodel import Session, SQLModel

from tools import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from tools.demo_catalog import TIERS
from tools.demo_rows import midnight
from tools.facts.view import AccountFacts, account_facts
from tools.scoring_config import load_config
from tools.wording import days_from_now

FactFn = Callable[[Session, int, date], str]


def sql_table(name: str) -> Table:
    """The Core table called ``name`` of the application schema."""
    return SQLModel.metadata.tables[name]


def account_by_external_id(session: Session, external_id: str) -> int | None:
    """The id of the account with ``external_id``, or None."""
    account = sql_table("account")
    query = select(account.c.id).where(account.c.external_id == external_id)
    found = session.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def latest_contract(session: Session, account_id: int) -> Any:
    """The account's contract with the latest end date (a Core row)."""
    contract = sql_table("contract")
    query = (
        select(contract)
        .where(contract.c.account_id == account_id)
        .order_by(contract.c.end_date.desc())
        .limit(1)
    )
    return session.execute(query).one()


def daily_usage(session: Session, account_id: int, since: date, until: date) -> list[Any]:
    """Usage rows (day, active_users, logins) with ``since <= day < until``, oldest first."""
    usage = sql_table("usage_daily")
    query = (
        select(usage.c.day, usage.c.active_users, usage.c.logins)
        .where(usage.c.account_id == account_id, usage.c.day >= since, usage.c.day < until)
        .order_by(usage.c.day)
    )
    return list(session.execute(query).all())


def facts_of(session: Session, account_id: int, today: date) -> AccountFacts:
    """The metric layer's facts of the account (the same the cards show)."""
    return account_facts(session, account_id=account_id, as_of=today, config=load_config())


def seats_used(session: Session, account_id: int, today: date) -> int:
    """Seats used, as on the cards: the metric layer's one definition."""
    return facts_of(session, account_id, today).seats_used


def _trend(facts: AccountFacts) -> str:
    weeks = facts.window_days // 7
    return f"{facts.activity} {facts.trend_text()} vs prior {weeks} weeks"


def renewal_risk_fact(session: Session, account_id: int, today: date) -> str:
    facts = facts_of(session, account_id, today)
    return (
        f"renews {days_from_now(facts.days_to_renewal or 0)}, "
        f"{100 * facts.unused_share:.0f}% of {facts.seats_purchased} seats unused, "
        f"{_trend(facts)}, ARR {facts.arr_text()}"
    )


def champion_left_fact(session: Session, account_id: int, today: date) -> str:
    contact, interaction = sql_table("contact"), sql_table("interaction")
    query = (
        select(contact.c.name, contact.c.left_on)
        .where(
            contact.c.account_id == account_id,
            contact.c.role == "champion",
            contact.c.left_on.is_not(None),
        )
        .order_by(contact.c.left_on.desc())
        .limit(1)
    )
    champion = session.execute(query).first()
    if champion is None:
        return "champion still in place"
    since = session.execute(
        select(func.count()).where(
            interaction.c.account_id == account_id,
            interaction.c.meaningful.is_(True),
            interaction.c.occurred_at >= midnight(champion.left_on),
        )
    ).scalar_one()
    return (
        f"champion {champion.name} left {days_from_now(-(today - champion.left_on).days)}; "
        f"{since} meaningful touchpoints since, {_trend(facts_of(session, account_id, today))}"
    )


def weekly_peaks(session: Session, account_id: int, today: date, weeks: int) -> list[int]:
    """Peak daily active users of each of the last ``weeks`` 7-day periods, oldest first."""
    start = today - timedelta(days=7 * weeks)
    peaks = [0] * weeks
    for r in daily_usage(session, account_id, start, today):
        week = (r.day - start).days // 7
        peaks[week] = max(peaks[week], r.active_users)
    return peaks


def over_cap_fact(session: Session, account_id: int, today: date) -> str:
    contract = latest_contract(session, account_id)
    seats = contract.seats_purchased
    over = sum(p > seats for p in weekly_peaks(session, account_id, today, 12))
    usage, feature = sql_table("feature_usage"), sql_table("feature")
    plan_rank = TIERS.index(contract.plan) if contract.plan in TIERS else 0
    higher = [t for t in TIERS if TIERS.index(t) > plan_rank]
    query = (
        select(feature.c.key, feature.c.name, func.max(usage.c.users), func.sum(usage.c.events))
        .join(feature, feature.c.id == usage.c.feature_id)
        .where(usage.c.account_id == account_id, usage.c.day >= today - timedelta(days=28))
        .where(feature.c.tier.in_(higher) | (feature.c.key == "api"))
        .group_by(feature.c.key, feature.c.name)
    )
    by_key = {key: (name, users, events) for key, name, users, events in session.execute(query)}
    api_calls = int(by_key.pop("api", ("", 0, 0))[2] or 0)
    top = max(by_key.values(), key=lambda v: int(v[1] or 0), default=None)
    upsell = f"{top[0]} (higher tier) used by {top[1]} people, " if top else ""
    return (
        f"{seats_used(session, account_id, today)} of {seats} seats used, over the cap "
        f"{over} of the last 12 weeks; {upsell}{api_calls:,} API calls in the last 4 weeks"
    )


def ticket_overload_fact(session: Session, account_id: int, today: date) -> str:
    ticket = sql_table("ticket")
    now = midnight(today)
    facts = facts_of(session, account_id, today)
    urgent_open = session.execute(
        select(func.count()).where(
            ticket.c.account_id == account_id,
            ticket.c.priority == "urgent",
            ticket.c.status.in_(("open", "pending")),
            ticket.c.opened_at < now - timedelta(days=7),
        )
    ).scalar_one()
    escalated = session.execute(
        select(func.count()).where(
            ticket.c.account_id == account_id,
            ticket.c.escalated.is_(True),
            ticket.c.opened_at >= now - timedelta(days=90),
        )
    ).scalar_one()
    per_user = facts.tickets_window / facts.seats_used if facts.seats_used else 0.0
    window = load_config().health.normalise.ticket_window_days
    return (
        f"{facts.tickets_window} tickets in {window} days ({per_user:.2f} per seat used), "
        f"{urgent_open} urgent open > 7 days, {escalated} escalated in 90 days"
    )


def longest_gap(session: Session, account_id: int, today: date, days: int = 365) -> int:
    """The longest run of days without any usage in the last ``days`` days of data."""
    rows = daily_usage(session, account_id, today - timedelta(days=days), today)
    longest = 0
    for prev, cur in itertools.pairwise(rows):
        longest = max(longest, (cur.day - prev.day).days - 1)
    return longest


def erratic_fact(session: Session, account_id: int, today: date) -> str:
    peaks = weekly_peaks(session, account_id, today, 26)
    while peaks and peaks[0] == 0:  # weeks before the data starts
        peaks.pop(0)
    busy = [p for p in peaks if p > 0]
    quiet = sum(p == 0 for p in peaks)
    swing = f"{min(busy)}-{max(busy)}" if busy else "0"
    return (
        f"weekly active users swing {swing} over {len(peaks)} weeks, {quiet} weeks with no use, "
        f"longest gap {longest_gap(session, account_id, today)} days"
    )


def healthy_fact(session: Session, account_id: int, today: date) -> str:
    nps, invoice = sql_table("nps_response"), sql_table("invoice")
    avg_nps = session.execute(
        select(func.avg(nps.c.score)).where(
            nps.c.account_id == account_id,
            nps.c.responded_at >= midnight(today) - timedelta(days=180),
        )
    ).scalar_one()
    overdue = session.execute(
        select(func.count()).where(
            invoice.c.account_id == account_id, invoice.c.status == "overdue"
        )
    ).scalar_one()
    facts = facts_of(session, account_id, today)
    seats = facts.seats_purchased
    used = 100.0 * facts.seats_used / seats if seats else 0.0
    nps_text = f"NPS avg {float(avg_nps):.1f}" if avg_nps is not None else "no recent NPS"
    return (
        f"{used:.0f}% of {seats} seats used, {nps_text}, {overdue} overdue invoices, "
        f"renews {days_from_now(facts.days_to_renewal or 0)}"
    )


def onboarding_fact(session: Session, account_id: int, today: date) -> str:
    from tools.onboarding import onboarding_progress

    config = load_config().onboarding
    found = onboarding_progress(session, as_of=today, config=config, account_ids=[account_id])
    progress = found.get(account_id)
    if progress is None:
        return "not started"
    done = f"{progress.completed}/{len(progress.milestones)} milestones"
    ttv = progress.time_to_first_value_days
    value = f", first value on day {ttv}" if ttv is not None else ", no first value yet"
    overdue = ", ".join(m.label for m in progress.overdue)
    return f"day {progress.age_days} of onboarding, {done}{value}" + (
        f"; overdue: {overdue}" if overdue else ""
    )


FACTS: dict[str, FactFn] = {
    "renewal_risk": renewal_risk_fact,
    "champion_left": champion_left_fact,
    "over_cap": over_cap_fact,
    "ticket_overload": ticket_overload_fact,
    "erratic": erratic_fact,
    "healthy": healthy_fact,
    "onboarding": onboarding_fact,
}
