"""What churn alerts say: the template narrative, the playbooks and the outreach email draft."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from tools.facts import money_text
from tools.lean.playbooks import (
    adoption_training_playbook,
    licence_optimisation_playbook,
    qbr_support_alignment_playbook,
)
from tools.results import AccountReport, Playbook, PlaybookStep
from tools.wording import days_from_now


def template_narrative(report: AccountReport, *, as_of: date) -> str:
    """A plain-language account of the risk, from the numbers only (the no-Claude narrative)."""
    acct, health, churn = report.account, report.health, report.churn
    parts = [
        f"{acct.name} is at {churn.level.value} churn risk with a health score of "
        f"{health.score:.0f}/100 ({health.band.value})."
    ]
    if churn.triggers:
        parts.append("What fired: " + "; ".join(t.evidence for t in churn.triggers[:3]) + ".")
    hurting = [d.text for d in health.drivers if d.impact < 0][:2]
    if hurting:
        parts.append("The score is held down by " + " and ".join(hurting) + ".")
    if acct.renewal_date is not None:
        days = (acct.renewal_date - as_of).days
        parts.append(
            f"The contract renews on {acct.renewal_date.isoformat()} ({days_from_now(days)}), "
            f"with {money_text(churn.arr_at_risk or acct.arr)} ARR at stake."
        )
    return " ".join(parts)


def renewal_save_playbook() -> Playbook:
    """What to do when a renewal is close and the account is not healthy."""
    return Playbook(
        key="renewal_save",
        title="Renewal save plan",
        goal="Reach the renewal with a sponsor who sees the value and a plan for the gaps.",
        steps=[
            PlaybookStep(
                title="Call the sponsor this week",
                detail="Confirm the decision maker, the date and what a renewal depends on.",
            ),
            PlaybookStep(
                title="Show the value delivered",
                detail="A short value review: outcomes, usage, what improved since signing.",
            ),
            PlaybookStep(
                title="Agree a recovery plan",
                detail="Owners and dates for each risk driver; review it weekly until renewal.",
            ),
            PlaybookStep(
                title="Loop in Sales early",
                detail="Share the risk and the plan with the account executive.",
                owner="Sales",
            ),
        ],
    )


def stakeholder_playbook() -> Playbook:
    """What to do when the champion left or the customer is unhappy."""
    return Playbook(
        key="stakeholder_recovery",
        title="Stakeholder recovery",
        goal="Rebuild a relationship with someone who owns the outcome.",
        steps=[
            PlaybookStep(
                title="Find the new owner",
                detail="Ask the remaining contacts who now owns the tool and the budget.",
            ),
            PlaybookStep(
                title="Listen first",
                detail="A call to hear the complaints (NPS comments, tickets) before pitching.",
            ),
            PlaybookStep(
                title="Re-onboard the new champion",
                detail="A tailored onboarding and a success plan with measurable goals.",
            ),
        ],
    )


TRIGGER_PLAYBOOKS = {
    "renewal_window": renewal_save_playbook,
    "no_usage": adoption_training_playbook,
    "logins_declining": adoption_training_playbook,
    "usage_declining": adoption_training_playbook,
    "ticket_spike": qbr_support_alignment_playbook,
    "tam_escalation": qbr_support_alignment_playbook,
    "champion_left": stakeholder_playbook,
    "detractor_nps": stakeholder_playbook,
    "overdue_invoice": renewal_save_playbook,
}


def churn_playbook(report: AccountReport) -> Playbook:
    """The playbook to suggest: the first trigger's, else the worst Lean finding's."""
    for trigger in report.churn.triggers:
        make = TRIGGER_PLAYBOOKS.get(trigger.key)
        if make is not None:
            return make()
    if report.lean:
        return report.lean[0].playbook
    if report.account.seats_used is not None and report.account.seats_purchased:
        return licence_optimisation_playbook()
    return renewal_save_playbook()


class OutreachDraft(BaseModel):
    """A draft email for the CSM to adapt and send themselves; the bot never sends it."""

    subject: str
    body: str


def outreach_email(report: AccountReport, *, as_of: date) -> OutreachDraft:
    """A short, honest check-in email built from the account's own signals."""
    acct = report.account
    topics = {
        "renewal_window": "how the renewal fits your plans for next year",
        "no_usage": "getting your team back into a working rhythm",
        "logins_declining": "what changed in how your team uses the product",
        "usage_declining": "what changed in how your team uses the product",
        "ticket_spike": "the support issues you have run into recently",
        "tam_escalation": "the open technical escalation and its plan",
        "champion_left": "who now owns the project on your side",
        "detractor_nps": "the feedback you shared in our recent survey",
        "overdue_invoice": "sorting out the open invoice together",
    }
    points = list(dict.fromkeys(topics[t.key] for t in report.churn.triggers if t.key in topics))
    if not points:
        points = ["what is working well and what is not"]
    agenda = "\n".join(f"- {p}" for p in points[:3])
    body = (
        "Hi <first name>,\n\n"
        f"I'd like to set up 30 minutes to review how things are going for {acct.name}. "
        "I'd love to cover:\n"
        f"{agenda}\n\n"
        "Would one day next week work for you? I'll bring a short summary of your usage so we "
        "can focus on what matters most to your team.\n\n"
        "Best,\n<your name>"
    )
    return OutreachDraft(subject=f"{acct.name} — time for a quick check-in?", body=body)
