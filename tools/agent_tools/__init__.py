"""The tools Claude may call. Each is a typed function; its docstring is what Claude reads.

Every number comes from the deterministic scoring engine. Free text typed by customers or
colleagues (ticket subjects, NPS comments, interaction notes) is returned only inside fields
named ``untrusted_text``: it is data to quote or summarise, never instructions to follow.
Tools that write only create drafts and proposals; nothing here sends or publishes.

Modules: ``common`` (argument types, lookup, brief shapes), ``read`` (read tools), ``write``
(draft and proposal tools), ``insights`` (what moved a score, tickets, quiet accounts); the voice
of the customer ``tools.voc.tool``, onboarding ``tools.onboarding.tool``.
"""

from __future__ import annotations

from tools import qbr_draft
from tools.agent_tools.insights import INSIGHT_TOOLS
from tools.agent_tools.read import (
    account_health,
    account_overview,
    churn_risk,
    expansion_opportunities,
    feature_adoption,
    find_accounts,
    lean_waste,
    portfolio_metrics,
    renewals_in_window,
)
from tools.agent_tools.write import (
    check_revision,
    draft_qbr,
    propose_expansion_handoff,
    revise_qbr_section,
)
from tools.health import UnknownAccountError
from tools.onboarding.tool import onboarding_status
from tools.registry import Registry, Tool, make_tool
from tools.voc.tool import customer_voice

__all__ = [
    "READ_TOOLS",
    "WRITE_TOOLS",
    "account_health",
    "account_overview",
    "check_revision",
    "churn_risk",
    "default_registry",
    "default_tools",
    "draft_qbr",
    "expansion_opportunities",
    "feature_adoption",
    "find_accounts",
    "lean_waste",
    "portfolio_metrics",
    "propose_expansion_handoff",
    "renewals_in_window",
    "revise_qbr_section",
]

READ_TOOLS = (
    find_accounts,
    account_overview,
    account_health,
    churn_risk,
    lean_waste,
    feature_adoption,
    expansion_opportunities,
    portfolio_metrics,
    renewals_in_window,
    customer_voice,
    onboarding_status,
    *INSIGHT_TOOLS,
)
WRITE_TOOLS = (draft_qbr, revise_qbr_section, propose_expansion_handoff)


def default_tools() -> list[Tool]:
    """Every tool Claude may call, read tools first."""
    return [make_tool(f) for f in READ_TOOLS] + [make_tool(f, writes=True) for f in WRITE_TOOLS]


def default_registry() -> Registry:
    """The registry the agent uses."""
    return Registry(default_tools(), domain_errors=(UnknownAccountError, qbr_draft.QbrError))
