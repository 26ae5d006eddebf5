"""What one ``/health`` report costs in SQL, and that reading several days at once changes
nothing: the metric layer reads each table once per (account set, as-of days)."""

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
from tools.facts.extract import extract_days, extract_raw
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.results import AccountReport
from tools.scoring import reports as scoring
from tools.scoring import scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()
# Statements of the metric layer in one /health report: the stored trend scores, then one
# read of each table for today and the trend days without a snapshot.
METRIC_LAYER_BUDGET = 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "statements", today=TODAY, accounts=16)


def _clear_snapshots(engine: Engine) -> None:
    with db.session_factory(engine)() as session:
        session.execute(delete(ChurnTriggerRecord))
        session.execute(delete(HealthSnapshot))
        session.commit()


def _report(engine: Engine, name: str) -> tuple[AccountReport, list[str]]:
    """``/health <name>`` as the bot runs it (resolve, report, card); the statements the
    report ran (Lean and expansion findings excluded: they have their own readers)."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    sessions = db.session_factory(engine)
    with sessions() as session:
        account = resolve_account(session, query=name)
        assert account.id is not None
        event.listen(engine, "before_cursor_execute", count)
        try:
            report = scoring.account_report(
                session, account_id=account.id, as_of=TODAY, config=CONFIG
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
        blocks.health_report(report)
    return report, seen


@pytest.fixture
def no_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "lean_findings", lambda *a, **k: {})
    monkeypatch.setattr(scoring, "expansion_opportunities", lambda *a, **k: {})


def _names(engine: Engine) -> list[str]:
    with db.session_factory(engine)() as session:
        return list(session.execute(select(col(Account.name)).order_by(col(Account.id))).scalars())


@pytest.mark.usefixtures("no_findings")
def test_health_reads_each_table_once_with_or_without_snapshots(demo: Engine) -> None:
    _clear_snapshots(demo)
    name = _names(demo)[3]
    computed, without = _report(demo, name)
    assert len(without) <= METRIC_LAYER_BUDGET, "\n".join(without)
    # The trend history comes from the same statements as today (nothing read twice).
    tables = [s.split(" FROM ", 1)[1].split()[0] for s in without if " FROM " in s]
    assert len(tables) == len(set(tables)), tables
    assert computed.health.trend_30d is not None
    assert computed.health.trend_90d is not None

    with db.session_factory(demo)() as session:
        for back in (30, 90):
            scan_portfolio(session, as_of=TODAY - timedelta(days=back), config=CONFIG, workers=1)
    stored, with_snapshots = _report(demo, name)
    assert len(with_snapshots) <= len(without)
    # Stored snapshots and the in-pass history give the same trends.
    assert stored.health.trend_30d == computed.health.trend_30d
    assert stored.health.trend_90d == computed.health.trend_90d
    _clear_snapshots(demo)


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
