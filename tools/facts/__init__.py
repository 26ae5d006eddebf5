"""The metric layer: every fact a surface shows, computed once per (account set, as-of day).

Health, churn, Lean, expansion, the QBR, portfolio metrics, App Home, the digest and Claude's
tools read facts from here; no other module queries contracts, usage, features, tickets, NPS,
invoices, contacts or interactions for scoring (``tests/tools/test_metric_layer.py`` enforces
it). Definitions (complete days, activity, tiers, money, "at risk") are in
``tools.facts.definitions``; the set-based extraction in ``tools.facts.extract``; the readers
shared by Lean, expansion and the QBR in ``contracts`` (the contract in force), ``series``
(weekly usage, gaps, period totals), ``features`` (feature use, event totals), ``tickets``
(ticket windows, urgent backlog, the Muri median) and ``usage`` (per-feature adoption); the
same facts of a few accounts read with their report's extraction in ``findings``; injected
caches and the data version they check in ``cache``; SQL helpers in ``query``.
"""

from tools.facts.cache import Caches, caches_of
from tools.facts.contracts import ActiveContract, active_contracts
from tools.facts.definitions import (
    AT_RISK_LEVELS,
    AT_RISK_MEANING,
    MISSING,
    TIER_RANK,
    ActivityConfig,
    data_end,
    dollars,
    is_at_risk,
    money_text,
    percent_text,
    tier_rank,
    window_start,
)
from tools.facts.extract import Scope, seats_used_by_account
from tools.facts.features import EventTotals, FeatureUse, event_totals, feature_use, tier_peak_users
from tools.facts.query import day_cutoff, in_ids, rows
from tools.facts.series import (
    UsageTotals,
    WeeklyUsage,
    last_active_days,
    longest_gaps,
    usage_totals,
    weekly_usage,
)
from tools.facts.tickets import (
    MedianCache,
    UrgentOpen,
    account_tickets,
    median_ticket_ratio,
    portfolio_median_ticket_ratio,
    remember_portfolio_median,
    ticket_counts,
    tickets_open_at,
    urgent_open,
    window_tickets,
)

__all__ = [
    "AT_RISK_LEVELS",
    "AT_RISK_MEANING",
    "MISSING",
    "TIER_RANK",
    "ActiveContract",
    "ActivityConfig",
    "Caches",
    "EventTotals",
    "FeatureUse",
    "MedianCache",
    "Scope",
    "UrgentOpen",
    "UsageTotals",
    "WeeklyUsage",
    "account_tickets",
    "active_contracts",
    "caches_of",
    "data_end",
    "day_cutoff",
    "dollars",
    "event_totals",
    "feature_use",
    "in_ids",
    "is_at_risk",
    "last_active_days",
    "longest_gaps",
    "median_ticket_ratio",
    "money_text",
    "percent_text",
    "portfolio_median_ticket_ratio",
    "remember_portfolio_median",
    "rows",
    "seats_used_by_account",
    "ticket_counts",
    "tickets_open_at",
    "tier_peak_users",
    "tier_rank",
    "urgent_open",
    "usage_totals",
    "weekly_usage",
    "window_start",
    "window_tickets",
]
