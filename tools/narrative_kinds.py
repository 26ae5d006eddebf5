"""The narratives cs-copilot asks the model for, each with its evidence and its templates.

- ``alert_request``: the churn alert's 2-4 sentences (what changed, why it matters, what to do),
  from the account report only.
- ``qbr_request``: a QBR's executive summary and its four section narratives, from the QBR
  document's numbers only (never the narratives already in it).

The evidence holds numbers and our own computed phrases; customer-written text (ticket subjects,
NPS comments, notes) is never part of it, so nothing in it can instruct the model.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from tools.narrative import NarrativeRequest
from tools.results import AccountReport

if TYPE_CHECKING:
    from tools.qbr import QbrDocument

ALERT_KIND = "churn_alert"
QBR_KIND = "qbr"
QBR_PARTS = (
    "executive_summary",
    "health_summary",
    "roi_impact",
    "adoption_scorecard",
    "expansion_next_steps",
)

ALERT_INSTRUCTIONS = """\
Write the narrative of a churn-risk alert that a Customer Success Manager reads in Slack: \
2 to 4 plain sentences saying what changed, why it matters (renewal, ARR at stake) and the one \
thing to do first. Part name: "narrative"."""

QBR_INSTRUCTIONS = """\
Write the narratives of a quarterly business review for the account's CSM. Parts: \
"executive_summary" (3-4 sentences: the quarter in brief, value delivered, the main next step), \
"health_summary", "roi_impact", "adoption_scorecard" and "expansion_next_steps" \
(2-3 sentences each, about that section's numbers). Businesslike, specific, no hype."""


def alert_evidence(report: AccountReport, *, as_of: date) -> dict[str, Any]:
    """The facts an alert narrative may use."""
    acct, health, churn = report.account, report.health, report.churn
    days = (acct.renewal_date - as_of).days if acct.renewal_date else None
    return {
        "as_of": as_of.isoformat(),
        "account": acct.name,
        "segment": acct.segment,
        "plan": acct.plan,
        "arr": str(acct.arr),
        "seats_purchased": acct.seats_purchased,
        "seats_used": acct.seats_used,
        "renewal_date": acct.renewal_date.isoformat() if acct.renewal_date else None,
        "days_to_renewal": days,
        "health_score": round(health.score),
        "health_score_exact": round(health.score, 1),
        "band": health.band.value,
        "trend_30d": health.trend_30d,
        "trend_90d": health.trend_90d,
        "churn_risk": churn.level.value,
        "arr_at_risk": str(churn.arr_at_risk),
        "triggers": [{"label": t.label, "evidence": t.evidence} for t in churn.triggers],
        "drivers": [{"text": d.text, "impact": round(d.impact, 1)} for d in health.drivers],
        "lean": [
            {"title": f.title, "annual_cost": str(f.annual_cost) if f.annual_cost else None}
            for f in report.lean
        ],
    }


def alert_request(report: AccountReport, *, as_of: date, template: str) -> NarrativeRequest:
    """The churn alert narrative of ``report``."""
    return NarrativeRequest(
        kind=ALERT_KIND,
        account_id=report.account.account_id,
        day=as_of,
        instructions=ALERT_INSTRUCTIONS,
        evidence=alert_evidence(report, as_of=as_of),
        templates={"narrative": template},
        max_sentences=4,
    )


def qbr_evidence(document: QbrDocument) -> dict[str, Any]:
    """The QBR document's numbers, without the prose already in it."""
    data = document.model_dump(
        mode="json",
        exclude={
            "draft_id",
            "version",
            "overrides",
            "narratives_by",
            "executive_summary",
            "deck",
            "prep",
        },
    )
    for section in ("health", "roi", "adoption", "expansion"):
        data[section].pop("narrative", None)
    data["health"].pop("history", None)  # 12 points the prose does not need
    health = document.health
    if health.start_score is not None:  # the change the templates state
        data["health"]["score_change"] = round(health.score - health.start_score, 1)
    return data


def qbr_request(document: QbrDocument, templates: dict[str, str]) -> NarrativeRequest:
    """The executive summary and section narratives of ``document``."""
    return NarrativeRequest(
        kind=QBR_KIND,
        account_id=document.account.account_id,
        day=document.as_of,
        instructions=QBR_INSTRUCTIONS,
        evidence=qbr_evidence(document),
        templates={part: templates[part] for part in QBR_PARTS},
        max_sentences=5,
    )
