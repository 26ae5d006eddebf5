"""Per-account onboarding progress as of a day: milestone dates, time to value, what is overdue.

Everything is read as of ``as_of`` (usage and feature rows of the complete days before it,
``tools.facts.onboarding``), so a past day gives the answer one would have had then. The
onboarding starts on the account's first contract start (else the day the account was created).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import col

from tools.facts.onboarding import (
    FirstDays,
    MilestoneReads,
    Reader,
    chunks,
    feature_first_days,
    first_usage_days,
    start_dates,
)
from tools.models import Account
from tools.onboarding.config import Milestone, OnboardingConfig

Status = Literal["done", "pending", "overdue"]


class MilestoneProgress(BaseModel):
    """One milestone of one account."""

    key: str
    label: str
    status: Status
    reached_on: date | None = None
    days_to_reach: int | None = None
    due_on: date | None = None
    on_time: bool | None = None


class OnboardingProgress(BaseModel):
    """An account's onboarding: start, age, milestones, time to first value."""

    account_id: int
    account: str
    external_id: str
    owner_slack_id: str | None = None
    started_on: date
    age_days: int
    in_onboarding: bool
    milestones: list[MilestoneProgress]
    completed: int
    time_to_first_value_days: int | None = None
    first_value: str

    @property
    def overdue(self) -> list[MilestoneProgress]:
        return [m for m in self.milestones if m.status == "overdue"]

    @property
    def next_milestone(self) -> MilestoneProgress | None:
        pending = [m for m in self.milestones if m.status != "done"]
        return min(pending, key=lambda m: m.due_on or date.max) if pending else None


def reached_days(
    session: Reader, ids: list[int], as_of: date, milestone: Milestone
) -> dict[int, date]:
    """The day each account reached ``milestone`` (accounts that have not are absent)."""
    return _reached(
        milestone,
        lambda need: first_usage_days(session, ids, as_of, min_users=need),
        lambda keys, integration: feature_first_days(
            session, ids, as_of, keys=keys, integration=integration
        ),
    )


def milestone_reads(config: OnboardingConfig, as_of: date) -> MilestoneReads:
    """What an extraction reads so that ``progress_of_first_days`` needs no statement."""
    needs: list[int | None] = []
    for milestone in config.enabled().values():
        if milestone.kind == "first_activity":
            needs.append(None)
        elif milestone.kind == "active_users":
            needs.append(milestone.threshold)
    return MilestoneReads(as_of, tuple(dict.fromkeys(needs)))


def progress_of_first_days(
    first: FirstDays, starts: dict[int, date], config: OnboardingConfig
) -> dict[int, OnboardingProgress]:
    """``onboarding_progress(..., account_ids=list(starts), only_onboarding=True)`` from first
    days an extraction read (``milestone_reads``) and each account's onboarding start, without a
    statement; account names are not read (the churn trigger does not show them)."""
    as_of = first.reads.as_of
    starts = {a: s for a, s in starts.items() if 0 <= (as_of - s).days < config.window_days}

    def features(keys: list[str], integration: bool) -> dict[int, list[date]]:
        return first.feature_days(keys=keys, integration=integration)

    reached = {key: _reached(m, first.usage_days, features) for key, m in config.enabled().items()}
    return _progress(starts, reached, {}, as_of, config)


def _reached(
    milestone: Milestone,
    usage_days: Callable[[int | None], dict[int, date]],
    feature_days: Callable[[list[str], bool], dict[int, list[date]]],
) -> dict[int, date]:
    if milestone.kind == "first_activity":
        return usage_days(None)
    if milestone.kind == "active_users":
        return usage_days(milestone.threshold)
    firsts = feature_days(milestone.features, milestone.kind == "integration")
    need = milestone.threshold
    return {a: days[need - 1] for a, days in firsts.items() if len(days) >= need}


@dataclass(frozen=True)
class FirstValue:
    """An account's onboarding start and time to first value, as ``OnboardingProgress`` has
    them (``started_on``, ``time_to_first_value_days``, ``in_onboarding``)."""

    started_on: date
    days: int | None  # None: first value not reached
    in_onboarding: bool


