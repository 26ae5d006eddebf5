"""Portfolio scans: score every active account as of a day and store the day's snapshots.

``scan_portfolio`` writes one ``HealthSnapshot`` per account with an active contract on
``as_of`` (churned and not-yet-signed accounts are not snapshotted) and one
``ChurnTriggerRecord`` per fired trigger. Each snapshot also keeps the contract terms the scan
scored with (ARR, seats purchased, plan, renewal date, tenure) for App Home's book. Re-running a
scan for the same day replaces that day's rows, so it is idempotent. It commits.

A large portfolio is scanned by several processes (one per core): each scores a range of account
ids on its own connection; the calling process writes every row, in account order, in one
transaction. The rows are the same as from one process (``tests/tools/test_scoring_parallel``).
"""

from __future__ import annotations

import gc
import logging
import time as clock
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Column,
    Dialect,
    MetaData,
    Table,
    TypeDecorator,
    and_,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from tools import db
from tools.churn import arr_at_risk, assess
from tools.facts.extract import RawMetrics, Reader, extract_raw
from tools.facts.findings import FindingWindows
from tools.health import snapshot_rows
from tools.models import ChurnTriggerRecord, HealthSnapshot, utcnow
from tools.results import Band, BandMix, RiskLevel, Severity
from tools.scoring.processes import gc_paused, id_ranges, mp_context, worker_url
from tools.scoring.reports import LEVEL_RANK
from tools.scoring_config import ScoringConfig

if TYPE_CHECKING:
    from tools.metrics import BookFigures

log = logging.getLogger(__name__)

Progress = Callable[[date, int, int], None]


class ScanReport(BaseModel):
    """What one portfolio scan found and wrote."""

    as_of: date
    accounts_scored: int = Field(description="Accounts with an active contract on as_of.")
    snapshots_written: int
    triggers_written: int
    band_mix: BandMix
    high_risk: int = 0
    medium_risk: int = 0
    arr_at_risk: Decimal = Decimal("0")
    newly_risky: list[int] = Field(
        default_factory=list,
        description="Accounts whose churn level rose (vs their previous snapshot) to medium/high.",
    )
    seconds: float = 0.0


def _previous_levels(session: Session, as_of: date) -> dict[int, str]:
    """Churn level of each account's latest snapshot before ``as_of`` (last 120 days)."""
    # The latest day per account comes from the (account_id, day) index; only those rows are
    # read, not every snapshot of the last 120 days.
    latest = (
        select(
            col(HealthSnapshot.account_id).label("account_id"),
            func.max(col(HealthSnapshot.day)).label("day"),
        )
        .where(
            col(HealthSnapshot.day) < as_of,
            col(HealthSnapshot.day) >= as_of - timedelta(days=120),
        )
        .group_by(col(HealthSnapshot.account_id))
        .subquery()
    )
    stmt = select(col(HealthSnapshot.account_id), col(HealthSnapshot.churn_level)).join(
        latest,
        and_(
            col(HealthSnapshot.account_id) == latest.c.account_id,
            col(HealthSnapshot.day) == latest.c.day,
        ),
    )
    return {int(a): str(level) for a, level in session.execute(stmt).all()}


class _EncodedJSON(TypeDecorator[str]):
    """A JSON column written from text that is already its ``json.dumps`` encoding."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def _encoded_json_table(table: Table) -> Table:
    """``table`` with its JSON columns taking already-encoded text (for inserts only)."""
    columns = [
        Column(
            c.name,
            _EncodedJSON() if isinstance(c.type, JSON) else c.type,
            primary_key=c.primary_key,
        )
        for c in table.columns
    ]
    return Table(table.name, MetaData(), *columns)


_SNAPSHOT_INSERT = insert(_encoded_json_table(HealthSnapshot.__table__))  # type: ignore[attr-defined]
_TRIGGER_INSERT = insert(ChurnTriggerRecord.__table__)  # type: ignore[attr-defined]


_Terms = tuple[float, int, str | None, date | None, int]
"""The contract in force as the scan read it: ARR, seats purchased, plan, renewal, tenure."""
_TERM_COLUMNS = ("arr", "seats_purchased", "plan", "renewal_date", "tenure_days")


def _terms(raw: RawMetrics, position: int) -> _Terms:
    """What App Home's book shows of an account's contract (``tools.home_book``), stored with
    its snapshot: the metric layer's values the scan scored with, not read a second way."""
    return (
        float(raw.arr[position]),
        int(raw.seats_purchased[position]),
        raw.plan[position],
        raw.renewal_date[position],
        int(raw.tenure_days[position]),
    )


