"""Set-based extraction of the facts of many accounts at once, as of one day.

``extract_raw`` runs a fixed number of aggregate queries (one per source table, ``GROUP BY
account_id`` with the as-of windows in conditional aggregates) and returns NumPy arrays aligned
with ``RawMetrics.ids``. "As of D" means data through the end of D-1 (UTC, complete days; see
``tools.facts.definitions``): nothing dated D or later is read, so a scan at 00:30 and one at
23:30 of the same day agree.

- usage, feature usage: windows of N complete days ``D-N .. D-1``; tickets, NPS, interactions:
  timestamp before the start of D (UTC); a ticket not closed by then is still open; an invoice
  not paid before D is unpaid; a contact whose ``left_on`` is D or later is still there.
  Recency facts are the exception: the last meaningful interaction and a champion's last
  engagement count through the end of D (a call logged today shows at once; they are not rates
  or trends). "Days since" are counted from D.
- contracts: only those with ``start_date <= D``; "in force" means ``start <= D <= end``.
  ``Contract.status`` and ``Account.lifecycle_stage`` are never read.

``Account.tam_health`` is current-only; callers drop it with ``use_static_fields=False``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import FromClause, Join
from sqlmodel import Session, col

from tools.facts.definitions import TIER_RANK
from tools.models import (
    Account,
    Contact,
    ContactRole,
    Contract,
    Feature,
    FeatureUsage,
    Interaction,
    Invoice,
    InvoiceStatus,
    NpsResponse,
    SurveyKind,
    Ticket,
    UsageDaily,
)

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
# Queries run on a session, or directly on a connection.
Reader = Session | Connection

# Above this many ids we query the whole portfolio and subset in NumPy (keeps IN lists short).
IN_LIST_LIMIT = 500
SCOPE_PARAM = "scope_ids"
RANGE_LOW, RANGE_HIGH = "scope_low", "scope_high"
# Built statements are reused for the same (query, as_of, parameters, scoped): building them
# costs more than running them for one account.
STATEMENT_CACHE_SIZE = 256
_statements: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_statements_lock = threading.Lock()


def _statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
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


@dataclass
class RawMetrics:
    """Raw per-account metrics as of one day; every array is aligned with ``ids``.

    Float arrays hold NaN where a metric does not exist (no data), never a made-up zero.
    """

    as_of: date
    ids: IntArray
    tam_health: FloatArray
    # contracts
    has_contract: BoolArray
    active: BoolArray
    tenure_days: FloatArray
    arr: FloatArray
    seats_purchased: FloatArray
    days_to_renewal: FloatArray
    term_days: FloatArray  # length of the contract in force (end - start + 1), NaN without one
    auto_renew: BoolArray
    plan: list[str | None]
    renewal_date: list[date | None]
    # usage (recent = the ``usage_window_days`` complete days before as_of, prior = the window
    # before); seats_used = peak daily active users in the recent window (the one definition)
    usage_rows_recent: FloatArray
    usage_rows_prior: FloatArray
    logins_recent: FloatArray
    logins_prior: FloatArray
    user_days_recent: FloatArray
    user_days_prior: FloatArray
    seats_used: FloatArray
    active_days_recent: FloatArray
    active_days_prior: FloatArray
    # activity (``[activity]``): logins or active user-days, per account
    activity_is_logins: BoolArray
    activity_recent: FloatArray
    activity_prior: FloatArray
    # features: used = features of the plan used in the adoption window (never above available)
    features_used: FloatArray
    features_used_any: FloatArray
    feature_rows: FloatArray
    features_available: FloatArray
    # tickets
    tickets_window: FloatArray
    sentiment_mean: FloatArray
    tickets_spike: FloatArray
    tickets_baseline: FloatArray
    escalated_window: FloatArray
    open_escalated: FloatArray
    open_tickets: FloatArray
    # interactions
    days_since_interaction: FloatArray
    # invoices
    invoices: FloatArray
    overdue_amount: FloatArray
    overdue_days: FloatArray
    # contacts
    contacts: FloatArray
    contacts_known: FloatArray
    champion_present: BoolArray
    champion_engaged_days: FloatArray
    champion_name: list[str | None]
    champion_left_name: list[str | None]
    champion_left_days: FloatArray
    # surveys
    nps_mean: FloatArray
    nps_count: FloatArray
    csat_mean: FloatArray
    nps_promoters: FloatArray
    nps_detractors: FloatArray
    nps_recent_mean: FloatArray
    nps_recent_count: FloatArray
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def position(self, account_id: int) -> int:
        """Index of ``account_id`` in the arrays (KeyError if absent)."""
        pos = int(np.searchsorted(self.ids, account_id))
        if pos >= len(self) or int(self.ids[pos]) != account_id:
            raise KeyError(account_id)
        return pos


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


def _fetch(session: Reader, stmt: Any, scope: Scope | None = None) -> Sequence[Any]:
    """Run a Core select on the session's connection (no ORM row processing).

    Pending ORM changes are flushed first, as ``Session.execute`` would do.
    """
    params = scope.params() if scope is not None else {}
    if isinstance(session, Connection):
        return session.execute(stmt, params).all()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(stmt, params).all()


def _per_account(
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


def _nan(n: int) -> FloatArray:
    return np.full(n, np.nan, dtype=np.float64)


def _zeros(n: int) -> FloatArray:
    return np.zeros(n, dtype=np.float64)


def _positions(ids: IntArray, keys: Sequence[Any] | IntArray) -> tuple[IntArray, BoolArray]:
    """Positions of ``keys`` in the sorted ``ids`` and which keys were found."""
    if not len(ids) or not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    key_arr = np.asarray(keys, dtype=np.int64)
    pos = np.searchsorted(ids, key_arr)
    pos = np.minimum(pos, len(ids) - 1)
    return pos, ids[pos] == key_arr


def _scatter(ids: IntArray, rows: Sequence[Sequence[Any]], default: float) -> list[FloatArray]:
    """Turn ``(account_id, v1, v2, ...)`` rows into one array per value column."""
    n = len(ids)
    if not rows:
        return []
    table = np.array([tuple(r) for r in rows], dtype=np.float64)
    pos, found = _positions(ids, table[:, 0].astype(np.int64))
    out: list[FloatArray] = []
    for k in range(1, table.shape[1]):
        arr = np.full(n, default, dtype=np.float64)
        arr[pos[found]] = table[found, k]
        out.append(arr)
    return out


def _fill_counts(ids: IntArray, rows: Sequence[Sequence[Any]], width: int) -> list[FloatArray]:
    """Like ``_scatter`` but absent accounts and NULL sums count as 0."""
    columns = _scatter(ids, rows, 0.0)
    if not columns:
        return [_zeros(len(ids)) for _ in range(width)]
    return [np.nan_to_num(c, nan=0.0) for c in columns]


def account_ids_in(session: Reader, scope: Scope, raw_tam: bool) -> tuple[IntArray, FloatArray]:
    stmt = _statement(
        ("accounts", scope.kind),
        lambda: scope.where(
            select(col(Account.id), col(Account.tam_health)), col(Account.id)
        ).order_by(col(Account.id)),
    )
    rows = _fetch(session, stmt, scope)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if scope.wanted is not None:
        keep = np.isin(ids, np.asarray(scope.wanted, dtype=np.int64))
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
        ids = ids[keep]
    tam = np.array(
        [np.nan if (r[1] is None or not raw_tam) else float(r[1]) for r in rows], dtype=np.float64
    )
    return ids, tam


def contract_terms(session: Reader, scope: Scope, ids: IntArray, as_of: date) -> dict[str, Any]:
    """Contract facts per account as of ``as_of`` (the contract in force, tenure), as arrays."""
    n = len(ids)

    def build() -> Any:
        stmt = select(
            col(Contract.account_id),
            col(Contract.start_date),
            col(Contract.end_date),
            col(Contract.arr),
            col(Contract.seats_purchased),
            col(Contract.plan),
            col(Contract.auto_renew),
        ).where(col(Contract.start_date) <= as_of)
        stmt = scope.where(stmt, col(Contract.account_id))
        return stmt.order_by(col(Contract.account_id), col(Contract.start_date))

    rows = _fetch(session, _statement(("contracts", as_of, scope.kind), build), scope)
    # Plain lists in the loop (NumPy item assignment is slow), arrays at the end.
    nan = float("nan")
    has_contract, active, auto_renew = [False] * n, [False] * n, [False] * n
    tenure, arr_of, seats_of, to_renewal = [nan] * n, [0.0] * n, [nan] * n, [nan] * n
    term = [nan] * n
    plans: list[str | None] = [None] * n
    renewals: list[date | None] = [None] * n
    if rows:
        pos, found = _positions(ids, [r[0] for r in rows])
        as_of_ord = as_of.toordinal()
        for row, p, ok in zip(rows, pos.tolist(), found.tolist(), strict=True):
            if not ok:
                continue
            _, start, end, arr, seats, plan, renews = row
            if not has_contract[p]:
                has_contract[p] = True
                tenure[p] = float(as_of_ord - start.toordinal())
            if end >= as_of:  # rows are by start date: the last active one wins
                active[p] = True
                arr_of[p] = float(arr)
                seats_of[p] = float(seats)
                to_renewal[p] = float(end.toordinal() - as_of_ord)
                term[p] = float(end.toordinal() - start.toordinal() + 1)
                auto_renew[p] = bool(renews)
                plans[p] = plan
                renewals[p] = end
    return {
        "has_contract": np.array(has_contract, dtype=np.bool_),
        "active": np.array(active, dtype=np.bool_),
        "tenure_days": np.array(tenure, dtype=np.float64),
        "arr": np.array(arr_of, dtype=np.float64),
        "seats_purchased": np.array(seats_of, dtype=np.float64),
        "days_to_renewal": np.array(to_renewal, dtype=np.float64),
        "term_days": np.array(term, dtype=np.float64),
        "auto_renew": np.array(auto_renew, dtype=np.bool_),
        "plan": plans,
        "renewal_date": renewals,
    }


def _usage(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, window: int
) -> list[FloatArray]:
    """Rows, logins and active-user-days in the recent and the prior window, recent peak, and
    days with any activity in each window. Both windows are complete days before ``as_of``.

    Two plain range aggregates (recent, prior) rather than one with conditional sums: each reads
    only its own days through the ``(account_id, day)`` index and costs far less per row.
    """
    recent_start = as_of - timedelta(days=window)
    prior_start = recent_start - timedelta(days=window)
    day, users, logins = col(UsageDaily.day), col(UsageDaily.active_users), col(UsageDaily.logins)
    table = UsageDaily.__table__  # type: ignore[attr-defined]
    active_day = func.sum(case((or_(users > 0, logins > 0), 1), else_=0))

    def build_recent() -> Any:
        # active_users >= 0, so the peak of the recent rows is the old max(case(recent, x, 0)).
        columns = [func.count(), func.sum(logins), func.sum(users), func.max(users), active_day]
        return _per_account(
            scope, table, col(UsageDaily.account_id), columns, day >= recent_start, day < as_of
        )

    def build_prior() -> Any:
        columns = [func.count(), func.sum(logins), func.sum(users), active_day]
        return _per_account(
            scope,
            table,
            col(UsageDaily.account_id),
            columns,
            day >= prior_start,
            day < recent_start,
        )

    recent = _statement(("usage_recent", as_of, window, scope.kind), build_recent)
    prior = _statement(("usage_prior", as_of, window, scope.kind), build_prior)
    rows_recent, logins_recent, users_recent, peak, days_recent = _fill_counts(
        ids, _fetch(session, recent, scope), 5
    )
    rows_prior, logins_prior, users_prior, days_prior = _fill_counts(
        ids, _fetch(session, prior, scope), 4
    )
    return [
        rows_recent,
        rows_prior,
        logins_recent,
        logins_prior,
        users_recent,
        users_prior,
        peak,
        days_recent,
        days_prior,
    ]


def seats_used_by_account(
    session: Reader, scope: Scope, as_of: date, window: int
) -> dict[int, int]:
    """Seats used: peak daily active users over the ``window`` complete days before ``as_of``
    (the one definition; ``RawMetrics.seats_used`` is the same). Accounts without usage rows in
    the window are absent."""
    day = col(UsageDaily.day)

    def build() -> Any:
        stmt = (
            select(col(UsageDaily.account_id), func.max(col(UsageDaily.active_users)))
            .where(day >= as_of - timedelta(days=window), day < as_of)
            .group_by(col(UsageDaily.account_id))
        )
        return scope.where(stmt, col(UsageDaily.account_id))

    stmt = _statement(("seats_used", as_of, window, scope.kind), build)
    return {int(a): int(m or 0) for a, m in _fetch(session, stmt, scope)}


def _features(
    session: Reader, scope: Scope, ids: IntArray, plans: list[str | None], as_of: date, window: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Features of the plan used in the window, all features used, features in the plan, and
    feature-usage rows in the last 3 windows (complete days).

    A feature counts as used when a row in the window has users or events. Only features of the
    plan's tier or below count towards adoption, so adoption never reads "11 of 9 features".
    """
    start = as_of - timedelta(days=window)
    lookback = as_of - timedelta(days=3 * window)
    day = col(FeatureUsage.day)
    table = FeatureUsage.__table__  # type: ignore[attr-defined]

    def build_used() -> Any:
        used = or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0)
        return _per_account(
            scope,
            table,
            col(FeatureUsage.account_id),
            [],
            day >= start,
            day < as_of,
            used,
            by=[col(FeatureUsage.feature_id)],
        )

    def build_rows() -> Any:
        return _per_account(
            scope,
            table,
            col(FeatureUsage.account_id),
            [func.count()],
            day >= lookback,
            day < as_of,
        )

    used_stmt = _statement(("features_used", as_of, window, scope.kind), build_used)
    rows_stmt = _statement(("feature_rows", as_of, window, scope.kind), build_rows)
    feature_rank, rank_of_plan, available = _feature_tiers(session, plans)
    used_pairs = _fetch(session, used_stmt, scope)
    n = len(ids)
    in_plan, total = _zeros(n), _zeros(n)
    if used_pairs:
        pairs = np.array([(int(a), int(f)) for a, f in used_pairs], dtype=np.int64)
        pos, found = _positions(ids, pairs[:, 0])
        pos, features = pos[found], pairs[found, 1]
        ranks = np.array([feature_rank.get(int(f), 0) for f in features], dtype=np.int64)
        inside = ranks <= rank_of_plan[pos]
        total = np.bincount(pos, minlength=n).astype(np.float64)
        in_plan = np.bincount(pos[inside], minlength=n).astype(np.float64)
    (row_count,) = _fill_counts(ids, _fetch(session, rows_stmt, scope), 1)
    return in_plan, total, available, row_count


