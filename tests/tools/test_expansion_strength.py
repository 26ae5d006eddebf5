"""Expansion ranked by evidence: a continuous strength orders what the binary rules show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.tools.test_lean import (
    AS_OF,
    CONFIG,
    add_account,
    add_feature,
    add_feature_usage,
    add_usage,
    days_back,
)
from tools.expansion import expansion_opportunities
from tools.expansion_strength import COMPONENTS, StrengthWeights, strength_matrix
from tools.facts import active_contracts


def test_strength_grows_with_utilisation_and_its_trend(session: Session) -> None:
    flat = add_account(session, "flat", arr="10000", seats=100)
    add_usage(session, flat, days_back(56), lambda d: 60)
    growing = add_account(session, "growing", arr="10000", seats=100)
    add_usage(session, growing, days_back(56), lambda d: 95 if (AS_OF - d).days < 28 else 60)
    contracts = active_contracts(session, on=AS_OF)
    m = strength_matrix(session, as_of=AS_OF, contracts=contracts)
    rows = dict(zip(m.ids, m.components.tolist(), strict=True))
    u, trend = COMPONENTS.index("utilisation"), COMPONENTS.index("utilisation_trend")
    assert rows[flat][u] == 0.6
    assert rows[flat][trend] == 0.0
    assert rows[growing][u] == 0.95
    assert rows[growing][trend] == 0.35
    strength = m.strength(StrengthWeights())
    assert strength[growing] > strength[flat]
    # additive: intercept + Σ weight · component
    w = StrengthWeights(intercept=-1.0, utilisation=2.0, utilisation_trend=0.0, peak=0.0)
    assert m.strength(w)[flat] == pytest.approx(-1.0 + 2.0 * 0.6)


def test_opportunities_carry_the_strength_and_the_strongest_ranks_first(
    session: Session,
) -> None:
    # both over the seat threshold every week; "surging" grew into it, "steady" always was
    steady = add_account(session, "steady", arr="500000", seats=100)
    add_usage(session, steady, days_back(56), lambda d: 92)
    surging = add_account(session, "surging", arr="10000", seats=100)
    add_usage(session, surging, days_back(56), lambda d: 130 if (AS_OF - d).days < 28 else 70)
    found = expansion_opportunities(session, as_of=AS_OF, config=CONFIG)
    assert found[steady][0].strength < found[surging][0].strength
    ranked = sorted(
        (o for opps in found.values() for o in opps),
        key=lambda o: (-o.strength, -o.estimated_arr),
    )
    # the bigger ARR does not win: the stronger evidence does
    assert ranked[0].account_id == surging


def test_tier_pull_counts_complete_days_only(session: Session) -> None:
    """The tier pull's window is the ``window_days`` complete days before as_of, like every
    window: use on the as-of day itself does not count, use 30 days before it does."""
    account = add_account(session, "puller", plan="starter", seats=100)
    add_usage(session, account, days_back(56), lambda d: 40)
    premium = add_feature(session, "premium_reports", "enterprise")
    pull = COMPONENTS.index("tier_pull")

    def tier_pull() -> float:
        contracts = active_contracts(session, on=AS_OF)
        m = strength_matrix(session, as_of=AS_OF, contracts=contracts, window_days=30)
        return float(dict(zip(m.ids, m.components.tolist(), strict=True))[account][pull])

    add_feature_usage(session, account, premium, [AS_OF], users=20, events=5)
    assert tier_pull() == 0.0  # the as-of day is not complete
    add_feature_usage(session, account, premium, [AS_OF - timedelta(days=30)], users=10, events=5)
    assert tier_pull() == 0.25  # 10 of 40 peak users, on the window's first day