@dataclass
class _Scored:
    """The snapshot and trigger rows of some accounts, in account order (picklable).

    snapshots: (account_id, score, band, churn level, signals JSON, drivers JSON, terms);
    triggers: (account_id, key, kind, label, evidence, severity).
    """

    snapshots: list[tuple[int, float, str, str, str, str, _Terms]]
    triggers: list[tuple[int, str, str, str, str, str]]
    arr_at_risk: Decimal
    pipeline: tuple[int, Decimal] | None = None
    """With the team figures: how many expansion opportunities the range's accounts in force
    have and their estimated ARR (``tools.expansion.pipeline_of``)."""


def _score_range(
    reader: Reader,
    as_of: date,
    config: ScoringConfig,
    id_range: tuple[int, int] | None,
    expansion: bool = False,
) -> _Scored:
    """Score the active accounts with ids in ``id_range`` (all accounts for None); with
    ``expansion``, also find their expansion opportunities (the team figures' pipeline), in
    the same process: each range's in its own, in parallel."""
    bulk = expansion and FindingWindows.of(config).in_bulk(config)
    raw = extract_raw(reader, as_of=as_of, config=config, id_range=id_range, findings=bulk)
    rows = snapshot_rows(raw, config, include=raw.active)
    bands: list[Band | None] = [None] * len(raw)
    for position, band in zip(rows.positions, rows.bands, strict=True):
        bands[position] = band
    assessed = assess(raw, config=config, bands=bands, matrix=rows.matrix)
    arr = raw.arr.tolist()
    high, medium = Severity.HIGH.value, Severity.MEDIUM.value
    out = _Scored([], [], Decimal("0"))
    for k, position in enumerate(rows.positions):
        assessment = assessed[position]
        assert assessment is not None
        level, fired = assessment
        account_id = rows.account_ids[k]
        out.snapshots.append(
            (
                account_id,
                rows.scores[k],
                rows.bands[k].value,
                level.value,
                rows.signals[k],
                rows.drivers[k],
                _terms(raw, position),
            )
        )
        out.triggers.extend(
            (account_id, key, kind, label[:256], evidence[:2000], high if severe else medium)
            for key, kind, label, evidence, severe in fired
        )
        if level != RiskLevel.LOW:
            out.arr_at_risk += arr_at_risk(arr[position], level)
    if bulk:  # from the facts the extraction read with the scores: no table read again
        from tools.expansion import pipeline_of

        out.pipeline = pipeline_of(raw.extra["findings"], config=config)
    elif expansion:
        out.pipeline = _expansion(reader, as_of, config, raw.ids.tolist())
    return out


def _expansion(
    reader: Reader, as_of: date, config: ScoringConfig, account_ids: list[int]
) -> tuple[int, Decimal]:
    """The pipeline (count, estimated ARR) of ``expansion_opportunities`` of the accounts the
    scan extracted (those in force), when the portfolio's windows do not hold expansion's
    (``FindingWindows.in_bulk``)."""
    from tools.expansion import expansion_opportunities, pipeline_total

    def pipeline(session: Session) -> tuple[int, Decimal]:
        found = expansion_opportunities(
            session, as_of=as_of, config=config, account_ids=account_ids
        )
        return pipeline_total(found)

    if isinstance(reader, Session):
        return pipeline(reader)
    with Session(bind=reader) as session:  # a worker's connection
        return pipeline(session)