def _feature_tiers(
    session: Reader, plans: list[str | None]
) -> tuple[dict[int, int], IntArray, FloatArray]:
    """Tier rank of each feature, the rank of each account's plan, features in each plan.

    An unknown plan (or none) includes every feature.
    """
    stmt = _statement(("tiers",), lambda: select(col(Feature.id), col(Feature.tier)))
    catalogue = [(int(i), TIER_RANK.get(str(t), 0)) for i, t in _fetch(session, stmt)]
    feature_rank = dict(catalogue)
    top = max(TIER_RANK.values())
    plan_rank = np.array([TIER_RANK.get(p or "", top) for p in plans], dtype=np.int64)
    ranks = np.array([r for _, r in catalogue], dtype=np.int64)
    per_rank = {r: float(np.sum(ranks <= r)) for r in TIER_RANK.values()}
    available = np.array([per_rank[int(r)] for r in plan_rank], dtype=np.float64)
    return feature_rank, plan_rank, available


def _tickets(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> list[FloatArray]:
    """Tickets in the windows (count, mean sentiment, spike, baseline, escalated), and open ones.

    Two queries, both answered from the ``ix_ticket_account_scan`` index alone: the recent
    windows read only each account's last months (through the index, like usage); the open
    tickets (not closed by the end of ``as_of``) whatever their age.
    """
    norm, churn = config.health.normalise, config.churn
    end = day_start(as_of)
    opened, closed = col(Ticket.opened_at), col(Ticket.closed_at)
    spike_days = churn.ticket_spike_days
    lookbacks = (
        norm.ticket_window_days,
        spike_days + churn.ticket_baseline_days,
        norm.escalation_window_days,
    )

    def since(days: int) -> Any:
        return opened >= day_start(as_of - timedelta(days=days))

    def build_recent() -> Any:
        window = since(norm.ticket_window_days)
        baseline = and_(
            since(spike_days + churn.ticket_baseline_days),
            opened < day_start(as_of - timedelta(days=spike_days)),
        )
        escalated = col(Ticket.escalated).is_(True)
        columns = [
            func.sum(case((window, 1), else_=0)),
            func.avg(case((window, col(Ticket.sentiment)), else_=None)),
            func.sum(case((since(spike_days), 1), else_=0)),
            func.sum(case((baseline, 1), else_=0)),
            func.sum(case((and_(since(norm.escalation_window_days), escalated), 1), else_=0)),
        ]
        table = Ticket.__table__  # type: ignore[attr-defined]
        start = day_start(as_of - timedelta(days=max(lookbacks)))
        return _per_account(
            scope, table, col(Ticket.account_id), columns, opened >= start, opened < end
        )

    def build_open() -> Any:
        escalated = col(Ticket.escalated).is_(True)
        stmt = (
            select(col(Ticket.account_id), func.sum(case((escalated, 1), else_=0)), func.count())
            .where(opened < end, or_(closed.is_(None), closed >= end))
            .group_by(col(Ticket.account_id))
        )
        return scope.where(stmt, col(Ticket.account_id))

    settings = (lookbacks[0], lookbacks[2], spike_days, churn.ticket_baseline_days)
    recent = _statement(("tickets_recent", as_of, scope.kind, *settings), build_recent)
    still_open = _statement(("tickets_open", as_of, scope.kind), build_open)
    columns = _scatter(ids, _fetch(session, recent, scope), np.nan)
    if not columns:
        columns = [_nan(len(ids)) for _ in range(5)]
    for k in (0, 2, 3, 4):
        columns[k] = np.nan_to_num(columns[k], nan=0.0)
    open_escalated, open_tickets = _fill_counts(ids, _fetch(session, still_open, scope), 2)
    return [*columns, open_escalated, open_tickets]


def _days_since(as_of: date, rows: Sequence[Sequence[Any]]) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for account_id, when in rows:
        if when is None:
            continue
        day = when.date() if isinstance(when, datetime) else when
        out.append((account_id, float(as_of.toordinal() - day.toordinal())))
    return out


def _interactions(session: Reader, scope: Scope, ids: IntArray, as_of: date) -> FloatArray:
    def build() -> Any:
        stmt = (
            select(col(Interaction.account_id), func.max(col(Interaction.occurred_at)))
            .where(
                col(Interaction.occurred_at) < end_of(as_of),  # recency: today counts
                col(Interaction.meaningful).is_(True),
            )
            .group_by(col(Interaction.account_id))
        )
        return scope.where(stmt, col(Interaction.account_id))

    rows = _fetch(session, _statement(("interactions", as_of, scope.kind), build), scope)
    columns = _scatter(ids, _days_since(as_of, rows), np.nan)
    return columns[0] if columns else _nan(len(ids))


def _invoices(
    session: Reader, scope: Scope, ids: IntArray, as_of: date
) -> tuple[FloatArray, FloatArray, FloatArray]:
    def build() -> Any:
        overdue = and_(
            col(Invoice.due_on) < as_of,
            or_(col(Invoice.paid_on).is_(None), col(Invoice.paid_on) >= as_of),
        )
        stmt = (
            select(
                col(Invoice.account_id),
                func.count(),
                func.sum(case((overdue, col(Invoice.amount)), else_=0)),
                func.min(case((overdue, col(Invoice.due_on)), else_=None)),
            )
            .where(col(Invoice.issued_on) < as_of, col(Invoice.status) != InvoiceStatus.VOID.value)
            .group_by(col(Invoice.account_id))
        )
        return scope.where(stmt, col(Invoice.account_id))

    rows = _fetch(session, _statement(("invoices", as_of, scope.kind), build), scope)
    plain = [
        (
            r[0],
            float(r[1]),
            float(r[2] or 0),
            np.nan if r[3] is None else float(as_of.toordinal() - _as_date(r[3]).toordinal()),
        )
        for r in rows
    ]
    columns = _scatter(ids, plain, np.nan)
    if not columns:
        return _zeros(len(ids)), _zeros(len(ids)), _nan(len(ids))
    return np.nan_to_num(columns[0]), np.nan_to_num(columns[1]), columns[2]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _contacts(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> dict[str, Any]:
    n = len(ids)

    def build_counts() -> Any:
        present = or_(col(Contact.left_on).is_(None), col(Contact.left_on) >= as_of)
        counts = select(
            col(Contact.account_id), func.sum(case((present, 1), else_=0)), func.count()
        ).group_by(col(Contact.account_id))
        return scope.where(counts, col(Contact.account_id))

    def build_champions() -> Any:
        champions = select(
            col(Contact.id),
            col(Contact.account_id),
            col(Contact.name),
            col(Contact.left_on),
            col(Contact.last_engaged_at),
        ).where(col(Contact.role) == ContactRole.CHAMPION.value)
        return scope.where(champions, col(Contact.account_id))

    def build_touched() -> Any:
        touched = (
            select(col(Interaction.contact_id), func.max(col(Interaction.occurred_at)))
            .join(Contact, col(Contact.id) == col(Interaction.contact_id))
            .where(
                col(Contact.role) == ContactRole.CHAMPION.value,
                col(Interaction.occurred_at) < end_of(as_of),  # recency: today counts
            )
            .group_by(col(Interaction.contact_id))
        )
        return scope.where(touched, col(Interaction.account_id))

    counts = _statement(("contact_counts", as_of, scope.kind), build_counts)
    contacts, contacts_known = _fill_counts(ids, _fetch(session, counts, scope), 2)
    champions = _statement(("champions", scope.kind), build_champions)
    champ_rows = _fetch(session, champions, scope)
    touched = _statement(("champion_touches", as_of, scope.kind), build_touched)
    last_touch: dict[int, datetime] = dict(_fetch(session, touched, scope))
    out: dict[str, Any] = {
        "contacts": contacts,
        "contacts_known": contacts_known,
        "champion_present": np.zeros(n, dtype=np.bool_),
        "champion_engaged_days": _nan(n),
        "champion_name": [None] * n,
        "champion_left_name": [None] * n,
        "champion_left_days": _nan(n),
    }
    pos, found = _positions(ids, [r[1] for r in champ_rows])
    end = end_of(as_of)  # champion engagement is recency, like interactions
    as_of_ord = as_of.toordinal()
    for row, p, ok in zip(champ_rows, pos.tolist(), found.tolist(), strict=True):
        if not ok:
            continue
        contact_id, _, name, left_on, engaged_at = row
        if left_on is not None and left_on < as_of:
            days = float(as_of_ord - left_on.toordinal())
            previous = out["champion_left_days"][p]
            if np.isnan(previous) or days < previous:
                out["champion_left_days"][p] = days
                out["champion_left_name"][p] = name
            continue
        candidates = [t for t in (engaged_at, last_touch.get(contact_id)) if t is not None]
        candidates = [t for t in candidates if t < end]
        engaged_days = (
            float(as_of_ord - max(candidates).date().toordinal()) if candidates else np.nan
        )
        current = out["champion_engaged_days"][p]
        better = not out["champion_present"][p] or (
            not np.isnan(engaged_days) and (np.isnan(current) or engaged_days < current)
        )
        out["champion_present"][p] = True
        if better:
            out["champion_engaged_days"][p] = engaged_days
            out["champion_name"][p] = name
    return out


def _surveys(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> list[FloatArray]:
    norm, churn = config.health.normalise, config.churn

    def build() -> Any:
        start = day_start(as_of - timedelta(days=norm.nps_window_days))
        recent_start = day_start(as_of - timedelta(days=churn.detractor_window_days))
        is_nps = col(NpsResponse.kind) == SurveyKind.NPS.value
        is_csat = col(NpsResponse.kind) == SurveyKind.CSAT.value
        in_window = col(NpsResponse.responded_at) >= start
        recent_nps = and_(is_nps, col(NpsResponse.responded_at) >= recent_start)
        score = col(NpsResponse.score)
        stmt = (
            select(
                col(NpsResponse.account_id),
                func.avg(case((and_(is_nps, in_window), score), else_=None)),
                func.sum(case((and_(is_nps, in_window), 1), else_=0)),
                func.avg(case((and_(is_csat, in_window), score), else_=None)),
                func.sum(case((and_(is_nps, in_window, score >= 9), 1), else_=0)),
                func.sum(case((and_(is_nps, in_window, score <= 6), 1), else_=0)),
                func.avg(case((recent_nps, score), else_=None)),
                func.sum(case((recent_nps, 1), else_=0)),
            )
            .where(
                col(NpsResponse.responded_at) < day_start(as_of),
                col(NpsResponse.responded_at) >= min(start, recent_start),
            )
            .group_by(col(NpsResponse.account_id))
        )
        return scope.where(stmt, col(NpsResponse.account_id))

    rows = _fetch(
        session,
        _statement(
            ("surveys", as_of, scope.kind, norm.nps_window_days, churn.detractor_window_days),
            build,
        ),
        scope,
    )
    columns = _scatter(ids, rows, np.nan)
    if not columns:
        columns = [_nan(len(ids)) for _ in range(7)]
    for k in (1, 3, 4, 6):
        columns[k] = np.nan_to_num(columns[k])
    return columns


def _activity(
    config: ScoringConfig, usage: list[FloatArray]
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Per account: whether activity is logins, and activity in the recent and prior window.

    ``auto``: logins for an account with any login in either window, else active user-days.
    """
    logins_recent, logins_prior, users_recent, users_prior = usage[2], usage[3], usage[4], usage[5]
    measure = config.activity.measure
    if measure == "logins":
        is_logins = np.ones(len(logins_recent), dtype=np.bool_)
    elif measure == "active_users":
        is_logins = np.zeros(len(logins_recent), dtype=np.bool_)
    else:
        is_logins = (logins_recent + logins_prior) > 0
    recent = np.where(is_logins, logins_recent, users_recent)
    prior = np.where(is_logins, logins_prior, users_prior)
    return is_logins, recent, prior


def extract_raw(
    session: Reader,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
    id_range: tuple[int, int] | None = None,
) -> RawMetrics:
    """Raw metrics of every account (or of ``account_ids``) as of ``as_of``, in ~12 queries.

    ``id_range`` (inclusive ``(low, high)``) restricts them to the accounts with ids in it.
    """
    scope = Scope(account_ids, id_range)
    norm = config.health.normalise
    ids, tam = account_ids_in(session, scope, use_static_fields)
    contracts = contract_terms(session, scope, ids, as_of)
    usage = _usage(session, scope, ids, as_of, norm.usage_window_days)
    features = _features(session, scope, ids, contracts["plan"], as_of, norm.adoption_window_days)
    activity = _activity(config, usage)
    tickets = _tickets(session, scope, ids, as_of, config)
    invoices, overdue_amount, overdue_days = _invoices(session, scope, ids, as_of)
    contacts = _contacts(session, scope, ids, as_of, config)
    surveys = _surveys(session, scope, ids, as_of, config)
    interactions = _interactions(session, scope, ids, as_of)
    return RawMetrics(
        as_of=as_of,
        ids=ids,
        tam_health=tam,
        **contracts,
        usage_rows_recent=usage[0],
        usage_rows_prior=usage[1],
        logins_recent=usage[2],
        logins_prior=usage[3],
        user_days_recent=usage[4],
        user_days_prior=usage[5],
        seats_used=usage[6],
        active_days_recent=usage[7],
        active_days_prior=usage[8],
        activity_is_logins=activity[0],
        activity_recent=activity[1],
        activity_prior=activity[2],
        features_used=features[0],
        features_used_any=features[1],
        features_available=features[2],
        feature_rows=features[3],
        tickets_window=tickets[0],
        sentiment_mean=tickets[1],
        tickets_spike=tickets[2],
        tickets_baseline=tickets[3],
        escalated_window=tickets[4],
        open_escalated=tickets[5],
        open_tickets=tickets[6],
        days_since_interaction=interactions,
        invoices=invoices,
        overdue_amount=overdue_amount,
        overdue_days=overdue_days,
        **contacts,
        nps_mean=surveys[0],
        nps_count=surveys[1],
        csat_mean=surveys[2],
        nps_promoters=surveys[3],
        nps_detractors=surveys[4],
        nps_recent_mean=surveys[5],
        nps_recent_count=surveys[6],
        extra={"onboarding_overdue": _onboarding(session, ids, contracts, as_of, config)},
    )


def _onboarding(
    session: Reader, ids: IntArray, contracts: dict[str, Any], as_of: date, config: ScoringConfig
) -> dict[int, list[tuple[str, str, str, str, bool]]]:
    """The onboarding-overdue trigger of the accounts younger than the onboarding window."""
    from tools.onboarding import onboarding_triggers

    young = contracts["tenure_days"] < config.onboarding.window_days
    return onboarding_triggers(
        session, as_of=as_of, config=config.onboarding, account_ids=ids[young].tolist()
    )
