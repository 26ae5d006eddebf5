"""Backtest: recompute the scores as of past dates and measure how well they called what happened.

A score is only as good as its record. For each observation date ``d`` every observed account
(a contract in force on ``d``, a first contract that started before ``d``) is scored with the
data knowable at ``d``; the labels come from the contract dates that followed
(``tools.backtest.labels``); the metrics are plain NumPy (``tools.backtest.metrics``); dates
whose horizon reaches past the data are left out and counted (``tools.backtest.run``).
"""

from tools.backtest.labels import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_UPSELL_DAYS,
    RENEWAL_GRACE_DAYS,
    Outcome,
    Term,
    active_term,
    coverage_end,
    data_end,
    history_start,
    load_terms,
    outcome,
)
from tools.backtest.metrics import (
    FlagMetrics,
    Metric,
    auc,
    average_ranks,
    base_rate,
    flag_metrics,
    monotonic_problems,
    precision_at_k,
    top_fraction_lift,
)
from tools.backtest.report import (
    BAND_COLUMNS,
    SUMMARY_COLUMNS,
    BacktestReport,
    ChurnMetrics,
    ExpansionMetrics,
    Observation,
    PeriodResult,
    fmt,
    fmt_interval,
    group_rows,
    summary_row,
)
from tools.backtest.run import (
    add_months,
    default_observation_dates,
    monthly_dates,
    observe,
    period_result,
    run_backtest,
)

__all__ = [
    "BAND_COLUMNS",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_UPSELL_DAYS",
    "RENEWAL_GRACE_DAYS",
    "SUMMARY_COLUMNS",
    "BacktestReport",
    "ChurnMetrics",
    "ExpansionMetrics",
    "FlagMetrics",
    "Metric",
    "Observation",
    "Outcome",
    "PeriodResult",
    "Term",
    "active_term",
    "add_months",
    "auc",
    "average_ranks",
    "base_rate",
    "coverage_end",
    "data_end",
    "default_observation_dates",
    "flag_metrics",
    "fmt",
    "fmt_interval",
    "group_rows",
    "history_start",
    "load_terms",
    "monotonic_problems",
    "monthly_dates",
    "observe",
    "outcome",
    "period_result",
    "precision_at_k",
    "run_backtest",
    "summary_row",
    "top_fraction_lift",
]
