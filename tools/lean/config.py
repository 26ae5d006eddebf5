"""Lean thresholds (TOML section ``[lean]``) and the severity scale the findings share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tools.results import Severity


class LeanConfig(BaseModel):
    """Thresholds for the Lean waste findings (TOML section ``[lean]``)."""

    model_config = ConfigDict(extra="forbid")

    # Muda: unused licences.
    muda_min_unused_share: float = Field(default=0.2, ge=0, le=1)
    muda_medium_share: float = Field(default=0.35, ge=0, le=1)
    muda_high_share: float = Field(default=0.5, ge=0, le=1)
    muda_min_unused_seats: int = Field(default=1, ge=1)
    # Mura: erratic usage.
    mura_weeks: int = Field(default=12, ge=2, description="Weeks of weekly active users.")
    mura_cv_threshold: float = Field(default=0.35, ge=0, description="Coefficient of variation.")
    mura_cv_high: float = Field(default=0.6, ge=0)
    mura_gap_days: int = Field(default=7, ge=1, description="Consecutive zero-usage days.")
    mura_gap_high_days: int = Field(default=14, ge=1)
    # Muri: support overload.
    muri_ratio_multiple: float = Field(
        default=2.0, ge=1, description="Tickets per active user vs the portfolio median."
    )
    muri_ratio_high_multiple: float = Field(default=4.0, ge=1)
    muri_min_tickets: int = Field(default=5, ge=1, description="Ignore tiny ticket counts.")
    muri_urgent_open_days: int = Field(default=7, ge=0)
    muri_urgent_high_count: int = Field(default=3, ge=1)


_RANK: dict[Severity, int] = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def severity(value: float, medium: float, high: float) -> Severity:
    """LOW below ``medium``, MEDIUM from ``medium``, HIGH from ``high``."""
    if value >= high:
        return Severity.HIGH
    if value >= medium:
        return Severity.MEDIUM
    return Severity.LOW


def worst(*levels: Severity) -> Severity:
    """The most severe of ``levels``."""
    return max(levels, key=_RANK.__getitem__)
