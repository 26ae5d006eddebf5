"""Onboarding and time to value: milestones from the scoring config, per-account progress,
the onboarding-overdue churn trigger, time to first value by cohort, the derived lifecycle stage.
"""

from tools.onboarding.config import Milestone, OnboardingConfig
from tools.onboarding.progress import MilestoneProgress, OnboardingProgress, onboarding_progress
from tools.onboarding.signals import (
    derived_stage,
    effective_stage,
    lifecycle_stage,
    onboarding_triggers,
    overdue_trigger,
    time_to_value_by_cohort,
)
from tools.results import CohortTimeToValue

__all__ = [
    "CohortTimeToValue",
    "Milestone",
    "MilestoneProgress",
    "OnboardingConfig",
    "OnboardingProgress",
    "derived_stage",
    "effective_stage",
    "lifecycle_stage",
    "onboarding_progress",
    "onboarding_triggers",
    "overdue_trigger",
    "time_to_value_by_cohort",
]
