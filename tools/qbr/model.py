"""The QBR document: four sections of numbers from the tools, and the stated ROI assumptions.

Renderers (``tools.qbr_render``, ``bot.qbr_blocks``, Notion) read this model and never compute
numbers of their own.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from tools.facts import money_text
from tools.facts.usage import FeatureAdoption
from tools.insights import SignalMove
from tools.results import (
    AccountSummary,
    Band,
    Driver,
    ExpansionOpportunity,
    TriggerHit,
)

SectionKey = Literal["health_summary", "roi_impact", "adoption_scorecard", "expansion_next_steps"]
QUARTER_DAYS = 91
HISTORY_POINTS = 12
HISTORY_STEP_DAYS = 14


class RoiAssumptions(BaseModel):
    """The stated assumptions behind the ROI estimates (shown verbatim in every QBR)."""

    minutes_saved_per_event: float = Field(
        default=1.0, ge=0, description="Minutes of manual work one product action replaces."
    )
    minutes_saved_per_integration_event: float = Field(
        default=0.02, ge=0, description="Minutes one automated integration/API event replaces."
    )
    hourly_cost: Decimal = Field(
        default=Decimal("55"), ge=0, description="Loaded cost of one hour of a user's time ($)."
    )

    def statements(self) -> list[str]:
        """The assumptions in plain words."""
        return [
            f"Each product action (feature event) saves {_minutes(self.minutes_saved_per_event)} "
            "of manual work.",
            "Each integration/API event saves "
            f"{_minutes(self.minutes_saved_per_integration_event)} "
            "(automated sync instead of copy-paste).",
            f"An hour of a user's time costs {money_text(self.hourly_cost)} (loaded).",
            "Annualised figures multiply the last 91 days by 4.",
        ]


def _minutes(value: float) -> str:
    return f"{value:g} minute" + ("" if value == 1 else "s")


class HealthPoint(BaseModel):
    """The health score and band on one day."""

    day: date
    score: float
    band: Band


class HealthSection(BaseModel):
    score: float
    band: Band
    start_score: float | None = None
    start_band: Band | None = None
    band_trend: str
    history: list[HealthPoint] = Field(description="Oldest first.")
    drivers: list[Driver]
    movers: list[SignalMove]
    churn_level: str
    churn_triggers: list[TriggerHit]
    narrative: str = ""
    voice: str = Field(default="", description="Voice of the customer over the quarter (markdown).")


class ValueMetric(BaseModel):
    """One quantified value delivered, with how it was computed."""

    label: str
    value: str
    basis: str


class RoiSection(BaseModel):
    plan: str | None
    arr: Decimal
    seats_purchased: int
    seats_used: int | None
    events: int
    integration_events: int
    hours_saved: float
    value_of_time: Decimal
    annualised_value: Decimal
    roi_multiple: float | None
    metrics: list[ValueMetric]
    assumptions: list[str]
    waste: list[str] = Field(description="Lean findings with their cost where priced.")
    narrative: str = ""


class AdoptionRow(FeatureAdoption):
    """One feature's adoption (the metric layer's) and its status against the benchmark."""

    status: Literal["above", "below", "unused", "not_in_plan"]


class UnderUsedFeature(BaseModel):
    feature: str
    name: str
    adoption: float
    benchmark: float
    users_to_benchmark: int
    recommendation: str


class AdoptionSection(BaseModel):
    peak_active_users: int
    rows: list[AdoptionRow]
    in_plan_features: int
    at_benchmark: int
    under_used: list[UnderUsedFeature]
    narrative: str = ""


class RenewalTerms(BaseModel):
    plan: str | None
    arr: Decimal
    seats_purchased: int
    start_date: date | None = None
    renewal_date: date | None
    days_to_renewal: int | None
    arr_at_risk: Decimal = Decimal("0")


class Action(BaseModel):
    title: str
    detail: str
    owner: str = "CSM"
    source: str = Field(description="churn | lean | adoption | expansion | renewal")


class ExpansionSection(BaseModel):
    opportunities: list[ExpansionOpportunity]
    total_estimated_arr: Decimal
    renewal: RenewalTerms
    actions: list[Action]
    narrative: str = ""


class QbrDocument(BaseModel):
    """A QBR for one account and quarter; renderers read this and never compute numbers."""

    account: AccountSummary
    as_of: date
    quarter: str = Field(description='e.g. "Q4 2026"')
    period_start: date = Field(
        description="First day of the quarter: the QUARTER_DAYS complete days before as_of."
    )
    health: HealthSection
    roi: RoiSection
    adoption: AdoptionSection
    expansion: ExpansionSection
    executive_summary: str = ""
    narratives_by: str = "template"
    draft_id: int | None = None
    version: int | None = None
    overrides: dict[str, str] = Field(
        default_factory=dict, description="Sections a person or Claude rewrote (markdown)."
    )
    deck: dict[str, str] = Field(
        default_factory=dict, description="The customer deck's sections (deck.*), markdown."
    )
    prep: dict[str, str] = Field(
        default_factory=dict, description="The internal prep doc's sections (prep.*), markdown."
    )

    @property
    def period_end(self) -> date:
        """Last day of the quarter: the day before ``as_of`` (complete days only)."""
        return self.as_of - timedelta(days=1)

    @property
    def title(self) -> str:
        """The page title, e.g. "Acme Corp — Q4 2026 QBR"."""
        return f"{self.account.name} — {self.quarter} QBR"
