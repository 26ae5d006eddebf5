"""What one whole ``/health`` costs in SQL (lookup, report, Lean, expansion, card), and that
reading several days at once changes nothing: each table is read once per (account set, as-of
days)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, event, select
from sqlmodel import col

from bot import blocks
from tests.utils.demo_db import demo_database
from tools import db
from tools.accounts import resolve_account
from tools.expansion import expansion_of, expansion_opportunities, pipeline_of, pipeline_total
from tools.facts import Caches, MedianCache, portfolio_median_ticket_ratio
from tools.facts.extract import extract_days, extract_raw
from tools.lean import lean_findings
from tools.models import (
    Account,
    ChurnTriggerRecord,
    Feature,
    FeatureUsage,
    HealthSnapshot,
    Ticket,
    UsageDaily,
)
from tools.onboarding import OnboardingProgress, onboarding_progress, onboarding_triggers
from tools.results import AccountReport
from tools.scoring import reports as scoring
from tools.scoring import scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()
# Statements of one whole /health: the lookup (the account and the data version), the stored
# trend scores, then one read of each table for today, the trend days without a snapshot and
# what Lean, expansion and onboarding milestones need. The Muri median comes from the session
# factory's cache, whatever the portfolio's size (this demo is small).
HEALTH_BUDGET = 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "statements", today=TODAY, accounts=16)


def _clear_snapshots(engine: Engine) -> None:
    with db.session_factory(engine)() as session:
        session.execute(delete(ChurnTriggerRecord))
        session.execute(delete(HealthSnapshot))
        session.commit()


def _sessions(engine: Engine, caches: Caches | None = None) -> db.SessionFactory:
    """The bot's session factory (default caches: nothing forced)."""
    return db.session_factory(engine, caches=caches)