def first_value_days(
    session: Reader, *, as_of: date, config: OnboardingConfig, started_since: date
) -> dict[int, FirstValue]:
    """The time to first value of each account that started between ``started_since`` and
    ``as_of``, as ``onboarding_progress`` gives it, reading only those accounts and only the
    first-value milestone (the team figures' time to value by cohort)."""
    starts = start_dates(session, None, between=(started_since, as_of))
    milestone = config.enabled()[config.first_value]
    reached: dict[int, date] = {}
    for chunk in chunks(sorted(starts)):
        reached.update(reached_days(session, chunk, as_of, milestone))
    return {
        a: FirstValue(
            started_on=start,
            days=_days_to_reach(reached.get(a), start),
            in_onboarding=(as_of - start).days < config.window_days,
        )
        for a, start in starts.items()
    }


def _days_to_reach(reached: date | None, start: date) -> int | None:
    return None if reached is None else max(0, (reached - start).days)


def _milestone(
    key: str, milestone: Milestone, start: date, reached: date | None, as_of: date
) -> MilestoneProgress:
    due = start + timedelta(days=milestone.due_days) if milestone.due_days else None
    days = _days_to_reach(reached, start)
    if days is not None:
        on_time = None if milestone.due_days is None else days <= milestone.due_days
        return MilestoneProgress(
            key=key,
            label=milestone.label,
            status="done",
            reached_on=reached,
            days_to_reach=days,
            due_on=due,
            on_time=on_time,
        )
    status: Status = "overdue" if due is not None and as_of > due else "pending"
    return MilestoneProgress(key=key, label=milestone.label, status=status, due_on=due)


def onboarding_progress(
    session: Reader,
    *,
    as_of: date,
    config: OnboardingConfig,
    account_ids: Sequence[int] | None = None,
    only_onboarding: bool = False,
) -> dict[int, OnboardingProgress]:
    """Onboarding progress of ``account_ids`` (None: all) as of ``as_of``.

    With ``only_onboarding``, only accounts younger than the onboarding window (and started),
    filtered by the statements.
    """
    youngest = as_of - timedelta(days=config.window_days - 1)
    between = (youngest, as_of) if only_onboarding else None
    starts = start_dates(session, account_ids, between=between)
    ids = sorted(a for a, s in starts.items() if s <= as_of)
    milestones = config.enabled()
    reached: dict[str, dict[int, date]] = {key: {} for key in milestones}
    for chunk in chunks(ids):
        for key, milestone in milestones.items():
            reached[key].update(reached_days(session, chunk, as_of, milestone))
    return _progress(starts, reached, _labels(session, ids), as_of, config)


def _progress(
    starts: dict[int, date],
    reached: dict[str, dict[int, date]],
    labels: dict[int, tuple[str, str, str | None]],
    as_of: date,
    config: OnboardingConfig,
) -> dict[int, OnboardingProgress]:
    milestones = config.enabled()
    out: dict[int, OnboardingProgress] = {}
    for account_id in sorted(a for a, s in starts.items() if s <= as_of):
        start = starts[account_id]
        steps = [
            _milestone(key, m, start, reached[key].get(account_id), as_of)
            for key, m in milestones.items()
        ]
        first_value = next(s for s in steps if s.key == config.first_value)
        name, external_id, owner = labels.get(account_id, ("?", "?", None))
        age = (as_of - start).days
        out[account_id] = OnboardingProgress(
            account_id=account_id,
            account=name,
            external_id=external_id,
            owner_slack_id=owner,
            started_on=start,
            age_days=age,
            in_onboarding=age < config.window_days,
            milestones=steps,
            completed=sum(1 for s in steps if s.status == "done"),
            time_to_first_value_days=first_value.days_to_reach,
            first_value=config.first_value,
        )
    return out


def _labels(session: Reader, ids: list[int]) -> dict[int, tuple[str, str, str | None]]:
    labels: dict[int, tuple[str, str, str | None]] = {}
    for chunk in chunks(ids):
        query: Any = select(
            col(Account.id),
            col(Account.name),
            col(Account.external_id),
            col(Account.owner_slack_id),
        ).where(col(Account.id).in_(chunk))
        labels.update({int(i): (n, e, o) for i, n, e, o in session.execute(query).all()})
    return labels
