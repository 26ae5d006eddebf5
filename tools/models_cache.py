"""Figures computed once per daily scan and stored, so that opening App Home does not recompute
them over the whole portfolio (issue 12).

- ``portfolio_metrics_cache``: the team view's portfolio metrics (``tools.metrics``) of one day,
  keyed by that day's scan and the scoring config (``key``): a rescan or another config makes a
  new key, so a stored row is never read for data it was not computed from.

Registered on ``SQLModel.metadata`` by ``tools.models`` (which imports this module).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from tools.models import utcnow


class PortfolioMetricsRecord(SQLModel, table=True):
    """The portfolio metrics of ``day`` as computed right after that day's scan."""

    __tablename__ = "portfolio_metrics_cache"
    __table_args__ = (UniqueConstraint("day", "key", name="uq_portfolio_metrics_cache_day_key"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    key: str = Field(max_length=64, description="SHA-256 of the day's scan and the config.")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    computed_at: datetime = Field(default_factory=utcnow)
