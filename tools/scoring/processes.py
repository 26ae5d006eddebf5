"""Where a scan's work runs: how many processes, which account ids each scores, how they start.

A worker process opens its own connection from ``worker_url``: only when it can see what the
scanning session sees (a file or server database, nothing uncommitted). The cyclic garbage
collector is paused while a scan allocates its many short-lived objects (``gc_paused``).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session, col

from tools.models import Account

# Auto mode: below this many accounts one process scores (starting others would cost more).
PARALLEL_MIN_ACCOUNTS = 2_000
MAX_AUTO_WORKERS = 2


def worker_url(session: Session) -> str | None:
    """The URL other processes can open to read what ``session`` sees, or None.

    None for in-memory SQLite, other backends, and a session with uncommitted writes (other
    connections would not see them).
    """
    if session.new or session.dirty or session.deleted:
        return None
    url = session.get_bind().engine.url
    backend = url.get_backend_name()
    conn = session.connection()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or url.query.get("mode") == "memory":
            return None
        if getattr(conn.connection.dbapi_connection, "in_transaction", True):
            return None
        url = url.set(database=str(Path(database).resolve()))
    elif backend == "postgresql":
        if conn.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is not None:
            return None
    else:
        return None
    return url.render_as_string(hide_password=False)


def cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def id_ranges(session: Session, workers: int | None) -> list[tuple[int, int]]:
    """Account-id ranges with about as many accounts each, one per process (one: no split)."""
    accounts = int(session.execute(select(func.count()).select_from(Account)).scalar_one())
    if workers is None:
        workers = min(MAX_AUTO_WORKERS, cpus()) if accounts >= PARALLEL_MIN_ACCOUNTS else 1
    workers = min(workers, accounts)
    if workers <= 1:
        return []
    ids = select(col(Account.id)).order_by(col(Account.id)).limit(1)
    starts = [
        int(session.execute(ids.offset(k * accounts // workers)).scalar_one())
        for k in range(workers)
    ]
    last = int(session.execute(select(func.max(col(Account.id)))).scalar_one())
    ends = [s - 1 for s in starts[1:]] + [last]
    return list(zip(starts, ends, strict=True))


def mp_context() -> BaseContext:
    """``fork`` when it is safe (no other thread), else ``forkserver`` or ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tools.scoring.scan"])
        return context
    return multiprocessing.get_context("spawn")


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while: a scan allocates many small objects and
    frees them by reference counting; the collector's passes cost a third of its time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
