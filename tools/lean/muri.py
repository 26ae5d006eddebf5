"""Muri: support overload against the portfolio median, and urgent tickets left open."""

from __future__ import annotations

from tools.facts import UrgentOpen
from tools.lean.config import LeanConfig, severity, worst
from tools.lean.playbooks import qbr_support_alignment_playbook
from tools.results import LeanFinding, Severity
from tools.wording import plural


def muri_finding(
    account_id: int,
    tickets: int,
    active_users: int,
    median_ratio: float | None,
    urgent: UrgentOpen | None,
    cfg: LeanConfig,
    days: int,
) -> LeanFinding | None:
    """The support-overload / urgent-backlog finding of one account (None when neither)."""
    ratio = tickets / max(active_users, 1)
    multiple = ratio / median_ratio if median_ratio else None
    overloaded = (
        multiple is not None
        and tickets >= cfg.muri_min_tickets
        and multiple >= cfg.muri_ratio_multiple
    )
    if not overloaded and urgent is None:
        return None
    evidence: list[str] = []
    level = Severity.LOW
    if overloaded and multiple is not None and median_ratio is not None:
        evidence.append(
            f"{tickets:,} tickets in the last {days} days for "
            f"{active_users:,} active users: {ratio:.2f} per user, {multiple:.1f}x the "
            f"portfolio median of {median_ratio:.2f}"
        )
        level = worst(
            level, severity(multiple, cfg.muri_ratio_multiple, cfg.muri_ratio_high_multiple)
        )
    if urgent is not None:
        evidence.append(
            f"{urgent.count} urgent ticket{'s' if urgent.count != 1 else ''} open longer than "
            f"{cfg.muri_urgent_open_days} days (oldest {plural(urgent.oldest_days, 'day')})"
        )
        level = worst(level, severity(urgent.count, 1, cfg.muri_urgent_high_count))
    title = "Support overload" if overloaded else "Urgent tickets left open"
    return LeanFinding(
        account_id=account_id,
        kind="muri",
        title=title,
        severity=level,
        evidence=evidence,
        playbook=qbr_support_alignment_playbook(),
    )
