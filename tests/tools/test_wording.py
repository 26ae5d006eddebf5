"""Counting words: one day, two days."""

from __future__ import annotations

import pytest

from tools.wording import days_from_now, plural


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 days"), (1, "1 day"), (-1, "-1 day"), (2, "2 days"), (1500, "1,500 days")],
)
def test_plural(count: int, expected: str) -> None:
    assert plural(count, "day") == expected


def test_irregular_plural() -> None:
    assert plural(1, "opportunity", "opportunities") == "1 opportunity"
    assert plural(3, "opportunity", "opportunities") == "3 opportunities"


@pytest.mark.parametrize(
    ("days", "expected"),
    [(None, "date unknown"), (0, "today"), (1, "in 1 day"), (45, "in 45 days"), (-1, "1 day ago")],
)
def test_days_from_now(days: int | None, expected: str) -> None:
    assert days_from_now(days) == expected
