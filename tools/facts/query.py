"""Small SQL helpers of the metric layer: id filters, Core execution, day cut-offs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from tools.facts.definitions import data_end


def in_ids(column: Any, account_ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN (...)`` rendered inline, so 100k ids do not hit the bind-parameter limit."""
    ids = sorted({int(i) for i in account_ids})
    return cast(
        ColumnElement[bool],
        column.in_(bindparam("account_ids", ids, expanding=True, literal_execute=True)),
    )


def rows(session: Session, stmt: Executable) -> Sequence[Any]:
    """Run a Core ``select`` on the session's connection and return all rows."""
    return session.connection().execute(stmt).all()


def day_cutoff(day: date) -> datetime:
    """The first instant after ``day`` (UTC); timestamps before it are on/before ``day``."""
    return data_end(day + timedelta(days=1))


def as_date(value: Any) -> date:
    """A DATE column's value as a ``date`` (SQLite may hand back text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def as_utc(value: Any) -> datetime:
    """A timestamp column's value as an aware UTC ``datetime`` (SQLite drops the zone)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