def _score_in_worker(
    url: str, as_of: date, config: ScoringConfig, id_range: tuple[int, int], expansion: bool
) -> _Scored:
    """``_score_range`` in a worker process, on its own engine."""
    gc.disable()  # a short-lived process: the collector would only slow it down
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return _score_range(conn, as_of, config, id_range, expansion)
    finally:
        engine.dispose()


def _book_in_worker(url: str, as_of: date, config: ScoringConfig) -> BookFigures:
    """The team figures' ``book_figures`` in a worker process, on its own engine."""
    from tools.metrics import book_figures

    gc.disable()
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            return book_figures(session, as_of=as_of, config=config)
    finally:
        engine.dispose()


def _score_and_write(
    session: Session, as_of: date, config: ScoringConfig, workers: int | None, expansion: bool
) -> tuple[list[_Scored], BookFigures | None]:
    """Score every active account and write the day's rows (replacing any), in account order.

    In this process, or split by id range across ``workers`` processes: this one scores the
    first range, then writes its rows while the others finish, then theirs. With
    ``expansion`` (the team figures) and worker processes, a worker also computes the
    figures that do not depend on the scores (``tools.metrics.book_figures``) once its range
    is scored, while this process still writes (None: they are computed afterwards).
    """
    ranges = id_ranges(session, workers)
    url = worker_url(session) if ranges else None
    now = utcnow()
    if url is None:
        part = _score_range(session, as_of, config, None, expansion)
        _clear_day(session, as_of)
        _insert(session, as_of, now, part)
        return [part], None
    book: Future[BookFigures] | None = None
    with ProcessPoolExecutor(len(ranges) - 1, mp_context=mp_context()) as pool:
        try:
            futures: list[Future[_Scored] | None] = [
                pool.submit(_score_in_worker, url, as_of, config, r, expansion) for r in ranges[1:]
            ]
            if expansion:  # queued behind the ranges: it runs when a worker is done with one
                book = pool.submit(_book_in_worker, url, as_of, config)
        except OSError:  # no process can be started here
            log.warning("scan: cannot start worker processes; scoring in this one")
            futures = [None] * (len(ranges) - 1)
        parts = [_score_range(session, as_of, config, ranges[0], expansion)]
        _clear_day(session, as_of)
        _insert(session, as_of, now, parts[0])
        for id_range, future in zip(ranges[1:], futures, strict=True):
            parts.append(_collect(future, session, as_of, config, id_range, expansion))
            _insert(session, as_of, now, parts[-1])
        return parts, _book_of(book)


def _book_of(future: Future[BookFigures] | None) -> BookFigures | None:
    """A worker's book figures; None (computed afterwards, in this process) if it died or its
    database read failed (the scan's rows do not depend on them)."""
    if future is None:
        return None
    try:
        return future.result()
    except (BrokenProcessPool, SQLAlchemyError):
        log.warning("scan: the team figures' worker failed; computing them here", exc_info=True)
        return None


def _collect(
    future: Future[_Scored] | None,
    session: Session,
    as_of: date,
    config: ScoringConfig,
    id_range: tuple[int, int],
    expansion: bool,
) -> _Scored:
    """A worker's rows; its range scored here if the worker died (errors it raised propagate)."""
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            log.warning("scan worker for accounts %d-%d died; scoring them here", *id_range)
    return _score_range(session, as_of, config, id_range, expansion)


def _clear_day(session: Session, as_of: date) -> None:
    session.execute(delete(ChurnTriggerRecord).where(col(ChurnTriggerRecord.day) == as_of))
    session.execute(delete(HealthSnapshot).where(col(HealthSnapshot.day) == as_of))


def _insert(session: Session, as_of: date, now: datetime, part: _Scored) -> None:
    snapshots = [
        {
            "account_id": account_id,
            "day": as_of,
            "score": score,
            "band": band,
            "churn_level": level,
            "signals": signals,
            "drivers": drivers,
            "computed_at": now,
            **dict(zip(_TERM_COLUMNS, terms, strict=True)),
        }
        for account_id, score, band, level, signals, drivers, terms in part.snapshots
    ]
    triggers = [
        {
            "account_id": account_id,
            "day": as_of,
            "key": key,
            "kind": kind,
            "label": label,
            "evidence": evidence,
            "severity": severity,
        }
        for account_id, key, kind, label, evidence, severity in part.triggers
    ]
    # Core executemany on the session's connection: no ORM bulk-insert bookkeeping.
    conn = session.connection()
    if snapshots:
        conn.execute(_SNAPSHOT_INSERT, snapshots)
    if triggers:
        conn.execute(_TRIGGER_INSERT, triggers)


