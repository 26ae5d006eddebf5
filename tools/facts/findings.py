"""The facts Lean and expansion need about a few accounts, read with the report's extraction.

``/health <account>`` extracts its facts once (``extract_days(..., findings=True)``): the same
usage, feature-usage and ticket statements also return, for the main day D, each account's
daily active users over the last ``daily_days`` complete days, its use of each feature over the
expansion window and its urgent tickets left open. ``FindingFacts`` derives from those the
values the metric layer's own readers (``weekly_usage``, ``longest_gaps``, ``feature_use``,
``tier_peak_users``, ``urgent_open``, ``active_contracts``) return for the same account and day,
so Lean and expansion read no table again and show the same numbers as on the portfolio path.

The scan reads the same facts in bulk for its team figures' expansion pipeline alone
(``extract_days(..., findings=True)`` on the portfolio, one day; counted and summed, never
ranked): its recent usage window also returns the peak active users of each of the last
``seat_weeks`` weeks, and its feature-adoption statement each used feature's peak users and
events. Those ``FindingFacts`` hold weekly peaks only (``weekly`` and ``longest_gap`` raise,
and so does a strength over more weeks) and no urgent tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tools.facts.contracts import ActiveContract
from tools.facts.extract.arrays import RawMetrics
from tools.facts.extract.product import portfolio_weeks
from tools.facts.features import FeatureUse
from tools.facts.query import as_utc
from tools.facts.tickets import UrgentOpen

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

STRENGTH_WEEKS = 8  # tools.expansion_strength.WEEKS
_NO_DAYS = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class FindingWindows:
    """How far back the findings' extra columns reach (from the scoring config)."""

    daily_days: int  # daily active users of the last N complete days
    feature_days: int  # expansion's feature window
    urgent_days: int  # Muri: urgent tickets open longer than this
    weeks: int  # the scan's bulk facts: weekly peaks of expansion's seat rule

    def in_bulk(self, config: ScoringConfig) -> bool:
        """Whether the portfolio's own usage and adoption windows hold expansion's weeks and
        feature window (the bulk findings of the scan)."""
        norm = config.health.normalise
        return (
            portfolio_weeks(norm.usage_window_days, self.weeks)
            and self.feature_days == norm.adoption_window_days
        )

    @classmethod
    def of(cls, config: ScoringConfig) -> FindingWindows:
        weeks = max(config.lean.mura_weeks, config.expansion.seat_weeks, STRENGTH_WEEKS)
        return cls(
            daily_days=7 * weeks,
            feature_days=config.expansion.window_days,
            urgent_days=config.lean.muri_urgent_open_days,
            weeks=config.expansion.seat_weeks,
        )


@dataclass(frozen=True)
class FeatureRow:
    """One feature of the catalogue."""

    key: str
    name: str
    tier: str
    is_integration: bool


