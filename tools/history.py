"""Health history of one account: monthly points from stored snapshots, computed where missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from tools.health import band_for, past_scores
from tools.results import Band
from tools.scoring_config import ScoringConfig


@dataclass(frozen=True)
class HistoryPoint:
    """The health score and band of an account on one day."""

    day: date
    score: float
    band: Band


def health_history(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    points: int = 6,
    step_days: int = 30,
) -> list[HistoryPoint]:
    """``points`` scores ``step_days`` apart, newest (``as_of``) first; no look-ahead."""
    history: list[HistoryPoint] = []
    for step in range(points + 1):
        day = as_of - timedelta(days=step * step_days)
        scores = past_scores(session, day=day, config=config, account_ids=[account_id])
        if account_id in scores:
            score = scores[account_id]
            history.append(HistoryPoint(day=day, score=score, band=band_for(score, config)))
    return history
