"""A scan split across worker processes stores exactly what a one-process scan stores.

The parallel path (account-id ranges scored by other processes, rows written by the caller)
must give the same snapshots (scores, bands, churn levels, signals and drivers JSON), the same
trigger rows, in the same order, and the same report; and it must fall back to one process when
other connections could not see what the caller's session sees.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import date, timedelta
from typing import Any, NoReturn

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from tests.utils.factories import make_account, make_contract
from tools import db
from tools.db import SessionFactory
from tools.demo import generate_demo
from tools.models import ChurnTriggerRecord, HealthSnapshot
from tools.models_cache import PortfolioMetricsRecord
from tools.results import PortfolioMetrics
from tools.scoring import ScanReport, processes, scan_portfolio
from tools.scoring import scan as scoring
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
DAYS = (TODAY - timedelta(days=35), TODAY)
CONFIG = load_config()


@pytest.fixture
def demo(sessions: SessionFactory) -> None:
    generate_demo(session_factory=sessions, today=TODAY, accounts=60, months=5)


def stored(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every snapshot and trigger row, in insertion (id) order, as stored (JSON as text)."""
    snapshots = session.execute(
        text(
            "SELECT account_id, day, score, band, churn_level, "
            "CAST(signals AS TEXT), CAST(drivers AS TEXT) FROM health_snapshot ORDER BY id"
        )
    ).all()
    triggers = session.execute(
        select(
            col(ChurnTriggerRecord.account_id),
            col(ChurnTriggerRecord.day),
            col(ChurnTriggerRecord.key),
            col(ChurnTriggerRecord.kind),
            col(ChurnTriggerRecord.label),
            col(ChurnTriggerRecord.evidence),
            col(ChurnTriggerRecord.severity),
        ).order_by(col(ChurnTriggerRecord.id))
    ).all()
    return [tuple(r) for r in snapshots], [tuple(r) for r in triggers]


def clear(sessions: SessionFactory) -> None:
    with db.session_scope(sessions) as s:
        s.execute(delete(ChurnTriggerRecord))
        s.execute(delete(HealthSnapshot))


def scan_days(sessions: SessionFactory, workers: int) -> list[dict[str, Any]]:
    """Scan ``DAYS`` (and the last one again: a re-scan replaces its rows); the reports."""
    reports: list[ScanReport] = []
    with sessions() as s:
        for day in (*DAYS, DAYS[-1]):
            reports.append(scan_portfolio(s, as_of=day, config=CONFIG, workers=workers))
    return [r.model_dump(exclude={"seconds"}) for r in reports]


def spy_ranges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int] | None]:
    """The id ranges this process scores (a worker's are scored elsewhere)."""
    seen: list[tuple[int, int] | None] = []
    score_range = scoring._score_range

    def spy(
        reader: Any,
        as_of: date,
        config: Any,
        id_range: tuple[int, int] | None,
        expansion: bool = False,
    ) -> Any:
        seen.append(id_range)
        return score_range(reader, as_of, config, id_range, expansion)

    monkeypatch.setattr(scoring, "_score_range", spy)
    return seen


def test_two_workers_store_what_one_process_stores(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = scan_days(sessions, workers=1)
    with sessions() as s:
        expected = stored(s)
    clear(sessions)
    seen = spy_ranges(monkeypatch)
    two = scan_days(sessions, workers=2)
    with sessions() as s:
        got = stored(s)
    # This process scored only the first range of each scan: a worker scored the rest.
    assert len(seen) == 3
    assert all(r is not None for r in seen)
    assert got == expected
    assert two == one
    snapshots, triggers = expected
    assert len(snapshots) == one[0]["accounts_scored"] + one[1]["accounts_scored"] > 0
    assert triggers
    assert one[-1]["high_risk"] + one[-1]["medium_risk"] > 0


def test_other_start_methods_give_the_same_rows(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spawn`` (like ``forkserver``, used when other threads run) imports the worker afresh,
    the team figures' worker too."""
    from tools import metrics

    with sessions() as s:
        one = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=1)
        expected = stored(s)
        alone = metrics.compute_portfolio_metrics(s, as_of=TODAY, config=CONFIG)  # snapshots
    monkeypatch.setattr(scoring, "mp_context", lambda: multiprocessing.get_context("spawn"))
    with sessions() as s:
        two = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=2, team_figures=True)
        assert stored(s) == expected
        payload = s.execute(select(col(PortfolioMetricsRecord.payload))).scalar_one()
    assert two.model_dump(exclude={"seconds"}) == one.model_dump(exclude={"seconds"})
    assert PortfolioMetrics.model_validate(payload) == alone


def _die(*args: object) -> NoReturn:
    os._exit(3)


