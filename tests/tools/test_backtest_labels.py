"""Backtest labels a CS leader would accept, and metrics checked against scikit-learn."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tools.backtest import (
    Observation,
    Term,
    auc,
    monotonic_problems,
    outcome,
    period_result,
    precision_at_k,
)
from tools.backtest.run import _warnings
from tools.results import Band, RiskLevel

D = date(2026, 3, 1)


def term(start: date, end: date, arr: int = 1_000, seats: int = 10) -> Term:
    return Term(start=start, end=end, arr=Decimal(arr), seats=seats)


def monthly(first: date, months: int, **kwargs: int) -> list[Term]:
    """Back-to-back monthly terms starting on ``first``."""
    terms, start = [], first
    for _ in range(months):
        end = start + timedelta(days=29)
        terms.append(term(start, end, **kwargs))
        start = end + timedelta(days=1)
    return terms


# --- Churn ----------------------------------------------------------------------------------


def test_a_monthly_account_that_renews_once_then_leaves_in_the_horizon_is_a_churn() -> None:
    # in force on D: a term ending D+14; it renews once (to D+44) and then stops
    terms = monthly(D - timedelta(days=75), 4)
    assert terms[-1].end == D + timedelta(days=44)
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert got.churned is True
    assert got.coverage_end == D + timedelta(days=44)


def test_a_monthly_account_that_keeps_renewing_is_not_a_churn() -> None:
    got = outcome(monthly(D - timedelta(days=75), 12), D, horizon_days=60)
    assert got is not None
    assert got.churned is False


def test_a_monthly_account_leaving_after_the_horizon_is_not_a_churn_yet() -> None:
    terms = monthly(D - timedelta(days=75), 5)  # last day D+74
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert got.churned is False


def test_a_win_back_after_the_grace_is_still_a_churn() -> None:
    terms = [term(D - timedelta(days=300), D + timedelta(days=10))]
    terms.append(term(D + timedelta(days=50), D + timedelta(days=400)))
    got = outcome(terms, D, horizon_days=60, grace_days=30)
    assert got is not None
    assert got.churned is True


@pytest.mark.parametrize("offset", [0, 1, 20])
def test_accounts_starting_on_or_after_the_date_are_not_observed(offset: int) -> None:
    start = D + timedelta(days=offset)
    assert outcome([term(start, start + timedelta(days=29))], D) is None


def test_an_account_with_an_earlier_history_is_observed_on_its_renewal_day() -> None:
    terms = [term(D - timedelta(days=365), D - timedelta(days=1)), term(D, D + timedelta(days=364))]
    got = outcome(terms, D)
    assert got is not None
    assert got.churned is False


# --- Upsell ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "seats", "arr", "upsold"),
    [
        (30, 15, 1_000, True),  # more seats
        (30, 10, 1_400, True),  # more ARR
        (90, 12, 1_000, True),  # the last day of the window
        (91, 15, 1_400, False),  # too late
        (30, 10, 1_000, False),  # same size
        (30, 8, 900, False),  # smaller
    ],
)
def test_upsell_is_a_bigger_contract_starting_within_90_days(
    days: int, seats: int, arr: int, upsold: bool
) -> None:
    current = term(D - timedelta(days=200), D + timedelta(days=165))
    later = term(D + timedelta(days=days), D + timedelta(days=days + 364), arr=arr, seats=seats)
    got = outcome([current, later], D, horizon_days=60, upsell_days=90)
    assert got is not None
    assert got.upsold is upsold
    assert got.churned is False


# --- Metrics --------------------------------------------------------------------------------


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(7)
    scores = np.round(rng.normal(size=500), 1)  # many ties
    labels = rng.random(500) < 0.1 + 0.1 * (scores > 0)
    ours = auc(scores.tolist(), labels.tolist()).value
    assert ours == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_bootstrap_interval_brackets_the_auc_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=400)
    labels = rng.random(400) < 1 / (1 + np.exp(-2 * scores)) * 0.3
    groups = [i // 4 for i in range(400)]  # an account observed on 4 dates
    first = auc(scores.tolist(), labels.tolist(), groups=groups, samples=300)
    again = auc(scores.tolist(), labels.tolist(), groups=groups, samples=300)
    assert first == again
    assert first.value is not None
    assert first.low is not None
    assert first.high is not None
    assert first.low < first.value < first.high
    assert 0.02 < first.high - first.low < 0.4


def test_precision_at_k() -> None:
    assert precision_at_k([5, 4, 3, 2, 1], [True, False, True, False, False], 2).value == 0.5
    assert precision_at_k([1, 1, 1, 1], [True, False, False, False], 2).value == 0.25
    assert precision_at_k([3, 2], [True, False], 10).value == 0.5
    assert precision_at_k([], [], 5).reason == "no observations"


def row(band: Band, churned: bool, level: RiskLevel = RiskLevel.LOW, n: int = 0) -> Observation:
    score = {Band.RED: 40.0, Band.AMBER: 60.0, Band.GREEN: 80.0}[band]
    return Observation(
        account_id=n,
        as_of=D,
        score=score,
        band=band,
        risk_level=level,
        opportunities=0,
        strength=0.0,
        churned=churned,
        upsold=False,
        signals=["usage_trend"],
    )


def rows_with_rates(rates: dict[Band, tuple[int, int]]) -> list[Observation]:
    out, n = [], 0
    for band, (churned, total) in rates.items():
        for i in range(total):
            out.append(row(band, i < churned, n=n))
            n += 1
    return out


def test_monotonic_band_rates_raise_no_warning() -> None:
    rows = rows_with_rates({Band.RED: (5, 10), Band.AMBER: (2, 20), Band.GREEN: (1, 50)})
    result = period_result(None, rows)
    assert result.churn.band_order_problems == []
    assert result.churn.bands["RED"].precision.value == 0.5
    assert _warnings([], result) == []


def test_red_churning_less_than_amber_is_warned() -> None:
    rows = rows_with_rates({Band.RED: (1, 10), Band.AMBER: (6, 20), Band.GREEN: (1, 50)})
    result = period_result(None, rows)
    assert result.churn.band_order_problems == [
        "RED churned at 10.0% (n=10) but AMBER at 30.0% (n=20)"
    ]
    warnings = _warnings([result.model_copy(update={"as_of": D})], result)
    assert any("not monotonic across bands" in w for w in warnings)
    assert any("2026-03-01" in w for w in warnings)


def test_empty_bands_are_skipped_by_the_monotonic_check() -> None:
    rows = rows_with_rates({Band.RED: (3, 10), Band.GREEN: (1, 50)})
    assert period_result(None, rows).churn.band_order_problems == []
    assert monotonic_problems([]) == []