@dataclass(frozen=True)
class FindingFacts:
    """One account's facts for Lean and expansion, as of ``as_of`` (complete days)."""

    account_id: int
    as_of: date
    contract: ActiveContract | None  # the contract in force; None = churned
    seats_used: int  # peak daily active users over the usage window (0 without usage rows)
    tickets_window: int  # tickets opened in the ticket window
    urgent: UrgentOpen | None
    daily_users: npt.NDArray[np.float64]  # oldest first; the last entry is as_of - 1
    features: tuple[FeatureUse, ...]  # every feature with a row in the expansion window, by key
    week_peaks: npt.NDArray[np.float64] | None = None  # bulk: weekly peaks only, oldest first

    def weekly(self, weeks: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
        """``(mean, peak)`` daily active users of each of the last ``weeks`` complete weeks,
        oldest first, as ``weekly_usage`` gives them; None when no day had an active user."""
        if self.week_peaks is not None:
            raise ValueError("the scan's bulk facts hold weekly peaks only")
        days = self.daily_users[-7 * weeks :]
        if days.size < 7 * weeks:
            raise ValueError(f"{weeks} weeks asked, {self.daily_users.size} days extracted")
        if not bool(np.any(days > 0)):
            return None
        by_week = days.reshape(weeks, 7)
        return by_week.sum(axis=1) / 7.0, by_week.max(axis=1)

    def weekly_peaks(self, weeks: int) -> npt.NDArray[np.float64] | None:
        """The peak daily active users of each of the last ``weeks`` complete weeks, oldest
        first (``weekly``'s second array); None when no day had an active user."""
        if self.week_peaks is None:
            weekly = self.weekly(weeks)
            return None if weekly is None else weekly[1]
        if len(self.week_peaks) < weeks:
            raise ValueError(f"{weeks} weeks asked, {len(self.week_peaks)} weeks extracted")
        last = self.week_peaks[len(self.week_peaks) - weeks :]
        return last if last.size and last.max() > 0 else None  # peaks are >= 0

    def longest_gap(self, days: int) -> int | None:
        """``longest_gaps``: the longest run of days without active users in the last ``days``
        complete days, from the first active one, including the run up to as_of - 1."""
        if self.daily_users.size < days:
            raise ValueError(f"{days} days asked, {self.daily_users.size} days extracted")
        active = np.flatnonzero(self.daily_users[-days:] > 0)
        if not active.size:
            return None
        inner = int(np.max(np.diff(active)) - 1) if active.size > 1 else 0
        trailing = days - 1 - int(active[-1])
        return max(inner, trailing)

    def feature_use(self, min_users: int, min_events: int, always: list[str]) -> list[FeatureUse]:
        """``feature_use``: the features with ``min_users`` peak users or ``min_events`` events
        in the window, or keyed in ``always``."""
        return [
            u
            for u in self.features
            if u.peak_users >= min_users or u.events >= min_events or u.key in always
        ]

    def tier_peaks(self) -> list[tuple[str, int]]:
        """``tier_peak_users``: peak daily users per feature tier over the window."""
        peaks: dict[str, int] = {}
        for use in self.features:
            peaks[use.tier] = max(peaks.get(use.tier, 0), use.peak_users)
        return list(peaks.items())


def contract_in_force(
    account_id: int, external_id: str, rows: list[tuple[Any, ...]], on: date
) -> ActiveContract | None:
    """``active_contracts`` of one account from its contract rows ``(start, end, arr, seats,
    plan, contract external id)`` ordered by start date then id: the latest-starting contract
    in force wins."""
    found = None
    for start, end, arr, seats, plan, contract_external_id in rows:
        if start <= on <= end:
            found = ActiveContract(
                account_id=account_id,
                external_id=external_id,
                plan=plan,
                arr=Decimal(arr or 0),
                seats_purchased=int(seats or 0),
                start_date=start,
                end_date=end,
                contract_external_id=str(contract_external_id),
            )
    return found


def finding_facts(
    raw: RawMetrics,
    *,
    external_ids: dict[int, str],
    contract_rows: list[tuple[Any, ...]],
    daily: npt.NDArray[np.float64],
    feature_rows: list[tuple[int, int, int, int]],
    catalogue: dict[int, tuple[str, str, str, bool]],
    urgent: dict[int, tuple[int, Any]],
    bulk: bool = False,
) -> dict[int, FindingFacts]:
    """``FindingFacts`` of every account of ``raw`` (its main day), from the extra columns the
    extraction read (``extract_days(..., findings=True)``); ``bulk``: ``daily`` holds the
    weekly peaks, shape (accounts, weeks)."""
    contracts: dict[int, list[tuple[Any, ...]]] = {}
    for account_id, start, end, arr, seats, plan, _, contract_external_id in contract_rows:
        row = (start, end, arr, seats, plan, contract_external_id)
        contracts.setdefault(int(account_id), []).append(row)
    uses: dict[int, list[FeatureUse]] = {}
    for account_id, feature_id, peak, events in feature_rows:
        known = catalogue.get(feature_id)
        if known is not None:
            key, name, tier, integration = known
            use = FeatureUse(key, name, tier, integration, peak, events)
            uses.setdefault(account_id, []).append(use)
    seats_used = np.nan_to_num(np.where(raw.usage_rows_recent > 0, raw.seats_used, 0.0))
    tickets = np.nan_to_num(raw.tickets_window)
    out: dict[int, FindingFacts] = {}
    for p, (account, seats, tickets_window) in enumerate(
        zip(raw.ids.tolist(), seats_used.astype(np.int64).tolist(), tickets.tolist(), strict=True)
    ):
        left_open = urgent.get(account)
        out[account] = FindingFacts(
            account_id=account,
            as_of=raw.as_of,
            contract=contract_in_force(
                account, external_ids.get(account, ""), contracts.get(account, []), raw.as_of
            ),
            seats_used=seats,
            tickets_window=int(tickets_window),
            urgent=None
            if left_open is None
            else UrgentOpen(left_open[0], (raw.as_of - as_utc(left_open[1]).date()).days),
            daily_users=_NO_DAYS if bulk else daily[p],
            features=tuple(sorted(uses.get(account, []), key=_by_key)),
            week_peaks=daily[p] if bulk else None,
        )
    return out


def _by_key(use: FeatureUse) -> str:
    return use.key
