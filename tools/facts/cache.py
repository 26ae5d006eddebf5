"""Caches owned by an injected object, not by module globals.

A ``Caches`` object holds one instance of each cache kind (the account-name index, the Muri
portfolio median, ...). ``tools.db.session_factory`` creates one per factory and hands it to
every session it opens (``session.info``), so the sessions of one bot, CLI run or scan share it,
and a new factory (a test, another database) starts cold: nothing to clear between tests. A
session opened without a factory gets its own ``Caches`` that lives as long as the session.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CACHES_KEY = "csbot.caches"

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