def scan_portfolio(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    workers: int | None = None,
    team_figures: bool = False,
) -> ScanReport:
    """Score every active account as of ``as_of``, store the day's snapshots and triggers.

    ``team_figures`` then computes and stores the day's portfolio metrics from this scan (App
    Home's team view, the digest: ``tools.metrics``), so that no reader computes them: the
    daily job and ``csbot scan`` ask for it; back-fills of past days do not.

    ``workers`` is how many processes score (this one included), each a range of account ids
    on its own connection; this process writes every row. None (auto): up to
    ``MAX_AUTO_WORKERS`` (one per core) from ``PARALLEL_MIN_ACCOUNTS`` accounts on, else one.
    The rows are the same either way. One process is used whenever others could not see what
    ``session`` sees (in-memory SQLite, uncommitted writes).
    """
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    started = clock.perf_counter()
    with gc_paused():
        previous = _previous_levels(session, as_of)
        parts, book = _score_and_write(session, as_of, config, workers, team_figures)
        session.commit()
    snapshots = [row for part in parts for row in part.snapshots]
    bands = [row[2] for row in snapshots]
    levels = {row[0]: RiskLevel(row[3]) for row in snapshots}
    newly = [
        a
        for a, level in levels.items()
        if level != RiskLevel.LOW
        and LEVEL_RANK[level] < LEVEL_RANK[RiskLevel(previous.get(a, RiskLevel.LOW.value))]
    ]
    level_list = list(levels.values())
    report = ScanReport(
        as_of=as_of,
        accounts_scored=len(snapshots),
        snapshots_written=len(snapshots),
        triggers_written=sum(len(part.triggers) for part in parts),
        band_mix=BandMix(
            green=bands.count(Band.GREEN.value),
            amber=bands.count(Band.AMBER.value),
            red=bands.count(Band.RED.value),
        ),
        high_risk=level_list.count(RiskLevel.HIGH),
        medium_risk=level_list.count(RiskLevel.MEDIUM),
        arr_at_risk=sum((part.arr_at_risk for part in parts), Decimal("0")),
        newly_risky=sorted(newly),
        seconds=round(clock.perf_counter() - started, 3),
    )
    log.info("scan %s: %d accounts, %d high risk", as_of, report.accounts_scored, report.high_risk)
    if team_figures:
        from tools.metrics import ScannedFigures, store_team_figures  # reads what this writes

        pipelines = [part.pipeline for part in parts if part.pipeline is not None]
        scanned = ScannedFigures(
            states={row[0]: (row[1], Band(row[2]), RiskLevel(row[3])) for row in snapshots},
            pipeline_count=sum(count for count, _ in pipelines),
            pipeline_arr=sum((arr for _, arr in pipelines), Decimal("0")),
            book=book,
        )
        with gc_paused():  # as the scoring: many small objects, freed by reference counting
            store_team_figures(session, as_of=as_of, config=config, scanned=scanned)
    return report


def backfill_snapshots(
    session: Session,
    *,
    start: date,
    end: date,
    step_days: int,
    config: ScoringConfig,
    progress: Progress | None = None,
) -> list[ScanReport]:
    """Scan every ``step_days`` from ``start`` to ``end`` (inclusive), oldest first."""
    if step_days < 1:
        raise ValueError("step_days must be at least 1")
    if end < start:
        raise ValueError("end is before start")
    days = [start + timedelta(days=k) for k in range(0, (end - start).days + 1, step_days)]
    if days[-1] != end:
        days.append(end)
    reports = []
    for n, day in enumerate(days, start=1):
        reports.append(scan_portfolio(session, as_of=day, config=config))
        if progress is not None:
            progress(day, n, len(days))
    return reports
