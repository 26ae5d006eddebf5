"""Caches are injected objects (``tools.facts.Caches``), not module globals: a session factory's
sessions share them, another factory starts cold, and expiry follows the clock they are given."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from tools import db
from tools.accounts import AccountIndexCache, AccountNotFound, resolve_account
from tools.facts import Caches, MedianCache, caches_of
from tools.models import Account


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def index_reads(engine: Engine) -> Iterator[list[str]]:
    """The statements that read the whole account table (the name index being built)."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        sql = str(args[2])
        if "FROM account" in sql and "WHERE" not in sql and "count(" not in sql.lower():
            seen.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _add(sessions: db.SessionFactory, names: dict[str, str]) -> None:
    with sessions() as session:
        for external_id, name in names.items():
            session.add(Account(external_id=external_id, name=name))
        session.commit()


def test_one_instance_per_kind_and_presets_win() -> None:
    preset = MedianCache(size=4)
    caches = Caches(preset)
    assert caches.get(MedianCache) is preset
    assert caches.get(AccountIndexCache) is caches.get(AccountIndexCache)


def test_a_factory_shares_its_caches_and_another_starts_cold(sqlite_engine: Engine) -> None:
    first = db.session_factory(sqlite_engine)
    _add(first, {"acme": "Acme Corp", "globex": "Globex GmbH"})
    with index_reads(sqlite_engine) as reads:
        with first() as session:
            assert resolve_account(session, query="acme").external_id == "acme"
        with first() as session:  # a new session of the same factory: the index is reused
            assert resolve_account(session, query="globex").external_id == "globex"
        assert len(reads) == 1
        with db.session_factory(sqlite_engine)() as session:  # another factory: its own index
            assert resolve_account(session, query="acme").external_id == "acme"
        assert len(reads) == 2
    with first() as a, first() as b:
        assert caches_of(a) is caches_of(b)
    with Session(sqlite_engine) as loose:  # no factory: caches of its own, kept on the session
        assert caches_of(loose) is caches_of(loose)


def test_the_name_index_expires_on_the_injected_clock(sqlite_engine: Engine) -> None:
    clock = Clock()
    sessions = db.session_factory(sqlite_engine, caches=Caches(AccountIndexCache(clock=clock)))
    _add(sessions, {"acme": "Acme Corp"})
    with index_reads(sqlite_engine) as reads, sessions() as session:
        resolve_account(session, query="acme")
        clock.now = 59.0
        resolve_account(session, query="acme")
        assert len(reads) == 1
        clock.now = 61.0  # past the 60 s TTL: rebuilt (a same-length rename would be seen)
        resolve_account(session, query="acme")
        assert len(reads) == 2


def test_a_median_entry_needs_the_same_rows_and_an_unexpired_clock() -> None:
    clock = Clock()
    cache = MedianCache(ttl_seconds=300.0, clock=clock)
    key = (date(2026, 6, 30), 90, 28)
    cache.put(key, (5, 10), 0.25)
    assert cache.get(key, (5, 10)) == (True, 0.25)
    assert cache.get(key, (6, 10)) == (False, None), "a ticket was added since"
    assert cache.get(key, (5, 11)) == (False, None), "a usage row was added since"
    clock.now = 300.0
    assert cache.get(key, (5, 10)) == (False, None), "expired"


def test_a_lookup_reads_no_name_index_yet_sees_added_and_renamed_accounts(
    sqlite_engine: Engine,
) -> None:
    """Steady state: one statement per lookup (the account with the data version), no read of
    the whole account table; an added or renamed account is still found at once."""
    sessions = db.session_factory(sqlite_engine)
    _add(sessions, {"acme": "Acme Corp", "globex": "Globex GmbH"})
    with sessions() as session:
        resolve_account(session, query="acme")  # builds the index
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(sqlite_engine, "before_cursor_execute", count)
    try:
        with index_reads(sqlite_engine) as reads, sessions() as session:
            assert resolve_account(session, query="globex").external_id == "globex"
            assert len(seen) == 1
            assert reads == []
            session.add(Account(external_id="initech", name="Initech"))
            session.commit()
            assert resolve_account(session, query="initech").external_id == "initech"
            acme = resolve_account(session, query="acme")
            acme.name = "Wonka Industries"  # renamed: the old name no longer names it
            session.commit()
            assert resolve_account(session, query="wonka").external_id == "acme"
            with pytest.raises(AccountNotFound):
                resolve_account(session, query="acme corp")
            assert len(reads) == 3  # rebuilt for: the new name, the renamed one, "not found"
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", count)
