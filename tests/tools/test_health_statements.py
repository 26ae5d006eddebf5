"""What one whole ``/health`` costs in SQL (lookup, report, Lean, expansion, card), and that
reading several days at once changes nothing: each table is read once per (account set, as-of
days)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, event, select
from sqlmodel import col

from bot import blocks
from tests.utils.demo_db import demo_database
from tools import db
from tools.accounts import resolve_account
from tools.expansion import expansion_opportunities
from tools.facts.extract import extract_days, extract_raw
from tools.lean import lean_findings
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.results import AccountReport
from tools.scoring import reports as scoring
from tools.scoring import scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()
# Statements of one whole /health: the lookup (the account and the data version), the stored
# trend scores, then one read of each table for today, the trend days without a snapshot and
# what Lean and expansion need. The Muri median comes from the session factory's cache.
HEALTH_BUDGET = 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "statements", today=TODAY, accounts=16)


def _clear_snapshots(engine: Engine) -> None:
    with db.session_factory(engine)() as session:
        session.execute(delete(ChurnTriggerRecord))
        session.execute(delete(HealthSnapshot))
        session.commit()


def _sessions(engine: Engine) -> db.SessionFactory:
    """The bot's session factory: its Muri median is cached whatever the portfolio's size."""
    return db.session_factory(engine)


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
