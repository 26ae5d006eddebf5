"""Ranking and flag metrics of the backtest: plain NumPy, no model state.

Every function returns a ``Metric`` (a value, or ``None`` with the reason it cannot be computed:
no observations, no positives, nothing flagged), so a report never crashes on thin data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

TOP_FRACTION = 0.1
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 20260101


class Metric(BaseModel):
    """A metric value, or None with the reason it could not be computed."""

    value: float | None = None
    reason: str | None = Field(default=None, description="Why value is None.")
    low: float | None = Field(default=None, description="Lower end of the 95% interval.")
    high: float | None = Field(default=None, description="Upper end of the 95% interval.")


class FlagMetrics(BaseModel):
    """How a yes/no flag (band RED, level high, has an opportunity) did against the label."""

    flagged: int = Field(description="Observations the flag was raised on.")
    true_positives: int
    precision: Metric = Field(
        description="Share of flagged observations that were positive (the group's churn rate)."
    )
    recall: Metric = Field(description="Share of positive observations that were flagged.")
    lift: Metric = Field(description="Precision over the base rate (1 = no better than chance).")


def as_arrays(scores: Iterable[float], labels: Iterable[bool]) -> tuple[FloatArray, BoolArray]:
    """Scores and labels as aligned arrays (ValueError on a length mismatch or a NaN score)."""
    s = np.asarray(list(scores), dtype=np.float64)
    y = np.asarray(list(labels), dtype=np.bool_)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s, y


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of ``values``; tied values share the average of their ranks."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def _degenerate(positives: int, n: int) -> str | None:
    if n == 0:
        return "no observations"
    if positives == 0:
        return "no positives"
    return None


def _auc_value(s: FloatArray, y: BoolArray) -> float | None:
    positives, n = int(y.sum()), int(y.size)
    if positives == 0 or positives == n:
        return None
    rank_sum = float(average_ranks(s)[y].sum())
    u = rank_sum - positives * (positives + 1) / 2.0
    return u / (positives * (n - positives))


def auc(
    scores: Iterable[float],
    labels: Iterable[bool],
    *,
    groups: Sequence[int] | None = None,
    samples: int = 0,
    seed: int = BOOTSTRAP_SEED,
) -> Metric:
    """AUC of ``scores`` (higher = more likely positive): Mann-Whitney U, ties count one half.

    With ``samples`` > 0 the metric carries a percentile bootstrap 95% interval. When ``groups``
    (e.g. account ids) is given the bootstrap resamples whole groups, so an account observed on
    many dates is drawn with all its rows (the rows of one account are not independent).
    """
    s, y = as_arrays(scores, labels)
    positives, n = int(y.sum()), int(y.size)
    reason = _degenerate(positives, n)
    if reason is None and positives == n:
        reason = "every observation is positive"
    if reason is not None:
        return Metric(reason=reason)
    value = _auc_value(s, y)
    if samples <= 0:
        return Metric(value=value)
    low, high = bootstrap_interval(s, y, groups=groups, samples=samples, seed=seed)
    return Metric(value=value, low=low, high=high)


def bootstrap_interval(
    s: FloatArray,
    y: BoolArray,
    *,
    groups: Sequence[int] | None,
    samples: int,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float | None, float | None]:
    """Percentile 95% interval of the AUC over ``samples`` resamples (seeded: reproducible).

    A resample draws the groups (or the rows) with replacement; a row drawn ``c`` times weighs
    ``c`` in a weighted Mann-Whitney count over the distinct scores, so each resample is O(n).
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        group_of = np.arange(s.size)
    else:
        _, group_of = np.unique(np.asarray(list(groups)), return_inverse=True)
    n_groups = int(group_of.max()) + 1 if group_of.size else 0
    _, level = np.unique(s, return_inverse=True)  # tie level of each row, ascending score
    n_levels = int(level.max()) + 1 if level.size else 0
    values: list[float] = []
    for _ in range(samples):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        w = counts[group_of].astype(np.float64)
        pos = np.bincount(level, weights=w * y, minlength=n_levels)
        neg = np.bincount(level, weights=w * ~y, minlength=n_levels)
        total_pos, total_neg = float(pos.sum()), float(neg.sum())
        if total_pos == 0 or total_neg == 0:
            continue
        below = np.cumsum(neg) - neg
        values.append(float((pos * (below + 0.5 * neg)).sum()) / (total_pos * total_neg))
    if len(values) < max(1, samples // 2):
        return None, None
    low, high = np.percentile(np.array(values), [2.5, 97.5])
    return float(low), float(high)


def top_fraction_lift(
    scores: Iterable[float], labels: Iterable[bool], fraction: float = TOP_FRACTION
) -> Metric:
    """Positive rate among the ``fraction`` highest scores over the base rate.

    The top group holds ``ceil(fraction * n)`` observations; when the cut falls inside a group of
    tied scores, each tied observation counts in proportion (the expected rate under a random
    tie-break), so the result does not depend on the order of the rows.
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    s, y = as_arrays(scores, labels)
    positives, n = int(y.sum()), int(y.size)
    reason = _degenerate(positives, n)
    if reason is not None:
        return Metric(reason=reason)
    k = max(1, math.ceil(n * fraction - 1e-9))
    rate = _top_rate(s, y, k)
    return Metric(value=rate / (positives / n))


def _top_rate(s: FloatArray, y: BoolArray, k: int) -> float:
    threshold = np.sort(s)[::-1][k - 1]
    above = s > threshold
    tied = s == threshold
    from_tied = k - int(above.sum())
    hits = float(y[above].sum()) + from_tied * float(y[tied].mean())
    return hits / k


def precision_at_k(scores: Iterable[float], labels: Iterable[bool], k: int) -> Metric:
    """Positive rate among the ``k`` highest scores (ties at the cut count in proportion)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    s, y = as_arrays(scores, labels)
    if y.size == 0:
        return Metric(reason="no observations")
    return Metric(value=_top_rate(s, y, min(k, int(y.size))))


def flag_metrics(flags: Iterable[bool], labels: Iterable[bool]) -> FlagMetrics:
    """Precision, recall and lift of a yes/no flag against the labels."""
    f = np.asarray(list(flags), dtype=np.bool_)
    y = np.asarray(list(labels), dtype=np.bool_)
    if f.shape != y.shape:
        raise ValueError(f"{f.size} flags but {y.size} labels")
    n, flagged, positives = int(y.size), int(f.sum()), int(y.sum())
    tp = int((f & y).sum())
    precision = Metric(value=tp / flagged) if flagged else Metric(reason="nothing flagged")
    reason = _degenerate(positives, n)
    recall = Metric(value=tp / positives) if reason is None else Metric(reason=reason)
    if precision.value is None:
        lift = Metric(reason=precision.reason)
    elif reason is not None:
        lift = Metric(reason=reason)
    else:
        lift = Metric(value=precision.value / (positives / n))
    return FlagMetrics(
        flagged=flagged, true_positives=tp, precision=precision, recall=recall, lift=lift
    )


def base_rate(labels: Sequence[bool]) -> Metric:
    """Share of positive labels."""
    if not labels:
        return Metric(reason="no observations")
    return Metric(value=sum(labels) / len(labels))


def monotonic_problems(rates: Sequence[tuple[str, FlagMetrics]]) -> list[str]:
    """Where the churn rate does not fall strictly from the riskiest group to the safest.

    ``rates`` is ordered riskiest first (RED, AMBER, GREEN). Empty groups are skipped; each
    adjacent pair of non-empty groups whose rate does not fall is one problem, in words.
    """
    shown = [(name, m.precision.value, m.flagged) for name, m in rates if m.flagged > 0]
    problems: list[str] = []
    for (hi_name, hi, hi_n), (lo_name, lo, lo_n) in itertools.pairwise(shown):
        if hi is not None and lo is not None and hi <= lo:
            problems.append(
                f"{hi_name} churned at {hi:.1%} (n={hi_n}) but {lo_name} at {lo:.1%} (n={lo_n})"
            )
    return problems
