"""The backtest report (Pydantic, so ``--json`` is the model) and its terminal summary rows."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from tools.backtest.metrics import FlagMetrics, Metric
from tools.results import Band, RiskLevel


class ChurnMetrics(BaseModel):
    """How well health and churn risk called the churners."""

    observations: int
    positives: int = Field(description="Observations whose account left within the horizon.")
    base_rate: Metric
    auc: Metric = Field(description="AUC of 100 - health score as a ranking of the churners.")
    level_auc: Metric = Field(description="AUC of the churn-risk level (high > medium > low).")
    order_auc: Metric = Field(description="AUC of the /churn order: level, then 100 - score.")
    top_decile_lift: Metric = Field(
        description="Churn rate among the 10% lowest scores over the base rate."
    )
    bands: dict[str, FlagMetrics] = Field(
        description="Per band (RED, AMBER, GREEN): its precision is the band's churn rate."
    )
    levels: dict[str, FlagMetrics] = Field(description="Per churn-risk level (high, medium, low).")
    red: FlagMetrics = Field(description="Band RED as a churn flag.")
    high_risk: FlagMetrics = Field(description="Churn level high as a churn flag.")
    band_order_problems: list[str] = Field(
        default_factory=list,
        description="Where the churn rate does not fall from RED to AMBER to GREEN.",
    )
    level_order_problems: list[str] = Field(default_factory=list)


class ExpansionMetrics(BaseModel):
    """How well the expansion evidence called the upsells."""

    observations: int = Field(description="Observations whose upsell window is fully observed.")
    positives: int = Field(description="Observations followed by a bigger contract.")
    base_rate: Metric
    opportunity: FlagMetrics = Field(description='"Has an expansion opportunity" as a flag.')
    strength_auc: Metric = Field(description="AUC of the expansion strength as a ranking.")
    k: int = Field(description="How many top-ranked accounts precision@k looks at.")
    precision_at_k: Metric = Field(description="Upsell rate among the k strongest accounts.")
    lift_at_k: Metric = Field(description="precision@k over the base rate.")


class PeriodResult(BaseModel):
    """The metrics of one observation date, or of all of them pooled (``as_of`` None)."""

    as_of: date | None
    churn: ChurnMetrics
    expansion: ExpansionMetrics


class Observation(BaseModel):
    """One account scored on one observation date, with what happened next."""

    account_id: int
    as_of: date
    score: float
    band: Band
    risk_level: RiskLevel
    opportunities: int
    strength: float
    churned: bool
    upsold: bool | None = Field(description="None when the upsell window is not fully observed.")
    signals: list[str] = Field(description="The health signals present for this account.")

    @property
    def expanded(self) -> bool:
        """Alias of ``upsold`` (False when unobserved)."""
        return bool(self.upsold)


class BacktestReport(BaseModel):
    """The record of the scoring model over past observation dates."""

    today: date
    data_end: date | None = Field(description="The last day with data (usage, tickets, ...).")
    labels_until: date | None = Field(
        description="The last day whose data the labels may use (--as-of; default data_end)."
    )
    horizon_days: int
    upsell_days: int
    grace_days: int
    observation_dates: list[date]
    censored_dates: list[date] = Field(
        default_factory=list,
        description="Requested dates left out: their horizon reaches past labels_until.",
    )
    per_date: list[PeriodResult]
    pooled: PeriodResult
    signals_present: dict[str, float] = Field(
        default_factory=dict,
        description="Share of pooled observations on which each health signal was present.",
    )
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    observations: list[Observation] = Field(
        default_factory=list, description="Per-account rows, only when asked for."
    )


SUMMARY_COLUMNS: tuple[str, ...] = (
    "Date",
    "Accounts",
    "Churned",
    "AUC [95% CI]",
    "Order AUC",
    "Lift@10%",
    "RED prec",
    "RED rec",
    "High prec",
    "High rec",
    "Upsells",
    "Opp AUC",
    "P@k",
    "Lift@k",
)

BAND_COLUMNS: tuple[str, ...] = ("Group", "Accounts", "Churned", "Churn rate", "Recall", "Lift")


def fmt(metric: Metric, digits: int = 2) -> str:
    """A metric for a table cell: its value, or — when it cannot be computed."""
    return "—" if metric.value is None else f"{metric.value:.{digits}f}"


def fmt_interval(metric: Metric) -> str:
    """``0.71 [0.65-0.77]`` (or just the value without an interval)."""
    if metric.value is None or metric.low is None or metric.high is None:
        return fmt(metric)
    return f"{metric.value:.2f} [{metric.low:.2f}-{metric.high:.2f}]"


def summary_row(result: PeriodResult) -> list[str]:
    """One line of the terminal table: a date (or "pooled") and its headline metrics."""
    churn, expansion = result.churn, result.expansion
    return [
        result.as_of.isoformat() if result.as_of else "pooled",
        str(churn.observations),
        str(churn.positives),
        fmt_interval(churn.auc),
        fmt(churn.order_auc),
        fmt(churn.top_decile_lift),
        fmt(churn.red.precision),
        fmt(churn.red.recall),
        fmt(churn.high_risk.precision),
        fmt(churn.high_risk.recall),
        f"{expansion.positives}/{expansion.observations}",
        fmt(expansion.strength_auc),
        fmt(expansion.precision_at_k),
        fmt(expansion.lift_at_k),
    ]


def group_rows(churn: ChurnMetrics) -> list[list[str]]:
    """One line per band and per risk level: count, churners, churn rate, recall, lift."""
    out: list[list[str]] = []
    for prefix, groups in (("band", churn.bands), ("level", churn.levels)):
        for name, m in groups.items():
            out.append(
                [
                    f"{prefix} {name}",
                    str(m.flagged),
                    str(m.true_positives),
                    fmt(m.precision, 3),
                    fmt(m.recall),
                    fmt(m.lift),
                ]
            )
    return out
