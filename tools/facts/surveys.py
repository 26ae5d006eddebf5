"""Survey facts for portfolio metrics: NPS answers over a window of complete days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from tools.facts.definitions import data_end, window_start
from tools.facts.query import rows
from tools.models import NpsResponse, SurveyKind


@dataclass(frozen=True)
class NpsCounts:
    """NPS answers in a window: all of them, promoters (9-10), detractors (0-6)."""

    total: int
    promoters: int
    detractors: int


def nps_counts(session: Session, *, as_of: date, days: int) -> NpsCounts:
    """NPS answers (kind ``nps``) given in the ``days`` complete days before ``as_of``, across
    the portfolio (answers on ``as_of`` itself are not counted yet)."""
    score = col(NpsResponse.score)
    stmt = select(
        func.count(),
        func.sum(case((score >= 9, 1), else_=0)),
        func.sum(case((score <= 6, 1), else_=0)),
    ).where(
        col(NpsResponse.kind) == SurveyKind.NPS.value,
        col(NpsResponse.responded_at) >= data_end(window_start(as_of, days)),
        col(NpsResponse.responded_at) < data_end(as_of),
    )
    total, promoters, detractors = rows(session, stmt)[0]
    return NpsCounts(int(total or 0), int(promoters or 0), int(detractors or 0))
