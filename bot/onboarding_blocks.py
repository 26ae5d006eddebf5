"""Block Kit for onboarding: the App Home section for the viewer's new accounts, and the team's
time to first value by cohort."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import Block, bullets, context, esc, header, section
from tools.onboarding import CohortTimeToValue, OnboardingProgress

HOME_LIMIT = 8


def _progress_line(p: OnboardingProgress) -> str:
    total = len(p.milestones)
    overdue = p.overdue
    if overdue:
        status = "⚠️ overdue: " + ", ".join(
            f"{esc(m.label)} (due {m.due_on:%-d %b})" for m in overdue if m.due_on
        )
    else:
        upcoming = p.next_milestone
        due = f" by {upcoming.due_on:%-d %b}" if upcoming and upcoming.due_on else ""
        status = f"next: {esc(upcoming.label)}{due}" if upcoming else "all milestones done"
    ttv = p.time_to_first_value_days
    value = f" · first value in {ttv} d" if ttv is not None else ""
    return (
        f"*{esc(p.account)}* — day {p.age_days}, {p.completed}/{total} milestones{value} · {status}"
    )


def onboarding_home(progress: Sequence[OnboardingProgress]) -> list[Block]:
    """The viewer's accounts still onboarding, overdue first, then youngest."""
    if not progress:
        return []
    ordered = sorted(progress, key=lambda p: (not p.overdue, p.age_days, p.account))
    overdue = sum(1 for p in ordered if p.overdue)
    title = f"Onboarding ({len(ordered)} new accounts" + (
        f", {overdue} overdue)" if overdue else ")"
    )
    lines = [_progress_line(p) for p in ordered]
    return [
        header(title),
        section(bullets(lines, limit=HOME_LIMIT, empty="")),
    ]


def time_to_value_lines(rows: Sequence[CohortTimeToValue], *, limit: int = 6) -> list[Block]:
    """The team view's median time to first value per start month (newest first)."""
    recent = [r for r in rows if r.accounts][-limit:][::-1]
    if not recent:
        return []
    parts = [
        f"{r.cohort}: "
        + (f"{r.median_days:g} d" if r.median_days is not None else "—")
        + f" ({r.reached}/{r.accounts})"
        for r in recent
    ]
    return [context("*Median time to first value by start month* · " + " · ".join(parts))]
