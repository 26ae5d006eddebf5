"""The portfolio scan on PostgreSQL at several sizes, and whether its cost is linear.

``BENCH_PG_URL`` names a server and a database-name prefix (``postgresql://u@host/bench_pg``):
each size of ``BENCH_PG_ACCOUNTS`` (comma-separated, default ``10000,25000,100000``) gets its
own database ``<prefix>_<N>k_<months>m``, created and filled by ``bench.pg_load`` (COPY) when
missing, reused when it holds the accounts. ``BENCH_PG_MONTHS`` (default 4) months of history.

Each scan (``scan_portfolio``, as ``csbot scan`` runs it: parallel workers and the day's team
figures included) runs in a fresh process, so its peak memory (``ru_maxrss`` of that process
and of its workers) is its own. The load average is read before and after each scan: the
numbers are only comparable at similar load. Linear means the time per active account stays
flat as the portfolio grows: the ratio of each size's per-account time to the smallest size's
is reported.
"""

from __future__ import annotations

import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.common import Measurement
from bench.pg_load import load_pg
from tools import db
from tools.models import Account

DEFAULT_SIZES = "10000,25000,100000"
DEFAULT_MONTHS = "4"
# Per-account time of a larger size over the smallest's: up to this counts as linear.
LINEAR_RATIO = 1.3


@dataclass
class ScanRun:
    """One scan in its own process."""

    accounts: int
    seconds: float
    scored: int
    rss_mb: float  # peak resident memory of the scanning process
    workers_rss_mb: float  # the largest peak of its worker processes (0: none ran)
    load_before: float
    load_after: float

    @property
    def ms_per_account(self) -> float:
        return self.seconds / max(self.scored, 1) * 1000


def database_url(base: str, accounts: int, months: int) -> str:
    """The database of one size: ``<prefix>_<N>k_<months>m`` on the server of ``base``."""
    url = make_url(db.normalise_url(base))
    name = f"{url.database or 'bench_pg'}_{accounts / 1000:g}k_{months}m".replace(".", "_")
    return url.set(database=name).render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database of ``url`` on its server if it does not exist."""
    target = make_url(url)
    admin = db.make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": target.database}
            ).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        admin.dispose()


def _accounts_in(url: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Account)).scalar_one())
    finally:
        engine.dispose()


def _scan_in_this_process(url: str, accounts: int, as_of: date) -> ScanRun:
    """``scan_portfolio`` of the database at ``url``; run in a fresh process by ``scan_run``."""
    from tools.scoring import scan_portfolio
    from tools.scoring_config import load_config

    config = load_config()
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    load_before = os.getloadavg()[0]
    try:
        with sessions() as session:
            started = time.perf_counter()
            report = scan_portfolio(session, as_of=as_of, config=config, team_figures=True)
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    kib = 1024  # ru_maxrss is in KiB on Linux
    return ScanRun(
        accounts=accounts,
        seconds=seconds,
        scored=report.accounts_scored,
        rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
        workers_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )


def scan_run(url: str, accounts: int, as_of: date) -> ScanRun:
    """One scan in a fresh process (its peak memory is then its own)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_scan_in_this_process, url, accounts, as_of).result()


def sizes() -> tuple[list[int], int]:
    """The sizes (``BENCH_PG_ACCOUNTS``) and months (``BENCH_PG_MONTHS``) to measure."""
    raw = os.environ.get("BENCH_PG_ACCOUNTS", DEFAULT_SIZES)
    counts = sorted({int(n) for n in raw.split(",") if n.strip()})
    return counts, int(os.environ.get("BENCH_PG_MONTHS", DEFAULT_MONTHS))


def measure(base_url: str, as_of: date) -> list[Measurement]:
    """Generate (when missing) and scan each size; then the linearity verdict."""
    counts, months = sizes()
    results: list[Measurement] = []
    runs: list[ScanRun] = []
    for accounts in counts:
        url = database_url(base_url, accounts, months)
        ensure_database(url)
        label = f"{accounts / 1000:g}k x {months} months"
        load = os.getloadavg()[0]
        report = load_pg(url, accounts=accounts, months=months, today=as_of)
        if report is not None:
            results.append(
                Measurement(
                    f"PG bench data {label} (COPY)",
                    report.seconds,
                    "s",
                    f"{report.total_rows:,} rows, load {load:.1f}",
                )
            )
        have = _accounts_in(url)
        if have != accounts:
            raise SystemExit(f"{url} holds {have} accounts, not {accounts}: drop it to rebuild")
        run = scan_run(url, accounts, as_of)
        runs.append(run)
        results.append(
            Measurement(
                f"scan {label} PostgreSQL",
                run.seconds,
                "s",
                f"{run.ms_per_account:.2f} ms/account ({run.scored:,} active); peak RSS "
                f"{run.rss_mb:,.0f} MB, workers {run.workers_rss_mb:,.0f} MB; "
                f"load {run.load_before:.1f}->{run.load_after:.1f}",
            )
        )
    if len(runs) > 1:
        results.append(linearity(runs))
    return results


def linearity(runs: list[ScanRun]) -> Measurement:
    """The largest ratio of per-account time to the smallest size's, and the verdict."""
    base = runs[0]
    ratios = [(r.accounts, r.ms_per_account / base.ms_per_account) for r in runs[1:]]
    worst = max(ratio for _, ratio in ratios)
    verdict = "linear" if worst <= LINEAR_RATIO else "NOT linear"
    detail = ", ".join(f"{n / 1000:g}k {ratio:.2f}x" for n, ratio in ratios)
    return Measurement(
        "scan PostgreSQL per-account time vs smallest",
        worst,
        "x",
        f"{verdict} (<= {LINEAR_RATIO}x): {detail} of {base.accounts / 1000:g}k",
    )
