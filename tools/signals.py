"""Set-based extraction of the raw health metrics of many accounts at once, as of one day.

``extract_raw`` runs a fixed number of aggregate queries (one per source table, ``GROUP BY
account_id`` with the as-of windows in conditional aggregates) and returns NumPy arrays aligned
with ``RawMetrics.ids``. Nothing here reads data that was not knowable on ``as_of``:

- usage, feature usage: ``day <= as_of``; tickets, NPS, interactions: timestamp before the end of
  ``as_of`` (UTC); a ticket closed after ``as_of`` is still open; an invoice paid after ``as_of`` is
  unpaid; a contact whose ``left_on`` is after ``as_of`` is still there; ``last_engaged_at`` counts
  only when it is on or before ``as_of``;
- contracts: only those with ``start_date <= as_of``; "active" means ``start <= as_of <= end``.
  ``Contract.status`` and ``Account.lifecycle_stage`` are never read.

``Account.tam_health`` is current-only; callers drop it with ``use_static_fields=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, and_, case, distinct, func, or_, select
from sqlmodel import Session, col

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
from tools.scoring_config import ScoringConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

# Above this many ids we query the whole portfolio and subset in NumPy (keeps IN lists short).
IN_LIST_LIMIT = 500

TIER_RANK = {"starter": 0, "pro": 1, "enterprise": 2}


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
    auto_renew: BoolArray
    plan: list[str | None]
    renewal_date: list[date | None]
    # usage (recent = last ``usage_window_days`` incl. as_of, prior = the window before)
    usage_rows_recent: FloatArray
    usage_rows_prior: FloatArray
    logins_recent: FloatArray
    logins_prior: FloatArray
    user_days_recent: FloatArray
    user_days_prior: FloatArray
    seats_used: FloatArray
    # features
    features_used: FloatArray
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
    """Restricts queries to a few accounts, or to none (whole portfolio, subset later)."""

    def __init__(self, account_ids: Sequence[int] | None) -> None:
        wanted = None if account_ids is None else sorted({int(a) for a in account_ids})
        self.sql_ids = wanted if wanted is not None and len(wanted) <= IN_LIST_LIMIT else None
        self.wanted = wanted

    def apply(self, stmt: SelectT, column: Any) -> SelectT:
        if self.sql_ids is None:
            return stmt
        return stmt.where(column.in_(self.sql_ids))


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


def account_ids_in(session: Session, scope: Scope, raw_tam: bool) -> tuple[IntArray, FloatArray]:
    stmt = scope.apply(select(col(Account.id), col(Account.tam_health)), col(Account.id))
    rows = session.execute(stmt.order_by(col(Account.id))).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if scope.wanted is not None:
        keep = np.isin(ids, np.asarray(scope.wanted, dtype=np.int64))
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
        ids = ids[keep]
    tam = np.array(
        [np.nan if (r[1] is None or not raw_tam) else float(r[1]) for r in rows], dtype=np.float64
    )
    return ids, tam


def contract_terms(session: Session, scope: Scope, ids: IntArray, as_of: date) -> dict[str, Any]:
    """Contract facts per account as of ``as_of`` (the contract in force, tenure), as arrays."""
    n = len(ids)
    stmt = select(
        col(Contract.account_id),
        col(Contract.start_date),
        col(Contract.end_date),
        col(Contract.arr),
        col(Contract.seats_purchased),
        col(Contract.plan),
        col(Contract.auto_renew),
    ).where(col(Contract.start_date) <= as_of)
    stmt = scope.apply(stmt, col(Contract.account_id))
    rows = session.execute(stmt.order_by(col(Contract.account_id), col(Contract.start_date))).all()
    out: dict[str, Any] = {
        "has_contract": np.zeros(n, dtype=np.bool_),
        "active": np.zeros(n, dtype=np.bool_),
        "tenure_days": _nan(n),
        "arr": _zeros(n),
        "seats_purchased": _nan(n),
        "days_to_renewal": _nan(n),
        "auto_renew": np.zeros(n, dtype=np.bool_),
        "plan": [None] * n,
        "renewal_date": [None] * n,
    }
    if not rows:
        return out
    pos, found = _positions(ids, [r[0] for r in rows])
    as_of_ord = as_of.toordinal()
    for row, p, ok in zip(rows, pos.tolist(), found.tolist(), strict=True):
        if not ok:
            continue
        _, start, end, arr, seats, plan, auto_renew = row
        if not out["has_contract"][p]:
            out["has_contract"][p] = True
            out["tenure_days"][p] = float(as_of_ord - start.toordinal())
        if end >= as_of:  # rows are by start date: the last active one wins
            out["active"][p] = True
            out["arr"][p] = float(arr)
            out["seats_purchased"][p] = float(seats)
            out["days_to_renewal"][p] = float(end.toordinal() - as_of_ord)
            out["auto_renew"][p] = bool(auto_renew)
            out["plan"][p] = plan
            out["renewal_date"][p] = end
    return out


def _usage(
    session: Session, scope: Scope, ids: IntArray, as_of: date, window: int
) -> list[FloatArray]:
    recent_start = as_of - timedelta(days=window - 1)
    prior_start = recent_start - timedelta(days=window)
    recent = col(UsageDaily.day) >= recent_start

    def recent_sum(value: Any) -> Any:
        return func.sum(case((recent, value), else_=0))

    def prior_sum(value: Any) -> Any:
        return func.sum(case((recent, 0), else_=value))

    stmt = (
        select(
            col(UsageDaily.account_id),
            recent_sum(1),
            prior_sum(1),
            recent_sum(col(UsageDaily.logins)),
            prior_sum(col(UsageDaily.logins)),
            recent_sum(col(UsageDaily.active_users)),
            prior_sum(col(UsageDaily.active_users)),
            func.max(case((recent, col(UsageDaily.active_users)), else_=0)),
        )
        .where(col(UsageDaily.day) >= prior_start, col(UsageDaily.day) <= as_of)
        .group_by(col(UsageDaily.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(UsageDaily.account_id))).all()
    return _fill_counts(ids, rows, 7)


def _features(
    session: Session, scope: Scope, ids: IntArray, as_of: date, window: int
) -> tuple[FloatArray, FloatArray]:
    start = as_of - timedelta(days=window - 1)
    lookback = as_of - timedelta(days=3 * window - 1)
    used = and_(
        col(FeatureUsage.day) >= start,
        or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0),
    )
    stmt = (
        select(
            col(FeatureUsage.account_id),
            func.count(distinct(case((used, col(FeatureUsage.feature_id)), else_=None))),
            func.count(),
        )
        .where(col(FeatureUsage.day) >= lookback, col(FeatureUsage.day) <= as_of)
        .group_by(col(FeatureUsage.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(FeatureUsage.account_id))).all()
    used_count, row_count = _fill_counts(ids, rows, 2)
    return used_count, row_count


def _features_available(session: Session, plans: list[str | None]) -> FloatArray:
    tiers = [t for (t,) in session.execute(select(col(Feature.tier))).all()]
    ranks = np.array([TIER_RANK.get(str(t), 0) for t in tiers], dtype=np.int64)
    per_rank = {r: float(np.sum(ranks <= r)) for r in TIER_RANK.values()}
    total = float(len(tiers))
    return np.array(
        [per_rank.get(TIER_RANK.get(p or "", -1), total) for p in plans], dtype=np.float64
    )


def _tickets(
    session: Session, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> list[FloatArray]:
    norm, churn = config.health.normalise, config.churn
    end = end_of(as_of)

    def since(days: int) -> Any:
        return col(Ticket.opened_at) >= day_start(as_of - timedelta(days=days - 1))

    spike_days = churn.ticket_spike_days
    window = since(norm.ticket_window_days)
    spike = since(spike_days)
    baseline = and_(
        since(spike_days + churn.ticket_baseline_days),
        col(Ticket.opened_at) < day_start(as_of - timedelta(days=spike_days - 1)),
    )
    still_open = or_(col(Ticket.closed_at).is_(None), col(Ticket.closed_at) >= end)
    escalated = col(Ticket.escalated).is_(True)
    stmt = (
        select(
            col(Ticket.account_id),
            func.sum(case((window, 1), else_=0)),
            func.avg(case((window, col(Ticket.sentiment)), else_=None)),
            func.sum(case((spike, 1), else_=0)),
            func.sum(case((baseline, 1), else_=0)),
            func.sum(case((and_(since(norm.escalation_window_days), escalated), 1), else_=0)),
            func.sum(case((and_(escalated, still_open), 1), else_=0)),
            func.sum(case((still_open, 1), else_=0)),
        )
        .where(col(Ticket.opened_at) < end)
        .group_by(col(Ticket.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(Ticket.account_id))).all()
    columns = _scatter(ids, rows, np.nan)
    if not columns:
        columns = [_nan(len(ids)) for _ in range(7)]
    for k in (0, 2, 3, 4, 5, 6):
        columns[k] = np.nan_to_num(columns[k], nan=0.0)
    return columns


def _days_since(as_of: date, rows: Sequence[Sequence[Any]]) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for account_id, when in rows:
        if when is None:
            continue
        day = when.date() if isinstance(when, datetime) else when
        out.append((account_id, float(as_of.toordinal() - day.toordinal())))
    return out


def _interactions(session: Session, scope: Scope, ids: IntArray, as_of: date) -> FloatArray:
    stmt = (
        select(col(Interaction.account_id), func.max(col(Interaction.occurred_at)))
        .where(col(Interaction.occurred_at) < end_of(as_of), col(Interaction.meaningful).is_(True))
        .group_by(col(Interaction.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(Interaction.account_id))).all()
    columns = _scatter(ids, _days_since(as_of, rows), np.nan)
    return columns[0] if columns else _nan(len(ids))


def _invoices(
    session: Session, scope: Scope, ids: IntArray, as_of: date
) -> tuple[FloatArray, FloatArray, FloatArray]:
    overdue = and_(
        col(Invoice.due_on) < as_of,
        or_(col(Invoice.paid_on).is_(None), col(Invoice.paid_on) > as_of),
    )
    stmt = (
        select(
            col(Invoice.account_id),
            func.count(),
            func.sum(case((overdue, col(Invoice.amount)), else_=0)),
            func.min(case((overdue, col(Invoice.due_on)), else_=None)),
        )
        .where(col(Invoice.issued_on) <= as_of, col(Invoice.status) != InvoiceStatus.VOID.value)
        .group_by(col(Invoice.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(Invoice.account_id))).all()
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
    session: Session, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> dict[str, Any]:
    n = len(ids)
    present = or_(col(Contact.left_on).is_(None), col(Contact.left_on) > as_of)
    counts = select(
        col(Contact.account_id), func.sum(case((present, 1), else_=0)), func.count()
    ).group_by(col(Contact.account_id))
    contacts, contacts_known = _fill_counts(
        ids, session.execute(scope.apply(counts, col(Contact.account_id))).all(), 2
    )
    champions = select(
        col(Contact.id),
        col(Contact.account_id),
        col(Contact.name),
        col(Contact.left_on),
        col(Contact.last_engaged_at),
    ).where(col(Contact.role) == ContactRole.CHAMPION.value)
    champ_rows = session.execute(scope.apply(champions, col(Contact.account_id))).all()
    touched = (
        select(col(Interaction.contact_id), func.max(col(Interaction.occurred_at)))
        .join(Contact, col(Contact.id) == col(Interaction.contact_id))
        .where(
            col(Contact.role) == ContactRole.CHAMPION.value,
            col(Interaction.occurred_at) < end_of(as_of),
        )
        .group_by(col(Interaction.contact_id))
    )
    last_touch: dict[int, datetime] = dict(
        session.execute(scope.apply(touched, col(Interaction.account_id))).all()
    )
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
    end = end_of(as_of)
    as_of_ord = as_of.toordinal()
    for row, p, ok in zip(champ_rows, pos.tolist(), found.tolist(), strict=True):
        if not ok:
            continue
        contact_id, _, name, left_on, engaged_at = row
        if left_on is not None and left_on <= as_of:
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
    session: Session, scope: Scope, ids: IntArray, as_of: date, config: ScoringConfig
) -> list[FloatArray]:
    norm, churn = config.health.normalise, config.churn
    start = day_start(as_of - timedelta(days=norm.nps_window_days - 1))
    recent_start = day_start(as_of - timedelta(days=churn.detractor_window_days - 1))
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
            col(NpsResponse.responded_at) < end_of(as_of),
            col(NpsResponse.responded_at) >= min(start, recent_start),
        )
        .group_by(col(NpsResponse.account_id))
    )
    rows = session.execute(scope.apply(stmt, col(NpsResponse.account_id))).all()
    columns = _scatter(ids, rows, np.nan)
    if not columns:
        columns = [_nan(len(ids)) for _ in range(7)]
    for k in (1, 3, 4, 6):
        columns[k] = np.nan_to_num(columns[k])
    return columns


def extract_raw(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
) -> RawMetrics:
    """Raw metrics of every account (or of ``account_ids``) as of ``as_of``, in ~12 queries."""
    scope = Scope(account_ids)
    norm = config.health.normalise
    ids, tam = account_ids_in(session, scope, use_static_fields)
    contracts = contract_terms(session, scope, ids, as_of)
    usage = _usage(session, scope, ids, as_of, norm.usage_window_days)
    features_used, feature_rows = _features(session, scope, ids, as_of, norm.adoption_window_days)
    tickets = _tickets(session, scope, ids, as_of, config)
    invoices, overdue_amount, overdue_days = _invoices(session, scope, ids, as_of)
    contacts = _contacts(session, scope, ids, as_of, config)
    surveys = _surveys(session, scope, ids, as_of, config)
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
        features_used=features_used,
        feature_rows=feature_rows,
        features_available=_features_available(session, contracts["plan"]),
        tickets_window=tickets[0],
        sentiment_mean=tickets[1],
        tickets_spike=tickets[2],
        tickets_baseline=tickets[3],
        escalated_window=tickets[4],
        open_escalated=tickets[5],
        open_tickets=tickets[6],
        days_since_interaction=_interactions(session, scope, ids, as_of),
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
    )