def _health(
    engine: Engine, sessions: db.SessionFactory, name: str
) -> tuple[AccountReport, list[str]]:
    """``/health <name>`` as the bot runs it (resolve, report with Lean and expansion, card),
    and every statement it ran."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions() as session:
            account = resolve_account(session, query=name)
            assert account.id is not None
            report = scoring.account_report(
                session, account_id=account.id, as_of=TODAY, config=CONFIG
            )
            blocks.health_report(report)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return report, seen


def _tables(statements: list[str]) -> list[str]:
    """The table each statement reads first (its outermost FROM)."""
    return [s.split("\nFROM ", 1)[1].split()[0] for s in statements if "\nFROM " in s]


def _names(engine: Engine) -> list[str]:
    with db.session_factory(engine)() as session:
        return list(session.execute(select(col(Account.name)).order_by(col(Account.id))).scalars())


def test_a_whole_health_reads_each_table_once_with_or_without_snapshots(demo: Engine) -> None:
    _clear_snapshots(demo)
    sessions = _sessions(demo)
    names = _names(demo)
    _health(demo, sessions, names[0])  # another account first: name index and median cached
    for name in names[1:6]:
        computed, without = _health(demo, sessions, name)
        assert len(without) <= HEALTH_BUDGET, "\n\n".join(without)
        tables = _tables(without)
        assert len(tables) == len(set(tables)), tables  # Lean and expansion read nothing again
        assert computed.health.trend_30d is not None
        assert computed.health.trend_90d is not None

    name = names[3]
    computed, without = _health(demo, sessions, name)
    with db.session_factory(demo)() as session:
        for back in (30, 90):
            scan_portfolio(session, as_of=TODAY - timedelta(days=back), config=CONFIG, workers=1)
    stored, with_snapshots = _health(demo, sessions, name)
    assert len(with_snapshots) <= len(without)
    # Stored snapshots and the in-pass history give the same trends.
    assert stored.health.trend_30d == computed.health.trend_30d
    assert stored.health.trend_90d == computed.health.trend_90d
    _clear_snapshots(demo)


def test_lean_and_expansion_of_a_report_equal_their_own_readers(demo: Engine) -> None:
    """The findings a /health shows from its own extraction are those of ``lean_findings``
    and ``expansion_opportunities`` for the account (one definition)."""
    sessions = _sessions(demo)
    with sessions() as session:
        ids = [int(a) for a in session.execute(select(col(Account.id))).scalars()]
        lean = lean_findings(session, as_of=TODAY, config=CONFIG)
        expansion = expansion_opportunities(session, as_of=TODAY, config=CONFIG)
        shown = 0
        for account_id in ids:
            report = scoring.account_report(
                session, account_id=account_id, as_of=TODAY, config=CONFIG
            )
            assert report.lean == lean.get(account_id, []), account_id
            assert report.expansion == expansion.get(account_id, []), account_id
            shown += len(report.lean) + len(report.expansion)
    assert shown  # the demo has findings to compare


@pytest.mark.parametrize("id_range", [None, (1, 8)])
def test_the_scans_bulk_findings_give_the_expansion_of_its_own_reader(
    demo: Engine, id_range: tuple[int, int] | None
) -> None:
    """The scan's findings read with the portfolio's statements (weekly peaks from its recent
    usage window, feature use from its adoption statement) hold each account's own contract,
    weekly peaks and expansion feature use, and count the pipeline of
    ``expansion_opportunities`` (the team figures count and sum it)."""
    weeks = CONFIG.expansion.seat_weeks
    with db.session_factory(demo)() as session:
        raw = extract_raw(session, as_of=TODAY, config=CONFIG, id_range=id_range, findings=True)
        bulk = raw.extra["findings"]
        ids = raw.ids.tolist()
        expected = expansion_opportunities(session, as_of=TODAY, config=CONFIG, account_ids=ids)
        (one,) = extract_days(session, days=[TODAY], config=CONFIG, account_ids=ids, findings=True)
    # The scan's team figures count and sum them from the rules' numbers alone.
    assert pipeline_of(bulk, config=CONFIG) == pipeline_total(expected)
    estimates = sorted(o.estimated_arr for opps in expected.values() for o in opps)
    floor = CONFIG.model_copy(deep=True)
    floor.expansion.min_estimated_arr = estimates[len(estimates) // 2]
    with db.session_factory(demo)() as session:
        above = expansion_opportunities(session, as_of=TODAY, config=floor, account_ids=ids)
    assert 0 < pipeline_total(above)[0] < pipeline_total(expected)[0]
    assert pipeline_of(bulk, config=floor) == pipeline_total(above)
    assert sum(len(o) for o in expected.values()), "the demo has opportunities to compare"
    with pytest.raises(ValueError, match="weeks asked"):  # the strength's 8 weeks: not read
        expansion_of(bulk, config=CONFIG)
    cfg = CONFIG.expansion
    heavy = (cfg.module_min_users, min(cfg.module_min_events, cfg.integration_min_events))
    compared = 0
    for account_id, facts in one.extra["findings"].items():
        assert bulk[account_id].contract == facts.contract, account_id
        uses = bulk[account_id].feature_use(*heavy, cfg.api_feature_keys)
        assert uses == facts.feature_use(*heavy, cfg.api_feature_keys), account_id
        got, want = bulk[account_id].weekly_peaks(weeks), facts.weekly_peaks(weeks)
        assert (got is None) == (want is None), account_id
        if got is not None and want is not None:
            assert np.array_equal(got, want), account_id
            compared += 1
        with pytest.raises(ValueError, match="peaks only"):
            bulk[account_id].weekly(weeks)
    assert compared, "the demo has weekly usage to compare"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    return bool(a == b)


@pytest.mark.parametrize("scoped", [True, False])
def test_several_days_at_once_equal_one_day_at_a_time(demo: Engine, scoped: bool) -> None:
    days = [TODAY - timedelta(days=back) for back in (0, 30, 90, 7)]
    with db.session_factory(demo)() as session:
        ids = [int(a) for a in session.execute(select(col(Account.id))).scalars()]
        kwargs: dict[str, Any] = {"account_ids": ids[:9]} if scoped else {}
        together = extract_days(session, days=days, config=CONFIG, **kwargs)
        for k, day in enumerate(days):
            alone = extract_raw(session, as_of=day, config=CONFIG, **kwargs)
            for field in dataclasses.fields(alone):
                if field.name == "extra" and k:
                    continue  # onboarding facts: the main day only
                got, want = getattr(together[k], field.name), getattr(alone, field.name)
                assert _same(got, want), (day, field.name)


def _young(engine: Engine, as_of: date = TODAY) -> dict[int, OnboardingProgress]:
    """The accounts still onboarding as of ``as_of`` (the bulk reader: scan, App Home)."""
    with db.session_factory(engine)() as session:
        return onboarding_progress(
            session, as_of=as_of, config=CONFIG.onboarding, only_onboarding=True
        )


def test_an_onboarding_accounts_health_reads_each_table_once(demo: Engine) -> None:
    """A young account's /health reads its milestones with its own usage and feature rows:
    the same budget and the same trigger as the scan's onboarding reader."""
    _clear_snapshots(demo)
    young = _young(demo)
    assert len(young) >= 2, "the demo has accounts still onboarding"
    with db.session_factory(demo)() as session:
        bulk = onboarding_triggers(
            session, as_of=TODAY, config=CONFIG.onboarding, account_ids=list(young)
        )
    assert bulk, "one of them is overdue (Vandelay)"
    sessions = _sessions(demo)
    mature = next(n for n in _names(demo) if n not in {p.account for p in young.values()})
    _health(demo, sessions, mature)  # name index and median cached
    for progress in young.values():
        report, seen = _health(demo, sessions, progress.account)
        assert len(seen) <= HEALTH_BUDGET, "\n\n".join(seen)
        tables = _tables(seen)
        assert len(tables) == len(set(tables)), tables
        fired = [
            (t.key, t.evidence) for t in report.churn.triggers if t.key == "onboarding_overdue"
        ]
        assert fired == [(f[0], f[3]) for f in bulk.get(progress.account_id, [])]


