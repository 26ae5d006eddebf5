"""Mura: erratic weekly usage and long runs of days without active users."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tools.facts import percent_text
from tools.lean.config import LeanConfig
from tools.lean.playbooks import adoption_training_playbook
from tools.results import LeanFinding, Severity
from tools.wording import plural


def mura_finding(
    account_id: int,
    weekly: npt.NDArray[np.float64] | None,
    gap: int | None,
    cfg: LeanConfig,
) -> LeanFinding | None:
    """The erratic-usage / usage-gap finding of one account (None when usage is steady)."""
    evidence: list[str] = []
    cv: float | None = None
    if weekly is not None:
        nonzero = np.flatnonzero(weekly > 0)
        if nonzero.size:
            # Leading empty weeks are before the account started using the product.
            series = weekly[nonzero[0] :]
            if series.size >= 4 and float(series.mean()) > 0:
                cv = float(series.std() / series.mean())
    erratic = cv is not None and cv >= cfg.mura_cv_threshold
    gappy = gap is not None and gap >= cfg.mura_gap_days
    if not (erratic or gappy):
        return None
    if cv is not None and weekly is not None:
        series = weekly[np.flatnonzero(weekly > 0)[0] :]
        evidence.append(
            f"weekly active users varied by {percent_text(cv)} (coefficient of variation) over the "
            f"last {series.size} weeks, from {series.min():,.0f} to {series.max():,.0f} "
            "average daily active users"
        )
    if gap is not None and gap > 0:
        evidence.append(
            f"longest run without any active users: {plural(gap, 'day')} in the last "
            f"{cfg.mura_weeks} weeks"
        )
    severity = Severity.MEDIUM
    if (cv is not None and cv >= cfg.mura_cv_high) or (
        gap is not None and gap >= cfg.mura_gap_high_days
    ):
        severity = Severity.HIGH
    title = "Erratic usage" if erratic else "Long gaps in usage"
    if erratic and gappy:
        title = "Erratic usage with long gaps"
    return LeanFinding(
        account_id=account_id,
        kind="mura",
        title=title,
        severity=severity,
        evidence=evidence,
        playbook=adoption_training_playbook(),
    )
