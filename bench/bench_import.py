"""Import 1M raw product events (plus the accounts and features they reference) into SQLite.

The generated files are cached in ``workdir/import_1m/``; each run imports them into a fresh
SQLite file and reports the wall time and the event rows per second.
"""

from __future__ import annotations

import csv
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Measurement
from tools import db
from tools.importer import import_directory

EVENT_ROWS = 1_000_000
ACCOUNTS = 200
USERS_PER_ACCOUNT = 40
DAYS = 180
FEATURES = {
    "dashboards": ["dashboard_viewed", "dashboard_created"],
    "reports": ["report_run"],
    "alerts": ["alert_created"],
    "exports": ["export_csv", "export_pdf"],
    "sso": ["sso_login"],
    "api": ["api_call"],
    "workflows": ["workflow_run"],
    "comments": ["comment_added"],
}
EVENT_NAMES = ["login", "page_view", *(n for names in FEATURES.values() for n in names)]
START = datetime(2025, 1, 1, tzinfo=UTC)


def generate(directory: Path, *, rows: int = EVENT_ROWS, seed: int = 7) -> Path:
    """Write accounts.csv, features.csv and an events.csv of ``rows`` rows (cached)."""
    events = directory / "events.csv"
    if events.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with (directory / "accounts.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "segment"])
        for i in range(ACCOUNTS):
            writer.writerow([f"acct-{i:04d}", f"Account {i}", "mid-market"])
    with (directory / "features.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "name", "events"])
        for key, names in FEATURES.items():
            writer.writerow([key, key.title(), "|".join(names)])
    partial = events.with_suffix(".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "timestamp", "event", "user_id", "quantity"])
        span = DAYS * 86_400
        for _ in range(rows):
            account = rng.randrange(ACCOUNTS)
            when = START + timedelta(seconds=rng.randrange(span))
            writer.writerow(
                [
                    f"acct-{account:04d}",
                    when.isoformat().replace("+00:00", "Z"),
                    rng.choice(EVENT_NAMES),
                    f"u-{account}-{rng.randrange(USERS_PER_ACCOUNT)}",
                    "" if rng.random() < 0.9 else rng.randrange(1, 5),
                ]
            )
    partial.rename(events)
    return directory


def run(workdir: Path) -> list[Measurement]:
    """Time one import of the cached 1M-event data set into a fresh SQLite file."""
    data = generate(workdir / "import_1m")
    target = workdir / "import_1m.db"
    for stale in workdir.glob("import_1m.db*"):
        stale.unlink()
    engine = db.make_engine(f"sqlite:///{target}")
    db.upgrade(engine)
    started = time.perf_counter()
    report = import_directory(sessions=db.session_factory(engine), directory=data)
    seconds = time.perf_counter() - started
    engine.dispose()
    usage = report.counts["usage_daily"].inserted
    feature_usage = report.counts["feature_usage"].inserted
    notes = (
        f"{report.event_rows:,} events -> {usage:,} usage_daily + {feature_usage:,} feature_usage"
    )
    return [
        Measurement("import 1M events (SQLite)", seconds, "s", notes),
        Measurement("import 1M events rate", report.event_rows / seconds, "rows/s"),
    ]
