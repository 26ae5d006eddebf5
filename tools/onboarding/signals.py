"""What onboarding progress feeds elsewhere: the churn trigger, time-to-value cohorts, the stage."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from tools.facts.onboarding import Reader
from tools.models import Lifecycle
from tools.onboarding.config import OnboardingConfig
from tools.onboarding.progress import (
    FirstValue,
    OnboardingProgress,
    first_value_days,
    onboarding_progress,
)
from tools.results import CohortTimeToValue

TRIGGER_KEY = "onboarding_overdue"
TRIGGER_LABEL = "Onboarding overdue"
# (key, kind, label, evidence, severe): the churn engine's plain "fired trigger" tuple.
Fired = tuple[str, str, str, str, bool]


def overdue_evidence(progress: OnboardingProgress) -> str:
    """'3 features adopted' due day 45, not reached on day 79 (started 2026-01-11)."""
    late = ", ".join(
        f"'{m.label}' due {m.due_on.isoformat() if m.due_on else '?'}" for m in progress.overdue
    )
    return (
        f"{late}; not reached on day {progress.age_days} of onboarding "
        f"(started {progress.started_on.isoformat()})"
    )


def overdue_trigger(progress: OnboardingProgress) -> Fired | None:
    """The churn trigger of an account still onboarding with a milestone past its due day."""
    overdue = progress.overdue
    if not progress.in_onboarding or not overdue:
        return None
    severe = len(overdue) >= 2 or overdue[0].key == "first_activity"
    return (TRIGGER_KEY, "behavioural", TRIGGER_LABEL, overdue_evidence(progress), severe)


def onboarding_triggers(
    session: Reader, *, as_of: date, config: OnboardingConfig, account_ids: Sequence[int]
) -> dict[int, list[Fired]]:
    """The onboarding-overdue trigger of each of ``account_ids`` that fires as of ``as_of``."""
    if not account_ids:
        return {}
    progress = onboarding_progress(
        session, as_of=as_of, config=config, account_ids=account_ids, only_onboarding=True
    )
    return triggers_of(progress)


def triggers_of(progress: dict[int, OnboardingProgress]) -> dict[int, list[Fired]]:
    """The onboarding-overdue trigger of each account of ``progress`` that fires."""
    fired = {a: overdue_trigger(p) for a, p in progress.items()}
    return {a: [f] for a, f in fired.items() if f is not None}


def time_to_value_by_cohort(
    session: Reader, *, as_of: date, config: OnboardingConfig, months: int = 12
) -> list[CohortTimeToValue]:
    """Median days to first value per start month, for accounts started in the last ``months``.

    The median is over the accounts that reached first value (``reached`` of ``accounts``).
    """
    since = _months_back(as_of, months)
    found = first_value_days(session, as_of=as_of, config=config, started_since=since)
    cohorts: dict[str, list[FirstValue]] = defaultdict(list)
    for first in found.values():
        cohorts[first.started_on.strftime("%Y-%m")].append(first)
    rows = []
    for cohort in sorted(cohorts):
        members = cohorts[cohort]
        known = [m.days for m in members if m.days is not None]
        rows.append(
            CohortTimeToValue(
                cohort=cohort,
                accounts=len(members),
                reached=len(known),
                median_days=float(statistics.median(known)) if known else None,
                still_onboarding=sum(1 for m in members if m.in_onboarding),
            )
        )
    return rows


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def derived_stage(
    *, age_days: int | None, days_to_renewal: int | None, active: bool, config: OnboardingConfig
) -> str:
    """onboarding (younger than ``window_days``) / renewal (contract ends within
    ``renewal_stage_days``) / adoption (younger than ``mature_after_days``) / mature; churned
    without a contract in force."""
    if not active:
        return Lifecycle.CHURNED.value
    if age_days is not None and 0 <= age_days < config.window_days:
        return Lifecycle.ONBOARDING.value
    if days_to_renewal is not None and 0 <= days_to_renewal <= config.renewal_stage_days:
        return Lifecycle.RENEWAL.value
    if age_days is not None and age_days < config.mature_after_days:
        return Lifecycle.ADOPTION.value
    return Lifecycle.MATURE.value


def effective_stage(stored: str, derived: str) -> str:
    """The imported stage when one was given (anything but the column default), else derived."""
    return derived if stored in ("", Lifecycle.ADOPTION.value) else stored


def lifecycle_stage(
    stored: str,
    *,
    age_days: int | None,
    days_to_renewal: int | None,
    active: bool,
    config: OnboardingConfig,
) -> str:
    """The stage an account shows: the imported one, else derived with the configured windows."""
    derived = derived_stage(
        age_days=age_days, days_to_renewal=days_to_renewal, active=active, config=config
    )
    return effective_stage(stored, derived)
