"""``RawMetrics`` (per-account arrays as of one day) and the helpers that fill its arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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


def nan_array(n: int) -> FloatArray:
    return np.full(n, np.nan, dtype=np.float64)


def zeros(n: int) -> FloatArray:
    return np.zeros(n, dtype=np.float64)


def positions(ids: IntArray, keys: Sequence[Any] | IntArray) -> tuple[IntArray, BoolArray]:
    """Positions of ``keys`` in the sorted ``ids`` and which keys were found."""
    if not len(ids) or not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    key_arr = np.asarray(keys, dtype=np.int64)
    pos = np.searchsorted(ids, key_arr)
    pos = np.minimum(pos, len(ids) - 1)
    return pos, ids[pos] == key_arr


def scatter(ids: IntArray, rows: Sequence[Sequence[Any]], default: float) -> list[FloatArray]:
    """Turn ``(account_id, v1, v2, ...)`` rows into one array per value column."""
    n = len(ids)
    if not rows:
        return []
    table = np.array([tuple(r) for r in rows], dtype=np.float64)
    pos, found = positions(ids, table[:, 0].astype(np.int64))
    out: list[FloatArray] = []
    for k in range(1, table.shape[1]):
        arr = np.full(n, default, dtype=np.float64)
        arr[pos[found]] = table[found, k]
        out.append(arr)
    return out


def scatter_or(
    ids: IntArray, rows: Sequence[Sequence[Any]], default: float, width: int
) -> list[FloatArray]:
    """``scatter`` with ``width`` arrays of ``default`` when there are no rows."""
    columns = scatter(ids, rows, default)
    return columns or [np.full(len(ids), default, dtype=np.float64) for _ in range(width)]


def sum_by_account(ids: IntArray, rows: Sequence[tuple[Any, Any]]) -> FloatArray:
    """Per account, the sum of the values of its ``(account_id, value)`` rows (0 when none)."""
    out = zeros(len(ids))
    if rows:
        pos, found = positions(ids, [r[0] for r in rows])
        values = np.array([float(r[1] or 0) for r in rows], dtype=np.float64)
        np.add.at(out, pos[found], values[found])
    return out


def fill_counts(ids: IntArray, rows: Sequence[Sequence[Any]], width: int) -> list[FloatArray]:
    """Like ``scatter`` but absent accounts and NULL sums count as 0."""
    columns = scatter(ids, rows, 0.0)
    if not columns:
        return [zeros(len(ids)) for _ in range(width)]
    return [np.nan_to_num(c, nan=0.0) for c in columns]


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def days_since(as_of: date, when: Any) -> float:
    """Whole days from ``when`` (a date or datetime) to ``as_of``; NaN for None."""
    if when is None:
        return float("nan")
    return float(as_of.toordinal() - as_date(when).toordinal())


def per_day(columns: list[FloatArray], width: int, days: int) -> list[list[FloatArray]]:
    """Split ``columns`` laid out day after day (``width`` each) into one list per day."""
    return [columns[k * width : (k + 1) * width] for k in range(days)]
