"""The metric layer: every fact a surface shows, computed once per (account set, as-of day).

Health, churn, Lean, expansion, the QBR, portfolio metrics, App Home, the digest and Claude's
tools read facts from here; no other module queries usage, features, tickets, NPS, invoices,
contacts or interactions for scoring. Definitions (complete days, activity, tiers, money, "at
risk") are in ``tools.facts.definitions``; the set-based extraction in ``tools.facts.extract``;
per-account readers shared by Lean, expansion and the QBR in ``tools.facts.usage``.
"""

from tools.facts.definitions import (
    AT_RISK_LEVELS,
    AT_RISK_MEANING,
    TIER_RANK,
    ActivityConfig,
    data_end,
    dollars,
    is_at_risk,
    money_text,
    tier_rank,
    window_start,
)

__all__ = [
    "AT_RISK_LEVELS",
    "AT_RISK_MEANING",
    "TIER_RANK",
    "ActivityConfig",
    "data_end",
    "dollars",
    "is_at_risk",
    "money_text",
    "tier_rank",
    "window_start",
]
