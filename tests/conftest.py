"""Shared fixtures: a real database per test (SQLite always, PostgreSQL where reachable)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from tools import db

POSTGRES_URL = os.environ.get(
    "CSBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        engine = db.make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, reset and migrated once per run."""
    reason = _postgres_reachable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    engine = db.make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    existing = set(inspect(engine).get_table_names())
    names = ", ".join(f'"{name}"' for name in sorted(existing - {"alembic_version"}))
    if not names:
        return
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite always, PostgreSQL where a server answers."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        eng = db.make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    pg: Engine = request.getfixturevalue("postgres_engine")
    _truncate_all(pg)
    yield pg


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite database (for tests that need only one backend)."""
    path = tmp_path / "test.db"
    shutil.copy(sqlite_template, path)
    eng = db.make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> db.SessionFactory:
    """A session factory on the parametrised database."""
    return db.session_factory(engine)


@pytest.fixture
def session(sessions: db.SessionFactory) -> Iterator[Session]:
    """One session on the parametrised database."""
    with sessions() as s:
        yield s