def test_a_dead_worker_s_accounts_are_scored_here(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as s:
        one = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=1)
        expected = stored(s)
    seen = spy_ranges(monkeypatch)
    monkeypatch.setattr(scoring, "_score_in_worker", _die)
    with sessions() as s:
        two = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=2)
        assert stored(s) == expected
    assert len(seen) == 2  # both ranges, in this process
    assert all(r is not None for r in seen)
    assert two.model_dump(exclude={"seconds"}) == one.model_dump(exclude={"seconds"})


def test_uncommitted_writes_keep_the_scan_in_one_process(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_ranges(monkeypatch)
    with sessions() as s:
        account = make_account(s, name="uncommitted", external_id="uncommitted")
        make_contract(
            s, account=account, start=TODAY - timedelta(days=100), end=TODAY + timedelta(days=200)
        )
        s.flush()  # written in this transaction only: other connections cannot see it
        report = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=2)
        ids = set(
            s.execute(
                select(col(HealthSnapshot.account_id)).where(col(HealthSnapshot.day) == TODAY)
            ).scalars()
        )
    assert seen == [None]
    assert account.id in ids
    assert report.accounts_scored == len(ids)


def test_small_portfolios_and_bad_worker_counts(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_ranges(monkeypatch)
    with sessions() as s:
        scan_portfolio(s, as_of=TODAY, config=CONFIG)  # auto: 60 accounts, one process
        with pytest.raises(ValueError, match="workers"):
            scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=0)
    assert seen == [None]


def test_in_memory_sqlite_is_not_shared() -> None:
    engine = db.make_engine("sqlite://")
    db.upgrade(engine)
    with db.session_factory(engine)() as s:
        assert processes.worker_url(s) is None
    engine.dispose()


@pytest.mark.parametrize("workers", [1, 2])
def test_team_figures_from_the_scan_equal_the_metrics_computed_alone(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The scan's team figures (its own rows, the expansion pipeline each process found for
    its range, the book figures a worker computed) are the portfolio metrics computed from
    the data, and no expansion reader runs after the scan."""
    from tools import metrics

    seen = spy_ranges(monkeypatch)
    books: list[date] = []  # the book figures computed in this process
    book_figures = metrics.book_figures

    def spy_book(session: Session, *, as_of: date, config: Any) -> Any:
        books.append(as_of)
        return book_figures(session, as_of=as_of, config=config)

    monkeypatch.setattr(metrics, "book_figures", spy_book)
    with sessions() as s:
        scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=workers, team_figures=True)
        payload = s.execute(
            select(col(PortfolioMetricsRecord.payload)).where(
                col(PortfolioMetricsRecord.day) == TODAY
            )
        ).scalar_one()
    assert len(seen) == 1  # with two workers, the other range was scored (and its
    # opportunities found) in the worker process, and so were the book figures
    assert books == ([TODAY] if workers == 1 else [])
    with sessions() as s:
        alone = metrics.compute_portfolio_metrics(s, as_of=TODAY, config=CONFIG)
    assert alone.expansion_pipeline_count > 0, "the demo has expansion opportunities"
    assert alone.renewals[-1].arr_at_risk > 0, "and renewals at risk"
    assert PortfolioMetrics.model_validate(payload) == alone


def test_the_scan_finds_no_expansion_again_for_the_team_figures(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools import metrics

    def unexpected(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the team figures re-read expansion")

    monkeypatch.setattr(metrics, "expansion_opportunities", unexpected)
    monkeypatch.setattr(metrics, "latest_states", unexpected)
    monkeypatch.setattr(scoring, "_expansion", unexpected)  # found from the scan's own reads
    with sessions() as s:
        scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=1, team_figures=True)
        assert s.execute(select(func.count()).select_from(PortfolioMetricsRecord)).scalar() == 1


def _book_read_fails(*args: object) -> NoReturn:
    raise OperationalError("SELECT 1", {}, Exception("database is locked"))


def test_a_failed_team_figures_worker_leaves_them_to_this_process(
    sessions: SessionFactory, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The book figures' worker failing (a read error) costs the scan nothing: its rows are
    written and the figures computed here, the same as alone."""
    from tools import metrics

    monkeypatch.setattr(scoring, "_book_in_worker", _book_read_fails)
    with sessions() as s:
        report = scan_portfolio(s, as_of=TODAY, config=CONFIG, workers=2, team_figures=True)
        payload = s.execute(select(col(PortfolioMetricsRecord.payload))).scalar_one()
    with sessions() as s:  # from the scan's snapshots
        alone = metrics.compute_portfolio_metrics(s, as_of=TODAY, config=CONFIG)
    assert report.accounts_scored > 0
    assert PortfolioMetrics.model_validate(payload) == alone
