"""Expansion strength: a continuous, additive measure of how much an account is outgrowing its
contract, so opportunities are ranked by evidence rather than by a yes/no threshold.

For every account with a contract in force on ``as_of`` (complete days: data dated before it):

================== ================================================================================
component          definition (weekly peak = highest daily active users in a 7-day week)
================== ================================================================================
utilisation        mean weekly peak over the last 4 weeks / seats purchased, capped at 2
utilisation_trend  (mean weekly peak of the last 4 weeks - of the 4 weeks before) / seats
                   purchased, clipped to [-1, 1]: active-user growth measured against the seats
peak               highest weekly peak of the last 8 weeks / seats purchased, capped at 2
tier_pull          share of the account's peak users who used a feature (or integration) of a
                   tier above the plan in the last ``window_days`` [30] complete days, capped at 1
================== ================================================================================

``strength = Σ weight · component`` with the weights of ``[expansion.strength]`` (defaults
below; ``csbot calibrate`` fits them to the team's own upsells). A component that cannot be
measured (no seats purchased, no usage) counts as 0. The binary rules in ``tools.expansion``
still decide which opportunities are shown; ``/expansion`` and the proposals rank by strength.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from tools.facts import TIER_RANK, ActiveContract, tier_peak_users, weekly_usage

if TYPE_CHECKING:
    from tools.facts.findings import FindingFacts

FloatArray = npt.NDArray[np.float64]

COMPONENTS: tuple[str, ...] = ("utilisation", "utilisation_trend", "peak", "tier_pull")
WEEKS = 8


class StrengthWeights(BaseModel):
    """Weights of the expansion-strength components (TOML ``[expansion.strength]``)."""

    model_config = ConfigDict(extra="forbid")

    intercept: float = Field(default=0.0, description="Added to every account (fit by calibrate).")
    utilisation: float = 1.0
    utilisation_trend: float = 2.0
    peak: float = 0.5
    tier_pull: float = 0.5

    def vector(self) -> FloatArray:
        """The component weights in ``COMPONENTS`` order."""
        return np.array([getattr(self, k) for k in COMPONENTS], dtype=np.float64)


@dataclass(frozen=True)
class StrengthMatrix:
    """Components per account, shape (accounts, len(COMPONENTS)), aligned with ``ids``."""

    ids: list[int]
    components: FloatArray

    def strength(self, weights: StrengthWeights) -> dict[int, float]:
        """``intercept + Σ weight · component`` per account."""
        values = weights.intercept + self.components @ weights.vector()
        return {a: round(float(v), 4) for a, v in zip(self.ids, values.tolist(), strict=True)}


def strength_matrix(
    session: Session,
    *,
    as_of: date,
    contracts: dict[int, ActiveContract],
    window_days: int = 30,
) -> StrengthMatrix:
    """The strength components of every account in ``contracts`` as of ``as_of``."""
    ids = sorted(contracts)
    out = np.zeros((len(ids), len(COMPONENTS)), dtype=np.float64)
    if not ids:
        return StrengthMatrix(ids=ids, components=out)
    weekly = weekly_usage(session, as_of=as_of, weeks=WEEKS, account_ids=ids)
    week_row = weekly.index()
    tiers = tier_peak_users(session, as_of=as_of, window_days=window_days, account_ids=ids)
    for i, account_id in enumerate(ids):
        row = week_row.get(account_id)
        peaks = weekly.peak_dau[row] if row is not None else np.zeros(WEEKS)
        out[i] = _components(contracts[account_id], peaks, tiers.get(account_id, []))
    return StrengthMatrix(ids=ids, components=out)


def strength_of_facts(facts: dict[int, FindingFacts]) -> StrengthMatrix:
    """``strength_matrix`` of accounts in force from the facts their report already extracted
    (``tools.facts.findings``; the tier window is the one it was extracted with)."""
    ids = sorted(facts)
    out = np.zeros((len(ids), len(COMPONENTS)), dtype=np.float64)
    for i, account_id in enumerate(ids):
        fact = facts[account_id]
        if fact.contract is None:
            raise ValueError(f"account {account_id} has no contract in force")
        peaks = fact.weekly_peaks(WEEKS)
        if peaks is None:
            peaks = np.zeros(WEEKS)
        out[i] = _components(fact.contract, peaks, fact.tier_peaks())
    return StrengthMatrix(ids=ids, components=out)


def _components(
    contract: ActiveContract, peaks: FloatArray, uses: list[tuple[str, int]]
) -> FloatArray:
    """The components of one account from its weekly peaks and its peak users per tier."""
    out = np.zeros(len(COMPONENTS), dtype=np.float64)
    seats = float(contract.seats_purchased)
    peak_users = float(peaks.max()) if peaks.size else 0.0
    if seats > 0:
        recent, prior = float(peaks[-4:].mean()), float(peaks[:-4].mean())
        out[0] = min(recent / seats, 2.0)
        out[1] = float(np.clip((recent - prior) / seats, -1.0, 1.0))
        out[2] = min(peak_users / seats, 2.0)
    plan_rank = TIER_RANK.get(contract.plan or "", len(TIER_RANK))
    above = max((u for t, u in uses if TIER_RANK.get(t, -1) > plan_rank), default=0)
    if peak_users > 0:
        out[3] = min(above / peak_users, 1.0)
    return out
