"""The evaluation set: realistic CSM asks on the demo portfolio.

Each case names the tool calls a good answer needs (scripted for the fake model; for real Claude
any of them counts as the right choice), the keyless router's intent when it can answer, and the
facts (from ``Facts``) the answer must contain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.facts import Facts

ToolCall = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Case:
    ask: str
    tools: tuple[ToolCall, ...]
    facts: Callable[[Facts], list[str]]
    router: str | None = None
    """The keyless router's intent kind, or None when only Claude can answer it."""
    single_account: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


def _one(tool: str, **args: Any) -> tuple[ToolCall, ...]:
    return ((tool, args),)


CASES: tuple[Case, ...] = (
    # -- one account: health, risk, renewal --------------------------------------------------
    Case(
        "how is acme doing?",
        _one("account_overview", account="acme"),
        lambda f: [f.score("acme"), f.band("acme")],
        router="health",
    ),
    Case(
        "How's Globex looking today?",
        _one("account_overview", account="globex"),
        lambda f: [f.score("globex"), f.band("globex")],
        router="health",
    ),
    Case(
        "what's the health score for Umbrella Health?",
        _one("account_health", account="umbrella"),
        lambda f: [f.score("umbrella")],
        router="health",
    ),
    Case(
        "tell me about stark",
        _one("account_overview", account="stark"),
        lambda f: [f.score("stark"), f.band("stark")],
        router="health",
    ),
    Case(
        "show me hooli's health",
        _one("account_health", account="hooli"),
        lambda f: [f.score("hooli")],
        router="health",
    ),
    Case(
        "why is acme at risk?",
        _one("churn_risk", account="acme"),
        lambda f: [f.level("acme"), f.trigger("acme")],
    ),
    Case(
        "when does acme renew?",
        _one("account_overview", account="acme"),
        lambda f: [f.renewal("acme")],
    ),
    Case(
        "how much ARR do we have at risk at Acme?",
        _one("churn_risk", account="acme"),
        lambda f: [f.arr_at_risk("acme")],
    ),
    Case(
        "what's globex's churn risk level?",
        _one("churn_risk", account="globex"),
        lambda f: [f.level("globex")],
    ),
    Case(
        "what is initech paying us?",
        _one("account_overview", account="initech"),
        lambda f: [f.arr("initech")],
    ),
    Case(
        "how many seats did acme buy?",
        _one("account_overview", account="acme"),
        lambda f: [f.seats("acme")],
    ),
    Case(
        "is umbrella's renewal in danger?",
        _one("churn_risk", account="umbrella"),
        lambda f: [f.level("umbrella")],
    ),
    # -- why did it move -----------------------------------------------------------------------
    Case(
        "why did globex drop?",
        _one("score_movers", account="globex"),
        lambda f: [f.score_before("globex"), f.score("globex")],
        router="why_changed",
    ),
    Case(
        "what changed at acme?",
        _one("score_movers", account="acme"),
        lambda f: [f.score("acme")],
        router="why_changed",
    ),
    Case(
        "why is hooli's score down",
        _one("score_movers", account="hooli"),
        lambda f: [f.score("hooli")],
        router="why_changed",
    ),
    # -- what to do -------------------------------------------------------------------------------
    Case(
        "what should I do about globex?",
        _one("account_overview", account="globex"),
        lambda f: [f.trigger("globex")],
        router="advice",
    ),
    Case(
        "how do we save acme",
        _one("account_overview", account="acme"),
        lambda f: [f.trigger("acme")],
        router="advice",
    ),
    Case(
        "next steps for umbrella",
        _one("account_overview", account="umbrella"),
        lambda f: [f.trigger("umbrella")],
        router="advice",
    ),
    # -- tickets -----------------------------------------------------------------------------
    Case(
        "summarise umbrella's tickets",
        _one("account_tickets", account="umbrella"),
        lambda f: [f.tickets_opened("umbrella")],
        router="tickets",
    ),
    Case(
        "show me the support tickets for acme",
        _one("account_tickets", account="acme"),
        lambda f: [f.tickets_opened("acme")],
        router="tickets",
    ),
    # -- Lean and expansion -------------------------------------------------------------------
    Case(
        "how much is acme wasting on unused licences?",
        _one("lean_waste", account="acme"),
        lambda f: [f.muda("acme")],
    ),
    Case(
        "where could initech expand?",
        _one("expansion_opportunities", account="initech"),
        lambda f: [f.opportunity("initech")],
    ),
    Case(
        "what's the upsell at initech worth?",
        _one("expansion_opportunities", account="initech"),
        lambda f: [f.opportunity("initech")],
    ),
    Case(
        "expansion opportunities",
        _one("expansion_opportunities"),
        lambda f: [f.name("initech")],
        router="expansion",
        single_account=False,
    ),
    Case(
        "which features is acme not using?",
        _one("feature_adoption", account="acme"),
        lambda f: [f.name("acme")],
    ),
    # -- portfolio ----------------------------------------------------------------------------
    Case(
        "who is at risk?",
        _one("churn_risk"),
        lambda f: [f.riskiest()],
        router="at_risk",
        single_account=False,
    ),
    Case(
        "which accounts are likely to churn?",
        _one("churn_risk"),
        lambda f: [f.riskiest()],
        router="at_risk",
        single_account=False,
    ),
    Case(
        "enterprise accounts at risk",
        _one("churn_risk"),
        lambda f: [f.name("acme")],
        router="at_risk",
        single_account=False,
    ),
    Case(
        "at-risk accounts renewing in 60 days",
        _one("churn_risk"),
        lambda f: [f.renewing_within(60)],
        router="at_risk",
        single_account=False,
    ),
    Case(
        "show me accounts whose champion left",
        _one("churn_risk"),
        lambda f: [f.with_trigger("champion_left")],
        router="trigger",
        single_account=False,
    ),
    Case(
        "which accounts have an overdue invoice?",
        _one("churn_risk"),
        lambda f: [f.with_trigger("overdue_invoice")],
        router="trigger",
        single_account=False,
    ),
    Case(
        "who has a ticket spike right now?",
        _one("churn_risk"),
        lambda f: [f.with_trigger("ticket_spike")],
        router="trigger",
        single_account=False,
    ),
    Case(
        "what's our NRR?",
        _one("portfolio_metrics"),
        lambda f: [f.nrr()],
        router="metrics",
        single_account=False,
    ),
    Case(
        "and our gross revenue retention?",
        _one("portfolio_metrics"),
        lambda f: [f.grr()],
        router="metrics",
        single_account=False,
    ),
    Case(
        "how many active accounts do we have?",
        _one("portfolio_metrics"),
        lambda f: [f.active_accounts()],
        single_account=False,
    ),
    Case(
        "who hasn't logged in for 30 days?",
        _one("quiet_accounts_list", days=30),
        lambda f: [],
        router="quiet",
        single_account=False,
    ),
    Case(
        "which accounts have gone dark for a week?",
        _one("quiet_accounts_list", days=7),
        lambda f: [],
        router="quiet",
        single_account=False,
    ),
    Case(
        "what renews next month?",
        _one("renewals_in_window", days=60),
        lambda f: [f.name("acme")],
        router="renewals",
        single_account=False,
    ),
    Case(
        "renewals in the next 90 days",
        _one("renewals_in_window", days=90),
        lambda f: [f.name("acme")],
        router="renewals",
        single_account=False,
    ),
    # -- drafts --------------------------------------------------------------------------------
    Case(
        "draft a QBR for acme",
        _one("draft_qbr", account="acme"),
        lambda f: [f.name("acme")],
        router="qbr",
    ),
    Case(
        "draft Globex's QBR",
        _one("draft_qbr", account="globex"),
        lambda f: [f.name("globex")],
        router="qbr",
    ),
    Case(
        "find the account called stark",
        _one("find_accounts", query="stark"),
        lambda f: [f.name("stark")],
    ),
)
