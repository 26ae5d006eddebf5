"""Scoring throughput and latency on generated demo portfolios.

- full ``scan_portfolio`` (extract + score + churn + snapshot/trigger writes) on 10k and 100k
  accounts x 12 months of history (``SIZES``), then a re-scan of the same day; both with the
  default worker processes (one per core, at most ``MAX_AUTO_WORKERS``), and at 10k also in one
  process (``workers=1``) for comparison;
- single-account latency at 10k: ``health_score_for`` and ``account_report`` (p50/p99).

Demo databases are cached in ``workdir`` (SQLite files); delete them to regenerate (10k x 12
months takes about a minute, 100k x 12 months about ten, and 5 GB of disk).
Targets: scan >= 5,000 accounts/s on 2 cores; ``health_score_for`` < 20 ms.
Opening an older cached database migrates it first (the ticket index of revision 0008 takes a few
seconds at 100k).

Measurement notes: the scan rate counts the accounts with an active contract (the ones that get
a snapshot). The latency samples run after the scan, so ``HealthSnapshot`` rows exist for the
day itself but not 30/90 days before: each call also recomputes the two trend scores. The first
``account_report`` computes the Muri portfolio median (cached per engine and day afterwards).
"""

from __future__ import annotations

import logging
import random
import time
from datetime import date
from pathlib import Path

from sqlalchemy import delete, select
from sqlmodel import col

from bench.common import Measurement, percentile
from tools import db
from tools.demo import generate_demo
from tools.health import health_score_for
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.scoring import account_report, scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 11, 21)
# (accounts, months of history).
SIZES: tuple[tuple[int, int], ...] = ((10_000, 12), (100_000, 12))
LATENCY_SAMPLES = 200

log = logging.getLogger(__name__)


def _database(workdir: Path, accounts: int, months: int) -> db.SessionFactory:
    path = workdir / f"scoring_{accounts}_{months}m.db"
    fresh = not path.exists()
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    if fresh:
        started = time.perf_counter()
        generate_demo(session_factory=sessions, today=TODAY, accounts=accounts, months=months)
        log.info("generated %s in %.0fs", path.name, time.perf_counter() - started)
    return sessions


def _clear_snapshots(sessions: db.SessionFactory) -> None:
    with db.session_scope(sessions) as session:
        session.execute(delete(ChurnTriggerRecord))
        session.execute(delete(HealthSnapshot))


def _timed_scan(
    sessions: db.SessionFactory, day: date, workers: int | None = None
) -> tuple[float, int]:
    config = load_config()
    with sessions() as session:
        started = time.perf_counter()
        report = scan_portfolio(session, as_of=day, config=config, workers=workers)
        return time.perf_counter() - started, report.accounts_scored


def _scan(sessions: db.SessionFactory, label: str, workers: int | None = None) -> list[Measurement]:
    _clear_snapshots(sessions)
    first, n = _timed_scan(sessions, TODAY, workers)
    again, _ = _timed_scan(sessions, TODAY, workers)  # re-scan of the same day: replaces its rows
    how = "" if workers is None else f", {workers} process{'es' if workers > 1 else ''}"
    return [
        Measurement(f"scan {label}{how}", n / first, "accounts/s", f"{n:,} active in {first:.2f}s"),
        Measurement(
            f"re-scan {label}{how}", n / again, "accounts/s", f"{n:,} active in {again:.2f}s"
        ),
    ]


def _latency(sessions: db.SessionFactory, label: str) -> list[Measurement]:
    config = load_config()
    with sessions() as session:
        ids = list(session.execute(select(col(Account.id))).scalars())
        sample = random.Random(7).sample(ids, min(LATENCY_SAMPLES, len(ids)))
        health_ms, report_ms = [], []
        for account_id in sample:
            started = time.perf_counter()
            health_score_for(session, account_id=account_id, as_of=TODAY, config=config)
            health_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            account_report(session, account_id=account_id, as_of=TODAY, config=config)
            report_ms.append((time.perf_counter() - started) * 1000)
    out = []
    for name, samples in (("health_score_for", health_ms), ("account_report", report_ms)):
        for pct in (50, 99):
            out.append(
                Measurement(
                    f"{name} {label} p{pct}",
                    percentile(samples, pct),
                    "ms",
                    f"{len(samples)} accounts, SQLite",
                )
            )
    return out


def run(workdir: Path) -> list[Measurement]:
    """Scan throughput at each size, single-account latency at the smallest."""
    results: list[Measurement] = []
    for n, (accounts, months) in enumerate(SIZES):
        label = f"{accounts // 1000}k x {months}m"
        sessions = _database(workdir, accounts, months)
        results.extend(_scan(sessions, label))
        if n == 0:
            results.extend(_scan(sessions, label, workers=1))
            results.extend(_latency(sessions, label))
    return results
