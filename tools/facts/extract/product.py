"""Product usage as of some days: daily usage (logins, active users, seats used), feature
adoption, and activity (``[activity]``: logins, or active user-days without a login event).

Windows are complete days before each as-of day D: recent = ``D-w .. D-1``, prior = the ``w``
days before. For a few accounts one statement reads every window of every day (conditional
aggregates); for the whole portfolio (one day) each window is its own range aggregate, which
reads only its days through the ``(account_id, day)`` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlmodel import col

from tools.facts.definitions import TIER_RANK, active_day
from tools.facts.extract.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    fill_counts,
    per_day,
    positions,
    sum_by_account,
    zeros,
)
from tools.facts.extract.sql import (
    SCOPE_PARAM,
    Reader,
    Scope,
    count_if,
    fetch,
    per_account,
    statement,
)
from tools.facts.onboarding import MilestoneReads
from tools.models import Feature, FeatureUsage, UsageDaily

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

_USAGE = UsageDaily.__table__  # type: ignore[attr-defined]
_FEATURE_USAGE = FeatureUsage.__table__  # type: ignore[attr-defined]
# Per day: rows, logins, active-user-days, peak users, active days (recent), then the same
# without the peak (prior).
USAGE_WIDTH = 9


def _usage_columns(window: Any, peak: bool, measure: str) -> list[Any]:
    """Rows, logins, user-days, [peak users], active days (``active_day`` under ``measure``),
    among the rows in ``window`` (None: every row the statement reads)."""
    users, logins = col(UsageDaily.active_users), col(UsageDaily.logins)
    active = active_day(measure, logins, users)

    def only(value: Any) -> Any:
        return value if window is None else case((window, value), else_=None)

    columns = [
        func.count() if window is None else count_if(window),
        func.sum(only(logins)),
        func.sum(only(users)),
    ]
    if peak:
        # active_users >= 0, so the peak of the window's rows is max over them.
        columns.append(func.max(only(users)))
    columns.append(count_if(active if window is None else and_(window, active)))
    return columns


def usage(
    session: Reader,
    scope: Scope,
    ids: IntArray,
    days: Sequence[date],
    window: int,
    measure: str = "auto",
    daily_days: int = 0,
    milestones: MilestoneReads | None = None,
    weeks: int = 0,
) -> tuple[list[list[FloatArray]], FloatArray, dict[int, tuple[date | None, ...]]]:
    """Per day: rows, logins and active-user-days in the recent and the prior window, the
    recent peak (seats used), and active days (``active_day`` under ``measure``) in each.

    With ``daily_days`` (a few accounts only), also the active users of each of the last
    ``daily_days`` complete days before the first day, shape (accounts, daily_days), oldest
    first, 0 for a day without a row (Lean's and expansion's weekly usage and gaps).

    With ``milestones`` (a few accounts only), also each account's first days of onboarding's
    usage milestones (``MilestoneReads.usage_columns``): the statement then reads each
    account's whole history before the last day, not only the windows..

    With ``weeks`` (the whole portfolio, one day), instead of ``daily_days`` the peak active
    users of each of the last ``weeks`` weeks, shape (accounts, weeks), oldest first, from the
    two windows' own statements (``_usage_of_portfolio``)."""
    day = col(UsageDaily.day)
    account = col(UsageDaily.account_id)

    def bounds(as_of: date) -> tuple[date, date]:
        recent_start = as_of - timedelta(days=window)
        return recent_start, recent_start - timedelta(days=window)

    daily = np.zeros((len(ids), 0), dtype=np.float64)
    firsts: dict[int, tuple[date | None, ...]] = {}
    if scope.scoped:
        first_day = days[0]

        def build() -> Any:
            columns: list[Any] = []
            for as_of in days:
                recent_start, prior_start = bounds(as_of)
                recent = and_(day >= recent_start, day < as_of)
                prior = and_(day >= prior_start, day < recent_start)
                columns += _usage_columns(recent, peak=True, measure=measure)
                columns += _usage_columns(prior, peak=False, measure=measure)
            users = col(UsageDaily.active_users)
            for back in range(daily_days, 0, -1):  # one row per (account, day): max = value
                the_day = first_day - timedelta(days=back)
                columns.append(func.max(case((day == the_day, users), else_=None)))
            lowest = min([bounds(d)[1] for d in days] + [first_day - timedelta(days=daily_days)])
            since = [] if milestones is not None else [day >= lowest]
            if milestones is not None:
                columns += milestones.usage_columns()
            return per_account(scope, _USAGE, account, columns, *since, day < max(days))

        key = ("usage", tuple(days), window, measure, daily_days, milestones, scope.kind)
        width = USAGE_WIDTH * len(days)
        rows = fetch(session, statement(key, build), scope)
        if milestones is not None:
            at = 1 + width + daily_days
            firsts = {int(r[0]): tuple(r[at:]) for r in rows}
            rows = [r[:at] for r in rows]
        columns = fill_counts(ids, rows, width + daily_days)
        if daily_days:
            daily = np.stack(columns[width:], axis=1)
        by_day = [_usage_order(c) for c in per_day(columns[:width], USAGE_WIDTH, len(days))]
        return by_day, daily, firsts
    if weeks and len(days) == 1:
        use, daily = _usage_of_portfolio(session, scope, ids, days[0], window, measure, weeks)
        return [use], daily, firsts
    by_day = [_usage_of_portfolio(session, scope, ids, as_of, window, measure)[0] for as_of in days]
    return by_day, daily, firsts


