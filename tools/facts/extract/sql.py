"""SQL plumbing of the extraction: the account scope, a statement cache, complete-day bounds.

Statements are built once per (query, as-of days, parameters, scope kind) and reused with the
scope's ids as a parameter: building a SQLAlchemy statement costs more than running it for one
account.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import FromClause, Join
from sqlmodel import Session

from tools.models import Account

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
# Queries run on a session, or directly on a connection.
Reader = Session | Connection

# Above this many ids we query the whole portfolio and subset in NumPy (keeps IN lists short).
IN_LIST_LIMIT = 500
SCOPE_PARAM = "scope_ids"
RANGE_LOW, RANGE_HIGH = "scope_low", "scope_high"
STATEMENT_CACHE_SIZE = 256
_statements: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_statements_lock = threading.Lock()


def statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The statement for ``key``, built once by ``build`` (LRU, ``STATEMENT_CACHE_SIZE``)."""
    with _statements_lock:
        stmt = _statements.get(key)
        if stmt is not None:
            _statements.move_to_end(key)
            return stmt
    stmt = build()
    with _statements_lock:
        _statements[key] = stmt
        while len(_statements) > STATEMENT_CACHE_SIZE:
            _statements.popitem(last=False)
    return stmt


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def end_of(day: date) -> datetime:
    """The first instant after ``day`` (UTC): ``ts < end_of(d)`` means "on or before d"."""
    return day_start(day + timedelta(days=1))


def count_if(condition: Any) -> Any:
    """``SUM(CASE WHEN condition THEN 1 ELSE 0 END)``."""
    return func.sum(case((condition, 1), else_=0))


class Scope:
    """Restricts queries to a few accounts, to a range of account ids, or to none (everyone).

    ``account_ids`` beyond ``IN_LIST_LIMIT`` query the whole portfolio and subset later;
    ``id_range`` (inclusive ``(low, high)``) is how a parallel scan splits the portfolio.
    """

    def __init__(
        self, account_ids: Sequence[int] | None, id_range: tuple[int, int] | None = None
    ) -> None:
        if account_ids is not None and id_range is not None:
            raise ValueError("give account_ids or id_range, not both")
        wanted = None if account_ids is None else sorted({int(a) for a in account_ids})
        self.sql_ids = wanted if wanted is not None and len(wanted) <= IN_LIST_LIMIT else None
        self.wanted = wanted
        self.id_range = None if id_range is None else (int(id_range[0]), int(id_range[1]))

    def apply(self, stmt: SelectT, column: Any) -> SelectT:
        if self.id_range is not None:
            return stmt.where(column.between(*self.id_range))
        if self.sql_ids is None:
            return stmt
        return stmt.where(column.in_(self.sql_ids))

    @property
    def scoped(self) -> bool:
        """True when the queries filter on the wanted ids (``IN``), False for everyone."""
        return self.sql_ids is not None

    @property
    def kind(self) -> str:
        """What the statements filter on: ``ids``, ``range`` or ``all`` (a statement-cache key)."""
        if self.sql_ids is not None:
            return "ids"
        return "all" if self.id_range is None else "range"

    def where(self, stmt: SelectT, column: Any) -> SelectT:
        """Like ``apply`` but with the ids as a parameter, so the statement can be reused."""
        if self.id_range is not None:
            return stmt.where(column.between(bindparam(RANGE_LOW), bindparam(RANGE_HIGH)))
        if self.sql_ids is None:
            return stmt
        return stmt.where(column.in_(bindparam(SCOPE_PARAM, expanding=True)))

    def params(self) -> dict[str, Any]:
        if self.id_range is not None:
            return {RANGE_LOW: self.id_range[0], RANGE_HIGH: self.id_range[1]}
        return {} if self.sql_ids is None else {SCOPE_PARAM: self.sql_ids}


class _CrossJoin(Join):
    """An inner join that SQLite must run left to right (``CROSS JOIN ... ON``).

    From ``account`` into a table indexed on ``(account_id, day)`` this makes SQLite seek each
    account's date range through the index instead of scanning the whole table. Other
    databases get a plain ``JOIN``.
    """

    inherit_cache = True


@compiles(_CrossJoin)
def _plain_join(element: _CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_join(element, **kw))  # type: ignore[no-untyped-call]


@compiles(_CrossJoin, "sqlite")
def _sqlite_cross_join(element: _CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    sql = compiler.visit_join(element, **kw)  # type: ignore[no-untyped-call]
    return str(sql).replace(" JOIN ", " CROSS JOIN ", 1)


def fetch(session: Reader, stmt: Any, scope: Scope | None = None) -> Sequence[Any]:
    """Run a Core select on the session's connection (no ORM row processing).

    Pending ORM changes are flushed first, as ``Session.execute`` would do.
    """
    params = scope.params() if scope is not None else {}
    if isinstance(session, Connection):
        return session.execute(stmt, params).all()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(stmt, params).all()


def per_account(
    scope: Scope,
    table: Any,
    account_column: Any,
    columns: Sequence[Any],
    *where: Any,
    by: Sequence[Any] = (),
) -> Select[Any]:
    """``SELECT account_id, by..., columns... FROM table WHERE ... GROUP BY account_id, by...``.

    For the whole portfolio the rows are read account by account (join from ``account``), which
    lets SQLite use the ``(account_id, day)`` index; a few accounts use ``IN``.
    """
    if scope.scoped:
        stmt = select(account_column, *by, *columns).where(*where)
        return scope.where(stmt.group_by(account_column, *by), account_column)
    account = Account.__table__  # type: ignore[attr-defined]
    joined: FromClause = _CrossJoin(account, table, account_column == account.c.id)
    stmt = select(account.c.id, *by, *columns).select_from(joined).where(*where)
    return scope.where(stmt, account.c.id).group_by(account.c.id, *by)
