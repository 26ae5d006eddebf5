"""A migrated SQLite database holding a small seeded demo portfolio, for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from tools import db
from tools.demo import generate_demo


def demo_database(
    tmp_path_factory: pytest.TempPathFactory, name: str, *, today: date, accounts: int
) -> Iterator[Engine]:
    """Yield an engine on a fresh demo database (use with ``yield from`` in a fixture)."""
    path = tmp_path_factory.mktemp(name) / "demo.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    generate_demo(session_factory=db.session_factory(engine), today=today, accounts=accounts)
    yield engine
    engine.dispose()
