"""The PostgreSQL scale bench's COPY loader writes the same rows as the demo generator."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

from bench.pg_load import copy_writer
from tools import db
from tools.demo import generate_demo
from tools.demo_catalog import STORIES

TODAY = date(2026, 3, 2)
ACCOUNTS = len(STORIES) + 2  # the stories and a few generated accounts


def _empty(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(sorted(names))} RESTART IDENTITY CASCADE"))


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every non-empty application table, in id order."""
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
            if rows:
                out[table.name] = [tuple(r) for r in rows]
    return out


@pytest.mark.postgres
def test_copy_loader_writes_the_same_rows_as_the_demo_generator(
    postgres_engine: Engine,
) -> None:
    sessions = db.session_factory(postgres_engine)
    dumps = []
    for writer in (None, copy_writer):
        _empty(postgres_engine)
        generate_demo(
            session_factory=sessions, today=TODAY, accounts=ACCOUNTS, months=2, writer=writer
        )
        dumps.append(_dump(postgres_engine))
    _empty(postgres_engine)
    inserted, copied = dumps
    assert {"account", "contract", "contact", "usage_daily", "feature_usage", "ticket"} <= set(
        inserted
    )
    assert len(inserted["account"]) == ACCOUNTS
    assert copied.keys() == inserted.keys()
    for name, rows in inserted.items():
        assert copied[name] == rows, name