def _week_columns(as_of: date, weeks: range) -> list[Any]:
    """Peak active users of each week in ``weeks`` (1 = the 7 complete days before ``as_of``),
    oldest first."""
    day, users = col(UsageDaily.day), col(UsageDaily.active_users)
    columns: list[Any] = []
    for k in sorted(weeks, reverse=True):
        end = as_of - timedelta(days=7 * (k - 1))
        in_week = and_(day >= end - timedelta(days=7), day < end)
        columns.append(func.max(case((in_week, users), else_=None)))
    return columns


def portfolio_weeks(window: int, weeks: int) -> bool:
    """Whether the portfolio's two usage windows of ``window`` days hold ``weeks`` whole weeks
    (``usage(..., weeks=...)``)."""
    return window % 7 == 0 and 0 < weeks <= 2 * window // 7


def _usage_of_portfolio(
    session: Reader,
    scope: Scope,
    ids: IntArray,
    as_of: date,
    window: int,
    measure: str,
    weeks: int = 0,
) -> tuple[list[FloatArray], FloatArray]:
    """``usage`` of one day as two plain range aggregates (recent, prior): each reads only its
    own days through the ``(account_id, day)`` index and costs far less per row.

    With ``weeks`` (``portfolio_weeks``), the same statements also return each account's peak
    active users of each of the last ``weeks`` weeks, as an array of shape (accounts, weeks),
    oldest first (the weekly peaks of expansion's seat rule)."""
    day, account = col(UsageDaily.day), col(UsageDaily.account_id)
    recent_start = as_of - timedelta(days=window)
    prior_start = recent_start - timedelta(days=window)
    if weeks and not portfolio_weeks(window, weeks):
        raise ValueError(f"{weeks} weeks are not whole weeks of two {window}-day windows")
    in_recent = range(1, min(weeks, window // 7) + 1)
    in_prior = range(window // 7 + 1, weeks + 1)

    def build_recent() -> Any:
        columns = _usage_columns(None, peak=True, measure=measure)
        columns += _week_columns(as_of, in_recent)
        return per_account(scope, _USAGE, account, columns, day >= recent_start, day < as_of)

    def build_prior() -> Any:
        columns = _usage_columns(None, peak=False, measure=measure)
        columns += _week_columns(as_of, in_prior)
        return per_account(scope, _USAGE, account, columns, day >= prior_start, day < recent_start)

    key = (as_of, window, measure, weeks, scope.kind)
    recent = statement(("usage_recent", *key), build_recent)
    prior = statement(("usage_prior", *key), build_prior)
    recent_columns = fill_counts(ids, fetch(session, recent, scope), 5 + len(in_recent))
    prior_columns = fill_counts(ids, fetch(session, prior, scope), 4 + len(in_prior))
    weekly = prior_columns[4:] + recent_columns[5:]  # oldest week first
    peaks = np.zeros((len(ids), weeks), dtype=np.float64)
    if weeks:
        peaks = np.stack(weekly, axis=1)
    return _usage_order(recent_columns[:5] + prior_columns[:4]), peaks


def _usage_order(c: list[FloatArray]) -> list[FloatArray]:
    """(rows, logins, users, peak, days) recent + (rows, logins, users, days) prior, as
    rows r/p, logins r/p, user-days r/p, peak, active days r/p."""
    return [c[0], c[5], c[1], c[6], c[2], c[7], c[3], c[4], c[8]]


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

    stmt = statement(("seats_used", as_of, window, scope.kind), build)
    return {int(a): int(m or 0) for a, m in fetch(session, stmt, scope)}


FeatureWindowRow = tuple[int, int, int, int]  # account id, feature id, peak users, events


def features(
    session: Reader,
    scope: Scope,
    ids: IntArray,
    plans: Sequence[list[str | None]],
    days: Sequence[date],
    window: int,
    use_days: int = 0,
    milestones: MilestoneReads | None = None,
) -> tuple[
    list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]],
    list[FeatureWindowRow],
    Catalogue,
    dict[int, list[tuple[int, date]]],
]:
    """Per day: features of the plan used in the window, all features used, features in the
    plan, and feature-usage rows in the last 3 windows (complete days); and the catalogue
    (``feature_catalogue``: for a few accounts, read in the same statement).

    A feature counts as used when a row in the window has users or events. Only features of the
    plan's tier or below count towards adoption, so adoption never reads "11 of 9 features".

    With ``use_days`` (a few accounts only), also each (account, feature) with a row in the
    ``use_days`` complete days before the first day: its peak daily users and its events there
    (expansion's feature use and tier pull). With ``milestones`` (a few accounts only), also
    each (account, feature)'s first use before the first day (onboarding's feature milestones),
    from each account's whole history.
    For the whole portfolio (one day, ``use_days`` equal to ``window``) the pairs without
    users or events in the window are left out.
    """
    day, account = col(FeatureUsage.day), col(FeatureUsage.account_id)
    pairs_by_day: list[list[tuple[int, int]]] = []
    rows_by_day: list[FloatArray] = []
    window_rows: list[FeatureWindowRow] = []
    firsts: dict[int, list[tuple[int, date]]] = {}
    if scope.scoped:
        first_day = days[0]
        use_start = first_day - timedelta(days=use_days)

        def build() -> Any:
            used = or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0)
            feature = col(FeatureUsage.feature_id)
            columns: list[Any] = []
            for as_of in days:
                start, lookback = as_of - timedelta(days=window), as_of - timedelta(days=3 * window)
                columns.append(func.max(case((and_(day >= start, day < as_of, used), 1), else_=0)))
                columns.append(count_if(and_(day >= lookback, day < as_of)))
            lowest = min(days) - timedelta(days=3 * window)
            if use_days:
                in_use = and_(day >= use_start, day < first_day)
                columns += [
                    count_if(in_use),
                    func.max(case((in_use, col(FeatureUsage.users)), else_=None)),
                    func.sum(case((in_use, col(FeatureUsage.events)), else_=None)),
                ]
                lowest = min(lowest, use_start)
            if milestones is not None:
                columns.append(milestones.feature_column())
            since = [] if milestones is not None else [day >= lowest]
            # From the catalogue: every feature comes back (account NULL when nobody used it).
            feature_table = Feature.__table__  # type: ignore[attr-defined]
            joined = feature_table.outerjoin(
                _FEATURE_USAGE,
                and_(
                    feature == feature_table.c.id,
                    account.in_(bindparam(SCOPE_PARAM, expanding=True)),
                    *since,
                    day < max(days),
                ),
            )
            stmt = select(account, feature_table.c.id, *columns, *_CATALOGUE_COLUMNS)
            return stmt.select_from(joined).group_by(feature_table.c.id, account)

        key = ("features", tuple(days), window, use_days, milestones, scope.kind)
        found = fetch(session, statement(key, build), scope)
        catalogue = {int(r[1]): _catalogue_entry(r[-4:]) for r in found}
        rows = [r[:-4] for r in found if r[0] is not None]
        for k in range(len(days)):
            pairs_by_day.append([(int(r[0]), int(r[1])) for r in rows if r[2 + 2 * k]])
            totals = [(r[0], r[3 + 2 * k]) for r in rows]
            rows_by_day.append(sum_by_account(ids, totals))
        if use_days:
            at = 2 + 2 * len(days)
            window_rows = [
                (int(r[0]), int(r[1]), int(r[at + 1] or 0), int(r[at + 2] or 0))
                for r in rows
                if r[at]
            ]
        if milestones is not None:
            for r in rows:
                if r[-1] is not None:
                    firsts.setdefault(int(r[0]), []).append((int(r[1]), r[-1]))
    else:
        if use_days and (len(days) != 1 or use_days != window):
            raise ValueError("the portfolio's feature use is read over its adoption window")
        for as_of in days:
            pairs, row_count, window_rows = _features_of_portfolio(
                session, scope, ids, as_of, window, bool(use_days)
            )
            pairs_by_day.append(pairs)
            rows_by_day.append(row_count)
        catalogue = feature_catalogue(session)
    feature_rank = {i: TIER_RANK.get(f[2], 0) for i, f in catalogue.items()}
    out = []
    for pairs, row_count, day_plans in zip(pairs_by_day, rows_by_day, plans, strict=True):
        in_plan, total, available = _adoption(ids, pairs, feature_rank, day_plans)
        out.append((in_plan, total, available, row_count))
    return out, window_rows, catalogue, firsts


