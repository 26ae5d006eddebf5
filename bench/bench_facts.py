"""The metric layer's costs on the 10k-account demo (targets from issue 12).

- SQL statements one whole ``/health <account>`` runs (resolve the name, the report with its Lean
  and expansion findings, the card), mean and max: target <= 10; the same and the latency for
  accounts still onboarding (their milestones read with the report's rows);
- ``/health`` p99 at 10k (resolve + report + Block Kit card, no Slack): target <= 100 ms;
- App Home at 10k p99 (``bot.router.home_view`` for account owners): target <= 300 ms;
- ``csbot scan`` end to end at 10k (the real CLI command, in process: the scan, its team
  figures, the summary) vs the scoring alone (``scan_portfolio``): target <= 1.5x; each the
  median of ``BENCH_SCAN_RUNS`` (3) interleaved runs;
- with ``BENCH_PG_URL`` set (a PostgreSQL server and a database-name prefix), the scan on
  PostgreSQL at each size of ``BENCH_PG_ACCOUNTS`` (default 10k, 25k, 100k) with
  ``BENCH_PG_MONTHS`` months of history (default 4): time, ms per active account, peak memory,
  load average, and whether the per-account time stays flat (linear); see ``bench.pg_scale``.
  Each size's database is generated with ``COPY`` (``bench.pg_load``) once, then reused.

``BENCH_FACTS_SECTIONS=home,scan`` runs only those sections (health, home, scan, pg).

The 10k database is the one ``bench_slack`` caches (``demo_10k.db``).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, event, func, select
from sqlmodel import col

from bench.bench_slack import TODAY, demo_database
from bench.common import Measurement, percentile
from tools import db
from tools.models import Account
from tools.scoring_config import ScoringConfig, load_config

SAMPLES = 100
HOME_SAMPLES = 30


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _health(sessions: db.SessionFactory, name: str, config: ScoringConfig) -> None:
    """``/health <name>`` as the bot answers it (the config is loaded once, as in ``Deps``)."""
    from bot import blocks
    from tools.accounts import AmbiguousAccount, resolve_account
    from tools.scoring import account_report

    with sessions() as session:
        try:  # held while the report is built, as bot.intents does
            account = resolve_account(session, query=name)
            account_id = account.id
        except AmbiguousAccount as exc:  # before issue 12: exact names could be ambiguous
            account_id = next(c.account_id for c in exc.candidates if c.name == name)
        assert account_id is not None
        report = account_report(session, account_id=account_id, as_of=TODAY, config=config)
        blocks.health_report(report)


def _names(sessions: db.SessionFactory, count: int) -> list[str]:
    with sessions() as session:  # names that are unique (the demo repeats some)
        stmt = select(col(Account.name)).group_by(col(Account.name)).having(func.count() == 1)
        names = list(session.execute(stmt).scalars())
    return random.Random(11).sample(names, min(count, len(names)))


def _health_measurements(engine: Engine, sessions: db.SessionFactory) -> list[Measurement]:
    names = _names(sessions, SAMPLES + 5)
    config = load_config()
    for name in names[:5]:  # warm caches (statements, the name index)
        _health(sessions, name, config)
    statements: list[float] = []
    latencies: list[float] = []
    for name in names[5:]:
        with counted(engine) as seen:
            started = time.perf_counter()
            _health(sessions, name, config)
            latencies.append((time.perf_counter() - started) * 1000)
        statements.append(float(len(seen)))
    p99 = percentile(latencies, 99)
    mean = sum(statements) / len(statements)
    return [
        Measurement(
            "/health SQL statements (whole)",
            mean,
            "stmts",
            f"mean; max {max(statements):.0f}; target <= 10",
        ),
        Measurement("/health 10k p50", percentile(latencies, 50), "ms", "tools + card, SQLite"),
        Measurement("/health 10k p99", p99, "ms", "target <= 100 ms"),
        *_onboarding_health(engine, sessions, config),
    ]


def _onboarding_health(
    engine: Engine, sessions: db.SessionFactory, config: ScoringConfig
) -> list[Measurement]:
    """``/health`` of accounts still onboarding (their milestones are read with the report's
    usage and feature rows, over each account's whole history): statements and latency."""
    from tools.onboarding import onboarding_progress

    with sessions() as session:
        young = onboarding_progress(
            session, as_of=TODAY, config=config.onboarding, only_onboarding=True
        )
    names = _names(sessions, 10**9)
    unique = set(names)
    picked = [p.account for p in young.values() if p.account in unique][:SAMPLES]
    if not picked:
        return []
    statements: list[float] = []
    latencies: list[float] = []
    for name in picked:
        with counted(engine) as seen:
            started = time.perf_counter()
            _health(sessions, name, config)
            latencies.append((time.perf_counter() - started) * 1000)
        statements.append(float(len(seen)))
    mean = sum(statements) / len(statements)
    note = f"mean of {len(picked)} onboarding accounts; max {max(statements):.0f}"
    return [
        Measurement("/health SQL statements (onboarding)", mean, "stmts", note),
        Measurement("/health onboarding p50", percentile(latencies, 50), "ms", "SQLite"),
        Measurement("/health onboarding p99", percentile(latencies, 99), "ms", "SQLite"),
    ]


def _deps(path: Path, sessions: db.SessionFactory) -> Any:
    from bot.config import Settings
    from bot.deps import Deps

    settings = Settings().model_copy(update={"database_url": f"sqlite:///{path}"})
    noon = datetime.combine(TODAY, dtime(12), tzinfo=UTC)
    clock: Callable[[], datetime] = lambda: noon  # noqa: E731
    return Deps(settings=settings, sessions=sessions, clock=clock, config=load_config())


def _home_measurements(path: Path, sessions: db.SessionFactory) -> list[Measurement]:
    """App Home as CSMs see it: after the morning's scan as the daily job runs it (here, so
    that the rows are what the current code stores), in a process whose startup heap is frozen
    as ``csbot serve`` does. The first open after the scan is reported on its own."""
    from bot.router import home_view
    from bot.serve import settle_heap
    from tools.models_cache import PortfolioMetricsRecord
    from tools.scoring import scan_portfolio

    with sessions() as session:
        owners = [
            o
            for o in session.execute(select(col(Account.owner_slack_id)).distinct()).scalars()
            if o
        ]
        session.execute(delete(PortfolioMetricsRecord))  # none left from an earlier run
        session.commit()
        scan_portfolio(session, as_of=TODAY, config=load_config(), team_figures=True)
    deps = _deps(path, sessions)
    settle_heap()
    sample = [random.Random(5).choice(owners) for _ in range(HOME_SAMPLES + 3)]
    latencies = []
    first = 0.0
    for k, owner in enumerate(sample):
        started = time.perf_counter()
        home_view(owner, deps)
        elapsed = (time.perf_counter() - started) * 1000
        if k == 0:
            first = elapsed
        if k >= 3:
            latencies.append(elapsed)
    books = f"{len(owners)} owners, ~{10_000 // max(len(owners), 1):,} accounts each"
    return [
        Measurement("App Home 10k first open after the scan", first, "ms", "scan stored figures"),
        Measurement("App Home 10k p50", percentile(latencies, 50), "ms", books),
        Measurement("App Home 10k p99", percentile(latencies, 99), "ms", "target <= 300 ms"),
    ]


def _scan_measurements(path: Path, sessions: db.SessionFactory) -> list[Measurement]:
    """The scoring alone and ``csbot scan`` end to end, ``BENCH_SCAN_RUNS`` times each (3),
    interleaved; the medians and their ratio (one run of either varies by a third on a shared
    machine)."""
    from typer.testing import CliRunner

    from bot.cli import app
    from tools.scoring import scan_portfolio

    config = load_config()
    env = {"SLACK_BOT_TOKEN": "", "DATABASE_URL": f"sqlite:///{path}"}
    runs = max(1, int(os.environ.get("BENCH_SCAN_RUNS", "3")))
    scoring: list[float] = []
    end_to_end: list[float] = []
    for _ in range(runs):
        with sessions() as session:
            started = time.perf_counter()
            scan_portfolio(session, as_of=TODAY, config=config)
            scoring.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = CliRunner().invoke(
            app, ["scan", "--date", TODAY.isoformat(), "--db", str(path)], env=env
        )
        end_to_end.append(time.perf_counter() - started)
        if result.exit_code != 0:
            raise RuntimeError(f"csbot scan failed: {result.output}")
    alone, whole = statistics.median(scoring), statistics.median(end_to_end)
    spread = f"median of {runs}; runs {min(scoring):.2f}-{max(scoring):.2f} s"
    return [
        Measurement("scan 10k scoring alone", alone, "s", f"scan_portfolio, {spread}"),
        Measurement(
            "csbot scan 10k end to end",
            whole,
            "s",
            f"CLI in process, median of {runs}; runs {min(end_to_end):.2f}-{max(end_to_end):.2f} s",
        ),
        Measurement("csbot scan / scoring", whole / alone, "x", "target <= 1.5x"),
    ]


SECTIONS = ("health", "home", "scan", "pg")


def sections() -> list[str]:
    """The sections to run: ``BENCH_FACTS_SECTIONS`` (comma-separated, e.g. ``home,scan``),
    else all of them (``pg`` only with ``BENCH_PG_URL``)."""
    chosen = os.environ.get("BENCH_FACTS_SECTIONS", "")
    names = [n.strip() for n in chosen.split(",") if n.strip()] or list(SECTIONS)
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"BENCH_FACTS_SECTIONS: unknown {unknown}; choose from {SECTIONS}")
    return names


def run(workdir: Path) -> list[Measurement]:
    """SQL count and latency of /health, App Home latency, scan end to end vs scoring."""
    chosen = sections()
    results: list[Measurement] = []
    if {"health", "home", "scan"} & set(chosen):
        path = demo_database(workdir)
        engine = db.make_engine(f"sqlite:///{path}")
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        if "health" in chosen:
            results += _health_measurements(engine, sessions)
        if "home" in chosen:
            results += _home_measurements(path, sessions)
        if "scan" in chosen:
            results += _scan_measurements(path, sessions)
        engine.dispose()
    pg_url = os.environ.get("BENCH_PG_URL")
    if pg_url and "pg" in chosen:
        from bench.pg_scale import measure

        results += measure(pg_url, TODAY)
    return results
