"""The playbook attached to each kind of Lean finding: what a CSM does about it."""

from __future__ import annotations

from tools.results import Playbook, PlaybookStep


def licence_optimisation_playbook() -> Playbook:
    """What to do about unused licences."""
    return Playbook(
        key="licence_optimisation",
        title="Licence optimisation plan",
        goal="Turn unused seats into active users before renewal, or right-size honestly.",
        steps=[
            PlaybookStep(
                title="Identify inactive users",
                detail="Pull the list of licensed users with no activity in 30 days; "
                "share it with the admin.",
            ),
            PlaybookStep(
                title="Decide: drive adoption or right-size",
                detail="With the champion, decide which teams should be using the product; "
                "plan to right-size at renewal only the seats with no owner.",
            ),
            PlaybookStep(
                title="Run an enablement campaign",
                detail="Onboarding sessions and in-app guides for the inactive teams.",
                owner="CSM",
            ),
            PlaybookStep(
                title="Re-measure in 30 days",
                detail="Compare seats used vs purchased and report the change at the next QBR.",
            ),
        ],
    )


def adoption_training_playbook() -> Playbook:
    """What to do about erratic usage."""
    return Playbook(
        key="adoption_training",
        title="Adoption and training plan",
        goal="Make usage steady: a habit, not a campaign.",
        steps=[
            PlaybookStep(
                title="Find the cause of the dips",
                detail="Ask the champion what happened in the low weeks "
                "(seasonality, projects, outages, turnover).",
            ),
            PlaybookStep(
                title="Anchor a recurring workflow",
                detail="Tie the product to a weekly team ritual (report, stand-up, review).",
            ),
            PlaybookStep(
                title="Train the occasional users",
                detail="Short role-based training for users active only in peak weeks.",
            ),
            PlaybookStep(
                title="Watch weekly active users",
                detail="Review weekly active users every two weeks until variability falls.",
            ),
        ],
    )


def qbr_support_alignment_playbook() -> Playbook:
    """What to do about support overload."""
    return Playbook(
        key="qbr_support_alignment",
        title="QBR and support alignment",
        goal="Cut the ticket load at its source and clear the urgent backlog.",
        steps=[
            PlaybookStep(
                title="Clear urgent tickets",
                detail="Escalate urgent tickets open past the target with the support lead.",
                owner="Support",
            ),
            PlaybookStep(
                title="Theme the tickets",
                detail="Group the last 90 days of tickets by theme; find the top three causes.",
                owner="Support",
            ),
            PlaybookStep(
                title="Fix the root causes",
                detail="Targeted training, documentation or product fixes for each theme.",
            ),
            PlaybookStep(
                title="Review at the QBR",
                detail="Walk the customer through the ticket trend and the agreed actions.",
            ),
        ],
    )