def _features_of_portfolio(
    session: Reader, scope: Scope, ids: IntArray, as_of: date, window: int, use: bool = False
) -> tuple[list[tuple[int, int]], FloatArray, list[FeatureWindowRow]]:
    """Used (account, feature) pairs and feature-usage rows of one day, as range aggregates;
    with ``use``, also each used pair's peak daily users and events in the window (rows
    without users or events add neither)."""
    day, account = col(FeatureUsage.day), col(FeatureUsage.account_id)
    used = or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0)
    start, lookback = as_of - timedelta(days=window), as_of - timedelta(days=3 * window)

    def build_used() -> Any:
        by = [col(FeatureUsage.feature_id)]
        columns = (
            [func.max(col(FeatureUsage.users)), func.sum(col(FeatureUsage.events))] if use else []
        )
        return per_account(
            scope, _FEATURE_USAGE, account, columns, day >= start, day < as_of, used, by=by
        )

    def build_rows() -> Any:
        return per_account(
            scope, _FEATURE_USAGE, account, [func.count()], day >= lookback, day < as_of
        )

    used_stmt = statement(("features_used", as_of, window, use, scope.kind), build_used)
    rows_stmt = statement(("feature_rows", as_of, window, scope.kind), build_rows)
    found = fetch(session, used_stmt, scope)
    pairs = [(int(r[0]), int(r[1])) for r in found]
    uses = [(int(a), int(f), int(p or 0), int(e or 0)) for a, f, p, e in found] if use else []
    (row_count,) = fill_counts(ids, fetch(session, rows_stmt, scope), 1)
    return pairs, row_count, uses