def _unlabelled(progress: OnboardingProgress) -> OnboardingProgress:
    return progress.model_copy(update={"account": "?", "external_id": "?", "owner_slack_id": None})


def test_a_reports_onboarding_progress_equals_the_bulk_reader(demo: Engine) -> None:
    """Milestones from the report's extraction = ``onboarding_progress``, on the day each was
    reached (not yet: complete days only) and the day after, with use before the contract
    started (outside every scoring window)."""
    young = _young(demo)
    account_id = min(young)
    start = young[account_id].started_on
    early = start - timedelta(days=400)
    with db.session_factory(demo)() as session:
        feature_id = session.execute(select(col(Feature.id))).scalars().first()
        session.add(UsageDaily(account_id=account_id, day=early, active_users=9, logins=9))
        session.add(FeatureUsage(account_id=account_id, feature_id=feature_id, day=early, users=1))
        session.commit()
    try:
        days = {TODAY}
        for progress in young.values():
            for step in progress.milestones:
                if step.reached_on is not None:
                    days |= {step.reached_on, step.reached_on + timedelta(days=1)}
                if step.due_on is not None:
                    days |= {step.due_on, step.due_on + timedelta(days=1)}
        compared = on_the_day = 0
        with db.session_factory(demo)() as session:
            for day in sorted(d for d in days if d <= TODAY):
                want = {a: _unlabelled(p) for a, p in _young(demo, day).items() if a in young}
                (raw,) = extract_days(
                    session, days=[day], config=CONFIG, account_ids=list(young), findings=True
                )
                got = {
                    a: _unlabelled(p) for a, p in raw.extra.get("onboarding_progress", {}).items()
                }
                assert got == want, day
                compared += len(want)
                on_the_day += sum(
                    1
                    for a in want
                    for m in young[a].milestones
                    if m.reached_on == day  # reached that day: not yet as of it
                )
        assert compared > len(young)
        assert on_the_day
        assert young[account_id].milestones[0].reached_on != early  # the early row is new
        assert _young(demo)[account_id].milestones[0].reached_on == early
    finally:
        with db.session_factory(demo)() as session:
            session.execute(delete(UsageDaily).where(col(UsageDaily.day) == early))
            session.execute(delete(FeatureUsage).where(col(FeatureUsage.day) == early))
            session.commit()


def _ticket_rows(engine: Engine) -> list[int]:
    """Accounts with a ticket in the Muri window (the median is over them)."""
    window = CONFIG.health.normalise.ticket_window_days
    since = datetime.combine(TODAY - timedelta(days=window), datetime.min.time(), tzinfo=UTC)
    with db.session_factory(engine)() as session:
        stmt = select(col(Ticket.account_id)).where(col(Ticket.opened_at) >= since).distinct()
        return [int(a) for a in session.execute(stmt).scalars()]


def _median(sessions: db.SessionFactory) -> float | None:
    with sessions() as session:
        return portfolio_median_ticket_ratio(session, as_of=TODAY, config=CONFIG)


def test_a_small_portfolios_median_is_cached_until_a_ticket_or_usage_row_is_added(
    demo: Engine,
) -> None:
    """No cache forced: the second /health reuses the median (the lookup's data version), a
    ticket or a usage row added since makes the next one recompute it."""
    _clear_snapshots(demo)
    caches = Caches()
    sessions = _sessions(demo, caches)
    first, second = _names(demo)[:2]
    _health(demo, sessions, first)
    _, seen = _health(demo, sessions, second)
    assert len(seen) <= HEALTH_BUDGET, "\n\n".join(seen)
    assert len(caches.get(MedianCache)) == 1
    before = _median(sessions)
    opened = datetime.combine(TODAY - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    with db.session_factory(demo)() as session:
        for account_id in _ticket_rows(demo):
            for n in range(30):
                session.add(
                    Ticket(
                        external_id=f"extra-{account_id}-{n}",
                        account_id=account_id,
                        opened_at=opened,
                    )
                )
        session.commit()
    try:
        _, seen = _health(demo, sessions, second)
        assert _tables(seen).count("ticket") == 2, "a new ticket: the median is recomputed"
        _, seen = _health(demo, sessions, second)
        assert len(seen) <= HEALTH_BUDGET
        after = _median(sessions)
        assert after != before
        assert after == _median(db.session_factory(demo))  # what a cold cache computes
        with db.session_factory(demo)() as session:
            session.add(UsageDaily(account_id=1, day=date(2020, 1, 1), active_users=1))
            session.commit()
        _, seen = _health(demo, sessions, second)
        assert _tables(seen).count("usage_daily") == 2, "a new usage row: recomputed"
    finally:
        with db.session_factory(demo)() as session:
            session.execute(delete(Ticket).where(col(Ticket.external_id).like("extra-%")))
            session.execute(delete(UsageDaily).where(col(UsageDaily.day) == date(2020, 1, 1)))
            session.commit()
