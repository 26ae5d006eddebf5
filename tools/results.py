"""Typed results of the scoring engine, shared by Slack, Notion, Claude and the CLI.

Every renderer reads these models; none of them re-computes a number. All are plain Pydantic
models so that ``model_dump(mode="json")`` gives the compact JSON the Claude tools return.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field


class CohortTimeToValue(BaseModel):
    """Time to first value of the accounts that started in one month."""

    cohort: str
    accounts: int
    reached: int
    median_days: float | None = None
    still_onboarding: int


class Band(StrEnum):
    GREEN = "GREEN"
    AMBER = "AMBER"
    RED = "RED"


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SignalScore(BaseModel):
    """One health signal: its raw value, its 0-100 normalised score and its weighted share."""

    key: str
    label: str
    raw: float | None = Field(description="The measured value, in the unit of `unit`.")
    unit: str = ""
    score: float | None = Field(description="Normalised 0-100; None when the signal is missing.")
    weight: float = Field(description="Configured weight.")
    effective_weight: float = Field(description="Weight after re-weighting missing signals.")
    contribution: float = Field(description="Points this signal adds to the composite score.")


class Driver(BaseModel):
    """A plain-language reason the score is what it is, with the number behind it."""

    signal: str
    text: str = Field(description='e.g. "logins down 38% vs the prior 4 weeks"')
    impact: float = Field(description="Points vs a neutral 50 score (negative hurts).")


class HealthResult(BaseModel):
    """The composite health of one account on one day."""

    account_id: int
    as_of: date
    score: float = Field(ge=0, le=100)
    band: Band
    signals: list[SignalScore]
    drivers: list[Driver] = Field(description="Top drivers, most influential first.")
    trend_30d: float | None = Field(default=None, description="Score change vs 30 days ago.")
    trend_90d: float | None = Field(default=None, description="Score change vs 90 days ago.")


class TriggerHit(BaseModel):
    """A churn-risk trigger that fired, with its evidence."""

    key: str = Field(description="e.g. renewal_window, logins_declining, champion_left")
    kind: str = Field(description="'renewal' (trigger a) or 'behavioural' (trigger b)")
    label: str
    evidence: str
    severity: Severity


class ChurnRisk(BaseModel):
    """The deterministic churn-risk level of one account and the triggers behind it."""

    account_id: int
    as_of: date
    level: RiskLevel
    triggers: list[TriggerHit]
    renewal_date: date | None = None
    days_to_renewal: int | None = None
    arr_at_risk: Decimal = Decimal("0")


class PlaybookStep(BaseModel):
    """One action in a playbook."""

    title: str
    detail: str
    owner: str = Field(default="CSM", description="Who does it: CSM, Support, Sales, Customer.")


class Playbook(BaseModel):
    """What to do about a finding, structured so Slack, Notion and Claude render it alike."""

    key: str = Field(description="licence_optimisation | adoption_training | qbr_support_alignment")
    title: str
    goal: str
    steps: list[PlaybookStep]


class LeanFinding(BaseModel):
    """A Lean waste finding: Muda (unused licences), Mura (erratic usage), Muri (overload)."""

    account_id: int
    kind: str = Field(description="muda | mura | muri")
    title: str
    severity: Severity
    evidence: list[str]
    annual_cost: Decimal | None = Field(default=None, description="Muda only: $ per year unused.")
    playbook: Playbook


class ExpansionOpportunity(BaseModel):
    """A signal that the account could buy more."""

    account_id: int
    kind: str = Field(description="seats | module | integration")
    title: str
    evidence: list[str]
    estimated_arr: Decimal
    formula: str = Field(description="How estimated_arr was computed, in words and numbers.")
    talk_track: str
    key: str = Field(description="Stable key: the same open opportunity always has the same key.")
    strength: float = Field(
        default=0.0,
        description="The account's expansion strength (tools/expansion_strength.py): the rank.",
    )


class AccountSummary(BaseModel):
    """Who the account is and its current contract, for headers and lists."""

    account_id: int
    external_id: str
    name: str
    segment: str
    industry: str | None = None
    owner_email: str | None = None
    owner_slack_id: str | None = None
    lifecycle_stage: str
    plan: str | None = None
    arr: Decimal = Decimal("0")
    seats_purchased: int = 0
    seats_used: int | None = None
    renewal_date: date | None = None
    churned: bool = False


class AccountReport(BaseModel):
    """Everything `/health <account>` shows."""

    account: AccountSummary
    health: HealthResult
    churn: ChurnRisk
    lean: list[LeanFinding]
    expansion: list[ExpansionOpportunity]


class BandMix(BaseModel):
    green: int = 0
    amber: int = 0
    red: int = 0


class RenewalBucket(BaseModel):
    days: int
    count: int
    arr: Decimal
    arr_at_risk: Decimal = Field(description="ARR of renewals in the window that are AMBER or RED.")


class PortfolioMetrics(BaseModel):
    """Portfolio-level metrics for leaders."""

    as_of: date
    accounts: int
    active_accounts: int
    total_arr: Decimal
    nrr: float | None = Field(description="Net revenue retention over the trailing 12 months.")
    grr: float | None = Field(description="Gross revenue retention over the trailing 12 months.")
    logo_churn: float | None = Field(description="Share of accounts lost over 12 months.")
    average_health: float | None
    band_mix: BandMix
    nps: float | None = Field(description="NPS over the trailing 90 days (-100..100).")
    renewals: list[RenewalBucket]
    expansion_pipeline_count: int = Field(
        default=0, description="Expansion opportunities the signals show today."
    )
    expansion_pipeline_arr: Decimal = Field(
        default=Decimal("0"), description="Their estimated ARR."
    )
    handoff_pipeline_count: int = Field(
        default=0, description="Open hand-offs to Sales (proposed, approved or sent), as of now."
    )
    handoff_pipeline_arr: Decimal = Field(
        default=Decimal("0"), description="Their estimated ARR (as edited by the CSM)."
    )
    time_to_value: list[CohortTimeToValue] = Field(
        default_factory=list,
        description="Median days to first value per start month (last 12 months), oldest first.",
    )