Catalogue = dict[int, tuple[str, str, str, bool]]
_CATALOGUE_COLUMNS = (
    col(Feature.key),
    col(Feature.name),
    col(Feature.tier),
    col(Feature.is_integration),
)


def _catalogue_entry(row: Sequence[Any]) -> tuple[str, str, str, bool]:
    key, name, tier, integration = row
    return str(key), str(name), str(tier), bool(integration)


def feature_catalogue(session: Reader) -> Catalogue:
    """The feature catalogue: ``(key, name, tier, is_integration)`` per feature id."""
    stmt = statement(("catalogue",), lambda: select(col(Feature.id), *_CATALOGUE_COLUMNS))
    return {int(r[0]): _catalogue_entry(r[1:]) for r in fetch(session, stmt)}


def _adoption(
    ids: IntArray,
    pairs: Sequence[tuple[int, int]],
    feature_rank: dict[int, int],
    plans: Sequence[str | None],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Features of the plan used, all features used, and features in the plan, per account.

    An unknown plan (or none) includes every feature.
    """
    n = len(ids)
    top = max(TIER_RANK.values())
    plan_rank = np.array([TIER_RANK.get(p or "", top) for p in plans], dtype=np.int64)
    ranks = np.array(list(feature_rank.values()), dtype=np.int64)
    per_rank = {r: float(np.sum(ranks <= r)) for r in TIER_RANK.values()}
    available = np.array([per_rank[int(r)] for r in plan_rank], dtype=np.float64)
    in_plan, total = zeros(n), zeros(n)
    if pairs:
        table = np.array(pairs, dtype=np.int64)
        pos, found = positions(ids, table[:, 0])
        pos, used_features = pos[found], table[found, 1]
        rank = np.array([feature_rank.get(int(f), 0) for f in used_features], dtype=np.int64)
        inside = rank <= plan_rank[pos]
        total = np.bincount(pos, minlength=n).astype(np.float64)
        in_plan = np.bincount(pos[inside], minlength=n).astype(np.float64)
    return in_plan, total, available


def activity(
    config: ScoringConfig, usage_of_day: list[FloatArray]
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Per account: whether activity is logins, and activity in the recent and prior window.

    ``auto``: logins for an account with any login in either window, else active user-days.
    This is how much activity (rates, trends); whether a day was active at all is
    ``active_day`` (``usage``'s active days), which ``no_usage`` and quiet accounts share.
    """
    logins_recent, logins_prior = usage_of_day[2], usage_of_day[3]
    users_recent, users_prior = usage_of_day[4], usage_of_day[5]
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
