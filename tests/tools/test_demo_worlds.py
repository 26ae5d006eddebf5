"""The second demo world: churn driven by renewal timing and chance, not by our signals."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tools import db
from tools.demo import DemoError, generate_demo
from tools.demo_plan import CHURNED, WORLD_RENEWAL_TIMING, WORLD_SIGNALS, build_plan

TODAY = date(2026, 6, 1)


def _decline_gap(world: str) -> float:
    """Mean decline severity of churners minus that of everyone else."""
    plan = build_plan(np.random.default_rng(5), 3000, TODAY, world=world)
    churned = plan.kind == CHURNED
    return float(plan.sev[churned].mean() - plan.sev[~churned].mean())


def test_in_the_signals_world_churners_show_warning_signs() -> None:
    assert _decline_gap(WORLD_SIGNALS) > 0.3


def test_in_the_renewal_timing_world_warning_signs_ignore_the_fate() -> None:
    assert abs(_decline_gap(WORLD_RENEWAL_TIMING)) < 0.05
    plan = build_plan(np.random.default_rng(5), 3000, TODAY, world=WORLD_RENEWAL_TIMING)
    churned = plan.kind == CHURNED
    # about the same share of churners and of the rest have a decline at all
    assert abs(float((plan.sev[churned] > 0).mean() - (plan.sev[~churned] > 0).mean())) < 0.06


def test_an_unknown_world_is_refused(sessions: db.SessionFactory) -> None:
    with pytest.raises(DemoError, match="renewal-timing"):
        generate_demo(session_factory=sessions, today=TODAY, accounts=20, world="chaos")
