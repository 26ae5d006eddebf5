"""Fast PostgreSQL bench data: the demo generator's rows, written with ``COPY`` instead of
``INSERT``.

``generate_demo`` builds the rows (same plan, same seed, same rows as ``csbot demo``); only
``copy_writer`` differs from its default writer: each batch of rows goes to the server in one
``COPY table (columns) FROM STDIN`` through psycopg's copy API, on the session's own connection
and transaction. The demo's rows name every column but the serial ids, which the server fills
as it does for an insert (``tests/bench/test_pg_load.py`` checks the rows are the same).

``load_pg(url, accounts=..., months=...)`` upgrades the database and fills it (once: a database
that already holds accounts is kept). Used by ``bench_facts``'s ``pg`` section and
``tests/bench/test_pg_load.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, Table, event
from sqlmodel import Session

from tools import db
from tools.demo import DemoReport, count_accounts, generate_demo
from tools.demo_facts import sql_table
from tools.demo_rows import Row


def copy_writer(session: Session, table_name: str, rows: Sequence[Row]) -> int:
    """Write ``rows`` into ``table_name`` with one ``COPY ... FROM STDIN``; return the count.

    Every row has the keys of the first (as ``generate_demo``'s rows do).
    """
    if not rows:
        return 0
    table: Table = sql_table(table_name)
    names = list(rows[0])
    quoted = ", ".join(f'"{name}"' for name in names)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[k] for k in names])
    return len(rows)


def _skip_fk_checks(engine: Engine) -> None:
    """Superuser only: the engine's new connections skip the per-row foreign-key triggers
    (``session_replication_role = replica``), which cost half the load. The rows are the demo
    generator's, whose references hold (the default writer loads them with the checks on)."""
    with engine.connect() as conn:
        superuser = conn.exec_driver_sql("SHOW is_superuser").scalar() == "on"
    if not superuser:
        return

    def replica(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        dbapi_connection.commit()

    event.listen(engine, "connect", replica)
    engine.dispose()  # pooled connections were opened without it


def load_pg(
    url: str, *, accounts: int, months: int, today: date, seed: int = 42
) -> DemoReport | None:
    """Upgrade the PostgreSQL database at ``url`` and fill it with the demo portfolio written
    by ``copy_writer``; None (nothing written) when it already holds accounts."""
    engine = db.make_engine(url)
    if engine.dialect.name != "postgresql":
        raise ValueError(f"the COPY loader needs PostgreSQL, not {engine.dialect.name}")
    try:
        db.upgrade(engine)
        sessions = db.session_factory(engine)
        with sessions() as session:
            if count_accounts(session):
                return None
        _skip_fk_checks(engine)
        started = time.perf_counter()
        report = generate_demo(
            session_factory=sessions,
            today=today,
            accounts=accounts,
            months=months,
            seed=seed,
            writer=copy_writer,
        )
        with engine.connect() as conn:  # fresh planner statistics for the scan
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        report.seconds = time.perf_counter() - started
        return report
    finally:
        engine.dispose()
