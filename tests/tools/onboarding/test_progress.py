"""Onboarding milestones, time to value and the overdue trigger, with a settable clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.utils.factories import (
    add_feature_usage,
    add_usage,
    make_account,
    make_contract,
    make_feature,
)
from tools.facts.onboarding import start_dates
from tools.models import Account, Feature
from tools.onboarding import (
    derived_stage,
    effective_stage,
    onboarding_progress,
    onboarding_triggers,
    time_to_value_by_cohort,
)
from tools.onboarding.progress import FirstValue, first_value_days
from tools.scoring_config import ConfigError, load_config

START = date(2026, 1, 5)
CONFIG = load_config(None).onboarding


def new_account(session: Session, name: str, *, start: date = START) -> Account:
    account = make_account(session, name=name, external_id=name)
    make_contract(session, account=account, start=start, end=start + timedelta(days=365), seats=20)
    return account


def features(session: Session, n: int, *, integration: int = 0) -> list[Feature]:
    made = [make_feature(session, key=f"f{i}") for i in range(n)]
    for feature in made[:integration]:
        feature.is_integration = True
    session.flush()
    return made


def progress_of(session: Session, account: Account, as_of: date) -> dict[str, object]:
    result = onboarding_progress(session, as_of=as_of, config=CONFIG, account_ids=[account.id or 0])
    p = result[account.id or 0]
    return {m.key: (m.status, m.reached_on, m.days_to_reach) for m in p.milestones} | {
        "ttv": p.time_to_first_value_days,
        "age": p.age_days,
    }


def test_milestone_dates_and_time_to_value(session: Session) -> None:
    account = new_account(session, "fast")
    add_usage(session, account=account, start=START + timedelta(days=2), days=3, active_users=2)
    add_usage(session, account=account, start=START + timedelta(days=5), days=30, active_users=8)
    made = features(session, 3, integration=1)
    for offset, feature in zip((4, 10, 20), made, strict=True):
        add_feature_usage(session, account=account, feature=feature, day=START + timedelta(offset))
    got = progress_of(session, account, START + timedelta(days=40))
    assert got["first_activity"] == ("done", START + timedelta(days=2), 2)
    assert got["active_users"] == ("done", START + timedelta(days=5), 5)
    assert got["key_features"] == ("done", START + timedelta(days=20), 20)
    assert got["integration"] == ("done", START + timedelta(days=4), 4)
    assert got["ttv"] == 5
    assert got["age"] == 40


def test_no_look_ahead_a_past_day_sees_only_what_had_happened(session: Session) -> None:
    account = new_account(session, "clock")
    add_usage(session, account=account, start=START + timedelta(days=2), days=3, active_users=2)
    add_usage(session, account=account, start=START + timedelta(days=25), days=5, active_users=9)
    early = progress_of(session, account, START + timedelta(days=20))
    assert early["first_activity"] == ("done", START + timedelta(days=2), 2)
    assert early["active_users"] == ("pending", None, None)
    assert early["ttv"] is None
    later = progress_of(session, account, START + timedelta(days=26))
    assert later["active_users"] == ("done", START + timedelta(days=25), 25)


def test_overdue_trigger_fires_only_after_the_due_day_and_inside_the_window(
    session: Session,
) -> None:
    stuck = new_account(session, "stuck")
    add_usage(session, account=stuck, start=START, days=120, active_users=9)
    (one,) = features(session, 1)
    add_feature_usage(session, account=stuck, feature=one, day=START + timedelta(days=3))
    ids = [stuck.id or 0]

    def fired(day_offset: int) -> list[tuple[str, str, str, str, bool]]:
        as_of = START + timedelta(days=day_offset)
        return onboarding_triggers(session, as_of=as_of, config=CONFIG, account_ids=ids).get(
            ids[0], []
        )

    assert fired(45) == []  # due day 45: not yet overdue
    (trigger,) = fired(46)
    key, kind, label, evidence, severe = trigger
    assert (key, kind, label, severe) == (
        "onboarding_overdue",
        "behavioural",
        "Onboarding overdue",
        False,
    )
    assert "'3 features adopted' due 2026-02-19" in evidence
    assert "day 46 of onboarding (started 2026-01-05)" in evidence
    assert fired(89) != []
    assert fired(90) == []  # out of the onboarding window: no longer an onboarding trigger


def test_no_activity_at_all_is_severe(session: Session) -> None:
    silent = new_account(session, "silent")
    as_of = START + timedelta(days=50)
    fired = onboarding_triggers(session, as_of=as_of, config=CONFIG, account_ids=[silent.id or 0])
    (trigger,) = fired[silent.id or 0]
    assert trigger[4] is True
    assert "'First activity' due 2026-01-19" in trigger[3]


def test_accounts_not_started_or_too_old_are_not_onboarding(session: Session) -> None:
    future = new_account(session, "future", start=START + timedelta(days=30))
    old = new_account(session, "old", start=START - timedelta(days=400))
    result = onboarding_progress(
        session, as_of=START, config=CONFIG, account_ids=[future.id or 0, old.id or 0]
    )
    assert future.id not in result
    assert result[old.id or 0].in_onboarding is False
    only = onboarding_progress(
        session,
        as_of=START,
        config=CONFIG,
        account_ids=[future.id or 0, old.id or 0],
        only_onboarding=True,
    )
    assert only == {}


def test_start_is_the_first_contract_else_the_creation_day(session: Session) -> None:
    renewed = new_account(session, "renewed", start=START)
    make_contract(
        session, account=renewed, start=START + timedelta(days=365), end=START + timedelta(days=730)
    )
    bare = make_account(session, external_id="bare")
    result = onboarding_progress(
        session, as_of=START + timedelta(days=10), config=CONFIG, account_ids=[renewed.id or 0]
    )
    assert result[renewed.id or 0].started_on == START
    created = bare.created_at.date()
    result = onboarding_progress(session, as_of=created, config=CONFIG, account_ids=[bare.id or 0])
    assert result[bare.id or 0].started_on == created


def test_key_feature_list_counts_only_those_features(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "scoring.toml"
    path.write_text(
        "[onboarding.milestones.key_features]\nthreshold = 2\nfeatures = ['f1', 'f2']\n"
    )
    config = load_config(path).onboarding
    account = new_account(session, "keyed")
    made = features(session, 3)
    for offset, feature in zip((1, 2, 30), made, strict=True):
        add_feature_usage(session, account=account, feature=feature, day=START + timedelta(offset))
    result = onboarding_progress(
        session, as_of=START + timedelta(days=40), config=config, account_ids=[account.id or 0]
    )
    step = next(m for m in result[account.id or 0].milestones if m.key == "key_features")
    assert step.reached_on == START + timedelta(days=30)


def test_bad_onboarding_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scoring.toml"
    path.write_text("[onboarding]\nfirst_value = 'nope'\n")
    with pytest.raises(ConfigError, match="first_value"):
        load_config(path)
    path.write_text("[onboarding.milestones.x]\nlabel = 'X'\nkind = 'teleport'\n")
    with pytest.raises(ConfigError, match="kind"):
        load_config(path)


def test_median_time_to_value_by_start_month(session: Session) -> None:
    for name, start, ramp in (("a", START, 4), ("b", START + timedelta(days=3), 10)):
        account = new_account(session, name, start=start)
        add_usage(session, account=account, start=start + timedelta(days=ramp), days=5)
    new_account(session, "c", start=START + timedelta(days=4))  # never reaches value
    feb = new_account(session, "d", start=date(2026, 2, 2))
    add_usage(session, account=feb, start=date(2026, 2, 3), days=5)
    new_account(session, "old", start=date(2025, 1, 6))  # before the 12 months
    as_of = date(2026, 3, 1)
    rows = time_to_value_by_cohort(session, as_of=as_of, config=CONFIG)
    assert [(r.cohort, r.accounts, r.reached, r.median_days) for r in rows] == [
        ("2026-01", 3, 2, 7.0),
        ("2026-02", 1, 1, 1.0),
    ]
    # The cohorts read the first-value milestone alone: the same as the whole progress.
    since = date(2025, 4, 1)
    every = onboarding_progress(session, as_of=as_of, config=CONFIG)
    whole = {a: p for a, p in every.items() if since <= p.started_on}
    first = first_value_days(session, as_of=as_of, config=CONFIG, started_since=since)
    assert len(whole) == 4
    assert first == {
        a: FirstValue(p.started_on, p.time_to_first_value_days, p.in_onboarding)
        for a, p in whole.items()
    }


@pytest.mark.parametrize(
    ("age", "renewal", "active", "stage"),
    [
        (10, 300, True, "onboarding"),
        (10, 30, True, "onboarding"),
        (200, 60, True, "renewal"),
        (200, 200, True, "adoption"),
        (500, 200, True, "mature"),
        (500, None, True, "mature"),
        (500, 20, False, "churned"),
    ],
)
def test_derived_stage(age: int, renewal: int | None, active: bool, stage: str) -> None:
    derived = derived_stage(age_days=age, days_to_renewal=renewal, active=active, config=CONFIG)
    assert derived == stage


def test_the_stage_windows_come_from_the_config() -> None:
    """A longer onboarding window, a shorter renewal window and an earlier maturity apply."""
    config = CONFIG.model_copy(
        update={"window_days": 120, "renewal_stage_days": 30, "mature_after_days": 180}
    )

    def stage(age: int, renewal: int | None) -> str:
        return derived_stage(age_days=age, days_to_renewal=renewal, active=True, config=config)

    assert stage(100, 300) == "onboarding"  # day 100 of a 120-day window (default: adoption)
    assert stage(200, 60) == "mature"  # renewal in 60 days is outside 30; older than 180 days
    assert stage(200, 25) == "renewal"
    assert stage(150, 300) == "adoption"


def test_an_imported_stage_wins_over_the_derived_one() -> None:
    assert effective_stage("mature", "onboarding") == "mature"
    assert effective_stage("adoption", "onboarding") == "onboarding"


def test_a_milestone_reached_on_the_as_of_day_counts_from_the_next_day(session: Session) -> None:
    """Complete days: rows dated the as-of day (a 23:30 scan sees them, a 00:30 one does not)
    do not reach a milestone yet, so both scans give the same progress and trigger."""
    account = new_account(session, "today")
    day = START + timedelta(days=3)
    add_usage(session, account=account, start=day, days=1, active_users=2)
    (feature,) = features(session, 1, integration=1)
    add_feature_usage(session, account=account, feature=feature, day=day)

    on_the_day = progress_of(session, account, day)
    next_day = progress_of(session, account, day + timedelta(days=1))

    assert on_the_day["first_activity"] == ("pending", None, None)
    assert on_the_day["integration"] == ("pending", None, None)
    assert next_day["first_activity"] == ("done", day, 3)
    assert next_day["integration"] == ("done", day, 3)


def test_starts_filtered_in_the_statements_equal_all_starts_filtered_after(
    session: Session,
) -> None:
    """``start_dates(between=...)`` (time to value, the accounts onboarding) keeps the accounts
    ``start_dates`` would give a start in the range: the first contract's start (a renewal or
    a later contract does not move it), else the creation day at any time of that day."""
    low, high = date(2026, 1, 10), date(2026, 2, 10)
    for offset in (-1, 0, 1, 31, 32):
        new_account(session, f"c{offset}", start=low + timedelta(days=offset))
    renewed = new_account(session, "renewed", start=low - timedelta(days=300))
    make_contract(session, account=renewed, start=low + timedelta(days=5), end=high)
    for name, created in (
        ("bare-before", datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=UTC)),
        ("bare-first", datetime(2026, 1, 10, 0, 0, tzinfo=UTC)),
        ("bare-last", datetime(2026, 2, 10, 23, 59, 59, 999999, tzinfo=UTC)),
        ("bare-after", datetime(2026, 2, 11, 0, 0, tzinfo=UTC)),
    ):
        make_account(session, external_id=name).created_at = created
    late = make_account(session, external_id="late-contract")
    late.created_at = datetime(
        2026, 1, 20, 12, tzinfo=UTC
    )  # created in range, contract starts after it
    make_contract(session, account=late, start=high + timedelta(days=3), end=high + timedelta(400))
    session.flush()
    every = start_dates(session, None)
    wanted = {a: d for a, d in every.items() if low <= d <= high}
    assert start_dates(session, None, between=(low, high)) == wanted
    assert start_dates(session, list(every), between=(low, high)) == wanted
    names = {a.id: a.external_id for a in session.exec(select(Account)).all()}
    assert sorted(names[a] for a in wanted) == ["bare-first", "bare-last", "c0", "c1", "c31"]
