"""Caches owned by an injected object, not by module globals.

A ``Caches`` object holds one instance of each cache kind (the account-name index, the Muri
portfolio median, ...). ``tools.db.session_factory`` creates one per factory and hands it to
every session it opens (``session.info``), so the sessions of one bot, CLI run or scan share it,
and a new factory (a test, another database) starts cold: nothing to clear between tests. A
session opened without a factory gets its own ``Caches`` that lives as long as the session.

``DataVersion`` is the cheap freshness signature they share: the account lookup reads it with
the account row (``tools.accounts``) and the Muri median cache reuses it in the same
transaction (``tools.facts.tickets``), so a ``/health`` checks its caches without a statement
of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CACHES_KEY = "csbot.caches"
VERSION_KEY = "csbot.data_version"

T = TypeVar("T")


class Caches:
    """One instance per cache kind (a class with a no-argument constructor), made on first use.

    ``Caches(MedianCache(min_usage_rows=0))`` presets a kind with other settings.
    """

    def __init__(self, *preset: object) -> None:
        self._lock = threading.Lock()
        self._slots: dict[type, object] = {type(item): item for item in preset}

    def get(self, kind: type[T]) -> T:
        """The cache of ``kind``, created with ``kind()`` the first time it is asked for."""
        with self._lock:
            found = self._slots.get(kind)
            if found is None:
                found = self._slots[kind] = kind()
            return cast(T, found)


def caches_of(session: Session) -> Caches:
    """The caches ``session`` was opened with, or (first call) a new set kept on the session."""
    found = session.info.get(CACHES_KEY)
    if not isinstance(found, Caches):
        found = session.info[CACHES_KEY] = Caches()
    return found


class DataVersion(NamedTuple):
    """Newest account, ticket and usage ids: each an index read, they change when rows are
    appended (the freshness signature the injected caches check their entries against)."""

    accounts: int
    tickets: int
    usage: int


def version_columns() -> list[Any]:
    """The ``DataVersion`` as three scalar subqueries, to read along with another statement."""
    from sqlalchemy import func, select

    from tools.models import Account, Ticket, UsageDaily

    return [select(func.max(table.id)).scalar_subquery() for table in (Account, Ticket, UsageDaily)]


def remember_version(session: Session, values: Sequence[Any]) -> DataVersion:
    """Keep the ``DataVersion`` just read by ``session`` for the rest of its transaction."""
    version = DataVersion(*(int(v or 0) for v in values))
    session.info[VERSION_KEY] = (session.get_transaction(), version)
    return version


def known_version(session: Session) -> DataVersion | None:
    """The ``DataVersion`` this session read in its current transaction, if any (a ``/health``
    reads it with the account it resolves: later caches of the request reuse it)."""
    found = session.info.get(VERSION_KEY)
    if not isinstance(found, tuple) or found[0] is None:
        return None
    transaction, version = found
    return version if transaction is session.get_transaction() else None
