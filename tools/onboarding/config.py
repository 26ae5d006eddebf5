"""Onboarding milestones and window, part of the scoring config (``[onboarding]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MilestoneKind = Literal["first_activity", "active_users", "features", "integration"]


class Milestone(BaseModel):
    """One onboarding milestone and the data that marks it reached.

    - ``first_activity``: the first day with any active user or login (usage);
    - ``active_users``: the first day with at least ``threshold`` active users (usage);
    - ``features``: the day the ``threshold``-th distinct feature was first used (feature usage),
      counting only ``features`` (feature keys) when that list is not empty;
    - ``integration``: the first use of an integration feature (``is_integration``).

    ``due_days`` after the onboarding start it is overdue; without it, it is tracked only.
    """

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=80)
    kind: MilestoneKind
    threshold: int = Field(default=1, ge=1)
    features: list[str] = Field(default_factory=list)
    due_days: int | None = Field(default=None, ge=1)
    enabled: bool = True


def _default_milestones() -> dict[str, Milestone]:
    return {
        "first_activity": Milestone(label="First activity", kind="first_activity", due_days=14),
        "active_users": Milestone(
            label="5 active users", kind="active_users", threshold=5, due_days=30
        ),
        "key_features": Milestone(
            label="3 features adopted", kind="features", threshold=3, due_days=45
        ),
        "integration": Milestone(label="First integration", kind="integration"),
    }


class OnboardingConfig(BaseModel):
    """The onboarding window, its milestones and which one is "first value"; with the windows
    of the derived lifecycle stage (``renewal_stage_days``, ``mature_after_days``)."""

    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(default=90, ge=1, le=730)
    renewal_stage_days: int = Field(default=90, ge=0, le=730)
    mature_after_days: int = Field(default=365, ge=1, le=3650)
    first_value: str = "active_users"
    milestones: dict[str, Milestone] = Field(default_factory=_default_milestones)

    @model_validator(mode="after")
    def _known_first_value(self) -> OnboardingConfig:
        if self.first_value not in self.enabled():
            raise ValueError(
                f"onboarding.first_value {self.first_value!r} is not an enabled milestone"
            )
        return self

    def enabled(self) -> dict[str, Milestone]:
        """The enabled milestones, in config order."""
        return {key: m for key, m in self.milestones.items() if m.enabled}
